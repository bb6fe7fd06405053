"""The one HTTP layer of the project: timeouts, bounded retries, streaming downloads checked before use.

Servers fail in every way a server can: refused connections, timeouts, 5xx, 429 with a `Retry-After`,
bodies cut short, HTML error pages served with status 200. A retryable failure (network error, 429, 5xx,
a body shorter than announced) is retried with exponential back-off, honouring `Retry-After`; anything else
fails at once. Every failure becomes a `FetchError` naming the URL and the reason in words.

A download goes to a temporary file next to its destination and is handed back only when complete and
checked; the caller renames it into place, so a failed download never touches the last good copy.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import random
import re
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import requests

from decp_pipeline import __version__
from decp_pipeline.exceptions import FetchError, OfflineError
from decp_pipeline.fetch.answers import answer_head, content_length, describe_head, retry_after, short, status_reason
from decp_pipeline.fetch.deadline import Watchdog
from decp_pipeline.fetch.limits import HostLimits, Traffic

log = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = f"decp-pipeline/{__version__} (DECP consolidation; python-requests/{requests.__version__})"
RETRYABLE_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})
CHUNK_SIZE = 16 * 1024  # read in pieces this small, so that the watchdog sees a slow transfer as it goes
API_MAX_SIZE = 64 * 1024 * 1024  # an API answer (JSON listing) bigger than this is refused


@dataclass(frozen=True)
class HttpSettings:
    """Tunables of the HTTP layer, from the `http:` section of sources.yaml."""

    connect_timeout: float = 10.0
    read_timeout: float = 120.0
    retries: int = 4  # attempts after the first one
    backoff: float = 2.0  # seconds before the first retry, doubled at each retry
    max_backoff: float = 120.0
    max_retry_after: float = 600.0  # a server asking to wait longer than this fails the resource
    max_size: int = 4 * 1024**3  # bytes: a bigger file is refused (a hostile or broken server)
    total_timeout: float = 3600.0  # seconds: a body not complete by then fails (0: no limit)
    min_rate: float = 1024.0  # bytes per second: a body slower than this on average (after 30 s) fails (0: none)
    parallel_sources: int = 4  # sources fetched at once (fetch/runner.py)
    per_host: int = 2  # requests at once to one host, whatever the sources


@dataclass
class Download:
    """A completed response body: either a new file at `path`, or `not_modified` (HTTP 304, nothing written)."""

    url: str
    not_modified: bool
    path: Path | None = None
    size: int = 0
    sha1: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    content_type: str | None = None
    final_url: str | None = None  # the URL that answered, when redirected to another host

    @property
    def redirect(self) -> str | None:
        """`redirected to another host, URL`, for the run state, or None."""
        return f"redirected to another host, {self.final_url}" if self.final_url else None


@dataclass(frozen=True)
class Body:
    """A request body made afresh for each attempt (`make()` returns bytes or a file-like object with a length),
    sent without following redirects. `retry=False`: a failed attempt is not repeated by the HTTP layer."""

    make: Callable[[], Any]
    retry: bool = True

    def body(self) -> Any:
        return self.make()


Send = Body | None

# A check of the first bytes of a body: raises ValueError with a message when the content is not acceptable.
HeadCheck = Callable[[bytes], None]
HEAD_CHECK_SIZE = 4096


class HttpClient:
    """A requests session with the project's policy. `offline=True` refuses every request."""

    def __init__(
        self,
        settings: HttpSettings | None = None,
        *,
        offline: bool = False,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.settings = settings or HttpSettings()
        self.offline = offline
        self.sleep = sleep
        self.traffic = Traffic()
        self.cancelled = threading.Event()  # set when the run stops: every transfer ends at its next chunk
        self._hosts = HostLimits(self.settings.per_host)
        self.session = requests.Session()
        self.session.headers["User-Agent"] = USER_AGENT
        # The environment's proxies apply; .netrc credentials must not leak to arbitrary publishers.
        self.session.trust_env = True

    def close(self) -> None:
        self.session.close()

    def cancel(self) -> None:
        """Stop every transfer of the other threads: each fails at its next chunk, or within a second when its
        server sends nothing (the watchdog, deadline.py), and no new request starts."""
        self.cancelled.set()

    # -- requests with retries ---------------------------------------------------------------------------------

    @contextmanager
    def _response(
        self, method: str, url: str, *, headers: dict[str, str] | None = None, body: Any = None, send: Send = None
    ) -> Iterator[requests.Response]:
        """One streamed response with status < 400 (or 304), after retries; the caller reads its body.

        `send` makes the request body of each attempt afresh (an upload), and turns off redirects: a request
        that carries a credential goes to the URL given and nowhere else."""
        if self.offline:
            raise OfflineError(url, "not fetched: --offline forbids network access")
        attempt = 0
        while True:
            with self._hosts.hold(url):  # until the body is read
                if self.cancelled.is_set():  # checked once the slot is ours: the wait for it may be long
                    raise FetchError(url, "cancelled: the run was stopped")
                error = self._attempt(method, url, headers, body, send)
                if isinstance(error, requests.Response):
                    try:
                        yield error
                    finally:
                        error.close()
                    return
            limit = self.settings.retries if send is None or send.retry else 0
            if not error.retryable or attempt >= limit:
                if attempt:
                    error.reason += f" (after {attempt + 1} attempts)"
                if limit:
                    error.retryable = False  # given up: callers must not retry again
                raise error
            attempt += 1
            self._wait(url, attempt, error)

    def _attempt(  # noqa: PLR0911 - one return per kind of failure
        self, method: str, url: str, headers: dict[str, str] | None, body: Any, send: Send = None
    ) -> requests.Response | FetchError:
        self.traffic.count(requests=1)
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        try:
            response = self.session.request(
                method, url, headers=headers, json=body, data=send.body() if send else None, timeout=timeout,
                stream=True, allow_redirects=send is None,
            )  # fmt: skip
        except requests.exceptions.InvalidURL as e:
            return FetchError(url, f"invalid URL: {e}")
        except requests.exceptions.TooManyRedirects:
            return FetchError(url, "too many redirects")
        except requests.exceptions.InvalidSchema as e:  # a redirect to file://, ftp://, ...
            target = re.search(r"'([^']+)'", str(e))
            where = target.group(1) if target else "a URL"
            return FetchError(url, f"redirected to {where}, which is not http(s): not followed")
        except requests.exceptions.ConnectTimeout:
            return FetchError(url, f"no connection within {self.settings.connect_timeout:g} s", retryable=True)
        except requests.exceptions.ReadTimeout:
            return FetchError(url, f"no answer within {self.settings.read_timeout:g} s", retryable=True)
        except requests.exceptions.SSLError as e:
            return FetchError(url, f"TLS error: {short(e)}")
        except requests.exceptions.ConnectionError as e:
            return FetchError(url, f"connection failed: {short(e)}", retryable=True)
        except requests.exceptions.RequestException as e:
            return FetchError(url, f"request failed: {short(e)}")
        status = response.status_code
        self.traffic.count(status=status)
        if send is not None and 300 <= status < 400:
            response.close()
            where = response.headers.get("Location", "elsewhere")
            return FetchError(url, f"HTTP {status}: redirected to {where}, not followed (a request with a credential)")
        final, reason = url, status_reason(response)
        if response.history:  # redirected: the messages name the URL that answered
            final = response.url  # a redirect to another host is also said by a download's `redirect`
            reason += f", from {final} (redirected from {url})"
        if status < 400 or status == 304:
            return response
        error = FetchError(final, reason, status=status, retryable=status in RETRYABLE_STATUSES)
        error.retry_after = retry_after(response.headers.get("Retry-After"))  # type: ignore[attr-defined]
        error.answer = answer_head(response)
        response.close()
        return error

    def _wait(self, url: str, attempt: int, error: FetchError) -> None:
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > self.settings.max_retry_after:
                error.reason += f"; the server asks to retry after {retry_after:g} s, more than the limit"
                error.retryable = False
                raise error
            delay = retry_after
        else:
            delay = min(self.settings.backoff * 2 ** (attempt - 1), self.settings.max_backoff)
            delay *= 1 + random.random() / 10  # noqa: S311 - jitter, so that clients do not retry in step
        log.info("%s: %s; retry %d/%d in %.1f s", url, error.reason, attempt, self.settings.retries, delay)
        self.traffic.count(retries=1)
        if self.sleep is time.sleep:
            self.cancelled.wait(delay)  # a pause that a cancel ends at once
        else:
            self.sleep(delay)
        if self.cancelled.is_set():
            raise FetchError(url, "cancelled: the run was stopped")

    # -- bodies ----------------------------------------------------------------------------------------------

    def get_json(
        self,
        url: str,
        *,
        method: str = "GET",
        body: Any = None,
        headers: dict[str, str] | None = None,
        send: Send = None,
    ) -> Any:
        """An API answer parsed as JSON (bounded in size); a body that is not JSON is a retryable error.

        With `send` (a request body made afresh at each attempt), the request is retried only if
        `send.retry`; its caller decides otherwise (an upload that may have been received)."""

        def once() -> Any:
            with self._response(
                method, url, headers={"Accept": "application/json", **(headers or {})}, body=body, send=send
            ) as r:
                data = self._read_all(r, API_MAX_SIZE)
            try:
                return json.loads(data)
            except ValueError:
                raise FetchError(url, f"the answer is not JSON: {describe_head(data)}", retryable=True) from None

        if send is not None and not send.retry:
            return once()
        return self._body_retries(url, once)

    def wait_before_retry(self, url: str, attempt: int, error: FetchError) -> None:
        """The back-off of the HTTP layer (Retry-After honoured), for callers that retry by themselves."""
        self._wait(url, attempt, error)

    def download(
        self,
        url: str,
        destination: Path,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
        check: HeadCheck | None = None,
    ) -> Download:
        """Stream `url` to a temporary file beside `destination`; conditional when etag/last_modified are given.

        Returns a Download whose `path` is the temporary file (the caller renames it) or `not_modified`.
        A body shorter than its Content-Length, bigger than `max_size`, or refused by `check` is an error; the
        temporary file is then removed.
        """
        headers = {}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._body_retries(url, lambda: self._download_once(url, destination, headers, check))

    def _body_retries(self, url: str, once: Callable[[], T]) -> T:
        """Retry `once` when reading the body failed in a retryable way (statuses are retried by _response)."""
        attempt = 0
        while True:
            try:
                return once()
            except FetchError as e:
                if not e.retryable or e.status is not None or attempt >= self.settings.retries:
                    if e.retryable and attempt:
                        e.reason += f" (after {attempt + 1} attempts)"
                    raise
                attempt += 1
                self._wait(url, attempt, e)

    def _download_once(self, url: str, destination: Path, headers: dict[str, str], check: HeadCheck | None) -> Download:
        with self._response("GET", url, headers=headers) as response:
            meta = Download(
                url=url,
                not_modified=response.status_code == 304,
                etag=response.headers.get("ETag"),
                last_modified=response.headers.get("Last-Modified"),
                content_type=response.headers.get("Content-Type"),
                final_url=response.url if urlsplit(response.url).netloc != urlsplit(url).netloc else None,
            )
            if meta.not_modified:
                return meta
            expected = content_length(response)
            if expected is not None and expected > self.settings.max_size:
                raise FetchError(url, f"file too big: {expected:,} bytes announced, limit {self.settings.max_size:,}")
            destination.parent.mkdir(parents=True, exist_ok=True)
            temporary = destination.with_name(f".{destination.name}.{os.getpid()}.part")
            try:
                meta.size, meta.sha1 = self._stream_to(response, temporary, check)
                if expected is not None and meta.size != expected:
                    raise FetchError(
                        url, f"truncated body: {meta.size:,} of {expected:,} bytes received", retryable=True
                    )
            except BaseException:
                temporary.unlink(missing_ok=True)
                raise
            meta.path = temporary
            return meta

    def _stream_to(self, response: requests.Response, path: Path, check: HeadCheck | None) -> tuple[int, str]:
        url = response.url
        digest = hashlib.sha1(usedforsecurity=False)
        size = 0
        head = b""
        checked = check is None
        with open(path, "wb") as out:
            for chunk in self._chunks(response):
                size += len(chunk)
                if size > self.settings.max_size:
                    raise FetchError(url, f"file too big: more than {self.settings.max_size:,} bytes")
                if not checked:
                    head += chunk
                    if len(head) >= HEAD_CHECK_SIZE:
                        self._check_head(url, head, check)
                        checked = True
                digest.update(chunk)
                out.write(chunk)
        if not checked:
            self._check_head(url, head, check)
        return size, digest.hexdigest()

    def _check_head(self, url: str, head: bytes, check: HeadCheck | None) -> None:
        if check is None:
            return
        try:
            check(head)
        except ValueError as e:
            raise FetchError(url, str(e)) from None

    def _chunks(self, response: requests.Response) -> Iterator[bytes]:
        """The decoded body in chunks; a connection cut mid-body is a retryable truncation, and so is a body
        that takes longer than `total_timeout` or comes slower than `min_rate` (deadline.py)."""
        with Watchdog(response, self.settings.total_timeout, self.settings.min_rate, self.cancelled) as watchdog:
            try:
                yield from self._watched_chunks(response, watchdog)
            except FetchError as e:
                if watchdog.reason is None:
                    raise
                raise FetchError(response.url, watchdog.reason, retryable=not self.cancelled.is_set()) from e
        if watchdog.reason is not None:  # cut just as the body ended
            raise FetchError(response.url, watchdog.reason, retryable=not self.cancelled.is_set())

    def _watched_chunks(self, response: requests.Response, watchdog: Watchdog) -> Iterator[bytes]:
        received = 0
        try:
            for chunk in response.iter_content(CHUNK_SIZE):
                self.traffic.count(received=len(chunk))
                if self.cancelled.is_set():
                    raise FetchError(response.url, "cancelled: the run was stopped")
                received += len(chunk)
                watchdog.received(len(chunk))
                yield chunk
        except requests.exceptions.ChunkedEncodingError as e:
            expected = content_length(response)
            on_wire = getattr(response.raw, "tell", lambda: received)()  # the bytes of the unfinished chunk too
            what = f"{on_wire:,} of {expected:,} bytes received" if expected is not None else short(e)
            raise FetchError(response.url, f"truncated body: {what}", retryable=True) from None
        except requests.exceptions.ConnectionError as e:
            raise FetchError(response.url, f"connection lost while reading: {short(e)}", retryable=True) from None
        except requests.exceptions.ContentDecodingError as e:
            raise FetchError(response.url, f"undecodable body: {short(e)}") from None

    def _read_all(self, response: requests.Response, limit: int) -> bytes:
        parts = []
        size = 0
        for chunk in self._chunks(response):
            size += len(chunk)
            if size > limit:
                raise FetchError(response.url, f"answer too big: more than {limit:,} bytes")
            parts.append(chunk)
        expected = content_length(response)
        if expected is not None and size != expected:
            raise FetchError(response.url, f"truncated body: {size:,} of {expected:,} bytes received", retryable=True)
        return b"".join(parts)
