"""A format-1.x XML record element as the JSON-shaped dict of the same record.

The XML form wraps lists (`<titulaires><titulaire>…</titulaire></titulaires>`); the JSON form is a plain list
(`"titulaires": [{…}]`). The conversion is that mapping and nothing else: values stay text (the normalizer
types them), elements are matched by local name (namespaced or not), an element repeated where one is
expected becomes a list (Grand Lyon's repeated `datePublicationDonnees`), so that nothing is lost silently.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

# List containers of format 1.x and the name of their items.
WRAPPERS = {
    "titulaires": "titulaire",
    "modifications": "modification",
    "concessionnaires": "concessionnaire",
    "donneesExecution": "donneesAnnuelles",
    "tarifs": "tarif",
}


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def element_to_dict(element: etree._Element) -> dict[str, Any]:
    """The record element as a dict of its children."""
    result: dict[str, Any] = {}
    for child in element:
        if not isinstance(child.tag, str):
            continue  # comments, processing instructions
        name = _local(child)
        value = _value(child, name)
        if name in result:
            previous = result[name]
            result[name] = [*previous, value] if isinstance(previous, _Repeated) else _Repeated([previous, value])
        else:
            result[name] = value
    return {k: list(v) if isinstance(v, _Repeated) else v for k, v in result.items()}


class _Repeated(list):
    """A list made from a repeated element (as opposed to a list container)."""


def _value(element: etree._Element, name: str) -> Any:
    children = [c for c in element if isinstance(c.tag, str)]
    if name in WRAPPERS:
        return [_value(c, _local(c)) if len(c) else (c.text or "") for c in children]
    if children:
        return element_to_dict(element)
    return element.text or ""
