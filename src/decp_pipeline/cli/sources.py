"""`decp sources`: list the sources declared in sources.yaml."""

from __future__ import annotations

import json

import click

from decp_pipeline.cli.discover import discover_command
from decp_pipeline.cli.options import config_option, verbosity_options
from decp_pipeline.config import load_config

COLUMNS = ("id", "kind", "format", "enabled", "priority", "name", "location")


@click.group("sources", invoke_without_command=True)
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of a table.")
@verbosity_options
@click.pass_context
def sources_command(ctx: click.Context, config_file: str | None, as_json: bool) -> None:
    """List the sources of the configuration, with where their data lives.

    `decp sources discover` lists the DECP datasets of data.gouv.fr that no source covers.
    """
    if ctx.invoked_subcommand is not None:
        return
    config = load_config(config_file)
    if as_json:
        document = {
            "config": config.path,
            "sources": [
                {
                    "id": s.id,
                    "name": s.name,
                    "kind": s.kind,
                    "format": s.format,
                    "enabled": s.enabled,
                    "priority": s.priority,
                    **s.location,
                    **s.extra,
                    **({"hooks": list(s.hooks)} if s.hooks else {}),
                }
                for s in config.sources
            ],
        }
        click.echo(json.dumps(document, ensure_ascii=False, indent=2))
        return
    rows = [
        (s.id, s.kind, s.format, "yes" if s.enabled else "no", str(s.priority), s.name, s.where())
        for s in config.sources
    ]
    widths = [max(len(c), *(len(r[i]) for r in rows)) if rows else len(c) for i, c in enumerate(COLUMNS)]
    widths[-1] = 0  # the last column is not padded
    click.echo("  ".join(c.ljust(w) for c, w in zip(COLUMNS, widths, strict=True)).rstrip())
    for row in rows:
        click.echo("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


sources_command.add_command(discover_command)
