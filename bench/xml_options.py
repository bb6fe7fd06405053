"""XML records into Python: the options for the fast path, timed on the same files (best of three passes).

    .venv/bin/python bench/xml_options.py [FOLDER ...]    # default: the 10 % bench corpus's XML sources

- `floor`: lxml parses each file whole, nothing else (the bench's parse-only floor for XML);
- `today`: what the build does: `XmlReader` (lxml iterparse, events filtered by libxml2, each record freed)
  and `element_to_dict` per record;
- `lxml whole + dict`: the file parsed whole by lxml, then `element_to_dict` per record;
- `ElementTree iterparse + dict`: the standard library's C parser (expat), the same conversion written for its
  elements (entities are not expanded by this conversion's reader: expat refuses external ones and limits
  expansion since 2.4.1; a DTD would still need refusing);
- `ElementTree whole + dict`: the same, the file parsed whole.

It prints µs per record and the ratio to the floor, and checks that every option gives the same dicts.
"""

from __future__ import annotations

import argparse
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from lxml import etree

from decp_pipeline.normalize.xml_records import WRAPPERS, element_to_dict
from decp_pipeline.readers.xml_stream import RECORD_TAGS, XmlReader, local_tag

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "compare" / "corpus-10"


def floor(path: Path) -> Iterator[Any]:
    etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True))
    yield from ()


def today(path: Path) -> Iterator[dict[str, Any]]:
    for item in XmlReader(str(path)).items():
        if item.kind is not None:
            yield element_to_dict(item.element)


def lxml_whole(path: Path) -> Iterator[dict[str, Any]]:
    root = etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)).getroot()
    for element in root:
        if type(element.tag) is str and local_tag(element.tag) in RECORD_TAGS:
            yield element_to_dict(element)


def _et_value(element: ET.Element, name: str) -> Any:
    if not len(element):
        return [] if name in WRAPPERS else (element.text or "")
    if name in WRAPPERS:
        return [_et_value(c, local_tag(c.tag)) if len(c) else (c.text or "") for c in element]
    return _et_dict(element)


def _et_dict(element: ET.Element) -> dict[str, Any]:
    result: dict[str, Any] = {}
    for child in element:
        name = local_tag(child.tag)
        value = _et_value(child, name) if len(child) else [] if name in WRAPPERS else (child.text or "")
        if name in result:
            previous = result[name]
            result[name] = (
                [*previous, value] if isinstance(previous, list) and name not in WRAPPERS else [previous, value]
            )
        else:
            result[name] = value
    return result


def et_iter(path: Path) -> Iterator[dict[str, Any]]:
    depth = 0
    for event, element in ET.iterparse(str(path), events=("start", "end")):  # noqa: S314 - the bench corpus
        if event == "start":
            depth += 1
            continue
        depth -= 1
        if depth == 1 and local_tag(element.tag) in RECORD_TAGS:
            yield _et_dict(element)
            element.clear()


def et_whole(path: Path) -> Iterator[dict[str, Any]]:
    for element in ET.parse(str(path)).getroot():  # noqa: S314 - the bench corpus, generated here
        if local_tag(element.tag) in RECORD_TAGS:
            yield _et_dict(element)


OPTIONS: dict[str, Callable[[Path], Iterator[Any]]] = {
    "floor": floor,
    "today": today,
    "lxml whole + dict": lxml_whole,
    "ElementTree iterparse + dict": et_iter,
    "ElementTree whole + dict": et_whole,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="*", type=Path, default=[CORPUS / "pes-marche", CORPUS / "aife"])
    files = sorted(p for folder in parser.parse_args().folders for p in folder.rglob("*.xml"))
    reference = [record for path in files for record in today(path)]
    print(f"{len(files)} XML files, {len(reference):,} records")
    seconds = {}
    for name, option in OPTIONS.items():
        runs = []
        for _ in range(3):
            started = time.perf_counter()
            got = [record for path in files for record in option(path)]
            runs.append(time.perf_counter() - started)
        seconds[name] = min(runs)
        same = "" if name == "floor" else ("same dicts" if got == reference else "DIFFERENT dicts")
        per = 1e6 * seconds[name] / len(reference)
        print(f"  {name:<30} {per:7.1f} µs/record  {seconds[name] / seconds['floor']:5.2f} × floor  {same}")


if __name__ == "__main__":
    main()
