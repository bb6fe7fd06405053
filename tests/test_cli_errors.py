"""Errors at the command line: one line on stderr, `Error: <message>`, no traceback, the exit code of the error's
kind (docs/cli.md, "Errors"). Real failures only: a broken sources.yaml, a malformed file, an --out that cannot
be created or written, a full disk (/dev/full), a reader of stdout that goes away."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import Result

from .conftest import CORPUS, fixture, force_assembly, release_files, run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
AIFE_FILE = SAMPLES / "aife" / "donnees-essentielles-marches04.04.2019.01-30.xml"
AIFE = ["aife", "--input", f"aife={AIFE_FILE}"]  # 47 records, all rejected: rejected.jsonl has bytes
SOURCE = "{id: ville-x, name: X, kind: url, url: 'http://x/a.json', format: auto, enabled: true, priority: 1}"
BAD_KEY = f"sources:\n  - {SOURCE.replace('url:', 'urll:')}\n"
BAD_YAML = "sources:\n  - id: [unclosed\n"


def assert_one_error_line(result: Result, exit_code: int, *fragments: str) -> str:
    """The run stopped on an error: the last line on stderr, and the only one (run with -q), is `Error: ...`,
    with `fragments`; no traceback."""
    assert result.exit_code == exit_code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("Error: ")
    for fragment in fragments:
        assert fragment in lines[0]
    assert "Traceback" not in result.stderr + result.stdout
    return lines[0]


@pytest.mark.parametrize("text", [BAD_KEY, BAD_YAML], ids=["unknown-key", "not-yaml"])
@pytest.mark.parametrize("command", ["sources", "fetch", "build"])
def test_a_bad_config_is_one_line_and_exit_2(tmp_path: Path, command: str, text: str) -> None:
    config = tmp_path / "sources.yaml"
    config.write_text(text, encoding="utf-8")
    args = [command, "--config", str(config)]
    if command != "sources":
        args += ["--offline", "--data-dir", str(tmp_path / "data")]
    line = assert_one_error_line(run_cli(*args), 2, f"Error: {config}: ")
    if text == BAD_KEY:
        assert "source 'ville-x' (entry 1): unknown key 'urll' (did you mean 'url'?)" in line
    else:
        assert "line 3, column 1: not valid YAML: expected ',' or ']'" in line


def test_every_problem_of_a_config_is_on_the_one_line(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    second = SOURCE.replace("ville-x", "ville-y").replace("priority: 1", "priority: high")
    config.write_text(f"{BAD_KEY}  - {second}\n", encoding="utf-8")
    line = assert_one_error_line(run_cli("sources", "--config", str(config)), 2)
    assert f"Error: {config}: source 'ville-x' (entry 1): missing key 'url' or 'urls' for kind 'url'; " in line
    assert "; source 'ville-x' (entry 1): unknown key 'urll' (did you mean 'url'?); source 'ville-y' (entry 2)" in line


def test_the_installed_command_renders_errors_the_same(tmp_path: Path) -> None:
    """The real entry point (`python -m decp_pipeline` runs `main`, as the `decp` script does)."""
    config = tmp_path / "sources.yaml"
    config.write_text(f"sources:\n  - {SOURCE}\n", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "decp_pipeline", "build", "--offline", "--config", str(config), "nope"],
        capture_output=True,
        text=True,
        check=False,
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert result.stderr == f"Error: {config}: unknown source 'nope' (known: ville-x)\n"
    assert result.stdout == ""


def test_a_directory_given_to_validate_is_an_unreadable_file_and_the_others_are_checked(tmp_path: Path) -> None:
    """0.10.1 stopped at the directory with a usage error and never checked the next file."""
    result = run_cli("validate", str(tmp_path), fixture("aws_marches-publics.info_2019-03-07_excerpt.json"))
    assert result.exit_code == 2
    lines = result.stdout.splitlines()
    assert lines[0] == f"{tmp_path}: UNREADABLE: a directory; give the files inside it (e.g. {tmp_path}/*.json)"
    assert lines[-1].startswith("2 file(s): 0 valid, 1 invalid, 1 unreadable; 49 records")
    assert result.stderr == ""


def test_a_malformed_file_is_an_invalid_file_not_a_crash() -> None:
    """`decp validate`: the file's fault is a problem line on stdout, with its line and column; exit 1."""
    malformed = CORPUS / "v15-xml-malformed.xml"
    result = run_cli("validate", str(malformed))
    assert result.exit_code == 1
    assert f"{malformed}: line " in result.stdout
    assert "[syntax]" in result.stdout
    assert result.stderr == ""
    assert "Traceback" not in result.stdout


def test_a_malformed_input_fails_its_file_not_the_build(tmp_path: Path) -> None:
    """`decp build`: the file is failed and counted, the build goes on; exit 1, no error line, no traceback."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "cut.xml").write_bytes(AIFE_FILE.read_bytes()[:5000])
    (folder / "page.json").write_text("<!DOCTYPE html><html><body>Maintenance</body></html>", encoding="utf-8")
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"),
                     "aife", "--input", f"aife={folder}")  # fmt: skip
    assert result.exit_code == 1
    assert f"FAILED aife: {folder / 'cut.xml'}: line " in result.stdout
    assert f"FAILED aife: {folder / 'page.json'}: the file is an HTML page, not DECP data" in result.stdout
    assert "Error:" not in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def build(tmp_path: Path, out: Path) -> Result:
    return run_cli("build", "-q", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(out), *AIFE)


def test_an_out_that_cannot_be_created_exits_1(tmp_path: Path) -> None:
    """A file where --out's parent folder should be: no folder can be made there, whoever runs the test."""
    (tmp_path / "file").write_text("")
    out = tmp_path / "file" / "dist"
    assert_one_error_line(build(tmp_path, out), 1, f"Error: cannot create the output folder {out}/: Not a directory")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes in a read-only folder")
def test_an_out_that_cannot_be_written_exits_1(tmp_path: Path) -> None:
    out = tmp_path / "dist"
    out.mkdir()
    out.chmod(0o555)
    try:
        assert_one_error_line(build(tmp_path, out), 1, f"could not write the outputs in {out}/", "Permission denied")
    finally:
        out.chmod(0o755)
    assert list(out.iterdir()) == []


@pytest.mark.skipif(not os.path.exists("/dev/full"), reason="no /dev/full")
def test_a_full_disk_exits_1_and_keeps_the_outputs_in_place(tmp_path: Path) -> None:
    """ENOSPC for real: the temporary file of rejected.jsonl (its name is known: the CLI runs in this process)
    is a link to /dev/full, where every write fails with "No space left on device"."""
    out = tmp_path / "dist"
    assert build(tmp_path, out).exit_code == 0
    before = release_files(out, stamped=True)
    force_assembly(out)  # the next build assembles again
    working = out / "releases" / f".{os.getpid()}.tmp"
    working.mkdir()
    (working / f".rejected.jsonl.{os.getpid()}.tmp").symlink_to("/dev/full")
    line = assert_one_error_line(build(tmp_path, out), 1, f"Error: could not write the outputs in {out}/")
    assert "No space left on device" in line
    assert "the current release was kept" in line
    del before["report.json"]
    assert release_files(out, stamped=True) == before
    assert not working.exists()


def test_a_reader_gone_away_stops_quietly(tmp_path: Path) -> None:
    """`decp validate ... | head -1`: once the pipe is closed, exit 1, and nothing on stderr (no traceback, no
    "Exception ignored" from the last flush)."""
    excerpt = str(SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json")
    with subprocess.Popen(
        [sys.executable, "-m", "decp_pipeline", "validate", *[excerpt] * 300],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    ) as process:
        assert process.stdout is not None
        assert process.stderr is not None
        assert process.stdout.readline().startswith(excerpt.encode())
        process.stdout.close()
        stderr = process.stderr.read()
        assert process.wait(timeout=60) == 1
    assert stderr == b""


def test_a_bad_decp_workers_is_one_line_exit_2(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """0.10.1: a ValueError traceback at import, for every command."""
    monkeypatch.setenv("DECP_WORKERS", "abc")
    assert_one_error_line(build(tmp_path, tmp_path / "dist"), 2, "DECP_WORKERS='abc': expected a whole number")
    assert run_cli("validate", fixture("aws_marches-publics.info_2019-03-07_excerpt.json")).exit_code == 1


@pytest.fixture
def full_disk(tmp_path: Path):
    """A 160 KiB tmpfs: a real full disk (needs the right to mount, as root on the CI machine)."""
    mount_point = tmp_path / "full"
    mount_point.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=160k", "tmpfs", str(mount_point)],
                          capture_output=True, check=False)  # fmt: skip
    if made.returncode != 0:
        pytest.skip("no right to mount a tmpfs here")
    yield mount_point
    subprocess.run(["umount", "-l", str(mount_point)], check=False)  # lazily: the lock file may still be open


def test_a_full_data_dir_is_one_line_naming_it(tmp_path: Path, full_disk: Path) -> None:
    """0.10.1: a worker's traceback and no summary."""
    result = run_cli("build", "-q", "--offline", "--data-dir", str(full_disk / "data"), "--out", str(tmp_path / "dist"),
                     *AIFE)  # fmt: skip
    assert result.exit_code == 1
    [line] = result.stderr.splitlines()
    assert line.startswith(f"Error: {full_disk / 'data'}: the result of ")
    assert "No space left on device" in line
    assert line.endswith("free some space, or give another --data-dir")
