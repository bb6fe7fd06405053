"""`decp sources discover`: the DECP datasets of data.gouv.fr that no source of the configuration covers."""

from __future__ import annotations

import datetime
import json
import os
from pathlib import Path
from typing import Any

import click

from decp_pipeline.cli.options import config_option, verbosity, verbosity_options
from decp_pipeline.config import Config, load_config
from decp_pipeline.discover.append import append_sources
from decp_pipeline.discover.search import Discovery, FoundDataset, discover
from decp_pipeline.discover.settings import discover_settings
from decp_pipeline.exceptions import InputError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.fetch.runner import http_settings
from decp_pipeline.publish.settings import DEFAULT_API_BASE, check_api_base


def api_base_for(explicit: str | None) -> str:
    """--api-base, else $DECP_DATAGOUV_API, else https://www.data.gouv.fr/api."""
    base = explicit or os.environ.get("DECP_DATAGOUV_API") or DEFAULT_API_BASE
    if why := check_api_base(base):
        raise InputError(f"--api-base: {why}")
    return base.rstrip("/")


@click.command("discover")
@config_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the lines.")
@click.option(
    "--write",
    "write_file",
    type=click.Path(dir_okay=False),
    default=None,
    metavar="FILE",
    help="Append the new datasets to this sources file as disabled datagouv_dataset sources.",
)
@click.option(
    "--api-base",
    default=None,
    metavar="URL",
    help="The data.gouv.fr API root, ending in /api (default: $DECP_DATAGOUV_API, else https://www.data.gouv.fr/api).",
)
@verbosity_options
def discover_command(config_file: str | None, as_json: bool, write_file: str | None, api_base: str | None) -> None:
    """List the DECP datasets of data.gouv.fr that no source of the configuration covers.

    Asks the API for the datasets with a resource declaring the schema 139bercy/format-commande-publique and
    those tagged decp (every page), leaves out those whose resources declare only other schemas, and prints
    one line per new dataset, then a summary line. With --write, appends the new ones to FILE as disabled
    sources (its text and comments kept).

    Exit code: 0 the search was made, 1 the API could not be read, 2 usage or configuration error.
    """
    config = load_config(config_file)
    base = api_base_for(api_base)
    target = _target(config, write_file)
    sources = [*config.sources, *(target.sources if target is not None and target is not config else ())]
    client = HttpClient(http_settings(config))
    try:
        discovery = discover(client, base, sources)
    finally:
        client.close()
    written: list[str] = []
    if write_file and target is not None:
        settings = discover_settings(target.settings, (s.priority for s in target.sources))
        written = append_sources(
            write_file, discovery.having("new"), priority=settings.priority, day=datetime.date.today(),
            taken={s.id for s in sources},
        )  # fmt: skip
    if as_json:
        click.echo(json.dumps(discovery_document(discovery, config, write_file, written), ensure_ascii=False, indent=2))
        return
    write_lines(discovery, write_file, written)


def _target(config: Config, write_file: str | None) -> Config | None:
    """The configuration --write appends to (checked before any request): the --config one, or FILE's."""
    if write_file is None:
        return None
    if Path(write_file).resolve() == Path(config.path).resolve():
        return config
    return load_config(write_file)


def dataset_line(d: FoundDataset) -> str:
    versions = (
        f"schema versions {', '.join(d.schema_versions)}" if d.schema_versions else "no schema declared (tagged decp)"
    )
    formats = ", ".join(d.formats) or "no format"
    updated = (d.last_update or "unknown")[:10]
    what = f"{d.resources} resource(s) ({formats}); updated {updated}; {versions}"
    return f"{d.id}  {d.title} — {d.publisher}; {what}; {d.page}"


def summary_line(discovery: Discovery) -> str:
    found, covered, new = len(discovery.decp), len(discovery.having("covered")), len(discovery.having("new"))
    excluded = len(discovery.having("excluded"))
    datasets = "1 dataset" if found == 1 else f"{found} datasets"
    return f"{datasets} found, {covered} covered, {new} new; {excluded} excluded (not DECP data)"


def write_lines(discovery: Discovery, write_file: str | None, written: list[str]) -> None:
    for dataset in discovery.having("new"):
        click.echo(dataset_line(dataset))
    if verbosity() > 0:
        for dataset in discovery.having("covered"):
            click.echo(f"covered: {dataset.id} {dataset.title} (source {dataset.covered_by})", err=True)
        for dataset in discovery.having("excluded"):
            click.echo(f"excluded: {dataset.id} {dataset.title}: {dataset.excluded}", err=True)
    click.echo(summary_line(discovery))
    if write_file:
        ids = f": {', '.join(written)}" if written else ""
        click.echo(f"Appended {len(written)} disabled source(s) to {write_file}{ids}")
    if verbosity() >= 0:
        click.echo(f"Network: {discovery.requests} requests to {discovery.api_base}", err=True)


def discovery_document(
    discovery: Discovery, config: Config, write_file: str | None, written: list[str]
) -> dict[str, Any]:
    return {
        "config": config.path,
        "api_base": discovery.api_base,
        "requests": discovery.requests,
        "found": len(discovery.decp),
        "covered": len(discovery.having("covered")),
        "new": len(discovery.having("new")),
        "excluded": len(discovery.having("excluded")),
        "datasets": [d.to_dict() for d in discovery.decp],
        "excluded_datasets": [d.to_dict() for d in discovery.having("excluded")],
        "written": {"file": write_file, "ids": written} if write_file else None,
    }
