"""The `decp` command line: thin commands over the library, which never imports click.

Errors are rendered here, once: a DecpError (exceptions.py) that stops a command becomes one line on stderr,
`Error: <message>`, and the exit code its class carries; so does an OSError that no one turned into a DecpError
(a file or folder that cannot be written, a full disk), with exit code 1. No traceback for either.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import sys
from typing import Any, NoReturn

import click

from decp_pipeline import __version__
from decp_pipeline.cli.build import build_command
from decp_pipeline.cli.diff import diff_command
from decp_pipeline.cli.fetch import fetch_command
from decp_pipeline.cli.publish import publish_command
from decp_pipeline.cli.serve import serve_command
from decp_pipeline.cli.sources import sources_command
from decp_pipeline.cli.validate import validate_command
from decp_pipeline.exceptions import EXIT_FAILED, DecpError, SignalError

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class DecpGroup(click.Group):
    """The group of the `decp` commands: the one place where errors become messages and exit codes.

    Here rather than in `main` so that the tests, which invoke `cli` through click's runner, see exactly what
    a user sees."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except DecpError as e:
            fail(str(e), e.exit_code)
        except BrokenPipeError:
            # The reader of stdout went away (`decp validate big.json | head`): stop quietly, and keep the
            # interpreter's last flush of stdout from failing again.
            with contextlib.suppress(OSError, ValueError):  # stdout may be no file (click's test runner)
                os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            raise SystemExit(EXIT_FAILED) from None
        except OSError as e:
            fail(describe_os_error(e), EXIT_FAILED)


def fail(message: str, exit_code: int) -> NoReturn:
    """Print `Error: message` (one line) on stderr and exit with `exit_code`."""
    click.echo("Error: " + " ".join(message.split()), err=True)
    raise SystemExit(exit_code)


def describe_os_error(error: OSError) -> str:
    """`PATH: reason` for an OSError (`[Errno 28] No space left on device: 'x'` → `x: No space left on device`)."""
    reason = error.strerror or str(error)
    paths = [p for p in (error.filename, error.filename2) if p is not None]
    return ": ".join([*(str(p) for p in paths), reason]) if paths else reason


@click.group(cls=DecpGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="decp")
def cli() -> None:
    """Consolidate the French public procurement open data (DECP).

    Results go to stdout; progress and diagnostics go to stderr. Exit codes: 0 success, 1 the command ran
    but something is wrong (an invalid file, a failed source, outputs that cannot be written), 2 usage or
    configuration error. An error that stops a command is one line on stderr: `Error: <message>`.
    """
    logging.basicConfig(format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr, level=logging.WARNING)


cli.add_command(build_command)
cli.add_command(diff_command)
cli.add_command(fetch_command)
cli.add_command(publish_command)
cli.add_command(serve_command)
cli.add_command(sources_command)
cli.add_command(validate_command)


def _terminate(signal_number: int, _frame: object) -> None:
    context = click.get_current_context(silent=True)
    raise SignalError(signal.Signals(signal_number).name, context.info_name if context else None)


def main() -> None:
    # SIGTERM (a cron's timeout, systemd, kill) stops a run as an error does: temporaries removed, workers
    # killed, one line on stderr, exit 1; the default action would leave them behind.
    signal.signal(signal.SIGTERM, _terminate)
    cli(prog_name="decp")
