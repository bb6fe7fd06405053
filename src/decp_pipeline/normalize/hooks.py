"""Per-source repairs, applied around the shared 1.x normalizer, keyed by the seed sources' ids.

Each one fixes a quirk documented for one publisher (docs/normalization.md). A source added by a user gets the
shared normalizer only, which is what a publisher following the regulation needs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

Hook = Callable[[dict[str, Any], str, "FileContext", Counter[str]], None]

_AIFE_FILE_DATE = re.compile(r"marches(\d{2})\.(\d{2})\.(\d{4})", re.IGNORECASE)
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})([+-]\d{2}:\d{2}Z?)?")
DGFIP_FIELDS = ("dateTransmissionDonneesEtalab",)
DGFIP_BUYER_FIELDS = ("urlProfilAcheteur",)


class FileContext:
    """What a hook may know about the file a record came from."""

    def __init__(self, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self.syntax: str | None = None  # json or xml
        match = _AIFE_FILE_DATE.search(Path(path).name)
        self.file_date = f"{match.group(3)}-{match.group(2)}-{match.group(1)}" if match else None


def first_publication_date(record: dict[str, Any], kind: str, ctx: FileContext, fixes: Counter[str]) -> None:
    """Grand Lyon: several `datePublicationDonnees` elements: the first is the date of first publication."""
    value = record.get("datePublicationDonnees")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        record["datePublicationDonnees"] = value[0]
        fixes["date-publication-repeated"] += 1


def publication_date_from_file_name(record: dict[str, Any], kind: str, ctx: FileContext, fixes: Counter[str]) -> None:
    """AIFE: a missing `datePublicationDonnees` is the date in the daily file's name."""
    if "datePublicationDonnees" not in record and ctx.file_date:
        record["datePublicationDonnees"] = ctx.file_date
        fixes["date-publication-from-file-name"] += 1


def publication_date_from_transmission(
    record: dict[str, Any], kind: str, ctx: FileContext, fixes: Counter[str]
) -> None:
    """PES Marché: a missing `datePublicationDonnees` is the day the DGFiP published the data."""
    sent = record.get("dateTransmissionDonneesEtalab")
    if "datePublicationDonnees" not in record and isinstance(sent, str) and (m := _DATE_PREFIX.match(sent)):
        record["datePublicationDonnees"] = m.group(0)
        fixes["date-publication-from-transmission"] += 1


def drop_dgfip_fields(record: dict[str, Any], kind: str, ctx: FileContext, fixes: Counter[str]) -> None:
    """The DGFiP variant's own fields are not part of format 1.5."""
    for name in DGFIP_FIELDS:
        if record.pop(name, None) is not None:
            fixes["dgfip-field-dropped"] += 1
    for buyer in ("acheteur", "autoriteConcedante"):
        if isinstance(record.get(buyer), dict):
            for name in DGFIP_BUYER_FIELDS:
                if record[buyer].pop(name, None) is not None:
                    fixes["dgfip-field-dropped"] += 1


# Before the shared normalizer (on the raw record), for every source.
BEFORE: list[Hook] = [first_publication_date]
# After it, per source id; then AFTER_ALL for every source.
AFTER: dict[str, list[Hook]] = {
    "aife": [publication_date_from_file_name],
    "pes-marche": [publication_date_from_transmission],
}
AFTER_ALL: list[Hook] = [drop_dgfip_fields]
