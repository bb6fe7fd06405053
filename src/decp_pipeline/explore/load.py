"""Arrow batches into a SQLite table, a column at a time.

CPython's sqlite3 binds an int, a float or a str directly, but sends every None through its adapter protocol
(a failed lookup per value, about 190 ns; 20 ns for an int): most of the time of inserting the national
marches (62 columns, half of them empty) went there. So a missing value is bound as the float NaN, which SQLite
stores as NULL (sqlite3_bind_double: "a NaN is bound as NULL"), and a column empty in a whole batch is left
out of that batch's INSERT. Dates are bound as ISO text (YYYY-MM-DD), booleans as 0 and 1.
"""

# ruff: noqa: S608 - the SQL is made of this package's constants and of the names datapackage.json gives (the
# build's own tables and columns) and quoted paths, never of data

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

MISSING = float("nan")


def insert(connection: sqlite3.Connection, table: str, batches: Iterable[pa.RecordBatch]) -> int:
    """Insert the batches' rows (their columns named as the table's) into `table`: the rows inserted."""
    rows = 0
    for batch in batches:
        names, values = [], []
        for name, column in zip(batch.schema.names, batch.columns, strict=True):
            if column.null_count < len(column):  # else left out: NULL by default
                names.append(f'"{name}"')
                values.append(python_values(column))
        if not names:  # every column empty: rows of NULLs still count
            connection.executemany(f'INSERT INTO "{table}" DEFAULT VALUES', ((),) * batch.num_rows)
        else:
            holders = ", ".join("?" * len(names))
            connection.executemany(
                f'INSERT INTO "{table}" ({", ".join(names)}) VALUES ({holders})', zip(*values, strict=True)
            )
        rows += batch.num_rows
    return rows


def python_values(column: pa.Array) -> list[Any]:
    """The values of an Arrow column as SQLite binds them fastest: NaN for a missing one (stored as NULL)."""
    kind = column.type
    if pa.types.is_floating(kind):
        return list(column.fill_null(MISSING).to_numpy(zero_copy_only=False).tolist())
    if pa.types.is_boolean(kind) or pa.types.is_integer(kind):
        column = column.cast(pa.int64())
        if not column.null_count:
            return list(column.to_numpy().tolist())
        values = column.fill_null(0).to_numpy().astype(object)
    else:
        if pa.types.is_date(kind) or pa.types.is_timestamp(kind):
            column = column.cast(pa.string())
        if not column.null_count:
            return list(column.to_pylist())
        values = column.to_numpy(zero_copy_only=False)
    values[column.is_null().to_numpy(zero_copy_only=False)] = MISSING
    return list(values.tolist())
