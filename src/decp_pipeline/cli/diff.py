"""`decp diff`: what changed between two kept releases (the delta each build writes, between any two)."""

from __future__ import annotations

from pathlib import Path

import click

from decp_pipeline.cli.options import out_option, verbosity_options
from decp_pipeline.exceptions import InputError
from decp_pipeline.pipeline.delta import Delta, compare
from decp_pipeline.pipeline.release import Releases

MARKS = {"added": "+", "removed": "-", "changed": "~"}


@click.command("diff")
@click.argument("release_a", required=False)
@click.argument("release_b", required=False)
@out_option
@click.option("--json", "as_json", is_flag=True, help="Print the comparison as one JSON document (as delta.json).")
@verbosity_options
def diff_command(release_a: str | None, release_b: str | None, out: str, as_json: bool) -> None:
    """Compare two releases kept in --out: the uids added, removed (and why) and changed (and which fields).

    RELEASE_A and RELEASE_B are build ids (the folders of --out/releases/), or `current` and `previous`;
    by default the previous release and the current one. One line per uid: `+ UID (source, format)`,
    `- UID (source, format): reason`, `~ UID (source, format): fields`; then the counts.
    """
    releases = Releases(Path(out))
    before = _release(releases, release_a or "previous")
    after = _release(releases, release_b or "current")
    delta = compare(before, after)
    if as_json:
        for piece in delta.document():
            click.echo(piece, nl=False)
        return
    for batch in delta.changes.to_batches(max_chunksize=10_000):
        click.echo("".join(_line(row) + "\n" for row in batch.to_pylist()), nl=False)
    click.echo(_summary(delta))


def _release(releases: Releases, name: str) -> Path:
    kept = ", ".join(releases.ids()) or "none"
    if not releases.out.is_dir():
        raise InputError(f"{releases.out}/: no such folder (--out: where `decp build` wrote its releases)")
    if name == "previous" and releases.previous() is None and (current := releases.current()) is not None:
        raise InputError(
            f"{releases.out}/: the current release {current.name} was compared with no release still kept (it is "
            f"the first, or the one before it was removed: releases.keep); its delta is {current}/delta.json"
        )
    if name == "current":
        folder = releases.current()
    elif name == "previous":
        folder = releases.previous()
    else:
        folder = releases.get(name)
    if folder is None:
        raise InputError(f"{releases.out}/: no release {name!r} (kept: {kept})")
    return folder


def _line(row: dict[str, object]) -> str:
    line = f"{MARKS[str(row['change'])]} {row['uid']} ({row['source']}, {row['format']})"
    if row["change"] == "removed":
        line += f": {row['reason']}"
        if row.get("superseded_by"):
            line += f" by {row['superseded_by']} ({row['rule']})"
    elif row["change"] == "changed":
        line += f": {row['fields']}"
    return line


def _summary(delta: Delta) -> str:
    counts = delta.counts
    reasons = ", ".join(f"{n} {reason}" for reason, n in counts["removed_by_reason"].items())
    return (
        f"{delta.previous} -> {delta.release}: {counts['added']} added, {counts['removed']} removed"
        + (f" ({reasons})" if reasons else "")
        + f", {counts['changed']} changed, {counts['unchanged']} unchanged"
    )
