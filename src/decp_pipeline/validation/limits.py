"""A bound of decp-pipeline, not of the schemas: no text of a record may be longer than `MAX_TEXT` characters.

The schemas bound few texts (`objet`: 1,000 characters in format 2022; most fields none), and a broken or
hostile file can hold a text of 50 MB in any field. Every step after reading copies such a text several
times (normalizing, the typed decode, jsonschema's own copy, the table rows): 0.10.1 took 43 s and 531 MB to
reject one such record. A record holding one is rejected as soon as it is read, with this one error, and goes
through none of those steps; `decp validate` reports it the same way. The longest text of the real files of
`../shared/realdata` has 2,435 characters: the bound leaves 40 times that.
"""

from __future__ import annotations

from typing import Any

from decp_pipeline.validation.json_records import FieldError

MAX_TEXT = 100_000  # characters
RULE = "maxTextLength"


def overlong_text(record: Any) -> FieldError | None:
    """The first text of `record` longer than MAX_TEXT characters, as an error at its path; None if none is.

    One pass over the record's containers, paths built for them only: a few µs for a usual record."""
    stack: list[tuple[tuple[str | int, ...], Any]] = [((), record)]
    while stack:
        path, value = stack.pop()
        items = value.items() if type(value) is dict else enumerate(value) if type(value) is list else None
        if items is None:
            if type(value) is str and len(value) > MAX_TEXT:
                return _error(path, value)
            continue
        for key, item in items:
            if type(key) is str and len(key) > MAX_TEXT:  # a key is a text too
                return _error((*path, key[:20] + "…"), key)
            kind = type(item)
            if kind is str:
                if len(item) > MAX_TEXT:
                    return _error((*path, key), item)
            elif kind is dict or kind is list:
                stack.append(((*path, key), item))
    return None


def without_long_texts(value: Any) -> Any:
    """A copy of `value` where each text longer than MAX_TEXT is None and each such key left out: what the
    record's table rows show of it (its uid and kind come from short fields); rejected.jsonl keeps it whole."""
    if type(value) is str:
        return None if len(value) > MAX_TEXT else value
    if type(value) is dict:
        return {k: without_long_texts(v) for k, v in value.items() if not (type(k) is str and len(k) > MAX_TEXT)}
    if type(value) is list:
        return [without_long_texts(item) for item in value]
    return value


def overlong_xml_text(element: Any) -> tuple[str, int, int | None] | None:
    """The first text or attribute of an XML record (an lxml element) longer than MAX_TEXT characters: the path
    of its element below the record, its length and its line; None if none is."""
    for node in element.iter():
        if not isinstance(node.tag, str):  # a comment, a processing instruction
            continue
        longest = max([node.text or "", *node.attrib.values()], key=len)
        if len(longest) > MAX_TEXT:
            names, current = [], node
            while current is not None and current is not element:  # lxml keeps one proxy per live node
                names.append(current.tag.rpartition("}")[2])
                current = current.getparent()
            return ".".join(reversed(names)), len(longest), node.sourceline
    return None


def message(length: int) -> str:
    return (f"a text of {length:,} characters, more than the {MAX_TEXT:,} that decp-pipeline accepts in any "
            "field (a bound of the tool, not of the schema)")  # fmt: skip


def _error(path: tuple[str | int, ...], text: str) -> FieldError:
    return FieldError(list(path), RULE, message(len(text)))
