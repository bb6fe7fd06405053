"""`kind: dume_api`: the AIFE's DUME API, one cached file of raw rows per publication day.

The API (`POST /dumes/donneesEssentielles`, operation `recupererDEV2`) has no pagination and returns at most
100 rows per query, silently truncated. A query that returns 100 rows is therefore split: its date range in
halves down to one day, then one day by contract type (`typeDE` MP / CC), then by procedure (the official
2022 lists); a day still capped after that fails loudly rather than being saved incomplete. A multi-day answer
whose rows do not all carry a publication date inside the range is split too, so that every row is filed
under a day it was asked for.

Days older than `refresh_days` (default 7) before the end of the range, once fetched, are not asked again;
the recent ones are, since a day's publications may still arrive. Each day is stored as
`raw/<source>/YYYY-MM-DD.json`, `{"donneesEssentielles": [rows]}`, rows as the API sent them (the mapping to
the 2022 format is the normalizer's job).
"""

from __future__ import annotations

import hashlib
import json
import os
from datetime import date, timedelta
from functools import cache
from typing import Any

from decp_pipeline.config import Source
from decp_pipeline.exceptions import FetchError
from decp_pipeline.fetch.resources import Failure, FetchContext, SourceResult
from decp_pipeline.official_schemas import VERSIONS, load_json_schema
from decp_pipeline.redaction import register

DEFAULT_API_BASE = "https://dume.chorus-pro.gouv.fr"
ENDPOINT = "/dumes/donneesEssentielles"
CAP = 100
MAX_RANGE_DAYS = 31
DEFAULT_REFRESH_DAYS = 7
# The identifiers the public web application sends; the API needs no authentication.
ENVELOPE = {
    "operation": "recupererDEV2",
    "plateforme": {"idPlateforme": "12345678901011", "idTechniquePlateforme": "AAA001"},
    "idDemandeur": "12345698765445",
    "rsDemandeur": "AIFE",
}
API_KEY_HEADER = "X-API-KEY"


@cache
def partitions() -> tuple[tuple[str, tuple[str, ...]], ...]:
    """Filters that split one day's query into disjoint parts: contract type, then procedure."""
    definitions = load_json_schema(VERSIONS["2.0"].json_schema)["definitions"]
    procedures = tuple(definitions["marche"]["properties"]["procedure"]["enum"]) + tuple(
        definitions["contrat-concession"]["properties"]["procedure"]["enum"]
    )
    return (("typeDE", ("MP", "CC")), ("procedure", procedures))


def day_key(endpoint: str, day: date) -> str:
    """The cache key of one day's rows (a URL fragment: one resource per day)."""
    return f"{endpoint}#{day.isoformat()}"


class DumeQuery:
    def __init__(self, ctx: FetchContext, source: Source) -> None:
        self.ctx = ctx
        self.url = (source.location.get("api_base") or DEFAULT_API_BASE).rstrip("/") + ENDPOINT
        self.headers = {"X-Api-Version": "2"}
        if (variable := source.location.get("api_key_env")) and (key := os.environ.get(variable)):
            self.headers[API_KEY_HEADER] = key
            register(key, variable)
        self.queries = 0
        self.capped: dict[date, str] = {}  # days still at the cap after every split, and why

    def ask(self, start: date, end: date, filters: dict[str, str]) -> list[dict[str, Any]]:
        body = {**ENVELOPE, "dateDebutPublication": start.isoformat(), "dateFinPublication": end.isoformat(), **filters}
        self.queries += 1
        answer = self.ctx.client.get_json(self.url, method="POST", body=body, headers=self.headers)
        response = answer.get("response") if isinstance(answer, dict) else None
        if not isinstance(response, dict):
            raise FetchError(self.url, "unexpected answer: no 'response' object")
        errors = [
            f"{m.get('code')}: {m.get('message')}"
            for m in response.get("messageList") or []
            if isinstance(m, dict) and m.get("type") == "ERREUR"
        ]
        if errors:
            raise FetchError(self.url, "the API reports an error: " + "; ".join(errors))
        rows = response.get("donneesEssentielles") or []
        if not isinstance(rows, list):
            raise FetchError(self.url, "unexpected answer: 'donneesEssentielles' is not a list")
        return [r for r in rows if isinstance(r, dict)]

    def rows_by_day(
        self, start: date, end: date, filters: dict[str, str] | None = None
    ) -> dict[date, list[dict[str, Any]]]:
        """Every row published between start and end (inclusive), filed by day, splitting capped queries."""
        filters = filters or {}
        rows = self.ask(start, end, filters)
        if len(rows) < CAP:
            if start == end:
                return {start: rows}
            by_day: dict[date, list[dict[str, Any]]] = {}
            for row in rows:
                day = _publication_day(row)
                if day is None or not start <= day <= end:
                    break
                by_day.setdefault(day, []).append(row)
            else:
                return by_day
        if start < end:
            middle = start + timedelta(days=(end - start).days // 2)
            first = self.rows_by_day(start, middle, filters)
            return first | self.rows_by_day(middle + timedelta(days=1), end, filters)
        for name, values in partitions():
            if name not in filters:
                merged: list[dict[str, Any]] = []
                for value in values:
                    merged.extend(self.rows_by_day(start, end, {**filters, name: value}).get(start, []))
                return {start: merged}
        # This day cannot be fetched whole: it fails alone, the other days of the range are kept.
        self.capped[start] = f"{start}: {CAP} rows even for {filters}, the API cannot return them all"
        return {}


def _publication_day(row: dict[str, Any]) -> date | None:
    value = row.get("datePublicationDonnees")
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _unique(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows without the repeats that overlapping queries can bring (same referenceUnique, same content)."""
    seen: set[bytes] = set()
    kept = []
    for row in rows:
        digest = hashlib.sha1(json.dumps(row, sort_keys=True).encode(), usedforsecurity=False).digest()
        if digest not in seen:
            seen.add(digest)
            kept.append(row)
    return kept


def days_to_ask(ctx: FetchContext, source: Source, endpoint: str, start: date, end: date) -> list[date]:
    refresh_from = end - timedelta(days=int(source.location.get("refresh_days", DEFAULT_REFRESH_DAYS)) - 1)
    days = []
    day = start
    while day <= end:
        cached = ctx.store.cached(source.id, day_key(endpoint, day))
        if day >= refresh_from or not ctx.store.has_file(cached) or (cached and cached.status != "ok"):
            days.append(day)
        day += timedelta(days=1)
    return days


def _ranges(days: list[date]) -> list[tuple[date, date]]:
    """Consecutive days grouped into ranges of at most MAX_RANGE_DAYS."""
    ranges: list[tuple[date, date]] = []
    for day in days:
        if ranges and day == ranges[-1][1] + timedelta(days=1) and (day - ranges[-1][0]).days < MAX_RANGE_DAYS:
            ranges[-1] = (ranges[-1][0], day)
        else:
            ranges.append((day, day))
    return ranges


def fetch(ctx: FetchContext, source: Source, result: SourceResult) -> None:
    query = DumeQuery(ctx, source)
    start = date.fromisoformat(str(source.location.get("start_date", "2024-01-01")))
    end = (
        date.fromisoformat(str(source.location["end_date"]))
        if "end_date" in source.location
        else date.today() - timedelta(days=1)
    )
    all_days = (end - start).days + 1
    asked = days_to_ask(ctx, source, query.url, start, end)
    result.listed = max(all_days, 0)
    result.unchanged = result.listed - len(asked)
    for first, last in _ranges(asked):
        try:
            by_day = query.rows_by_day(first, last)
        except FetchError as e:
            reason = e.reason
            for day in _days(first, last):
                ctx.store.record_failure(source.id, day_key(query.url, day), reason)
            ctx.store.log(source.id, query.url, "failed", f"{first}..{last}: {reason}")
            result.failed += (last - first).days + 1
            result.failures.append(Failure(f"{query.url} ({first} to {last})", reason))
            ctx.progress(f"{source.id}: FAILED {first} to {last}: {reason}")
            continue
        for day in _days(first, last):
            if day in query.capped:
                _fail_day(ctx, source, day_key(query.url, day), query.capped.pop(day), result)
                continue
            _save_day(ctx, source, day_key(query.url, day), _unique(by_day.get(day, [])), result)
        ctx.tick()  # a window of days done: the meter counts them
        ctx.progress(f"{source.id}: {first} to {last}: {sum(map(len, by_day.values()))} rows", detail=True)
    result.notes.append(f"API queries: {query.queries} for {len(asked)} day(s) asked")
    ctx.store.set_listing(source.id, {day_key(query.url, d) for d in _days(start, end)})


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


def _fail_day(ctx: FetchContext, source: Source, key: str, reason: str, result: SourceResult) -> None:
    ctx.store.record_failure(source.id, key, reason)
    ctx.store.log(source.id, key, "failed", reason)
    result.failed += 1
    result.failures.append(Failure(key, reason))
    ctx.progress(f"{source.id}: FAILED {reason}")


def _save_day(ctx: FetchContext, source: Source, key: str, rows: list[dict[str, Any]], result: SourceResult) -> None:
    day = date.fromisoformat(key.rpartition("#")[2])
    content = json.dumps({"donneesEssentielles": rows}, ensure_ascii=False, indent=1).encode("utf-8")
    sha1 = hashlib.sha1(content, usedforsecurity=False).hexdigest()
    cached = ctx.store.cached(source.id, key)
    if ctx.store.has_file(cached) and cached and cached.sha1 == sha1:
        ctx.store.record_unchanged(source.id, key, remote_checksum=None, remote_modified=None)
        result.unchanged += 1
        return
    destination = ctx.store.data_dir / "raw" / source.id / f"{day.isoformat()}.json"
    destination.parent.mkdir(parents=True, exist_ok=True)
    temporary = destination.with_name(f".{destination.name}.part")
    temporary.write_bytes(content)
    os.replace(temporary, destination)
    ctx.store.record_download(
        source.id,
        key,
        destination,
        title=f"{len(rows)} rows published on {day.isoformat()}",
        etag=None,
        last_modified=None,
        sha1=sha1,
        size=len(content),
        remote_checksum=None,
        remote_modified=None,
    )
    ctx.store.log(source.id, key, "downloaded", size=len(content))
    result.downloaded += 1
    result.bytes += len(content)
