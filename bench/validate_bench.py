"""Measure `decp validate` throughput and peak memory on a large file made of real records.

    .venv/bin/python bench/validate_bench.py [--records 200000] [--source FILE.json] [--xml]

The file is built by repeating the records of a real 1.x JSON file (by default the AWS 2019 sample of
shared/realdata, else the excerpt shipped in tests/fixtures), each copy with its own `id` so that the file
stays a plausible publication (no two identical records). With --xml the official 1.5 XML records are
repeated instead. `decp validate` then runs in a child process; its wall time and peak resident memory
(ru_maxrss) are printed. Nothing here is asserted by the test suite: the figures go in closing notes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SOURCES = [
    ROOT.parent / "shared/realdata/aws-marchespublicsinfo/decp-json_marches-publics.info_2019-03-07.json",
    ROOT / "tests/fixtures/realdata/aws_marches-publics.info_2019-03-07_excerpt.json",
]
XML_SOURCE = ROOT / "tests/fixtures/realdata/fcp-1.4.0_xml_paquet.xml"


def build_json(source: Path, count: int, out: Path) -> None:
    records = json.loads(source.read_text(encoding="utf-8"))["marches"]
    with out.open("w", encoding="utf-8") as f:
        f.write('{"marches": [\n')
        for n in range(count):
            record = dict(records[n % len(records)])
            record["id"] = f"{str(record.get('id', 'X'))[:9]}{n:07d}"[:16]
            f.write((",\n" if n else "") + json.dumps(record, ensure_ascii=False))
        f.write("\n]}\n")


def build_xml(count: int, out: Path) -> None:
    records = [e for e in etree.parse(str(XML_SOURCE)).getroot() if isinstance(e.tag, str)]
    texts = [etree.tostring(e, encoding="unicode") for e in records]
    with out.open("w", encoding="utf-8") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<marches>\n')
        for n in range(count):
            f.write(texts[n % len(texts)])
        f.write("</marches>\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=200_000)
    parser.add_argument("--source", type=Path, default=next(p for p in DEFAULT_SOURCES if p.exists()))
    parser.add_argument("--xml", action="store_true", help="benchmark an XML file instead of JSON")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / ("big.xml" if args.xml else "big.json")
        (build_xml if args.xml else lambda c, o: build_json(args.source, c, o))(args.records, path)
        size = path.stat().st_size
        decp = Path(sys.executable).parent / "decp"
        start = time.perf_counter()
        command = [str(decp), "validate", str(path)]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        elapsed = time.perf_counter() - start
        peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    summary = result.stdout.strip().splitlines()[-1]
    kind = "XML" if args.xml else "JSON"
    origin = XML_SOURCE.name if args.xml else args.source.name
    print(f"file: {args.records:,} records, {size / 1e6:.1f} MB ({kind}, from {origin})")
    print(
        f"decp validate: exit {result.returncode}, {elapsed:.1f} s, {args.records / elapsed:,.0f} records/s, "
        f"{size / 1e6 / elapsed:.1f} MB/s, peak RSS {peak:.0f} MiB"
    )
    print(f"summary line: {summary}")


if __name__ == "__main__":
    main()
