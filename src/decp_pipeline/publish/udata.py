"""The few calls of data.gouv.fr's API v1 (udata) that publishing needs, over the project's HTTP layer.

    GET  /1/datasets/{dataset}/                          the dataset and its resources (checksum: sha1)
    POST /1/datasets/{dataset}/upload/                   a new resource from a file (multipart field `file`)
    POST /1/datasets/{dataset}/resources/{rid}/upload/   a resource's file replaced, its id kept
    PUT  /1/datasets/{dataset}/resources/{rid}/          a resource's title and description

The API key goes in the `X-API-KEY` header of these requests and nowhere else: never in a URL, a body, a log
line or a message (`redact` takes it out of what a server echoes), and requests that carry it follow no
redirect. An upload is streamed from the file, with its length announced, so that a big file is not held
in memory.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.http import Body, HttpClient

KEY_HEADER = "X-API-KEY"
Advance = Callable[[int], None]  # called with the bytes just sent


class Multipart:
    """A multipart/form-data body of one file, read from disk in blocks of 1 MiB as the request is sent.

    Iterable, with a length (so that requests announces Content-Length and sends it block by block); not
    file-like, which would make http.client read it 8 KiB at a time."""

    BLOCK = 1024 * 1024

    def __init__(self, path: Path, filename: str, boundary: str, advance: Advance | None = None) -> None:
        self.path = path
        self.head = (
            f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="{filename}"\r\n'
            "Content-Type: application/octet-stream\r\n\r\n"
        ).encode()
        self.tail = f"\r\n--{boundary}--\r\n".encode()
        self.size = path.stat().st_size
        self.advance = advance

    def __len__(self) -> int:
        return len(self.head) + self.size + len(self.tail)

    def __iter__(self) -> Iterator[bytes]:
        yield self.head
        with open(self.path, "rb") as f:
            while block := f.read(self.BLOCK):
                if self.advance:
                    self.advance(len(block))
                yield block
        yield self.tail


class Udata:
    """One dataset of a udata instance, with one API key."""

    def __init__(self, client: HttpClient, api_base: str, dataset: str, key: str) -> None:
        self.client = client
        self.base = f"{api_base}/1/datasets/{dataset}"
        self.key = key

    @property
    def headers(self) -> dict[str, str]:
        return {KEY_HEADER: self.key} if self.key else {}

    def dataset(self) -> dict[str, Any]:
        """The dataset, with its `resources`."""
        url = f"{self.base}/"
        answer = self._json("GET", url, None, retry=True)
        if not isinstance(answer, dict) or not isinstance(answer.get("resources"), list):
            raise FetchError(url, "unexpected answer: expected a dataset with a 'resources' list")
        return answer

    def upload(self, path: Path, filename: str, resource: str | None, advance: Advance | None = None) -> Any:
        """A resource's file replaced (`resource`), or a new resource made from the file; the resource answered.

        A replacement is retried by the HTTP layer (sending the same file twice changes nothing). A creation
        is not: a creation whose answer was lost may have been made; the caller looks before trying again."""
        url = f"{self.base}/resources/{resource}/upload/" if resource else f"{self.base}/upload/"
        boundary = secrets.token_hex(16)
        headers = {**self.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"}
        body = Body(lambda: Multipart(path, filename, boundary, advance), retry=resource is not None)
        return self._checked(lambda: self.client.get_json(url, method="POST", headers=headers, send=body))

    def update(self, resource: str, fields: dict[str, Any]) -> Any:
        """A resource's metadata changed (title, description)."""
        return self._json("PUT", f"{self.base}/resources/{resource}/", fields, retry=True)

    def _json(self, method: str, url: str, document: Any, *, retry: bool) -> Any:
        headers = dict(self.headers)
        data = b""
        if document is not None:
            headers["Content-Type"] = "application/json"
            data = json.dumps(document, ensure_ascii=False).encode()
        body = Body(lambda: data, retry=retry)
        return self._checked(lambda: self.client.get_json(url, method=method, headers=headers, send=body))

    def _checked(self, call: Callable[[], Any]) -> Any:
        try:
            return call()
        except FetchError as e:
            e.reason = self.redact(e.reason + _explanation(e.answer))
            e.answer = self.redact(e.answer)
            raise

    def redact(self, text: str) -> str:
        """`text` without the API key (a server may echo it in an error message)."""
        return text.replace(self.key, "[DECP_DATAGOUV_API_KEY]") if self.key else text


def _explanation(answer: str) -> str:
    """The `message` of a udata error answer (`{"message": "..."}`), or the answer's first line."""
    if not answer:
        return ""
    try:
        document = json.loads(answer)
    except ValueError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("message"), str):
        text = document["message"]
    elif document is not None:
        text = json.dumps(document, ensure_ascii=False)[:300]
    else:
        text = answer.strip().splitlines()[0][:300] if answer.strip() else ""
    return f": {' '.join(text.split())}" if text else ""
