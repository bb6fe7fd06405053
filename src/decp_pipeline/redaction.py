"""The secrets the tool was given (API keys from the environment), kept out of every byte it writes.

A secret is registered where it is read (the DUME API key of a source's `api_key_env`, decp publish's
`DECP_DATAGOUV_API_KEY`); `redact` replaces each registered one in a text. FetchError, the error every HTTP
failure becomes, redacts its message, so that a server echoing a key in its answer puts it in no output, no
`--json` document, no log line and no row of the run state.
"""

from __future__ import annotations

import re

_SECRETS: dict[str, str] = {}  # the secret → what is written instead
MIN_LENGTH = 4  # a shorter value would blank out ordinary text; no real key is that short


def register(secret: str | None, name: str) -> None:
    """Keep `secret` (the value of the environment variable `name`) out of every message."""
    if secret and len(secret) >= MIN_LENGTH:
        _SECRETS[secret] = f"[{name}]"


def redact(text: str) -> str:
    if not _SECRETS or not text:
        return text
    pattern = re.compile("|".join(re.escape(s) for s in sorted(_SECRETS, key=len, reverse=True)))
    return pattern.sub(lambda match: _SECRETS[match.group(0)], text)
