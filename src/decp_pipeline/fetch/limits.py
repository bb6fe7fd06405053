"""What the HTTP client shares between the threads that fetch several sources at once: its counts, and the
limit of requests at once to one host (`http.per_host`), so that running sources side by side never hits
one publisher harder than `per_host` connections, even when several sources live on the same host."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from urllib.parse import urlsplit


@dataclass
class Traffic:
    """What the client did on the wire, for the run summary and the tests."""

    requests: int = 0
    retries: int = 0
    bytes: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def count(self, *, requests: int = 0, retries: int = 0, received: int = 0, status: int | None = None) -> None:
        """Add to the counts (several sources' threads count at once)."""
        with self._lock:
            self.requests += requests
            self.retries += retries
            self.bytes += received
            if status is not None:
                self.statuses[status] = self.statuses.get(status, 0) + 1


class HostLimits:
    """At most `per_host` requests at once to each host (host and port, as the URL names them)."""

    def __init__(self, per_host: int) -> None:
        self.per_host = max(1, per_host)
        self._hosts: dict[str, threading.BoundedSemaphore] = {}
        self._lock = threading.Lock()

    @contextmanager
    def hold(self, url: str) -> Iterator[None]:
        host = urlsplit(url).netloc.lower()
        with self._lock:
            semaphore = self._hosts.setdefault(host, threading.BoundedSemaphore(self.per_host))
        with semaphore:
            yield
