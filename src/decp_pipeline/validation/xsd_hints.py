"""What an XSD expects of each element, in words, for messages about values of the wrong type.

libxml2 says "'abc' is not a valid value of the local atomic type"; the publisher needs "expected a decimal
number ≥ 0". The index maps (parent element, element) to the declared type and its bounds, read from the XSD.
"""

from __future__ import annotations

from functools import cache

from lxml import etree

from decp_pipeline.official_schemas import schema_path

XS = "{http://www.w3.org/2001/XMLSchema}"
TYPE_WORDS = {
    "decimal": "a decimal number (e.g. 12500.50)",
    "integer": "a whole number",
    "int": "a whole number",
    "positiveInteger": "a whole number ≥ 1",
    "nonNegativeInteger": "a whole number ≥ 0",
    "date": "a date YYYY-MM-DD",
    "boolean": "true or false",
    "anyURI": "a URL",
}


def _describe(element: etree._Element) -> str | None:
    declared = element.get("type")
    restriction = element.find(f"{XS}simpleType/{XS}restriction")
    base = declared or (restriction.get("base") if restriction is not None else None)
    if base is None:
        return None
    words = TYPE_WORDS.get(base.split(":")[-1])
    if words is None:
        return None
    if restriction is not None:
        for facet, sign in (("minInclusive", "≥"), ("maxInclusive", "≤")):
            bound = restriction.find(f"{XS}{facet}")
            if bound is not None:
                words += f" {sign} {bound.get('value')}"
    return words


@cache
def type_hints(xsd_file: str) -> dict[tuple[str, str], str]:
    """(parent element name, element name) → what the element's value must be."""
    tree = etree.parse(str(schema_path(xsd_file)), etree.XMLParser(resolve_entities=False, no_network=True))
    hints: dict[tuple[str, str], str] = {}
    for element in tree.iter(f"{XS}element"):
        name = element.get("name")
        words = _describe(element) if name else None
        if not name or words is None:
            continue
        parent = next((n for a in element.iterancestors(f"{XS}element") if (n := a.get("name"))), "")
        hints[(parent, name)] = words
    return hints
