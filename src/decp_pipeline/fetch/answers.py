"""What the HTTP layer reads from an answer's headers and says of a failure, in words (fetch/http.py)."""

from __future__ import annotations

import email.utils
import time

import requests

from decp_pipeline.exceptions import GONE_STATUSES


def content_length(response: requests.Response) -> int | None:
    """The announced body size, when it describes the decoded body (no Content-Encoding)."""
    if response.headers.get("Content-Encoding", "identity") != "identity":
        return None
    value = response.headers.get("Content-Length")
    return int(value) if value and value.isdigit() else None


def retry_after(value: str | None) -> float | None:
    """Seconds to wait, from a Retry-After header in seconds or as an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


def status_reason(response: requests.Response) -> str:
    reason = f"HTTP {response.status_code} {response.reason or ''}".rstrip()
    if response.status_code in GONE_STATUSES:
        reason += " (the resource no longer exists at this address)"
    return reason


def short(error: Exception) -> str:
    """The last, most specific part of a requests/urllib3 error chain, without object reprs."""
    text = str(error)
    for marker in ("Caused by ", "Failed to establish a new connection: ", "] "):
        if marker in text:
            text = text.rsplit(marker, 1)[-1]
    return text.strip("()'\" ") or type(error).__name__


ANSWER_HEAD = 2048  # bytes kept of an error answer's body (servers explain a 4xx there)


def answer_head(response: requests.Response) -> str:
    """The start of an error answer's body, as text; empty when it cannot be read."""
    try:
        head = response.raw.read(ANSWER_HEAD, decode_content=True) or b""
    except Exception:
        return ""
    return head.decode("utf-8", errors="replace")


def describe_head(data: bytes) -> str:
    text = data[:80].decode("utf-8", errors="replace").strip()
    return f"it starts with {text!r}" if text else "it is empty"
