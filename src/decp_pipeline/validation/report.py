"""Writing validation results as text lines or as one JSON document, streamed as problems are found."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from decp_pipeline.official_schemas import VERSIONS
from decp_pipeline.validation.files import FileValidation
from decp_pipeline.validation.problems import FileResult


class TextOut(Protocol):
    """Where a report is written: stdout, or anything with its `write` (cli/validate.py's progress clearer)."""

    def write(self, text: str, /) -> int: ...


@dataclass
class Totals:
    files: int = 0
    valid: int = 0
    invalid: int = 0
    unreadable: int = 0
    records: int = 0
    invalid_records: int = 0
    problems: int = 0

    def add(self, result: FileResult) -> None:
        self.files += 1
        setattr(self, result.status, getattr(self, result.status) + 1)
        self.records += result.records
        self.invalid_records += result.invalid_records
        self.problems += result.problems

    @property
    def exit_code(self) -> int:
        """2 when a file could not be read at all, 1 when a file is invalid, else 0."""
        if self.unreadable:
            return 2
        return 1 if self.invalid else 0

    def to_dict(self) -> dict[str, int]:
        return {
            k: getattr(self, k)
            for k in ("files", "valid", "invalid", "unreadable", "records", "invalid_records", "problems")
        }

    def summary_line(self) -> str:
        return (
            f"{self.files} file(s): {self.valid} valid, {self.invalid} invalid, "
            f"{self.unreadable} unreadable; "
            f"{_records(self.records)}, {self.invalid_records:,} invalid; {self.problems:,} problem(s)"
        )


def file_line(result: FileResult) -> str:
    """The closing line of one file in text output."""
    if result.status == "unreadable":
        return f"{result.file}: UNREADABLE: {result.unreadable}"
    what = []
    if result.schema_version:
        version = VERSIONS[result.schema_version]
        what.append(f"{version.label}, {(result.syntax or '').upper()}, {version.schema_file(result.syntax)}")
    what.extend(result.notes)
    described = f" ({'; '.join(what)})" if what else ""
    if result.status == "valid":
        return f"{result.file}: valid: {_records(result.records)}{described}"
    if result.malformed:
        return (
            f"{result.file}: INVALID: not well-formed {(result.syntax or 'JSON or XML').upper()}, "
            f"{_records(result.records)} read before the fault{described}"
        )
    return (
        f"{result.file}: INVALID: {result.invalid_records:,} of {_records(result.records)} invalid, "
        f"{result.problems:,} problem(s){described}"
    )


def _records(n: int) -> str:
    return f"{n:,} record" + ("" if n == 1 else "s")


def write_text(validations: Iterable[FileValidation], out: TextOut) -> Totals:
    totals = Totals()
    for validation in validations:
        for problem in validation:
            out.write(problem.to_text() + "\n")
        out.write(file_line(validation.result) + "\n")
        totals.add(validation.result)
    out.write(totals.summary_line() + "\n")
    return totals


def write_json(validations: Iterable[FileValidation], out: TextOut) -> Totals:
    """One JSON document, written as it goes: a file's problems first, then its verdict."""
    totals = Totals()
    out.write('{"files": [')
    for n, validation in enumerate(validations):
        out.write(",\n" if n else "\n")
        out.write('{"problems": [')
        for i, problem in enumerate(validation):
            out.write(",\n  " if i else "\n  ")
            out.write(_dumps(problem.to_dict()))
        result = validation.result
        meta = result.to_dict()
        meta["notes"] = result.notes
        out.write("],\n" + _dumps(meta)[1:])
        totals.add(result)
    summary = totals.to_dict()
    out.write(f'\n],\n"summary": {_dumps(summary)},\n"valid": {_dumps(totals.exit_code == 0)}}}\n')
    return totals


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)
