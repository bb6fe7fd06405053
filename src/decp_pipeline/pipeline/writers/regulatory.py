"""decp.json, decp-2022.json and rejected.jsonl, streamed from the cached results in reading order: each kept
record's JSON line is copied as the cache holds it, never parsed again."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import IO

import numpy as np

from decp_pipeline.pipeline.cache import copy_rejected_lines, record_blocks, record_lines
from decp_pipeline.pipeline.plan import FORMS, AssemblyFile, AssemblySource, Plan
from decp_pipeline.progress import Meter, Tick, unmetered

COPY_CHUNK = 8 * 1024 * 1024  # bytes of JSON lines copied at a time


def write_records(
    stages: list[AssemblySource],
    plan: Plan,
    regulatory: RegulatoryWriter,
    rejected: IO[bytes],
    meter: Meter = unmetered,
) -> None:
    """decp.json, decp-2022.json and rejected.jsonl, file after file in reading order; `meter` is told the files
    and the records written so far."""
    total, done, records = sum(len(stage.files) for stage in stages), 0, 0
    meter(Tick("writing", 0, total, "files"))  # the step starts: its time counts from now
    for stage in stages:
        for file in stage.files:
            records += _copy_records(file, plan, regulatory)
            copy_rejected_lines(file.cached, stage.source, file.path, rejected)
            done += 1
            meter(Tick("writing", done, total, "files", records))


def _copy_records(file: AssemblyFile, plan: Plan, regulatory: RegulatoryWriter) -> int:
    """The kept records of one file into decp.json / decp-2022.json, as the cache holds them (JSON lines); how
    many."""
    keep = plan.keep.get(file.index)
    if keep is None or not keep.any():
        return 0
    forms = plan.forms.get(file.index)
    if keep.all() and (forms is None or (forms == forms[0]).all()):  # most files: copied in blocks, not lines
        version, kind = ("1.5", "marche") if forms is None else FORMS[forms[0]]
        for block in record_blocks(file.cached, COPY_CHUNK):
            regulatory.write_block(block, version, kind)
        return len(keep)
    first = 0
    for lines in record_lines(file.cached, COPY_CHUNK):
        kept = keep[first : first + len(lines)]
        if forms is None:  # format 1.5 only
            selected = lines if kept.all() else [line for line, k in zip(lines, kept, strict=True) if k]
            regulatory.write_many(selected, "1.5", "marche")
        else:
            # Grouped by the list each record goes to, so that each list keeps the reading order (the order
            # index.parquet numbers them in): 1.5 marchés and concessions share decp.json's one list.
            groups: dict[tuple[str, str], list[bytes]] = {}
            for number in np.flatnonzero(kept):
                version, kind = FORMS[forms[first + number]]
                groups.setdefault((version, kind if version == "2.0" else "marche"), []).append(lines[number])
            for (version, kind), selected in groups.items():
                regulatory.write_many(selected, version, kind)
        first += len(lines)
    return int(keep.sum())


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

    def write_block(self, block: bytes, version: str, kind: str) -> None:
        """Whole JSON lines (each ending with a newline, none inside: orjson escapes them), as `write_many`
        would write them, with one replace instead of a split and a join."""
        if block:
            self.write_many([block[:-1].replace(b"\n", b",\n")], version, kind)

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
