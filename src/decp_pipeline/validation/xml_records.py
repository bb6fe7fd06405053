"""Validating one XML record element against the official XSD of its format version.

The XSDs declare their records (`marche`, `contrat-concession`) as global elements, so each record is
validated on its own, in place in the streamed tree (line numbers stay those of the file). libxml2 (lxml)
is an XSD 1.0 processor; the 1.5 XSDs declare 1.1 but use nothing of it, and the tests prove the XSD 1.1
processor xmlschema agrees on every real record.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from lxml import etree

from decp_pipeline.official_schemas import VERSIONS, SchemaVersion, schema_path
from decp_pipeline.validation.xsd_hints import type_hints

# libxml2 error types → the rule names of XML Schema, as the official (Xerces) validator prints them.
RULES = {
    "SCHEMAV_CVC_ENUMERATION_VALID": "enumeration",
    "SCHEMAV_CVC_PATTERN_VALID": "pattern",
    "SCHEMAV_CVC_DATATYPE_VALID_1_2_1": "datatype",
    "SCHEMAV_CVC_COMPLEX_TYPE_2_4": "content",
    "SCHEMAV_ELEMENT_CONTENT": "content",
    "SCHEMAV_CVC_MININCLUSIVE_VALID": "minInclusive",
    "SCHEMAV_CVC_MAXINCLUSIVE_VALID": "maxInclusive",
    "SCHEMAV_CVC_MAXLENGTH_VALID": "maxLength",
    "SCHEMAV_CVC_MINLENGTH_VALID": "minLength",
    "SCHEMAV_CVC_LENGTH_VALID": "length",
    "SCHEMAV_CVC_TOTALDIGITS_VALID": "totalDigits",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_1": "attribute",
    "SCHEMAV_CVC_COMPLEX_TYPE_3_2_2": "attribute",
    "SCHEMAV_CVC_ELT_1": "element",
}
_ELEMENT_PREFIX = re.compile(r"^Element '[^']*'(, attribute '[^']*')?: ")
_ATOMIC_TYPE = re.compile(r"^('.*') is not a valid value of the (local )?atomic type.*$", re.DOTALL)


@dataclass(slots=True)
class XmlFieldError:
    path: str  # relative to the record: "titulaires/titulaire[2]/id"
    rule: str
    message: str
    line: int | None


class XmlRecordValidator:
    """The compiled XSD of one format version."""

    def __init__(self, version: SchemaVersion) -> None:
        self.version = version
        parser = etree.XMLParser(resolve_entities=False, no_network=True)
        self._schema = etree.XMLSchema(etree.parse(str(schema_path(version.xsd)), parser))
        self._hints = type_hints(version.xsd)

    def is_valid(self, element: etree._Element) -> bool:
        return self._schema.validate(element)

    def errors(self, element: etree._Element) -> list[XmlFieldError]:
        if self._schema.validate(element):
            return []
        return [self._error(entry) for entry in self._schema.error_log]

    def validate_root(self, root: etree._Element) -> list[XmlFieldError]:
        """Check the root <marches> itself (its attributes), its records being checked one by one."""
        shell = etree.Element(root.tag, attrib=dict(root.attrib), nsmap=root.nsmap)
        shell.sourceline = root.sourceline  # type: ignore[misc]  # settable in lxml; types-lxml says read-only
        if self._schema.validate(etree.ElementTree(shell)):
            return []
        return [self._error(entry) for entry in self._schema.error_log]

    def _error(self, entry: etree._LogEntry) -> XmlFieldError:
        steps = [re.sub(r"\[\d+\]$", "", s) for s in (entry.path or "").strip("/").split("/")]
        path = (entry.path or "").strip("/").split("/", 1)
        relative = path[1] if len(path) > 1 else ""  # drop the record element itself
        message = _ELEMENT_PREFIX.sub("", entry.message).rstrip(".")
        if (atomic := _ATOMIC_TYPE.match(message)) and len(steps) >= 2:
            hint = self._hints.get((steps[-2], steps[-1]))
            if hint:
                message = f"{atomic.group(1)} is not valid here: expected {hint}"
        rule = RULES.get(entry.type_name, entry.type_name.lower())
        return XmlFieldError(relative, rule, message, entry.line or None)


@cache
def xml_validator(version_name: str) -> XmlRecordValidator:
    return XmlRecordValidator(VERSIONS[version_name])
