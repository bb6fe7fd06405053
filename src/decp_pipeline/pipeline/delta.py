"""What changed between two releases: the uids added, removed (and why) and changed (and which fields).

Computed from the two release folders alone (their index.parquet, duplicates.csv, report.json and the rejected
rows of their marches and concessions tables), so that `decp build` (the new release against the current one:
delta.json, delta.csv) and `decp diff A B` (any two kept releases) give the same answer.

Why a uid is no longer published, in this order: `superseded` (a copy of it was dropped for a record of another
uid, `superseded_by`, under `rule`: a newer version), `rejected` (its record is now invalid: rejected.jsonl),
`source-vanished` (its source is not in the new release), `record-vanished` (no file of its source holds it
any more). A changed uid lists the top-level fields whose values differ (`source` and `format` included).
Records without a uid (no buyer id or no id) cannot be followed: they are counted, not listed.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from decp_pipeline.exceptions import ReleaseError
from decp_pipeline.pipeline.lineage import DUPLICATES, INDEX
from decp_pipeline.pipeline.release import read_manifest

DELTA_JSON, DELTA_CSV = "delta.json", "delta.csv"
CHANGES = ("added", "removed", "changed")
CSV_COLUMNS = ["change", "uid", "source", "format", "reason", "superseded_by", "rule", "fields"]
CHANGED_BATCH = 100_000  # changed uids whose two records are read at a time (each batch reads both files once)
_INDEX_COLUMNS = ["uid", "source", "format", "digest", "output", "line"]
_SCHEMA = pa.schema([(name, pa.string()) for name in CSV_COLUMNS])


@dataclass
class Delta:
    release: str
    previous: str | None
    changes: pa.Table  # one row per uid added, removed or changed (CSV_COLUMNS), sorted by change, then uid
    counts: dict[str, Any]

    def document(self) -> Iterator[bytes]:
        """delta.json, in pieces: the changes are written a batch at a time (the first release lists every
        uid: a million rows)."""
        head = {"release": self.release, "previous": self.previous, "counts": self.counts}
        yield orjson.dumps(head, option=orjson.OPT_INDENT_2)[:-2] + b',\n  "changes": ['
        for number, batch in enumerate(self.changes.to_batches(max_chunksize=50_000)):
            rows = orjson.dumps(batch.to_pylist())[1:-1]
            if rows:
                yield (b"\n    " if number == 0 else b",\n    ") + rows.replace(b"},{", b"},\n    {")
        yield b"\n  ]\n}\n"


def compare(previous: Path | None, current: Path, *, name: str | None = None) -> Delta:
    """The delta of the release in `current` against the one in `previous` (None: every uid is added);
    `name`: the build id of `current` when it is still being written (its folder has a temporary name)."""
    old_all = _index(previous) if previous is not None else _index(None)
    new_all = _index(current)
    old, new = _followed(old_all), _followed(new_all)
    without_uid = {"previous": old_all.num_rows - old.num_rows, "current": new_all.num_rows - new.num_rows}
    del old_all, new_all
    in_old = pc.index_in(new["uid"], value_set=old["uid"]).to_numpy(zero_copy_only=False)  # NaN: absent
    present = ~np.isnan(in_old) if in_old.dtype.kind == "f" else np.ones(len(in_old), dtype=bool)
    old_row = np.where(present, np.nan_to_num(in_old), 0).astype(np.int64)
    kept_in_new = np.zeros(old.num_rows, dtype=bool)
    kept_in_new[old_row[present]] = True
    differs = present & ~_same(new["digest"], old["digest"], old_row)
    tables = [
        _added(new.filter(pa.array(~present))),
        _removed(old.filter(pa.array(~kept_in_new)), current),
        _changed(new.filter(pa.array(differs)), old.take(pa.array(old_row[differs])), previous, current),
    ]
    changes = pa.concat_tables(tables)
    counts: dict[str, Any] = {change: table.num_rows for change, table in zip(CHANGES, tables, strict=True)}
    counts["unchanged"] = int(present.sum() - differs.sum())
    reasons = tables[1]["reason"].value_counts().to_pylist()
    counts["removed_by_reason"] = dict(sorted((r["values"], r["counts"]) for r in reasons))
    counts["without_uid"] = without_uid
    order = pa.array(np.repeat(np.arange(3), [t.num_rows for t in tables]))
    ranked = pc.sort_indices(pa.table({"order": order, "uid": changes["uid"]}),
                             sort_keys=[("order", "ascending"), ("uid", "ascending")])  # fmt: skip
    return Delta(name or current.name, previous.name if previous is not None else None, changes.take(ranked), counts)


def _index(release: Path | None) -> pa.Table:
    """The index of a release (none: an empty one). A release whose manifest lists an index.parquet that is
    missing or unreadable is damaged: ReleaseError."""
    listed = release is not None and INDEX in ((read_manifest(release) or {}).get("files") or {})
    if release is None or not (listed or (release / INDEX).exists()):  # none, or made before index.parquet
        types = [pa.string(), pa.string(), pa.string(), pa.binary(16), pa.string(), pa.int64()]
        return pa.schema(list(zip(_INDEX_COLUMNS, types, strict=True))).empty_table()
    try:
        table = pq.read_table(release / INDEX, columns=_INDEX_COLUMNS, read_dictionary=["source", "format", "output"])
    except (OSError, pa.ArrowException) as e:
        raise ReleaseError(f"release {release.name} is damaged: its {INDEX} cannot be read ({_short(e)})") from None
    return table.combine_chunks()


def _short(error: Exception) -> str:
    return " ".join(str(error).split())[:200] or type(error).__name__


def _followed(index: pa.Table) -> pa.Table:
    """The records with a uid, the first of each uid (a uid published twice, as a marché and a concession, is
    followed through its first record)."""
    if index["uid"].null_count:
        index = index.filter(pc.is_valid(index["uid"]))
    first = pc.index_in(index["uid"], value_set=index["uid"]).to_numpy(zero_copy_only=False)
    repeated = first != np.arange(index.num_rows)
    return index.filter(pa.array(~repeated)) if repeated.any() else index  # most releases: no copy


def _same(new: pa.ChunkedArray, old: pa.ChunkedArray, old_row: np.ndarray) -> np.ndarray:
    """Per new record, whether its digest equals the one of the old record at `old_row`."""
    if not len(old_row) or not len(old):
        return np.zeros(len(old_row), dtype=bool)
    a, b = (_digests(column) for column in (new, old))
    return np.asarray((a == b[old_row]).all(axis=1))


def _digests(column: pa.ChunkedArray) -> np.ndarray:
    array = column.combine_chunks()
    return np.frombuffer(array.buffers()[1], dtype=np.uint64, count=2 * len(array),
                         offset=array.offset * 16).reshape(-1, 2)  # fmt: skip


def _rows(change: str, table: pa.Table, **columns: pa.Array) -> pa.Table:
    n = table.num_rows
    values = {"change": pa.array([change] * n, pa.string()), "uid": table["uid"], "source": table["source"],
              "format": table["format"]}  # fmt: skip
    values |= columns
    return pa.table({c: values.get(c, pa.nulls(n, pa.string())) for c in CSV_COLUMNS}, schema=_SCHEMA)


def _added(new: pa.Table) -> pa.Table:
    return _rows("added", new)


def _removed(gone: pa.Table, current: Path) -> pa.Table:
    """Each uid no longer published, with why (in the order of the module's docstring)."""
    duplicates = _superseded(current)
    at = pc.index_in(gone["uid"], value_set=duplicates["uid"])
    superseded = pc.is_valid(at)
    rejected = pc.is_in(gone["uid"], value_set=_rejected_uids(current))
    vanished = pc.invert(pc.is_in(gone["source"], value_set=pa.array(sorted(_sources(current)), pa.string())))
    reason = pc.if_else(superseded, "superseded", pc.if_else(rejected, "rejected", pc.if_else(
        vanished, "source-vanished", "record-vanished")))  # fmt: skip
    return _rows("removed", gone, reason=reason, superseded_by=duplicates["kept_uid"].take(at),
                 rule=duplicates["rule"].take(at))  # fmt: skip


def _superseded(release: Path) -> pa.Table:
    """The dropped copies that lost to a record of another uid: their uid, that uid and the rule."""
    texts = {"uid": pa.string(), "rule": pa.string(), "kept_uid": pa.string()}
    if not (release / DUPLICATES).is_file():
        return pa.schema(list(texts.items())).empty_table()
    options = pa_csv.ConvertOptions(include_columns=list(texts), column_types=texts)
    table = pa_csv.read_csv(release / DUPLICATES, convert_options=options)
    return table.filter(pc.and_(pc.is_valid(table["uid"]), pc.not_equal(table["uid"], table["kept_uid"])))


def _rejected_uids(release: Path) -> pa.Array:
    """The uids whose table row is a rejected record's (`valid` false in marches or concessions)."""
    uids = []
    for table_name in ("marches", "concessions"):
        path = release / f"{table_name}.parquet"
        if path.is_file():
            table = pq.read_table(path, columns=["uid", "valid"])
            uids.append(table.filter(pc.invert(table["valid"]))["uid"].combine_chunks())
    return pa.concat_arrays(uids) if uids else pa.array([], pa.string())


def _sources(release: Path) -> set[str]:
    try:
        return set(json.loads((release / "report.json").read_text(encoding="utf-8"))["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _changed(new: pa.Table, old: pa.Table, previous: Path | None, current: Path) -> pa.Table:
    """Each changed uid with the top-level fields whose values differ between its two records."""
    fields: list[str] = []
    for start in range(0, new.num_rows, CHANGED_BATCH):
        a, b = old.slice(start, CHANGED_BATCH), new.slice(start, CHANGED_BATCH)
        before = _records(previous, a) if previous is not None else {}
        after = _records(current, b)
        for key_a, key_b, moved in zip(_keys(a), _keys(b), _moves(a, b), strict=True):
            one, two = before.get(key_a, {}), after.get(key_b, {})
            names = sorted(k for k in one.keys() | two.keys() if one.get(k) != two.get(k))
            fields.append("; ".join(dict.fromkeys(names + moved)))
    return _rows("changed", new, fields=pa.array(fields, pa.string()))


def _keys(table: pa.Table) -> list[tuple[str, int]]:
    return list(zip(table["output"].to_pylist(), table["line"].to_pylist(), strict=True))


def _moves(old: pa.Table, new: pa.Table) -> list[list[str]]:
    pairs = zip(old["source"].to_pylist(), new["source"].to_pylist(), old["format"].to_pylist(),
                new["format"].to_pylist(), strict=True)  # fmt: skip
    return [[n for n, moved in (("source", s1 != s2), ("format", f1 != f2)) if moved] for s1, s2, f1, f2 in pairs]


def _records(release: Path, rows: pa.Table) -> dict[tuple[str, int], dict[str, Any]]:
    """The records at (output, line) of a release, read from decp.json / decp-2022.json (one record per line,
    after the opening line; the lines of brackets between the lists hold none)."""
    by_output: dict[str, set[int]] = {}
    for output, line in _keys(rows):
        by_output.setdefault(output, set()).add(line)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for output, lines in by_output.items():
        if not (release / output).is_file():
            raise ReleaseError(f"release {release.name} is damaged: its {output} is missing")
        with open(release / output, "rb") as f:
            f.readline()  # {"marches": [  or  {"marches": {"marche": [
            ordinal = 0
            for text in f:
                if text.startswith(b"]"):
                    continue
                if ordinal in lines:
                    found[(output, ordinal)] = _record(release, output, ordinal, text)
                ordinal += 1
    return found


def _record(release: Path, output: str, ordinal: int, text: bytes) -> dict[str, Any]:
    try:
        record = orjson.loads(text.rstrip(b"\n").rstrip(b","))
    except orjson.JSONDecodeError as e:
        raise ReleaseError(f"release {release.name} is damaged: record {ordinal + 1} of its {output} is not JSON "
                           f"({e})") from None  # fmt: skip
    if not isinstance(record, dict):
        raise ReleaseError(f"release {release.name} is damaged: record {ordinal + 1} of its {output} is no object")
    return record


def write_delta(folder: Path, delta: Delta) -> None:
    """delta.json (the counts and every change) and delta.csv (the changes) in the release being written."""
    with open(folder / DELTA_JSON, "wb") as f:
        write_document(delta, f)
    pa_csv.write_csv(delta.changes, folder / DELTA_CSV)


def write_document(delta: Delta, target: IO[bytes]) -> None:
    for piece in delta.document():
        target.write(piece)
