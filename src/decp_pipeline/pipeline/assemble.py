"""The published outputs of `decp build`, assembled from the sources' stages and written as one release
(pipeline/release.py: OUT/releases/<build id>/, made current in one step; the paths below are links into it).

    OUT/decp.json         {"marches": [...]}: format 1.5, valid records only, each with `uid` and `source`
    OUT/decp-2022.json    format 2022, valid records only, in the shape of the 2022 schema
    OUT/rejected.jsonl    one line per record left out of the JSON outputs, with its errors
    OUT/<table>.csv / .parquet, datapackage.json   the tables (pipeline/tables.py)
    OUT/report.json       the accounting: for every source, read = exported + rejected + duplicates
    OUT/report.html, OUT/acheteurs.csv, OUT/acheteurs/   the report, for people (report/), unless switched off
    OUT/ocds/             the contracts in OCDS 1.1 (ocds/), unless switched off
    OUT/decp.sqlite, OUT/metadata.json   the tables in SQLite, for Datasette (explore/), unless switched off

Sources are read by descending `priority`; one record is kept per contract (pipeline/dedup/) and every other
copy is a duplicate of the source whose copy is dropped, counted under its rule (pipeline/plan.py). The release
is written in a temporary folder, given its manifest, then made current: all of it or nothing.
"""

from __future__ import annotations

import datetime
import json
import os
import shutil
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pyarrow as pa

from decp_pipeline.config import DEFAULT_KEEP
from decp_pipeline.exceptions import DecpError, OutputError, ReleaseError, ShrinkError
from decp_pipeline.explore.database import write_database
from decp_pipeline.ocds.write import write_ocds
from decp_pipeline.pipeline import coverage, lineage
from decp_pipeline.pipeline.anomalies import DEFAULT_MAX_AMOUNT, Run
from decp_pipeline.pipeline.cache import COUNTS
from decp_pipeline.pipeline.delta import Delta, compare, write_delta
from decp_pipeline.pipeline.enrich import enrich
from decp_pipeline.pipeline.outputs import DEFAULT_OUTPUTS, Outputs
from decp_pipeline.pipeline.plan import AssemblySource, Plan, make_plan
from decp_pipeline.pipeline.release import Releases, checkpoint, new_build_id, read_manifest, write_manifest
from decp_pipeline.pipeline.report import OUTPUT_FILES, Assembly, fingerprint, report, reuse, shrink
from decp_pipeline.pipeline.stage import load_manifest
from decp_pipeline.pipeline.tables import TABLES
from decp_pipeline.pipeline.writers.regulatory import RegulatoryWriter, write_records
from decp_pipeline.pipeline.writers.tables import TableOutput, finishers, write_table
from decp_pipeline.progress import Meter, unmetered
from decp_pipeline.report.write import kept_report, write_report

# A build that would shrink the published contracts by more than this share keeps the previous outputs.
DEFAULT_MAX_SHRINK = 0.5


def assemble(
    data_dir: Path,
    out: Path,
    sources: list[tuple[str, int]],
    fetch: dict[str, Any],
    *,
    max_shrink: float = DEFAULT_MAX_SHRINK,
    max_amount: float = DEFAULT_MAX_AMOUNT,
    force: bool = False,
    keep: int = DEFAULT_KEEP,
    verify: bool = False,
    today: datetime.date | None = None,
    meter: Meter = unmetered,
    warnings: Sequence[str] = (),
    references: dict[str, Path] | None = None,
    outputs: Outputs = DEFAULT_OUTPUTS,
) -> Assembly:
    """Write a new release from the stages of `sources` ((id, priority), any order) and make it current.

    `warnings`: the build's own (the references left out), first among the assembly's and in report.json.
    `references`: the normalized reference data the tables are enriched from (pipeline/enrich.py).
    `outputs`: the optional outputs switched on (pipeline/outputs.py): the HTML report (report/).

    Nothing is written when the current release was made of the same inputs (`build_fingerprint`) and its files
    match its manifest (sizes; sha256 too with `verify`); a damaged one is rebuilt, with a warning. Raises
    ShrinkError, leaving the current release in place, when the new decp.json would hold fewer than
    (1 - max_shrink) times the current release's contracts, unless `force`.
    """
    releases = Releases(out)
    releases.remove_stale()
    run = Run(today=today, max_amount=max_amount)
    by_priority = sorted(sources, key=lambda s: (-s[1], s[0]))
    stages = [AssemblySource(s, p, files) for s, p in by_priority if (files := load_manifest(data_dir, s)) is not None]
    _check_cached(stages)
    inputs = fingerprint(stages, run, references, outputs.key)
    reused, damaged = reuse(releases, inputs, fetch, checksums=verify)
    if reused is not None:
        return _kept(releases, reused, warnings, keep)
    assembly = Assembly(fetch=fetch, fingerprint=inputs, warnings=[*warnings, *damaged])  # `damaged`: if rebuilt
    plan = make_plan(data_dir, stages, run)
    working = releases.working()
    try:
        temporary, rows = _write_outputs(working, stages, plan, run, meter)
        assembly.account(plan.counts, rows, plan.overlap, plan.near_duplicates)
        checkpoint("outputs-written")
        shrinks = _shrink_guard(releases, assembly, max_shrink, force)
        _rename(temporary, working)
        if references:  # else the enriched columns stay as written: empty
            assembly.enrichment = enrich(working, references)
        _write_coverage(working, assembly, run.today, releases.current())
        lineage.write_index(working, plan.published, stages)
        lineage.write_duplicates(working, plan.dropped)
        del plan  # its columns are not needed any more: the delta reads the two releases' indexes
        pa.default_memory_pool().release_unused()
        assembly.release = new_build_id(inputs)
        _finish(releases, working, assembly, (run.today, outputs), replaces_damaged=bool(damaged), forced=shrinks)
    except OSError as e:  # a full disk, a file in the way: the current release stays as it was
        raise OutputError(f"could not write the outputs in {out}/ ({e}): the current release was kept") from None
    finally:
        shutil.rmtree(working, ignore_errors=True)
    releases.prune(keep)
    return assembly


def _kept(releases: Releases, reused: Assembly, warnings: Sequence[str], keep: int) -> Assembly:
    """The current release kept as it is (same inputs, files whole): its links and the number kept seen to."""
    reused.warnings[:0] = warnings
    current = releases.current()
    reused.html = kept_report(current) if current is not None else {}
    releases.link_all()  # a build killed right after its swap left them undone
    releases.prune(keep)  # a lowered releases.keep applies at once
    return reused


def _shrink_guard(releases: Releases, assembly: Assembly, max_shrink: float, force: bool) -> str | None:
    """Why the new release shrinks past build.max_shrink (None: it does not); raises unless `force`."""
    shrinks = shrink(releases, assembly.total.exported, max_shrink)
    if shrinks and not force:
        raise ShrinkError(shrinks + "; the current release is kept (use --force to publish anyway)")
    if shrinks:
        assembly.warnings.append(shrinks + "; published anyway (--force)")
    return shrinks


def _finish(releases: Releases, working: Path, assembly: Assembly, settings: tuple[str, Outputs], *,
            replaces_damaged: bool, forced: str | None) -> None:  # fmt: skip
    """report.json, the delta, the HTML report (`settings`: the build's day, the outputs switched on), the
    manifest, last; then the release made current."""
    today, outputs = settings
    if outputs.ocds:  # its summary and warnings go in report.json
        _write_ocds(working, assembly, outputs)
    if outputs.sqlite:  # the tables as written (enriched), coverage.csv and buyers.csv; not acheteurs.csv, after
        assembly.sqlite = write_database(working, list(assembly.sources))
    document = _write_report(working, assembly)  # the delta reads its sources
    previous, delta = _delta(releases, working, assembly, replaces_damaged=replaces_damaged)
    write_delta(working, delta)
    if document["warnings"] != assembly.warnings:  # the delta's own warning
        document = _write_report(working, assembly)
    if outputs.report:
        assembly.html = write_report(working, document, today)
    assert assembly.release is not None
    write_manifest(working, assembly.release, document, previous, forced=forced)
    releases.commit(working, assembly.release)


def _write_ocds(working: Path, assembly: Assembly, outputs: Outputs) -> None:
    """ocds/ (ocds/write.py); a warning when contracts are left out of it."""
    published = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    assembly.ocds = write_ocds(working, outputs.ocds_settings, published)
    if skipped := assembly.ocds["skipped"]:
        why = "; ".join(f"{count:,} {reason}" for reason, count in sorted(skipped.items()))
        assembly.warnings.append(f"ocds: {sum(skipped.values()):,} contract(s) left out of ocds/ ({why})")


def _write_coverage(working: Path, assembly: Assembly, today: str, current: Path | None) -> None:
    """coverage.csv and buyers.csv from the tables just written; the silent sources, in report.json and as
    warnings (pipeline/coverage.py)."""
    rows = coverage.contracts(working)
    counts = {
        coverage.COVERAGE: coverage.write_coverage(working, rows),
        coverage.BUYERS: coverage.write_buyers(working, rows),
    }
    package = json.loads((working / "datapackage.json").read_text(encoding="utf-8"))
    package["resources"].extend(coverage.describe(counts))
    (working / "datapackage.json").write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", "utf-8")
    silent = coverage.silent_sources(rows, today, list(assembly.sources), current)
    assembly.silent = [silence.to_dict() for silence in silent]
    assembly.warnings.extend(silence.warning for silence in silent)


def _write_report(working: Path, assembly: Assembly) -> dict[str, Any]:
    document = report(assembly)
    document["warnings"] = list(document["warnings"])
    (working / "report.json").write_text(json.dumps(document, ensure_ascii=False, indent=2) + "\n", "utf-8")
    return document


def _delta(releases: Releases, working: Path, assembly: Assembly, *, replaces_damaged: bool = False
           ) -> tuple[str | None, Delta]:  # fmt: skip
    """The delta against the current release; against none, with a warning, when that one cannot be read.

    A rebuild of a damaged release (same inputs) replaces it: its delta is against the release the damaged one
    was compared with, so that the changes of that day are not lost."""
    previous = releases.current()
    if replaces_damaged and previous is not None and read_manifest(previous) is not None:  # else: its base unknown
        previous = releases.previous()
    try:
        return (previous.name if previous else None), compare(previous, working, name=assembly.release)
    except ReleaseError as e:
        assembly.warnings.append(f"{e}: this release's delta is against no release (every uid added)")
        return None, compare(None, working, name=assembly.release)


def _write_outputs(
    out: Path, stages: list[AssemblySource], plan: Plan, run: Run, meter: Meter
) -> tuple[dict[str, Path], dict[str, int]]:
    """Every output but report.json, under temporary names in `out`: those names, and the rows per table."""
    temporary = {name: out / f".{name}.{os.getpid()}.tmp" for name in OUTPUT_FILES if name != "report.json"}
    tables = TableOutput(out, finish=finishers(run))
    with (
        RegulatoryWriter(temporary["decp.json"], temporary["decp-2022.json"], out) as regulatory,
        open(temporary["rejected.jsonl"], "wb") as rejected,
    ):
        _write_in_parallel(
            [lambda name=name: write_table(name, stages, plan, tables) for name in TABLES]
            + [lambda: write_records(stages, plan, regulatory, rejected, meter)]
        )
    temporary.update(tables.close())
    return temporary, {name: table.count for name, table in tables.tables.items()}


def _rename(temporary: dict[str, Path], folder: Path) -> None:
    """The written outputs under their names, in the release being written."""
    for name, path in temporary.items():
        if name != "report.json":
            os.replace(path, folder / name)


def _check_cached(stages: list[AssemblySource]) -> None:
    for stage in stages:
        for file in stage.files:
            if not (file.cached / COUNTS).is_file():
                raise DecpError(
                    f"{stage.source}: the cached result of {file.path} is gone ({file.cached}): "
                    f"run `decp build {stage.source}` again"
                )


def _write_in_parallel(jobs: list[Callable[[], None]]) -> None:
    """Run the writing jobs (the regulatory files, each table) in threads: their work is mostly Arrow's and
    file I/O, which release the GIL, so that both cores are used; the first error is raised once all ended."""
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="decp-output") as pool:
        futures = [pool.submit(job) for job in jobs]
    for future in futures:
        future.result()
