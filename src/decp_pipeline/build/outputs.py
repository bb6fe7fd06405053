"""The published outputs of `decp build`, assembled from the sources' stages and written atomically.

    OUT/decp.json       {"marches": [...]}: format 1.5, valid records only, each with `uid` and `source`
    OUT/rejected.jsonl  one line per record left out of decp.json, with its errors
    OUT/report.json     the accounting: for every source, read = exported + rejected + duplicates

Sources are read by descending `priority`; one record is kept per contract (build/consolidate.py) and every
other copy is a duplicate of the source whose copy is dropped, counted under its rule. Every file is written
under a temporary name in OUT and renamed at the end, all of them or none.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any

import orjson

from decp_pipeline import __version__
from decp_pipeline.build.consolidate import Consolidation, uid_of, view
from decp_pipeline.build.quality import DEFAULT_MAX_AMOUNT, QualityChecks
from decp_pipeline.build.stage import Counts, error_code, load_counts, stage_dir
from decp_pipeline.build.tables import TableWriter
from decp_pipeline.exceptions import DecpError
from decp_pipeline.normalize.v2 import flat_view

OUTPUT_FILES = ("decp.json", "decp-2022.json", "rejected.jsonl", "report.json")
# A build that would shrink the published contracts by more than this share keeps the previous outputs.
DEFAULT_MAX_SHRINK = 0.5


class ShrinkError(DecpError):
    """The new outputs would hold far fewer contracts than the previous ones: they were not published."""


@dataclass
class Assembly:
    sources: dict[str, Counts] = field(default_factory=dict)
    total: Counts = field(default_factory=Counts)
    warnings: list[str] = field(default_factory=list)
    fetch: dict[str, Any] = field(default_factory=dict)
    overlap: dict[str, dict[str, int]] = field(default_factory=dict)
    tables: dict[str, int] = field(default_factory=dict)  # rows per table
    near_duplicates: dict[str, Any] = field(default_factory=dict)


def assemble(
    data_dir: Path,
    out: Path,
    sources: list[tuple[str, int]],
    fetch: dict[str, Any],
    *,
    max_shrink: float = DEFAULT_MAX_SHRINK,
    max_amount: float = DEFAULT_MAX_AMOUNT,
    force: bool = False,
) -> Assembly:
    """Write the outputs from the stages of `sources` ((id, priority), any order).

    Raises ShrinkError, leaving the previous outputs in place, when the new decp.json would hold fewer than
    (1 - max_shrink) times the previous build's contracts, unless `force`.
    """
    out.mkdir(parents=True, exist_ok=True)
    assembly = Assembly(fetch=fetch)
    by_priority = sorted(sources, key=lambda s: (-s[1], s[0]))
    ordered = [(s, p) for s, p in by_priority if load_counts(data_dir, s) is not None]
    consolidation = Consolidation(sources=[s for s, _ in ordered])
    order = 0
    for index, (source, priority) in enumerate(ordered):  # pass 1: the winner of each contract
        for line, item in _stage_records(data_dir, source):
            consolidation.offer(index, line, item, priority, order)
            order += 1
    temporary = {name: out / f".{name}.{os.getpid()}.tmp" for name in OUTPUT_FILES}
    tables = TableWriter(out)
    quality = QualityChecks(max_amount=max_amount)
    try:
        with (
            RegulatoryWriter(temporary["decp.json"], temporary["decp-2022.json"], out) as regulatory,
            open(temporary["rejected.jsonl"], "wb") as rejected,
        ):
            for index, (source, _priority) in enumerate(ordered):  # pass 2: write the winners, count the rest
                counts = load_counts(data_dir, source)
                assert counts is not None
                for line, item in _stage_records(data_dir, source):
                    rule = consolidation.verdict(index, line, item)
                    if rule is not None:
                        counts.exported -= 1
                        counts.duplicates += 1
                        counts.duplicates_by_rule[rule] += 1
                        continue
                    flat = view(item)
                    consolidation.flag_near_duplicate(flat, source, uid_of(item))
                    anomalies = quality.check(flat)
                    counts.anomalies.update(anomalies)
                    regulatory.write(item)
                    tables.add(flat, source=source, valid=True, errors=[], anomalies=anomalies, file=item["file"],
                               position=item["position"], version=item.get("format", "1.5"))  # fmt: skip
                assembly.sources[source] = counts
                assembly.total.add(counts)
            for source, _priority in ordered:  # after every valid row, so that a contract's valid row wins
                _rejected(data_dir, source, rejected, tables, quality)
        temporary.update(tables.close())
        assembly.tables = {name: table.count for name, table in tables.tables.items()}
        assembly.overlap = consolidation.overlap()
        assembly.near_duplicates = {
            "count": sum(consolidation.near_pairs.values()),
            "by_source_pair": dict(sorted(consolidation.near_pairs.items())),
            "examples": consolidation.near_examples,
        }
        shrink = _shrink(out, assembly.total.exported, max_shrink)
        if shrink and not force:
            raise ShrinkError(shrink + "; the previous outputs are kept (use --force to publish anyway)")
        if shrink:
            assembly.warnings.append(shrink + "; published anyway (--force)")
        temporary["report.json"].write_text(
            json.dumps(report(assembly), ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
        )
        for name, path in temporary.items():
            os.replace(path, out / name)
    finally:
        tables.discard()
        for path in temporary.values():
            path.unlink(missing_ok=True)
    return assembly


def _rejected(data_dir: Path, source: str, out: IO[bytes], tables: TableWriter, quality: QualityChecks) -> None:
    """Copy a source's rejected lines (without the stage's normalized copy) and add them to the tables."""
    with open(stage_dir(data_dir, source) / "rejected.jsonl", "rb") as lines:
        for line in lines:
            item = orjson.loads(line)
            normalized = item.pop("normalized", None)
            out.write(orjson.dumps(item) + b"\n")
            if isinstance(normalized, dict):
                version = item.get("format", "1.5")
                kind = "contrat-concession" if "autoriteConcedante" in normalized else "marche"
                flat = flat_view(normalized, kind) if version == "2.0" else normalized
                codes = [error_code(e["rule"], e["path"]) for e in item["errors"]]
                tables.add(flat, source=source, valid=False, errors=codes, anomalies=quality.check(flat),
                           file=item["file"], position=item["position"], version=version)  # fmt: skip


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

    def write(self, item: dict[str, Any]) -> None:
        if item.get("format") == "2.0":
            kind = item.get("kind", "marche")
            target = self.concessions_2022 if kind == "contrat-concession" else self.marches_2022
        else:
            kind, target = "1.5", self.decp
        target.write(b"\n" if self.first[kind] else b",\n")
        target.write(orjson.dumps(item["record"]))
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


def _stage_records(data_dir: Path, source: str) -> Iterator[tuple[int, dict[str, Any]]]:
    with open(stage_dir(data_dir, source) / "records.jsonl", "rb") as lines:
        for number, line in enumerate(lines):
            yield number, orjson.loads(line)


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
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "decp_pipeline": __version__,
        "sources": {source: counts.to_dict() for source, counts in assembly.sources.items()},
        "total": assembly.total.to_dict(),
        "tables": assembly.tables,
        "overlap": assembly.overlap,
        "near_duplicates": assembly.near_duplicates,
        "warnings": assembly.warnings,
        "fetch": assembly.fetch,
    }
