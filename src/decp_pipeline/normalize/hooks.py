"""Per-source repairs, applied around the shared 1.x normalizer: a registry of hooks by name.

Each hook fixes a quirk documented for a publisher (docs/normalization.md) and counts it through its `Fix`. A
source names the hooks it needs in sources.yaml (`hooks: [aife-date-from-file-name]`); config.py checks the
names against this registry when the configuration loads. A hook registered with `every_source=True` is not
named in sources.yaml: it runs for every source, including the ones a user adds (its repair has one reading
whatever the publisher: a repeated `datePublicationDonnees`, a field of the DGFiP variant that format 1.5
does not have).

Order, for a 1.x record: the every-source `before` hooks, the source's `before` hooks (in the order it lists
them), the shared normalizer, the source's `after` hooks (in its order), the every-source `after` hooks.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any, Literal

from decp_pipeline.normalize.fixes import (
    DATE_PUBLICATION_FROM_FILE_NAME,
    DATE_PUBLICATION_FROM_TRANSMISSION,
    DATE_PUBLICATION_REPEATED,
    DGFIP_FIELD_DROPPED,
    Tally,
)

HookFunction = Callable[[dict[str, Any], str, "FileContext", Tally], None]
When = Literal["before", "after"]  # before the shared normalizer (on the raw record), or after it

_AIFE_FILE_DATE = re.compile(r"marches(\d{2})\.(\d{2})\.(\d{4})", re.IGNORECASE)
_DATE_PREFIX = re.compile(r"^(\d{4}-\d{2}-\d{2})([+-]\d{2}:\d{2}Z?)?")
DGFIP_FIELDS = ("dateTransmissionDonneesEtalab",)
DGFIP_BUYER_FIELDS = ("urlProfilAcheteur",)


class FileContext:
    """What a hook may know about the file a record came from; the file name's date is read when asked for."""

    def __init__(self, source: str, path: str) -> None:
        self.source = source
        self.path = path
        self.syntax: str | None = None  # json or xml

    @cached_property
    def file_date(self) -> str | None:
        """The date in an AIFE daily file's name (`…marchesDD.MM.YYYY…`) as YYYY-MM-DD, if there is one."""
        match = _AIFE_FILE_DATE.search(Path(self.path).name)
        return f"{match.group(3)}-{match.group(2)}-{match.group(1)}" if match else None


@dataclass(frozen=True)
class Hook:
    """A named per-source repair: when it runs, and whether it runs for every source."""

    name: str
    stage: When
    run: HookFunction
    every_source: bool = False


HOOKS: dict[str, Hook] = {}  # by name, in registration order


def hook(name: str, stage: When, *, every_source: bool = False) -> Callable[[HookFunction], HookFunction]:
    """Register the decorated function as the hook `name`."""

    def register(function: HookFunction) -> HookFunction:
        if name in HOOKS:
            raise ValueError(f"hook {name!r} registered twice")
        HOOKS[name] = Hook(name, stage, function, every_source)
        return function

    return register


def named_hooks() -> list[str]:
    """The names a source may list in its `hooks:` key."""
    return [h.name for h in HOOKS.values() if not h.every_source]


def hooks_for(names: Sequence[str]) -> tuple[list[HookFunction], list[HookFunction]]:
    """The hooks run before and after the shared normalizer for a source listing `names` (checked names)."""
    everywhere = [h for h in HOOKS.values() if h.every_source]
    listed = [HOOKS[name] for name in names]
    before = [h.run for h in (*everywhere, *listed) if h.stage == "before"]
    after = [h.run for h in (*listed, *everywhere) if h.stage == "after"]
    return before, after


@hook("first-publication-date", "before", every_source=True)
def first_publication_date(record: dict[str, Any], kind: str, ctx: FileContext, tally: Tally) -> None:
    """Grand Lyon: several `datePublicationDonnees` elements: the first is the date of first publication."""
    value = record.get("datePublicationDonnees")
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        record["datePublicationDonnees"] = value[0]
        DATE_PUBLICATION_REPEATED.count(tally)


@hook("aife-date-from-file-name", "after")
def publication_date_from_file_name(record: dict[str, Any], kind: str, ctx: FileContext, tally: Tally) -> None:
    """AIFE: a missing `datePublicationDonnees` is the date in the daily file's name."""
    if "datePublicationDonnees" not in record and ctx.file_date:
        record["datePublicationDonnees"] = ctx.file_date
        DATE_PUBLICATION_FROM_FILE_NAME.count(tally)


@hook("dgfip-date-from-transmission", "after")
def publication_date_from_transmission(record: dict[str, Any], kind: str, ctx: FileContext, tally: Tally) -> None:
    """PES Marché: a missing `datePublicationDonnees` is the day the DGFiP published the data."""
    sent = record.get("dateTransmissionDonneesEtalab")
    if "datePublicationDonnees" not in record and isinstance(sent, str) and (m := _DATE_PREFIX.match(sent)):
        record["datePublicationDonnees"] = m.group(0)
        DATE_PUBLICATION_FROM_TRANSMISSION.count(tally)


@hook("drop-dgfip-fields", "after", every_source=True)
def drop_dgfip_fields(record: dict[str, Any], kind: str, ctx: FileContext, tally: Tally) -> None:
    """The DGFiP variant's own fields are not part of format 1.5 (after dgfip-date-from-transmission read one)."""
    for name in DGFIP_FIELDS:
        if record.pop(name, None) is not None:
            DGFIP_FIELD_DROPPED.count(tally)
    for buyer in ("acheteur", "autoriteConcedante"):
        if isinstance(record.get(buyer), dict):
            for name in DGFIP_BUYER_FIELDS:
                if record[buyer].pop(name, None) is not None:
                    DGFIP_FIELD_DROPPED.count(tally)
