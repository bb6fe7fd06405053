"""Write a national-scale DECP corpus made of real records, with known counts.

    .venv/bin/python bench/generate.py --contracts 150000 --files 500 --out bench/corpus

Templates are the real records of shared/realdata (falling back to the excerpts of tests/fixtures): format 1.x
records (marchés and contrats de concession, at their real rate) of AWS, PES and AIFE that are valid once
normalized, and format-2022 records of the Dématis 2024 files. Each generated contract is a template with its
own `id` (and so its own uid), an amount and dates varied around the template's; the buyer, winners, CPV code
and the rest stay real. The mix follows the real
landscape: four sources, 1.x and 2022, JSON and XML (PES and AIFE publish XML), file sizes from a few records
to tens of thousands (a Pareto law). Known rates are injected and counted:

- 4 % of the contracts are published a second time, identically, in another file of the same source
  (exact copies, as daily files republish);
- 2 % are republished with a later publication date (same uid, the later one wins);
- 1.5 % lose their notification date (signature date for a concession: rejected, a required value cannot
  be invented).

`expected.json` holds the counts the build must report: read, exported, rejected, duplicates.
"""

from __future__ import annotations

import argparse
import bisect
import copy
import json
import random
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
from lxml import etree

from decp_pipeline.models.contract import kind_of
from decp_pipeline.normalize.decp15 import Normalizer15
from decp_pipeline.normalize.decp2022 import Normalizer2022
from decp_pipeline.validation.json_records import json_validator

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata"
FIXTURES = ROOT / "tests" / "fixtures" / "realdata"
SOURCES_1X = {
    "pes-marche": ("xml", [REAL / "pes-marche/decp-json_data.gouv.fr_pes_2019-04-05.json",
                           FIXTURES / "pes_2019-04-05_excerpt.json"]),
    "aife": ("xml", [REAL / "aife-dume/decp-json_data.gouv.fr_aife_2019-04-04.json",
                     FIXTURES / "aife_2019-04-04_excerpt.json"]),
    "marches-publics-info": ("json", [REAL / "aws-marchespublicsinfo/decp-json_marches-publics.info_2019-03-07.json",
                                      FIXTURES / "aws_marches-publics.info_2019-03-07_excerpt.json"]),
}  # fmt: skip
SOURCE_2022 = "e-marchespublics"
SHARES = {"pes-marche": 0.25, "aife": 0.20, "marches-publics-info": 0.30, SOURCE_2022: 0.25}
EXACT_COPIES, REPUBLISHED, INVALID = 0.04, 0.02, 0.015


def valid_templates(paths: list[Path], version: str) -> list[dict[str, Any]]:
    path = next(p for p in paths if p.is_file())
    document = json.loads(path.read_text(encoding="utf-8"))
    if version == "2.0":
        records = [(r, "marche") for r in document["marches"]["marche"]]
        normalizer, validator = Normalizer2022(), json_validator("2.0")
    else:
        records = [(r, kind_of(r)) for r in document["marches"]]
        normalizer, validator = Normalizer15(), json_validator("1.5")
    kept = []
    for record, kind in records:
        if validator.is_valid(normalizer.normalize(copy.deepcopy(record), kind, Counter()), kind):
            kept.append({k: v for k, v in record.items() if k not in ("uid", "source", "uuid")})
    return kept


def templates_2022() -> list[dict[str, Any]]:
    folder = REAL / "dematis-emarchespublics" / "decp-2022-boutalex"
    paths = sorted(folder.glob("dematis1*.json")) or [FIXTURES / "e-marchespublics_2024-07_dematis20.json"]
    found: list[dict[str, Any]] = []
    for path in paths:
        found.extend(valid_templates([path], "2.0"))
    return found


def file_sizes(total: int, files: int, rng: random.Random) -> list[int]:
    """`files` sizes summing to `total`, Pareto-distributed (a few big files, many small ones)."""
    weights = [rng.paretovariate(1.2) for _ in range(files)]
    scale = total / sum(weights)
    sizes = [max(1, int(w * scale)) for w in weights]
    sizes[0] += total - sum(sizes)
    while sizes[0] < 1:  # rounding took too much from the first file
        biggest = max(range(files), key=sizes.__getitem__)
        sizes[biggest] -= 1 - sizes[0]
        sizes[0] = 1
    return sizes


class Buyers:
    """`--buyers N`: each contract's buyer drawn among N synthetic SIRETs (valid, Luhn) by a Zipf law, as real
    buyers' sizes are (a few cities and ministries publish thousands, most buyers a handful): the report's buyer
    pages at national scale (about 27,000 buyers; the templates alone hold a few hundred)."""

    def __init__(self, count: int) -> None:
        self.count = count
        total, self.cumulative = 0.0, []
        for rank in range(1, count + 1):
            total += 1 / rank
            self.cumulative.append(total)

    def assign(self, record: dict[str, Any], rng: random.Random) -> None:
        index = bisect.bisect_left(self.cumulative, rng.random() * self.cumulative[-1])
        body = f"2{index:08d}0001"
        check = next(d for d in range(10) if luhn(body + str(d)))
        key = "autoriteConcedante" if kind_of(record) == "contrat-concession" else "acheteur"
        record[key] = {**(record.get(key) or {}), "id": body + str(check)}
        if "nom" in record[key]:  # format 1.x names its buyer
            record[key]["nom"] = f"ACHETEUR SYNTHETIQUE {index + 1:05d}"


def luhn(digits: str) -> bool:
    total = 0
    for position, digit in enumerate(reversed(digits)):
        value = int(digit) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


class Contract:
    def __init__(self, template: dict[str, Any], number: int, version: str, rng: random.Random,
                 buyers: Buyers | None = None) -> None:  # fmt: skip
        record = copy.deepcopy(template)
        if buyers is not None:
            buyers.assign(record, rng)
        if version == "1.5":  # 1.x ids end with the number of modifications
            record["id"] = f"G{number:09d}{len(record.get('modifications') or []):02d}"
        else:
            record["id"] = f"H{number:09d}"
        amount = "valeurGlobale" if kind_of(record) == "contrat-concession" else "montant"
        if isinstance(record.get(amount), int | float):
            record[amount] = round(record[amount] * rng.uniform(0.5, 1.5), 2)
        self.record = record


def xml_of(record: dict[str, Any]) -> bytes:
    wrappers = {"titulaires": "titulaire", "modifications": "modification", "concessionnaires": "concessionnaire",
                "donneesExecution": "donneesAnnuelles", "tarifs": "tarif"}  # fmt: skip

    def add(parent: etree._Element, name: str, value: Any) -> None:
        element = etree.SubElement(parent, name)
        if name in wrappers:
            for item in value:
                child = etree.SubElement(element, wrappers[name])
                for key, inner in item.items():
                    add(child, key, inner)
        elif isinstance(value, dict):
            for key, inner in value.items():
                add(element, key, inner)
        else:
            element.text = str(value)

    element = etree.Element(kind_of(record))
    for key, value in record.items():
        if key != "_type":
            add(element, key, value)
    return etree.tostring(element, encoding="utf-8")


def write_file(path: Path, records: list[dict[str, Any]], syntax: str, version: str) -> None:
    if syntax == "xml":
        body = b"\n".join(xml_of(r) for r in records)
        path.write_bytes(b'<?xml version="1.0" encoding="UTF-8"?>\n<marches>\n' + body + b"\n</marches>\n")
    elif version == "2.0":
        path.write_bytes(orjson.dumps({"marches": {"marche": records}}))
    else:
        path.write_bytes(orjson.dumps({"marches": records}))


def generate(contracts: int, files: int, out: Path, seed: int = 2026, buyers: int = 0) -> dict[str, Any]:
    """The corpus in `out`, and what the build must count of it (`expected.json`). The random draws are made
    in a fixed order: one seed gives the same corpus, byte for byte."""
    rng = random.Random(seed)
    spread = Buyers(buyers) if buyers else None
    out.mkdir(parents=True, exist_ok=True)
    expected: dict[str, Any] = {"contracts": contracts, "files": files, "sources": {}}
    number = 0
    for source, share in SHARES.items():
        if source == SOURCE_2022:
            syntax, version, templates = "json", "2.0", templates_2022()
        else:
            syntax, paths = SOURCES_1X[source]
            version, templates = "1.5", valid_templates(paths, "1.5")
        count = int(contracts * share)
        records = [Contract(rng.choice(templates), number + n, version, rng, spread).record
                   for n in range(1, count + 1)]  # fmt: skip
        number += count
        invalid = set(rng.sample(range(count), int(count * INVALID)))
        for index in invalid:
            record = records[index]
            record.pop("dateSignature" if kind_of(record) == "contrat-concession" else "dateNotification", None)
        batches, copies, republished = _batches(records, invalid, max(1, int(files * share)), rng)
        folder = out / source
        folder.mkdir(exist_ok=True)
        for n, batch in enumerate(batches):
            suffix = "xml" if syntax == "xml" else "json"
            write_file(folder / f"{source}-{n:05d}.{suffix}", batch, syntax, version)
        expected["sources"][source] = {
            "files": len(batches),
            "read": count + copies + republished,
            "rejected": len(invalid),
            "duplicates": copies + republished,
            "exported": count - len(invalid),
            "format": version,
            "syntax": syntax,
        }
    (out / "expected.json").write_text(json.dumps(expected, indent=2))
    return expected


def _batches(
    records: list[dict[str, Any]], invalid: set[int], files: int, rng: random.Random
) -> tuple[list[list[dict[str, Any]]], int, int]:
    """The records split into files of Pareto sizes, with exact copies and later republications of some valid
    ones added to random files: the files, and the numbers of copies and of republications."""
    count = len(records)
    batches, start = [], 0
    for size in file_sizes(count, files, rng):
        batches.append(records[start : start + size])
        start += size
    copies = republished = 0
    for index in rng.sample(range(count), int(count * (EXACT_COPIES + REPUBLISHED))):
        if index in invalid:
            continue
        record = records[index]
        target = rng.randrange(len(batches))
        if copies < int(count * EXACT_COPIES):
            batches[target].append(record)
            copies += 1
        else:
            later = copy.deepcopy(record)
            later["datePublicationDonnees"] = "2025-12-31"
            batches[target].append(later)
            republished += 1
    return batches, copies, republished


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=150_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "corpus")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--buyers", type=int, default=0, help="spread the contracts over N synthetic buyers")
    args = parser.parse_args()
    expected = generate(args.contracts, args.files, args.out, args.seed, args.buyers)
    size = sum(p.stat().st_size for p in args.out.rglob("*") if p.is_file())
    print(f"{args.out}: {args.contracts:,} contracts, {sum(s['files'] for s in expected['sources'].values())} files, "
          f"{size / 1e6:,.0f} MB")  # fmt: skip


if __name__ == "__main__":
    main()
