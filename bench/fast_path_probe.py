"""What a fast path could skip: on real format-1.x JSON records, how many the normalizer leaves untouched, and
how many the typed models judge valid as they are, and whether the two agree.

    .venv/bin/python bench/fast_path_probe.py [FOLDER ...]     # default: ../shared/realdata

A typed fast path (the next issue) decodes a raw record straight into its model and skips the normalizer. It
may do so only for records the normalizer would not change (`untouched`: no fix counted but `uid-set` and
`source-set`, which the pipeline makes on every record that lacks them): a record valid as it is but not
untouched (a text with a trailing space, a number given as text the schema also accepts) must take the slow
path, or the outputs would depend on the path. The probe prints the four shares and the µs per record of the
normalizer and of the typed verdict, best of three passes.
"""

from __future__ import annotations

import argparse
import time
from collections import Counter
from pathlib import Path
from typing import Any

import orjson

from decp_pipeline.models.contract import kind_of
from decp_pipeline.models.typed import typed_verdict_15
from decp_pipeline.normalize.decp15 import Normalizer15

ROOT = Path(__file__).resolve().parents[1]
ALWAYS = {"uid-set", "source-set"}


def records(folders: list[Path]) -> list[dict[str, Any]]:
    """The 1.x records of every `{"marches": [...]}` JSON file under the folders."""
    found: list[dict[str, Any]] = []
    for folder in folders:
        for path in sorted(folder.rglob("*.json")):
            if "schemas" in path.parts:
                continue
            try:
                document = orjson.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
            except orjson.JSONDecodeError:
                continue
            listed = document.get("marches") if isinstance(document, dict) else None
            if isinstance(listed, list):
                found.extend(r for r in listed if isinstance(r, dict) and "techniques" not in r)
    return found


def best(function: Any, items: list[Any]) -> float:
    runs = []
    for _ in range(3):
        started = time.perf_counter()
        for item in items:
            function(item)
        runs.append(time.perf_counter() - started)
    return 1e6 * min(runs) / max(len(items), 1)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="*", type=Path, default=[ROOT.parent / "shared" / "realdata"])
    found = records(parser.parse_args().folders)
    normalizer = Normalizer15()
    shares: Counter[tuple[bool, bool]] = Counter()
    fixes: Counter[str] = Counter()
    for record in found:
        tally: Counter[str] = Counter()
        normalizer.normalize(record, kind_of(record), tally)
        untouched = not (set(tally) - ALWAYS)
        fixes.update(set(tally) - ALWAYS)
        shares[(untouched, typed_verdict_15(record))] += 1
    total = len(found)
    print(f"{total:,} format-1.x JSON records")
    for (untouched, valid), count in sorted(shares.items()):
        label = f"{'untouched' if untouched else 'repaired '} and {'valid' if valid else 'invalid'} as they are"
        print(f"  {label:<36} {count:>8,}  {100 * count / max(total, 1):5.1f} %")
    print("  fixes that send records to the slow path:", dict(fixes.most_common(8)))
    print(f"normalizer: {best(lambda r: normalizer.normalize(r, kind_of(r), Counter()), found):.1f} µs/record; "
          f"typed verdict: {best(typed_verdict_15, found):.1f} µs/record")  # fmt: skip


if __name__ == "__main__":
    main()
