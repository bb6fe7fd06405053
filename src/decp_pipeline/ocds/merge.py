"""The compiled release of a contracting process: its releases merged by OCDS 1.1's rules
(https://standard.open-contracting.org/1.1/en/schema/merging/), for the shapes ocds/mapping.py writes.

Releases are taken in date order (a stable sort: the mapping's order between equal dates); `id`, `date` and
`tag` are not merged; an object is merged field by field; a list of objects is merged by their `id` (an object
without one is appended); any other list, and any other value, replaces the one before. The lists the decp
extension declares `wholeListMerge` (ocds/extension/release-schema.json: the DECP lists, which repeat ids, such as
two modificationsActesSousTraitance numbered 1, that merging by id would fold into one) replace the one before.
The tests check the result equals the reference implementation's (ocdsmerge, given the extended schema) on every
contract of the samples and of the real files.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

OMITTED = frozenset({"id", "date", "tag"})  # the release schema's `omitWhenMerged` fields
EXTENSION = "decp"


def _declared_whole() -> frozenset[str]:
    """The names of the lists of `decp` objects the extension declares `wholeListMerge`."""
    schema = json.loads((Path(__file__).parent / "extension" / "release-schema.json").read_text(encoding="utf-8"))
    return frozenset(
        name
        for definition in schema["definitions"].values()
        for name, field in definition["properties"][EXTENSION].get("properties", {}).items()
        if field.get("wholeListMerge")
    )


WHOLE = _declared_whole()


def compile_releases(releases: list[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release of one ocid's releases. Merges into new objects: the releases are left as they are."""
    ordered = sorted(releases, key=lambda release: release["date"])
    last = ordered[-1]
    compiled: dict[str, Any] = {"ocid": last["ocid"], "id": f"{last['ocid']}-{last['date']}",
                                "date": last["date"], "tag": ["compiled"]}  # fmt: skip
    if len(ordered) == 1 and not _merges_lists(last):  # most contracts: merged into nothing, a release is itself
        return {**last, **compiled}  # (the mapping writes no empty value); id, date and tag are the compiled one's
    for release in ordered:
        _merge(compiled, {k: v for k, v in release.items() if k not in OMITTED})
    return compiled


def _merges_lists(release: dict[str, Any]) -> bool:
    """Whether the record's own data in a release (the contract's `decp`, the parties' `details`) holds a list of
    objects that merging by id could fold; the rest of a release has none (the mapping writes each id once)."""
    records = [contract.get(EXTENSION) for contract in release.get("contracts", [])]
    records += [party.get("details") for party in release.get("parties", [])]
    return any(_object_lists(value, top=True) for value in records if value)


def _object_lists(value: Any, *, top: bool = False) -> bool:
    if isinstance(value, dict):
        return any(_object_lists(item) for key, item in value.items()
                   if isinstance(item, dict | list) and not (top and key in WHOLE))  # fmt: skip
    return isinstance(value, list) and any(isinstance(item, dict) for item in value)


def _merge(target: dict[str, Any], source: dict[str, Any], *, extension: bool = False) -> None:
    """Merge `source` into `target`; `extension`: `source` is a decp object (its declared lists replace)."""
    for key, value in source.items():
        if isinstance(value, dict):
            if value:
                current = target.get(key)
                if not isinstance(current, dict):
                    current = target[key] = {}
                _merge(current, value, extension=key == EXTENSION)
        elif extension and key in WHOLE:
            target[key] = value
        elif isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
            current = target.get(key)
            if not isinstance(current, list) or not all(isinstance(item, dict) for item in current):
                current = target[key] = []
            _merge_by_id(current, value)
        elif not (isinstance(value, list) and not value):
            target[key] = value


def _merge_by_id(target: list[dict[str, Any]], items: list[dict[str, Any]]) -> None:
    by_id = {item["id"]: item for item in target if "id" in item}
    for item in items:
        if not item:
            continue
        existing = by_id.get(item["id"]) if "id" in item else None
        if existing is None:
            existing = {}
            target.append(existing)
            if "id" in item:
                by_id[item["id"]] = existing
        _merge(existing, item)
