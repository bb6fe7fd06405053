"""The published outputs of `decp build`, assembled from the sources' stages and written as one set.

    OUT/decp.json         {"marches": [...]}: format 1.5, valid records only, each with `uid` and `source`
    OUT/decp-2022.json    format 2022, valid records only, in the shape of the 2022 schema
    OUT/rejected.jsonl    one line per record left out of the JSON outputs, with its errors
    OUT/<table>.csv / .parquet, datapackage.json   the tables (pipeline/tables.py)
    OUT/report.json       the accounting: for every source, read = exported + rejected + duplicates

Sources are read by descending `priority`; one record is kept per contract (pipeline/dedup/) and every other
copy is a duplicate of the source whose copy is dropped, counted under its rule (pipeline/plan.py). Every file
is written under a temporary name in OUT and renamed at the end, all of them or none.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from decp_pipeline.exceptions import DecpError, OutputError, ShrinkError
from decp_pipeline.pipeline.anomalies import DEFAULT_MAX_AMOUNT, Run
from decp_pipeline.pipeline.cache import COUNTS
from decp_pipeline.pipeline.plan import AssemblySource, Plan, make_plan
from decp_pipeline.pipeline.report import OUTPUT_FILES, Assembly, fingerprint, report, reuse, shrink
from decp_pipeline.pipeline.stage import load_manifest
from decp_pipeline.pipeline.tables import MAIN_TABLES, TABLES
from decp_pipeline.pipeline.writers.regulatory import RegulatoryWriter, write_records
from decp_pipeline.pipeline.writers.tables import TableOutput, anomalies_of_the_run, write_table

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
    today: datetime.date | None = None,
) -> Assembly:
    """Write the outputs from the stages of `sources` ((id, priority), any order).

    Nothing is read again when the inputs are those of the outputs in place (`build_fingerprint` of
    report.json): only report.json is renewed. Raises ShrinkError, leaving the previous outputs in place, when
    the new decp.json would hold fewer than (1 - max_shrink) times the previous build's contracts, unless
    `force`.
    """
    out.mkdir(parents=True, exist_ok=True)
    run = Run(today=today, max_amount=max_amount)
    by_priority = sorted(sources, key=lambda s: (-s[1], s[0]))
    stages = [AssemblySource(s, p, files) for s, p in by_priority if (files := load_manifest(data_dir, s)) is not None]
    _check_cached(stages)
    inputs = fingerprint(stages, run)
    reused = reuse(out, inputs, fetch)
    if reused is not None:
        return reused
    assembly = Assembly(fetch=fetch, fingerprint=inputs)
    plan = make_plan(data_dir, stages, run)
    try:
        temporary, rows = _write_outputs(out, stages, plan, run)
        assembly.account(plan.counts, rows, plan.overlap, plan.near_duplicates)
        shrinks = shrink(out, assembly.total.exported, max_shrink)
        if shrinks and not force:
            raise ShrinkError(shrinks + "; the previous outputs are kept (use --force to publish anyway)")
        if shrinks:
            assembly.warnings.append(shrinks + "; published anyway (--force)")
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


def _write_outputs(
    out: Path, stages: list[AssemblySource], plan: Plan, run: Run
) -> tuple[dict[str, Path], dict[str, int]]:
    """Every output but report.json, under temporary names in `out`: those names, and the rows per table."""
    temporary = {name: out / f".{name}.{os.getpid()}.tmp" for name in OUTPUT_FILES}
    tables = TableOutput(out, finish={name: anomalies_of_the_run(run) for name in MAIN_TABLES})
    with (
        RegulatoryWriter(temporary["decp.json"], temporary["decp-2022.json"], out) as regulatory,
        open(temporary["rejected.jsonl"], "wb") as rejected,
    ):
        _write_in_parallel(
            [lambda name=name: write_table(name, stages, plan, tables) for name in TABLES]
            + [lambda: write_records(stages, plan, regulatory, rejected)]
        )
    temporary.update(tables.close())
    return temporary, {name: table.count for name, table in tables.tables.items()}


def _publish(temporary: dict[str, Path], out: Path) -> None:
    """Rename the written outputs into place (each rename atomic)."""
    for number, (name, path) in enumerate(temporary.items()):
        try:
            os.replace(path, out / name)
        except OSError as e:
            done = ", ".join(list(temporary)[:number]) or "none"
            raise OutputError(f"publishing the outputs in {out}/ stopped at {name} ({e}); published: {done}") from None


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
