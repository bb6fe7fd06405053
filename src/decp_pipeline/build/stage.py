"""One source's stage of `decp build`: read its files, normalize, validate, and keep the result in the data dir.

    DATA_DIR/build/<source>/records.jsonl   valid records: {"file", "position", "digest", "record"}
    DATA_DIR/build/<source>/rejected.jsonl  rejected records: {"source", "file", "position", "record", "errors"}
    DATA_DIR/build/<source>/counts.json     the source's counts for report.json

The stage of a source is replaced atomically (a new folder renamed over the old one), so that `decp build
OTHER_SOURCE` can reuse the last good stage of this one. A file's records reach the stage only when the whole
file was read: a file that fails halfway leaves nothing but its error.
"""

from __future__ import annotations

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
from typing import IO, Any

import orjson

from decp_pipeline import __version__
from decp_pipeline.build.reading import RawRecord, RecordFile
from decp_pipeline.exceptions import MalformedFileError
from decp_pipeline.normalize.hooks import AFTER, AFTER_ALL, BEFORE, FileContext
from decp_pipeline.normalize.v1 import V1Normalizer, buyer_siret, kind_of
from decp_pipeline.normalize.v2 import V2Normalizer
from decp_pipeline.validation.json_records import json_validator

SPOOL_SIZE = 16 * 1024 * 1024
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
    for relative in ("build/stage.py", "build/reading.py", "normalize", "readers", "official_schemas.py", "schemas"):
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

    def __init__(self, source: str, data_dir: Path, progress: Callable[[str], None] = lambda _l: None) -> None:
        self.source = source
        self.data_dir = data_dir
        self.progress = progress
        self.counts = Counts()
        self.normalizer = V1Normalizer()
        self.validator = json_validator("1.5")
        self.normalizer_2022 = V2Normalizer()
        self.normalizer_2022.fixes = self.normalizer.fixes  # one counter for both formats
        self.validator_2022 = json_validator("2.0")
        self.after = [*AFTER.get(source, []), *AFTER_ALL]
        self._seen: set[bytes] = set()
        self.reused_files = 0  # files whose cached result was used instead of reading them

    def run(self, files: Iterable[str]) -> Counts:
        final = stage_dir(self.data_dir, self.source)
        final.parent.mkdir(parents=True, exist_ok=True)
        planned = [(path, self._cached_path(path)) for path in files]
        self._read_new_files(planned)
        work = Path(tempfile.mkdtemp(prefix=f".{self.source}.", dir=final.parent))
        try:
            with open(work / "records.jsonl", "wb") as records, open(work / "rejected.jsonl", "wb") as rejected:
                for path, cached in planned:
                    self._merge(cached, path, records, rejected)
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
            return self._cache_root() / f"{file_sha1(path)}-{CODE_VERSION}"
        except OSError as e:
            checksum = f"unreadable-{hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()}"
            cached = self._cache_root() / f"{checksum}-{CODE_VERSION}"
            self._write_cache(cached, path, self._failed_counts(path, e), None, None)
            return cached

    def _read_new_files(self, planned: list[tuple[str, Path]]) -> None:
        """Read the files with no cached result, on every core when there are several (one process each)."""
        new = [(path, cached) for path, cached in planned if not (cached / "counts.json").is_file()]
        self.reused_files = len(planned) - len(new)
        workers = min(WORKERS, len(new))
        if workers > 1 and sum(_size(path) for path, _ in new) >= PARALLEL_MIN_BYTES:
            with ProcessPoolExecutor(max_workers=workers) as pool:
                for _ in pool.map(
                    _process_in_worker,
                    *zip(*[(self.source, str(self.data_dir), p, str(c)) for p, c in new], strict=True),
                ):
                    pass
        else:
            for path, cached in new:
                self._process(path, cached)
        for path, cached in new:
            counts = json.loads((cached / "counts.json").read_text(encoding="utf-8"))
            self.progress(f"  {self.source}: {path}: {counts['read']} read, {counts['exported']} valid, "
                          f"{counts['rejected']} rejected")  # fmt: skip

    def _cache_root(self) -> Path:
        return self.data_dir / "cache" / "normalized" / self.source

    def _process(self, path: str, cached: Path) -> None:
        """Read, normalize and validate one file into its cache folder (`counts.json` last: the commit mark)."""
        counts = Counts(files=1)
        fixes_before = Counter(self.normalizer.fixes)
        digests: set[bytes] = set()
        record_file = RecordFile(path)
        context = FileContext(self.source, path)
        context.syntax = record_file.sniff()
        with (
            tempfile.SpooledTemporaryFile(SPOOL_SIZE) as good,
            tempfile.SpooledTemporaryFile(SPOOL_SIZE) as bad,
        ):
            try:
                for raw in record_file.records():
                    counts.read += 1
                    self._record(raw, path, context, counts, digests, good, bad)
            except (MalformedFileError, OSError) as e:
                self.normalizer.fixes.clear()  # in place: both normalizers share this counter
                self.normalizer.fixes.update(fixes_before)
                self._write_cache(cached, path, self._failed_counts(path, e), None, None)
                return
            if record_file.control_characters:
                counts.fixes["xml-control-characters"] += record_file.control_characters
            if record_file.nan.count:
                counts.fixes["nan-as-absent"] += record_file.nan.count
            counts.fixes.update(self.normalizer.fixes - fixes_before)
            self._write_cache(cached, path, counts, good, bad)
        self.progress(
            f"  {self.source}: {path}: {counts.read} read, {counts.exported} valid, {counts.rejected} rejected"
        )

    def _write_cache(
        self, cached: Path, path: str, counts: Counts, good: IO[bytes] | None, bad: IO[bytes] | None
    ) -> None:
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".", dir=cached.parent))
        try:
            for name, spool in (("records.jsonl", good), ("rejected.jsonl", bad)):
                with open(work / name, "wb") as out:
                    if spool is not None:
                        spool.seek(0)
                        shutil.copyfileobj(spool, out)
            (work / "counts.json").write_text(json.dumps(counts.to_dict(), ensure_ascii=False))
            shutil.rmtree(cached, ignore_errors=True)
            os.replace(work, cached)
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _merge(self, cached: Path, path: str, records: IO[bytes], rejected: IO[bytes]) -> None:
        """A file's cached result into the stage, under its current path; exact copies of earlier files dropped."""
        counts = Counts.from_dict(json.loads((cached / "counts.json").read_text(encoding="utf-8")))
        for failed in counts.failed_files:
            failed["file"] = path
            self.progress(f"{self.source}: {path}: FAILED: {failed['error']}")
        with open(cached / "records.jsonl", "rb") as lines:
            for line in lines:
                item = orjson.loads(line)
                digest = bytes.fromhex(item["digest"])
                if digest in self._seen:
                    counts.exported -= 1
                    counts.duplicates += 1
                    counts.duplicates_by_rule["exact-copy"] += 1
                    continue
                self._seen.add(digest)
                item["file"] = path
                records.write(orjson.dumps(item) + b"\n")
        with open(cached / "rejected.jsonl", "rb") as lines:
            for line in lines:
                item = orjson.loads(line)
                item["file"] = path
                rejected.write(orjson.dumps(item) + b"\n")
        self.counts.add(counts)

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

    def _record(
        self,
        raw: RawRecord,
        path: str,
        context: FileContext,
        counts: Counts,
        digests: set[bytes],
        good: IO[bytes],
        bad: IO[bytes],
    ) -> None:
        kind = kind_of(raw.data, raw.kind)
        xml = context.syntax == "xml"
        if raw.version == "2.0":
            self._record_2022(raw, kind, path, xml, counts, digests, good, bad)
            return
        record = raw.data
        if isinstance(record, dict):
            record = dict(record)
            for hook in BEFORE:
                hook(record, kind, context, self.normalizer.fixes)
        record = self.normalizer.normalize(record, kind, from_xml=xml)
        if isinstance(record, dict):
            for hook in self.after:
                hook(record, kind, context, self.normalizer.fixes)
            self._identify(record, kind)
        errors = self.validator.errors(record, kind)
        if errors:
            self._reject(raw, path, counts, bad, [(e.rule, e.dotted, e.message) for e in errors], record)
            return
        self._keep(raw, path, kind, "1.5", record, record.get("uid"), counts, digests, good)

    def _keep(
        self,
        raw: RawRecord,
        path: str,
        kind: str,
        version: str,
        record: dict[str, Any],
        uid: str | None,
        counts: Counts,
        digests: set[bytes],
        good: IO[bytes],
    ) -> None:
        """A valid record into the stage, unless it is an exact copy of one already kept."""
        digest = record_digest(record)
        if digest in digests:
            counts.duplicates += 1
            counts.duplicates_by_rule["exact-copy"] += 1
            return
        digests.add(digest)
        counts.exported += 1
        line = {"file": path, "position": raw.position, "digest": digest.hex(), "format": version, "kind": kind,
                "uid": uid, "record": record}  # fmt: skip
        good.write(orjson.dumps(line) + b"\n")

    def _record_2022(
        self,
        raw: RawRecord,
        kind: str,
        path: str,
        xml: bool,
        counts: Counts,
        digests: set[bytes],
        good: IO[bytes],
        bad: IO[bytes],
    ) -> None:
        """A format-2022 record: normalized and validated against 2.0.3, kept in its own format."""
        record = self.normalizer_2022.normalize(raw.data, kind, from_xml=xml)
        errors = self.validator_2022.errors(record, kind)
        if errors:
            self._reject(raw, path, counts, bad, [(e.rule, e.dotted, e.message) for e in errors], record, "2.0")
            return
        siret = buyer_siret(record, kind)
        uid = siret + record["id"] if siret and isinstance(record.get("id"), str) else None
        self._keep(raw, path, kind, "2.0", record, uid, counts, digests, good)

    def _identify(self, record: dict[str, Any], kind: str) -> None:
        siret = buyer_siret(record, kind)
        if siret and isinstance(record.get("id"), str):
            uid = siret + record["id"]
            if record.get("uid") != uid:
                self.normalizer.fixes["uid-set"] += 1
                record["uid"] = uid
        if record.get("source") != self.source:
            self.normalizer.fixes["source-set"] += 1
            record["source"] = self.source

    def _reject(
        self,
        raw: RawRecord,
        path: str,
        counts: Counts,
        bad: IO[bytes],
        errors: list[tuple[str, str, str]],
        normalized: Any = None,
        version: str = "1.5",
    ) -> None:
        """One line of rejected.jsonl; the stage also keeps the normalized record, for the tables."""
        counts.rejected += 1
        for rule, where, _ in errors:
            counts.errors[error_code(rule, where)] += 1
        line = {
            "source": self.source,
            "file": path,
            "position": raw.position,
            "record": raw.data,
            "errors": [{"rule": rule, "path": where, "message": message} for rule, where, message in errors],
            "normalized": normalized,
            "format": version,
        }
        bad.write(orjson.dumps(line) + b"\n")


_WORKER_STAGES: dict[str, SourceStage] = {}


def _process_in_worker(source: str, data_dir: str, path: str, cached: str) -> None:
    """Run in a worker process: read one file into its cache folder (one SourceStage per source and process)."""
    stage = _WORKER_STAGES.setdefault(source, SourceStage(source, Path(data_dir)))
    stage._process(path, Path(cached))


def load_counts(data_dir: Path, source: str) -> Counts | None:
    path = stage_dir(data_dir, source) / "counts.json"
    if not path.is_file():
        return None
    return Counts.from_dict(json.loads(path.read_text(encoding="utf-8")))
