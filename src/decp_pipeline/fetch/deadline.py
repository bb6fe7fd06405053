"""A watchdog over one response body: the whole body within `http.total_timeout`, at `http.min_rate` at least,
and not after the run was stopped (`cancelled`: the other sources' threads, when one source's failure or a
signal ends the run).

`read_timeout` bounds each wait for data, not the transfer: a server that sends a few bytes every second
never trips it, and holds a run for hours. The watchdog, a thread per body, checks the transfer every second
and, when it is too long or too slow, shuts the socket down (urllib3's `HTTPResponse.shutdown`, made to
interrupt a blocked read from another thread); the read then fails and the HTTP layer reports why, naming the
limit, as a retryable failure.
"""

from __future__ import annotations

import contextlib
import threading
import time
from types import TracebackType

import requests

CHECK_EVERY = 1.0  # seconds between two checks
RATE_WINDOW = 30.0  # seconds: the rate is the average since the body started, checked once this long


class Watchdog:
    """Use as a context around reading `response`; call `received(n)` for each chunk; `reason` says why the
    body was cut (None: it was not)."""

    def __init__(
        self, response: requests.Response, total_timeout: float, min_rate: float, cancelled: threading.Event
    ) -> None:
        self.response = response
        self.cancelled = cancelled
        self.total_timeout = total_timeout
        self.min_rate = min_rate
        self.bytes = 0
        self.reason: str | None = None
        self.started = time.monotonic()
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="decp-deadline", daemon=True)

    def __enter__(self) -> Watchdog:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()

    def received(self, size: int) -> None:
        self.bytes += size

    def _watch(self) -> None:
        while not self._done.wait(CHECK_EVERY):
            self.reason = self._overrun(time.monotonic() - self.started)
            if self.reason is not None:
                with contextlib.suppress(Exception):  # the body may have ended meanwhile
                    self.response.raw.shutdown()
                return

    def _overrun(self, elapsed: float) -> str | None:
        if self.cancelled.is_set():
            return "cancelled: the run was stopped"
        if self.total_timeout and elapsed > self.total_timeout:
            return f"not complete within {self.total_timeout:g} s (http.total_timeout), {self.bytes:,} bytes received"
        rate = self.bytes / elapsed
        if self.min_rate and elapsed >= RATE_WINDOW and rate < self.min_rate:
            return (f"slower than {self.min_rate:,.0f} bytes/s (http.min_rate): {self.bytes:,} bytes in "
                    f"{elapsed:.0f} s")  # fmt: skip
        return None
