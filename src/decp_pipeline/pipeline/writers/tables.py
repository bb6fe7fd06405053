"""The published tables, written from the rows cached per file (pipeline/rows.py makes them): CSV and Parquet
from the same batches, and the datapackage.json describing them."""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from decp_pipeline.pipeline.anomalies import Run
from decp_pipeline.pipeline.cache import read_fragment
from decp_pipeline.pipeline.derived import finish_table
from decp_pipeline.pipeline.plan import AssemblyFile, AssemblySource, Plan
from decp_pipeline.pipeline.tables import (
    BATCH_ROWS,
    DESCRIPTIONS,
    FRICTIONLESS_TYPES,
    LICENSES,
    MAIN_TABLES,
    TABLES,
    TEXT,
    fragment_name,
    published_columns,
)


class _Output:
    """One published table, CSV and Parquet written from the same batches of selected fragment rows.

    Rows come in two lanes: the rows of valid records are written as they come; the rows of rejected records
    are kept aside (an Arrow IPC file) and written after them, so that each fragment is read once."""

    def __init__(self, name: str, folder: Path, finish: Callable[[pa.Table], pa.Table] | None = None) -> None:
        self.name = name
        self.finish = finish  # applied to each batch before it is written
        self.columns = published_columns(name)
        self.schema = pa.schema([(column, kind) for column, kind, _ in self.columns])
        self.paths = {fmt: folder / f".{name}.{fmt}.{os.getpid()}.tmp" for fmt in ("csv", "parquet")}
        self.aside_path = folder / f".{name}.rejected.{os.getpid()}.tmp"
        self.pending: dict[bool, list[tuple[pa.Table, str]]] = {False: [], True: []}
        self.pending_rows = {False: 0, True: 0}
        self.count = 0
        self._csv = pa_csv.CSVWriter(str(self.paths["csv"]), self.schema)
        self._parquet = pq.ParquetWriter(str(self.paths["parquet"]), self.schema, compression="zstd")
        self._aside: pa.ipc.RecordBatchStreamWriter | None = None
        self.closed = False

    def add(self, rows: pa.Table, file: str, *, later: bool) -> None:
        self.pending[later].append((rows, file))
        self.pending_rows[later] += rows.num_rows
        self.count += rows.num_rows
        if self.pending_rows[later] >= BATCH_ROWS * 4:
            self.flush(later)

    def flush(self, later: bool) -> None:
        if not self.pending_rows[later]:
            return
        fragments = self.pending[later]
        rows = pa.concat_tables([table for table, _ in fragments])
        if self.finish is not None:
            rows = self.finish(rows)
        files = np.repeat(np.array([file for _, file in fragments], dtype=object), [t.num_rows for t, _ in fragments])
        columns = [pa.array(files, TEXT) if f.name == "file" else rows.column(f.name) for f in self.schema]
        table = pa.Table.from_arrays(columns, schema=self.schema).combine_chunks()
        if later:
            if self._aside is None:
                self._aside = pa.ipc.new_stream(str(self.aside_path), self.schema)
            self._aside.write_table(table)
        else:
            self._write(table)
        self.pending[later], self.pending_rows[later] = [], 0

    def _write(self, table: pa.Table) -> None:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS * 4):
            self._csv.write_batch(batch)
        self._parquet.write_table(table, row_group_size=BATCH_ROWS * 4)

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        self.flush(False)
        self.flush(True)
        if self._aside is not None:
            self._aside.close()
            with pa.memory_map(str(self.aside_path)) as source:
                for batch in pa.ipc.open_stream(source):
                    self._write(pa.Table.from_batches([batch]))
        self._csv.close()
        self._parquet.close()
        self.aside_path.unlink(missing_ok=True)


class TableOutput:
    """The published tables, filled with the rows the build selects from each file's fragments."""

    def __init__(self, folder: Path, finish: dict[str, Callable[[pa.Table], pa.Table]] | None = None) -> None:
        """`finish`: per table, a function applied to each batch of selected rows before it is written."""
        self.folder = folder
        self.tables = {name: _Output(name, folder, (finish or {}).get(name)) for name in TABLES}

    def add(self, name: str, rows: pa.Table, file: str, *, later: bool = False) -> None:
        """Selected rows of one fragment (`file` is the file's current path); `later`: after all the others."""
        if rows.num_rows:
            self.tables[name].add(rows, file, later=later)

    def close(self) -> dict[str, Path]:
        temporaries: dict[str, Path] = {}
        for table in self.tables.values():
            table.close()
            for fmt, path in table.paths.items():
                temporaries[f"{table.name}.{fmt}"] = path
        datapackage = self.folder / f".datapackage.json.{os.getpid()}.tmp"
        datapackage.write_text(json.dumps(describe(self.tables), ensure_ascii=False, indent=2) + "\n", "utf-8")
        temporaries["datapackage.json"] = datapackage
        return temporaries


def describe(tables: dict[str, _Output]) -> dict[str, Any]:
    """A Frictionless data package: each table, in CSV and in Parquet, with its fields."""
    resources = []
    for table in tables.values():
        fields = [
            {"name": name, "type": FRICTIONLESS_TYPES[kind], "description": text} for name, kind, text in table.columns
        ]
        schema: dict[str, Any] = {"fields": fields}
        if table.name in ("marches", "concessions"):
            schema["primaryKey"] = ["uid"]
        for fmt in ("csv", "parquet"):
            resource = {
                "name": f"{table.name}-{fmt}",
                "path": f"{table.name}.{fmt}",
                "title": table.name,
                "description": DESCRIPTIONS[table.name],
                "format": fmt,
                "mediatype": "text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
                "schema": schema if fmt == "csv" else _as_pandas_reads_it(schema),
                "count": table.count,
            }
            if fmt == "csv":
                resource["encoding"] = "utf-8"
                resource["dialect"] = {"delimiter": ",", "quoteChar": '"', "header": True}
            resources.append(resource)
    return {
        "name": "decp",
        "title": "Données essentielles de la commande publique, consolidées",
        "profile": "data-package",
        "licenses": LICENSES,
        "resources": resources,
    }


def _as_pandas_reads_it(schema: dict[str, Any]) -> dict[str, Any]:
    """The schema of a Parquet resource: its integer fields also take `nan` as missing. Frictionless reads
    Parquet through pandas, which turns a null of an integer column into the float NaN, a cell "nan" that is
    not an integer: without it, `frictionless validate` calls every integer column with a null invalid. No
    integer is written "nan": the declaration hides nothing (the field-level `missingValues` of Table Schema
    2, which frictionless 5 applies)."""
    fields = [{**f, "missingValues": ["", "nan"]} if f["type"] == "integer" else f for f in schema["fields"]]
    return {**schema, "fields": fields}


def write_table(name: str, stages: list[AssemblySource], plan: Plan, tables: TableOutput) -> None:
    """One published table, from the fragments of every file in reading order."""
    for stage in stages:
        for file in stage.files:
            _add_rows(name, stage.source, file, plan, tables)
    tables.tables[name].close()


def _add_rows(name: str, source: str, file: AssemblyFile, plan: Plan, tables: TableOutput) -> None:
    """A file's selected rows of one table: those of its kept valid records, and (written after every valid
    row) those of its rejected records, under their uid or, when it is taken or missing, their own key."""
    where = "position" if name in MAIN_TABLES else "_position"
    for valid, selected, later in ((True, plan.rows_valid, False), (False, plan.rows_rejected, True)):
        positions = selected.get(file.index)
        if positions is None:
            continue
        rows = read_fragment(file.cached / fragment_name(name, valid))
        if rows is None:
            continue
        if file.index not in (plan.whole_valid if valid else plan.whole_rejected):
            rows = rows.filter(_among(rows[where], positions))
        if not valid and file.index in plan.rekeyed:
            own = _among(rows[where], plan.rekeyed[file.index])
            keys = pc.binary_join_element_wise(own_key(source, file.path), pc.cast(rows[where], pa.string()), "")
            rows = rows.set_column(rows.schema.get_field_index("uid"), "uid", pc.if_else(own, keys, rows["uid"]))
        tables.add(name, rows, file.path, later=later)


def own_key(source: str, path: str, position: int | str = "") -> str:
    """The key of a rejected record's rows when it has no uid, or one that another record's rows hold (a
    placeholder id shared by several records): `rejected:SOURCE:FILE#POSITION`, the `source`, `file` and
    `position` of its line in rejected.jsonl (unique: two files of a source may share a name, not a path)."""
    return f"rejected:{source}:{path}#{position}"


def _among(column: pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """Which rows have one of `positions` (both ascending: rows are in document order)."""
    values = column.to_numpy()
    if not len(positions):
        return pa.array(np.zeros(len(values), dtype=bool))
    found = np.searchsorted(positions, values)
    return pa.array(positions[np.minimum(found, len(positions) - 1)] == values)


def anomalies_of_the_run(run: Run) -> Callable[[pa.Table], pa.Table]:
    """For the main tables: the run-dependent anomalies added to a batch of rows (from its hidden facts)."""

    def finish(rows: pa.Table) -> pa.Table:
        fixed = run.with_run_dependent(rows["anomalies"], rows["_day"], rows["_amount"])
        return rows.set_column(rows.schema.get_field_index("anomalies"), "anomalies", fixed)

    return finish


def finishers(run: Run) -> dict[str, Callable[[pa.Table], pa.Table]]:
    """Per table, what each batch of its rows gets before it is written: the run-dependent anomalies (main
    tables), then the derived columns (pipeline/derived.py)."""
    today = datetime.date.fromisoformat(run.today)
    found = {}
    for name in TABLES:
        steps = [anomalies_of_the_run(run)] if name in MAIN_TABLES else []
        derive = finish_table(name, today, run.max_amount)
        steps += [derive] if derive is not None else []
        if steps:
            found[name] = _chained(steps)
    return found


def _chained(steps: list[Callable[[pa.Table], pa.Table]]) -> Callable[[pa.Table], pa.Table]:
    def finish(rows: pa.Table) -> pa.Table:
        for step in steps:
            rows = step(rows)
        return rows

    return finish
