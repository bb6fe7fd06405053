"""Validating one JSON record against the official JSON Schema of its format version.

The schemas are compiled once with jsonschema-rs (Rust), about 140 times faster than jsonschema on these
schemas; `tests/test_validator_equivalence.py` proves both give the same verdict on every real record.

Format 1.5 puts marchés and concessions in one list validated with `anyOf`: the verdict uses the `anyOf`
itself, as the official validator does, and the messages come from the branch the record was meant for
(by `_type`, or by its buyer key), because "not valid under any of the schemas" helps nobody.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema_rs

from decp_pipeline.models.contract import kind_of
from decp_pipeline.official_schemas import VERSIONS, SchemaVersion, load_json_schema
from decp_pipeline.validation.messages import explain, join_path, pointer

KINDS = ("marche", "contrat-concession")


@dataclass(slots=True)
class FieldError:
    """One schema error inside a record: `path` is relative to the record."""

    path: list[str | int]
    rule: str
    message: str

    @property
    def dotted(self) -> str:
        return join_path(self.path)

    @property
    def pointer(self) -> str:
        return pointer(self.path)


class JsonRecordValidator:
    """Compiled validators for the records of one format version."""

    def __init__(self, version: SchemaVersion) -> None:
        if version.json_schema is None:
            raise ValueError(f"{version.label} has no JSON Schema")
        self.version = version
        schema = load_json_schema(version.json_schema)
        draft = schema["$schema"]
        compile_ = jsonschema_rs.Draft4Validator if "draft-04" in draft else jsonschema_rs.Draft7Validator
        definitions = schema["definitions"]
        self._branches = {
            kind: compile_({"$schema": draft, "$ref": f"#/definitions/{kind}", "definitions": definitions})
            for kind in KINDS
        }
        self._any = None
        if not version.is_2022:
            items = schema["properties"]["marches"]["items"]
            self._any = compile_({"$schema": draft, **items, "definitions": definitions})

    def kind_of(self, record: Any, listed_kind: str | None) -> str:
        """The record's kind: the 2022 list it came from, or what a 1.5 record says of itself."""
        return kind_of(record, listed_kind)

    def is_valid(self, record: Any, kind: str) -> bool:
        if self._any is not None:
            return self._any.is_valid(record)
        return self._branches[kind].is_valid(record)

    def errors(self, record: Any, kind: str) -> list[FieldError]:
        """Every schema error of the record, with messages; empty when the record is valid."""
        if self.is_valid(record, kind):
            return []
        found: list[FieldError] = []
        try:
            errors = list(self._branches[kind].iter_errors(record))
        except ValueError as e:  # jsonschema-rs refuses to recurse past its limit
            return [FieldError([], "depth", f"the record is nested too deeply to be checked ({e})")]
        for error in errors:
            rule, detail = error.kind.name, error.kind.as_dict()
            path = list(error.instance_path)
            if rule == "required":
                path.append(detail["property"])
            if rule == "additionalProperties":  # one problem per unexpected field, located on the field
                message = explain(rule, detail, error.instance, error.message)
                unexpected = detail.get("unexpected", [])
                found.extend(FieldError([*path, name], rule, message) for name in unexpected)
                continue
            found.append(FieldError(path, rule, explain(rule, detail, error.instance, error.message)))
        if not found:  # valid for its own branch but not for the anyOf: cannot happen with the 1.5 schema
            found.append(FieldError([], "anyOf", f"not valid as a {kind} nor as any other kind of record"))
        return found


@cache
def json_validator(version_name: str) -> JsonRecordValidator:
    """The compiled validator of a format version, built once per process."""
    return JsonRecordValidator(VERSIONS[version_name])
