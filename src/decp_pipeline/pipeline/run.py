"""`decp build`: fetch (unless offline), stage each selected source, reuse the others' last stages, assemble.

One source failing (nothing to read, every file unreadable) never stops the others: it is counted and the
build goes on; the exit code says something failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decp_pipeline.config import DEFAULT_KEEP, Config, Source
from decp_pipeline.exceptions import InputError
from decp_pipeline.fetch.runner import fetch_sources
from decp_pipeline.fetch.store import Store
from decp_pipeline.pipeline.anomalies import DEFAULT_MAX_AMOUNT
from decp_pipeline.pipeline.assemble import DEFAULT_MAX_SHRINK, assemble
from decp_pipeline.pipeline.counts import Counts
from decp_pipeline.pipeline.outputs import Outputs
from decp_pipeline.pipeline.report import Assembly
from decp_pipeline.pipeline.stage import Reading, SourceStage, read_new_files, recover, workers
from decp_pipeline.progress import Meter, Progress, silent, unmetered
from decp_pipeline.references import References, prepare_references


@dataclass
class BuildRun:
    assembly: Assembly
    staged: list[str] = field(default_factory=list)  # sources processed in this run
    reused: list[str] = field(default_factory=list)  # sources whose last stage was reused
    failed: dict[str, str] = field(default_factory=dict)  # source → why it failed as a whole
    references: References = field(default_factory=References)  # the reference data prepared for the build

    @property
    def ok(self) -> bool:
        if self.failed:
            return False
        return all(self.assembly.sources[s].files_failed == 0 for s in self.staged if s in self.assembly.sources)


def parse_inputs(config: Config, values: Sequence[str]) -> dict[str, list[str]]:
    """`--input SOURCE_ID=PATH` options: the files of each source (a folder means every file in it)."""
    inputs: dict[str, list[str]] = {}
    for value in values:
        source_id, sep, path = value.partition("=")
        if not sep or not source_id or not path:
            raise InputError(f"--input {value!r}: expected SOURCE_ID=PATH")
        config.get(source_id)
        target = Path(path)
        if target.is_dir():
            files = sorted(str(p) for p in target.iterdir() if p.is_file() and not p.name.startswith("."))
        elif target.is_file():
            files = [str(target)]
        else:
            raise InputError(f"--input {value!r}: {path} does not exist")
        inputs.setdefault(source_id, []).extend(files)
    return inputs


def build(
    config: Config,
    store: Store,
    out: Path,
    source_ids: Sequence[str] = (),
    *,
    inputs: dict[str, list[str]] | None = None,
    offline: bool = False,
    force: bool = False,
    verify: bool = False,
    progress: Progress = silent,
    meter: Meter = unmetered,
    references: dict[str, str] | None = None,
) -> BuildRun:
    """`references`: `--reference NAME=PATH` files, which replace the configured ones (references/)."""
    inputs = inputs or {}
    workers()  # a bad DECP_WORKERS fails the build before any work
    if source_ids:
        selected = [config.get(s) for s in dict.fromkeys(source_ids)]
    else:
        selected = [s for s in config.sources if s.enabled or s.id in inputs]
    to_fetch = [s.id for s in selected if s.id not in inputs]
    fetch_summary: dict[str, object] = {}
    failed: dict[str, str] = {}
    if to_fetch and not offline:
        fetched = fetch_sources(config, store, to_fetch, progress=progress, meter=meter)
        for result in fetched.results:
            fetch_summary[result.source] = {"status": result.status, "error": result.error}
    data_dir = store.data_dir
    prepared = prepare_references(config, data_dir, references or {}, offline=offline, progress=progress)
    recover(data_dir)
    plans = _plan_stages(selected, inputs, store, failed, progress)
    read_new_files(plans, meter)  # every source's new files in one pool: no core idle at the end of each source
    staged = []
    for stage, planned in plans:
        stage.finish(planned)
        staged.append(stage.source)
    reused = [s.id for s in config.sources if s.enabled and s.id not in {x.id for x in selected}]
    priorities = _priorities(config.sources, [*staged, *reused])
    assembly = assemble(data_dir, out, priorities, fetch_summary, force=force, verify=verify, meter=meter,
                        warnings=prepared.warnings, references=prepared.paths,
                        **_assembly_settings(config))  # fmt: skip
    for source_id, reason in failed.items():
        counts = assembly.sources.setdefault(source_id, Counts())
        counts.failed_files.append({"file": None, "error": reason})
    return BuildRun(assembly, staged, [s for s in reused if s in assembly.sources], failed, prepared)


def _assembly_settings(config: Config) -> dict[str, Any]:
    """The settings of sources.yaml the assembly takes: build.max_shrink, build.max_amount, releases.keep,
    outputs."""
    build = config.settings.get("build") or {}
    return {
        "max_shrink": build.get("max_shrink", DEFAULT_MAX_SHRINK),
        "max_amount": build.get("max_amount", DEFAULT_MAX_AMOUNT),
        "keep": (config.settings.get("releases") or {}).get("keep", DEFAULT_KEEP),
        "outputs": Outputs.from_settings(config.settings.get("outputs"), config.settings.get("ocds")),
    }


def _plan_stages(
    selected: list[Source],
    inputs: dict[str, list[str]],
    store: Store,
    failed: dict[str, str],
    progress: Progress,
) -> list[tuple[SourceStage, list[tuple[str, Path]]]]:
    """Each selected source's stage and its files with their cached results; a source with nothing to read
    is put in `failed`."""
    plans = []
    for source in selected:
        files = inputs.get(source.id) or [str(store.absolute(r.path)) for r in store.resources(source.id) if r.path]
        if not files:
            failed[source.id] = "nothing to read: no --input and nothing in the cache (run `decp fetch`)"
            progress(f"{source.id}: FAILED: {failed[source.id]}")
            continue
        stage = SourceStage(Reading(source.id, source.format, source.hooks), store.data_dir, progress)
        plans.append((stage, stage.plan(files)))
        progress(_planned(source.id, len(files), stage))
    return plans


def _planned(source: str, files: int, stage: SourceStage) -> str:
    """`X: reading 3 file(s)`, or what is reused and what cannot be opened: `X: 3 file(s): 1 to read, 1 unchanged
    (its result reused), 1 that cannot be opened`."""
    to_read, reused, unreadable = stage.files_to_read, stage.reused_files, stage.unreadable_files
    if to_read == files:
        return f"{source}: reading {files} file(s)"
    parts = [f"{to_read} to read"] if to_read else []
    if reused:
        parts.append(f"{reused} unchanged, their results reused" if reused > 1 else "1 unchanged, its result reused")
    if unreadable:
        parts.append(f"{unreadable} that cannot be opened")
    return f"{source}: {files} file(s): " + ", ".join(parts)


def _priorities(sources: Sequence[Source], ids: list[str]) -> list[tuple[str, int]]:
    wanted = set(ids)
    return [(s.id, s.priority) for s in sources if s.id in wanted]
