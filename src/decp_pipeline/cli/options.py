"""Options shared by every command."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

import click

from decp_pipeline.cli.console import Console


def verbosity_options(command: Callable[..., Any]) -> Callable[..., Any]:
    """-q/--quiet and -v/--verbose: how much goes to stderr. They set the `verbosity` argument (-1, 0, 1)."""

    def set_quiet(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta["verbosity"] = -1
            logging.getLogger().setLevel(logging.ERROR)

    def set_verbose(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
        if value:
            ctx.meta["verbosity"] = 1
            logging.getLogger().setLevel(logging.INFO)

    command = click.option(
        "-q",
        "--quiet",
        is_flag=True,
        expose_value=False,
        callback=set_quiet,
        help="Print nothing on stderr but errors.",
    )(command)
    return click.option(
        "-v",
        "--verbose",
        is_flag=True,
        expose_value=False,
        callback=set_verbose,
        help="Print more detail on stderr.",
    )(command)


def verbosity() -> int:
    """-1 quiet, 0 normal, 1 verbose, for the current command."""
    return int(click.get_current_context().meta.get("verbosity", 0))


def config_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--config",
        "config_file",
        type=click.Path(dir_okay=False),
        default=None,
        help="The sources file (default: $DECP_CONFIG if set, else ./sources.yaml, else the copy shipped with the "
        "package).",
    )(command)


def data_dir_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--data-dir",
        type=click.Path(file_okay=False),
        default="data",
        envvar="DECP_DATA_DIR",
        show_default=True,
        help="Download cache, run state and intermediate files (env: DECP_DATA_DIR).",
    )(command)


def out_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--out",
        type=click.Path(file_okay=False),
        default="dist",
        envvar="DECP_OUT",
        show_default=True,
        help="Where the published releases are (env: DECP_OUT).",
    )(command)


def offline_option(command: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--offline", is_flag=True, help="Open no network connection: use what the data dir already holds."
    )(command)


def console() -> Console:
    """Progress lines and bars on stderr, as -q and -v say (cli/console.py)."""
    return Console(verbosity(), terminal=sys.stderr.isatty()).capture_logging()
