"""The checks every settings section of sources.yaml shares: a mapping of known keys, each value checked, every
problem named with the key (and a "did you mean" for a misspelt one). config.py and the sections' own modules
use them; this module imports none of them (config.py imports those modules)."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable
from typing import Any


def suggest(key: str, allowed: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"


def check_mapping(name: str, section: Any, listing: str, keys: Iterable[str],
                  expected: Callable[[str, Any], str | None]) -> list[str]:  # fmt: skip
    """The problems of the section `name` (None: not given, none): not a mapping (of `listing`), an unknown key,
    a value `expected` refuses (it says what it expected, or None for a good value)."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return [f"key '{name}': expected a mapping of {listing}"]
    allowed = set(keys)
    problems = []
    for key, value in section.items():
        if key not in allowed:
            problems.append(f"{name}: unknown key '{key}'" + suggest(str(key), allowed))
        elif (wanted := expected(key, value)) is not None:
            problems.append(f"{name}: key '{key}': expected {wanted}, got {value!r}")
    return problems
