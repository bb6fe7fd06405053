"""A reference given by URL: downloaded with the project's HttpClient into DATA_DIR/references/downloads/.

Beside each download, NAME.json keeps its URL and the validators the server sent (ETag, Last-Modified): the
next run asks again with them, so that an unchanged multi-GB SIRENE stock costs one 304. `--offline` uses the
cached copy; a failed download keeps it, with a warning.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.fetch.store import now, replace_file

SUFFIX = re.compile(r"(\.[A-Za-z0-9]{1,8}){1,2}$")


@dataclass(frozen=True)
class Fetched:
    path: Path | None  # the local copy to normalize, if any
    warning: str | None = None
    note: str = ""  # downloaded, unchanged, cached


def file_name(name: str, url: str) -> str:
    """NAME plus the URL's extensions (`.csv.gz`, `.parquet`, `.xls`), to keep the file recognisable."""
    last = urlsplit(url).path.rsplit("/", 1)[-1]
    match = SUFFIX.search(last)
    return name + (match.group(0).lower() if match else "")


def fetch_reference(  # noqa: PLR0911 - one return per outcome
    name: str, url: str, folder: Path, client: HttpClient, *, offline: bool
) -> Fetched:
    """The local copy of `url` in `folder`: downloaded, confirmed by a 304, or the cached one (offline, or the
    download failed: with a warning); none, with a warning, when there is no copy to use."""
    state_path = folder / f"{name}.json"
    state = _read(state_path)
    cached = folder / str(state["file"]) if state and state.get("url") == url and state.get("file") else None
    if cached is not None and not cached.is_file():
        cached, state = None, None
    if offline:
        if cached is None:
            return Fetched(None, f"reference {name}: not downloaded ({url}): --offline and no copy in the data dir")
        return Fetched(cached, note="cached")
    destination = folder / file_name(name, url)
    try:
        download = client.download(
            url,
            destination,
            etag=(state or {}).get("etag") if cached else None,
            last_modified=(state or {}).get("last_modified") if cached else None,
        )
    except FetchError as e:
        if cached is None:
            return Fetched(None, f"reference {name}: cannot be downloaded: {e}")
        fetched_at = (state or {}).get("fetched_at", "an earlier run")
        return Fetched(cached, f"reference {name}: cannot be downloaded ({e}): using the copy of {fetched_at}")
    if download.not_modified and cached is not None:
        return Fetched(cached, note="unchanged")
    if download.path is None:  # a 304 to a request without validators: nothing to use
        return Fetched(None, f"reference {name}: {url} answered 304 Not Modified to a plain request")
    replace_file(download.path, destination)
    _write(state_path, {"url": url, "file": destination.name, "etag": download.etag,
                        "last_modified": download.last_modified, "size": download.size, "sha1": download.sha1,
                        "fetched_at": now()})  # fmt: skip
    return Fetched(destination, note=f"downloaded, {download.size:,} bytes")


def _read(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write(path: Path, state: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(state, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
