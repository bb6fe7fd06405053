"""Microseconds per record: the typed models' decode against orjson.loads, on the real records.

    .venv/bin/python bench/typed_decode.py                 # ../shared/realdata
    .venv/bin/python bench/typed_decode.py --repeat 5 PATH

Every file of the folder with a `{"marches": [...]}` (format 1.5) or `{"marches": {"marche": [...]}}` (format
2022) wrapper is split into the JSON bytes of its records (msgspec.Raw), which are then, each timing the best
of `--repeat` passes over all records of the format, in one process:

- `orjson.loads`: parsed into dicts and lists, no check (the floor);
- `Decoder(Marche).decode`: decoded into the marché Struct, every rule of the schema but `uniqueItems` checked
  in C (a record that is not a valid marché raises, which is part of the cost);
- `typed_verdict`: the whole verdict (for 1.5 the `anyOf`: marché, else concession; `uniqueItems` checked);
- `orjson + jsonschema-rs`: what the pipeline does today (`json_validator(...).is_valid` on the parsed record);
- `orjson + jsonschema`: the reference the tests compare with (one pass: it is slow).

The decode is timed twice: on every record, and on the valid marchés only (no exception raised).

It prints the figures and the share of records valid as they are (typed verdict).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import orjson

from decp_pipeline.models.typed import MODELS, decoder, typed_verdict, typed_verdict_15
from decp_pipeline.official_schemas import VERSIONS, load_json_schema
from decp_pipeline.validation.json_records import json_validator

ROOT = Path(__file__).resolve().parents[1]


class List15(msgspec.Struct):
    marches: list[msgspec.Raw]


class Lists2022(msgspec.Struct):
    marche: list[msgspec.Raw] = []


class Envelope2022(msgspec.Struct):
    marches: Lists2022


def split(folder: Path) -> dict[str, list[bytes]]:
    """The JSON bytes of every marché record of the folder, by format."""
    found: dict[str, list[bytes]] = {"1.5": [], "2022": []}
    for path in sorted(folder.rglob("*.json")):
        if "schemas" in path.parts:
            continue
        content = path.read_bytes().removeprefix(b"\xef\xbb\xbf")
        for version, envelope in (("1.5", List15), ("2022", Envelope2022)):
            try:
                document: Any = msgspec.json.decode(content, type=envelope)
            except msgspec.DecodeError:
                continue
            raws = document.marches if version == "1.5" else document.marches.marche
            found[version] += [bytes(raw) for raw in raws]
            break
    return found


def best_us(run: Callable[[bytes], object], records: list[bytes], repeat: int) -> float:
    """Best time of `repeat` passes over the records, in microseconds per record."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        for record in records:
            run(record)
        best = min(best, time.perf_counter() - start)
    return best / len(records) * 1e6


def quietly(decode: Callable[[bytes], object]) -> Callable[[bytes], object]:
    def run(record: bytes) -> object:
        try:
            return decode(record)
        except msgspec.ValidationError:
            return None

    return run


def reference_validator(version: str) -> Any:
    """jsonschema on the record list's items (1.5: the `anyOf`) or on the 2022 marché definition."""
    schema = load_json_schema(VERSIONS["1.5" if version == "1.5" else "2.0"].json_schema or "")
    sub = schema["properties"]["marches"]["items"] if version == "1.5" else {"$ref": "#/definitions/marche"}
    document = {"$schema": schema["$schema"], **sub, "definitions": schema["definitions"]}
    return jsonschema.validators.validator_for(schema)(document)


def bench(version: str, records: list[bytes], repeat: int) -> None:
    marche = decoder(MODELS[version, "marche"])
    rs = json_validator("1.5" if version == "1.5" else "2.0")

    def verdict(record: bytes) -> bool:
        return typed_verdict_15(record) if version == "1.5" else typed_verdict(record, version, "marche")

    reference = reference_validator(version)
    valid_marches = [r for r in records if typed_verdict(r, version, "marche")]
    timings = {
        "orjson.loads": best_us(orjson.loads, records, repeat),
        "Decoder(Marche).decode": best_us(quietly(marche.decode), records, repeat),
        "  valid marchés only": best_us(marche.decode, valid_marches, repeat),
        "typed_verdict": best_us(verdict, records, repeat),
        "orjson + jsonschema-rs": best_us(lambda r: rs.is_valid(orjson.loads(r), "marche"), records, repeat),
        "orjson + jsonschema": best_us(lambda r: reference.is_valid(orjson.loads(r)), records, 1),
    }
    valid = sum(map(verdict, records))
    size = sum(map(len, records)) / len(records)
    print(f"format {version}: {len(records)} records, {size:.0f} bytes each on average")
    for name, us in timings.items():
        print(f"  {name:24} {us:8.2f} µs/record  ({us / timings['orjson.loads']:6.2f} x orjson.loads)")
    print(f"  valid as they are: {valid} ({valid / len(records):.1%}); valid marchés: {len(valid_marches)}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("folder", nargs="?", type=Path, default=ROOT.parent / "shared" / "realdata")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    for version, records in split(args.folder).items():
        if records:
            bench(version, records, args.repeat)


if __name__ == "__main__":
    main()
