"""Every example of docs/serve.md, run against a live `decp serve` started with its default options, answers
exactly what the page shows (the port aside: a free one)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .serve_server import serving

ROOT = Path(__file__).parents[1]
DOC = ROOT / "docs" / "serve.md"
DOCUMENTED_URL = "http://127.0.0.1:8000"


def examples() -> list[tuple[str, str]]:
    """(command, answer) for each `$ ` line of the page's code blocks, its answer the lines up to the next one."""
    found = []
    for block in re.findall(r"^```\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.MULTILINE | re.DOTALL):
        for example in re.split(r"^\$ ", block, flags=re.MULTILINE)[1:]:
            command, _, answer = example.partition("\n")
            found.append((command, answer))
    return found


def test_the_page_has_an_example_of_every_route():
    commands = " ".join(command for command, _ in examples())
    for route in ("/api/validate", "/api/schemas", "/health", "/openapi.json"):
        assert route in commands


def test_every_example_answers_what_the_page_shows(tmp_path):
    if shutil.which("curl") is None:
        pytest.skip("curl is not installed: the examples of docs/serve.md are curl commands")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    with serving(tmp_path) as server:
        for command, answer in examples():
            run = command.replace(DOCUMENTED_URL, server.url)
            result = subprocess.run(
                run, shell=True, cwd=ROOT, env=env, capture_output=True, text=True, timeout=120, check=False
            )
            assert result.stdout == answer, command
        assert server.uploads_left() == []
