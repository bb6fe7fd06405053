"""Validating whole DECP files, record by record, as `decp validate` does.

The verdict on a file is the official validator's: the file is valid when the whole document is valid
against the official schema of its format version. Records are read one at a time (see readers/), so a
2 GB file is checked in bounded memory and one bad record does not hide the next ones. The envelope
(`{"marches": [...]}`, `<marches>`) is checked from what the stream shows of it, with the same rules as the
schema's root: 1.5 needs at least one record and no two identical records (`minItems`, `uniqueItems`);
2022 needs a `marche` or `contrat-concession` list.

Deliberately stricter than the schemas in one case: a JSON file with no `marches` envelope (a bare record
or a bare list) is invalid. The 1.5 JSON schema requires nothing at its root, so the official validator
accepts any object, even `{}`; no publisher means that.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import orjson

from decp_pipeline.detect import HEAD_SIZE, json_record_version, sniff_syntax, xml_record_version
from decp_pipeline.exceptions import MalformedFileError, NotDecpDataError
from decp_pipeline.readers.json_stream import JsonLayout, NanRepair, iter_records, sniff_layout
from decp_pipeline.readers.xml_stream import RECORD_TAGS, ROOT_TAG, XmlReader, local_name
from decp_pipeline.validation.json_records import FieldError, json_validator
from decp_pipeline.validation.limits import RULE, message, overlong_text, overlong_xml_text
from decp_pipeline.validation.problems import FileResult, Problem
from decp_pipeline.validation.xml_records import xml_validator

ENVELOPE_15 = '{"marches": [...]}'
ENVELOPE_2022 = '{"marches": {"marche": [...], "contrat-concession": [...]}}'


class FileValidation:
    """Iterate over it to get the problems of one file; `result` holds the verdict once iteration ends."""

    PROGRESS_EVERY = 10_000

    def __init__(
        self, path: str, schema_version: str = "auto", on_progress: Callable[[int], None] | None = None
    ) -> None:
        self.path = path
        self.requested = schema_version
        self.result = FileResult(file=path)
        self._on_progress = on_progress  # called with the number of records read, every PROGRESS_EVERY

    def __iter__(self) -> Iterator[Problem]:
        try:
            with open(self.path, "rb") as f:
                head = f.read(HEAD_SIZE)
        except IsADirectoryError:
            self.result.unreadable = f"a directory; give the files inside it (e.g. {self.path}/*.json)"
            return
        except OSError as e:
            self.result.unreadable = e.strerror or str(e)
            return
        try:
            syntax = sniff_syntax(head)
        except NotDecpDataError as e:
            yield self._file_problem(str(e), "syntax", line=1, column=1)
            self.result.malformed = True
            return
        self.result.syntax = syntax
        yield from (self._json() if syntax == "json" else self._xml())

    # -- helpers ---------------------------------------------------------------------------------------

    def _file_problem(self, message: str, rule: str, path: str = "", **where: Any) -> Problem:
        self.result.problems += 1
        return Problem(self.path, message, rule, path=path, **where)

    def _malformed(self, error: MalformedFileError) -> Problem:
        self.result.malformed = True
        return self._file_problem(error.message, "syntax", line=error.line, column=error.column)

    def _record_problems(self, problems: list[Problem]) -> list[Problem]:
        if problems:
            self.result.invalid_records += 1
            self.result.problems += len(problems)
        return problems

    def _version(self, detected: str | None) -> str | None:
        return detected if self.requested == "auto" else self.requested

    # -- JSON ------------------------------------------------------------------------------------------

    def _json(self) -> Iterator[Problem]:
        nan = NanRepair()  # read as decp build reads them, and reported (below)
        try:
            layout = sniff_layout(self.path, nan)
        except MalformedFileError as e:
            yield self._malformed(e)
            return
        self.result.shape = layout.shape
        detected = {"marches-list": "1.5", "marches-object": "2.0"}.get(layout.shape)
        version = self._version(detected)
        if version == "1.5-dgfip":
            self.result.notes.append("the DGFiP variant exists only in XML: validated against format 1.5")
            version = "1.5"
        if version is not None:
            self.result.schema_version = version
            yield from self._json_envelope(layout, version)
        unique = _UniqueRecords() if layout.shape == "marches-list" else None
        ordinal = 0
        indexes: dict[str | None, int] = {}
        try:
            for listed_kind, record in iter_records(self.path, layout, nan):
                ordinal += 1
                if ordinal % self.PROGRESS_EVERY == 0 and self._on_progress:
                    self._on_progress(ordinal)
                index = indexes[listed_kind] = indexes.get(listed_kind, -1) + 1
                if version is None:
                    version = self.result.schema_version = json_record_version(record)
                    yield from self._json_envelope(layout, version)
                validator = json_validator(version)
                kind = validator.kind_of(record, listed_kind)
                too_long = overlong_text(record)  # checked first: the validator would copy the text
                if too_long is not None or not validator.is_valid(record, kind):  # the common case: one call
                    base = _RECORD_POINTERS[layout.shape].format(kind=listed_kind, index=index)
                    errors = [too_long] if too_long is not None else validator.errors(record, kind)
                    yield from self._json_record(ordinal, record, errors, base)
                if unique is not None and version == "1.5":
                    unique.add(record)
        except MalformedFileError as e:
            yield self._malformed(e)
            return
        finally:
            self.result.records = ordinal
        if nan.count:
            yield self._nan_problem(nan)
        if version is None:  # no record to tell the version: judge the envelope as format 1.5
            version = self.result.schema_version = "1.5"
            yield from self._json_envelope(layout, version)
        yield from self._json_list_rules(layout, version, ordinal, unique)

    def _nan_problem(self, nan: NanRepair) -> Problem:
        line, column = _line_and_column(self.path, nan.first or 0)
        return self._file_problem(
            f"NaN, Infinity or -Infinity is not JSON ({nan.count} such value(s), the first here): read as an "
            "absent value, as `decp build` does",
            "syntax",
            line=line,
            column=column,
        )

    def _json_list_rules(
        self, layout: JsonLayout, version: str, ordinal: int, unique: _UniqueRecords | None
    ) -> Iterator[Problem]:
        """The rules on the record lists themselves, known once every record has been read."""
        if layout.shape == "marches-list" and version == "1.5" and ordinal == 0:
            yield self._file_problem(
                "the list holds no record; at least 1 required", "minItems", "marches", pointer="/marches"
            )
        if layout.shape == "marches-object" and version == "2.0" and not layout.list_types and ordinal == 0:
            yield self._file_problem(
                "a 'marche' or 'contrat-concession' list is required", "required", "marches", pointer="/marches"
            )
        for duplicate, first in unique.duplicates() if unique is not None else []:
            yield self._file_problem(
                f"record {duplicate} is identical to record {first}; records must be unique",
                "uniqueItems",
                f"marches[{duplicate - 1}]",
                pointer=f"/marches/{duplicate - 1}",
            )

    def _json_envelope(self, layout: JsonLayout, version: str) -> Iterator[Problem]:
        """Problems of the document around the records, as far as the first events show it."""
        envelope = ENVELOPE_2022 if version == "2.0" else ENVELOPE_15
        if layout.root_type not in ("object", "array", "invalid"):
            yield self._file_problem(f"the document is a {layout.root_type}; expected {envelope}", "type")
        elif layout.shape in ("list", "record"):
            what = "a bare list of records" if layout.shape == "list" else "a single record"
            yield self._file_problem(f"{what}: the format wraps records in {envelope}", "envelope")
        elif layout.shape == "other" and layout.root_type == "object":
            yield self._file_problem(f"no 'marches' key: expected {envelope}", "required", "marches")
        elif version == "2.0" and layout.marches_type not in (None, "object"):
            got = "a list: this looks like format 1.x" if layout.marches_type == "array" else layout.marches_type
            yield self._file_problem(
                f"expected an object {ENVELOPE_2022[12:-1]} (format 2022), got {got}",
                "type",
                "marches",
                pointer="/marches",
            )
        elif version != "2.0" and layout.marches_type not in (None, "array"):
            got = "an object: this looks like format 2022" if layout.marches_type == "object" else layout.marches_type
            yield self._file_problem(
                f"expected a list of records (format 1.5), got {got}", "type", "marches", pointer="/marches"
            )
        for key, value_type in layout.list_types.items():
            if value_type != "array":
                yield self._file_problem(
                    f"expected a list of records, got {value_type}",
                    "type",
                    f"marches.{key}",
                    pointer=f"/marches/{key}",
                )

    def _json_record(self, ordinal: int, record: Any, errors: list[FieldError], base: str) -> list[Problem]:
        record_id = record.get("id") if isinstance(record, dict) else None
        shown_id = str(record_id) if isinstance(record_id, str | int) else None
        problems = [
            Problem(self.path, e.message, e.rule, ordinal, shown_id, e.dotted, pointer=base + e.pointer) for e in errors
        ]
        return self._record_problems(problems)

    # -- XML -------------------------------------------------------------------------------------------

    def _xml(self) -> Iterator[Problem]:
        reader = XmlReader(self.path)
        version = self._version(None)
        ordinal = 0
        root_checked = False
        try:
            for item in reader.items():
                if not root_checked:
                    root_checked = True
                    yield from self._xml_root(reader)
                if item.kind is None:
                    assert reader.root is not None  # XmlReader sets it before its first item
                    if local_name(reader.root) in (ROOT_TAG, *RECORD_TAGS):
                        yield self._file_problem(
                            f"unexpected element <{item.local_name}>: <marches> holds only <marche> and "
                            "<contrat-concession> elements",
                            "content",
                            item.local_name,
                            line=item.line,
                        )
                    continue
                ordinal += 1
                if ordinal % self.PROGRESS_EVERY == 0 and self._on_progress:
                    self._on_progress(ordinal)
                if version is None:
                    version = xml_record_version(item.element)
                self.result.schema_version = version
                yield from self._xml_record(ordinal, item.element, version)
        except MalformedFileError as e:
            yield self._malformed(e)
            return
        finally:
            self.result.records = ordinal
            self.result.shape = local_name(reader.root) if reader.root is not None else None
        if not root_checked and reader.root is not None:
            yield from self._xml_root(reader)
        if self.result.schema_version is None and reader.root is not None:
            self.result.schema_version = version or "1.5"
            self.result.notes.append("no record in the file")
        version = self.result.schema_version
        if reader.root is not None and version is not None and local_name(reader.root) == ROOT_TAG:
            for error in xml_validator(version).validate_root(reader.root):
                yield self._file_problem(error.message, error.rule, local_name(reader.root), line=error.line)

    def _xml_root(self, reader: XmlReader) -> Iterator[Problem]:
        root = reader.root
        assert root is not None  # called once the reader has met the root
        name = local_name(root)
        if name not in (ROOT_TAG, *RECORD_TAGS):
            yield self._file_problem(
                f"root element <{name}> is not a DECP element: expected <marches>",
                "element",
                name,
                line=root.sourceline,
            )

    def _xml_record(self, ordinal: int, element: Any, version: str) -> list[Problem]:
        record_id = next((c.text for c in element if isinstance(c.tag, str) and local_name(c) == "id"), None)
        if record_id is not None:
            record_id = record_id[:100].strip()
        too_long = overlong_xml_text(element)  # as decp build: this error only (validation/limits.py)
        if too_long is not None:
            where, length, line = too_long
            return self._record_problems([Problem(self.path, message(length), RULE, ordinal, record_id, where,
                                                  line=line)])  # fmt: skip
        problems = [
            Problem(self.path, e.message, e.rule, ordinal, record_id, e.path, line=e.line)
            for e in xml_validator(version).errors(element)
        ]
        return self._record_problems(problems)


# The JSON pointer of a record, by wrapper shape.
_RECORD_POINTERS = {
    "marches-list": "/marches/{index}",
    "marches-object": "/marches/{kind}/{index}",
    "list": "/{index}",
    "record": "",
    "other": "",
}


class _UniqueRecords:
    """The uniqueItems rule of the 1.5 `marches` list, in 16 bytes per record.

    Each record is reduced to a 128-bit BLAKE2 digest of its canonical JSON (sorted keys), kept in a byte
    array; duplicates are found at the end by sorting the digests with numpy.
    """

    def __init__(self) -> None:
        self._digests = bytearray()

    def add(self, record: Any) -> None:
        try:
            canonical = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
        except orjson.JSONEncodeError:  # nested deeper than orjson's 255 levels: invalid anyway
            canonical = str(id(record)).encode()
        self._digests += hashlib.blake2b(canonical, digest_size=16).digest()

    def duplicates(self) -> list[tuple[int, int]]:
        """(ordinal, ordinal of its first occurrence) for every record identical to an earlier one."""
        if len(self._digests) < 32:
            return []
        keys = np.frombuffer(self._digests, dtype="<u8").reshape(-1, 2)  # a view: no copy
        order = np.lexsort((np.arange(len(keys)), keys[:, 1], keys[:, 0]))
        ordered = keys[order]
        same = np.all(ordered[1:] == ordered[:-1], axis=1)
        found = []
        first = int(order[0])
        for i in range(1, len(order)):
            if same[i - 1]:
                found.append((int(order[i]) + 1, first + 1))
            else:
                first = int(order[i])
        return sorted(found)


def _line_and_column(path: str, offset: int) -> tuple[int, int]:
    """The 1-based line and column (in characters) of a byte offset of a file."""
    with open(path, "rb") as f:
        head = f.read(offset)
    line_start = head.rfind(b"\n") + 1
    return head.count(b"\n") + 1, len(head[line_start:].decode("utf-8", errors="replace")) + 1
