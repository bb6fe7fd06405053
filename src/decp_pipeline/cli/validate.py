"""`decp validate`: check DECP files against the official schemas, as a publisher would before publishing."""

from __future__ import annotations

import io
import sys
from collections.abc import Callable
from typing import TextIO

import click

from decp_pipeline.cli.options import verbosity, verbosity_options
from decp_pipeline.config import SCHEMA_VERSIONS
from decp_pipeline.validation.files import FileValidation
from decp_pipeline.validation.report import write_json, write_text


@click.command("validate")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=True))
@click.option(
    "--schema-version",
    type=click.Choice(SCHEMA_VERSIONS),
    default="auto",
    show_default=True,
    help="Format version to validate against; auto detects it from each file's content. "
    "1.5-dgfip is the PES Marché variant of the 1.5 XSD.",
)
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of lines.")
@verbosity_options
def validate_command(files: tuple[str, ...], schema_version: str, as_json: bool) -> None:
    """Validate DECP files (JSON or XML, format 1.5 or 2022) against the official schemas.

    Prints one line per problem, FILE: record N (id=...): PATH: message [rule], a verdict line per file,
    and a last line with the counts. Files of any size are read record by record.

    Exit code: 0 every file is valid, 1 at least one file is invalid, 2 a file could not be read.
    """
    terminal = _TerminalProgress() if sys.stderr.isatty() and verbosity() >= 0 else None
    validations = (FileValidation(path, schema_version, _progress(path, terminal)) for path in files)
    write = write_json if as_json else write_text
    totals = write(validations, terminal.wrap(sys.stdout) if terminal else sys.stdout)
    sys.stdout.flush()  # a reader gone away (`decp validate big.json | head`) is the command line's (cli/__init__.py)
    raise SystemExit(totals.exit_code)


def _progress(path: str, terminal: _TerminalProgress | None) -> Callable[[int], None] | None:
    """A counter on a terminal, plain lines with -v elsewhere, nothing with -q."""
    if terminal is not None:
        return lambda n: terminal.show(f"{path}: {n:,} records checked")
    if verbosity() >= 1:
        return lambda n: click.echo(f"{path}: {n:,} records checked", err=True)
    return None


class _TerminalProgress:
    """A one-line counter on stderr, erased before anything is written on stdout (same terminal)."""

    def __init__(self) -> None:
        self.shown = False

    def show(self, text: str) -> None:
        sys.stderr.write(f"\r{text}\033[K")
        sys.stderr.flush()
        self.shown = True

    def clear(self) -> None:
        if self.shown:
            sys.stderr.write("\r\033[K")
            sys.stderr.flush()
            self.shown = False

    def wrap(self, out: TextIO) -> io.TextIOBase:
        progress = self

        class Clearing(io.TextIOBase):
            def write(self, text: str) -> int:
                progress.clear()
                return out.write(text)

            def flush(self) -> None:
                out.flush()

        return Clearing()
