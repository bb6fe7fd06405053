"""`kind: datagouv_dataset`: every data resource of one or more data.gouv.fr datasets.

The resources are listed through the API v2 (`/2/datasets/ID/resources/`, paginated), filtered (type, format,
title or URL pattern, size, excluded ids), then downloaded. data.gouv.fr publishes each resource's checksum
and last modification date: a resource whose checksum (or, without one, date) is the one already cached is
not requested at all.
"""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from decp_pipeline.config import Source
from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.content import check_decp_data
from decp_pipeline.fetch.resources import (
    FetchContext,
    Resource,
    SourceResult,
    fetch_resource,
    skip_resource,
)

DEFAULT_API_BASE = "https://www.data.gouv.fr/api"
PAGE_SIZE = 100
MAX_PAGES = 1000
DEFAULT_FORMATS = ("json", "xml")
# Resource types that never hold data (udata's vocabulary).
NOT_DATA_TYPES = frozenset({"documentation", "api", "code"})


def api_base(source: Source) -> str:
    base = source.location.get("api_base") or os.environ.get("DECP_DATAGOUV_API") or DEFAULT_API_BASE
    return base.rstrip("/")


def dataset_ids(source: Source) -> list[str]:
    if "dataset" in source.location:
        return [source.location["dataset"]]
    return list(dict.fromkeys(source.location["datasets"]))


def list_resources(ctx: FetchContext, base: str, dataset: str) -> list[dict[str, Any]]:
    """Every resource of a dataset, page after page."""
    items: list[dict[str, Any]] = []
    for page in range(1, MAX_PAGES + 1):
        url = f"{base}/2/datasets/{dataset}/resources/?page={page}&page_size={PAGE_SIZE}"
        answer = ctx.client.get_json(url)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise FetchError(url, "unexpected answer: expected an object with a 'data' list of resources")
        items.extend(r for r in answer["data"] if isinstance(r, dict))
        total = answer.get("total")
        if not answer["data"] or not answer.get("next_page") or (isinstance(total, int) and len(items) >= total):
            return items
    raise FetchError(url, f"more than {MAX_PAGES} pages of resources")


def select(source: Source, item: dict[str, Any]) -> tuple[Resource | None, str | None]:  # noqa: PLR0911
    """The resource to download, or why it is skipped."""
    url = item.get("url") or item.get("latest")
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        return None, "no download URL"
    options = source.location
    title = item.get("title") if isinstance(item.get("title"), str) else None
    if item.get("id") in (options.get("exclude_resources") or ()):
        return None, "listed in exclude_resources"
    if item.get("type") in NOT_DATA_TYPES:
        return None, f"resource type {item['type']!r}, not data"
    fmt = resource_format(item, url)
    formats = tuple(f.lower() for f in options.get("formats") or DEFAULT_FORMATS)
    if fmt not in formats:
        return None, f"format {fmt or 'unknown'!r}, not one of {', '.join(formats)}"
    if (pattern := options.get("title_pattern")) and not re.search(pattern, title or ""):
        return None, f"title {title!r} does not match title_pattern"
    if (pattern := options.get("url_pattern")) and not re.search(pattern, url):
        return None, "URL does not match url_pattern"
    size = item.get("filesize")
    size = size if isinstance(size, int) else None
    if (min_size := options.get("min_size")) and size is not None and size < min_size:
        return None, f"{size} bytes, under min_size {min_size}"
    checksum = item.get("checksum")
    announced = None
    if isinstance(checksum, dict) and checksum.get("type") and checksum.get("value"):
        announced = f"{checksum['type']}:{str(checksum['value']).lower()}"
    modified = item.get("last_modified") if isinstance(item.get("last_modified"), str) else None
    return Resource(url=url, title=title, checksum=announced, modified=modified, size=size), None


def resource_format(item: dict[str, Any], url: str) -> str:
    """The declared format, else the URL's extension, lower-case."""
    fmt = item.get("format")
    if isinstance(fmt, str) and fmt.strip():
        return fmt.strip().lower().lstrip(".")
    name = urlsplit(url).path.rsplit("/", 1)[-1]
    return name.rpartition(".")[2].lower() if "." in name else ""


def fetch(ctx: FetchContext, source: Source, result: SourceResult) -> None:
    base = api_base(source)
    listed: set[str] = set()
    datasets = dataset_ids(source)
    vanished = []
    for dataset in datasets:
        try:
            items = list_resources(ctx, base, dataset)
        except FetchError as e:
            ctx.store.log(source.id, e.url, "vanished" if e.gone else "failed", e.reason)
            if e.gone:
                vanished.append(dataset)
                result.notes.append(f"dataset {dataset} has vanished ({e.reason})")
            else:
                result.notes.append(f"dataset {dataset}: listing failed: {e}")
            continue
        ctx.progress(f"{source.id}: dataset {dataset}: {len(items)} resources listed")
        for item in items:
            resource, reason = select(source, item)
            if resource is None:
                skip_resource(ctx, source.id, _unselected(item), result, reason or "")
                continue
            if resource.url in listed:
                continue
            listed.add(resource.url)
            result.listed += 1
            fetch_resource(
                ctx, source.id, resource, result, check=check_decp_data, min_size=source.location.get("min_size")
            )
    if len(vanished) == len(datasets):
        result.fail_source("; ".join(result.notes), vanished=True)
        return
    if result.notes:
        result.fail_source("; ".join(result.notes))
        return
    ctx.store.set_listing(source.id, listed)


def _unselected(item: dict[str, Any]) -> Resource:
    url = item.get("url") or item.get("latest") or f"resource {item.get('id', '?')}"
    return Resource(url=str(url), title=item.get("title") if isinstance(item.get("title"), str) else None)
