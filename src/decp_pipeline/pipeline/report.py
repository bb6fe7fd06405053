"""report.json, the accounting of a build, and what decides whether the outputs in place can be kept as they
are (the fingerprint of their inputs) or must not be replaced (the shrink guard)."""

from __future__ import annotations

import datetime
import hashlib
import json
import os
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from decp_pipeline import __version__
from decp_pipeline.pipeline.anomalies import Run
from decp_pipeline.pipeline.cache import code_version, reading_version
from decp_pipeline.pipeline.counts import Counts
from decp_pipeline.pipeline.plan import AssemblySource
from decp_pipeline.pipeline.tables import TABLES

OUTPUT_FILES = ("decp.json", "decp-2022.json", "rejected.jsonl", "report.json")


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

    def account(
        self, counts: dict[str, Counts], tables: dict[str, int], overlap: dict[str, Any], near: dict[str, Any]
    ) -> None:
        """The accounting of a build: per source and in total, rows per table, overlap, near duplicates."""
        self.sources = counts
        for source_counts in counts.values():
            self.total.add(source_counts)
        self.tables, self.overlap, self.near_duplicates = tables, overlap, near


@cache
def assembly_version() -> str:
    """The code that assembles the outputs from the cached results (the fingerprint changes with it)."""
    return code_version("decp_pipeline.pipeline.assemble")


def fingerprint(stages: list[AssemblySource], run: Run) -> str:
    """What the outputs are made of: the code, the run's settings and day, each source's files and results."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"{reading_version()}|{assembly_version()}|{run.today}|{run.max_amount}".encode())
    for stage in stages:
        digest.update(f"\n{stage.source}|{stage.priority}".encode())
        for file in stage.files:
            digest.update(f"\n{file.path}|{file.cached.name}".encode())
    return digest.hexdigest()


def reuse(out: Path, fingerprint: str, fetch: dict[str, Any]) -> Assembly | None:
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


def shrink(out: Path, exported: int, max_shrink: float) -> str | None:
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
