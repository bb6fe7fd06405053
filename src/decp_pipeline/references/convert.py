"""Normalizing a reference file, once, into DATA_DIR/references/NAME.parquet with DuckDB.

Beside the Parquet, NAME.json says what it was made from (path, size, mtime, sha1, the converter's version,
the rows): the conversion is redone only when the input's size or mtime changed and its sha1 too (a file
copied again, or touched, is not converted again), or when this code's version changed.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
from python_calamine import CalamineError, CalamineWorkbook

from decp_pipeline.exceptions import ReferenceDataError
from decp_pipeline.references.shapes import QUERIES, SCHEMAS, Columns

VERSION = 1  # of the normalized files: a change of their columns or rules makes every one be converted again
MEMORY_LIMIT = "1GB"  # DuckDB spills to disk past this: a multi-GB stock is converted in bounded memory
SNIFF_SIZE = 8


@dataclass(frozen=True)
class Converted:
    path: Path
    rows: int
    reused: bool
    seconds: float


def sha1_of(path: Path) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(1024 * 1024):
            digest.update(chunk)
    return digest.hexdigest()


def kind_of(path: Path) -> str:
    """What the file is, from its first bytes: parquet, excel, gzip (a compressed CSV), zip, or csv."""
    with open(path, "rb") as f:
        head = f.read(SNIFF_SIZE)
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\xd0\xcf\x11\xe0"):  # OLE2: Excel 97 (.xls)
        return "excel"
    if head.startswith(b"PK\x03\x04"):
        return "excel" if path.suffix.lower() in (".xlsx", ".ods") else "zip"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    return "csv"


def normalize(name: str, source: Path, folder: Path) -> Converted:
    """NAME.parquet in `folder` from `source`, converted again only if the input changed."""
    started = time.monotonic()
    target = folder / f"{name}.parquet"
    stamp_path = folder / f"{name}.json"
    stat = source.stat()
    stamp = _read_stamp(stamp_path) if target.is_file() else None
    mine = {"input": str(source.resolve()), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns, "version": VERSION}
    if stamp is not None and stamp.get("version") == VERSION:
        if all(stamp.get(k) == mine[k] for k in ("input", "size", "mtime_ns")):  # another file: its sha1 tells
            return Converted(target, int(stamp.get("rows", 0)), True, time.monotonic() - started)
        mine["sha1"] = sha1_of(source)
        if stamp.get("sha1") == mine["sha1"]:  # the same bytes, touched or copied again
            _write_stamp(stamp_path, {**stamp, **mine})
            return Converted(target, int(stamp.get("rows", 0)), True, time.monotonic() - started)
    mine["sha1"] = mine.get("sha1") or sha1_of(source)
    folder.mkdir(parents=True, exist_ok=True)
    temporary = folder / f".{name}.{os.getpid()}.parquet"
    try:
        rows = _convert(name, source, temporary, folder)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    _write_stamp(stamp_path, {**mine, "rows": rows})
    return Converted(target, rows, False, time.monotonic() - started)


def _convert(name: str, source: Path, target: Path, folder: Path) -> int:
    import duckdb  # noqa: PLC0415 - 0.14 s to import: a command without references does not pay for it

    kind = kind_of(source)
    if kind == "zip":
        raise ReferenceDataError("a zip archive: give the CSV or Parquet file it holds (unzipped)")
    settings = {"memory_limit": MEMORY_LIMIT, "temp_directory": str(folder / ".duckdb-tmp")}
    try:
        with duckdb.connect(config=settings) as con:  # type: ignore[arg-type]
            con.execute("SET preserve_insertion_order = false")  # a stock's rows are written as they come
            if kind == "excel":
                con.register("src", _excel(source))
            else:
                con.execute(f"CREATE VIEW src AS SELECT * FROM {_reader(kind, source)}")
            columns = [row[0] for row in con.execute("DESCRIBE src").fetchall()]
            query = QUERIES[name](Columns(name, columns))
            con.execute(f"COPY ({query}) TO {_literal(str(target))} (FORMAT parquet, COMPRESSION zstd)")
            rows = con.execute(f"SELECT count(*) FROM read_parquet({_literal(str(target))})").fetchone()
    except duckdb.Error as e:  # a damaged Parquet, a CSV DuckDB cannot parse, a full disk
        raise ReferenceDataError(f"cannot be read: {str(e).splitlines()[0]}") from None
    count = int(rows[0]) if rows else 0
    if count == 0:
        raise ReferenceDataError(f"no row of the expected shape ({', '.join(SCHEMAS[name])})")
    return count


def _reader(kind: str, source: Path) -> str:
    path = _literal(str(source))
    if kind == "parquet":
        return f"read_parquet({path})"
    compression = "gzip" if kind == "gzip" else "none"
    return f"read_csv({path}, header = true, all_varchar = true, compression = '{compression}')"


def _excel(source: Path) -> Any:
    """The first sheet of a spreadsheet (.xls, .xlsx, .ods), its first row the header, every cell as text."""
    try:
        rows = CalamineWorkbook.from_path(str(source)).get_sheet_by_index(0).to_python(skip_empty_area=True)
    except (CalamineError, ValueError, OSError) as e:
        raise ReferenceDataError(f"not a readable spreadsheet: {e}") from None
    if not rows:
        raise ReferenceDataError("an empty spreadsheet")
    header = [str(cell).strip() or f"column{i + 1}" for i, cell in enumerate(rows[0])]
    columns = list(zip(*([_cell(c) for c in row] for row in rows[1:]), strict=True)) or [() for _ in header]
    return pa.table({name: pa.array(values, pa.string()) for name, values in zip(header, columns, strict=True)})


def _cell(value: Any) -> str | None:
    """A cell as the text it shows: a code read as the number 3000000.0 is `3000000` (its zeros are put back
    by the shape's rules)."""
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _read_stamp(path: Path) -> dict[str, Any] | None:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _write_stamp(path: Path, stamp: dict[str, Any]) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    temporary.write_text(json.dumps(stamp, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, path)
