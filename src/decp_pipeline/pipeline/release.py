"""Releases: the outputs of each build as one whole, verified set, made current in one atomic step.

    OUT/releases/<build id>/      every output of one build, with manifest.json (sizes, sha256, counts),
                                  delta.json, delta.csv and duplicates.csv
    OUT/releases/.<pid>.tmp/      the release a running build is writing (removed if the build fails; a dead
                                  build's is removed by the next one)
    OUT/current -> releases/<build id>   the current release: a symbolic link replaced by one rename
    OUT/decp.json -> current/decp.json   each output's documented path: links made once, through `current`

A reader of OUT/current/ (or of the documented paths) sees the files of one release, old or new, never a mix:
a release is complete and its manifest written before `current` points to it, and a release in use is never
changed. The build id starts with the UTC time, so that the ids sort in time order.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import os
import shutil
import signal
from pathlib import Path
from typing import Any

RELEASES = "releases"
CURRENT = "current"
MANIFEST = "manifest.json"
MANIFEST_FORMAT = 1
KILL_POINT = "DECP_TEST_KILL_AT"  # tests: the build kills itself (SIGKILL) at this point


def checkpoint(name: str) -> None:
    """A point where the kill tests stop a build dead (tests/test_releases.py): `DECP_TEST_KILL_AT=name`."""
    if os.environ.get(KILL_POINT) == name:
        os.kill(os.getpid(), signal.SIGKILL)


def new_build_id(fingerprint: str | None, now: datetime.datetime | None = None) -> str:
    """`20261203T130512.345Z-3f2a9c1d`: the UTC time of the build (to the millisecond, so that two builds in
    one second keep their order), then the start of its inputs' fingerprint."""
    now = now or datetime.datetime.now(datetime.UTC)
    return f"{now:%Y%m%dT%H%M%S}.{now.microsecond // 1000:03d}Z-{(fingerprint or '0' * 8)[:8]}"


class Releases:
    """The releases of one output folder."""

    def __init__(self, out: Path) -> None:
        self.out = out
        self.root = out / RELEASES
        self.link = out / CURRENT

    def ids(self) -> list[str]:
        """The build ids of the releases kept, oldest first."""
        if not self.root.is_dir():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.is_dir() and not p.name.startswith("."))

    def current(self) -> Path | None:
        """The current release's folder (whole or damaged: `damage` says), or None (no build yet, or a folder
        of flat outputs of 0.11)."""
        if not self.link.is_symlink():
            return None
        target = self.out / os.readlink(self.link)
        return target if target.is_dir() else None

    def get(self, build_id: str) -> Path | None:
        folder = self.root / build_id
        return folder if not build_id.startswith(".") and "/" not in build_id and folder.is_dir() else None

    def previous(self) -> Path | None:
        """The release the current one was compared with when it was built (its manifest's `previous`), when
        still kept: the base of its delta, and of `decp diff` by default. None for a first release."""
        current = self.current()
        named = (read_manifest(current) or {}).get("previous") if current is not None else None
        return self.get(named) if isinstance(named, str) else None

    def working(self) -> Path:
        """The folder this build writes its release into (every output is written in it by name, replacing
        what a dead run of the same pid may have left)."""
        folder = self.root / f".{os.getpid()}.tmp"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def remove_stale(self) -> list[Path]:
        """Remove what dead builds left: their release folders being written, and the temporary files of
        builds before releases existed (`OUT/.NAME.PID.tmp`). Another running build's are left alone."""
        removed = []
        candidates = [*self.out.glob(".*.tmp"), *(self.root.glob(".*.tmp") if self.root.is_dir() else [])]
        for path in candidates:
            pid = path.name.rsplit(".", 2)[-2]
            if pid.isdigit() and not _alive(int(pid)):
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
                removed.append(path)
        return removed

    def commit(self, working: Path, build_id: str) -> Path:
        """Make the written release current: renamed to its id, then `current` swapped by one rename, then
        the documented paths linked (once) through `current`."""
        release = self.root / build_id
        if release.exists():
            raise FileExistsError(f"{release} exists already")
        for leftover in working.glob(".*"):  # temporaries: none is part of the release
            if leftover.is_dir() and not leftover.is_symlink():
                shutil.rmtree(leftover)
            else:
                leftover.unlink()
        os.replace(working, release)
        checkpoint("release-renamed")
        swap = self.out / f".{CURRENT}.{os.getpid()}.tmp"
        swap.unlink(missing_ok=True)
        swap.symlink_to(f"{RELEASES}/{build_id}")
        os.replace(swap, self.link)
        checkpoint("current-swapped")
        self.link_all()
        return release

    def link_all(self) -> None:
        """The documented paths (OUT/decp.json ...) as links through `current`, for every file of the current
        release: made after each swap, and again by a build that finds them missing (a build killed right after
        its swap) or still flat (an `--out` of 0.11)."""
        current = self.current()
        if current is None:
            return
        for path in sorted(current.iterdir()):
            if not path.name.startswith("."):
                self._link(path.name)
        for link in self.out.iterdir():  # an output the new release lacks (outputs: {report: false}): no dead link
            if link.is_symlink() and os.readlink(link).startswith(f"{CURRENT}/") and not link.exists():
                link.unlink()

    def _link(self, name: str) -> None:
        """OUT/name → current/name (replacing, in one rename, the flat file an older version wrote there)."""
        link = self.out / name
        target = f"{CURRENT}/{name}"
        if link.is_symlink() and os.readlink(link) == target:
            return
        temporary = self.out / f".{name}.{os.getpid()}.tmp"
        temporary.unlink(missing_ok=True)
        temporary.symlink_to(target)
        os.replace(temporary, link)

    def prune(self, keep: int) -> list[str]:
        """Remove the oldest releases beyond `keep`; never the current one, nor the one its delta is against
        (after a rollback, the release rolled back to may be older than others); the ids removed."""
        protected = [p.name for p in (self.current(), self.previous()) if p is not None][:keep]
        ids = [i for i in self.ids() if i not in protected]
        removed = ids[: max(0, len(ids) - (keep - len(protected)))]
        for build_id in removed:  # out of sight in one rename first: a kill midway leaves no half release kept
            doomed = self.root / f".{build_id}.{os.getpid()}.tmp"
            os.replace(self.root / build_id, doomed)
            shutil.rmtree(doomed, ignore_errors=True)
        return removed


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# -- the manifest -----------------------------------------------------------------------------------------------


def sha256_of(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def write_manifest(
    folder: Path, build_id: str, report: dict[str, Any], previous: str | None, *, forced: str | None = None
) -> dict[str, Any]:
    """manifest.json of a release written in `folder`: what it is (build id, time, code version, inputs'
    fingerprint, the release it was compared with, whether it was `forced` past the shrink guard and why), each
    file's size and sha256, and the counts of its report.json."""
    counts = ("files", "files_failed", "read", "exported", "rejected", "duplicates")
    manifest = {
        "manifest_format": MANIFEST_FORMAT,
        "build_id": build_id,
        "generated_at": report.get("generated_at"),
        "decp_pipeline": report.get("decp_pipeline"),
        "build_fingerprint": report.get("build_fingerprint"),
        "previous": previous,
        "shrink_guard": {"forced": forced is not None, "why": forced},
        "counts": {
            "total": {k: report["total"][k] for k in counts},
            "sources": {s: {k: c[k] for k in counts} for s, c in report["sources"].items()},
        },
        "files": {
            path.name: {"size": path.stat().st_size, "sha256": sha256_of(path)}
            for path in sorted(folder.iterdir())
            if path.is_file() and not path.name.startswith(".") and path.name != MANIFEST
        },
        # A folder of many small files (acheteurs/: one page per buyer) is one entry: its number of files, their
        # total size, and the sha256 of the list of their names and sha256.
        "folders": {path.name: folder_summary(path) for path in sorted(folder.iterdir()) if path.is_dir()
                    and not path.name.startswith(".")},
    }  # fmt: skip
    text = json.dumps(manifest, ensure_ascii=False, indent=2) + "\n"
    with open(folder / MANIFEST, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return manifest


def folder_summary(folder: Path, *, checksums: bool = True) -> dict[str, Any]:
    """A folder of a release: its files, in its subfolders too (count), their total size, and (with `checksums`)
    one sha256 of the lines `path sha256` of its files in path order (a path relative to the folder)."""
    files = sorted((p.relative_to(folder).as_posix(), p) for p in folder.rglob("*") if p.is_file())
    summary: dict[str, Any] = {"files": len(files), "size": sum(p.stat().st_size for _, p in files)}
    if checksums:
        lines = "".join(f"{name} {sha256_of(p)}\n" for name, p in files)
        summary["sha256"] = hashlib.sha256(lines.encode()).hexdigest()
    return summary


def read_manifest(release: Path) -> dict[str, Any] | None:
    try:
        manifest = json.loads((release / MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and isinstance(manifest.get("files"), dict) else None


def damage(release: Path, *, checksums: bool = False) -> list[str]:
    """What is wrong with a release against its manifest: a file missing, of another size, or (with
    `checksums`) of another sha256. Empty when the release is whole."""
    manifest = read_manifest(release)
    if manifest is None:
        return [f"{release.name}/{MANIFEST} is missing or unreadable"]
    problems = []
    for name, expected in manifest["files"].items():
        path = release / name
        if not path.is_file():
            problems.append(f"{name} is missing")
        elif path.stat().st_size != expected.get("size"):
            problems.append(f"{name} has {path.stat().st_size:,} bytes, the manifest says {expected.get('size'):,}")
        elif checksums and sha256_of(path) != expected.get("sha256"):
            problems.append(f"{name}: its sha256 differs from the manifest's")
    for name, expected in (manifest.get("folders") or {}).items():
        path = release / name
        if not path.is_dir():
            problems.append(f"{name}/ is missing")
            continue
        found = folder_summary(path, checksums=checksums)
        if (found["files"], found["size"]) != (expected.get("files"), expected.get("size")):
            problems.append(f"{name}/ has {found['files']:,} files of {found['size']:,} bytes, the manifest says "
                            f"{expected.get('files')} of {expected.get('size')}")  # fmt: skip
        elif checksums and found["sha256"] != expected.get("sha256"):
            problems.append(f"{name}/: its sha256 differs from the manifest's")
    return problems
