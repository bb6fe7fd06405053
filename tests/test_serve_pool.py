"""The pool of `decp serve` when a worker does not stop at its alarm (stuck in C code, the alarm blocked): the
request still gets its ValidationTimeoutError within the limit and the grace, the stuck process is killed, and
the next file is validated by a new pool."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path

import pytest

from decp_pipeline.exceptions import ValidationTimeoutError, WorkerLostError
from decp_pipeline.serve.worker import ValidationPool, Verdict, validate_upload

EXAMPLE = str(Path(__file__).parents[1] / "samples" / "2022" / "official-example-2022.xml")


def stuck_or_validate(path: str, schema_version: str, name: str, time_limit: float) -> Verdict:
    """Blocks SIGALRM and sleeps for a file named `stuck` (a worker the alarm cannot stop); dies for `die`."""
    if name == "stuck":
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGALRM})
        time.sleep(60)
    if name == "die":
        os.kill(os.getpid(), signal.SIGKILL)
    return validate_upload(path, schema_version, name, time_limit)


def gone(pid: int, timeout: float = 10) -> bool:
    """Whether the process ends (killed and reaped: no zombie either) within `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


class StuckPool(ValidationPool):
    task = staticmethod(stuck_or_validate)
    grace = 0.5


def test_a_stuck_worker_is_killed_and_the_pool_replaced():
    async def scenario() -> None:
        pool = StuckPool(1, 1.0)
        await pool.start()
        first = pool._executor
        stuck_pids = list(first._processes)
        started = time.monotonic()
        with pytest.raises(ValidationTimeoutError):
            await pool.run(EXAMPLE, "auto", "stuck")
        assert time.monotonic() - started < 1.0 + 0.5 + 2
        assert pool._executor is not first
        exit_code, document = await pool.run(EXAMPLE, "auto", "example.xml")
        assert (exit_code, document["files"][0]["file"]) == (0, "example.xml")
        for pid in stuck_pids:
            assert gone(pid)  # killed, and reaped
        with pytest.raises(WorkerLostError):
            await pool.run(EXAMPLE, "auto", "die")
        assert (await pool.run(EXAMPLE, "auto", "again.xml"))[0] == 0
        pool.close()

    asyncio.run(scenario())
