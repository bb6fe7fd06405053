"""The `decp` command line: thin commands over the library, which never imports click."""

from __future__ import annotations

import logging
import sys

import click

from decp_pipeline import __version__
from decp_pipeline.cli.build import build_command
from decp_pipeline.cli.fetch import fetch_command
from decp_pipeline.cli.sources import sources_command
from decp_pipeline.cli.validate import validate_command

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="decp")
def cli() -> None:
    """Consolidate the French public procurement open data (DECP).

    Results go to stdout; progress and diagnostics go to stderr. Exit codes: 0 success, 1 the command ran
    but something is wrong (an invalid file, a failed source), 2 usage or configuration error.
    """
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, level=logging.WARNING)


cli.add_command(build_command)
cli.add_command(fetch_command)
cli.add_command(sources_command)
cli.add_command(validate_command)


def main() -> None:
    cli(prog_name="decp")
