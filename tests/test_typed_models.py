"""The typed models give the official JSON Schema's verdict (jsonschema, the reference) on every record.

(a) every record of every JSON file of shared/realdata and of tests/fixtures (the shipped excerpts and the
    validation corpus), against both formats and both kinds, as objects and as JSON bytes;
(b) valid records of the fixtures mutated one field at a time (hypothesis): the verdicts still agree.
"""

from __future__ import annotations

import copy
import json
from collections import Counter
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import msgspec
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from decp_pipeline.detect import json_record_version
from decp_pipeline.models.typed import json_unique, typed_verdict, typed_verdict_15
from decp_pipeline.official_schemas import load_json_schema
from decp_pipeline.readers.json_stream import iter_records, sniff_layout

from .conftest import FIXTURES

SCHEMA_FILES = {"1.5": "marches.json", "2022": "schema_decp_v2.0.3.json"}
VERSIONS = ("1.5", "2022")
KINDS = ("marche", "contrat-concession")
SKIPPED_FOLDERS = {"schemas", "datagouv-dataset-metadata", "source-registries", "dcat", "scdl-marches-publics"}


@cache
def reference(version: str, kind: str) -> Any:
    """jsonschema's validator (the schema's own draft, no format checker: as the project builds it) for one
    definition, or for the 1.5 `marches` items (`anyOf`) when kind is "any"."""
    schema = load_json_schema(SCHEMA_FILES[version])
    if kind == "any":
        sub = {"$schema": schema["$schema"], **schema["properties"]["marches"]["items"]}
    else:
        sub = {"$schema": schema["$schema"], "$ref": f"#/definitions/{kind}"}
    return jsonschema.validators.validator_for(schema)({**sub, "definitions": schema["definitions"]})


def as_json(record: Any) -> bytes:
    return json.dumps(record, ensure_ascii=False).encode()


def assert_same_verdicts(record: Any) -> dict[tuple[str, str], bool]:
    """Typed and reference verdicts agree for both formats and both kinds; returns the verdicts."""
    verdicts = {}
    data = as_json(record)
    for version in VERSIONS:
        for kind in KINDS:
            expected = reference(version, kind).is_valid(record)
            assert typed_verdict(record, version, kind) == expected, (version, kind, record)
            assert typed_verdict(data, version, kind) == expected, (version, kind, "bytes", record)
            verdicts[version, kind] = expected
    return verdicts


# -- (a) every record of the real files ----------------------------------------------------------------------


def json_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.json") if not SKIPPED_FOLDERS & set(p.parts))


def records(path: Path) -> Iterator[tuple[str, str | None, Any]]:
    """(format, listed kind, record) for each record, the format as `decp validate` tells it: the wrapper's
    shape, else the record's fields. Files that are not DECP data (or not well-formed) yield what they can."""
    layout = sniff_layout(str(path))
    if layout.shape == "other":
        return
    by_shape = {"marches-list": "1.5", "marches-object": "2022"}.get(layout.shape)
    try:
        for kind, record in iter_records(str(path), layout):
            version = by_shape or {"1.5": "1.5", "2.0": "2022"}[json_record_version(record)]
            yield version, kind, record
    except Exception:  # a syntax error after some records: the records before it count
        return


def check_files(paths: list[Path], any_of: bool = True) -> Counter[str]:
    """Compare the verdicts on every record; count the records and the valid ones, by format (the verdict
    `decp validate` gives: the 1.5 `anyOf`, the 2022 definition of the record's list).

    The 1.5 `anyOf` is valid as a marché or as a concession; `any_of` also asks jsonschema's `anyOf` itself
    (which collects every error of both branches: 40 % of the time of the real files, so not on them)."""
    counts: Counter[str] = Counter()
    for path in paths:
        for version, listed_kind, record in records(path):
            verdicts = assert_same_verdicts(record)
            if version == "1.5":
                valid = verdicts["1.5", "marche"] or verdicts["1.5", "contrat-concession"]
                assert typed_verdict_15(record) == valid, (path, record)
                assert not any_of or reference("1.5", "any").is_valid(record) == valid, (path, record)
            else:
                valid = verdicts["2022", listed_kind or "marche"]
            counts[version] += 1
            counts[f"{version} valid"] += valid
    return counts


def test_fixture_records() -> None:
    counts = check_files(json_files(FIXTURES))
    assert counts == {"1.5": 173, "1.5 valid": 103, "2022": 70, "2022 valid": 58}


@pytest.mark.realdata
def test_realdata_records(realdata: Path) -> None:
    counts = check_files(json_files(realdata), any_of=False)
    # 1.5: AIFE 4530, AWS 4509, Dématis 470, PES, official examples; 2022: Dématis daily files, decp-rama, tests
    # of decp-processing. Each record is also judged against the other format and the other kind.
    assert counts == {"1.5": 11133, "1.5 valid": 6587, "2022": 997, "2022 valid": 677}


# -- (b) records mutated one field at a time -----------------------------------------------------------------


def valid_records(version: str, kind: str) -> list[Any]:
    found = []
    for path in json_files(FIXTURES):
        for v, listed, record in records(path):
            if v == version and (listed or kind) == kind and reference(version, kind).is_valid(record):
                found.append(record)
    return found


VALID = {(v, k): valid_records(v, k) for v in VERSIONS for k in KINDS}
Path_ = tuple[str | int, ...]


def paths(node: Any, here: Path_ = ()) -> Iterator[Path_]:
    """The path of every value inside a record (keys of objects, indexes of lists), the record's own first."""
    yield here
    items = node.items() if isinstance(node, dict) else enumerate(node) if isinstance(node, list) else ()
    for key, value in items:
        yield from paths(value, (*here, key))


def at(record: Any, path: Path_) -> Any:
    for key in path:
        record = record[key]
    return record


LIMITS = (0, 6, 7, 16, 17, 256, 257, 1000, 1001)  # around every minLength and maxLength of the schemas
BAD_TEXT = ["1" * 13, "2024-13-45", "12345678-9", "2019-01-01+01:00", "le 2019-01-01"]


def wrong_values(old: Any) -> list[Any]:
    """Values to put in place of `old`: wrong types, numbers around the minimums and integers, strings at and
    past the lengths of the schemas, broken patterns and enums, containers."""
    values: list[Any] = [None, True, 0, 1.0, "", [], {}, {"x": old}]
    if isinstance(old, str):
        values += [(old + "x" * 1001)[:n] for n in LIMITS]
        values += [old.upper(), old + "\n", old[:-1], *BAD_TEXT]
    elif isinstance(old, bool):
        values += [not old, "oui", int(old)]
    elif isinstance(old, int | float):
        values += [old + 0.5, float(old), int(old), -old, str(old), 2.0, 10**20]
    return values


def edited(record: Any, path: Path_, change: Any) -> Any:
    """A copy of the record with `change(container, key)` applied to the value at `path` (the record itself
    being the item 0 of a list holding it)."""
    holder = [copy.deepcopy(record)]
    full = (0, *path)
    change(at(holder, full[:-1]), full[-1])
    return holder[0]


def delete(container: Any, key: Any) -> None:
    del container[key]


def put(value: Any) -> Any:
    def change(container: Any, key: Any) -> None:
        container[key] = copy.deepcopy(value)

    return change


def optional_names(node: Any) -> set[str]:
    """The optional fields of every object of a schema."""
    found: set[str] = set()
    if isinstance(node, dict):
        if isinstance(node.get("properties"), dict):
            found |= set(node["properties"]) - set(node.get("required", []))
        for value in node.values():
            found |= optional_names(value)
    elif isinstance(node, list):
        for value in node:
            found |= optional_names(value)
    return found


# Keys to add to an object: fields the schemas do not know, and the optional fields of the schemas (which the
# real records may not have), with values of each type.
EXTRA_KEYS = sorted(
    {"cléInconnue", "nom", "source"} | optional_names([load_json_schema(f) for f in SCHEMA_FILES.values()])
)
EXTRA_VALUES = (0, 1, 1.5, "x")


def extra_key(name: str, value: Any) -> Any:
    def change(container: Any, key: Any) -> None:
        container[key][name] = copy.deepcopy(value)

    return change


def copy_item(index: int, extra: bool) -> Any:
    def change(container: Any, key: Any) -> None:
        item = copy.deepcopy(container[key][index])
        if extra and isinstance(item, dict):
            item["cléInconnue"] = 1
        container[key].append(item)

    return change


def changes(node: Any, is_root: bool) -> list[Any]:
    """The catalog of single edits at one place of a record."""
    found = [] if is_root else [delete, *map(put, wrong_values(node))]
    if isinstance(node, dict):
        found += [extra_key(name, value) for name in EXTRA_KEYS if name not in node for value in EXTRA_VALUES]
    if isinstance(node, list):
        found += [copy_item(i, extra) for i in range(len(node)) for extra in (False, True)]
    return found


def shape(path: Path_) -> Path_:
    return tuple(0 if isinstance(key, int) else key for key in path)


def richest(version: str, kind: str) -> Any:
    """The valid record of the fixtures with the most distinct fields (list items counted once)."""
    return max(VALID[version, kind], key=lambda r: len({shape(p) for p in paths(r)}))


@pytest.mark.parametrize(("version", "kind"), list(VALID), ids=lambda x: x)
def test_every_single_edit_of_the_richest_record(version: str, kind: str) -> None:
    """Every edit of the catalog at every place of the richest valid record of each kind (in lists, at the
    first item: the others have the same fields)."""
    record, reference_ = richest(version, kind), reference(version, kind)
    tried = Counter[bool]()
    for path in paths(record):
        if path != shape(path):
            continue
        for change in changes(at(record, path), not path):
            mutated = edited(record, path, change)
            expected = reference_.is_valid(mutated)
            assert typed_verdict(mutated, version, kind) == expected, (path, mutated)
            assert typed_verdict(as_json(mutated), version, kind) == expected, (path, "bytes", mutated)
            tried[expected] += 1
    assert tried[True] > 100, tried
    assert tried[False] > 400, tried


ANY_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 10**20) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: st.lists(inner, max_size=2) | st.dictionaries(st.text(max_size=4), inner, max_size=2),
    max_leaves=4,
)  # fmt: skip


def drawn_change(node: Any, is_root: bool, data: st.DataObject) -> Any:
    """One edit at one place: from the catalog, or a value made up by hypothesis."""
    if not is_root and data.draw(st.booleans(), label="made-up value"):
        return put(data.draw(ANY_JSON, label="value"))
    return data.draw(st.sampled_from(changes(node, is_root)), label="edit")


def drawn_mutation(version: str, kind: str, data: st.DataObject) -> Any:
    """A valid record of the fixtures with one edit at one place, both drawn."""
    record = data.draw(st.sampled_from(VALID[version, kind]), label="record")
    path = data.draw(st.sampled_from(list(paths(record))), label="path")
    return edited(record, path, drawn_change(at(record, path), not path, data))


FAST = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@pytest.mark.parametrize(("version", "kind"), list(VALID), ids=lambda x: x)
@FAST
@given(data=st.data())
def test_mutated_records(version: str, kind: str, data: st.DataObject) -> None:
    """Any valid record of the fixtures, one edit at any place: same verdicts for both formats and kinds."""
    mutated = drawn_mutation(version, kind, data)
    verdicts = assert_same_verdicts(mutated)
    event("still valid" if verdicts[version, kind] else "made invalid")
    if version == "1.5":
        assert typed_verdict_15(mutated) == reference("1.5", "any").is_valid(mutated)


def test_every_kind_has_valid_records_to_mutate() -> None:
    assert {key: len(found) for key, found in VALID.items()} == {
        ("1.5", "marche"): 95,
        ("1.5", "contrat-concession"): 8,
        ("2022", "marche"): 54,
        ("2022", "contrat-concession"): 4,
    }


# -- uniqueItems, where msgspec's Structs cannot decide alone ------------------------------------------------


def test_unique_items_follow_jsonschema() -> None:
    titulaire = {"typeIdentifiant": "SIRET", "id": "81223113200026", "denominationSociale": "Garami SARL"}
    marche = copy.deepcopy(VALID["1.5", "marche"][0])
    marche["titulaires"] = [titulaire, {**titulaire, "cléInconnue": 1}]  # equal Structs, different objects
    assert typed_verdict(marche, "1.5", "marche") is reference("1.5", "marche").is_valid(marche) is True
    marche["titulaires"] = [titulaire, dict(titulaire)]
    assert typed_verdict(marche, "1.5", "marche") is reference("1.5", "marche").is_valid(marche) is False
    record = copy.deepcopy(VALID["2022", "marche"][0])
    record["titulaires"] = [1, True, 1.0]  # not objects: valid items of TitulaireArray, but 1 == 1.0
    assert typed_verdict(msgspec.json.encode(record), "2022", "marche") is False
    record["titulaires"] = [1, True, "1"]
    assert typed_verdict(msgspec.json.encode(record), "2022", "marche") is True
    assert json_unique([[True], [1]])
    assert not json_unique([{"a": 1}, {"a": 1.0}])
