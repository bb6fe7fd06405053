"""The least any pipeline written in Python does per record, timed as a reference for the build.

    .venv/bin/python bench/python_pass.py bench/work/corpus-150000-500

Every file is parsed by the floor's reader (orjson, lxml), each record becomes Python values (XML elements
converted to dicts), is rebuilt by one recursive walk that trims its texts, and is serialized once with orjson
(to /dev/null): no normalizing, validation, deduplication, tables or outputs. Files are read by one process per
core, largest first, as the build does. Prints the number of records.

The gap between this pass and the parse-only floor is the cost of touching each value once in Python; the
build's own work comes on top of it (`bench/run.py` prints both ratios).
"""

from __future__ import annotations

import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from lxml import etree


def rebuilt(value: Any) -> Any:
    kind = type(value)
    if kind is dict:
        return {key: rebuilt(item) for key, item in value.items()}
    if kind is list:
        return [rebuilt(item) for item in value]
    if kind is str:
        return value.strip()
    return value


def element_values(element: etree._Element) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip()
    values: dict[str, list[Any]] = {}
    for child in children:
        values.setdefault(child.tag.rpartition("}")[2], []).append(element_values(child))
    return {name: items[0] if len(items) == 1 else items for name, items in values.items()}


def json_records(document: Any) -> list[Any]:
    """Format 1.x `{"marches": [...]}` or format 2022 `{"marches": {"marche": [...], ...}}`."""
    records = document.get("marches", []) if isinstance(document, dict) else document
    if isinstance(records, dict):
        return [r for items in records.values() for r in (items if isinstance(items, list) else [items])]
    return records


def passed(path: str) -> int:
    count = 0
    with open(os.devnull, "wb") as sink:
        if path.endswith(".json"):
            for record in json_records(orjson.loads(Path(path).read_bytes())):
                sink.write(orjson.dumps(rebuilt(record)))
                count += 1
        else:
            parser = etree.XMLParser(resolve_entities=False, no_network=True)
            for element in etree.parse(path, parser).getroot():
                sink.write(orjson.dumps(rebuilt(element_values(element))))
                count += 1
    return count


def main() -> None:
    files = [str(p) for folder in sys.argv[1:] for p in Path(folder).rglob("*") if p.suffix in (".json", ".xml")]
    files.sort(key=os.path.getsize, reverse=True)
    with ProcessPoolExecutor(os.cpu_count() or 1) as pool:
        print(sum(pool.map(passed, files)))


if __name__ == "__main__":
    main()
