"""The data dir's lock: one decp run at a time per data dir, held by the run's main process only.

An advisory `flock` on DATA_DIR/.lock: the kernel releases it when the process that took it ends, however it
ends, so a lock never outlives its run and no file ever needs removing. Forked worker processes inherit the
descriptor, which would keep the lock held by an orphaned worker: each worker lets go of its copy when it
starts (`release_inherited_locks`), and dies with its parent (pipeline/stage.py).
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path
from typing import IO

# The descriptors of the locks this process holds.
HELD: set[int] = set()


def acquire(lock: IO[str]) -> bool:
    """Take the lock of an open lock file, without waiting; the holder's pid is written in it."""
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        return False
    lock.truncate(0)
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    HELD.add(lock.fileno())
    return True


def release(lock: IO[str]) -> None:
    HELD.discard(lock.fileno())
    lock.close()


def release_inherited_locks() -> None:
    """In a forked worker: let go of the parent's locks. The descriptor is pointed at /dev/null rather than
    closed, so that the file object inherited from the parent never closes a number reused since."""
    for fd in HELD:
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, fd)
        os.close(null)
    HELD.clear()


def describe_holders(lock: Path) -> str:
    """Which processes hold the lock file open (Linux: /proc), and how to clear the lock of a stuck run."""
    target = str(lock.resolve())
    holders = []
    for fd_dir in sorted(Path("/proc").glob("[0-9]*/fd")):
        try:
            if any(os.path.realpath(fd) == target for fd in fd_dir.iterdir()):
                command = (fd_dir.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
                holders.append((fd_dir.parent.name, command.strip()[:80]))
        except OSError:
            continue
    if not holders:
        try:
            pid = lock.read_text().strip()
        except OSError:
            pid = ""
        holder = f"process {pid}" if pid.isdigit() else "another process"
        return f"held by {holder}; wait for it to end (the lock goes with the process: no file needs removing)"
    named = ", ".join(f"process {pid} ({command})" for pid, command in holders)
    pids = " ".join(pid for pid, _ in holders)
    return (
        f"held by {named}; wait for it to end, or stop it with `kill {pids}` if it is stuck "
        "(the lock goes with the process: no file needs removing)"
    )
