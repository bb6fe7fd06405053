"""Ask data.gouv.fr for the DECP datasets, tell them from the others, and say which source covers each.

Two searches of the API v1 (`/1/datasets/?schema=139bercy/format-commande-publique` and `?tag=decp`), each
followed page after page through `next_page` until it is null. A dataset is DECP data when one of its
resources declares the schema of the regulation, `139bercy/format-commande-publique` (any version: 1.x,
2.0.x), or when it carries the tag `decp` and none of its resources declares another schema. A tagged
dataset whose resources declare only other schemas (the buyer-profile declarations of
`etalab/schema-decp-dpa`, which list where a buyer publishes, not its contracts) is excluded, with the reason.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any
from urllib.parse import quote

from decp_pipeline.config import Source
from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.fetch.kinds.datagouv import resource_format

SCHEMA = "139bercy/format-commande-publique"
TAG = "decp"
PAGE_SIZE = 100
MAX_PAGES = 1000
UNSPECIFIED = "unspecified"  # a resource that declares the schema without a version
SITE = "https://www.data.gouv.fr/fr/datasets"


@dataclass
class FoundDataset:
    """A dataset the API answered, as `decp sources discover` reports it."""

    id: str
    slug: str
    title: str
    publisher: str
    resources: int
    formats: list[str]
    last_update: str | None
    schema_versions: list[str]  # of 139bercy/format-commande-publique, as declared by its resources
    page: str
    tagged_decp: bool
    covered_by: str | None = None  # the id of the source that covers it
    excluded: str | None = None  # why it is not DECP data
    other_schemas: list[str] = field(default_factory=list)

    @property
    def status(self) -> str:
        return "excluded" if self.excluded else "covered" if self.covered_by else "new"

    def to_dict(self) -> dict[str, Any]:
        return {"status": self.status, **asdict(self)}


def search_urls(api_base: str) -> list[str]:
    """The first page of each search."""
    base = api_base.rstrip("/")
    return [
        f"{base}/1/datasets/?schema={quote(SCHEMA, safe='/')}&page_size={PAGE_SIZE}",
        f"{base}/1/datasets/?tag={TAG}&page_size={PAGE_SIZE}",
    ]


def search(client: HttpClient, api_base: str) -> list[dict[str, Any]]:
    """Every dataset of both searches, each once, in the order first answered."""
    datasets: dict[str, dict[str, Any]] = {}
    for first in search_urls(api_base):
        for item in _pages(client, first):
            if isinstance(item.get("id"), str):
                datasets.setdefault(item["id"], item)
    return list(datasets.values())


def _pages(client: HttpClient, url: str) -> Iterable[dict[str, Any]]:
    asked: set[str] = set()
    next_url: str | None = url
    while next_url:
        if next_url in asked:
            raise FetchError(next_url, "the API's next_page points back to a page already read")
        if len(asked) >= MAX_PAGES:
            raise FetchError(next_url, f"more than {MAX_PAGES} pages of datasets")
        asked.add(next_url)
        answer = client.get_json(next_url)
        if not isinstance(answer, dict) or not isinstance(answer.get("data"), list):
            raise FetchError(next_url, "unexpected answer: expected an object with a 'data' list of datasets")
        yield from (d for d in answer["data"] if isinstance(d, dict))
        following = answer.get("next_page")
        if following is not None and not (isinstance(following, str) and following.startswith(("http://", "https://"))):
            raise FetchError(next_url, f"unexpected answer: next_page is not an http(s) URL: {following!r}")
        next_url = following if answer["data"] else None


def describe(item: dict[str, Any]) -> FoundDataset:
    """What is reported of one dataset of the API, and whether it is DECP data."""
    resources = [r for r in item.get("resources") or [] if isinstance(r, dict)]
    declared = [_declared_schema(r) for r in resources]
    versions = sorted({v for name, v in declared if name == SCHEMA}, key=_version_key)
    others = sorted({name for name, _ in declared if name and name != SCHEMA})
    tags = item["tags"] if isinstance(item.get("tags"), list) else []
    slug = _text(item.get("slug")) or str(item["id"])
    found = FoundDataset(
        id=str(item["id"]),
        slug=slug,
        title=_text(item.get("title")) or slug,
        publisher=publisher(item),
        resources=len(resources),
        formats=sorted({f for r in resources if (f := resource_format(r, _text(r.get("url")) or ""))}),
        last_update=_text(item.get("last_update")) or _text(item.get("last_modified")),
        schema_versions=versions,
        page=_text(item.get("page")) or f"{SITE}/{slug}/",
        tagged_decp=TAG in tags,
        other_schemas=others,
    )
    if item.get("deleted"):
        found.excluded = "deleted"
    elif not versions and others:
        found.excluded = f"its resources declare only other schemas ({', '.join(others)}), not {SCHEMA}"
    elif not versions and not found.tagged_decp:
        found.excluded = f"no resource declares {SCHEMA} and it is not tagged {TAG}"
    return found


def publisher(item: dict[str, Any]) -> str:
    """The organization's name, else the owner's name."""
    organization = item.get("organization")
    if isinstance(organization, dict) and _text(organization.get("name")):
        return str(organization["name"]).strip()
    owner = item.get("owner")
    if isinstance(owner, dict):
        name = " ".join(p for p in (_text(owner.get("first_name")), _text(owner.get("last_name"))) if p)
        return name or _text(owner.get("slug")) or "unknown"
    return "unknown"


def mark_covered(found: list[FoundDataset], items: list[dict[str, Any]], sources: Iterable[Source]) -> None:
    """Set `covered_by`: a datagouv_dataset source naming the dataset, or a url source whose URL is one of the
    dataset's resources (its URL, its stable `latest` URL, or a URL holding its resource id)."""
    by_dataset: dict[str, str] = {}
    urls: dict[str, str] = {}
    for source in sources:
        for dataset in [source.location.get("dataset"), *(source.location.get("datasets") or [])]:
            if source.kind == "datagouv_dataset" and dataset:
                by_dataset.setdefault(dataset, source.id)
        for url in [source.location.get("url"), *(source.location.get("urls") or [])]:
            if source.kind == "url" and url:
                urls.setdefault(url.rstrip("/"), source.id)
    for dataset, item in zip(found, items, strict=True):
        dataset.covered_by = by_dataset.get(dataset.id) or _covering_url(item, urls)


def _covering_url(item: dict[str, Any], urls: dict[str, str]) -> str | None:
    for resource in item.get("resources") or []:
        if not isinstance(resource, dict):
            continue
        for key in ("url", "latest"):
            if (url := _text(resource.get(key))) and url.rstrip("/") in urls:
                return urls[url.rstrip("/")]
        if resource_id := _text(resource.get("id")):
            for url, source_id in urls.items():
                if resource_id in url:
                    return source_id
    return None


def _declared_schema(resource: dict[str, Any]) -> tuple[str | None, str]:
    schema = resource.get("schema")
    if not isinstance(schema, dict) or not _text(schema.get("name")):
        return None, ""
    return str(schema["name"]).strip(), _text(schema.get("version")) or UNSPECIFIED


def _version_key(version: str) -> tuple[tuple[int, str], ...]:
    return tuple((int(p), "") if p.isdigit() else (10**9, p) for p in re.split(r"[.-]", version))


def _text(value: Any) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


@dataclass
class Discovery:
    """One run of the searches: every dataset answered, with its status."""

    api_base: str
    datasets: list[FoundDataset]
    requests: int = 0

    def having(self, status: str) -> list[FoundDataset]:
        return [d for d in self.datasets if d.status == status]

    @property
    def decp(self) -> list[FoundDataset]:
        """The DECP datasets (covered or new)."""
        return [d for d in self.datasets if not d.excluded]


def discover(client: HttpClient, api_base: str, sources: Iterable[Source]) -> Discovery:
    """Search, describe and tell which source covers each dataset."""
    before = client.traffic.requests
    items = search(client, api_base)
    found = [describe(item) for item in items]
    mark_covered(found, items, sources)
    return Discovery(api_base.rstrip("/"), found, client.traffic.requests - before)
