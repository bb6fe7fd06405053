"""What `decp serve` is told: where to listen and the limits of one request."""

from __future__ import annotations

import os
from dataclasses import dataclass

MEBIBYTE = 1024 * 1024


def default_workers() -> int:
    """One validation per core, at most 4: a validation is CPU-bound, and a small service needs no more."""
    return max(1, min(4, os.cpu_count() or 1))


@dataclass(frozen=True)
class ServeSettings:
    """The settings of one server; `create_app` takes them, `decp serve` builds them from its options."""

    host: str = "127.0.0.1"
    port: int = 8000
    workers: int = 2
    max_upload_mb: float = 200
    time_limit: float = 60.0  # seconds a worker may spend on one file

    @property
    def max_upload_bytes(self) -> int:
        return int(self.max_upload_mb * MEBIBYTE)
