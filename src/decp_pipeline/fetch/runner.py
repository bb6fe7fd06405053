"""`decp fetch`: bring every source's cached copy up to date, several sources at once, each failure isolated.

A source that fails (a dead server, a vanished dataset, a bug in reading an answer) is reported and the next
source runs; its last good files stay in the cache, marked stale.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from decp_pipeline.config import Config, Source
from decp_pipeline.fetch.http import HttpClient, HttpSettings
from decp_pipeline.fetch.kinds import datagouv, dcat, dume, url
from decp_pipeline.fetch.limits import Traffic
from decp_pipeline.fetch.resources import Failure, FetchContext, SourceResult
from decp_pipeline.fetch.store import Store
from decp_pipeline.progress import Meter, Progress, silent, unmetered

log = logging.getLogger(__name__)

KIND_FETCHERS: dict[str, Callable[[FetchContext, Source, SourceResult], None]] = {
    "url": url.fetch,
    "datagouv_dataset": datagouv.fetch,
    "dcat": dcat.fetch,
    "dume_api": dume.fetch,
}


@dataclass
class FetchRun:
    results: list[SourceResult] = field(default_factory=list)
    traffic: Traffic = field(default_factory=Traffic)
    seconds: float = 0.0
    offline: bool = False

    @property
    def ok(self) -> bool:
        return all(r.ok for r in self.results)


def http_settings(config: Config) -> HttpSettings:
    """The `http:` section of sources.yaml (checked when the config is loaded)."""
    return HttpSettings(**(config.settings.get("http") or {}))


def selected_sources(config: Config, source_ids: Sequence[str]) -> list[Source]:
    """The named sources (any, even disabled), else every enabled one."""
    if source_ids:
        return [config.get(source_id) for source_id in dict.fromkeys(source_ids)]
    return [s for s in config.sources if s.enabled]


def fetch_sources(
    config: Config,
    store: Store,
    source_ids: Sequence[str] = (),
    *,
    offline: bool = False,
    progress: Progress = silent,
    meter: Meter = unmetered,
    client: HttpClient | None = None,
) -> FetchRun:
    sources = selected_sources(config, source_ids)
    client = client or HttpClient(http_settings(config), offline=offline)
    run = FetchRun(traffic=client.traffic, offline=offline)
    started = time.monotonic()
    try:
        if offline:
            run.results = [cached_summary(store, source) for source in sources]
        else:
            ctx = FetchContext(client=client, store=store, progress=progress, meter=meter)
            ctx.tick()  # the step starts: its time counts from now
            run.results = _fetch_all(ctx, sources)
    finally:
        client.close()
    run.seconds = time.monotonic() - started
    return run


CANCEL_GRACE = 3.0  # seconds an interruption waits for the fetching threads to end


def _fetch_all(ctx: FetchContext, sources: list[Source]) -> list[SourceResult]:
    """Every source, `http.parallel_sources` at once, each in a thread of its own (the work is waiting on
    servers: one slow server no longer holds the others up); the results in the order of the sources.

    An interruption (Ctrl-C, SIGTERM) cancels the transfers, waits and retry pauses under way: each thread ends
    at its next chunk, pause or request. The interruption goes on after CANCEL_GRACE seconds at most: the
    threads are daemons, so that one blocked waiting for a server's headers cannot hold the run."""
    at_once = min(ctx.client.settings.parallel_sources, len(sources))
    if at_once <= 1:
        return [fetch_source(ctx, source) for source in sources]
    results: list[SourceResult | None] = [None] * len(sources)
    errors: list[BaseException] = []
    queue = list(enumerate(sources))
    started: list[int] = []
    lock = threading.Lock()

    def work() -> None:
        while not ctx.client.cancelled.is_set():
            with lock:
                if not queue:
                    return
                index, source = queue.pop(0)
                started.append(index)
            try:
                results[index] = fetch_source(ctx, source)
            except BaseException as e:  # raised in the main thread below
                errors.append(e)
                ctx.client.cancel()

    threads = [threading.Thread(target=work, name=f"decp-fetch-{n}", daemon=True) for n in range(at_once)]
    for thread in threads:
        thread.start()
    try:
        for thread in threads:
            while thread.is_alive():
                thread.join(0.2)  # a timed join: the signal handler runs between two waits
    except BaseException:
        ctx.client.cancel()
        deadline = time.monotonic() + CANCEL_GRACE
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with lock:  # the sources a thread left behind is still on: their last attempt did not complete
            _stopped(ctx, [sources[i] for i in started if results[i] is None])
        raise
    if errors:
        raise errors[0]
    return [result for result in results if result is not None]


def _stopped(ctx: FetchContext, sources: list[Source]) -> None:
    """Sources whose fetch was under way when the run stopped: failed, their copies stale, in the run state."""
    for source in sources:
        ctx.store.record_source(source.id, "failed", "the run was stopped before this source was fetched")
        ctx.store.mark_stale(source.id)
        ctx.store.log(source.id, None, "failed", "the run was stopped before this source was fetched")


def fetch_source(ctx: FetchContext, source: Source) -> SourceResult:
    result = SourceResult(source.id)
    ctx.results.append(result)  # for the meter
    ctx.progress(f"{source.id}: fetching ({source.kind})")
    try:
        KIND_FETCHERS[source.kind](ctx, source, result)
    except Exception as e:  # one source's unexpected failure must not stop the others
        log.exception("%s: unexpected error", source.id)
        result.fail_source(f"unexpected error: {type(e).__name__}: {e}")
    if result.status == "ok" and result.failures:
        result.status = "failed"
        if all(f.gone for f in result.failures) and result.failed == result.listed:
            result.status = "vanished"
        result.error = f"{len(result.failures)} resource(s) failed"
    if result.status == "ok":
        ctx.store.record_source(source.id, "ok")
    else:
        ctx.store.record_source(source.id, result.status, result.error)
        ctx.store.mark_stale(source.id)
        ctx.store.log(source.id, None, result.status, result.error)
    return _with_cache_state(ctx.store, source, result)


def cached_summary(store: Store, source: Source) -> SourceResult:
    """--offline: what the cache holds for the source; nothing is requested."""
    result = SourceResult(source.id, status="offline")
    result = _with_cache_state(store, source, result)
    if not result.cached:
        result.status = "failed"
        result.error = "nothing cached for this source: run `decp fetch` online first"
        result.failures.append(Failure(source.where(), "nothing cached for this source"))
    return result


def _with_cache_state(store: Store, source: Source, result: SourceResult) -> SourceResult:
    files = store.resources(source.id)
    result.cached = len(files)
    result.stale = sum(f.stale for f in files)
    if result.status == "offline":
        result.bytes = sum(f.size or 0 for f in files)
    state = store.source_state(source.id)
    result.last_success = state.last_success if state else None
    return result
