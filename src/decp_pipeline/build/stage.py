"""One source's stage of `decp build`: read its files, normalize, validate, and keep the result in the data dir.

    DATA_DIR/cache/normalized/<source>/<sha1 of the file>-<code version>/   one file's result (file_result.py)
    DATA_DIR/build/<source>/files.json    the source's files in order: [path, name of its cached result]
    DATA_DIR/build/<source>/counts.json   the source's counts for report.json, before consolidation

A file's result is cached under its checksum and the version of the code that read it: an unchanged file is
never read again. The stage of a source is replaced atomically (a new folder renamed over the old one), so that
`decp build OTHER_SOURCE` can reuse the last good stage of this one. A file's records reach the stage only when
the whole file was read: a file that fails halfway leaves nothing but its error.
"""

from __future__ import annotations

import gc
import hashlib
import json
import os
import re
import shutil
import tempfile
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

from decp_pipeline import __version__
from decp_pipeline.build.file_result import FileResult
from decp_pipeline.build.reading import RawRecord, RecordFile
from decp_pipeline.exceptions import MalformedFileError
from decp_pipeline.normalize.decp15 import Normalizer15, buyer_siret, kind_of
from decp_pipeline.normalize.decp2022 import Normalizer2022
from decp_pipeline.normalize.fixes import NAN_AS_ABSENT, SOURCE_SET, UID_SET, XML_CONTROL_CHARACTERS, Tally
from decp_pipeline.normalize.hooks import FileContext, hooks_for
from decp_pipeline.validation.json_records import json_validator

# Files are read by this many processes (DECP_WORKERS overrides; 1 reads in the main process), when there
# is enough to read for starting processes to pay.
WORKERS = int(os.environ.get("DECP_WORKERS") or os.cpu_count() or 1)
PARALLEL_MIN_BYTES = 8 * 1024 * 1024


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


HASH_CHUNK = 1 << 20


def _code_version() -> str:
    """The version of the code that turns a raw file into normalized records: a cached result is reused only
    when it was produced by the same code (the package version and the source of the modules involved)."""
    digest = hashlib.sha1(__version__.encode(), usedforsecurity=False)
    package = Path(__file__).resolve().parents[1]
    for relative in (
        "build/stage.py",
        "build/reading.py",
        "build/file_result.py",
        "build/consolidate.py",
        "build/quality.py",
        "build/tables.py",
        "normalize",
        "readers",
        "official_schemas.py",
        "schemas",
    ):
        target = package / relative
        for file in sorted(target.rglob("*") if target.is_dir() else [target]):
            if file.is_file() and file.suffix in (".py", ".json", ".xsd"):
                digest.update(file.read_bytes())
    return digest.hexdigest()[:12]


CODE_VERSION = _code_version()


def file_sha1(path: str) -> str:
    digest = hashlib.sha1(usedforsecurity=False)
    with open(path, "rb") as f:
        while chunk := f.read(HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


_INDEX = re.compile(r"\[\d+\]")


def error_code(rule: str, path: str) -> str:
    """The code of a schema error in report.json and the tables: RULE:PATH, list indexes collapsed."""
    return f"{rule}:{_INDEX.sub('[]', path)}" if path else rule


@dataclass
class Counts:
    """The counts of report.json for one source (or the total)."""

    files: int = 0
    files_failed: int = 0
    read: int = 0
    exported: int = 0
    rejected: int = 0
    duplicates: int = 0
    duplicates_by_rule: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)  # of the exported records
    fixes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    failed_files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        for name in ("files", "files_failed", "read", "exported", "rejected", "duplicates"):
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.duplicates_by_rule.update(other.duplicates_by_rule)
        self.anomalies.update(other.anomalies)
        self.fixes.update(other.fixes)
        self.errors.update(other.errors)
        self.failed_files.extend(other.failed_files)

    def to_dict(self) -> dict[str, Any]:
        return {
            "files": self.files,
            "files_failed": self.files_failed,
            "read": self.read,
            "exported": self.exported,
            "rejected": self.rejected,
            "duplicates": self.duplicates,
            "duplicates_by_rule": dict(sorted(self.duplicates_by_rule.items())),
            "anomalies": dict(sorted(self.anomalies.items())),
            "fixes": dict(sorted(self.fixes.items())),
            "errors": dict(sorted(self.errors.items())),
            "failed_files": self.failed_files,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        counts = cls(**{k: data[k] for k in ("files", "files_failed", "read", "exported", "rejected", "duplicates")})
        counts.duplicates_by_rule = Counter(data.get("duplicates_by_rule", {}))
        counts.anomalies = Counter(data.get("anomalies", {}))
        counts.fixes = Counter(data.get("fixes", {}))
        counts.errors = Counter(data.get("errors", {}))
        counts.failed_files = list(data.get("failed_files", []))
        return counts


def stage_dir(data_dir: Path, source: str) -> Path:
    return data_dir / "build" / source


def record_digest(record: dict[str, Any]) -> bytes:
    """The identity of a record's content, whatever source published it (so `source` is left out)."""
    content = {k: v for k, v in record.items() if k != "source"}
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


class SourceStage:
    """Processes the files of one source into its stage folder."""

    def __init__(
        self,
        source: str,
        data_dir: Path,
        progress: Callable[[str], None] = lambda _l: None,
        hooks: tuple[str, ...] = (),
    ) -> None:
        self.source = source
        self.hooks = hooks  # the source's hook names (sources.yaml), checked when the config loaded
        self.data_dir = data_dir
        self.progress = progress
        self.counts = Counts()
        self.normalizer = Normalizer15()
        self.validator = json_validator("1.5")
        self.normalizer_2022 = Normalizer2022()
        self.validator_2022 = json_validator("2.0")
        self.before, self.after = hooks_for(hooks)
        self.reused_files = 0  # files whose cached result was used instead of reading them
        self.read_now: set[Path] = set()  # the cached results of the files read by this run

    def plan(self, files: Iterable[str]) -> list[tuple[str, Path]]:
        """Each file and the folder of its cached result (read or to be read)."""
        planned = [(path, self._cached_path(path)) for path in files]
        self.read_now = {cached for _, cached in planned if not (cached / "counts.json").is_file()}
        self.reused_files = len(planned) - len(self.read_now)
        return planned

    def finish(self, planned: list[tuple[str, Path]]) -> Counts:
        """The stage of the source, once every file of `planned` has its cached result."""
        final = stage_dir(self.data_dir, self.source)
        final.parent.mkdir(parents=True, exist_ok=True)
        for path, cached in planned:
            counts = Counts.from_dict(json.loads((cached / "counts.json").read_text(encoding="utf-8")))
            if cached in self.read_now:
                self.progress(f"  {self.source}: {path}: {counts.read} read, {counts.exported} valid, "
                              f"{counts.rejected} rejected")  # fmt: skip
            for failed in counts.failed_files:
                failed["file"] = path
                self.progress(f"{self.source}: {path}: FAILED: {failed['error']}")
            self.counts.add(counts)
        work = Path(tempfile.mkdtemp(prefix=f".{self.source}.", dir=final.parent))
        try:
            manifest = [[path, cached.name] for path, cached in planned]
            (work / "files.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=0))
            (work / "counts.json").write_text(json.dumps(self.counts.to_dict(), ensure_ascii=False, indent=1))
            if final.exists():
                old = final.with_name(f".{self.source}.old")
                shutil.rmtree(old, ignore_errors=True)
                os.replace(final, old)
                os.replace(work, final)
                shutil.rmtree(old, ignore_errors=True)
            else:
                os.replace(work, final)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        self._prune({cached.name for _, cached in planned})
        return self.counts

    # -- one file: its result is cached, keyed by the file's content and the code that read it -------------------

    def _cached_path(self, path: str) -> Path:
        """Where the file's result is (or will be) cached; an unreadable file's failure is cached at once."""
        try:
            return self._cache_root() / f"{file_sha1(path)}-{self._version()}"
        except OSError as e:
            checksum = f"unreadable-{hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()}"
            cached = self._cache_root() / f"{checksum}-{self._version()}"
            self._write_cache(cached, path, self._failed_counts(path, e))
            return cached

    def _version(self) -> str:
        """The code version, and the source's hooks when it lists any: editing `hooks:` reads its files again."""
        if not self.hooks:
            return CODE_VERSION
        return f"{CODE_VERSION}-{hashlib.sha1(' '.join(self.hooks).encode(), usedforsecurity=False).hexdigest()[:8]}"

    def _cache_root(self) -> Path:
        return self.data_dir / "cache" / "normalized" / self.source

    def _process(self, path: str, cached: Path) -> None:
        """Read, normalize and validate one file into its cache folder (`counts.json` last: the commit mark).

        Python's cycle collector is paused meanwhile: a file's records make no reference cycles (measured on
        real and generated files: the same few hundred cyclic objects, whatever the number of records), and its
        full passes over a parsed document of millions of objects cost 10 to 15 % of the reading time."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            self._process_file(path, cached)
        finally:
            if collecting:
                gc.enable()

    def _process_file(self, path: str, cached: Path) -> None:
        counts = Counts(files=1)
        tally = counts.fixes  # this file's fixes, counted by the normalizers and hooks in a fresh tally
        digests: set[bytes] = set()
        record_file = RecordFile(path)
        context = FileContext(self.source, path)
        context.syntax = record_file.sniff()
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".", dir=cached.parent))
        try:
            result = FileResult(work, self.source)
            try:
                for raw in record_file.records():
                    counts.read += 1
                    self._record(raw, context, counts, digests, result, tally)
            except (MalformedFileError, OSError) as e:
                self._write_cache(cached, path, self._failed_counts(path, e))
                return
            finally:
                result.close()
            if record_file.control_characters:
                XML_CONTROL_CHARACTERS.count(tally, record_file.control_characters)
            if record_file.nan.count:
                NAN_AS_ABSENT.count(tally, record_file.nan.count)
            (work / "counts.json").write_text(json.dumps(counts.to_dict(), ensure_ascii=False))
            shutil.rmtree(cached, ignore_errors=True)
            os.replace(work, cached)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write_cache(self, cached: Path, path: str, counts: Counts) -> None:
        """The result of a file that could not be read: its counts and error only."""
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".", dir=cached.parent))
        try:
            (work / "counts.json").write_text(json.dumps(counts.to_dict(), ensure_ascii=False))
            shutil.rmtree(cached, ignore_errors=True)
            os.replace(work, cached)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _prune(self, used: set[str]) -> None:
        """Cached results of files this source no longer has (or read by an older version) are removed."""
        root = self._cache_root()
        if root.is_dir():
            for entry in root.iterdir():
                if entry.name not in used and not entry.name.startswith("."):
                    shutil.rmtree(entry, ignore_errors=True)

    def _failed_counts(self, path: str, error: Exception) -> Counts:
        counts = Counts(files=1, files_failed=1)
        where = ""
        if isinstance(error, MalformedFileError) and error.line:
            where = f"line {error.line}" + (f", column {error.column}" if error.column else "") + ": "
        message = f"{where}{error.message if isinstance(error, MalformedFileError) else error}"
        counts.failed_files.append({"file": path, "error": message})
        counts.errors["file-unreadable"] += 1
        return counts

    def _record(self, raw: RawRecord, context: FileContext, counts: Counts, digests: set[bytes],
                result: FileResult, tally: Tally) -> None:  # fmt: skip
        kind = kind_of(raw.data, raw.kind)
        xml = context.syntax == "xml"
        if raw.version == "2.0":
            self._record_2022(raw, kind, xml, counts, digests, result, tally)
            return
        record = raw.data
        if isinstance(record, dict):
            record = dict(record)
            for hook in self.before:
                hook(record, kind, context, tally)
        record = self.normalizer.normalize(record, kind, tally, from_xml=xml)
        if isinstance(record, dict):
            for hook in self.after:
                hook(record, kind, context, tally)
            self._identify(record, kind, tally)
        errors = self.validator.errors(record, kind)
        if errors:
            self._reject(raw, counts, result, [(e.rule, e.dotted, e.message) for e in errors], record, "1.5")
            return
        self._keep(raw, kind, "1.5", record, record.get("uid"), counts, digests, result)

    def _keep(
        self,
        raw: RawRecord,
        kind: str,
        version: str,
        record: dict[str, Any],
        uid: str | None,
        counts: Counts,
        digests: set[bytes],
        result: FileResult,
    ) -> None:
        """A valid record into the file's result, unless it is an exact copy of one already kept."""
        digest = record_digest(record)
        if digest in digests:
            counts.duplicates += 1
            counts.duplicates_by_rule["exact-copy"] += 1
            return
        digests.add(digest)
        counts.exported += 1
        result.keep(raw.position, kind, version, record, uid, digest)

    def _record_2022(
        self,
        raw: RawRecord,
        kind: str,
        xml: bool,
        counts: Counts,
        digests: set[bytes],
        result: FileResult,
        tally: Tally,
    ) -> None:
        """A format-2022 record: normalized and validated against 2.0.3, kept in its own format."""
        record = self.normalizer_2022.normalize(raw.data, kind, tally, from_xml=xml)
        errors = self.validator_2022.errors(record, kind)
        if errors:
            self._reject(raw, counts, result, [(e.rule, e.dotted, e.message) for e in errors], record, "2.0")
            return
        siret = buyer_siret(record, kind)
        uid = siret + record["id"] if siret and isinstance(record.get("id"), str) else None
        self._keep(raw, kind, "2.0", record, uid, counts, digests, result)

    def _identify(self, record: dict[str, Any], kind: str, tally: Tally) -> None:
        siret = buyer_siret(record, kind)
        if siret and isinstance(record.get("id"), str):
            uid = siret + record["id"]
            if record.get("uid") != uid:
                UID_SET.count(tally)
                record["uid"] = uid
        if record.get("source") != self.source:
            SOURCE_SET.count(tally)
            record["source"] = self.source

    def _reject(
        self,
        raw: RawRecord,
        counts: Counts,
        result: FileResult,
        errors: list[tuple[str, str, str]],
        normalized: Any,
        version: str,
    ) -> None:
        """One line of rejected.jsonl; the normalized record gives the record's rows in the tables."""
        counts.rejected += 1
        codes = [error_code(rule, where) for rule, where, _ in errors]
        counts.errors.update(codes)
        listed = [{"rule": rule, "path": where, "message": message} for rule, where, message in errors]
        result.reject(raw.position, raw.data, listed, codes, normalized, version)


def read_new_files(plans: list[tuple[SourceStage, list[tuple[str, Path]]]]) -> None:
    """Read every file that has no cached result yet, of all the sources being staged: in one pool of processes
    (one per core, the largest files first, so that no core waits idle behind a large file started last, at the
    end of each source or of the build), or in this process when there is too little to read for it to pay."""
    # One task per cached result: two files with the same content (one file published under two names) share it,
    # and two processes must not write it at the same time.
    unique = {cached: (stage, path) for stage, planned in plans for path, cached in planned if cached in stage.read_now}
    new = [(stage, path, cached) for cached, (stage, path) in unique.items()]
    workers = min(WORKERS, len(new))
    if workers > 1 and sum(_size(path) for _, path, _ in new) >= PARALLEL_MIN_BYTES:
        by_size = sorted(new, key=lambda task: -_size(task[1]))
        with ProcessPoolExecutor(max_workers=workers) as pool:
            tasks = [(s.source, str(s.data_dir), path, str(cached), s.hooks) for s, path, cached in by_size]
            for _ in pool.map(_process_in_worker, *zip(*tasks, strict=True)):
                pass
    else:
        for stage, path, cached in new:
            stage._process(path, cached)


_WORKER_STAGES: dict[str, SourceStage] = {}


def _process_in_worker(source: str, data_dir: str, path: str, cached: str, hooks: tuple[str, ...]) -> None:
    """Run in a worker process: read one file into its cache folder (one SourceStage per source and process)."""
    stage = _WORKER_STAGES.setdefault(source, SourceStage(source, Path(data_dir), hooks=hooks))
    stage._process(path, Path(cached))


def load_manifest(data_dir: Path, source: str) -> list[tuple[str, Path]] | None:
    """A source's files and their cached results, in order (None when the source has no stage)."""
    path = stage_dir(data_dir, source) / "files.json"
    if not path.is_file():
        return None
    root = data_dir / "cache" / "normalized" / source
    return [(file, root / name) for file, name in json.loads(path.read_text(encoding="utf-8"))]


def load_counts(data_dir: Path, source: str) -> Counts | None:
    path = stage_dir(data_dir, source) / "counts.json"
    if not path.is_file():
        return None
    return Counts.from_dict(json.loads(path.read_text(encoding="utf-8")))
