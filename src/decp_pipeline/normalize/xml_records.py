"""A format-1.x XML record element as the JSON-shaped dict of the same record.

The XML form wraps lists (`<titulaires><titulaire>…</titulaire></titulaires>`); the JSON form is a plain list
(`"titulaires": [{…}]`). The conversion is that mapping and nothing else: values stay text (the normalizer
types them), elements are matched by local name (namespaced or not), an element repeated where one is
expected becomes a list (Grand Lyon's repeated `datePublicationDonnees`), so that nothing is lost silently.
"""

from __future__ import annotations

from typing import Any

from lxml import etree

from decp_pipeline.readers.xml_stream import local_tag

# List containers of format 1.x and the name of their items.
WRAPPERS = {
    "titulaires": "titulaire",
    "modifications": "modification",
    "concessionnaires": "concessionnaire",
    "donneesExecution": "donneesAnnuelles",
    "tarifs": "tarif",
}


def element_to_dict(element: etree._Element) -> dict[str, Any]:
    """The record element as a dict of its children."""
    result: dict[str, Any] = {}
    repeated = False
    for child in element:
        tag = child.tag
        if type(tag) is not str:
            continue  # comments, processing instructions
        name = local_tag(tag)
        # A leaf (most elements) is converted inline, without a call.
        value = _value(child, name) if len(child) else [] if name in WRAPPERS else (child.text or "")
        if name in result:
            previous = result[name]
            result[name] = [*previous, value] if isinstance(previous, _Repeated) else _Repeated([previous, value])
            repeated = True
        else:
            result[name] = value
    if not repeated:
        return result
    return {k: list(v) if isinstance(v, _Repeated) else v for k, v in result.items()}


class _Repeated(list[Any]):
    """A list made from a repeated element (as opposed to a list container)."""


def _value(element: etree._Element, name: str) -> Any:
    if not len(element):
        return [] if name in WRAPPERS else (element.text or "")
    if name in WRAPPERS:
        return [_value(c, local_tag(c.tag)) if len(c) else (c.text or "") for c in element if type(c.tag) is str]
    if any(type(c.tag) is str for c in element):
        return element_to_dict(element)
    return element.text or ""  # only comments inside
