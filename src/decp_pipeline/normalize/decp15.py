"""The shared normalizer of format 1.x records (marchés and concessions), toward the 1.5 schema (DECP 1.5).

Each repair is counted through its `Fix` (fixes.py), in the tally the caller passes with the record. A value
that is already right is never touched, and nothing is invented: enumerated values are mapped only to the
official label they unambiguously name, numbers are read only when the text is a number, dates only when the
day, month and year are all there.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from typing import Any

from decp_pipeline.models.contract import TYPE_OF
from decp_pipeline.normalize.fixes import (
    ABSENT_VALUE,
    CPV_LEADING_ZERO,
    CPV_SPACES,
    DATE_DMY,
    DATE_PADDED,
    DATE_TIME_DROPPED,
    DOTTED_KEY,
    DURATION_ROUNDED_UP,
    EMPTY_LIST,
    ENUM_CASE,
    ENUM_LABEL,
    KEY_TRIMMED,
    LIST_DUPLICATE_ITEM,
    LIST_UNWRAPPED,
    NUMBER_FROM_TEXT,
    PROCEDURE_1_4,
    SIRET_SPACES,
    TEXT_FROM_NUMBER,
    TYPE_ADDED,
    TYPE_CORRECTED,
    VALUE_TRIMMED,
    Tally,
)
from decp_pipeline.normalize.labels import (
    ABSENT,
    CPV_DIVISIONS,
    DATE_FIELDS,
    DOTTED_PARENTS,
    KNOWN_LABELS,
    LIST_FIELDS,
    NUMBER_FIELDS,
    PROCEDURES_14,
    PROCEDURES_14_FOLDED,
    SIRET_HOLDERS,
    TEXT_FIELDS,
    enums,
    fold,
)

_DATE_ISO = re.compile(r"^\d{4}-[01]\d-[0-3]\d([+-][0-2]\d:[0-5]\dZ?)?$")
_DATE_LOOSE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})(([+-][0-2]\d:[0-5]\dZ?)?)$")
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?$")
_DATE_DMY = re.compile(r"^(\d{1,2})/(\d{1,2})/(\d{4})$")
_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][+-]?\d+)?$")
_NUMBER_FR = re.compile(r"^-?\d{1,3}([ \u00a0\u202f]\d{3})*(,\d+)?$|^-?\d+,\d+$")
_DIGITS_WITH_SPACES = re.compile(r"^\d[\d \u00a0\u202f]*\d$")


class Normalizer15:
    """Normalizes 1.x records. It keeps no count: each call counts its repairs in the tally it is given."""

    VERSION = "1.5"
    # The fields `_scalar` may repair (any other value is left as it is), and the prefix of date fields.
    SCALAR_FIELDS = NUMBER_FIELDS | DATE_FIELDS | TEXT_FIELDS | {"codeCPV"}
    DATE_PREFIX = ""

    def __init__(self) -> None:
        self._enums = enums(self.VERSION)
        # Per record kind: the enumerated fields, and for each the official labels as they are spelled.
        self._enum_fields = {kind: frozenset(k for c, k in self._enums if c == kind) for kind in TYPE_OF}
        self._official = {field: frozenset(labels.values()) for field, labels in self._enums.items()}
        self._xml = False
        self._tally: Tally = _NO_TALLY  # the tally of the call in progress (normalize)

    def normalize(self, record: Any, kind: str, tally: Tally, *, from_xml: bool = False) -> Any:
        """The record repaired toward 1.5 (a new dict), each repair counted in `tally`; a record that is not an
        object is returned as is.

        For a record read from XML, where every value is text and `_type` does not exist, typing the values and
        adding `_type` are the XML-to-JSON mapping, not repairs: they are not counted.
        """
        if not isinstance(record, dict):
            return record
        self._xml = from_xml
        self._tally = tally
        try:
            record = self._clean(record)
            if not isinstance(record, dict):
                return record
            self._dotted_keys(record)
            return self._repair(record, kind)
        finally:
            self._tally = _NO_TALLY

    def _repair(self, record: dict[str, Any], kind: str) -> dict[str, Any]:
        """The format's own repairs, on a cleaned record."""
        self._lists(record)
        self._values(record, kind, "")
        self._type(record, kind)
        return record

    # -- generic cleaning -------------------------------------------------------------------------------------

    def _clean(self, value: Any) -> Any:  # noqa: PLR0912 - texts inlined: most of the values
        """Keys trimmed, texts trimmed, absent values dropped, recursively."""
        if isinstance(value, dict):
            cleaned: dict[str, Any] = {}
            for key, item in value.items():
                name = key.strip() if isinstance(key, str) else key
                if name != key:
                    if name in value:  # "nom" and "nom " both present: no single reading, keep both as they are
                        name = key
                    else:
                        KEY_TRIMMED.count(self._tally)
                if type(item) is str and name not in LIST_FIELDS:  # the common case, inlined: texts
                    stripped = item.strip()
                    if stripped in ABSENT:
                        ABSENT_VALUE.count(self._tally)
                    else:
                        if stripped != item:
                            VALUE_TRIMMED.count(self._tally)
                        cleaned[name] = stripped
                    continue
                if name in LIST_FIELDS and isinstance(item, str) and not item.strip():
                    EMPTY_LIST.count(self._tally)  # "modifications": "" (or an empty XML element) is no item
                    cleaned[name] = []
                    continue
                clean = self._clean(item)
                if clean is _ABSENT:
                    ABSENT_VALUE.count(self._tally)
                    continue
                cleaned[name] = clean
            return cleaned
        if isinstance(value, list):
            return [v for v in (self._clean(v) for v in value) if v is not _ABSENT]
        if value is None:
            return _ABSENT  # null is no value: the key goes, as for "" and NC
        if isinstance(value, str):
            stripped = value.strip()
            if stripped in ABSENT:
                return _ABSENT
            if stripped != value:
                VALUE_TRIMMED.count(self._tally)
            return stripped
        return value

    def _dotted_keys(self, record: dict[str, Any]) -> None:
        """`"acheteur.id": "…"` (a flattened export) is `"acheteur": {"id": "…"}`, when that is free."""
        for key in [k for k in record if isinstance(k, str) and "." in k]:
            parent, _, child = key.partition(".")
            if parent not in DOTTED_PARENTS or "." in child:
                continue
            target = record.setdefault(parent, {})
            if isinstance(target, dict) and child not in target:
                target[child] = record.pop(key)
                DOTTED_KEY.count(self._tally)

    def _lists(self, record: dict[str, Any]) -> None:
        """Every list field made a plain list of objects, recursively."""
        for key, value in list(record.items()):
            if key in LIST_FIELDS:
                record[key] = self._as_list(value, LIST_FIELDS[key])
                items = record[key] if isinstance(record[key], list) else []  # `true`: the schema rejects it
            elif isinstance(value, dict):
                items = [value]
            else:
                continue
            for item in items:
                if isinstance(item, dict):
                    self._lists(item)
            if key in LIST_FIELDS:
                record[key] = self._unique(record[key])

    def _as_list(self, value: Any, item_key: str) -> Any:
        if isinstance(value, dict) and set(value) == {item_key}:  # the XML way: {"titulaire": ...}
            LIST_UNWRAPPED.count(self._tally)
            value = value[item_key]
            if isinstance(value, dict):
                return [value]
        elif isinstance(value, dict):  # one object where a list is expected
            LIST_UNWRAPPED.count(self._tally)
            return [value]
        if isinstance(value, list):
            flat = []
            for item in value:
                if isinstance(item, dict) and set(item) == {item_key}:  # [{"titulaire": {...}}]
                    LIST_UNWRAPPED.count(self._tally)
                    inner = item[item_key]
                    flat.extend(inner if isinstance(inner, list) else [inner])
                elif isinstance(item, list) and all(isinstance(i, dict) for i in item):  # [[{...}]]
                    LIST_UNWRAPPED.count(self._tally)
                    flat.extend(item)
                else:
                    flat.append(item)
            return flat
        return value

    def _unique(self, items: Any) -> Any:
        if not isinstance(items, list) or len(items) < 2:
            return items
        kept: list[Any] = []
        for item in items:
            if item in kept:
                LIST_DUPLICATE_ITEM.count(self._tally)
            else:
                kept.append(item)
        return kept

    # -- values -----------------------------------------------------------------------------------------------

    def _values(self, node: dict[str, Any], kind: str, parent: str) -> None:
        enum_fields = self._enum_fields[kind]
        for key, found in list(node.items()):
            if isinstance(found, dict):
                self._values(found, kind, key)
                continue
            if isinstance(found, list):
                for item in found:
                    if isinstance(item, dict):
                        self._values(item, kind, key)
                continue
            value = found
            if key in self.SCALAR_FIELDS or (self.DATE_PREFIX and key.startswith(self.DATE_PREFIX)):
                value = node[key] = self._scalar(key, found, parent)
            if key in enum_fields and isinstance(value, str):
                node[key] = self._enum(kind, key, value)

    def _scalar(self, key: str, value: Any, parent: str) -> Any:
        """One value repaired according to its field."""
        if key in NUMBER_FIELDS:
            return self._number(key, value)
        if key in DATE_FIELDS:
            return self._date(value)
        if key == "codeCPV":
            return self._cpv(value)
        if key in TEXT_FIELDS:
            return self._text(key, value, parent)
        return value

    def _number(self, key: str, value: Any) -> Any:
        if isinstance(value, str):
            text = value
            if _NUMBER.match(text):
                value = float(text)
            elif _NUMBER_FR.match(text):
                value = float(re.sub(r"[ \u00a0\u202f]", "", text).replace(",", "."))
            else:
                return value  # not a number: the schema will say so
            if not self._xml:
                NUMBER_FROM_TEXT.count(self._tally)
            if value.is_integer() and abs(value) < 2**53:
                value = int(value)
        # A float beyond 2**53 has no exact integer reading (and could not be written as JSON): left as it is.
        if key == "dureeMois" and isinstance(value, float) and abs(value) < 2**53:
            if value.is_integer():
                return int(value)
            if value > 0:
                DURATION_ROUNDED_UP.count(self._tally)
                return math.ceil(value)
        return value

    def _date(self, value: Any) -> Any:
        if not isinstance(value, str) or _DATE_ISO.match(value):
            return value
        if m := _DATE_LOOSE.match(value):
            DATE_PADDED.count(self._tally)
            return f"{m.group(1)}-{int(m.group(2)):02d}-{int(m.group(3)):02d}{m.group(4)}"
        if m := _DATE_TIME.match(value):
            DATE_TIME_DROPPED.count(self._tally)
            return m.group(1)
        if m := _DATE_DMY.match(value):
            DATE_DMY.count(self._tally)
            return f"{m.group(3)}-{int(m.group(2)):02d}-{int(m.group(1)):02d}"
        return value

    def _cpv(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            text = str(value)
            if len(text) == 7:
                CPV_LEADING_ZERO.count(self._tally)
                return "0" + text
            TEXT_FROM_NUMBER.count(self._tally)
            return text
        if isinstance(value, str) and " " in value:
            compact = value.replace(" ", "")
            if re.match(r"^\d{8}(-\d)?$", compact):
                CPV_SPACES.count(self._tally)
                value = compact
        if isinstance(value, str) and re.match(r"^\d{7}(-\d)?$", value) and "0" + value[0] in CPV_DIVISIONS:
            # The one reading of 7 digits: a leading zero lost (a spreadsheet, a number written as text), as
            # the divisions starting with 0 (03, 09) are the only ones it can give: 3111000 is 03111000.
            CPV_LEADING_ZERO.count(self._tally)
            return "0" + value
        return value

    def _text(self, key: str, value: Any, parent: str) -> Any:
        if isinstance(value, bool):
            return value
        if isinstance(value, int | float):
            TEXT_FROM_NUMBER.count(self._tally)
            value = str(int(value)) if isinstance(value, int) or value.is_integer() else str(value)
        if key == "id" and parent in SIRET_HOLDERS and isinstance(value, str) and " " in value.strip():
            compact = re.sub(r"\s", "", value)
            if len(compact) == 14 and compact.isdigit():  # a SIRET written in groups: 130 018 989 00017
                SIRET_SPACES.count(self._tally)
                return compact
        return value

    def _enum(self, kind: str, key: str, value: str) -> str:
        if value in self._official[(kind, key)]:
            return value
        labels = self._enums[(kind, key)]
        if key == "procedure" and value in PROCEDURES_14:
            PROCEDURE_1_4.count(self._tally)
            return PROCEDURES_14[value]
        folded = fold(value)
        if folded in labels:
            ENUM_CASE.count(self._tally)
            return labels[folded]
        if (known := KNOWN_LABELS.get(key, {}).get(folded)) is not None:
            ENUM_LABEL.count(self._tally)
            return known
        if key == "procedure" and (old := PROCEDURES_14_FOLDED.get(folded)):
            PROCEDURE_1_4.count(self._tally)
            return old
        return value

    def _type(self, record: dict[str, Any], kind: str) -> None:
        expected = TYPE_OF[kind]
        current = record.get("_type")
        if current is None:
            if not self._xml:
                TYPE_ADDED.count(self._tally)
            record["_type"] = expected
        elif isinstance(current, str) and current != expected and fold(current) == fold(expected):
            TYPE_CORRECTED.count(self._tally)
            record["_type"] = expected


class _AbsentType:
    def __repr__(self) -> str:
        return "ABSENT"


_ABSENT: Any = _AbsentType()


class _NoTally(Counter[str]):
    """The tally of a normalizer outside a call: counting in it is a bug."""

    def __missing__(self, key: str) -> int:
        raise RuntimeError(f"fix {key!r} counted outside Normalizer15.normalize (no tally)")


_NO_TALLY: Tally = _NoTally()
