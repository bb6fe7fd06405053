"""What the library says while it works: one line per step (a source read, a file failed), and detail lines
(each file read, each resource downloaded) that the command line shows with -v only; and, for the long steps
(downloading, reading, writing the outputs), how far they are, as `Tick`s. The library never prints: it calls
the `Progress` and the `Meter` it is given; `cli/console.py` makes the ones that write to stderr."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol


class Progress(Protocol):
    def __call__(self, line: str, *, detail: bool = False) -> None: ...


def silent(line: str, *, detail: bool = False) -> None:
    """The default: nothing said."""


@dataclass(frozen=True)
class Tick:
    """How far a long step is, told each time one of its items ends.

    `done` of `total` items (files or resources: `unit`); `records` done so far, when the step counts them;
    `size_done` of `size_total` bytes, when known: the time left is reckoned on them (a large file takes longer
    than a small one), else on the items."""

    step: str  # "downloading", "reading", "writing"
    done: int
    total: int
    unit: str = "files"
    records: int = 0
    size_done: int = 0
    size_total: int = 0


Meter = Callable[[Tick], None]


def unmetered(tick: Tick) -> None:
    """The default: no progress shown."""
