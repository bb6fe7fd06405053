"""What a long command shows on stderr as it works: its progress lines, and how far its long steps are.

The lines follow -q/-v (cli/options.py): each source's steps and failures by default, the detail lines too
(every file read, every resource downloaded) with -v, nothing with -q. A long step (downloading, reading,
writing) shows a tqdm bar on a terminal, redrawn in place and erased when the step ends: items and records
done of the total, records/s, time left; when stderr is not a terminal (a cron job's log), a plain line
every `PLAIN_EVERY` seconds instead, so that a short run prints none. Threads tick at once (downloads of
several sources, the writers of the outputs): one lock orders what is written.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, TextIO

from decp_pipeline.progress import Tick

PLAIN_EVERY = 10.0  # seconds between two progress lines when stderr is not a terminal


class Console:
    def __init__(
        self,
        level: int,
        *,
        terminal: bool,
        every: float = PLAIN_EVERY,
        clock: Callable[[], float] = time.monotonic,
        stream: TextIO | None = None,
        heartbeat: float | None = 1.0,
    ) -> None:
        """`heartbeat`: seconds between two redraws of the last tick when none comes (a stalled download, a
        long retry pause): the bar's clock goes on and the plain lines keep their rhythm; None: no redraw."""
        self.level, self.terminal, self.every, self.clock = level, terminal, every, clock
        self.heartbeat = heartbeat
        self._latest: Tick | None = None
        self._stopped = threading.Event()
        self._beating = False
        self._stream = stream
        self._lock = threading.Lock()
        self._bar: Any = None  # the tqdm bar of the step shown, on a terminal
        self._step: str | None = None
        self._started: dict[str, float] = {}  # step → when its first tick came
        self._last = 0.0  # when the last plain line was written
        self._logging: list[tuple[logging.StreamHandler[Any], Any]] = []  # handlers whose stream this replaces

    @property
    def stream(self) -> TextIO:
        return self._stream or sys.stderr  # looked up when used: click's test runner swaps sys.stderr

    def line(self, line: str, *, detail: bool = False) -> None:
        """A progress line (the library's `Progress`), written above the bar if one is shown."""
        if self.level > 0 or (self.level == 0 and not detail):
            self.write(line)

    def tick(self, tick: Tick) -> None:
        """How far a step is (the library's `Meter`)."""
        if self.level < 0:
            return
        with self._lock:
            now = self.clock()
            if tick.step != self._step:
                self._close_bar()
                self._step = tick.step
                self._last = self._started.setdefault(tick.step, now)
            self._latest = tick
            self._show(tick, now)
            if self.heartbeat is not None and not self._beating:
                self._beating = True
                threading.Thread(target=self._beat, args=(self.heartbeat,), name="decp-console", daemon=True).start()

    def _show(self, tick: Tick, now: float) -> None:
        if self.terminal:
            self._draw(tick, now)
        elif now - self._last >= self.every:
            self._last = now
            print(plain_line(tick, now - self._started[tick.step]), file=self.stream, flush=True)

    def _beat(self, every: float) -> None:
        """Show the last tick again when none came for a while (until close)."""
        while not self._stopped.wait(every):
            with self._lock:
                if self._latest is not None and self._latest.step == self._step:
                    self._show(self._latest, self.clock())

    def close(self) -> None:
        """Erase the bar, before the command prints its summary; give the log handlers their stream back."""
        self._stopped.set()
        with self._lock:
            self._close_bar()
            self._step = None
            self._latest = None
        for handler, stream in self._logging:
            handler.setStream(stream)
        self._logging = []

    def capture_logging(self) -> Console:
        """Route the log lines meant for stderr (-v, warnings, errors) through this console, above the bar,
        whatever -q says (the log level decides them)."""
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream in (sys.stderr, sys.__stderr__):
                self._logging.append((handler, handler.setStream(_Through(self))))
        return self

    def write(self, text: str) -> None:
        """A whole line of text, above the bar (the log lines)."""
        with self._lock:
            if self._bar is not None:
                self._bar.write(text, file=self.stream)
            else:
                print(text, file=self.stream, flush=True)

    def _draw(self, tick: Tick, now: float) -> None:
        by_size = tick.size_total > 0
        total = tick.size_total if by_size else tick.total
        done = counted(tick, now - self._started[tick.step]).replace("{", "{{").replace("}", "}}")
        shape = "{desc}: {percentage:3.0f}%|{bar}| " + done + " [{elapsed}<{remaining}]"
        if self._bar is None:
            from tqdm import tqdm  # noqa: PLC0415 - only on a terminal

            columns, lines = terminal_size(self.stream)
            self._bar = tqdm(total=total, desc=tick.step, file=self.stream, leave=False, ncols=columns, nrows=lines,
                             bar_format=shape)  # fmt: skip
        self._bar.total = total
        self._bar.n = tick.size_done if by_size else tick.done
        self._bar.bar_format = shape
        self._bar.refresh()

    def _close_bar(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None


class _Through(io.TextIOBase):
    """A stream for a log handler: each line it receives goes through the console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.pending = ""

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            self.console.write(line)
        return len(text)


def terminal_size(stream: TextIO) -> tuple[int, int]:
    """The columns and lines of the terminal `stream` writes to; 80 × 24 for what it does not say."""
    try:
        columns, lines = os.get_terminal_size(stream.fileno())
    except (OSError, ValueError, AttributeError):  # not a terminal, or no file descriptor (a test's stream)
        columns, lines = 0, 0
    return columns or 80, lines or 24


def counted(tick: Tick, elapsed: float) -> str:
    """`120/500 files, 34,000 records, 4,200 records/s`."""
    text = f"{tick.done:,}/{tick.total:,} {tick.unit}"
    if tick.size_done and not tick.size_total:
        text += f", {tick.size_done / 1024**2:,.1f} MiB"
    if tick.records:
        text += f", {tick.records:,} records"
        if elapsed > 0:
            text += f", {tick.records / elapsed:,.0f} records/s"
    return text


def plain_line(tick: Tick, elapsed: float) -> str:
    """`reading: 120/500 files, 34,000 records, 4,200 records/s; 24 % done in 8 s, about 25 s left`: the share
    done and the time left are reckoned on the bytes when the step knows them, else on the items."""
    share = tick.size_done / tick.size_total if tick.size_total else tick.done / tick.total if tick.total else 0.0
    text = f"{tick.step}: {counted(tick, elapsed)}; {share:.0%} done in {elapsed:,.0f} s"
    if 0 < share < 1:
        text += f", about {elapsed * (1 - share) / share:,.0f} s left"
    return text
