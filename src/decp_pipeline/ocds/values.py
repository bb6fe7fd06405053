"""The values of the mapping: DECP days as OCDS date-times, amounts as OCDS values, objects without their empty
values (OCDS merging drops None-free empties: a release that held them would differ from its record)."""

from __future__ import annotations

import datetime
import re
from typing import Any

# A day, with an offset or Z, or both (format 1.5's pattern allows `2019-01-29+01:00Z`: the offset says the zone)
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:(Z)|([+-])(\d{2}):(\d{2})Z?)?$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def date_time(value: Any) -> str | None:
    """A DECP day (`2019-01-29`, `2019-01-29+01:00`) as an OCDS date-time, midnight of that day in the offset it
    gives (else Z); a date-time as it is. None when it is neither (`2019-02-30`, `2024-05-15 10:00`, an offset of
    25 hours): the caller keeps such a value as published, in `decp`."""
    if not isinstance(value, str):
        return None
    if _DATE_TIME.match(value):
        return value if _is_date_time(value) else None
    day = _DAY.match(value)
    if day is None or not _is_day(day[1]) or (day[3] is not None and (int(day[4]) > 23 or int(day[5]) > 59)):
        return None
    return f"{day[1]}T00:00:00{day[3]}{day[4]}:{day[5]}" if day[3] is not None else f"{day[1]}T00:00:00Z"


def _is_date_time(text: str) -> bool:
    try:
        datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_day(text: str) -> bool:
    try:
        datetime.date.fromisoformat(text)
    except ValueError:
        return False
    return True


def value_of(amount: Any) -> dict[str, Any] | None:
    """An amount in euros as an OCDS Value (None when it is no number)."""
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return {"amount": amount, "currency": "EUR"}


def some(fields: dict[str, Any]) -> dict[str, Any]:
    """The object without its None, empty lists and empty objects, one level: the mapping builds each level
    with it."""
    return {
        key: value for key, value in fields.items() if value or not (value is None or isinstance(value, list | dict))
    }


def clean(value: Any) -> Any:
    """A value of the record without its None, empty lists and empty objects, at every depth (in lists of
    objects too): what the record gives for the decp extension. None when nothing is left."""
    if isinstance(value, dict):
        kept = {key: cleaned for key, item in value.items() if (cleaned := clean(item)) is not None}
        return kept or None
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [cleaned for item in value if (cleaned := clean(item)) is not None] or None
    return None if value is None or value == [] else value
