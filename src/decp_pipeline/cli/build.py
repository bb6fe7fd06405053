"""`decp build`: the whole pipeline, from the sources to the published outputs."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from decp_pipeline.cli.options import (
    config_option,
    console,
    data_dir_option,
    offline_option,
    out_option,
    verbosity,
    verbosity_options,
)
from decp_pipeline.config import load_config
from decp_pipeline.discover.merge import run_config
from decp_pipeline.exceptions import OutputError
from decp_pipeline.fetch.store import Store
from decp_pipeline.pipeline.run import BuildRun, build, parse_inputs
from decp_pipeline.references import parse_references

COLUMNS = ("files", "files_failed", "read", "exported", "rejected", "duplicates")
# What a release holds besides the tables (docs/releases.md).
RELEASE_FILES = ("decp.json", "decp-2022.json", "rejected.jsonl", "report.json", "datapackage.json", "manifest.json",
                 "delta.json", "delta.csv", "duplicates.csv", "index.parquet", "coverage.csv",
                 "buyers.csv")  # fmt: skip
REPORT_FILES = ("report.html", "acheteurs.csv", "acheteurs/")
OCDS_FILES = ("ocds/",)
SQLITE_FILES = ("decp.sqlite", "metadata.json")


@click.command("build")
@click.argument("source_ids", nargs=-1, metavar="[SOURCE_ID]...")
@config_option
@data_dir_option
@out_option
@offline_option
@click.option(
    "--input",
    "input_values",
    multiple=True,
    metavar="SOURCE_ID=PATH",
    help="Read that source from a local file or folder instead of fetching it (repeatable).",
)
@click.option(
    "--reference",
    "reference_values",
    multiple=True,
    metavar="NAME=PATH",
    help="Use that reference file (sirene-etablissements, sirene-unites-legales, cog-communes, cpv) instead of the "
    "configured one (repeatable).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Publish even when the outputs shrink by more than build.max_shrink (default 50 %) since the last build.",
)
@click.option(
    "--verify",
    is_flag=True,
    help="Before saying nothing changed, check the current release's files against the sha256 of its manifest "
    "(their sizes are always checked).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as one JSON document on stdout.")
@verbosity_options
def build_command(
    source_ids: tuple[str, ...],
    config_file: str | None,
    data_dir: str,
    out: str,
    offline: bool,
    input_values: tuple[str, ...],
    reference_values: tuple[str, ...],
    force: bool,
    verify: bool,
    as_json: bool,
) -> None:
    """Fetch, normalize, validate and publish a release: decp.json, rejected.jsonl, report.json... in --out.

    Builds every enabled source, or those named (the others' last results are reused from the data dir).
    Each record ends up in decp.json (valid against the 1.5 schema), in rejected.jsonl with its errors, or
    counted as a duplicate; report.json proves it per source. Prints a table of the counts.

    Each build writes a whole release in --out/releases/BUILD_ID/ and makes it current in one step
    (--out/current, and the documented paths --out/decp.json... through it); the last `releases.keep` (7)
    are kept.

    Exit code: 0 everything was built, 1 a source or a file failed (the others were still built) or the outputs
    could not be written, 2 usage or configuration error.
    """
    config = load_config(config_file)
    references = parse_references(reference_values)
    try:
        Path(out).mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise OutputError(f"cannot create the output folder {out}/: {e.strerror or e}") from None
    with Store(data_dir) as store:
        config, merge = run_config(config, store.data_dir, source_ids, offline=offline)
        for source_id in source_ids:
            config.get(source_id)
        inputs = parse_inputs(config, input_values)
        store.start_run("build")
        shown = console()
        if merge is not None:
            shown.line(merge.line())
        try:
            run = build(
                config,
                store,
                Path(out),
                source_ids,
                inputs=inputs,
                offline=offline,
                force=force,
                verify=verify,
                progress=shown.line,
                meter=shown.tick,
                references=references,
            )
        finally:
            shown.close()
        exit_code = 0 if run.ok else 1
        store.finish_run(exit_code)
    if as_json:
        _warn(run.assembly.warnings)
        click.echo(json.dumps(summary_document(run, out, exit_code), ensure_ascii=False, indent=2))
    else:
        write_summary(run, out)
    raise SystemExit(exit_code)


def _warn(warnings: list[str]) -> None:
    """The build's warnings on stderr (also in report.json), unless -q."""
    if verbosity() >= 0:
        for warning in warnings:
            click.echo(f"WARNING: {warning}", err=True)


def summary_document(run: BuildRun, out: str, exit_code: int) -> dict[str, Any]:
    """What `decp build --json` prints: the release, the counts per source (as in report.json, with whether
    the source was reused), the tables' rows, the failures and the warnings."""
    assembly = run.assembly
    sources = {
        source: {**counts.to_dict(), "reused": source in run.reused} for source, counts in assembly.sources.items()
    }
    return {
        "release": assembly.release,
        "out": out,
        "exit_code": exit_code,
        "unchanged": assembly.unchanged,
        "files": [
            *RELEASE_FILES,
            *(REPORT_FILES if assembly.html else ()),
            *(OCDS_FILES if assembly.ocds else ()),
            *(SQLITE_FILES if assembly.sqlite else ()),
            *(f"{name}.{ext}" for name in assembly.tables for ext in ("csv", "parquet")),
        ],
        "report": assembly.html or None,  # what the HTML report wrote: pages, bytes, seconds
        "ocds": assembly.ocds or None,  # what the OCDS export wrote: contracts, releases, packages, bytes, seconds
        "sqlite": assembly.sqlite or None,  # what decp.sqlite holds: rows per table, bytes, seconds
        "sources": sources,
        "total": assembly.total.to_dict(),
        "tables": assembly.tables,
        "failed_sources": run.failed,
        "warnings": assembly.warnings,
    }


def write_summary(run: BuildRun, out: str) -> None:
    assembly = run.assembly
    rows = [(source, counts) for source, counts in assembly.sources.items()]
    width = max([len("SOURCE"), *(len(s) for s, _ in rows), len("total")])
    click.echo(f"{'SOURCE':<{width}}" + "".join(f"  {c.upper():>12}" for c in COLUMNS))
    for source, counts in [*rows, ("total", assembly.total)]:
        note = " (reused)" if source in run.reused else ""
        click.echo(f"{source:<{width}}" + "".join(f"  {getattr(counts, c):>12,}" for c in COLUMNS) + note)
    for source, counts in rows:
        for failed in counts.failed_files:
            where = f"{failed['file']}: " if failed.get("file") else ""
            click.echo(f"FAILED {source}: {where}{failed['error']}")
    _warn(assembly.warnings)
    if assembly.unchanged:
        click.echo(f"Nothing changed since the last build: release {assembly.release} stays current, its files "
                   "match its manifest.")  # fmt: skip
    tables = ", ".join(f"{name} {count:,}" for name, count in assembly.tables.items())
    rejected = assembly.total.rejected  # each has its row in marches or concessions, with valid = false
    click.echo(
        f"Release {assembly.release} in {out}/ (current): {', '.join(RELEASE_FILES)}; tables (CSV and Parquet): "
        f"{tables} (marches and concessions: {rejected:,} of their rows are rejected records, valid = false)"
    )
    if html := assembly.html:
        done = "kept with the release" if html["seconds"] is None else f"written in {html['seconds']:,.1f} s"
        click.echo(f"Report: report.html ({html['report_bytes'] / 1e6:,.1f} MB), acheteurs.csv and "
                   f"{html['pages']:,} buyer page{'s' if html['pages'] != 1 else ''} in acheteurs/ "
                   f"({html['pages_bytes'] / 1e6:,.1f} MB), "
                   f"{done}")  # fmt: skip
    if ocds := assembly.ocds:
        done = "kept with the release" if assembly.unchanged else f"written in {ocds['seconds']:,.1f} s"
        click.echo(f"OCDS: ocds/ ({ocds['bytes'] / 1e6:,.1f} MB): {ocds['contracts']:,} records, "
                   f"{ocds['releases']:,} releases in {ocds['packages']:,} daily packages, {done}")  # fmt: skip
    if database := assembly.sqlite:
        done = "kept with the release" if assembly.unchanged else f"written in {database['seconds']:,.1f} s"
        click.echo(f"SQLite: decp.sqlite ({database['bytes'] / 1e6:,.1f} MB, {len(database['tables'])} tables, "
                   f"search on marches and concessions) and metadata.json for Datasette, {done}")  # fmt: skip
