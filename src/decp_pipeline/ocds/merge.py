"""The compiled release of a contracting process: its releases merged by OCDS 1.1's rules
(https://standard.open-contracting.org/1.1/en/schema/merging/), for the shapes ocds/mapping.py writes.

Releases are taken in date order (a stable sort: the mapping's order between equal dates); `id`, `date` and
`tag` are not merged; an object is merged field by field; a list of objects is merged by their `id` (an object
without one is appended); any other list, and any other value, replaces the one before. Inside `decp` (the decp
extension), every list replaces the one before: the extension's schema declares its lists `wholeListMerge`, as
DECP lists repeat ids (two modificationsActesSousTraitance numbered 1) that merging by id would fold into one.
The tests check the result equals the reference implementation's (ocdsmerge) on every contract of the samples.
"""

from __future__ import annotations

from typing import Any

OMITTED = frozenset({"id", "date", "tag"})  # the release schema's `omitWhenMerged` fields


def compile_releases(releases: list[dict[str, Any]]) -> dict[str, Any]:
    """The compiled release of one ocid's releases. Merges into new objects: the releases are left as they are."""
    ordered = sorted(releases, key=lambda release: release["date"])
    last = ordered[-1]
    compiled: dict[str, Any] = {"ocid": last["ocid"], "id": f"{last['ocid']}-{last['date']}",
                                "date": last["date"], "tag": ["compiled"]}  # fmt: skip
    if len(ordered) == 1:  # most contracts: merged into nothing, a release is itself (the mapping writes no empty
        return {**last, **compiled}  # value, no two objects of one id); id, date and tag are the compiled one's
    for release in ordered:
        _merge(compiled, {k: v for k, v in release.items() if k not in OMITTED})
    return compiled


EXTENSION = "decp"


def _merge(target: dict[str, Any], source: dict[str, Any], *, whole: bool = False) -> None:
    """Merge `source` into `target`; `whole`: lists replace (inside the decp extension)."""
    for key, value in source.items():
        if isinstance(value, dict):
            if value:
                current = target.get(key)
                if not isinstance(current, dict):
                    current = target[key] = {}
                _merge(current, value, whole=whole or key == EXTENSION)
        elif not whole and isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
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
