"""Validation of an uploaded file in a bounded pool of processes, never on the server's event loop.

A worker runs exactly what `decp validate --json FILE` runs (validation.files.FileValidation written by
validation.report.write_json), so that the service and the command line cannot disagree; only the document's
file name is the upload's. Processes rather than threads: a validation is CPU-bound Python, and a process can
be stopped when it overruns. The time limit is kept twice: in the worker by an alarm (the usual case: the
worker stops between two records and is free again), and on the event loop (a worker stuck in C code: the pool
is then replaced, its processes killed).
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import multiprocessing
import signal
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from types import FrameType
from typing import Any

from decp_pipeline.exceptions import ValidationTimeoutError, WorkerLostError
from decp_pipeline.validation.files import FileValidation
from decp_pipeline.validation.json_records import json_validator
from decp_pipeline.validation.report import write_json

log = logging.getLogger(__name__)
GRACE = 5.0  # seconds the event loop waits beyond the time limit for a worker whose alarm did not stop it

Verdict = tuple[int, dict[str, Any]]  # `decp validate`'s exit code for the file, and its JSON document


def validate_upload(path: str, schema_version: str, name: str, time_limit: float) -> Verdict:
    """`decp validate --json --schema-version V PATH`, as a document whose file is `name`; raises
    ValidationTimeoutError after `time_limit` seconds."""

    def overrun(_signal: int, _frame: FrameType | None) -> None:
        raise ValidationTimeoutError(time_limit)

    previous = signal.signal(signal.SIGALRM, overrun)
    signal.setitimer(signal.ITIMER_REAL, time_limit)
    try:
        out = io.StringIO()
        totals = write_json([FileValidation(path, schema_version)], out)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    document: dict[str, Any] = json.loads(out.getvalue())
    document["files"][0]["file"] = name
    return totals.exit_code, document


def warm_up() -> None:
    """Run in each new worker: the schemas compiled before the first upload waits for them."""
    for version in ("1.5", "2.0"):
        json_validator(version)


class ValidationPool:
    """At most `workers` validations at a time; the others wait on the event loop (a semaphore), not in a queue
    of the pool, so that a file's time limit counts from when a worker takes it."""

    task: Callable[[str, str, str, float], Verdict] = staticmethod(validate_upload)  # what a worker runs
    grace = GRACE

    def __init__(self, workers: int, time_limit: float) -> None:
        self.workers = workers
        self.time_limit = time_limit
        self._slots = asyncio.Semaphore(workers)
        self._executor = self._new_executor()

    def _new_executor(self) -> ProcessPoolExecutor:
        # spawn: a worker starts from a fresh interpreter, not from a copy of the server's threads and loop.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(self.workers, mp_context=context, initializer=warm_up)

    async def start(self) -> None:
        """Start every worker now (imports and schemas: about a second each), not on the first uploads."""
        loop = asyncio.get_running_loop()
        await asyncio.gather(*(loop.run_in_executor(self._executor, warm_up) for _ in range(self.workers)))

    async def run(self, path: str, schema_version: str, name: str) -> Verdict:
        """The verdict on the file at `path`; ValidationTimeoutError when it takes longer than the limit."""
        async with self._slots:
            executor = self._executor
            future: Future[Verdict] = executor.submit(self.task, path, schema_version, name, self.time_limit)
            try:
                return await asyncio.wait_for(asyncio.wrap_future(future), self.time_limit + self.grace)
            except TimeoutError:
                self._replace(executor)
                raise ValidationTimeoutError(self.time_limit) from None
            except BrokenProcessPool:  # a worker died (killed, out of memory): the file is not judged
                self._replace(executor)
                raise WorkerLostError from None

    def _replace(self, executor: ProcessPoolExecutor) -> None:
        """Kill the processes of a pool with a stuck or dead worker, and take a new pool for the next files."""
        if executor is not self._executor:
            return  # already replaced by another request
        log.warning("a validation worker overran its time limit or died: the pool is replaced")
        self._executor = self._new_executor()
        for process in list(getattr(executor, "_processes", {}).values()):
            process.kill()
        executor.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
