"""Downloading a source's resources into the cache, one at a time (sources run side by side), each failure
isolated.

Shared by every kind of source: a kind lists `Resource`s (the URL plus what its catalogue says about it);
this module decides, for each, whether it can be skipped without a request (the catalogue's checksum or date
is the one already cached), fetched conditionally (ETag / Last-Modified → 304), or downloaded.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.http import Download, HeadCheck, HttpClient
from decp_pipeline.fetch.store import CachedResource, Store, replace_file
from decp_pipeline.progress import Meter, Progress, Tick, silent, unmetered

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Resource:
    """One file a source lists. `checksum` ("sha1:…") and `modified` come from the catalogue, when it has them."""

    url: str
    title: str | None = None
    checksum: str | None = None
    modified: str | None = None
    size: int | None = None


@dataclass
class Failure:
    url: str
    reason: str
    gone: bool = False  # the server says the resource no longer exists (404, 410)


@dataclass
class SourceResult:
    """What one source's fetch did: the per-source line of the summary."""

    source: str
    status: str = "ok"  # ok | failed (something failed) | vanished (the source itself is gone) | offline
    error: str | None = None  # why the source as a whole failed
    listed: int = 0
    downloaded: int = 0
    unchanged: int = 0
    skipped: int = 0
    failed: int = 0
    bytes: int = 0
    cached: int = 0  # resources with a good copy in the cache after the run
    stale: int = 0  # of which the last attempt failed (the copy may be out of date)
    failures: list[Failure] = field(default_factory=list)
    skips: list[Failure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    last_success: str | None = None

    @property
    def ok(self) -> bool:
        return self.status in ("ok", "offline") and not self.failures

    def fail_source(self, reason: str, *, vanished: bool = False) -> None:
        self.status = "vanished" if vanished else "failed"
        self.error = reason


@dataclass
class FetchContext:
    client: HttpClient
    store: Store
    progress: Progress = silent
    meter: Meter = unmetered
    results: list[SourceResult] = field(default_factory=list)  # of the sources started: what the meter sums

    def tick(self) -> None:
        """Tell the meter how many resources are done, of those listed so far, all sources together."""
        done = sum(r.downloaded + r.unchanged + r.skipped + r.failed for r in self.results)
        listed = max(sum(r.listed for r in self.results), done)
        self.meter(Tick("downloading", done, listed, "resources", size_done=self.client.traffic.bytes))


def unchanged_in_catalogue(resource: Resource, cached: CachedResource) -> bool:
    """True when the catalogue proves the cached copy current, so no request is needed."""
    if resource.checksum:
        kind, _, value = resource.checksum.partition(":")
        if kind == "sha1" and cached.sha1 == value.lower():
            return True
        return cached.remote_checksum == resource.checksum
    return bool(resource.modified) and cached.remote_modified == resource.modified


def fetch_resource(
    ctx: FetchContext,
    source: str,
    resource: Resource,
    result: SourceResult,
    *,
    check: HeadCheck | None,
    min_size: int | None = None,
    suffix: str | None = None,
    role: str = "data",
) -> None:
    """Bring one resource's cached copy up to date, counting the outcome in `result`."""
    try:
        _fetch_resource(ctx, source, resource, result, check=check, min_size=min_size, suffix=suffix, role=role)
    finally:
        ctx.tick()


def _fetch_resource(
    ctx: FetchContext,
    source: str,
    resource: Resource,
    result: SourceResult,
    *,
    check: HeadCheck | None,
    min_size: int | None,
    suffix: str | None,
    role: str,
) -> None:
    store = ctx.store
    cached = store.cached(source, resource.url)
    have_file = store.has_file(cached)
    if have_file and cached and unchanged_in_catalogue(resource, cached):
        _unchanged(store, source, resource)
        result.unchanged += 1
        store.log(source, resource.url, "unchanged", "catalogue checksum or date unchanged")
        return
    destination = store.absolute(cached.path) if have_file and cached and cached.path else None
    destination = destination or store.path_for(source, resource.url, suffix)
    try:
        download = ctx.client.download(
            resource.url,
            destination,
            etag=cached.etag if have_file and cached else None,
            last_modified=cached.last_modified if have_file and cached else None,
            check=check,
        )
    except FetchError as e:
        _failed(ctx, source, resource, result, e, cached if have_file else None)
        return
    if download.not_modified:
        _unchanged(store, source, resource)
        store.log(source, resource.url, "unchanged", "; ".join(filter(None, ["HTTP 304", download.redirect])))
        result.unchanged += 1
        return
    assert download.path is not None
    result.bytes += download.size
    if min_size is not None and download.size < min_size:
        download.path.unlink(missing_ok=True)
        _skip(ctx, source, resource, result, f"{download.size} bytes, under min_size {min_size}")
        return
    _downloaded(ctx, source, resource, result, download, destination, role)


def _downloaded(
    ctx: FetchContext,
    source: str,
    resource: Resource,
    result: SourceResult,
    download: Download,
    destination: Path,
    role: str,
) -> None:
    """A new copy of the resource: put in place of the old one and recorded."""
    assert download.path is not None
    replace_file(download.path, destination)
    ctx.store.record_download(
        source,
        resource.url,
        destination,
        title=resource.title,
        etag=download.etag,
        last_modified=download.last_modified,
        sha1=download.sha1,
        size=download.size,
        remote_checksum=resource.checksum,
        remote_modified=resource.modified,
        role=role,
    )
    ctx.store.log(source, resource.url, "downloaded", download.redirect, size=download.size)
    result.downloaded += 1
    said = ", ".join(filter(None, [f"{download.size:,} bytes", download.redirect]))
    ctx.progress(f"{source}: downloaded {resource.url} ({said})", detail=True)


def _unchanged(store: Store, source: str, resource: Resource) -> None:
    store.record_unchanged(source, resource.url, remote_checksum=resource.checksum, remote_modified=resource.modified)


def _failed(
    ctx: FetchContext,
    source: str,
    resource: Resource,
    result: SourceResult,
    error: FetchError,
    cached: CachedResource | None,
) -> None:
    """A download that failed: counted, logged; the copy fetched before (`cached`), if any, is kept."""
    reason = error.reason
    if cached:
        reason += f"; keeping the copy fetched {cached.fetched_at}"
    ctx.store.record_failure(source, resource.url, error.reason, title=resource.title)
    ctx.store.log(source, resource.url, "failed", error.reason)
    result.failed += 1
    result.failures.append(Failure(resource.url, reason, gone=error.gone))
    ctx.progress(f"{source}: FAILED {resource.url}: {reason}")


def skip_resource(ctx: FetchContext, source: str, resource: Resource, result: SourceResult, reason: str) -> None:
    _skip(ctx, source, resource, result, reason)
    ctx.tick()


def _skip(ctx: FetchContext, source: str, resource: Resource, result: SourceResult, reason: str) -> None:
    result.skipped += 1
    result.skips.append(Failure(resource.url, reason))
    ctx.store.log(source, resource.url, "skipped", reason)
    log.info("%s: skipped %s: %s", source, resource.url, reason)
