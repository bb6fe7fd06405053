"""Every command is documented in docs/cli.md and has help; the README's quick start is the contract's."""

from __future__ import annotations

from pathlib import Path

import pytest

from decp_pipeline.cli import cli

from .conftest import run_cli

ROOT = Path(__file__).parents[1]


@pytest.mark.parametrize("name", sorted(cli.commands))
def test_command_is_documented_and_has_help(name: str) -> None:
    assert f"## decp {name}\n" in (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    result = run_cli(name, "--help")
    assert result.exit_code == 0
    assert "-q, --quiet" in result.stdout


def test_readme_quick_start_has_the_two_commands() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick_start = readme.split("## Quick start", 1)[1].split("##", 1)[0]
    commands = [line.split("#")[0].strip() for line in quick_start.splitlines() if line.startswith("make ")]
    assert commands == ["make demo", "make test"]
