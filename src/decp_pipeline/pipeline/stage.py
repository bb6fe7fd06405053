"""One source's stage of `decp build`: read its files, normalize, validate, and keep the result in the data dir.

    DATA_DIR/cache/normalized/<source>/<sha1 of the file>-<code version>/   one file's result (cache.py)
    DATA_DIR/build/<source>/files.json    the source's files in order: [path, name of its cached result]
    DATA_DIR/build/<source>/counts.json   the source's counts for report.json, before consolidation

A file's result is cached under its checksum and the version of the code that read it: an unchanged file is
never read again. The stage of a source is replaced atomically (a new folder renamed over the old one), so that
`decp build OTHER_SOURCE` can reuse the last good stage of this one. A file's records reach the stage only when
the whole file was read: a file that fails halfway leaves nothing but its error.
"""

from __future__ import annotations

import ctypes
import gc
import hashlib
import json
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import InvalidStateError, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from decp_pipeline.exceptions import CacheWriteError, InputError, MalformedFileError
from decp_pipeline.locks import release_inherited_locks
from decp_pipeline.normalize.fixes import NAN_AS_ABSENT, XML_CONTROL_CHARACTERS, Tally
from decp_pipeline.normalize.hooks import FileContext
from decp_pipeline.pipeline.cache import COUNTS, FileResult, file_sha1, reading_version
from decp_pipeline.pipeline.counts import Counts
from decp_pipeline.pipeline.record import Kept, RecordProcessor, record_fixes
from decp_pipeline.progress import Meter, Progress, Tick, silent, unmetered
from decp_pipeline.readers.records import RawRecord, RecordFile

WORKERS_VARIABLE = "DECP_WORKERS"


def workers() -> int:
    """How many processes read the files: one per core, or DECP_WORKERS (1 reads in the main process); used
    when there is enough to read for starting processes to pay. A value that is no whole number >= 1 is an
    InputError (exit 2), raised when a build starts."""
    value = os.environ.get(WORKERS_VARIABLE, "").strip()
    if not value:
        return os.cpu_count() or 1
    if not value.isdigit() or int(value) < 1:
        raise InputError(f"{WORKERS_VARIABLE}={value!r}: expected a whole number of processes >= 1")
    return int(value)


PARALLEL_MIN_BYTES = 8 * 1024 * 1024


def _quiet_broken_pool() -> None:
    """Keep the executor's thread from printing a traceback once its workers were killed: Python 3.11's
    ProcessPoolExecutor sets an exception on futures that were cancelled already (InvalidStateError,
    CPython gh-107219, fixed in 3.12). Any other exception of any thread is printed as before."""
    previous = threading.excepthook
    if getattr(previous, "decp_quiet", False):
        return

    def hook(args: threading.ExceptHookArgs) -> None:
        if not isinstance(args.exc_value, InvalidStateError):
            previous(args)

    hook.decp_quiet = True  # type: ignore[attr-defined]
    threading.excepthook = hook


def _size(path: str) -> int:
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


def stage_dir(data_dir: Path, source: str) -> Path:
    return data_dir / "build" / source


def recover(data_dir: Path) -> None:
    """What a killed run left in the data dir (called with its lock held, so no other run is writing): the
    folders of half-read files and stages are removed, and a stage killed between its two renames (the old
    one moved aside, the new one not yet in place) gets its old folder back."""
    stages = data_dir / "build"
    for old in stages.glob(".*.old") if stages.is_dir() else []:
        final = stages / old.name[1:].removesuffix(".old")
        if final.exists():
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.replace(old, final)
    work = [*stages.glob(".*"), *(data_dir / "cache" / "normalized").glob("*/.*")]
    for folder in work:
        if folder.is_dir() and not folder.name.endswith(".old"):
            shutil.rmtree(folder, ignore_errors=True)


@dataclass(frozen=True)
class Reading:
    """How the files of a source are read (sources.yaml): a part of the key of their cached results."""

    source: str
    format: str = "auto"
    hooks: tuple[str, ...] = ()  # checked when the config loaded

    @property
    def version(self) -> str:
        """The code version, and the source's settings when they are not the defaults: a source whose
        `format` or `hooks` change in sources.yaml has its files read again."""
        if self.format == "auto" and not self.hooks:
            return reading_version()
        settings = hashlib.sha1(f"{self.format}|{' '.join(self.hooks)}".encode(), usedforsecurity=False)
        return f"{reading_version()}-{settings.hexdigest()[:8]}"


class SourceStage:
    """Processes the files of one source into its stage folder."""

    def __init__(self, reading: Reading | str, data_dir: Path, progress: Progress = silent) -> None:
        self.reading = reading if isinstance(reading, Reading) else Reading(reading)
        self.source = self.reading.source
        self.data_dir = data_dir
        self.progress = progress
        self.counts = Counts()
        self.records = RecordProcessor(self.source, self.reading.hooks)
        self.reused_files = 0  # files whose cached result was used instead of reading them
        self.unreadable_files = 0  # files that could not be opened (their failure cached when planned)
        self.files_to_read = 0
        self.read_now: set[Path] = set()  # the cached results of the files read by this run

    def plan(self, files: Iterable[str]) -> list[tuple[str, Path]]:
        """Each file and the folder of its cached result (read or to be read)."""
        self.unreadable_files = 0
        planned = [(path, self._cached_path(path)) for path in files]
        self.read_now = {cached for _, cached in planned if not (cached / COUNTS).is_file()}
        self.files_to_read = sum(1 for _, cached in planned if cached in self.read_now)
        self.reused_files = len(planned) - self.files_to_read - self.unreadable_files
        return planned

    def finish(self, planned: list[tuple[str, Path]]) -> Counts:
        """The stage of the source, once every file of `planned` has its cached result."""
        final = stage_dir(self.data_dir, self.source)
        final.parent.mkdir(parents=True, exist_ok=True)
        for path, cached in planned:
            counts = Counts.from_dict(json.loads((cached / COUNTS).read_text(encoding="utf-8")))
            if cached in self.read_now:
                self.progress(f"{self.source}: {path}: {counts.read} read, {counts.exported} valid, "
                              f"{counts.rejected} rejected", detail=True)  # fmt: skip
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
            return self._cache_root() / f"{file_sha1(path)}-{self.reading.version}"
        except OSError as e:
            checksum = f"unreadable-{hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()}"
            cached = self._cache_root() / f"{checksum}-{self.reading.version}"
            self._write_cache(cached, path, self._failed_counts(path, e))
            self.unreadable_files += 1
            return cached

    def _cache_root(self) -> Path:
        return self.data_dir / "cache" / "normalized" / self.source

    def _process(self, path: str, cached: Path) -> int:
        """Read, normalize and validate one file into its cache folder (`counts.json` last: the commit mark);
        the number of records read.

        Python's cycle collector is paused meanwhile: a file's records make no reference cycles (measured on
        real and generated files: the same few hundred cyclic objects, whatever the number of records), and its
        full passes over a parsed document of millions of objects cost 10 to 15 % of the reading time."""
        collecting = gc.isenabled()
        gc.disable()
        try:
            return self._process_file(path, cached)
        except OSError as e:  # reading failures are the file's (counted); this is writing its result
            reason = e.strerror or " ".join(str(e).split()) or type(e).__name__
            raise CacheWriteError(str(self.data_dir), path, reason) from None
        finally:
            if collecting:
                gc.enable()

    def _process_file(self, path: str, cached: Path) -> int:
        counts = Counts(files=1)
        tally = counts.fixes  # this file's fixes, counted by the normalizers and hooks
        digests: dict[bytes, int] = {}  # the content of each kept record → its position
        record_file = RecordFile(path, self.reading.format)
        context = FileContext(self.source, path)
        context.syntax = record_file.sniff()
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".", dir=cached.parent))
        try:
            result = FileResult(work, self.source)
            try:
                for raw in record_file.records():
                    counts.read += 1
                    self._record(raw, context, tally, counts, digests, result)
            except (MalformedFileError, OSError) as e:
                self._write_cache(cached, path, self._failed_counts(path, e))
                return 0
            finally:
                result.close()
            if record_file.control_characters:
                XML_CONTROL_CHARACTERS.count(tally, record_file.control_characters)
            if record_file.nan.count:
                NAN_AS_ABSENT.count(tally, record_file.nan.count)
            (work / COUNTS).write_text(json.dumps(counts.to_dict(), ensure_ascii=False))
            shutil.rmtree(cached, ignore_errors=True)
            os.replace(work, cached)
            return counts.read
        finally:
            shutil.rmtree(work, ignore_errors=True)

    def _write_cache(self, cached: Path, path: str, counts: Counts) -> None:
        """The result of a file that could not be read: its counts and error only."""
        cached.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix=".", dir=cached.parent))
        try:
            (work / COUNTS).write_text(json.dumps(counts.to_dict(), ensure_ascii=False))
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

    def _record(self, raw: RawRecord, context: FileContext, tally: Tally, counts: Counts, digests: dict[bytes, int],
                result: FileResult) -> None:  # fmt: skip
        """One record into the file's result: rejected, kept, or dropped as an exact copy of one kept."""
        made: Tally = Counter()  # this record's fixes, for its rows; then the file's
        outcome = self.records.process(raw, context, made)
        if made:
            tally.update(made)
            outcome.fixes = record_fixes(made)
        if not isinstance(outcome, Kept):
            counts.rejected += 1
            counts.errors.update(outcome.codes)
            result.reject(outcome)
            return
        digest = outcome.digest
        if digest in digests:
            counts.duplicates += 1
            counts.duplicates_by_rule["exact-copy"] += 1
            result.copy(raw.position, digests[digest])
            return
        digests[digest] = raw.position
        counts.exported += 1
        result.keep(outcome)


def read_new_files(plans: list[tuple[SourceStage, list[tuple[str, Path]]]], meter: Meter = unmetered) -> None:
    """Read every file that has no cached result yet, of all the sources being staged: in one pool of processes
    (one per core, the largest files first, so that no core waits idle behind a large file started last, at the
    end of each source or of the build), or in this process when there is too little to read for it to pay.
    `meter` is told how far the reading is each time a file ends."""
    # One task per cached result: two files with the same content (one file published under two names) share it,
    # and two processes must not write it at the same time.
    unique = {cached: (stage, path) for stage, planned in plans for path, cached in planned if cached in stage.read_now}
    new = [(stage, path, cached) for cached, (stage, path) in unique.items()]
    count = min(workers(), len(new))
    if count > 1 and sum(_size(path) for _, path, _ in new) >= PARALLEL_MIN_BYTES:
        by_size = sorted(new, key=lambda task: -_size(task[1]))
        tasks = [(stage.reading, str(stage.data_dir), path, str(cached)) for stage, path, cached in by_size]
        pool = worker_pool(count)
        tick = _ticker(meter, [path for _, path, _ in by_size])
        try:
            futures = {pool.submit(_process_in_worker, *task): task[2] for task in tasks}
            for future in as_completed(futures):
                tick(futures[future], future.result())
        except BaseException:  # an error, Ctrl-C, SIGTERM: the workers stop now, not after their files
            kill_pool(pool)
            for data_dir in {stage.data_dir for stage, _ in plans}:
                recover(data_dir)  # the folders of the files they were reading
            raise
        pool.shutdown()
    else:
        tick = _ticker(meter, [path for _, path, _ in new])
        for stage, path, cached in new:
            tick(path, stage._process(path, cached))


def worker_pool(count: int, *, spawn: bool = False) -> ProcessPoolExecutor:
    """A pool of `count` worker processes that die with the build (start_worker); `spawn`: started afresh
    rather than forked (a fork late in a build would share, then copy, all the memory the build holds)."""
    context = multiprocessing.get_context("spawn") if spawn else None
    return ProcessPoolExecutor(max_workers=count, mp_context=context, initializer=start_worker,
                               initargs=(os.getpid(),))  # fmt: skip


def kill_pool(pool: ProcessPoolExecutor) -> None:
    """On an error, Ctrl-C or SIGTERM: the workers killed now, not after their tasks, and the pool shut down."""
    _quiet_broken_pool()
    processes = list(getattr(pool, "_processes", {}).values())  # the executor names no public way
    for process in processes:
        process.kill()
    for process in processes:
        process.join()
    pool.shutdown(wait=True, cancel_futures=True)  # the workers are dead: its thread ends at once


def _ticker(meter: Meter, paths: list[str]) -> Callable[[str, int], None]:
    """A function to call with each file read and its records: it tells `meter` the files, records and bytes
    done so far."""
    sizes = {path: _size(path) for path in paths}
    total, done = sum(sizes.values()), [0, 0, 0]
    meter(Tick("reading", 0, len(paths), "files", 0, 0, total))  # the step starts: its time counts from now

    def tick(path: str, records: int) -> None:
        done[0] += 1
        done[1] += records
        done[2] += sizes.get(path, 0)
        meter(Tick("reading", done[0], len(paths), "files", done[1], done[2], total))

    return tick


_WORKER_STAGES: dict[Reading, SourceStage] = {}
_PR_SET_PDEATHSIG = 1


def start_worker(parent: int) -> None:
    """In each worker process: die with the build (Linux: the kernel sends SIGKILL when the parent ends, even
    by kill -9), and hold none of its locks, so that a worker never keeps a data dir locked after its run."""
    release_inherited_locks()
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # not Linux: the worker ends when the pool's pipe closes
        pass
    if os.getppid() != parent:  # the build died before prctl took effect
        os._exit(1)


def _process_in_worker(reading: Reading, data_dir: str, path: str, cached: str) -> int:
    """Run in a worker process: read one file into its cache folder (one SourceStage per source and process);
    the number of records read."""
    stage = _WORKER_STAGES.setdefault(reading, SourceStage(reading, Path(data_dir)))
    return stage._process(path, Path(cached))


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
