"""`decp serve` started for a test as a user starts it: the command, in its own process, on a free loopback
port, its temporary folder under the test's; stopped with SIGTERM at the end, as systemd would."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import requests

START_TIMEOUT = 60.0  # seconds for the server and its workers to start (about 2 s here)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class ServeProcess:
    def __init__(self, tmp: Path, *options: str) -> None:
        self.tmp = tmp
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = tmp / "serve.log"
        self.tmpdir = tmp / "tmp"
        self.tmpdir.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "decp_pipeline", "serve", "--port", str(self.port), *options]
        env = {**os.environ, "TMPDIR": str(self.tmpdir)}
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
        self._wait()

    def _wait(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"decp serve exited with {self.process.returncode}: {self.log.read_text()}")
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(self.url + "/health", timeout=5).ok:
                    return
            time.sleep(0.1)
        self.stop()
        raise AssertionError(f"decp serve did not answer in {START_TIMEOUT:g} s: {self.log.read_text()}")

    def uploads_left(self) -> list[str]:
        """The files left in the server's temporary folders (none once every request is answered)."""
        return [str(p) for p in self.tmpdir.rglob("*") if p.is_file()]

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


@contextlib.contextmanager
def serving(tmp: Path, *options: str) -> Iterator[ServeProcess]:
    server = ServeProcess(tmp, *options)
    try:
        yield server
    finally:
        server.stop()
