"""What `decp build` shows while it works: a bar per long step on a terminal (a real pseudo-terminal), a plain
line every 10 s in a log, nothing with -q."""

from __future__ import annotations

import io
import os
import pty
import subprocess
import sys
import threading
from pathlib import Path

from decp_pipeline.cli.console import Console
from decp_pipeline.progress import Tick

from .test_build import ALL_SAMPLES


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_plain_lines_come_every_ten_seconds_with_the_time_left():
    clock, out = Clock(), io.StringIO()
    console = Console(0, terminal=False, clock=clock, stream=out, heartbeat=None)
    console.tick(Tick("reading", 1, 500, "files", 2_000, 1_000_000, 40_000_000))  # starts the step's clock
    clock.now = 105.0
    console.tick(Tick("reading", 60, 500, "files", 21_000, 5_000_000, 40_000_000))  # under 10 s since: nothing
    assert out.getvalue() == ""
    clock.now = 110.0
    console.tick(Tick("reading", 120, 500, "files", 42_000, 10_000_000, 40_000_000))
    console.line("aife: FAILED x.json: not JSON")
    clock.now = 112.0
    console.tick(Tick("writing", 10, 500, "files", 3_000))
    clock.now = 122.0
    console.tick(Tick("writing", 250, 500, "files", 90_000))
    clock.now = 123.0
    console.tick(Tick("downloading", 3, 7, "resources", size_done=3 * 1024**2))
    clock.now = 133.0
    console.tick(Tick("downloading", 5, 9, "resources", size_done=5 * 1024**2))
    assert out.getvalue().splitlines() == [
        # 25 % of the bytes in 10 s: 30 s left, whatever the share of the files
        "reading: 120/500 files, 42,000 records, 4,200 records/s; 25% done in 10 s, about 30 s left",
        "aife: FAILED x.json: not JSON",
        "writing: 250/500 files, 90,000 records, 9,000 records/s; 50% done in 10 s, about 10 s left",
        "downloading: 5/9 resources, 5.0 MiB; 56% done in 10 s, about 8 s left",
    ]


def test_quiet_shows_no_progress_and_verbose_the_detail_lines():
    out = io.StringIO()
    quiet = Console(-1, terminal=False, every=0, stream=out)
    quiet.tick(Tick("reading", 1, 2))
    quiet.line("aife: reading 2 file(s)")
    assert out.getvalue() == ""
    normal = Console(0, terminal=False, every=1000, stream=out)
    normal.line("aife: read a.json", detail=True)
    normal.line("aife: reading 2 file(s)")
    Console(1, terminal=False, stream=out).line("aife: read a.json", detail=True)
    assert out.getvalue().splitlines() == ["aife: reading 2 file(s)", "aife: read a.json"]


def build_on_a_terminal(tmp_path: Path, *options: str) -> tuple[int, str, str]:
    """`decp build` of the five samples with its stderr on a pseudo-terminal: the exit code, stdout, what the
    terminal received."""
    command = [sys.executable, "-m", "decp_pipeline", "build", "--offline", *ALL_SAMPLES, *options,
               "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist")]  # fmt: skip
    master, slave = pty.openpty()
    received = bytearray()

    def drain() -> None:
        while True:
            try:
                chunk = os.read(master, 65536)
            except OSError:  # EIO: the last writer closed
                return
            if not chunk:
                return
            received.extend(chunk)

    reader = threading.Thread(target=drain)
    reader.start()
    try:
        result = subprocess.run(command, stdout=subprocess.PIPE, stderr=slave, text=True, timeout=300, check=False)
    finally:
        os.close(slave)
        reader.join(timeout=10)
        os.close(master)
    return result.returncode, result.stdout, received.decode("utf-8", "replace")


def test_a_terminal_shows_a_bar_for_reading_and_for_writing(tmp_path):
    code, stdout, terminal = build_on_a_terminal(tmp_path)
    assert code == 0
    assert "reading:" in terminal
    assert "writing:" in terminal
    assert "records/s" in terminal
    assert "\r" in terminal  # redrawn in place
    lines = [line.strip() for line in terminal.replace("\r", "\n").splitlines()]
    assert "aife: reading 1 file(s)" in lines  # the progress lines are still there, whole
    assert stdout.splitlines()[0].split() == ["SOURCE", "FILES", "FILES_FAILED", "READ", "EXPORTED", "REJECTED",
                                              "DUPLICATES"]  # fmt: skip


def test_a_terminal_shows_nothing_with_quiet(tmp_path):
    code, stdout, terminal = build_on_a_terminal(tmp_path, "-q")
    assert code == 0
    assert terminal == ""
    assert "total" in stdout


def test_log_lines_go_through_the_console_and_back():
    """A review found the log lines (-v, warnings) drawn over the bar: they now go through the console."""
    import logging

    out = io.StringIO()
    handler = logging.StreamHandler(sys.stderr)
    root = logging.getLogger()
    level = root.level  # an earlier command's -q may have raised it: this process's state
    root.setLevel(logging.WARNING)
    root.addHandler(handler)
    try:
        console = Console(0, terminal=False, stream=out).capture_logging()
        logging.getLogger("decp_pipeline.test").warning("a warning\nin two lines")
        console.close()
        assert out.getvalue().splitlines() == ["a warning", "in two lines"]
        assert handler.stream is sys.stderr
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_stalled_step_still_prints_its_lines():
    """A user's walk found a fetch stalled 32 s in retries printing nothing: the last tick is shown again."""
    import time

    out = io.StringIO()
    console = Console(0, terminal=False, every=0.2, stream=out, heartbeat=0.05)
    console.tick(Tick("downloading", 1, 3, "resources"))
    time.sleep(0.7)
    console.close()
    lines = out.getvalue().splitlines()
    assert len(lines) >= 2  # no tick came after the first: the heartbeat wrote them
    assert all(line.startswith("downloading: 1/3 resources; 33% done in ") for line in lines)
    time.sleep(0.3)
    assert out.getvalue().splitlines() == lines  # nothing after close
