"""The contracts of a release cut into pieces, each mapped on its own (in a worker process when the release is
big enough): a piece is a range of whole lines of decp.json or decp-2022.json, as RegulatoryWriter writes them
(`{"marches": [` on the first line, one record per line, a list's end on a line starting with `]`).

Each piece writes its records (serialized, joined by `,\\n`) to `<n>.json` and its releases, by month, to the
spool folder `<n>/`, `<YYYY-MM>` files of `<day><release>` lines; ocds/write.py joins them in piece order, so the
output is the same whatever the number of processes.
"""

from __future__ import annotations

import mmap
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any
from urllib.parse import quote

import orjson

from decp_pipeline.models.contract import Contract, kind_of
from decp_pipeline.ocds.mapping import ocid_of, releases
from decp_pipeline.ocds.merge import compile_releases
from decp_pipeline.ocds.settings import OcdsSettings

PIECE_BYTES = 8 * 1024 * 1024  # of record lines per piece: many per process, to even out their ends
OPEN_SPOOLS = 32  # month files open at once (a real release spans ~100 months; the rest are reopened)
SEPARATOR = b'\n], "contrat-concession": ['  # where decp-2022.json's concessions start
COUNTED = ("contracts", "releases", "undated_modifications", "early_modifications")  # a piece's counts, summed
BUFFER = 256 * 1024  # bytes written at a time to each output of a piece


@dataclass(frozen=True)
class Piece:
    path: str
    version: str  # "1.5" or "2.0"
    kind: str | None  # "marche" or "contrat-concession"; None: each record's `_type` says (format 1.5)
    start: int  # the byte offsets of its lines, [start, end)
    end: int


def cut(folder: Path, size: int | None = None) -> list[Piece]:
    """The pieces of decp.json then decp-2022.json, in order (of `size` bytes of lines, default PIECE_BYTES)."""
    size = size or PIECE_BYTES
    found = []
    for name, version in (("decp.json", "1.5"), ("decp-2022.json", "2.0")):
        path = folder / name
        with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as data:
            for kind, first, end in _lists(data, version):
                start = first
                while start < end:
                    stop = end if start + size >= end else data.find(b"\n", start + size) + 1 or end
                    found.append(Piece(str(path), version, kind, start, stop))
                    start = stop
    return found


def _lists(data: mmap.mmap, version: str) -> list[tuple[str | None, int, int]]:
    """The byte ranges of each list's record lines: (kind, start, end)."""
    start, end = data.find(b"\n") + 1, data.rfind(b"\n]") + 1
    if version == "1.5":
        return [(None, start, end)]
    separator = data.rfind(SEPARATOR)
    if separator < 0:
        return [("marche", start, end)]
    return [("marche", start, separator + 1), ("contrat-concession", data.find(b"\n", separator + 1) + 1, end)]


def map_piece(piece: Piece, number: int, parts: str, settings: OcdsSettings) -> dict[str, Any]:
    """Map one piece into `parts` (records in `<number>.json`, releases in the spool `<number>/`); its counts:
    contracts, releases, and the contracts left out, by reason."""
    summary: dict[str, Any] = {**dict.fromkeys(COUNTED, 0), "skipped": {}}
    spool = Spool(Path(parts) / f"{number:05d}")
    with open(piece.path, "rb") as f:
        f.seek(piece.start)
        lines = f.read(piece.end - piece.start).split(b"\n")
    with open(Path(parts) / f"{number:05d}.json", "wb", buffering=BUFFER) as out:
        separator = b""
        for line in lines:
            if not line:
                continue
            record = orjson.loads(line.removesuffix(b","))
            contract = Contract(record, piece.version, piece.kind or kind_of(record))
            serialized = _record(contract, settings, spool, summary)
            if serialized is not None:
                out.write(separator + serialized)
                separator = b",\n"
    spool.close()
    return summary


def _record(contract: Contract, settings: OcdsSettings, spool: Spool, summary: dict[str, Any]) -> bytes | None:
    """One contract's releases into the spool; its record, serialized (None: left out, counted why)."""
    try:
        ocid = ocid_of(settings.prefix, contract)
        if ocid is None:
            raise ValueError("no uid (buyer SIRET and id)")
        found = releases(contract, ocid)
        ordered = sorted(found, key=lambda r: r["date"])  # a record's releases are in date order
        lines = [orjson.dumps(release) for release in ordered]
        links = [{"url": f"{package_uri(settings, r['date'][:10])}#{quote(r['id'], safe='')}", "date": r["date"],
                  "tag": r["tag"]} for r in ordered]  # fmt: skip
        record = orjson.dumps({"ocid": ocid, "releases": links, "compiledRelease": compile_releases(found)})
    except (ValueError, orjson.JSONEncodeError) as e:  # JSONEncodeError: nested too deep to write
        reason = str(e) if isinstance(e, ValueError) else f"not written as JSON ({e})"
        summary["skipped"][reason] = summary["skipped"].get(reason, 0) + 1
        return None
    for release, line in zip(ordered, lines, strict=True):
        spool.add(release["date"][:10], line)
    summary["contracts"] += 1
    summary["releases"] += len(found)
    summary["undated_modifications"] += len(contract.modifications) - len(found) + 1
    summary["early_modifications"] += sum(release["date"] < found[0]["date"] for release in found[1:])
    return record


def package_uri(settings: OcdsSettings, day: str) -> str:
    """The URI of a day's release package."""
    return f"{settings.base_uri}/releases/{day[:4]}/{day}.json"


class Spool:
    """Release lines kept aside by month, a few month files open at once."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir()
        self.open: OrderedDict[str, IO[bytes]] = OrderedDict()

    def add(self, day: str, line: bytes) -> None:
        month = day[:7]
        handle = self.open.get(month)
        if handle is None:
            if len(self.open) >= OPEN_SPOOLS:
                self.open.popitem(last=False)[1].close()
            handle = self.open[month] = open(self.folder / month, "ab", buffering=BUFFER)  # noqa: SIM115 - close()
        else:
            self.open.move_to_end(month)
        handle.write(day.encode() + line + b"\n")

    def close(self) -> None:
        for handle in self.open.values():
            handle.close()
        self.open.clear()
