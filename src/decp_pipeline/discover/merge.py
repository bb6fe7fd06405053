"""`discover.include: true`: a run of `decp fetch` or `decp build` also reads the datasets found.

Each new dataset (one no source covers) becomes an enabled `datagouv_dataset` source of the run only,
`discovered-<slug>`, at `discover.priority` (default: below every declared source), format `auto`. The list is
kept in the data dir (`discovered.json`): a run that does not search (`--offline`, sources named on the
command line) or whose search fails uses the last list, so that a build still reads what the last fetch of
these sources downloaded.
"""

from __future__ import annotations

import dataclasses
import datetime
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decp_pipeline.config import Config, Source
from decp_pipeline.discover.append import found_note, source_id
from decp_pipeline.discover.search import discover
from decp_pipeline.discover.settings import discover_settings
from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.fetch.kinds.datagouv import DEFAULT_API_BASE

SAVED = "discovered.json"
KEPT = ("id", "slug", "title", "publisher", "page")


@dataclass
class Merge:
    """What discovery added to a run."""

    added: list[str] = field(default_factory=list)  # the ids of the discovered sources
    searched: bool = False  # false: the last list of the data dir was used
    requests: int = 0
    note: str | None = None  # why the last list was used (a failed search)

    def line(self) -> str:
        how = f"searched in {self.requests} requests" if self.searched else "the last list of the data dir"
        ids = f": {', '.join(self.added)}" if self.added else ""
        note = f" ({self.note})" if self.note else ""
        return f"Discovered: {len(self.added)} discovered source(s) added ({how}){note}{ids}"


def with_discovered(config: Config, data_dir: Path, *, search: bool, client: HttpClient | None = None) -> tuple[
    Config, Merge | None
]:  # fmt: skip
    """The configuration of the run with the discovered sources, when `discover.include` is true."""
    settings = discover_settings(config.settings, (s.priority for s in config.sources))
    if not settings.include:
        return config, None
    merge = Merge()
    datasets = None
    if search and client is not None:
        base = (os.environ.get("DECP_DATAGOUV_API") or DEFAULT_API_BASE).rstrip("/")
        try:
            discovery = discover(client, base, config.sources)
        except FetchError as e:
            merge.note = f"the search failed, {e}"
        else:
            datasets = [{k: getattr(d, k) for k in KEPT} for d in discovery.having("new")]
            merge.searched, merge.requests = True, discovery.requests
            _save(data_dir, datasets)
    if datasets is None:
        datasets = _load(data_dir)
    taken = {s.id for s in config.sources}
    today = datetime.date.today()
    extra = [_source(d, taken, settings.priority, today) for d in datasets]
    merge.added = [s.id for s in extra]
    return dataclasses.replace(config, sources=(*config.sources, *extra)), merge


def _source(dataset: dict[str, Any], taken: set[str], priority: int, day: datetime.date) -> Source:
    return Source(
        id=source_id(str(dataset["slug"]), taken, prefix="discovered-"),
        name=str(dataset["title"]),
        kind="datagouv_dataset",
        format="auto",
        enabled=True,
        priority=priority,
        location={"dataset": dataset["id"]},
        extra={"publisher": dataset["publisher"], "homepage": dataset["page"], "caveats": found_note(day)},
    )


def _save(data_dir: Path, datasets: list[dict[str, Any]]) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    temporary = data_dir / f".{SAVED}.{os.getpid()}.part"
    document = {"searched_at": datetime.datetime.now(datetime.UTC).isoformat(), "datasets": datasets}
    temporary.write_text(json.dumps(document, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(temporary, data_dir / SAVED)


def _load(data_dir: Path) -> list[dict[str, Any]]:
    """The last list saved (none: no dataset); one whose entries lack a key is ignored."""
    try:
        document = json.loads((data_dir / SAVED).read_text(encoding="utf-8"))
        datasets = document["datasets"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if not isinstance(datasets, list):
        return []
    return [d for d in datasets if isinstance(d, dict) and all(isinstance(d.get(k), str) for k in KEPT)]


def run_config(config: Config, data_dir: Path, source_ids: tuple[str, ...], *, offline: bool) -> tuple[
    Config, Merge | None
]:  # fmt: skip
    """For `decp fetch` and `decp build`: search when the run is online and takes every enabled source."""
    from decp_pipeline.fetch.runner import http_settings  # noqa: PLC0415 - the runner imports the fetch kinds

    search = not offline and not source_ids
    client = HttpClient(http_settings(config)) if search else None
    try:
        return with_discovered(config, data_dir, search=search, client=client)
    finally:
        if client is not None:
            client.close()
