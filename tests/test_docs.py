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


def test_the_demo_output_in_cli_md_is_the_real_one(tmp_path: Path) -> None:
    """docs/cli.md shows what `make demo` prints (its release id aside): 0.10.1's lacked two tables."""
    import re

    seed = ["pes-marche", "aife", "e-marchespublics", "grandlyon", "marches-publics-info"]
    inputs = [a for s in seed for a in ("--input", f"{s}={ROOT / 'samples' / s}")]
    names = ["sirene-etablissements", "sirene-unites-legales", "cog-communes", "cpv"]  # as the Makefile's demo
    references = [a for r in names for a in ("--reference", f"{r}={ROOT / 'samples' / 'references' / f'{r}.csv'}")]
    out = tmp_path / "dist"
    data = tmp_path / "data"
    result = run_cli("build", "--offline", *seed, *inputs, *references, "--data-dir", str(data), "--out", str(out))
    assert result.exit_code == 0
    assert sorted(p.name for p in (data / "references").glob("*.parquet")) == sorted(f"{r}.parquet" for r in names)
    assert "WARNING: reference" not in result.stderr
    documented = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8").split("$ make demo\n", 1)[1].split("```")[0]
    build_id = re.compile(r"\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}")
    seconds = re.compile(r"written in [\d.]+ s")  # the report's time varies from run to run
    database = re.compile(r"decp\.sqlite \([\d.]+ MB")  # its pages hold the input paths, longer here

    def same(text: str) -> str:
        return database.sub("decp.sqlite (N MB", seconds.sub("written in S s", build_id.sub("ID", text)))

    assert same(result.stdout.replace(f"{out}/", "dist/")) == same(documented)
