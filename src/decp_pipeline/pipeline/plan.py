"""What the build keeps, decided from the facts cached per file before any output is written.

The meta rows of every file (pipeline/cache.py) are read in reading order (sources by descending priority,
then their files in order), the valid records consolidated (pipeline/dedup/), each dropped copy counted
against its source and rule, the anomalies of the kept records counted, and the table rows chosen: one row
per uid, a kept record's first, else a rejected record's.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from decp_pipeline.pipeline import lineage
from decp_pipeline.pipeline.anomalies import Run
from decp_pipeline.pipeline.cache import META, META_SCHEMA, read_fragment
from decp_pipeline.pipeline.counts import Counts
from decp_pipeline.pipeline.dedup.columnar import RULES, consolidate, near_duplicates, sorted_run_starts
from decp_pipeline.pipeline.stage import load_counts


@dataclass
class AssemblyFile:
    path: str  # the file's current path (the `file` of rejected.jsonl and the tables)
    cached: Path  # its cached result (pipeline/cache.py)
    index: int  # in the build's reading order


class AssemblySource:
    """A source to assemble: its priority and its files in order (from its manifest)."""

    def __init__(self, source: str, priority: int, files: list[tuple[str, Path]]) -> None:
        self.source, self.priority = source, priority
        self.files = [AssemblyFile(path, cached, -1) for path, cached in files]


@dataclass
class Plan:
    """What the build keeps, decided from the cached facts before any output is written."""

    counts: dict[str, Counts]
    keep: dict[int, np.ndarray]  # file index → kept or not, per valid record (line of records.jsonl)
    forms: dict[int, np.ndarray]  # file index → format and kind of each valid record (codes in FORMS)
    rows_valid: dict[int, np.ndarray]  # file index → positions of the valid records that have table rows
    rows_rejected: dict[int, np.ndarray]  # the same for rejected records: all of them
    rekeyed: dict[int, np.ndarray]  # of those, the positions whose rows take a key of their own (no uid, or taken)
    whole_valid: set[int]  # files all of whose valid records with table rows are selected
    whole_rejected: set[int]  # the same for rejected records
    overlap: dict[str, dict[str, int]]
    near_duplicates: dict[str, Any]
    published: pa.Table  # the kept records, in reading order (pipeline/lineage.py: index.parquet)
    dropped: pa.Table  # every dropped copy and the record it lost to (duplicates.csv)


META_COLUMNS = ["position", "valid", "format", "kind", "key", "digest", "uid", "recency", "modifications", "near",
                "anomalies", "day", "amount", "version_key"]  # fmt: skip


def make_plan(data_dir: Path, stages: list[AssemblySource], run: Run) -> Plan:
    """Consolidate the valid records of every source from their cached facts, pick the table rows."""
    counts = {stage.source: load_counts(data_dir, stage.source) or Counts() for stage in stages}
    names = [stage.source for stage in stages]
    meta = _read_meta(stages)
    if meta is None:
        return _empty_plan(counts, names, stages)
    valid, rejected = meta
    consolidated = consolidate(valid, names)
    _release_unused()
    _count_duplicates(valid["source"].to_numpy(), consolidated.rule, counts, names)
    kept_mask = consolidated.rule == 0
    kept = pa.array(kept_mask)
    dropped = lineage.dropped(valid, consolidated.rule, consolidated.winner, stages)
    # Each step takes the columns it needs of the kept records: a copy of them all would cost 150 MB at
    # national size.
    _count_anomalies(valid.select(["source", "anomalies", "day", "amount"]).filter(kept), run, counts, names)
    with_uid = valid.select(["uid", "file", "position"]).filter(pc.and_(kept, pc.is_valid(valid["uid"])))
    rows_valid, rows_rejected, rekeyed = _table_rows(with_uid, rejected)
    del with_uid
    _release_unused()
    with_rows = valid["file"].filter(pc.is_valid(valid["uid"])).to_numpy()  # every valid record with table rows
    return Plan(
        counts=counts,
        keep=_per_file(valid["file"].to_numpy(), kept_mask),
        forms=_forms(valid),
        rows_valid=rows_valid,
        rows_rejected=rows_rejected,
        rekeyed=rekeyed,
        whole_valid=_whole(rows_valid, with_rows),
        whole_rejected=_whole(rows_rejected, rejected["file"].to_numpy()),
        overlap=consolidated.overlap,
        near_duplicates=near_duplicates(valid.select(["near", "source", "uid"]).filter(kept), names),
        published=lineage.published(valid, kept),
        dropped=dropped,
    )


def _empty_plan(counts: dict[str, Counts], names: list[str], stages: list[AssemblySource]) -> Plan:
    """The plan of a build with no record."""
    empty = META_ROWS.empty_table()
    return Plan(counts, {}, {}, {}, {}, {}, set(), set(), {s: {} for s in names},
                {"count": 0, "by_source_pair": {}, "examples": []}, lineage.published(empty, pa.array([], pa.bool_())),
                lineage.dropped(empty, np.zeros(0, np.int8), np.zeros(0, np.int64), stages))  # fmt: skip


def _release_unused() -> None:
    """Give the memory Arrow freed back to the system: its allocator keeps it for Arrow's next allocations,
    which NumPy's cannot use (at 3 million records the assembly's peak is 130 MB lower with it)."""
    pa.default_memory_pool().release_unused()


def _read_meta(stages: list[AssemblySource]) -> tuple[pa.Table, pa.Table] | None:
    """The meta rows of every file in reading order, with the file, source and priority of each: those of
    the valid records, and those of the rejected records given table rows (uid, file, position only).

    Memory: each file's rows are mapped from its cached result; every META_BLOCK_ROWS rows they are copied
    into one block, which unmaps them. The result is a few large chunks, and the meta rows are never held
    twice (at national size, a second copy costs 300 MB)."""
    valid, rejected = _Blocks(META_ROWS), _Blocks(REJECTED_ROWS)
    index = 0
    for source_index, stage in enumerate(stages):
        for file in stage.files:
            file.index = index
            index += 1
            meta = read_fragment(file.cached / META)
            if meta is None or not meta.num_rows:
                continue
            rows = meta.num_rows
            meta = meta.select(META_COLUMNS)
            for name, value in (("file", file.index), ("source", source_index), ("priority", stage.priority)):
                meta = meta.append_column(name, pa.array(np.full(rows, value, np.int32)))
            is_valid = meta["valid"]
            if is_valid.null_count == 0 and pc.all(is_valid).as_py():
                valid.add(meta)
            else:
                valid.add(meta.filter(is_valid))
                rejected.add(meta.filter(pc.invert(is_valid)).select(REJECTED_COLUMNS))
    if not valid.added and not rejected.added:
        return None
    return valid.table(), rejected.table()


META_BLOCK_ROWS = 200_000
META_ROWS = pa.schema([META_SCHEMA.field(name) for name in META_COLUMNS]
                     + [pa.field(name, pa.int32()) for name in ("file", "source", "priority")])  # fmt: skip
REJECTED_COLUMNS = ["uid", "file", "position"]
REJECTED_ROWS = pa.schema([META_ROWS.field(name) for name in REJECTED_COLUMNS])


class _Blocks:
    """Tables of one schema gathered into blocks of about META_BLOCK_ROWS rows each."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema
        self.blocks: list[pa.Table] = []
        self.pending: list[pa.Table] = []
        self.pending_rows = 0
        self.added = 0  # tables added

    def add(self, table: pa.Table) -> None:
        self.added += 1
        self.pending.append(table)
        self.pending_rows += table.num_rows
        if self.pending_rows >= META_BLOCK_ROWS:
            self._close_block()

    def _close_block(self) -> None:
        self.blocks.append(pa.concat_tables(self.pending).combine_chunks())
        self.pending, self.pending_rows = [], 0

    def table(self) -> pa.Table:
        if self.pending:
            self._close_block()
        return pa.concat_tables(self.blocks) if self.blocks else self.schema.empty_table()


def _count_duplicates(sources: np.ndarray, rule: np.ndarray, counts: dict[str, Counts], names: list[str]) -> None:
    """Each dropped copy counts against its own source, under its rule."""
    for rule_index in range(1, len(RULES)):
        dropped = np.bincount(sources[rule == rule_index], minlength=len(names))
        for source_index, number in enumerate(dropped):
            if number:
                source_counts = counts[names[source_index]]
                source_counts.exported -= int(number)
                source_counts.duplicates += int(number)
                source_counts.duplicates_by_rule[str(RULES[rule_index])] += int(number)


def _count_anomalies(kept: pa.Table, run: Run, counts: dict[str, Counts], names: list[str]) -> None:
    """The anomalies of the kept records, per source (combinations of codes counted, then split)."""
    anomalies = run.with_run_dependent(kept["anomalies"], kept["day"], kept["amount"])
    combos = pa.table({"source": kept["source"], "anomalies": anomalies}).filter(pc.is_valid(anomalies))
    for row in combos.group_by(["source", "anomalies"]).aggregate([("anomalies", "count")]).to_pylist():
        for code in row["anomalies"].split():
            counts[names[row["source"]]].anomalies[code] += row["anomalies_count"]


def _table_rows(
    with_uid: pa.Table, rejected: pa.Table
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray], dict[int, np.ndarray]]:
    """One row per uid in the tables: the kept records that have one first (in reading order), then the
    rejected ones; a rejected record whose uid is taken (by a kept record, or an earlier rejected one) or that
    has none still has its rows, under a key of its own, so that the tables hold every exported and every
    rejected record. Returns, per file, the positions of the valid records given rows, of the rejected records
    (all), and of those rekeyed."""
    named = rejected.filter(pc.is_valid(rejected["uid"]))
    candidates = pa.concat_tables([with_uid, named])
    order = pa.array(np.arange(candidates.num_rows, dtype=np.int64))
    by_uid = pc.sort_indices(pa.table({"uid": candidates["uid"], "order": order}),
                             sort_keys=[("uid", "ascending"), ("order", "ascending")]).to_numpy()  # fmt: skip
    first = np.zeros(candidates.num_rows, dtype=bool)
    first[by_uid[sorted_run_starts(candidates["uid"], by_uid)]] = True
    split = with_uid.num_rows
    taken = named.filter(pa.array(~first[split:])).select(["file", "position"])
    unnamed = rejected.filter(pc.is_null(rejected["uid"])).select(["file", "position"])
    rekeyed = pa.concat_tables([taken, unnamed])
    every = np.ones(rejected.num_rows, dtype=bool)
    return (_positions(with_uid, first[:split]), _positions(rejected, every),
            _positions(rekeyed, np.ones(rekeyed.num_rows, dtype=bool)))  # fmt: skip


def _per_file(files: np.ndarray, values: np.ndarray) -> dict[int, np.ndarray]:
    """Split an array in reading order (files in increasing order) by file."""
    if not len(files):
        return {}
    starts = np.flatnonzero(np.r_[True, files[1:] != files[:-1]])
    ends = np.r_[starts[1:], len(files)]
    return {int(files[a]): values[a:b] for a, b in zip(starts, ends, strict=True)}


def _whole(selected: dict[int, np.ndarray], files: np.ndarray) -> set[int]:
    """The files whose every record with table rows (`files`: the file of each) is selected."""
    present = np.bincount(files, minlength=max(selected, default=0) + 1) if len(files) else np.zeros(0, np.int64)
    return {file for file, positions in selected.items() if file < len(present) and len(positions) == present[file]}


# The format and kind of a valid record of a file holding 2022 records, by code (Plan.forms).
FORMS = (("1.5", "marche"), ("2.0", "marche"), ("1.5", "contrat-concession"), ("2.0", "contrat-concession"))


def _forms(valid: pa.Table) -> dict[int, np.ndarray]:
    """Per file, the format and kind of each valid record as a code in FORMS: only for files holding 2022
    records (a file of format 1.5 records only is copied into decp.json as it is)."""
    is_2022 = pc.equal(valid["format"], "2.0").to_numpy(zero_copy_only=False)
    files = valid["file"].to_numpy()
    wanted = np.isin(files, np.unique(files[is_2022]))
    if not wanted.any():
        return {}
    concession = pc.equal(valid["kind"], "contrat-concession").to_numpy(zero_copy_only=False)
    codes = (is_2022.astype(np.int8) + 2 * concession.astype(np.int8))[wanted]
    return _per_file(files[wanted], codes)


def _positions(rows: pa.Table, selected: np.ndarray) -> dict[int, np.ndarray]:
    chosen = rows.filter(pa.array(selected))
    files = chosen["file"].to_numpy()
    positions = chosen["position"].to_numpy()
    in_order = np.lexsort((positions, files))  # by file, then position (_among searches them)
    return _per_file(files[in_order], positions[in_order])
