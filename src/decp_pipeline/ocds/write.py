"""dist/ocds/: the release's valid, deduplicated contracts in OCDS 1.1, streamed from decp.json and decp-2022.json
once they are written (pipeline/assemble.py), before the manifest.

    ocds/releases/<YYYY>/<YYYY-MM-DD>.json   a release package per publication day (the day of each release's date)
    ocds/records.json                        one record package: per ocid, its releases linked, its compiled release
    ocds/extension/                          the decp extension the packages declare (extension.json, its schema)

`decp publish` sends the folder as one ocds.zip (ocds/archive.py).

One pass over the contracts, cut into pieces mapped side by side by worker processes (ocds/pieces.py): each
contract gives its releases (ocds/mapping.py), spooled by month into temporary files, and its record; then each
month's spools are split into its days' packages and the pieces' records joined into records.json. Memory holds
a piece (8 MB of records) per process and one month of release lines, whatever the size of the release.
"""

from __future__ import annotations

import os
import shutil
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import IO, Any

import orjson

from decp_pipeline.exceptions import OutputError
from decp_pipeline.ocds.pieces import COUNTED, Piece, cut, map_piece, package_uri
from decp_pipeline.ocds.settings import OcdsSettings
from decp_pipeline.pipeline.stage import kill_pool, worker_pool, workers

FOLDER = "ocds"
RECORDS = "records.json"
PARTS = ".parts"  # the pieces' records and spools, while the folder is written
EXTENSION = Path(__file__).resolve().parent / "extension"
COPY_BYTES = 1024 * 1024
# Records below which the export stays in this process: starting a worker (spawned: a fresh interpreter and the
# imports) costs about a second, the time of mapping some 30 MB of records.
PARALLEL_BYTES = 32 * 1024 * 1024


def write_ocds(folder: Path, settings: OcdsSettings, published: str) -> dict[str, Any]:
    """Write ocds/ into the release being written in `folder`; what was written (contracts,
    releases, packages, bytes, seconds, the contracts left out and why). `published`: the packages' date."""
    started = time.perf_counter()
    work = folder / ".ocds.tmp"
    shutil.rmtree(work, ignore_errors=True)
    try:
        work.mkdir()
        summary = _write_folder(folder, work, settings, published)
        shutil.rmtree(work / PARTS)
        shutil.copytree(EXTENSION, work / "extension")
        os.replace(work, folder / FOLDER)
    except OSError as e:
        raise OutputError(f"could not write {FOLDER}/ ({e}); the current release was kept "
                          "(outputs: {ocds: false} leaves it out)") from None  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    summary["bytes"] = sum(p.stat().st_size for p in (folder / FOLDER).rglob("*") if p.is_file())
    summary["seconds"] = round(time.perf_counter() - started, 2)
    return summary


def _write_folder(folder: Path, work: Path, settings: OcdsSettings, published: str) -> dict[str, Any]:
    """The pieces mapped into `work`/.parts, then the day packages and records.json from them; the counts."""
    parts = work / PARTS
    parts.mkdir()
    pieces = cut(folder)
    summary = _map(pieces, parts, settings)
    urls = _write_packages(parts, len(pieces), work / "releases", settings, published)
    if urls:  # no contract: a record package must hold one record and name one package (so none is written)
        _write_records(parts, len(pieces), work / RECORDS, urls, _header(settings, published,
                                                                         f"{settings.base_uri}/{RECORDS}"))  # fmt: skip
    summary["packages"] = len(urls)
    return summary


def _write_records(parts: Path, pieces: int, path: Path, urls: list[str], header: bytes) -> None:
    """records.json: the pieces' records joined in piece order, then the list of the day packages."""
    with open(path, "wb") as records:
        records.write(header[:-1] + b', "records": [')
        separator = b"\n"
        for number in range(pieces):
            part = parts / f"{number:05d}.json"
            if part.stat().st_size:
                records.write(separator)
                with open(part, "rb") as f:
                    shutil.copyfileobj(f, records, COPY_BYTES)
                separator = b",\n"
        records.write(b'\n], "packages": ' + orjson.dumps(urls) + b"}\n")


def _map(pieces: list[Piece], parts: Path, settings: OcdsSettings) -> dict[str, Any]:
    """Every piece mapped (ocds/pieces.py), in worker processes when there are several pieces; the counts."""
    count = min(workers(), len(pieces)) if sum(p.end - p.start for p in pieces) >= PARALLEL_BYTES else 1
    if count <= 1:
        results = [map_piece(piece, n, str(parts), settings) for n, piece in enumerate(pieces)]
    else:
        pool = worker_pool(count, spawn=True)
        try:
            futures = [pool.submit(map_piece, piece, n, str(parts), settings) for n, piece in enumerate(pieces)]
            results = [future.result() for future in futures]
        except BrokenProcessPool:  # a worker killed (out of memory, a signal): the build fails whole, cleanly
            kill_pool(pool)
            raise OutputError(
                f"a worker process of the OCDS export ended abruptly: {FOLDER}/ could not be written; "
                "the current release was kept (outputs: {ocds: false} leaves it out)"
            ) from None
        except BaseException:  # an error, Ctrl-C, SIGTERM: the workers stop now
            kill_pool(pool)
            raise
        pool.shutdown()
    summary: dict[str, Any] = {**dict.fromkeys(COUNTED, 0), "packages": 0, "skipped": {}}
    for result in results:
        for name in COUNTED:
            summary[name] += result[name]
        for reason, number in result["skipped"].items():
            summary["skipped"][reason] = summary["skipped"].get(reason, 0) + number
    return summary


def _header(settings: OcdsSettings, published: str, uri: str) -> bytes:
    """A package's metadata, serialized (without its list of releases or records)."""
    return orjson.dumps({
        "uri": uri,
        "version": "1.1",
        "extensions": [f"{settings.base_uri}/extension/extension.json"],
        "publishedDate": published,
        "publisher": {"name": settings.publisher},
        "license": settings.license,
    })  # fmt: skip


def _write_packages(parts: Path, pieces: int, folder: Path, settings: OcdsSettings, published: str) -> list[str]:
    """Each day's release package, month after month, from the pieces' spools (in piece order), each line
    written as it is read (a month's days open at once, at most 31 files); their URIs, in date order."""
    spools = [parts / f"{number:05d}" for number in range(pieces)]
    days: list[str] = []
    for month in sorted({p.name for spool in spools for p in spool.iterdir()}):
        packages: dict[str, IO[bytes]] = {}
        try:
            for spool in (s for s in spools if (s / month).is_file()):
                with open(spool / month, "rb") as f:
                    for line in f:
                        day = line[:10].decode()
                        package = packages.get(day)
                        if package is None:
                            package = packages[day] = _open_package(folder, settings, published, day)
                        else:
                            package.write(b",\n")
                        package.write(line[10:-1])
                (spool / month).unlink()
        finally:
            for package in packages.values():
                package.write(b"\n]}\n")
                package.close()
        days.extend(sorted(packages))
    return [package_uri(settings, day) for day in days]


def _open_package(folder: Path, settings: OcdsSettings, published: str, day: str) -> IO[bytes]:
    path = folder / day[:4] / f"{day}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    package = open(path, "wb", buffering=COPY_BYTES)  # noqa: SIM115 - closed by _write_packages
    package.write(_header(settings, published, package_uri(settings, day))[:-1] + b', "releases": [\n')
    return package
