"""The uploaded file, streamed from the request into a temporary file, counted against the upload limit.

Two ways to send a file: a multipart/form-data body whose field `file` holds it (a browser's form, `curl -F
file=@marches.json`), or the raw body (`curl --data-binary @marches.json`, `?filename=` naming it). The limit
is checked on the Content-Length before anything is read, then on the bytes counted as they arrive (a chunked
body has no Content-Length): the answer is 413 as soon as the count passes it, never after the whole body.

Nothing of the request reaches the file system: the temporary file's name is the tempfile module's, in the
server's own folder; the upload's name is only shown, after `display_name` made it a short plain name.
"""

from __future__ import annotations

import os
import re
import tempfile
import unicodedata
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from starlette.requests import ClientDisconnect, Request

from decp_pipeline.exceptions import UploadError, UploadTooLargeError

if TYPE_CHECKING:
    from python_multipart.multipart import MultipartCallbacks

FIELD = b"file"  # the multipart field holding the file
DEFAULT_NAME = "upload"
MAX_NAME = 120  # characters of the shown name


@dataclass
class Upload:
    path: str  # the temporary file (the caller deletes it)
    name: str  # the upload's name, for display only


def display_name(raw: str | None) -> str:
    """The last component of a client's file name, without control characters, at most MAX_NAME characters:
    `../../etc/passwd` → `passwd`, `C:\\Users\\x\\marchés.json` → `marchés.json`."""
    if not raw:
        return DEFAULT_NAME
    name = re.split(r"[\\/]", raw)[-1]
    name = "".join(c for c in name if unicodedata.category(c)[0] != "C").strip()
    name = name.lstrip(".") or DEFAULT_NAME
    return name[:MAX_NAME]


async def _counted(request: Request, limit: int) -> AsyncIterator[bytes]:
    """The body's chunks; UploadTooLargeError as soon as more than `limit` bytes came."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise UploadTooLargeError(limit)
    received = 0
    async for chunk in request.stream():
        received += len(chunk)
        if received > limit:
            raise UploadTooLargeError(limit)
        if chunk:
            yield chunk


async def receive(request: Request, folder: str, limit: int) -> Upload:
    """The request's file, written to a new temporary file in `folder`; UploadError when there is none."""
    fd, path = tempfile.mkstemp(prefix="upload-", dir=folder)
    try:
        with os.fdopen(fd, "wb") as out:
            content_type, options = parse_options_header(request.headers.get("content-type"))
            if content_type == b"multipart/form-data":
                name = await _multipart(request, options.get(b"boundary"), out, limit)
            else:
                async for chunk in _counted(request, limit):
                    out.write(chunk)
                name = request.query_params.get("filename")
    except ClientDisconnect:
        os.unlink(path)
        raise UploadError("the client went away before the whole file came") from None
    except BaseException:
        os.unlink(path)
        raise
    return Upload(path, display_name(name))


async def _multipart(request: Request, boundary: bytes | None, out: BinaryIO, limit: int) -> str | None:
    """Parses the body as it streams in, the first `file` part written to `out`; the part's file name."""
    if not boundary:
        raise UploadError("a multipart/form-data body needs a boundary in its Content-Type")
    form = _FilePart(out)
    parser = MultipartParser(boundary, form.callbacks())
    try:
        async for chunk in _counted(request, limit):
            parser.write(chunk)
        parser.finalize()
    except MultipartParseError as e:
        raise UploadError(f"the multipart/form-data body cannot be read: {e}") from None
    if not form.found:
        raise UploadError("the multipart/form-data body has no `file` field: send the file as `file`")
    return form.filename


class _FilePart:
    """The parser's callbacks: each part's headers read, the first part named `file` copied to `out`."""

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.found = False
        self.filename: str | None = None
        self._writing = False
        self._header = b""
        self._value = b""
        self._disposition = b""

    def callbacks(self) -> MultipartCallbacks:
        return {
            "on_part_begin": self._begin,
            "on_header_field": lambda data, start, end: self._add("_header", data[start:end]),
            "on_header_value": lambda data, start, end: self._add("_value", data[start:end]),
            "on_header_end": self._header_end,
            "on_headers_finished": self._headers_finished,
            "on_part_data": self._data,
            "on_part_end": self._end,
        }

    def _add(self, attribute: str, data: bytes) -> None:
        setattr(self, attribute, getattr(self, attribute) + data)

    def _begin(self) -> None:
        self._disposition = b""
        self._header = self._value = b""

    def _header_end(self) -> None:
        if self._header.lower() == b"content-disposition":
            self._disposition = self._value
        self._header = self._value = b""

    def _headers_finished(self) -> None:
        _, options = parse_options_header(self._disposition)
        if options.get(b"name") == FIELD and not self.found:
            self.found = self._writing = True
            raw = options.get(b"filename")
            self.filename = raw.decode("utf-8", "replace") if raw is not None else None

    def _data(self, data: bytes, start: int, end: int) -> None:
        if self._writing:
            self.out.write(data[start:end])

    def _end(self) -> None:
        self._writing = False
