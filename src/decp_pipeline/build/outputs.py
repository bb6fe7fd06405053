"""The published outputs of `decp build`, assembled from the sources' stages and written atomically.

    OUT/decp.json       {"marches": [...]}: format 1.5, valid records only, each with `uid` and `source`
    OUT/rejected.jsonl  one line per record left out of decp.json, with its errors
    OUT/report.json     the accounting: for every source, read = exported + rejected + duplicates

Sources are read by descending `priority`; one record is kept per contract (build/consolidate.py) and every
other copy is a duplicate of the source whose copy is dropped, counted under its rule. Every file is written
under a temporary name in OUT and renamed at the end, all of them or none.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import tempfile
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from decp_pipeline import __version__
from decp_pipeline.build.consolidate import RULES, consolidate, near_duplicates, sorted_run_starts
from decp_pipeline.build.file_result import META_SCHEMA
from decp_pipeline.build.quality import DEFAULT_MAX_AMOUNT, QualityChecks, combine
from decp_pipeline.build.stage import CODE_VERSION, Counts, load_counts, load_manifest
from decp_pipeline.build.table_output import TableOutput, read_fragment
from decp_pipeline.build.tables import MAIN_TABLES, TABLES, fragment_name
from decp_pipeline.exceptions import DecpError, OutputError, ShrinkError

OUTPUT_FILES = ("decp.json", "decp-2022.json", "rejected.jsonl", "report.json")
# A build that would shrink the published contracts by more than this share keeps the previous outputs.
DEFAULT_MAX_SHRINK = 0.5


@dataclass
class Assembly:
    sources: dict[str, Counts] = field(default_factory=dict)
    total: Counts = field(default_factory=Counts)
    warnings: list[str] = field(default_factory=list)
    fetch: dict[str, Any] = field(default_factory=dict)
    overlap: dict[str, dict[str, int]] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)  # rows per table
    near_duplicates: dict[str, Any] = field(default_factory=dict)
    fingerprint: str | None = None  # of the inputs the outputs were made of
    unchanged: bool = False  # the outputs in place were made of the same inputs: only report.json was renewed


def assemble(
    data_dir: Path,
    out: Path,
    sources: list[tuple[str, int]],
    fetch: dict[str, Any],
    *,
    max_shrink: float = DEFAULT_MAX_SHRINK,
    max_amount: float = DEFAULT_MAX_AMOUNT,
    force: bool = False,
    today: datetime.date | None = None,
) -> Assembly:
    """Write the outputs from the stages of `sources` ((id, priority), any order).

    Nothing is read again when the inputs are those of the outputs in place (`build_fingerprint` of
    report.json): only report.json is renewed. Raises ShrinkError, leaving the previous outputs in place, when
    the new decp.json would hold fewer than (1 - max_shrink) times the previous build's contracts, unless
    `force`.
    """
    out.mkdir(parents=True, exist_ok=True)
    quality = QualityChecks(today=today, max_amount=max_amount)
    by_priority = sorted(sources, key=lambda s: (-s[1], s[0]))
    stages = [Stage(s, p, files) for s, p in by_priority if (files := load_manifest(data_dir, s)) is not None]
    _check_cached(stages)
    fingerprint = _fingerprint(stages, quality)
    reused = _reuse(out, fingerprint, fetch)
    if reused is not None:
        return reused
    assembly = Assembly(fetch=fetch, fingerprint=fingerprint)
    plan = _plan(data_dir, stages, quality)
    temporary = {name: out / f".{name}.{os.getpid()}.tmp" for name in OUTPUT_FILES}
    try:
        tables = TableOutput(out, finish={name: _anomalies_of_the_run(quality) for name in MAIN_TABLES})
        with (
            RegulatoryWriter(temporary["decp.json"], temporary["decp-2022.json"], out) as regulatory,
            open(temporary["rejected.jsonl"], "wb") as rejected,
        ):
            _write_in_parallel(
                [lambda name=name: _write_table(name, stages, plan, tables) for name in TABLES]
                + [lambda: _write_records(stages, plan, regulatory, rejected)]
            )
        temporary.update(tables.close())
        assembly.sources = plan.counts
        for counts in plan.counts.values():
            assembly.total.add(counts)
        assembly.tables = {name: table.count for name, table in tables.tables.items()}
        assembly.overlap = plan.overlap
        assembly.near_duplicates = plan.near_duplicates
        shrink = _shrink(out, assembly.total.exported, max_shrink)
        if shrink and not force:
            raise ShrinkError(shrink + "; the previous outputs are kept (use --force to publish anyway)")
        if shrink:
            assembly.warnings.append(shrink + "; published anyway (--force)")
        temporary["report.json"].write_text(
            json.dumps(report(assembly), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
    except OSError as e:  # a full disk, a file in the way: the outputs in place stay as they were
        raise OutputError(f"could not write the outputs in {out}/ ({e}): the outputs in place were kept") from None
    else:
        _publish(temporary, out)
    finally:
        for leftover in out.glob(f".*.{os.getpid()}.tmp"):  # every temporary of this build, however far it got
            if leftover.is_file():
                leftover.unlink()
    return assembly


def _publish(temporary: dict[str, Path], out: Path) -> None:
    """Rename the written outputs into place (each rename atomic)."""
    for number, (name, path) in enumerate(temporary.items()):
        try:
            os.replace(path, out / name)
        except OSError as e:
            done = ", ".join(list(temporary)[:number]) or "none"
            raise OutputError(f"publishing the outputs in {out}/ stopped at {name} ({e}); published: {done}") from None


@dataclass
class StageFile:
    path: str  # the file's current path (the `file` of rejected.jsonl and the tables)
    cached: Path  # its cached result (build/file_result.py)
    index: int  # in the build's reading order


class Stage:
    """A source to assemble: its priority and its files in order (from its manifest)."""

    def __init__(self, source: str, priority: int, files: list[tuple[str, Path]]) -> None:
        self.source, self.priority = source, priority
        self.files = [StageFile(path, cached, -1) for path, cached in files]


@dataclass
class Plan:
    """What the build keeps, decided from the cached facts before any output is written."""

    counts: dict[str, Counts]
    keep: dict[int, np.ndarray]  # file index → kept or not, per valid record (line of records.jsonl)
    forms: dict[int, np.ndarray]  # file index → format and kind of each valid record (codes in FORMS)
    rows_valid: dict[int, np.ndarray]  # file index → positions of the valid records that have table rows
    rows_rejected: dict[int, np.ndarray]  # the same for rejected records (whose contract has no valid row)
    whole_valid: set[int]  # files all of whose valid records with table rows are selected
    whole_rejected: set[int]  # the same for rejected records
    overlap: dict[str, dict[str, int]]
    near_duplicates: dict[str, Any]


COPY_CHUNK = 8 * 1024 * 1024  # bytes of JSON lines copied at a time
META_COLUMNS = ["position", "valid", "format", "kind", "key", "digest", "uid", "recency", "modifications", "near",
                "anomalies", "day", "amount"]  # fmt: skip


def _plan(data_dir: Path, stages: list[Stage], quality: QualityChecks) -> Plan:
    """Consolidate the valid records of every source from their cached facts, pick the table rows."""
    counts = {stage.source: load_counts(data_dir, stage.source) or Counts() for stage in stages}
    names = [stage.source for stage in stages]
    meta = _read_meta(stages)
    if meta is None:
        return Plan(counts, {}, {}, {}, {}, set(), set(), {s: {} for s in names},
                    {"count": 0, "by_source_pair": {}, "examples": []})  # fmt: skip
    valid, rejected = meta
    consolidated = consolidate(valid, names)
    _release_unused()
    _count_duplicates(valid["source"].to_numpy(), consolidated.rule, counts, names)
    kept_mask = consolidated.rule == 0
    kept = pa.array(kept_mask)
    # Each step takes the columns it needs of the kept records: a copy of them all would cost 150 MB at
    # national size.
    _count_anomalies(valid.select(["source", "anomalies", "day", "amount"]).filter(kept), quality, counts, names)
    with_uid = valid.select(["uid", "file", "position"]).filter(pc.and_(kept, pc.is_valid(valid["uid"])))
    rows_valid, rows_rejected = _table_rows(with_uid, rejected)
    del with_uid
    _release_unused()
    with_rows = valid["file"].filter(pc.is_valid(valid["uid"])).to_numpy()  # every valid record with table rows
    return Plan(
        counts=counts,
        keep=_per_file(valid["file"].to_numpy(), kept_mask),
        forms=_forms(valid),
        rows_valid=rows_valid,
        rows_rejected=rows_rejected,
        whole_valid=_whole(rows_valid, with_rows),
        whole_rejected=_whole(rows_rejected, rejected["file"].to_numpy()),
        overlap=consolidated.overlap,
        near_duplicates=near_duplicates(valid.select(["near", "source", "uid"]).filter(kept), names),
    )


def _release_unused() -> None:
    """Give the memory Arrow freed back to the system: its allocator keeps it for Arrow's next allocations,
    which NumPy's cannot use (at 3 million records the assembly's peak is 130 MB lower with it)."""
    pa.default_memory_pool().release_unused()


def _read_meta(stages: list[Stage]) -> tuple[pa.Table, pa.Table] | None:
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
            meta = read_fragment(file.cached / "meta.arrow")
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


def _count_anomalies(kept: pa.Table, quality: QualityChecks, counts: dict[str, Counts], names: list[str]) -> None:
    """The anomalies of the kept records, per source (combinations of codes counted, then split)."""
    anomalies = with_run_dependent(kept["anomalies"], kept["day"], kept["amount"], quality)
    combos = pa.table({"source": kept["source"], "anomalies": anomalies}).filter(pc.is_valid(anomalies))
    for row in combos.group_by(["source", "anomalies"]).aggregate([("anomalies", "count")]).to_pylist():
        for code in row["anomalies"].split():
            counts[names[row["source"]]].anomalies[code] += row["anomalies_count"]


def _table_rows(with_uid: pa.Table, rejected: pa.Table) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """One row per uid in the tables: the kept records that have one first (in reading order), then the
    rejected ones. Returns, per file, the positions of the valid records and of the rejected records given
    rows."""
    candidates = pa.concat_tables([with_uid, rejected])
    order = pa.array(np.arange(candidates.num_rows, dtype=np.int64))
    by_uid = pc.sort_indices(pa.table({"uid": candidates["uid"], "order": order}),
                             sort_keys=[("uid", "ascending"), ("order", "ascending")]).to_numpy()  # fmt: skip
    first = np.zeros(candidates.num_rows, dtype=bool)
    first[by_uid[sorted_run_starts(candidates["uid"], by_uid)]] = True
    split = with_uid.num_rows
    return _positions(candidates.slice(0, split), first[:split]), _positions(candidates.slice(split), first[split:])


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
    in_order = np.argsort(files, kind="stable")
    return _per_file(files[in_order], positions[in_order])


def with_run_dependent(
    anomalies: pa.Array | pa.ChunkedArray, day: pa.Array, amount: pa.Array, quality: QualityChecks
) -> pa.Array:
    """The anomaly codes cached with the records, plus the run-dependent ones (build/quality.py)."""
    anomalies = anomalies.combine_chunks() if isinstance(anomalies, pa.ChunkedArray) else anomalies
    affected = pc.or_(pc.greater(day, quality.today), pc.greater(amount, quality.max_amount))
    rows = np.flatnonzero(affected.fill_null(False).to_numpy(zero_copy_only=False))
    if not len(rows):
        return anomalies
    values = anomalies.to_pylist()
    for row in rows:
        more = quality.run_dependent(day[row].as_py(), amount[row].as_py())
        values[row] = " ".join(combine((values[row] or "").split(), more)) or None
    return pa.array(values, pa.string())


def _write_in_parallel(jobs: list[Callable[[], None]]) -> None:
    """Run the writing jobs (the regulatory files, each table) in threads: their work is mostly Arrow's and
    file I/O, which release the GIL, so that both cores are used; the first error is raised once all ended."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="decp-output") as pool:
        futures = [pool.submit(job) for job in jobs]
    for future in futures:
        future.result()


def _write_records(stages: list[Stage], plan: Plan, regulatory: RegulatoryWriter, rejected: IO[bytes]) -> None:
    """decp.json, decp-2022.json and rejected.jsonl, file after file in reading order."""
    for stage in stages:
        for file in stage.files:
            _copy_records(file, plan, regulatory)
            _copy_rejected(stage.source, file, rejected)


def _write_table(name: str, stages: list[Stage], plan: Plan, tables: TableOutput) -> None:
    """One published table, from the fragments of every file in reading order."""
    for stage in stages:
        for file in stage.files:
            _add_rows(name, file, plan, tables)
    tables.tables[name].close()


def _copy_records(file: StageFile, plan: Plan, regulatory: RegulatoryWriter) -> None:
    """The kept records of one file into decp.json / decp-2022.json, as the cache holds them (JSON lines)."""
    keep = plan.keep.get(file.index)
    if keep is None or not keep.any():
        return
    forms = plan.forms.get(file.index)
    first = 0
    with open(file.cached / "records.jsonl", "rb") as source:
        while lines := source.readlines(COPY_CHUNK):
            kept = keep[first : first + len(lines)]
            if forms is None:  # format 1.5 only
                selected = lines if kept.all() else [line for line, k in zip(lines, kept, strict=True) if k]
                regulatory.write_many(selected, "1.5", "marche")
            else:
                groups: dict[tuple[str, str], list[bytes]] = {}
                for number in np.flatnonzero(kept):
                    groups.setdefault(FORMS[forms[first + number]], []).append(lines[number])
                for (version, kind), selected in groups.items():
                    regulatory.write_many(selected, version, kind)
            first += len(lines)


def _copy_rejected(source: str, file: StageFile, out: IO[bytes]) -> None:
    """A file's rejected lines, with the source and the file's current path put in front."""
    path = file.cached / "rejected.jsonl"
    if not path.is_file() or not path.stat().st_size:
        return
    prefix = b'{"source":' + orjson.dumps(source) + b',"file":' + orjson.dumps(file.path) + b","
    with open(path, "rb") as lines:
        for line in lines:
            out.write(prefix + line[1:])


def _add_rows(name: str, file: StageFile, plan: Plan, tables: TableOutput) -> None:
    """A file's selected rows of one table: those of its kept valid records, and (written after every valid
    row, so that a contract's valid row wins) those of its rejected records whose contract has no valid row."""
    for valid, selected, later in ((True, plan.rows_valid, False), (False, plan.rows_rejected, True)):
        positions = selected.get(file.index)
        if positions is None:
            continue
        rows = read_fragment(file.cached / fragment_name(name, valid))
        if rows is None:
            continue
        if file.index not in (plan.whole_valid if valid else plan.whole_rejected):
            rows = rows.filter(_among(rows["position" if name in MAIN_TABLES else "_position"], positions))
        tables.add(name, rows, file.path, later=later)


def _among(column: pa.ChunkedArray, positions: np.ndarray) -> pa.Array:
    """Which rows have one of `positions` (both ascending: rows are in document order)."""
    values = column.to_numpy()
    if not len(positions):
        return pa.array(np.zeros(len(values), dtype=bool))
    found = np.searchsorted(positions, values)
    return pa.array(positions[np.minimum(found, len(positions) - 1)] == values)


def _anomalies_of_the_run(quality: QualityChecks) -> Callable[[pa.Table], pa.Table]:
    """For the main tables: the run-dependent anomalies added to a batch of rows (from its hidden facts)."""

    def finish(rows: pa.Table) -> pa.Table:
        fixed = with_run_dependent(rows["anomalies"], rows["_day"], rows["_amount"], quality)
        return rows.set_column(rows.schema.get_field_index("anomalies"), "anomalies", fixed)

    return finish


def _check_cached(stages: list[Stage]) -> None:
    for stage in stages:
        for file in stage.files:
            if not (file.cached / "counts.json").is_file():
                raise DecpError(
                    f"{stage.source}: the cached result of {file.path} is gone ({file.cached}): "
                    f"run `decp build {stage.source}` again"
                )


def _fingerprint(stages: list[Stage], quality: QualityChecks) -> str:
    """What the outputs are made of: the code, the run's settings and day, each source's files and results."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"{CODE_VERSION}|{ASSEMBLY_VERSION}|{quality.today}|{quality.max_amount}".encode())
    for stage in stages:
        digest.update(f"\n{stage.source}|{stage.priority}".encode())
        for file in stage.files:
            digest.update(f"\n{file.path}|{file.cached.name}".encode())
    return digest.hexdigest()


def _reuse(out: Path, fingerprint: str, fetch: dict[str, Any]) -> Assembly | None:
    """The outputs in place, when they were made of the same inputs: report.json renewed, nothing else."""
    try:
        previous = json.loads((out / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(previous, dict) or previous.get("build_fingerprint") != fingerprint:
        return None
    expected = [name for name in OUTPUT_FILES if name != "report.json"]
    expected += [f"{name}.{fmt}" for name in TABLES for fmt in ("csv", "parquet")] + ["datapackage.json"]
    if not all((out / name).is_file() for name in expected):
        return None
    assembly = Assembly(
        sources={source: Counts.from_dict(counts) for source, counts in previous["sources"].items()},
        total=Counts.from_dict(previous["total"]),
        warnings=list(previous.get("warnings", [])),
        fetch=fetch,
        overlap=previous.get("overlap", {}),
        tables=previous.get("tables", {}),
        near_duplicates=previous.get("near_duplicates", {}),
        fingerprint=fingerprint,
        unchanged=True,
    )
    temporary = out / f".report.json.{os.getpid()}.tmp"
    temporary.write_text(json.dumps(report(assembly), ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
    os.replace(temporary, out / "report.json")
    return assembly


def _code_of_assembly() -> str:
    digest = hashlib.sha1(__version__.encode(), usedforsecurity=False)
    for module in sorted(Path(__file__).parent.glob("*.py")):
        digest.update(module.read_bytes())
    return digest.hexdigest()[:12]


ASSEMBLY_VERSION = _code_of_assembly()


class RegulatoryWriter:
    """decp.json (1.5: one list) and decp-2022.json (2022: a marché list and a concession list), streamed.

    2022 concessions are spooled aside while the marché list is written, then appended."""

    def __init__(self, path_15: Path, path_2022: Path, folder: Path) -> None:
        self.decp = open(path_15, "wb")  # noqa: SIM115 - closed by __exit__
        self.decp.write(b'{"marches": [')
        self.marches_2022 = open(path_2022, "wb")  # noqa: SIM115
        self.marches_2022.write(b'{"marches": {"marche": [')
        self.concessions_2022 = tempfile.TemporaryFile(dir=folder)  # noqa: SIM115
        self.first = {"1.5": True, "marche": True, "contrat-concession": True}

    def write_many(self, lines: list[bytes], version: str, kind: str) -> None:
        """Records of one format and kind, serialized (JSON lines of a cached result), in order."""
        if not lines:
            return
        if version == "2.0":
            target = self.concessions_2022 if kind == "contrat-concession" else self.marches_2022
        else:
            kind, target = "1.5", self.decp
        target.write(b"\n" if self.first[kind] else b",\n")
        target.write(b",\n".join(line.rstrip(b"\n") for line in lines))
        self.first[kind] = False

    def __enter__(self) -> RegulatoryWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.decp.write(b"\n]}\n")
        self.marches_2022.write(b"\n]")
        if not self.first["contrat-concession"]:
            self.marches_2022.write(b', "contrat-concession": [')
            self.concessions_2022.seek(0)
            shutil.copyfileobj(self.concessions_2022, self.marches_2022)
            self.marches_2022.write(b"\n]")
        self.marches_2022.write(b"}}\n")
        for f in (self.decp, self.marches_2022, self.concessions_2022):
            f.close()


def _shrink(out: Path, exported: int, max_shrink: float) -> str | None:
    """Why the new build shrinks too much compared with the previous one, or None."""
    try:
        before = json.loads((out / "report.json").read_text(encoding="utf-8"))["total"]["exported"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(before, int) and before and exported < before * (1 - max_shrink):
        return (
            f"decp.json would hold {exported:,} contracts against {before:,} in the previous build, "
            f"a drop of more than {max_shrink:.0%}"
        )
    return None


def report(assembly: Assembly) -> dict[str, Any]:
    return {
        "generated_at": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "decp_pipeline": __version__,
        "sources": {source: counts.to_dict() for source, counts in assembly.sources.items()},
        "total": assembly.total.to_dict(),
        "tables": assembly.tables,
        "overlap": assembly.overlap,
        "near_duplicates": assembly.near_duplicates,
        "warnings": assembly.warnings,
        "fetch": assembly.fetch,
        "build_fingerprint": assembly.fingerprint,
    }
