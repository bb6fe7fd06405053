"""Streaming JSON reading: the wrapper shape of a DECP file, then its records one by one.

Real files wrap their records in several ways:

- `{"marches": [...]}`: format 1.x (records are marchés and concessions, told apart by `_type` or keys);
- `{"marches": {"marche": [...], "contrat-concession": [...]}}`: format 2022 (either list may come first);
- `[...]`: a bare list of records (intermediate files of some peers);
- `{...}`: one record on its own (official 1.x examples, per-record exports).

The shape is found by reading the first parse events only; the records are then built by ijson's C backend
(yajl2_c), one list per pass, so memory holds one chunk and the record being built whatever the file size.
A syntax error is located (line, column) by a second pass that feeds the failing chunk byte by byte.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, BinaryIO, Literal

import ijson
import orjson
from ijson.utils import sendable_list

from decp_pipeline.exceptions import JsonSyntaxError

CHUNK_SIZE = 1 << 16
UTF8_BOM = b"\xef\xbb\xbf"

Shape = Literal["marches-list", "marches-object", "list", "record", "other"]

# Keys that only a contract record has at its top level: a root object with them is a bare record.
RECORD_KEYS = frozenset({"acheteur", "autoriteConcedante", "titulaires", "concessionnaires", "_type"})
LIST_KEYS_2022 = ("marche", "contrat-concession")


@dataclass
class JsonLayout:
    """Where the records of a JSON file are.

    `lists` holds, in document order, the ijson prefix of each record list and the record kind it holds
    (None when the kind is told per record, as in format 1.x).
    """

    shape: Shape
    root_type: str  # "object", "array" or the JSON type of a scalar root
    lists: list[tuple[str, str | None]] = field(default_factory=list)
    marches_type: str | None = None  # JSON type of the "marches" value, when there is one
    list_types: dict[str, str] = field(default_factory=dict)  # 2022: JSON type of the first list found
    root_keys: list[str] = field(default_factory=list)  # top-level keys seen before the records


_EVENT_TYPES = {
    "start_map": "object",
    "start_array": "array",
    "string": "string",
    "number": "number",
    "boolean": "boolean",
    "null": "null",
    "integer": "number",
    "double": "number",
}


def open_json(path: str) -> BinaryIO:
    """Open a JSON file for reading, positioned after a UTF-8 byte order mark if there is one."""
    f = open(path, "rb")  # noqa: SIM115 - the caller closes it
    if f.read(3) != UTF8_BOM:
        f.seek(0)
    return f


# DECP records nest about 10 levels deep. The parser's cost grows with the square of the depth (it builds
# the path of every value), so a hostile file of a few hundred KB of "[[[[..." would hold it for hours.
MAX_DEPTH = 512
DEPTH_BLOCK = 4096


def check_nesting(path: str) -> None:
    """Refuse a file nested deeper than MAX_DEPTH, before parsing it, at the speed of bytes.count.

    The depth is estimated at every 4 KiB boundary as opening minus closing brackets so far (brackets inside
    strings count too, which only matters for thousands of unbalanced ones); any depth spike longer than a
    block is seen, and a shorter one is harmless.
    """
    depth = 0
    position = 0
    with open(path, "rb") as f:
        while block := f.read(DEPTH_BLOCK):
            depth += block.count(b"[") + block.count(b"{") - block.count(b"]") - block.count(b"}")
            position += len(block)
            if depth > MAX_DEPTH:
                line, column = line_and_column(path, position)
                raise JsonSyntaxError(
                    f"the document is nested more than {MAX_DEPTH} levels deep: refused (a DECP record needs about 10)",
                    line,
                    column,
                    position,
                )


class NanRepair:
    """Reads `NaN`, `Infinity` and `-Infinity` (not JSON: pandas and JavaScript exports write them) as `null`,
    an absent value, counting them in `count`.

    Both commands read them so (docs/validation.md): `decp build` counts the fix `nan-as-absent`, `decp
    validate` reports them as a problem of the file, which is then invalid, and still checks every record.
    The replacement happens on the bytes, outside strings only in practice (the token right after `:`, `[` or
    `,` and before `,`, `]` or `}`). Chunks are cut where no token is being read: the last bytes of a chunk wait
    for the next one, unless a token found before them needs them.
    """

    PATTERN = re.compile(rb"([:\[,]\s*)(?:-?NaN|-?Infinity)(?=\s*[,\]}])")
    HOLD = 16

    def __init__(self) -> None:
        self._counts = [0]  # per pass over the file (one per record list: each pass sees every token)
        self.first: int | None = None  # the byte offset of the first one, in the file

    @property
    def count(self) -> int:
        return max(self._counts)

    def wrap(self, f: BinaryIO) -> BinaryIO:
        """`f` read with the tokens repaired: a new pass over the file."""
        self._counts.append(0)
        return _NanFilter(f, self)  # type: ignore[return-value]

    def repair(self, data: bytes, end: int, base: int = 0) -> tuple[bytes, int]:
        """`data` up to `end` or further, `NaN` read as `null`, and where it was cut: a `NaN` that starts before
        `end` is replaced whole, with the bytes up to its end."""
        if b"NaN" not in data and b"Infinity" not in data:  # almost every chunk: no scan
            return data[:end], end
        parts, done = [], 0
        for match in self.PATTERN.finditer(data):
            if match.start() >= end:
                break
            parts += [data[done : match.start()], match.group(1), b"null"]
            done = match.end()
            self._counts[-1] += 1
            if self.first is None:
                self.first = base + match.start() + len(match.group(1))
        cut = max(end, done)
        parts.append(data[done:cut])
        return b"".join(parts), cut


class _NanFilter:
    def __init__(self, f: BinaryIO, repair: NanRepair) -> None:
        self._f = f
        self._repair = repair
        self._pending = b""
        self._offset = f.tell()  # of the first byte of `_pending` in the file

    def tell(self) -> int:
        return self._f.tell()

    def read(self, size: int = -1) -> bytes:
        while True:
            chunk = self._f.read(size)
            data = self._pending + chunk
            end = max(len(data) - NanRepair.HOLD, 0) if chunk else len(data)
            fixed, cut = self._repair.repair(data, end, self._offset)
            self._pending = data[cut:]
            self._offset += cut
            if fixed or not chunk:
                return fixed


def sniff_layout(path: str, nan: NanRepair | None = None) -> JsonLayout:
    """Read the first parse events of the file to find its wrapper shape.

    Raises JsonSyntaxError for a file nested too deeply to be parsed safely.
    """
    check_nesting(path)
    with open_json(path) as f:
        events = ijson.parse(NanRepair().wrap(f) if nan else f, use_float=True, buf_size=READ_SIZE)
        try:
            return _layout_from_events(events)
        except ijson.JSONError:
            pass
    # The syntax error is reported with its position by iter_records, which reads the file again.
    return JsonLayout(shape="other", root_type="invalid")


def _layout_from_events(events: Iterator[tuple[str, str, Any]]) -> JsonLayout:
    prefix, event, value = next(events)
    if event == "start_array":
        return JsonLayout(shape="list", root_type="array", lists=[("item", None)])
    if event != "start_map":
        return JsonLayout(shape="other", root_type=_EVENT_TYPES.get(event, event))
    layout = JsonLayout(shape="other", root_type="object")
    for prefix, event, value in events:
        if prefix == "" and event == "map_key":
            layout.root_keys.append(value)
            if value == "marches":
                return _marches_layout(events, layout)
    if RECORD_KEYS & set(layout.root_keys) or {"id", "objet"} <= set(layout.root_keys):
        layout.shape = "record"
        layout.lists = [("", None)]
    return layout


def _marches_layout(events: Iterator[tuple[str, str, Any]], layout: JsonLayout) -> JsonLayout:
    _, event, _ = next(events)
    layout.marches_type = _EVENT_TYPES.get(event, event)
    if event == "start_array":
        layout.shape = "marches-list"
        layout.lists = [("marches.item", None)]
        return layout
    if event != "start_map":
        return layout
    layout.shape = "marches-object"
    first = None
    for prefix, event, value in events:
        if prefix != "marches":
            continue  # inside the value of a key that is not a record list
        if event == "end_map":
            break
        if event == "map_key" and value in LIST_KEYS_2022:
            _, value_event, _ = next(events)
            layout.list_types[value] = _EVENT_TYPES.get(value_event, value_event)
            first = value
            break
    order = [first, *(k for k in LIST_KEYS_2022 if k != first)] if first else list(LIST_KEYS_2022)
    layout.lists = [(f"marches.{key}.item", key) for key in order]
    return layout


# Files up to this size are parsed whole by orjson (about 5 times faster than the streaming parser; the
# records of a 32 MB file take about 300 MB in memory); larger files, and any file orjson refuses (NaN, a
# syntax error to locate, a number beyond 64 bits), are streamed by ijson.
WHOLE_FILE_MAX = 32 * 1024 * 1024
# What ijson reads at a time. yajl copies a string token that spans reads at each read: with its 64 KiB default
# one 50 MB string took 9.2 s (quadratic), with 8 MiB 0.15 s; the buffer costs nothing else.
READ_SIZE = 8 * 1024 * 1024


def iter_records(path: str, layout: JsonLayout, nan: NanRepair | None = None) -> Iterator[tuple[str | None, Any]]:
    """Yield (kind, record) for every record of the file, in document order.

    Each record list is read by its own pass of ijson's pull parser (2.4 times faster than its push
    interface, measured); lists never interleave in a document and `layout.lists` is in document order, so
    the records come out in document order. Raises JsonSyntaxError, with the line and column of the fault,
    when the file is not well-formed JSON (after yielding the records that came before it).
    """
    document = _whole(path, layout)
    if document is not _REFUSED:
        for prefix, kind in layout.lists:
            for record in _at(document, prefix.split(".") if prefix else []):
                yield kind, record
        return
    for prefix, kind in layout.lists or [("\x00none", None)]:  # a prefix that never matches still checks syntax
        with open_json(path) as f:
            start = f.tell()
            counted = _CountingReader(nan.wrap(f) if nan else f)
            try:
                for record in ijson.items(counted, prefix, use_float=True, buf_size=READ_SIZE):
                    yield kind, record
            except ijson.JSONError as e:
                raise locate_syntax_error(path, start, counted.chunk_start, e) from None


_REFUSED = object()


def _whole(path: str, layout: JsonLayout) -> Any:
    """The parsed document of a small file, or _REFUSED (too large, or not strict JSON for orjson).

    A wrapper key written twice (`{"marches": [...], "marches": [...]}`) is also refused: a parsed object keeps
    only the last value, where the stream reads both lists."""
    try:
        if os.path.getsize(path) > WHOLE_FILE_MAX:
            return _REFUSED
        with open_json(path) as f:
            content = f.read()
        for prefix, _kind in layout.lists:
            for key in prefix.split("."):
                if key and key != "item" and content.count(orjson.dumps(key)) > 1:
                    return _REFUSED
        return orjson.loads(content)
    except (OSError, orjson.JSONDecodeError):
        return _REFUSED


def _at(node: Any, parts: list[str]) -> Iterator[Any]:
    """The values at an ijson prefix (`marches.item`: the items of the list under `marches`)."""
    if not parts:
        yield node
    elif parts[0] == "item":
        if isinstance(node, list):
            for item in node:
                yield from _at(item, parts[1:])
    elif isinstance(node, dict) and parts[0] in node:
        yield from _at(node[parts[0]], parts[1:])


class _CountingReader:
    """A file wrapper that remembers where the last chunk handed to the parser began."""

    def __init__(self, f: BinaryIO) -> None:
        self._f = f
        self.chunk_start = f.tell()
        self._position = self.chunk_start

    def read(self, size: int = -1) -> bytes:
        chunk = self._f.read(size)
        self.chunk_start = self._position
        self._position += len(chunk)
        return chunk


def locate_syntax_error(path: str, start: int, chunk_start: int, error: Exception) -> JsonSyntaxError:
    """Find the byte where the parser fails, by feeding the failing chunk one byte at a time.

    The fast pass only knows the 64 KiB chunk in which the error lies; this pass replays the file up to that
    chunk at full speed, then byte by byte, so the cost is one extra read of the file on the error path only.
    """
    sink = sendable_list()
    coroutine = ijson.items_coro(sink, "\x00none")
    fault = None
    with open(path, "rb") as f:
        f.seek(start)
        position = start
        try:
            while position < chunk_start:
                chunk = f.read(min(CHUNK_SIZE, chunk_start - position))
                coroutine.send(chunk)
                position += len(chunk)
            for byte in iter(lambda: f.read(1), b""):
                coroutine.send(byte)
                position += 1
            coroutine.close()
        except ijson.JSONError as e:
            fault = e
    offset = position  # the byte the parser stopped at (end of file for a truncated document)
    message = describe_syntax_error(fault or error)
    if message == _SYNTAX_HINTS["invalid bytes in UTF8 string"]:
        offset = _first_bad_utf8_byte(path, offset)
    line, column = line_and_column(path, offset)
    return JsonSyntaxError(message, line, column, offset)


def _first_bad_utf8_byte(path: str, offset: int) -> int:
    """The parser reports bad UTF-8 at the end of the string holding it: point at the byte itself."""
    start = max(0, offset - CHUNK_SIZE)
    with open(path, "rb") as f:
        f.seek(start)
        window = f.read(offset - start + 1)
    line_start = window.rfind(b"\n") + 1
    try:
        window[line_start:].decode("utf-8")
    except UnicodeDecodeError as e:
        return start + line_start + e.start
    return offset


def line_and_column(path: str, offset: int) -> tuple[int, int]:
    """1-based line and column (in characters) of a byte offset, read in chunks."""
    line, line_start, position = 1, 0, 0
    with open(path, "rb") as f:
        while position < offset:
            chunk = f.read(min(CHUNK_SIZE, offset - position))
            if not chunk:
                break
            newlines = chunk.count(b"\n")
            if newlines:
                line += newlines
                line_start = position + chunk.rindex(b"\n") + 1
            position += len(chunk)
        f.seek(line_start)
        head = f.read(offset - line_start)
    if head.startswith(UTF8_BOM):
        head = head[3:]
    return line, len(head.decode("utf-8", errors="replace")) + 1


_SYNTAX_HINTS = {
    "premature EOF": "the file ends before the JSON document is complete (truncated file?)",
    "invalid bytes in UTF8 string": "invalid UTF-8 bytes: the file must be UTF-8 (is it Latin-1?)",
    "trailing garbage": "unexpected content after the end of the JSON document",
    "invalid char in json text": "invalid character: not a JSON value (NaN, a missing quote or comma?)",
}


def describe_syntax_error(error: Exception) -> str:
    """A one-line message for a yajl error, whose text spans several lines with a context excerpt."""
    text = error.args[0] if error.args else str(error)
    if isinstance(text, bytes):
        text = text.decode("utf-8", errors="replace")
    first = str(text).strip().splitlines()[0] if str(text).strip() else "malformed JSON"
    for needle, hint in _SYNTAX_HINTS.items():
        if needle in first:
            return hint
    return "malformed JSON: " + first.removeprefix("parse error: ").removeprefix("lexical error: ")
