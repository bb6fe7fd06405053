"""decp.sqlite: every table of the release (schema.py says which, with what), written by sqlite-utils (typed STRICT
tables, primary and foreign keys, indexes, FTS5 search, views: the library Datasette's own author keeps for it),
its rows streamed from DuckDB as Arrow batches (load.py): bounded memory, whatever the release's size. The file
is written under a temporary name and put in place whole; metadata.json is written beside it (metadata.py).

A big release is written by two processes at once: this one writes marches and concessions (their rows, indexes
and search), a worker the linked tables in a second file, copied in at the end (SQLite's transfer optimization:
a table defined alike is copied record by record without decoding them, its indexes too: 2-3 s for the national
titulaires and listes).
"""

# ruff: noqa: S608 - the SQL is made of this package's constants and of the names datapackage.json gives (the
# build's own tables and columns) and quoted paths, never of data

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures.process import BrokenProcessPool
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pyarrow as pa
import sqlite_utils

from decp_pipeline.exceptions import OutputError
from decp_pipeline.explore.load import insert
from decp_pipeline.explore.metadata import datasette_metadata
from decp_pipeline.explore.schema import INDEXES, SEARCHED, SQLITE_TYPES, TOKENIZE, Table, select, tables_of
from decp_pipeline.explore.views import views
from decp_pipeline.pipeline.stage import kill_pool, worker_pool

DATABASE, METADATA = "decp.sqlite", "metadata.json"
MAIN = ("marches", "concessions")
BATCH_ROWS = 10_000  # a batch's values as Python objects: 62 columns of marches, about 40 MB
# Rows of the linked tables from which a worker writes them: starting one (spawned) costs about a second.
PARALLEL_ROWS = 200_000
# DuckDB's (sorting marches by uid, the joins; it spills beyond): this process's, and the worker's (lighter
# queries). Measured at national size: 838 MiB and 535 MiB peak, 22.2 s and 11.0 s.
MEMORY_LIMITS = {True: "512MB", False: "256MB"}
SPILL = ".duckdb-sqlite"  # in the release being written
# A database written once and read many times: big pages (fewer, a smaller file), no journal while it is written
# (a failed write leaves only the temporary file, removed), a 64 MB page cache (more made it no faster).
# Foreign keys unenforced (SQLite's default, said): their check would also stop the copy's transfer (_copy).
PRAGMAS = ("page_size = 16384", "journal_mode = OFF", "synchronous = OFF", "cache_size = -65536", "foreign_keys = OFF")


def write_database(folder: Path, sources: list[str], *, parallel_rows: int = PARALLEL_ROWS) -> dict[str, Any]:
    """decp.sqlite and metadata.json in the release being written in `folder`, from its datapackage.json:
    the rows per table, the database's bytes and the seconds taken. `sources`: the build's, for metadata.json;
    `parallel_rows`: the linked tables' rows from which a worker writes them."""
    started = time.perf_counter()
    package = json.loads((folder / "datapackage.json").read_text(encoding="utf-8"))
    tables = tables_of(package)
    temporary = folder / f".{DATABASE}.{os.getpid()}.tmp"
    part = temporary.with_name(temporary.name + ".part")
    import duckdb  # noqa: PLC0415 - only builds load it (50 ms)

    try:
        rows = _write(temporary, part, folder, tables, parallel_rows)
        os.replace(temporary, folder / DATABASE)
    except (sqlite3.Error, duckdb.Error, pa.ArrowException, OSError) as e:  # a full disk, a table unreadable
        raise OutputError(f"could not write {DATABASE} ({e}): the current release was kept "
                          "(outputs: {sqlite: false} leaves it out)") from None  # fmt: skip
    finally:
        temporary.unlink(missing_ok=True)
        part.unlink(missing_ok=True)
        shutil.rmtree(folder / SPILL, ignore_errors=True)
    metadata = datasette_metadata(package, tables, sources)
    (folder / METADATA).write_text(json.dumps(metadata, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    return {"tables": rows, "bytes": (folder / DATABASE).stat().st_size,
            "seconds": round(time.perf_counter() - started, 3)}  # fmt: skip


def _write(path: Path, part: Path, folder: Path, tables: list[Table], parallel_rows: int) -> dict[str, int]:
    present = {table.name: table for table in tables}
    linked = [table for table in tables if table.name not in MAIN]
    if sum(table.rows for table in linked) < parallel_rows:
        rows = write_part(path, folder, tables, present)
    else:
        pool = worker_pool(1, spawn=True)
        try:
            future = pool.submit(write_part, part, folder, linked, present)
            rows = write_part(path, folder, [t for t in tables if t.name in MAIN], present)
            rows.update(future.result())
        except BrokenProcessPool:  # the worker killed (out of memory, a signal): the build fails whole, cleanly
            kill_pool(pool)
            raise OutputError(f"a worker process writing {DATABASE} ended abruptly: the current release was kept "
                              "(outputs: {sqlite: false} leaves it out)") from None  # fmt: skip
        except BaseException:  # an error, Ctrl-C, SIGTERM: the worker stops now
            kill_pool(pool)
            raise
        pool.shutdown()
        _copy(path, part, [table.name for table in linked])
    with _connect(path) as db:
        for name, sql in views(set(present)).items():
            db.create_view(name, sql)
        db.execute("PRAGMA analysis_limit = 1000")  # the planner's statistics, from samples of each index
        db.execute("ANALYZE")
    return {table.name: rows[table.name] for table in tables}


def write_part(path: Path, folder: Path, tables: list[Table], present: dict[str, Table]) -> dict[str, int]:
    """`tables`, their rows, indexes and search, in the database `path` (`present`: all the release's tables):
    the rows written per table."""
    import duckdb  # noqa: PLC0415 - only builds load it (50 ms)

    spill = folder / SPILL / str(os.getpid())
    spill.mkdir(parents=True, exist_ok=True)
    limit = MEMORY_LIMITS[any(table.name in MAIN for table in tables)]
    rows = {}
    with (duckdb.connect(config={"threads": 2, "memory_limit": limit, "temp_directory": str(spill)}) as duck,
          _connect(path) as db):  # fmt: skip
        duck.execute("SET enable_progress_bar = false")
        _stand_ins(db, tables, present)
        for table in tables:
            _create(db, table, present)
            reader = duck.sql(select(table, folder, present)).to_arrow_reader(BATCH_ROWS)
            db.conn.execute("BEGIN")
            rows[table.name] = insert(db.conn, table.name, reader)
            db.conn.execute("COMMIT")
            _index(db, table)
    return rows


@contextmanager
def _connect(path: Path) -> Iterator[sqlite_utils.Database]:
    """The database at `path`, opened for writing fast (PRAGMAS), closed on leaving."""
    connection = sqlite3.connect(path, isolation_level=None)
    try:
        for pragma in PRAGMAS:
            connection.execute(f"PRAGMA {pragma}")
        yield sqlite_utils.Database(connection)
    finally:
        connection.close()


def _stand_ins(db: sqlite_utils.Database, tables: list[Table], present: dict[str, Table]) -> None:
    """In a worker's file, the tables its tables link to, as empty stand-ins (uid only): sqlite-utils declares a
    foreign key to an existing column only. They are not copied."""
    written = {table.name for table in tables}
    for parent in sorted({link.parent for table in tables for link in table.links} - written):
        if parent in present:
            db[parent].create({"uid": str}, pk="uid")  # type: ignore[union-attr]


def _create(db: sqlite_utils.Database, table: Table, present: dict[str, Table]) -> None:
    columns = {column.name: SQLITE_TYPES.get(column.type, str) for column in table.all_columns}
    keys = [(link.column, link.parent, "uid") for link in table.links if link.parent in present]
    key: str | tuple[str, ...] | None = table.primary_key[0] if len(table.primary_key) == 1 else table.primary_key
    db[table.name].create(columns, pk=key or None, foreign_keys=keys, strict=db.supports_strict)  # type: ignore[union-attr]


def _index(db: sqlite_utils.Database, table: Table) -> None:
    names = {column.name for column in table.all_columns}
    for column in INDEXES.get(table.name, ()):
        if column in names:
            db[table.name].create_index([column])  # type: ignore[union-attr]
    for link in table.links:  # mostly empty: a partial index (usable for `link = ?`, which implies NOT NULL)
        db.execute(f'CREATE INDEX "idx_{table.name}_{link.column}" ON "{table.name}" ("{link.column}") '
                   f'WHERE "{link.column}" IS NOT NULL')  # fmt: skip
    if searched := [column for column in SEARCHED.get(table.name, ()) if column in names]:
        db[table.name].enable_fts(searched, tokenize=TOKENIZE)  # type: ignore[union-attr]


def _copy(path: Path, part: Path, names: list[str]) -> None:
    """The tables `names` of the worker's file `part` copied into `path`, defined alike with their indexes (so
    that SQLite copies their pages as they are rather than inserting row by row)."""
    with _connect(path) as db:
        db.execute("ATTACH DATABASE ? AS part", [str(part)])
        for name in names:
            definitions = db.execute("SELECT sql FROM part.sqlite_master WHERE tbl_name = ? AND sql IS NOT NULL "
                                     "ORDER BY type = 'index'", [name]).fetchall()  # fmt: skip
            for (sql,) in definitions:  # the table first, then its indexes
                db.execute(sql)
            db.execute("BEGIN")
            db.execute(f'INSERT INTO main."{name}" SELECT * FROM part."{name}"')
            db.execute("COMMIT")
        db.execute("DETACH DATABASE part")
