"""`decp publish`: the nightly job's last step, the current release's files on data.gouv.fr."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import click

from decp_pipeline.cli.options import config_option, out_option, verbosity, verbosity_options
from decp_pipeline.config import load_config
from decp_pipeline.exceptions import InputError, PublishError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.fetch.runner import http_settings
from decp_pipeline.publish.publication import Bar, Item, Publication, publish
from decp_pipeline.publish.settings import DATASET_PATTERN, check_api_base, publish_settings
from decp_pipeline.publish.udata import Advance
from decp_pipeline.redaction import register

KEY_VARIABLE = "DECP_DATAGOUV_API_KEY"
BAR_FROM = 8 * 1024 * 1024  # bytes: a smaller file goes up without a progress bar


@click.command("publish")
@config_option
@out_option
@click.option("--dataset", metavar="ID", help="The data.gouv.fr dataset (default: publish.dataset in sources.yaml).")
@click.option(
    "--api-base",
    metavar="URL",
    help="The API root, ending in /api (default: publish.api_base, else $DECP_DATAGOUV_API, else "
    "https://www.data.gouv.fr/api).",
)
@click.option("--dry-run", is_flag=True, help="Send no write request: list what would be uploaded.")
@click.option("--force", is_flag=True, help="Publish a release built with --force past the shrink guard.")
@click.option("--json", "as_json", is_flag=True, help="Print what was done as one JSON document.")
@verbosity_options
def publish_command(
    config_file: str | None,
    out: str,
    dataset: str | None,
    api_base: str | None,
    dry_run: bool,
    force: bool,
    as_json: bool,
) -> None:
    """Publish the current release of --out as resources of a data.gouv.fr dataset.

    The files named by publish.files in sources.yaml (default: decp.json, decp-2022.json, the tables,
    datapackage.json, the report, the delta, the duplicates, the rejected records, and ocds.zip, made from the
    release's ocds/) replace the dataset's resources of the same name, keeping their ids, or become new
    resources; a file whose sha1 is the resource's is not sent again. The API key comes from the environment
    variable DECP_DATAGOUV_API_KEY only (a --dry-run needs none). Exit codes: 0 every file is up, 1 a file
    failed after retries (the others were sent), 2 usage or configuration error (no key: nothing sent).
    """
    if dataset is not None and not DATASET_PATTERN.match(dataset):
        raise InputError(f"--dataset: expected a data.gouv.fr dataset id or slug, got {dataset!r}")
    config = load_config(config_file)
    settings = publish_settings(config.settings, dataset=dataset, api_base=api_base)
    if why := check_api_base(settings.api_base):
        raise InputError(f"{settings.api_base_from}: {why}")
    key = os.environ.get(KEY_VARIABLE, "").strip() or None
    register(key, KEY_VARIABLE)
    client = HttpClient(http_settings(config))
    try:
        publication = publish(Path(out), settings, key, client, dry_run=dry_run, force=force, bar=_bar())
    finally:
        client.close()
    if as_json:
        click.echo(json.dumps(publication.document(), ensure_ascii=False, indent=2))
    else:
        for item in publication.items:
            click.echo(_line(item, dry_run))
    if verbosity() >= 0:
        click.echo(_summary(publication), err=True)
    if publication.refused:
        raise InputError(f"the API refused the key: {publication.refused}; check {KEY_VARIABLE}")
    if publication.failed:
        names = ", ".join(f"{i.name} ({i.error})" for i in publication.failed)
        raise PublishError(f"{len(publication.failed)} of {len(publication.items)} files failed: {names}")


def _line(item: Item, dry_run: bool) -> str:
    size = f"{item.size:,} bytes"
    if dry_run:
        if item.action == "create":
            return f"would create {item.name} ({size}, sha1 {item.sha1}): a new resource"
        if item.action == "replace":
            return f"would replace {item.name} ({size}, sha1 {item.sha1}) in resource {item.resource}"
        fields = f"; would update its {' and '.join(item.meta)}" if item.meta else ""
        return f"unchanged {item.name} (resource {item.resource}, same sha1){fields}"
    if item.done == "failed":
        return f"failed {item.name}: {item.error}"
    if item.done in ("unchanged", "updated"):
        fields = f"; its {' and '.join(item.meta)} updated" if item.done == "updated" else ""
        return f"unchanged {item.name} (resource {item.resource}, same sha1){fields}"
    return f"{item.done} {item.name} ({size}, sha1 {item.sha1}): resource {item.resource}"


ORDER = ("create", "replace", "created", "replaced", "updated", "unchanged", "failed")


def _summary(publication: Publication) -> str:
    counts = dict.fromkeys(ORDER, 0)
    for item in publication.items:
        counts[item.action if publication.dry_run else item.done] += 1
    done = ", ".join(f"{n} {('to ' + k) if publication.dry_run and k != 'unchanged' else k}"
                     for k, n in counts.items() if n)  # fmt: skip
    verb = "Would publish" if publication.dry_run else "Stopped publishing" if publication.refused else "Published"
    requests = f"{publication.requests} request" + ("s" if publication.requests != 1 else "")
    where = f"dataset {publication.dataset} ({publication.api_base})"
    return f"{verb} release {publication.release} to {where}: {done}; {requests}"


def _bar() -> Bar | None:
    """A progress bar per big file on a terminal (stderr); none otherwise."""
    if not sys.stderr.isatty() or verbosity() < 0:
        return None
    from tqdm import tqdm  # noqa: PLC0415 - only on a terminal

    def bar(name: str, size: int) -> Advance | None:
        if size < BAR_FROM:
            return None
        progress = tqdm(total=size, desc=name, unit="B", unit_scale=True, unit_divisor=1024, leave=False)

        def advance(sent: int) -> None:
            progress.update(sent)
            if progress.n >= size:
                progress.close()

        return advance

    return bar
