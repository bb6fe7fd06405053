"""The normalizer of format 2022 records (DECP 2.0), toward the official 2.0.3 JSON schema.

Same principles as format 1.x (decp15.py): repairs with one correct reading, each counted, nothing invented. The
2022 shapes differ: lists wrap each item (`"titulaires": [{"titulaire": {...}}]`), multi-valued fields are
objects holding a list (`"techniques": {"technique": [...]}`), booleans and integers are typed, and the schema
forbids any field it does not define, so fields that are not part of the format (`_type`, `uid`, `source`,
Dématis's `*_source`) are dropped and counted.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from decp_pipeline.models.contract import VALUE_LISTS, WRAPPED_LISTS
from decp_pipeline.normalize.decp15 import Normalizer15
from decp_pipeline.normalize.fixes import (
    BOOLEAN_FROM_TEXT,
    DRAFT_2_0_0_NAME,
    LIST_UNWRAPPED,
    LIST_WRAPPED,
    NON_SCHEMA_FIELD_DROPPED,
)
from decp_pipeline.official_schemas import VERSIONS, load_json_schema

# Names of the 2.0.0 draft (fcp tag 2.0.0, March 2023), which files were produced against: singular value
# lists at the top level, and longer sub-contracting modification date names.
DRAFT_VALUE_LISTS = {"technique": "techniques", "modaliteExecution": "modalitesExecution", "typePrix": "typesPrix"}
DRAFT_NAMES = {
    "dateNotificationModificationActeSousTraitance": "dateNotificationModificationSousTraitance",
    "datePublicationDonneesModificationActeSousTraitance": "datePublicationDonnees",
}
# The XML schema spells one element differently from the JSON schema.
XML_NAMES = {"modificationActesSousTraitance": "modificationActeSousTraitance"}
INTEGER_FIELDS = frozenset({"dureeMois", "offresRecues"})
NUMBER_FIELDS = frozenset(
    {"montant", "tauxAvance", "origineUE", "origineFrance", "valeurGlobale", "montantSubventionPublique",
     "depensesInvestissement", "tarif"}
)  # fmt: skip
BOOLEAN_FIELDS = frozenset({"marcheInnovant", "attributionAvance", "sousTraitanceDeclaree"})
TRUE = frozenset({"true", "oui", "1", "vrai"})
FALSE = frozenset({"false", "non", "0", "faux"})
# Objects whose `id` is a number (the modification counter), not a text.
NUMBERED = frozenset({"modification", "modificationActeSousTraitance", "acteSousTraitance"})


@cache
def top_level_fields() -> dict[str, frozenset[str]]:
    definitions = load_json_schema(VERSIONS["2.0"].json_schema)["definitions"]
    return {kind: frozenset(definitions[kind]["properties"]) for kind in ("marche", "contrat-concession")}


class Normalizer2022(Normalizer15):
    """Normalizes 2022 records (`normalize(record, kind, tally)`, as Normalizer15)."""

    VERSION = "2.0"
    SCALAR_FIELDS = INTEGER_FIELDS | NUMBER_FIELDS | BOOLEAN_FIELDS | {"codeCPV", "id", "code", "idAccordCadre"}
    DATE_PREFIX = "date"

    def _repair(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        for draft, name in DRAFT_VALUE_LISTS.items():
            if draft in record and name not in record:
                record[name] = self._value_list(record.pop(draft), draft, counted=False)
                DRAFT_2_0_0_NAME.count(self._tally)
        self._shapes(record)
        self._values(record, kind, "")
        allowed = top_level_fields()[kind]
        for key in [k for k in record if k not in allowed]:
            del record[key]
            NON_SCHEMA_FIELD_DROPPED.count(self._tally)
        return record

    # -- shapes -----------------------------------------------------------------------------------------------

    def _shapes(self, node: dict[str, Any]) -> None:
        for key in list(node):
            if key in XML_NAMES:
                node[XML_NAMES[key]] = node.pop(key)
            elif key in DRAFT_NAMES and DRAFT_NAMES[key] not in node:
                node[DRAFT_NAMES[key]] = node.pop(key)
                DRAFT_2_0_0_NAME.count(self._tally)
        for key, value in list(node.items()):
            if key in WRAPPED_LISTS:
                node[key] = self._unique(self._wrapped(value, WRAPPED_LISTS[key]))
                for item in node[key] if isinstance(node[key], list) else []:
                    if isinstance(item, dict) and isinstance(item.get(WRAPPED_LISTS[key]), dict):
                        self._shapes(item[WRAPPED_LISTS[key]])
            elif key in VALUE_LISTS:
                node[key] = self._value_list(value, VALUE_LISTS[key])
            elif isinstance(value, dict):
                self._shapes(value)

    def _wrapped(self, value: Any, item_key: str) -> Any:
        """[{item_key: {...}}, ...] from every shape real files use."""
        if isinstance(value, dict):
            value = [value]
            if not self._xml:
                LIST_UNWRAPPED.count(self._tally)
        if not isinstance(value, list):
            return value
        result: list[Any] = []
        for item in value:
            if isinstance(item, dict) and set(item) == {item_key}:
                inner = item[item_key]
                inner_items = inner if isinstance(inner, list) else [inner]
                if isinstance(inner, list):
                    LIST_UNWRAPPED.count(self._tally)
                result.extend({item_key: i} for i in inner_items)
            elif isinstance(item, dict):  # a bare object: the 1.x way (the XML conversion, AWS's hybrid files)
                if not self._xml:
                    LIST_WRAPPED.count(self._tally)
                result.append({item_key: item})
            else:
                result.append(item)
        return result

    def _value_list(self, value: Any, item_key: str, *, counted: bool = True) -> Any:
        """{item_key: [values]} from a single value, a bare list, or {item_key: value}."""
        if isinstance(value, dict) and set(value) == {item_key}:
            inner = value[item_key]
            if isinstance(inner, list):
                return value
            if not self._xml:
                LIST_UNWRAPPED.count(self._tally)
            return {item_key: [inner]}
        if isinstance(value, list | str):
            if counted:
                LIST_UNWRAPPED.count(self._tally)
            return {item_key: value if isinstance(value, list) else [value]}
        return value

    # -- values -----------------------------------------------------------------------------------------------

    def _scalar(self, key: str, value: Any, parent: str) -> Any:  # noqa: PLR0911 - one return per kind of field
        if key == "id" and parent in NUMBERED:
            return self._integer(value)
        if key in INTEGER_FIELDS:
            return self._integer(value, duration=key == "dureeMois")
        if key in NUMBER_FIELDS:
            return self._number(key, value)
        if key in BOOLEAN_FIELDS:
            return self._boolean(value)
        if key.startswith("date"):
            return self._date(value)
        if key == "codeCPV":
            return self._cpv(value)
        if key in ("id", "code", "idAccordCadre"):
            return self._text(key, value, parent)
        return value

    def _integer(self, value: Any, *, duration: bool = False) -> Any:
        number = self._number("dureeMois" if duration else "offresRecues", value)
        if isinstance(number, float) and number.is_integer() and abs(number) < 2**53:  # beyond: no exact reading
            return int(number)
        return number

    def _boolean(self, value: Any) -> Any:
        if isinstance(value, str) and value.lower() in TRUE | FALSE:
            if not self._xml:
                BOOLEAN_FROM_TEXT.count(self._tally)
            return value.lower() in TRUE
        return value
