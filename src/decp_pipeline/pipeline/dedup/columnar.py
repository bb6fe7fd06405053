"""The dedup rules of `rules.py` applied to every valid record of the build at once, in columnar form.

Each record's facts (`rules.Facts`: contract key, recency, content digest ...) are computed once, when its
file is read, and cached with it; the build decides every record's fate from those facts alone, with Arrow and
NumPy: sorting a million keys costs a second, and no record is parsed again. `tests/test_dedup.py` proves that
`consolidate` gives every record the fate `rules.fates` gives it.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from decp_pipeline.pipeline.dedup.rules import RULES

MAX_EXAMPLES = 20
__all__ = ["RULES", "Consolidated", "consolidate", "near_duplicates", "sorted_run_starts"]


@dataclass
class Consolidated:
    """The fate of every valid record of the build (arrays in the order the records were offered)."""

    rule: np.ndarray  # index in rules.RULES: 0 kept, else the rule that dropped the record
    winner: np.ndarray  # the record kept for the same contract (a kept record is its own winner)
    overlap: dict[str, dict[str, int]] = field(default_factory=dict)


def _digests(array: pa.Array) -> np.ndarray:
    """16-byte digests as an (n, 2) array of unsigned 64-bit integers (compared and sorted by NumPy)."""
    array = array.combine_chunks() if isinstance(array, pa.ChunkedArray) else array
    buffer = array.buffers()[1]
    return np.frombuffer(buffer, dtype=np.uint64, count=2 * len(array), offset=array.offset * 16).reshape(-1, 2)


def run_starts(values: pa.Array) -> np.ndarray:
    """For sorted values: True where a run of equal values starts."""
    n = len(values)
    starts = np.ones(n, dtype=bool)
    if n > 1:
        differs = pc.not_equal(values.slice(1), values.slice(0, n - 1))
        starts[1:] = differs.fill_null(True).to_numpy(zero_copy_only=False)
    return starts


def sorted_run_starts(values: pa.ChunkedArray | pa.Array, order: np.ndarray, slice_rows: int = 1 << 19) -> np.ndarray:
    """`run_starts` of `values` taken in `order`, a slice at a time: the sorted copy of a text column would be
    the build's largest allocation (170 MB for 3 million contract keys)."""
    if isinstance(values, pa.ChunkedArray):  # once: a take from chunks concatenates them first, each time
        values = values.combine_chunks()
    starts = np.ones(len(order), dtype=bool)
    for begin in range(0, len(order), slice_rows):
        before = max(begin - 1, 0)  # the last value of the previous slice, to compare the first one with
        end = begin + slice_rows
        starts[begin:end] = run_starts(values.take(pa.array(order[before:end])))[begin - before :]
    return starts


def consolidate(meta: pa.Table, sources: list[str]) -> Consolidated:
    """Decide each record's fate from the columns key, version_key, recency, modifications, priority, digest,
    uid and source (an index in `sources`); the rows are in the order records were read (sources by priority,
    then files, then positions), which breaks the last ties. Two steps, as rules.fates: the copies of one
    record (`key`), then the versions of one contract among their winners (`version_key`)."""
    n = meta.num_rows
    if n == 0:
        return Consolidated(np.zeros(0, dtype=np.int8), np.zeros(0, dtype=np.int64), {s: {} for s in sources})
    rule, first_winner, winners = _copies(meta)
    version_rule, final = _versions(meta, winners)
    rule[winners] = version_rule
    winner_of = final[first_winner]  # a copy follows the record it lost to
    return Consolidated(rule, winner_of, _overlap(winner_of, meta["source"].to_numpy(), sources))


def _ranked(meta: pa.Table, rows: np.ndarray | None, key: str) -> np.ndarray:
    """`rows` (indices in `meta`; None: every row) by `key`, then best first: latest, most modifications,
    highest priority, first read."""
    names = (key, "recency", "modifications", "priority")
    if rows is None:  # the columns as they are: a copy of a million keys would be the build's largest allocation
        rows = np.arange(meta.num_rows, dtype=np.int64)
        columns = {name: meta[name] for name in names}
    else:
        columns = {name: meta[name].take(pa.array(rows)) for name in names}
    ranking = pa.table(columns | {"order": pa.array(rows)})
    sort_keys = [(key, "ascending"), ("recency", "descending"), ("modifications", "descending"),
                 ("priority", "descending"), ("order", "ascending")]  # fmt: skip
    return np.asarray(rows[pc.sort_indices(ranking, sort_keys=sort_keys).to_numpy()], dtype=np.int64)


def _copies(meta: pa.Table) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Step 1: each record's rule among the copies of its record (0 for their winner), the winner each one lost
    to (its own index for a winner), and the winners' indices."""
    n = meta.num_rows
    by_rank = _ranked(meta, None, "key")
    first = sorted_run_starts(meta["key"], by_rank)  # the winner of each record is the first of its run
    group = np.cumsum(first) - 1
    winner = np.flatnonzero(first)[group]
    # exact-copy: the same content as a better-ranked copy of the same record
    digests = _digests(meta["digest"])[by_rank]
    same_content = np.lexsort((np.arange(n), digests[:, 1], digests[:, 0], group))
    groups, digests = group[same_content], digests[same_content]
    repeated = (groups[1:] == groups[:-1]) & (digests[1:] == digests[:-1]).all(axis=1)
    exact = np.zeros(n, dtype=bool)
    exact[same_content[1:][repeated]] = True
    del digests, groups, same_content, repeated  # consolidation is the build's peak of memory
    # same-uid or version: only the few dropped copies that are not exact ones are compared with their winner
    compared = np.flatnonzero(~first & ~exact)
    uids, winner_uids = (meta["uid"].take(pa.array(by_rank[rows])) for rows in (compared, winner[compared]))
    same_uid = np.zeros(n, dtype=bool)
    same_uid[compared] = pc.equal(uids, winner_uids).fill_null(False).to_numpy(zero_copy_only=False)
    ranked_rule = np.where(first, 0, np.where(exact, 1, np.where(same_uid, 2, 3))).astype(np.int8)
    rule = np.empty(n, dtype=np.int8)
    rule[by_rank] = ranked_rule
    winner_of = np.empty(n, dtype=np.int64)
    winner_of[by_rank] = by_rank[winner]
    return rule, winner_of, np.sort(by_rank[first])


def _versions(meta: pa.Table, winners: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Step 2, among the winners of step 1: their rule (0 kept, 3 version) and, for every record index, the
    record kept for its contract (defined at the winners' indices)."""
    keys = meta["version_key"]
    if keys.null_count:  # no version key (a record of the reference tests): the record's own key
        keys = pc.coalesce(keys, meta["key"])
    versioned = meta.set_column(meta.schema.get_field_index("version_key"), "version_key", keys)
    by_rank = _ranked(versioned, winners, "version_key")
    first = sorted_run_starts(keys, by_rank)
    kept = by_rank[np.flatnonzero(first)[np.cumsum(first) - 1]]
    final = np.arange(meta.num_rows, dtype=np.int64)
    final[by_rank] = kept
    rule = np.where(final[winners] == winners, 0, 3).astype(np.int8)
    return rule, final


def _overlap(group: np.ndarray, source: np.ndarray, sources: list[str]) -> dict[str, dict[str, int]]:
    """For each source, how many of its contracts each other source also has."""
    table: dict[str, dict[str, int]] = {s: {} for s in sources}
    width = len(sources)
    pairs = np.unique(group.astype(np.int64) * width + source)
    pair_group, pair_source = pairs // width, pairs % width
    shared = np.bincount(pair_group)[pair_group] > 1
    if not shared.any():
        return table
    _, compact = np.unique(pair_group[shared], return_inverse=True)
    presence = np.zeros((compact.max() + 1, width), dtype=np.int64)
    presence[compact, pair_source[shared]] = 1
    both = presence.T @ presence
    for a in range(width):
        for b in range(width):
            if a != b and both[a, b]:
                table[sources[a]][sources[b]] = int(both[a, b])
    return table


def near_duplicates(kept: pa.Table, sources: list[str]) -> dict[str, Any]:
    """Kept records of different contracts from different sources with the same near key: each kept record
    whose near key was first seen (in reading order) in another source counts one pair, and the first ones
    are given as examples. `kept` has the columns near, source and uid, in reading order."""
    pairs: Counter[str] = Counter()
    examples: list[dict[str, str]] = []
    rows = np.flatnonzero(pc.is_valid(kept["near"]).to_numpy(zero_copy_only=False))
    if len(rows):
        near = _digests(kept["near"].combine_chunks().take(pa.array(rows)))
        in_order = np.lexsort((rows, near[:, 1], near[:, 0]))
        first = np.ones(len(rows), dtype=bool)
        first[1:] = (near[in_order][1:] != near[in_order][:-1]).any(axis=1)
        seen = in_order[np.flatnonzero(first)[np.cumsum(first) - 1]]  # the first of each near key
        source = kept["source"].to_numpy()[rows]
        flagged = np.flatnonzero(source[in_order] != source[seen])

        def uid(row: int) -> str:  # only for the examples: the uids as Python text would cost 150 MB
            return str(kept["uid"][int(rows[row])].as_py())

        for index in sorted(flagged, key=lambda i: rows[in_order[i]]):
            this, like = in_order[index], seen[index]
            pairs["|".join(sorted((sources[source[like]], sources[source[this]])))] += 1
            if len(examples) < MAX_EXAMPLES:
                examples.append({"uid": uid(this), "source": sources[source[this]],
                                 "like_uid": uid(like), "like_source": sources[source[like]]})  # fmt: skip
    return {"count": sum(pairs.values()), "by_source_pair": dict(sorted(pairs.items())), "examples": examples}
