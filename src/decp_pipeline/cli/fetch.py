"""`decp fetch`: download every source into the cache, keep what was had, say exactly what failed."""

from __future__ import annotations

import dataclasses
import json
import sys
from typing import Any

import click

from decp_pipeline.cli.options import (
    config_option,
    console,
    data_dir_option,
    offline_option,
    verbosity_options,
)
from decp_pipeline.config import load_config
from decp_pipeline.discover.merge import run_config
from decp_pipeline.fetch.resources import SourceResult
from decp_pipeline.fetch.runner import FetchRun, fetch_sources
from decp_pipeline.fetch.store import Store

COLUMNS = ("listed", "downloaded", "unchanged", "skipped", "failed", "bytes")
OFFLINE_COLUMNS = ("cached", "stale", "bytes")


@click.command("fetch")
@click.argument("source_ids", nargs=-1, metavar="[SOURCE_ID]...")
@config_option
@data_dir_option
@offline_option
@click.option("--json", "as_json", is_flag=True, help="Print one JSON document instead of the table.")
@verbosity_options
def fetch_command(
    source_ids: tuple[str, ...], config_file: str | None, data_dir: str, offline: bool, as_json: bool
) -> None:
    """Download the sources' files into the data dir's cache (all enabled sources, or those named).

    Unchanged files cost nothing: data.gouv.fr's checksums avoid the request, other servers answer a
    conditional request with 304. A file that fails keeps its last good copy, marked stale. Prints one line
    per source (resources listed, downloaded, unchanged, skipped, failed, bytes), then every failure with
    its URL and reason. With --offline, shows what the cache holds and opens no connection.

    Exit code: 0 everything was fetched, 1 a source or a resource failed (the others were still fetched),
    2 usage or configuration error.
    """
    config = load_config(config_file)
    with Store(data_dir) as store:
        config, merge = run_config(config, store.data_dir, source_ids, offline=offline)
        for source_id in source_ids:
            config.get(source_id)
        store.start_run("fetch --offline" if offline else "fetch")
        shown = console()
        try:
            run = fetch_sources(config, store, source_ids, offline=offline, progress=shown.line, meter=shown.tick)
        finally:
            shown.close()
        exit_code = 0 if run.ok else 1
        store.finish_run(exit_code)
    if as_json:
        document = {**run_as_json(run), "discovered": None if merge is None else dataclasses.asdict(merge)}
        json.dump(document, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
    else:
        write_summary(run)
        if merge is not None:
            click.echo(merge.line())
    raise SystemExit(exit_code)


def write_summary(run: FetchRun) -> None:
    columns = OFFLINE_COLUMNS if run.offline else COLUMNS
    width = max([len("SOURCE"), *(len(r.source) for r in run.results)])
    header = f"{'SOURCE':<{width}}  {'STATUS':<8}" + "".join(f"  {c.upper():>12}" for c in columns)
    click.echo(header + ("  LAST SUCCESS" if run.offline else ""))
    for r in run.results:
        cells = "".join(f"  {getattr(r, c):>12,}" for c in columns)
        line = f"{r.source:<{width}}  {r.status:<8}{cells}"
        click.echo(line + (f"  {r.last_success or 'never'}" if run.offline else ""))
    for r in run.results:
        _write_problems(r)
    if not run.offline:
        t = run.traffic
        click.echo(
            f"Network: {t.requests:,} requests ({t.retries:,} retries), {t.bytes:,} bytes received, {run.seconds:.1f} s"
        )


def _write_problems(r: SourceResult) -> None:
    if r.status == "vanished":
        kept = f"its last good data ({r.cached} files) is kept, marked stale" if r.cached else "nothing was cached"
        click.echo(f"VANISHED {r.source}: {r.error}; {kept}")
    elif r.error and not r.failures:
        click.echo(f"FAILED {r.source}: {r.error}")
    for failure in r.failures:
        click.echo(f"FAILED {r.source}: {failure.url}: {failure.reason}")
    for note in r.notes:
        if not r.error or note not in r.error:
            click.echo(f"NOTE {r.source}: {note}")


def run_as_json(run: FetchRun) -> dict[str, Any]:
    return {
        "offline": run.offline,
        "ok": run.ok,
        "seconds": round(run.seconds, 3),
        "requests": run.traffic.requests,
        "retries": run.traffic.retries,
        "bytes_received": run.traffic.bytes,
        "sources": {
            r.source: {
                "status": r.status,
                "error": r.error,
                **{c: getattr(r, c) for c in (*COLUMNS, "cached", "stale")},
                "last_success": r.last_success,
                "failures": [{"url": f.url, "reason": f.reason, "gone": f.gone} for f in r.failures],
                "skips": [{"url": f.url, "reason": f.reason} for f in r.skips],
                "notes": r.notes,
            }
            for r in run.results
        },
    }
