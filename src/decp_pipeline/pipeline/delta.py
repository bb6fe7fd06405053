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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from decp_pipeline.pipeline.lineage import DUPLICATES, INDEX

DELTA_JSON, DELTA_CSV = "delta.json", "delta.csv"
CSV_COLUMNS = ["change", "uid", "source", "format", "reason", "superseded_by", "rule", "fields"]
_INDEX_COLUMNS = ["uid", "source", "format", "digest", "output", "line"]


@dataclass
class Delta:
    release: str
    previous: str | None
    rows: list[dict[str, Any]]  # one per uid added, removed or changed (CSV_COLUMNS), sorted
    counts: dict[str, Any]


def compare(previous: Path | None, current: Path, *, name: str | None = None) -> Delta:
    """The delta of the release in `current` against the one in `previous` (None: every uid is added);
    `name`: the build id of `current` when it is still being written (its folder has a temporary name)."""
    new = _index(current)
    old = _index(previous) if previous is not None else _empty_index()
    without_uid = {"previous": old.num_rows, "current": new.num_rows}
    old, new = _followed(old), _followed(new)
    without_uid = {"previous": without_uid["previous"] - old.num_rows, "current": without_uid["current"] - new.num_rows}
    joined = _join(old, new)
    in_old = pc.is_valid(joined["old_line"]).to_numpy(zero_copy_only=False)
    in_new = pc.is_valid(joined["line"]).to_numpy(zero_copy_only=False)
    both = in_old & in_new
    differs = np.zeros(joined.num_rows, dtype=bool)
    if both.any():
        same = pc.equal(joined["digest"], joined["old_digest"]).fill_null(False).to_numpy(zero_copy_only=False)
        differs = both & ~same
    rows = _added(joined.filter(pa.array(in_new & ~in_old)))
    rows += _removed(joined.filter(pa.array(in_old & ~in_new)), current)
    rows += _changed(joined.filter(pa.array(differs)), previous, current)
    counts: dict[str, Any] = {
        change: sum(r["change"] == change for r in rows) for change in ("added", "removed", "changed")
    }
    counts["unchanged"] = int(both.sum() - differs.sum())
    counts["removed_by_reason"] = _by_reason(rows)
    counts["without_uid"] = without_uid
    rows.sort(key=lambda r: (("added", "removed", "changed").index(r["change"]), r["uid"]))
    return Delta(name or current.name, previous.name if previous is not None else None, rows, counts)


def _index(release: Path) -> pa.Table:
    if not (release / INDEX).is_file():  # a release made before index.parquet existed: nothing to follow
        return _empty_index()
    return pq.read_table(release / INDEX, columns=_INDEX_COLUMNS)


def _empty_index() -> pa.Table:
    types = [pa.string(), pa.string(), pa.string(), pa.binary(16), pa.string(), pa.int64()]
    return pa.schema(list(zip(_INDEX_COLUMNS, types, strict=True))).empty_table()


def _followed(index: pa.Table) -> pa.Table:
    """The records with a uid, the first of each uid (a uid published twice, as a marché and a concession, is
    followed through its first record)."""
    index = index.filter(pc.is_valid(index["uid"]))
    index = index.append_column("_order", pa.array(np.arange(index.num_rows, dtype=np.int64)))
    first = index.group_by("uid", use_threads=False).aggregate([("_order", "min")])
    return index.take(pa.array(np.sort(first["_order_min"].to_numpy()))).drop_columns(["_order"])


def _join(old: pa.Table, new: pa.Table) -> pa.Table:
    old = old.rename_columns([c if c == "uid" else f"old_{c}" for c in old.column_names])
    return new.join(old, keys="uid", join_type="full outer", coalesce_keys=True)


def _added(rows: pa.Table) -> list[dict[str, Any]]:
    return [{"change": "added", "uid": u, "source": s, "format": f}
            for u, s, f in zip(*(rows[c].to_pylist() for c in ("uid", "source", "format")), strict=True)]  # fmt: skip


def _removed(rows: pa.Table, current: Path) -> list[dict[str, Any]]:
    superseded = _superseded(current)
    rejected = _rejected_uids(current)
    sources = _sources(current)
    removed = []
    for uid, source, form in zip(*(rows[c].to_pylist() for c in ("uid", "old_source", "old_format")), strict=True):
        row: dict[str, Any] = {"change": "removed", "uid": uid, "source": source, "format": form}
        if uid in superseded:
            row["reason"] = "superseded"
            row["superseded_by"], row["rule"] = superseded[uid]
        elif uid in rejected:
            row["reason"] = "rejected"
        elif source not in sources:
            row["reason"] = "source-vanished"
        else:
            row["reason"] = "record-vanished"
        removed.append(row)
    return removed


def _superseded(release: Path) -> dict[str, tuple[str, str]]:
    """The uids of dropped copies that lost to a record of another uid: that uid and the rule."""
    if not (release / DUPLICATES).is_file():
        return {}
    texts = {"uid": pa.string(), "rule": pa.string(), "kept_uid": pa.string()}
    options = pa_csv.ConvertOptions(include_columns=list(texts), column_types=texts)
    table = pa_csv.read_csv(release / DUPLICATES, convert_options=options)
    other = table.filter(pc.and_(pc.is_valid(table["uid"]), pc.not_equal(table["uid"], table["kept_uid"])))
    found: dict[str, tuple[str, str]] = {}
    for uid, rule, kept in zip(*(other[c].to_pylist() for c in ("uid", "rule", "kept_uid")), strict=True):
        found.setdefault(uid, (kept, rule))
    return found


def _rejected_uids(release: Path) -> set[str]:
    """The uids whose table row is a rejected record's (`valid` false in marches or concessions)."""
    uids: set[str] = set()
    for table_name in ("marches", "concessions"):
        path = release / f"{table_name}.parquet"
        if path.is_file():
            table = pq.read_table(path, columns=["uid", "valid"])
            uids.update(table.filter(pc.invert(table["valid"]))["uid"].to_pylist())
    return uids


def _sources(release: Path) -> set[str]:
    try:
        return set(json.loads((release / "report.json").read_text(encoding="utf-8"))["sources"])
    except (OSError, ValueError, KeyError, TypeError):
        return set()


def _changed(rows: pa.Table, previous: Path | None, current: Path) -> list[dict[str, Any]]:
    """Each changed uid with the top-level fields whose values differ between its two records."""
    if not rows.num_rows or previous is None:
        return []
    old = _records(previous, zip(rows["old_output"].to_pylist(), rows["old_line"].to_pylist(), strict=True))
    new = _records(current, zip(rows["output"].to_pylist(), rows["line"].to_pylist(), strict=True))
    changed = []
    columns = ("uid", "source", "format", "output", "line", "old_source", "old_format", "old_output", "old_line")
    for uid, source, form, output, line, old_source, old_format, old_output, old_line in zip(
        *(rows[c].to_pylist() for c in columns), strict=True
    ):
        before, after = old.get((old_output, old_line), {}), new.get((output, line), {})
        fields = sorted(k for k in before.keys() | after.keys() if before.get(k) != after.get(k))
        fields += [name for name, a, b in (("source", old_source, source), ("format", old_format, form)) if a != b]
        changed.append({"change": "changed", "uid": uid, "source": source, "format": form,
                        "fields": "; ".join(dict.fromkeys(fields))})  # fmt: skip
    return changed


def _records(release: Path, wanted: Any) -> dict[tuple[str, int], dict[str, Any]]:
    """The records at (output, line) of a release, read from decp.json / decp-2022.json (one record per line,
    after the opening line; the lines of brackets between the lists hold none)."""
    by_output: dict[str, set[int]] = {}
    for output, line in wanted:
        by_output.setdefault(output, set()).add(line)
    found: dict[tuple[str, int], dict[str, Any]] = {}
    for output, lines in by_output.items():
        with open(release / output, "rb") as f:
            f.readline()  # {"marches": [  or  {"marches": {"marche": [
            ordinal = 0
            for text in f:
                if text.startswith(b"]"):
                    continue
                if ordinal in lines:
                    found[(output, ordinal)] = orjson.loads(text.rstrip(b"\n").rstrip(b","))
                ordinal += 1
    return found


def _by_reason(rows: list[dict[str, Any]]) -> dict[str, int]:
    reasons: dict[str, int] = {}
    for row in rows:
        if row["change"] == "removed":
            reasons[row["reason"]] = reasons.get(row["reason"], 0) + 1
    return dict(sorted(reasons.items()))


def write_delta(folder: Path, delta: Delta) -> None:
    """delta.json (the counts and every row) and delta.csv (the rows) in the release being written."""
    document = {"release": delta.release, "previous": delta.previous, "counts": delta.counts, "changes": delta.rows}
    (folder / DELTA_JSON).write_bytes(orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
    columns = {c: pa.array([r.get(c) for r in delta.rows], pa.string()) for c in CSV_COLUMNS}
    pa_csv.write_csv(pa.table(columns), folder / DELTA_CSV)
