"""Turning JSON Schema errors into messages a publisher understands.

Each message says what is wrong in the words of the rule, shows the offending value, and gives the allowed
values of an enumeration and a plain-language reading of the regulation's patterns (SIRET, CPV, dates).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

# The patterns of the official schemas, read aloud.
PATTERN_HINTS = {
    "^[0-9]{14}$": "a SIRET: 14 digits",
    "^[0-9]{8}(\\-[0-9])?$": "a CPV code: 8 digits, optionally followed by -N",
    "^[0-9]{8}(-[0-9])?$": "a CPV code: 8 digits, optionally followed by -N",
    "^\\d{4}-[01]\\d-[0-3]\\d([+-][0-2]\\d:[0-5]\\dZ?)?$": ("a date YYYY-MM-DD, optionally with a time zone (+01:00)"),
    "\\d{4}-\\d{2}-\\d{2}": "a date YYYY-MM-DD",
    "^[0-9]{14}.{7,16}$": "the buyer's SIRET (14 digits) followed by the contract id (7 to 16 characters)",
}

JSON_TYPES = {
    "string": "a text",
    "number": "a number",
    "integer": "a whole number",
    "boolean": "true or false",
    "object": "an object {...}",
    "array": "a list [...]",
    "null": "null",
}

MAX_VALUE_LENGTH = 80


def show(value: Any) -> str:
    """A value as it appears in the JSON file, shortened."""
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= MAX_VALUE_LENGTH else text[: MAX_VALUE_LENGTH - 1] + "…"


def describe_type(value: Any) -> str:
    if isinstance(value, bool):
        return f"the boolean {show(value)}"
    if isinstance(value, str):
        return f"the text {show(value)}"
    if isinstance(value, int | float):
        return f"the number {show(value)}"
    if value is None:
        return "null"
    if isinstance(value, list):
        return f"a list of {len(value)} item(s)"
    return "an object"


def join_path(path: list[str | int]) -> str:
    """`["titulaires", 0, "id"]` → `titulaires[0].id`."""
    text = ""
    for part in path:
        if isinstance(part, int):
            text += f"[{part}]"
        else:
            text += f".{part}" if text else str(part)
    return text


def pointer(path: list[str | int]) -> str:
    """The JSON pointer (RFC 6901) of a path."""
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in path)


def _pattern(value: Any, detail: dict[str, Any]) -> str:
    pattern = detail.get("pattern", "")
    if pattern in PATTERN_HINTS:
        return f"{show(value)} is not {PATTERN_HINTS[pattern]}"
    return f"{show(value)} does not match the pattern {pattern}"


def _twins(items: Any) -> str:
    seen: dict[str, int] = {}
    for index, item in enumerate(items if isinstance(items, list) else []):
        key = json.dumps(item, sort_keys=True)
        if key in seen:
            return f"items [{seen[key]}] and [{index}] are identical"
        seen[key] = index
    return "the list holds the same item twice"


def _types(detail: dict[str, Any]) -> str:
    return " or ".join(JSON_TYPES.get(t, t) for t in detail.get("types", []))


# Rule → message, from the offending value and the rule's parameters (jsonschema-rs `kind.as_dict()`).
MESSAGES: dict[str, Callable[[Any, dict[str, Any]], str]] = {
    "required": lambda v, d: "required field is missing",
    "type": lambda v, d: f"expected {_types(d)}, got {describe_type(v)}",
    "enum": lambda v, d: f"{show(v)} is not an allowed value; allowed: {', '.join(map(show, d['options']))}",
    "pattern": _pattern,
    "minimum": lambda v, d: f"{show(v)} is below the minimum {show(d.get('limit'))}",
    "maximum": lambda v, d: f"{show(v)} is above the maximum {show(d.get('limit'))}",
    "maxLength": lambda v, d: f"text of {len(v)} characters; at most {d.get('limit')} allowed",
    "minLength": lambda v, d: f"text of {len(v)} characters; at least {d.get('limit')} required",
    "minItems": lambda v, d: f"list of {len(v)} item(s); at least {d.get('limit')} required",
    "maxItems": lambda v, d: f"list of {len(v)} item(s); at most {d.get('limit')} allowed",
    "uniqueItems": lambda v, d: f"{_twins(v)}; items must be unique",
    "additionalProperties": lambda v, d: "field not allowed: the schema forbids fields it does not define",
    "anyOf": lambda v, d: "does not match any of the allowed shapes",
    "oneOf": lambda v, d: "does not match exactly one of the allowed shapes",
}


def explain(rule: str, detail: dict[str, Any], value: Any, fallback: str) -> str:
    """The message for one schema error of `rule` on `value`; `fallback` for rules the schemas do not use."""
    template = MESSAGES.get(rule)
    return template(value, detail) if template else fallback
