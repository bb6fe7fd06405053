"""Where each record of a release came from and where it went: the published records (index.parquet) and every
dropped copy with the record it lost to (duplicates.csv), from the meta rows the plan consolidates.

index.parquet, one row per record of decp.json and decp-2022.json, in their order: `uid`, `source`, `file`,
`position` (in the file), `format` (1.5 or 2022), `kind`, `digest` (of its content: two records with the same
digest are the same record), `output` (decp.json or decp-2022.json) and `line` (0-based rank of the record in
that output's list, marchés then concessions in decp-2022.json). The next release's delta compares with it.

duplicates.csv, one row per dropped copy: its `source`, `file`, `position` and `uid`, the `rule` that dropped
it, and the record it lost to: `kept_uid`, `kept_source`, `kept_file`, `kept_position`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from decp_pipeline.pipeline.cache import read_copies
from decp_pipeline.pipeline.dedup.rules import RULES

if TYPE_CHECKING:
    from decp_pipeline.pipeline.plan import AssemblySource

INDEX, DUPLICATES = "index.parquet", "duplicates.csv"
DUPLICATE_COLUMNS = ["source", "file", "position", "uid", "rule", "kept_uid", "kept_source", "kept_file",
                     "kept_position"]  # fmt: skip


def published(valid: pa.Table, kept: pa.Array) -> pa.Table:
    """The kept records' columns the index needs (source and file as indexes), in reading order."""
    return valid.select(["uid", "source", "file", "position", "format", "kind", "digest"]).filter(kept)


def dropped(valid: pa.Table, rule: np.ndarray, winner: np.ndarray, stages: list[AssemblySource]) -> pa.Table:
    """Every dropped copy, the rule and the record it lost to (source and file as names): the copies the
    consolidation dropped, then the exact copies dropped within their file when it was read."""
    rows = np.flatnonzero(rule != 0)
    rules = np.array(RULES, dtype=object)
    consolidated = {
        "source": valid["source"].take(rows), "file": valid["file"].take(rows),
        "position": valid["position"].take(rows), "uid": valid["uid"].take(rows),
        "rule": pa.array(rules[rule[rows]], pa.string()),
        "kept_uid": valid["uid"].take(winner[rows]), "kept_source": valid["source"].take(winner[rows]),
        "kept_file": valid["file"].take(winner[rows]), "kept_position": valid["position"].take(winner[rows]),
    }  # fmt: skip
    table = pa.concat_tables([pa.table(consolidated), _in_file_copies(valid, stages)], promote_options="permissive")
    order = pc.sort_indices(table, [("source", "ascending"), ("file", "ascending"), ("position", "ascending")])
    return _named(table.take(order), stages)


def _in_file_copies(valid: pa.Table, stages: list[AssemblySource]) -> pa.Table:
    """The exact copies dropped while their file was read: each is the same record as one kept before it in the
    file (same uid), which may itself have been dropped later by the consolidation."""
    files, sources, positions, originals = [], [], [], []
    for source_index, stage in enumerate(stages):
        for file in stage.files:
            for position, original in read_copies(file.cached):
                files.append(file.index)
                sources.append(source_index)
                positions.append(position)
                originals.append(original)
    copies = pa.table({"source": pa.array(sources, pa.int32()), "file": pa.array(files, pa.int32()),
                       "position": pa.array(positions, pa.int64()),
                       "original": pa.array(originals, pa.int64())})  # fmt: skip
    twins = valid.select(["file", "position", "uid"]).rename_columns(["file", "original", "uid"])
    joined = copies.join(twins, keys=["file", "original"], join_type="left outer")
    return pa.table({
        "source": joined["source"], "file": joined["file"], "position": joined["position"], "uid": joined["uid"],
        "rule": pa.array(["exact-copy"] * joined.num_rows, pa.string()), "kept_uid": joined["uid"],
        "kept_source": joined["source"], "kept_file": joined["file"], "kept_position": joined["original"],
    })  # fmt: skip


def _named(table: pa.Table, stages: list[AssemblySource]) -> pa.Table:
    """Source and file indexes replaced by the sources' ids and the files' paths."""
    sources = pa.array([stage.source for stage in stages], pa.string())
    paths = [""] * (1 + max((f.index for s in stages for f in s.files), default=0))
    for stage in stages:
        for file in stage.files:
            paths[file.index] = file.path
    files = pa.array(paths, pa.string())
    columns = {}
    for name in table.column_names:
        column = table[name]
        if name in ("source", "kept_source"):
            column = sources.take(column)
        elif name in ("file", "kept_file"):
            column = files.take(column)
        columns[name] = column
    return pa.table(columns)


def write_index(folder: Path, records: pa.Table, stages: list[AssemblySource]) -> None:
    """index.parquet: the published records in the order of decp.json and decp-2022.json."""
    is_2022 = pc.equal(records["format"], "2.0").to_numpy(zero_copy_only=False)
    concession = pc.equal(records["kind"], "contrat-concession").to_numpy(zero_copy_only=False)
    line = np.empty(records.num_rows, dtype=np.int64)
    for selected, start in (
        (~is_2022, 0),
        (is_2022 & ~concession, 0),
        (is_2022 & concession, int((is_2022 & ~concession).sum())),
    ):
        line[selected] = start + np.arange(int(selected.sum()))
    table = _named(records.drop_columns(["format", "digest"]), stages)
    table = table.append_column("format", pa.array(np.where(is_2022, "2022", "1.5"), pa.string()))
    table = table.append_column("digest", records["digest"])
    table = table.append_column("output", pa.array(np.where(is_2022, "decp-2022.json", "decp.json"), pa.string()))
    table = table.append_column("line", pa.array(line))
    pq.write_table(table, folder / INDEX, compression="zstd", row_group_size=1 << 17)


def write_duplicates(folder: Path, table: pa.Table) -> None:
    pa_csv.write_csv(table.select(DUPLICATE_COLUMNS), folder / DUPLICATES)
