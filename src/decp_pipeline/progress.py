"""What the library says while it works: one line per step (a source read, a file failed), and detail lines
(each file read, each resource downloaded) that the command line shows with -v only. The library never
prints: it calls the `Progress` it is given; `cli/options.py` makes the one that writes to stderr."""

from __future__ import annotations

from typing import Protocol


class Progress(Protocol):
    def __call__(self, line: str, *, detail: bool = False) -> None: ...


def silent(line: str, *, detail: bool = False) -> None:
    """The default: nothing said."""
