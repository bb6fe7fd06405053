"""`kind: url`: one or more files at fixed URLs."""

from __future__ import annotations

from decp_pipeline.config import Source
from decp_pipeline.fetch.content import check_decp_data
from decp_pipeline.fetch.resources import FetchContext, Resource, SourceResult, fetch_resource


def source_urls(source: Source) -> list[str]:
    if "url" in source.location:
        return [source.location["url"]]
    return list(dict.fromkeys(source.location["urls"]))


def fetch(ctx: FetchContext, source: Source, result: SourceResult) -> None:
    urls = source_urls(source)
    result.listed = len(urls)
    for url in urls:
        fetch_resource(ctx, source.id, Resource(url), result, check=check_decp_data)
    ctx.store.set_listing(source.id, set(urls))
