"""The download cache and the run state, both in the data dir.

    DATA_DIR/raw/<source id>/<name>   each resource byte for byte as the publisher served it
    DATA_DIR/state.sqlite             what was fetched when, from where, with what result

A resource is addressed by its source and its URL: its file name is the URL's own name, sanitized, plus a
hash of the full URL, so that two URLs never share a file, within a source or across sources, and a hostile
URL (`../../etc/passwd`, `%2e%2e`, a 5 KB name) cannot escape the source's folder.
"""

from __future__ import annotations

import hashlib
import os
import re
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import unquote, urlsplit

from decp_pipeline import locks
from decp_pipeline.exceptions import DataDirError

SCHEMA = """
CREATE TABLE IF NOT EXISTS resources (
    source TEXT NOT NULL,
    url TEXT NOT NULL,
    role TEXT NOT NULL DEFAULT 'data',  -- data (DECP records) | catalog (a DCAT catalogue, not records)
    path TEXT,                   -- relative to the data dir; the last good copy, if any
    title TEXT,
    etag TEXT,                   -- validators sent back in conditional requests
    last_modified TEXT,
    sha1 TEXT,                   -- of the file at `path`
    size INTEGER,
    remote_checksum TEXT,        -- what the catalogue (data.gouv.fr) announced when we last checked
    remote_modified TEXT,
    fetched_at TEXT,             -- when the file at `path` was downloaded
    checked_at TEXT,             -- when it was last confirmed current (download, 304 or catalogue)
    status TEXT NOT NULL,        -- ok | failed (the last attempt); a failed resource keeps its last good copy
    error TEXT,
    listed INTEGER NOT NULL DEFAULT 1,  -- still listed by the source at its last successful listing
    stale INTEGER NOT NULL DEFAULT 0,   -- its file may be out of date (the last attempt failed)
    PRIMARY KEY (source, url)
);
CREATE TABLE IF NOT EXISTS sources (
    source TEXT PRIMARY KEY,
    status TEXT NOT NULL,        -- ok | failed | vanished
    error TEXT,
    stale INTEGER NOT NULL DEFAULT 0,
    last_attempt TEXT,
    last_success TEXT
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    command TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT,
    exit_code INTEGER
);
CREATE TABLE IF NOT EXISTS events (
    run INTEGER NOT NULL,
    source TEXT NOT NULL,
    url TEXT,
    outcome TEXT NOT NULL,       -- downloaded | unchanged | skipped | failed | vanished
    reason TEXT,
    bytes INTEGER NOT NULL DEFAULT 0,
    at TEXT NOT NULL
);
"""
SCHEMA_VERSION = 1

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")
KEEP_SUFFIXES = (".json", ".xml", ".ttl", ".rdf", ".jsonld", ".nt", ".n3")
MAX_STEM = 80


def now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def safe_file_name(url: str, suffix: str | None = None) -> str:
    """A file name for `url` that is safe on any file system and unique to the URL."""
    parts = urlsplit(url)
    last = unquote(parts.path.rstrip("/").rsplit("/", 1)[-1]) if parts.path else ""
    stem, dot, ext = last.rpartition(".")
    if not dot:
        stem, ext = last, ""
    ext = "." + ext.lower() if ext else ""
    if suffix is not None:
        ext = suffix
    elif ext not in KEEP_SUFFIXES:
        stem, ext = last, ""
    stem = _UNSAFE.sub("_", stem).strip("._-")[:MAX_STEM] or "resource"
    digest = hashlib.sha1(url.encode("utf-8"), usedforsecurity=False).hexdigest()[:10]
    return f"{stem}-{digest}{ext}"


@dataclass(frozen=True)
class CachedResource:
    source: str
    url: str
    role: str
    path: str | None
    title: str | None
    etag: str | None
    last_modified: str | None
    sha1: str | None
    size: int | None
    remote_checksum: str | None
    remote_modified: str | None
    fetched_at: str | None
    checked_at: str | None
    status: str
    error: str | None
    listed: bool
    stale: bool


@dataclass(frozen=True)
class SourceState:
    source: str
    status: str
    error: str | None
    stale: bool
    last_attempt: str | None
    last_success: str | None


class Rows:
    """What a statement returned, read whole."""

    def __init__(self, rows: list[sqlite3.Row], lastrowid: int | None) -> None:
        self.rows, self.lastrowid = rows, lastrowid

    def fetchone(self) -> sqlite3.Row | None:
        return self.rows[0] if self.rows else None

    def fetchall(self) -> list[sqlite3.Row]:
        return self.rows


class Database:
    """The run state's connection, shared by the threads that fetch several sources at once: one statement at
    a time, its rows read before the next one runs (each statement is its own transaction: autocommit)."""

    def __init__(self, connection: sqlite3.Connection) -> None:
        self.connection = connection
        self._lock = threading.Lock()
        self.closed = False

    def execute(self, sql: str, parameters: Sequence[object] = ()) -> Rows:
        with self._lock:
            if self.closed:  # a fetching thread left behind by an interrupted run: its results are not kept
                return Rows([], None)
            cursor = self.connection.execute(sql, parameters)
            return Rows(cursor.fetchall(), cursor.lastrowid)

    def executemany(self, sql: str, parameters: Iterable[Sequence[object]]) -> None:
        with self._lock:
            if not self.closed:
                self.connection.executemany(sql, parameters)

    def close(self) -> None:
        with self._lock:
            self.closed = True
            self.connection.close()


class Store:
    """The data dir: cached files and their state. One run at a time holds it (a lock file)."""

    def __init__(self, data_dir: str | Path) -> None:
        self.data_dir = Path(data_dir)
        try:
            self.data_dir.mkdir(parents=True, exist_ok=True)
            self._lock = open(self.data_dir / ".lock", "a")  # noqa: SIM115 - held until close()
        except OSError as e:
            raise DataDirError(f"{self.data_dir}: cannot use the data dir: {e.strerror or e}") from e
        if not locks.acquire(self._lock):
            self._lock.close()
            raise DataDirError(f"{self.data_dir}: another decp run is using this data dir: "
                               + locks.describe_holders(self.data_dir / ".lock")) from None  # fmt: skip
        for partial in self.data_dir.glob("raw/*/.*.part"):  # downloads of a killed run (none runs now)
            partial.unlink(missing_ok=True)
        try:
            connection = sqlite3.connect(self.data_dir / "state.sqlite", isolation_level=None, check_same_thread=False)
            self.db = Database(connection)
            version = connection.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise DataDirError(f"{self.data_dir}: the run state was written by a newer decp-pipeline")
            # WAL and synchronous=NORMAL: each state update is one cheap transaction, and a crash can lose at
            # most the last ones, never corrupt the file (a no-change run over 1,153 resources: 4.1 s -> 0.9 s).
            self.db.execute("PRAGMA journal_mode = WAL")
            self.db.execute("PRAGMA synchronous = NORMAL")
            connection.executescript(SCHEMA)
            self.db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except sqlite3.Error as e:
            self._lock.close()
            raise DataDirError(f"{self.data_dir}/state.sqlite: {e}") from e
        connection.row_factory = sqlite3.Row
        self.run_id: int | None = None

    def close(self) -> None:
        self.db.close()
        locks.release(self._lock)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- files ------------------------------------------------------------------------------------------------

    def path_for(self, source: str, url: str, suffix: str | None = None) -> Path:
        """Where the resource at `url` of `source` is cached (absolute)."""
        return self.data_dir / "raw" / source / safe_file_name(url, suffix)

    def relative(self, path: Path) -> str:
        return path.relative_to(self.data_dir).as_posix()

    def absolute(self, relative: str) -> Path:
        return self.data_dir / relative

    def has_file(self, cached: CachedResource | None) -> bool:
        return bool(cached and cached.path and self.absolute(cached.path).is_file())

    # -- resources --------------------------------------------------------------------------------------------

    def cached(self, source: str, url: str) -> CachedResource | None:
        row = self.db.execute("SELECT * FROM resources WHERE source = ? AND url = ?", (source, url)).fetchone()
        return _resource(row) if row else None

    def resources(self, source: str, *, listed_only: bool = True) -> list[CachedResource]:
        """The source's resources with a good copy on disk (those of its last listing, by default)."""
        query = "SELECT * FROM resources WHERE source = ? AND role = 'data' AND path IS NOT NULL"
        if listed_only:
            query += " AND listed = 1"
        rows = self.db.execute(query + " ORDER BY url", (source,)).fetchall()
        return [r for r in map(_resource, rows) if self.has_file(r)]

    def record_download(
        self,
        source: str,
        url: str,
        path: Path,
        *,
        title: str | None,
        etag: str | None,
        last_modified: str | None,
        sha1: str | None,
        size: int,
        remote_checksum: str | None,
        remote_modified: str | None,
        role: str = "data",
    ) -> None:
        stamp = now()
        self.db.execute(
            """INSERT INTO resources (source, url, role, path, title, etag, last_modified, sha1, size, remote_checksum,
                   remote_modified, fetched_at, checked_at, status, error, listed, stale)
               VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'ok', NULL, 1, 0)
               ON CONFLICT (source, url) DO UPDATE SET role = excluded.role, path = excluded.path,
                   title = excluded.title, etag = excluded.etag, last_modified = excluded.last_modified,
                   sha1 = excluded.sha1,
                   size = excluded.size, remote_checksum = excluded.remote_checksum,
                   remote_modified = excluded.remote_modified, fetched_at = excluded.fetched_at,
                   checked_at = excluded.checked_at, status = 'ok', error = NULL, listed = 1, stale = 0""",
            (source, url, role, self.relative(path), title, etag, last_modified, sha1, size, remote_checksum,
             remote_modified, stamp, stamp),
        )  # fmt: skip

    def record_unchanged(
        self, source: str, url: str, *, remote_checksum: str | None, remote_modified: str | None
    ) -> None:
        """The cached copy is confirmed current (HTTP 304, or the catalogue's checksum/date are unchanged)."""
        self.db.execute(
            """UPDATE resources SET checked_at = ?, status = 'ok', error = NULL, listed = 1, stale = 0,
                   remote_checksum = COALESCE(?, remote_checksum), remote_modified = COALESCE(?, remote_modified)
               WHERE source = ? AND url = ?""",
            (now(), remote_checksum, remote_modified, source, url),
        )

    def record_failure(self, source: str, url: str, reason: str, *, title: str | None = None) -> None:
        """The last attempt failed: the last good copy (if any) stays, marked stale."""
        self.db.execute(
            """INSERT INTO resources (source, url, title, status, error, listed, stale)
               VALUES (?, ?, ?, 'failed', ?, 1, 1)
               ON CONFLICT (source, url) DO UPDATE SET status = 'failed', error = excluded.error, stale = 1,
                   listed = 1""",
            (source, url, title, reason),
        )

    def set_listing(self, source: str, urls: set[str]) -> int:
        """After a successful listing: resources no longer listed are kept on disk but left out of builds.

        Returns how many cached resources dropped out of the listing."""
        rows = self.db.execute("SELECT url FROM resources WHERE source = ? AND listed = 1", (source,)).fetchall()
        gone = [r["url"] for r in rows if r["url"] not in urls]
        self.db.executemany("UPDATE resources SET listed = 0 WHERE source = ? AND url = ?", [(source, u) for u in gone])
        return len(gone)

    def mark_stale(self, source: str) -> None:
        self.db.execute("UPDATE resources SET stale = 1 WHERE source = ? AND listed = 1", (source,))

    # -- sources and runs -------------------------------------------------------------------------------------

    def source_state(self, source: str) -> SourceState | None:
        row = self.db.execute("SELECT * FROM sources WHERE source = ?", (source,)).fetchone()
        if row is None:
            return None
        return SourceState(
            source=row["source"],
            status=row["status"],
            error=row["error"],
            stale=bool(row["stale"]),
            last_attempt=row["last_attempt"],
            last_success=row["last_success"],
        )

    def record_source(self, source: str, status: str, error: str | None = None) -> None:
        stamp = now()
        success = stamp if status == "ok" else None
        self.db.execute(
            """INSERT INTO sources (source, status, error, stale, last_attempt, last_success)
               VALUES (?, ?, ?, ?, ?, ?)
               ON CONFLICT (source) DO UPDATE SET status = excluded.status, error = excluded.error,
                   stale = excluded.stale, last_attempt = excluded.last_attempt,
                   last_success = COALESCE(excluded.last_success, sources.last_success)""",
            (source, status, error, int(status != "ok"), stamp, success),
        )

    def start_run(self, command: str) -> int:
        cursor = self.db.execute("INSERT INTO runs (command, started_at) VALUES (?, ?)", (command, now()))
        self.run_id = cursor.lastrowid
        return self.run_id or 0

    def finish_run(self, exit_code: int) -> None:
        self.db.execute("UPDATE runs SET finished_at = ?, exit_code = ? WHERE id = ?", (now(), exit_code, self.run_id))

    def log(self, source: str, url: str | None, outcome: str, reason: str | None = None, size: int = 0) -> None:
        self.db.execute(
            "INSERT INTO events (run, source, url, outcome, reason, bytes, at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.run_id or 0, source, url, outcome, reason, size, now()),
        )


def _resource(row: sqlite3.Row) -> CachedResource:
    values = dict(row)
    values["listed"] = bool(values["listed"])
    values["stale"] = bool(values["stale"])
    return CachedResource(**values)


def replace_file(temporary: Path, destination: Path) -> None:
    """Put a completed download in place atomically (same folder, so same file system)."""
    os.replace(temporary, destination)
