"""Shared test helpers: fixture paths, the real-data folder, and running the command line."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from decp_pipeline.cli import cli

FIXTURES = Path(__file__).parent / "fixtures"
CORPUS = FIXTURES / "validation-corpus"
REAL = FIXTURES / "realdata"
# The full real samples live beside the repository (shared/realdata); tests that need all of them skip
# when the folder is absent. DECP_REALDATA points elsewhere.
SHARED_REALDATA = Path(os.environ.get("DECP_REALDATA", Path(__file__).parents[2] / "shared" / "realdata"))


# The files of a release that name it or its time (its build id, generated_at): the others are the same for
# the same inputs.
STAMPED = ("report.json", "manifest.json", "delta.json", "report.html")
PUBLISHED_DATE = re.compile(rb'"publishedDate":"[^"]*"')


def release_files(out: Path, *, stamped: bool = False) -> dict[str, bytes]:
    """The files of the current release in `out`, by name (without the stamped ones unless `stamped`); those of
    a folder (acheteurs/, ocds/) as FOLDER/PATH. The OCDS packages are stamped with the build's time: unless
    `stamped`, their `publishedDate` is blanked."""
    current = out / "current"
    files = {p.name: p for p in sorted(current.iterdir()) if p.is_file() and (stamped or p.name not in STAMPED)}
    for folder in (p for p in sorted(current.iterdir()) if p.is_dir()):
        files.update({f"{folder.name}/{p.relative_to(folder).as_posix()}": p for p in sorted(folder.rglob("*"))
                      if p.is_file()})  # fmt: skip
    found = {name: path.read_bytes() for name, path in files.items()}
    if not stamped:
        found.update({name: PUBLISHED_DATE.sub(b'"publishedDate":""', data, count=1) for name, data in found.items()
                      if name.startswith("ocds/")})  # fmt: skip
    return found


def force_assembly(out: Path) -> None:
    """Make the next build assemble again: the current release loses its report.json (damaged: rebuilt)."""
    (out / "current" / "report.json").unlink()


def fixture(name: str) -> str:
    return str(REAL / name)


def load(path: str | Path) -> Any:
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def run_cli(*args: str) -> Result:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def realdata() -> Path:
    if not SHARED_REALDATA.is_dir():
        pytest.skip(f"{SHARED_REALDATA} is absent")
    return SHARED_REALDATA
