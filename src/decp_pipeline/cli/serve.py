"""`decp serve`: the validation of `decp validate` as an HTTP service and a page for publishers (serve/)."""

from __future__ import annotations

import click

from decp_pipeline.cli.options import verbosity, verbosity_options
from decp_pipeline.exceptions import ServeError, SignalError
from decp_pipeline.serve.settings import ServeSettings, default_workers


@click.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on (0.0.0.0: every one).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True, help="TCP port.")
@click.option(
    "--workers",
    type=click.IntRange(min=1),
    default=default_workers,
    show_default="the cores, at most 4",
    help="Validations run at the same time, each in its own process; the other uploads wait.",
)
@click.option(
    "--max-upload-mb",
    type=click.FloatRange(min=0, min_open=True),
    default=200,
    show_default=True,
    help="Largest upload accepted, in MiB (the request body); larger ones get 413 before being read.",
)
@click.option(
    "--time-limit",
    type=click.FloatRange(min=0, min_open=True),
    default=60,
    show_default=True,
    help="Seconds a validation may take; beyond, the answer is 503.",
)
@verbosity_options
def serve_command(host: str, port: int, workers: int, max_upload_mb: float, time_limit: float) -> None:
    """Serve the validation of DECP files over HTTP: POST /api/validate, and a page for publishers at /.

    POST /api/validate answers what `decp validate --json` prints for the uploaded file (200 valid, 422
    invalid); GET /api/schemas, GET /health, GET /openapi.json. Stops on Ctrl-C or SIGTERM.
    """
    import uvicorn  # noqa: PLC0415 - the server's imports: the other commands do not pay for them

    from decp_pipeline.serve.app import create_app  # noqa: PLC0415 - starlette, likewise

    settings = ServeSettings(host, port, workers, max_upload_mb, time_limit)
    level = {-1: "error", 0: "info", 1: "debug"}[verbosity()]
    try:
        uvicorn.run(create_app(settings), host=host, port=port, log_level=level, access_log=verbosity() >= 0)
    except SignalError:
        # uvicorn stops gracefully on SIGTERM, then raises the signal again for the handler of `decp`
        # (cli/__init__.py): the server stopped as asked, which is no error.
        return
    except SystemExit as e:  # uvicorn's own exit when it cannot start (3), after its ERROR line
        if e.code:
            raise ServeError(f"the server could not start on {host}:{port} (the ERROR line above says why)") from None
        raise
