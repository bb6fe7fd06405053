"""Builds killed as a cron, systemd or a user kills them (real processes, real signals): what they leave must
neither block nor mislead. A build killed at any point leaves a whole release current (the old one or the new
one), its worker processes die with it, the data dir's lock goes with it, and the next build removes what it
left and runs. The points inside the publication are reached with DECP_TEST_KILL_AT (pipeline/release.py)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from decp_pipeline.fetch.store import Store
from decp_pipeline.pipeline.release import KILL_POINT, damage
from decp_pipeline.pipeline.stage import recover

from .conftest import run_cli

SAMPLES = Path(__file__).parents[1] / "samples"
AWS = SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"


def decp(tmp_path: Path, inputs: Path, **env: str) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "decp_pipeline", "build", "-q", "--offline", "--data-dir",
               str(tmp_path / "data"), "--out", str(tmp_path / "dist"), "marches-publics-info",
               "--input", f"marches-publics-info={inputs}"]  # fmt: skip
    return subprocess.Popen(command, env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)  # fmt: skip


def finish(process: subprocess.Popen[str], timeout: float = 300) -> tuple[int, str]:
    """The exit code of a build and what it wrote on stderr (its pipes closed)."""
    _, stderr = process.communicate(timeout=timeout)
    return process.returncode, stderr


def aws_folder(tmp_path: Path, name: str, count: int) -> Path:
    """A folder of `count` records of the real AWS excerpt."""
    folder = tmp_path / name
    folder.mkdir()
    records = json.loads(AWS.read_text(encoding="utf-8"))["marches"][:count]
    (folder / "2019-03-07.json").write_text(json.dumps({"marches": records}, ensure_ascii=False), encoding="utf-8")
    return folder


def current_state(dist: Path) -> tuple[str, int]:
    """The current release (whole, or the test fails) and the number of records its decp.json holds."""
    current = dist / "current"
    assert damage(current, checksums=True) == []
    published = len(json.loads((dist / "decp.json").read_text(encoding="utf-8"))["marches"])
    assert json.loads((dist / "report.json").read_text())["total"]["exported"] == published
    return os.readlink(current), published


def leftovers(tmp_path: Path) -> list[str]:
    dist, data = tmp_path / "dist", tmp_path / "data"
    found = [*dist.glob(".*"), *(dist / "releases").glob(".*"), *data.glob("cache/normalized/*/.*"),
             *data.glob("build/.*")]  # fmt: skip
    return sorted(str(p.relative_to(tmp_path)) for p in found)


KILL_POINTS = [("outputs-written", False), ("release-renamed", False), ("current-swapped", True)]


@pytest.mark.parametrize(("point", "new_is_current"), KILL_POINTS)
def test_killed_while_publishing_leaves_a_whole_release(tmp_path: Path, point: str, new_is_current: bool) -> None:
    assert finish(decp(tmp_path, aws_folder(tmp_path, "old", 20)))[0] == 0
    old, _ = current_state(tmp_path / "dist")
    killed = decp(tmp_path, aws_folder(tmp_path, "new", 30), **{KILL_POINT: point})
    assert finish(killed)[0] == -signal.SIGKILL
    link, published = current_state(tmp_path / "dist")
    assert (link != old, published) == ((True, 30) if new_is_current else (False, 20))
    # The next build removes what the killed one left, and publishes the new inputs.
    code, stderr = finish(decp(tmp_path, tmp_path / "new"))
    assert code == 0, stderr
    assert current_state(tmp_path / "dist")[1] == 30
    assert leftovers(tmp_path) == []
    # The delta is against the release current before the killed build (whose own may be kept, not current).
    delta = json.loads((tmp_path / "dist" / "delta.json").read_text())
    assert delta["previous"] == Path(old).name  # the release current before the killed build
    assert json.loads(run_cli("diff", "--json", "--out", str(tmp_path / "dist")).stdout) == delta


def test_a_stage_killed_between_its_two_renames_gets_its_old_folder_back(tmp_path: Path) -> None:
    """The stage of a source is replaced by two renames (old aside, new in place): killed between them, the
    next run puts the old one back instead of losing the source; the folders of half-read files go."""
    stages = tmp_path / "data" / "build"
    (stages / ".aife.old").mkdir(parents=True)
    (stages / ".aife.old" / "files.json").write_text("[]")
    (stages / ".aife.k2j3h4").mkdir()
    half_read = tmp_path / "data" / "cache" / "normalized" / "aife" / ".x8f2"
    half_read.mkdir(parents=True)
    recover(tmp_path / "data")
    assert sorted(p.name for p in stages.iterdir()) == ["aife"]
    assert (stages / "aife" / "files.json").read_text() == "[]"
    assert not half_read.exists()


def many_files(tmp_path: Path, count: int = 400) -> Path:
    """Enough distinct files (about 19 MB) for the build to read them in two worker processes for seconds."""
    folder = tmp_path / "many"
    folder.mkdir()
    content = AWS.read_bytes()
    for number in range(count):
        (folder / f"{number:04d}.json").write_bytes(content + b" " * number)  # another file for each
    return folder


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def workers_started(process: subprocess.Popen[str], count: int = 2) -> list[int]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and process.poll() is None:
        if len(found := children(process.pid)) >= count:
            return found
        time.sleep(0.02)
    raise AssertionError(f"the build did not start {count} workers")


def gone(pids: list[int], seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not [p for p in pids if Path(f"/proc/{p}").exists() and "Z" not in _state(p)]:
            return True
        time.sleep(0.05)
    return False


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "Z"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="workers die with their parent on Linux")
@pytest.mark.parametrize("sent", [signal.SIGKILL, signal.SIGTERM])
def test_a_build_killed_while_reading_takes_its_workers_and_lock_along(tmp_path: Path, sent: signal.Signals) -> None:
    folder = many_files(tmp_path)
    process = decp(tmp_path, folder, DECP_WORKERS="2")
    workers = workers_started(process)
    time.sleep(0.3)  # inside the reading
    process.send_signal(sent)
    code, stderr = finish(process, 60)
    assert gone(workers), f"workers {workers} outlived the build"
    if sent == signal.SIGTERM:
        assert code == 1
        assert stderr.strip().splitlines()[-1].startswith("Error: stopped by SIGTERM: the current release is whole")
        assert "Traceback" not in stderr  # Python 3.11's executor thread printed one (InvalidStateError)
        assert leftovers(tmp_path) == []
    else:
        assert code == -signal.SIGKILL
    with Store(tmp_path / "data"):  # the lock went with the build
        pass
    code, stderr = finish(decp(tmp_path, folder, DECP_WORKERS="2"))
    assert code == 0, stderr
    assert current_state(tmp_path / "dist")[1] == 49
    assert leftovers(tmp_path) == []


def test_the_lock_message_names_the_holder(tmp_path: Path) -> None:
    with Store(tmp_path / "data"):
        code, stderr = finish(decp(tmp_path, aws_folder(tmp_path, "in", 5)))
    assert code == 2
    [line] = stderr.strip().splitlines()
    assert line.startswith(f"Error: {tmp_path / 'data'}: another decp run is using this data dir: held by process "
                           f"{os.getpid()} (")  # fmt: skip
    assert f"stop it with `kill {os.getpid()}` if it is stuck (the lock goes with the process" in line


def test_a_first_build_killed_after_its_swap_gets_its_links_from_the_next(tmp_path: Path) -> None:
    """Found in review: killed between the swap of `current` and the links, a first build left no
    `dist/decp.json`, and the next one said "Nothing changed" without making them."""
    folder = aws_folder(tmp_path, "only", 20)
    assert finish(decp(tmp_path, folder, **{KILL_POINT: "current-swapped"}))[0] == -signal.SIGKILL
    dist = tmp_path / "dist"
    assert not (dist / "decp.json").exists()
    code, stderr = finish(decp(tmp_path, folder))
    assert code == 0, stderr
    assert os.readlink(dist / "decp.json") == "current/decp.json"
    assert json.loads((dist / "report.json").read_text())["total"]["exported"] == 20
