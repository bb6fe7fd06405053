"""Reading the raw records of one file, JSON or XML, in document order, memory flat whatever the file size.

The source's `format` (sources.yaml) chooses the reader: `json`, `xml`, `dume-api` (a day of the DUME API as
the fetcher stores it), or `auto`, where the content decides (JSON or XML from the first bytes; a DUME day by
its root key). A file that is neither JSON nor XML is refused whatever the format, and so is a file whose
content is not of the format the source declares.

A file is used whole or not at all: a fault anywhere raises MalformedFileError (after the records before it),
and the caller discards what it had read of that file. XML characters that XML 1.0 forbids (ASCII control
characters, met in AIFE files) are removed as the bytes are read, and counted: that is the one repair made
before parsing, because without it the whole file would be lost.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO

from decp_pipeline.detect import HEAD_SIZE, json_record_version, sniff_syntax, xml_dict_version
from decp_pipeline.exceptions import FileReadError, NotDecpDataError
from decp_pipeline.normalize.dume import row_to_2022
from decp_pipeline.normalize.xml_records import element_to_dict
from decp_pipeline.readers.json_stream import NanRepair, iter_records, sniff_layout
from decp_pipeline.readers.xml_stream import XmlReader

DUME_ROWS = "donneesEssentielles"
# Bytes XML 1.0 forbids in any encoding that is a superset of ASCII (tab, LF and CR are allowed).
CONTROL_BYTES = bytes(b for b in range(32) if b not in (9, 10, 13))


@dataclass
class RawRecord:
    position: int  # 1-based, in document order
    kind: str | None  # the element or 2022 list it came from, when the file says
    data: Any
    version: str  # "1.5", "1.5-dgfip" or "2.0", detected from the record


READERS = ("auto", "json", "xml", "dume-api")


class RecordFile:
    """The records of one file; `control_characters` counts the bytes removed from an XML file."""

    def __init__(self, path: str, format: str = "auto") -> None:
        if format not in READERS:
            raise ValueError(f"unknown format {format!r}")
        self.path = path
        self.format = format
        self.syntax: str | None = None
        self.control_characters = 0
        self.nan = NanRepair()  # NaN values read as null, counted

    def sniff(self) -> str | None:
        """json or xml (None when the file is neither: records() then says why)."""
        try:
            with open(self.path, "rb") as f:
                self.syntax = sniff_syntax(f.read(HEAD_SIZE))
        except (OSError, NotDecpDataError):
            self.syntax = None
        return self.syntax

    def records(self) -> Iterator[RawRecord]:
        with open(self.path, "rb") as f:
            head = f.read(HEAD_SIZE)
        try:
            self.syntax = sniff_syntax(head)
        except NotDecpDataError as e:
            raise FileReadError(str(e), None, None) from None
        expected = "json" if self.format == "dume-api" else self.format
        if expected not in ("auto", self.syntax):
            raise FileReadError(
                f"the source's format is {self.format} (sources.yaml), but the file is {self.syntax.upper()}", 1, 1
            )
        if self.syntax == "json":
            yield from self._json()
        else:
            yield from self._xml()

    def _json(self) -> Iterator[RawRecord]:
        layout = sniff_layout(self.path, self.nan)
        dume = layout.shape == "other" and DUME_ROWS in layout.root_keys  # a day of the DUME API (fetch/kinds/dume)
        if self.format == "dume-api" and not dume and layout.root_type != "invalid":  # a syntax error: said below
            raise FileReadError(f'format dume-api: expected {{"{DUME_ROWS}": [...]}}, the rows of the DUME API', 1, 1)
        if dume and self.format != "json":
            layout.lists = [(f"{DUME_ROWS}.item", "marche")]
            for position, (_kind, row) in enumerate(iter_records(self.path, layout, self.nan), start=1):
                data = row_to_2022(row) if isinstance(row, dict) else row
                yield RawRecord(position, "marche" if isinstance(row, dict) and "donneesMP" in row else None,
                                data, "2.0")  # fmt: skip
            return
        if layout.shape == "other" and layout.root_type != "invalid":
            keys = ", ".join(layout.root_keys[:5]) or layout.root_type
            raise FileReadError(
                f'no DECP records: expected {{"marches": [...]}} or a list of records, found {keys}', 1, 1
            )
        for position, (kind, data) in enumerate(iter_records(self.path, layout, self.nan), start=1):
            yield RawRecord(position, kind, data, json_record_version(data))

    def _xml(self) -> Iterator[RawRecord]:
        with open(self.path, "rb") as f:
            utf16 = f.read(2) in (b"\xff\xfe", b"\xfe\xff")
        reader = XmlReader(self.path) if utf16 else _FilteringXmlReader(self.path, self)
        position = 0
        for item in reader.items():
            if item.kind is None:
                continue  # an element that is not a record (reported by `decp validate`)
            position += 1
            data = element_to_dict(item.element)
            yield RawRecord(position, item.kind, data, xml_dict_version(data))


class _FilteringXmlReader(XmlReader):
    def __init__(self, path: str, owner: RecordFile) -> None:
        super().__init__(path)
        self.owner = owner

    def items(self) -> Iterator[Any]:
        with open(self.path, "rb") as raw:
            yield from self._items(_ControlCharacterFilter(raw, self.owner))  # type: ignore[arg-type]


class _ControlCharacterFilter:
    """A binary reader that drops ASCII control characters and counts them."""

    def __init__(self, f: BinaryIO, owner: RecordFile) -> None:
        self._f = f
        self._owner = owner

    def read(self, size: int = -1) -> bytes:
        chunk = self._f.read(size)
        cleaned = chunk.translate(None, CONTROL_BYTES)
        self._owner.control_characters += len(chunk) - len(cleaned)
        return cleaned
