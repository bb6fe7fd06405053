"""What validation finds: problems (one per fault) and the per-file result."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

Status = Literal["valid", "invalid", "unreadable"]


@dataclass(slots=True)
class Problem:
    """One fault, located as precisely as the input allows.

    `record` is the 1-based ordinal of the record in the file (None for a fault of the file itself),
    `path` the field inside the record (JSON: `titulaires[0].id`; XML: `titulaires/titulaire[1]/id`),
    or, for a file-level fault, the place in the document (`marches`).
    """

    file: str
    message: str
    rule: str
    record: int | None = None
    record_id: str | None = None
    path: str = ""
    line: int | None = None
    column: int | None = None
    pointer: str | None = None  # JSON pointer of the faulty value in the file (JSON input only)

    def to_text(self) -> str:
        parts = [self.file]
        if self.record is not None:
            parts.append(f"record {self.record} (id={self.record_id if self.record_id is not None else '?'})")
        if self.path:
            parts.append(self.path)
        elif self.record is None and self.line is not None:
            where = f"line {self.line}" + (f", column {self.column}" if self.column else "")
            parts.append(where)
        text = ": ".join(parts) + f": {self.message} [{self.rule}]"
        if self.record is not None and self.line is not None:
            text += f" (line {self.line})"
        return text

    def to_dict(self) -> dict[str, Any]:
        return {
            "record": self.record,
            "id": self.record_id,
            "path": self.path,
            "rule": self.rule,
            "message": self.message,
            "line": self.line,
            "column": self.column,
            "pointer": self.pointer,
        }


@dataclass
class FileResult:
    """The verdict on one file, filled in as its records are read."""

    file: str
    syntax: str | None = None  # "json" or "xml"
    schema_version: str | None = None  # "1.5", "1.5-dgfip" or "2.0"
    shape: str | None = None  # wrapper shape found
    records: int = 0
    invalid_records: int = 0
    problems: int = 0
    unreadable: str | None = None  # why the file could not be opened at all
    malformed: bool = False  # not well-formed JSON/XML: the file is invalid as a whole
    notes: list[str] = field(default_factory=list)

    @property
    def status(self) -> Status:
        if self.unreadable is not None:
            return "unreadable"
        return "invalid" if self.problems else "valid"

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "status": self.status,
            "syntax": self.syntax,
            "schema_version": self.schema_version,
            "shape": self.shape,
            "records": self.records,
            "invalid_records": self.invalid_records,
            "problem_count": self.problems,
            "unreadable": self.unreadable,
        }
