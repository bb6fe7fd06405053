"""report.json, the accounting of a build, and what decides whether the current release can be kept as it is
(the fingerprint of its inputs, its files against its manifest) or must not be replaced (the shrink guard)."""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

from decp_pipeline import __version__
from decp_pipeline.pipeline.anomalies import Run
from decp_pipeline.pipeline.cache import code_version, reading_version
from decp_pipeline.pipeline.counts import Counts
from decp_pipeline.pipeline.coverage import Silence
from decp_pipeline.pipeline.plan import AssemblySource
from decp_pipeline.pipeline.release import Releases, damage

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
    unchanged: bool = False  # the current release was made of the same inputs: nothing was written
    release: str | None = None  # the build id of the release written (or kept, when unchanged)
    silent: list[dict[str, Any]] = field(default_factory=list)  # sources gone silent (pipeline/coverage.py)
    enrichment: dict[str, dict[str, int]] = field(default_factory=dict)  # per source (pipeline/enrich.py)
    html: dict[str, Any] = field(default_factory=dict)  # what the HTML report wrote (report/write.py)
    ocds: dict[str, Any] = field(default_factory=dict)  # what the OCDS export wrote (ocds/write.py)
    sqlite: dict[str, Any] = field(default_factory=dict)  # what decp.sqlite holds (explore/database.py)

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
    """The code that assembles the outputs from the cached results, the report's templates and data, the OCDS
    extension (the fingerprint changes with them)."""
    digest = hashlib.sha1(code_version("decp_pipeline.pipeline.assemble").encode(), usedforsecurity=False)
    package = Path(__file__).resolve().parents[1]
    report, extension = package / "report", package / "ocds" / "extension"
    for path in sorted([*report.glob("templates/*"), *report.glob("*.csv"), *extension.glob("*.json")]):
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:12]


def fingerprint(stages: list[AssemblySource], run: Run, references: dict[str, Path] | None = None,
                outputs: str = "") -> str:  # fmt: skip
    """What the outputs are made of: the code, the run's settings and day, the optional outputs switched on,
    each source's files and results, and the reference data (the stamp of each normalized file: its input's
    size, time and sha1)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"{reading_version()}|{assembly_version()}|{run.today}|{run.max_amount}|{outputs}".encode())
    for stage in stages:
        digest.update(f"\n{stage.source}|{stage.priority}".encode())
        for file in stage.files:
            digest.update(f"\n{file.path}|{file.cached.name}".encode())
    for name, path in sorted((references or {}).items()):
        digest.update(f"\n{name}|{_reference_identity(path)}".encode())
    return digest.hexdigest()


def _reference_identity(path: Path) -> str:
    """What a normalized reference is made of: its input's sha1 and the normalization's version (a touched but
    unchanged input is the same reference), from the stamp beside it; else the file's time."""
    try:
        stamp = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return f"{stamp['sha1']}|{stamp['version']}"
    except (OSError, ValueError, KeyError, TypeError):
        return str(path.stat().st_mtime_ns)


def reuse(releases: Releases, fingerprint: str, fetch: dict[str, Any], *, checksums: bool = False
          ) -> tuple[Assembly | None, list[str]]:  # fmt: skip
    """The current release, when it was made of the same inputs and its files match its manifest (sizes, and
    sha256 with `checksums`): nothing is written. Else None, with what is damaged in a release that should
    have been kept (it is then rebuilt)."""
    current = releases.current()
    if current is None:
        return None, []
    try:
        previous = json.loads((current / "report.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        previous = None
    if isinstance(previous, dict) and previous.get("build_fingerprint") != fingerprint:
        return None, []
    problems = damage(current, checksums=checksums)
    if problems or not isinstance(previous, dict):
        found = "; ".join(problems) or "report.json is unreadable"
        return None, [f"release {current.name} was damaged ({found}): rebuilt from the cached results"]
    assembly = Assembly(
        sources={source: Counts.from_dict(counts) for source, counts in previous["sources"].items()},
        total=Counts.from_dict(previous["total"]),
        # The build that made it said its warnings (they stay in its report.json); the silent sources are said
        # again: they are still silent (same inputs, same day).
        warnings=[silence_warning(s) for s in previous.get("silent", []) if isinstance(s, dict)],
        silent=previous.get("silent", []),
        enrichment=previous.get("enrichment", {}),
        ocds=previous.get("ocds") or {},
        sqlite=previous.get("sqlite") or {},
        fetch=fetch,
        overlap=previous.get("overlap", {}),
        tables=previous.get("tables", {}),
        near_duplicates=previous.get("near_duplicates", {}),
        fingerprint=fingerprint,
        unchanged=True,
        release=current.name,
    )
    return assembly, []


def silence_warning(silence: dict[str, Any]) -> str:
    """The warning of a silent source of a report.json (pipeline/coverage.py writes them)."""
    return Silence(**silence).warning


def shrink(releases: Releases, exported: int, max_shrink: float) -> str | None:
    """Why the new build shrinks too much compared with the current release, or None."""
    current = releases.current() or releases.out  # a folder of flat outputs of 0.11
    try:
        before = json.loads((current / "report.json").read_text(encoding="utf-8"))["total"]["exported"]
    except (OSError, ValueError, KeyError, TypeError):
        return None
    if isinstance(before, int) and before and exported < before * (1 - max_shrink):
        return (
            f"decp.json would hold {exported:,} contracts against {before:,} in the current release, "
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
        "silent": assembly.silent,
        "enrichment": assembly.enrichment,
        "ocds": assembly.ocds,
        "sqlite": assembly.sqlite,
        "fetch": assembly.fetch,
        "build_fingerprint": assembly.fingerprint,
        "release": assembly.release,
    }
