"""The catalogue of fixes: every repair the pipeline makes is one `Fix`, with a stable code and a description.

A fix repairs a shape, a type, a casing or a label that has one correct reading. None of them guesses a value
that is not in the data: a record still missing a required value after them is rejected, with its errors.

A repair is counted through its object, in a tally (a Counter keyed by the fix's code) that the caller owns
and passes in: `KEY_TRIMMED.count(tally)`. The build keeps one fresh tally per file. The codes are part of
`report.json` (`fixes`): keep them stable. The table of docs/normalization.md is `markdown_table()` (the tests
check it; `python -m decp_pipeline.normalize.fixes` prints it).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Literal, TypeAlias

# The counts of the fixes made, keyed by code (what `report.json` lists under `fixes`).
Tally: TypeAlias = Counter[str]
# What a fix repairs: a value, an enumerated label, the shape of a record, its identity (`uid`, `_type`,
# `source`), a quirk of one publisher, or the file itself before it is parsed.
Repairs = Literal["value", "enumeration", "shape", "identity", "publisher", "file"]


@dataclass(frozen=True, slots=True)
class Fix:
    """One repair: its code in `report.json`, what it does, and what it repairs."""

    code: str
    description: str
    repairs: Repairs

    def count(self, tally: Tally, times: int = 1) -> None:
        """Count `times` repairs of this kind in `tally`."""
        tally[self.code] += times


# -- values ---------------------------------------------------------------------------------------------------
KEY_TRIMMED = Fix("key-trimmed", 'a key with stray spaces (`"nom "`) is the key it was meant to be', "value")
ABSENT_VALUE = Fix(
    "absent-value",
    "an empty, whitespace-only or `NC` (non communiqué) value is an absent value: the key is dropped",
    "value",
)
VALUE_TRIMMED = Fix("value-trimmed", "spaces around a text value removed", "value")
NUMBER_FROM_TEXT = Fix(
    "number-from-text", 'a number given as text (`"12500.5"`, `"12 500,50"`) read as a number', "value"
)
TEXT_FROM_NUMBER = Fix(
    "text-from-number", "an identifier, code or name given as a number (`13001898900017`) written as text", "value"
)
DURATION_ROUNDED_UP = Fix(
    "duration-rounded-up", "a fractional `dureeMois` rounded up to whole months (1.5 → 2)", "value"
)
SIRET_SPACES = Fix("siret-spaces", "spaces inside a SIRET or another identifier removed", "value")
CPV_SPACES = Fix("cpv-spaces", "spaces inside a CPV code removed", "value")
CPV_LEADING_ZERO = Fix(
    "cpv-leading-zero",
    "a CPV code that lost its leading zero, given as a number, or as a text of 7 digits whose padding gives "
    "division 03 or 09 (the only divisions starting with 0): restored (3111000 → 03111000)",
    "value",
)
DATE_PADDED = Fix("date-padded", "a date with one-digit month or day zero-padded (2019-1-5 → 2019-01-05)", "value")
DATE_DMY = Fix("date-dmy", "a date written DD/MM/YYYY rewritten YYYY-MM-DD", "value")
DATE_TIME_DROPPED = Fix(
    "date-time-dropped", "a date with a time of day (2019-04-05T00:00:00) reduced to its date", "value"
)
# -- enumerations ---------------------------------------------------------------------------------------------
ENUM_CASE = Fix(
    "enum-case",
    "an enumerated value in the wrong case or without its accents (`MARCHE`, `CODE DEPARTEMENT`) "
    "mapped to the official label",
    "enumeration",
)
ENUM_LABEL = Fix(
    "enum-label",
    "an enumerated value spelled another known way (`TVA_INTRACOMMUNAUTAIRE`, `HORS_UE`) mapped to the official label",
    "enumeration",
)
PROCEDURE_1_4 = Fix(
    "procedure-1.4",
    "a procedure label of format 1.4 mapped to its 1.5 label (`Marché négocié sans publicité…` → "
    "`Marché passé sans publicité…`; `Procédure concurrentielle avec négociation` and `Procédure négociée avec "
    "mise en concurrence préalable` → `Procédure avec négociation`)",
    "enumeration",
)
# -- shapes ---------------------------------------------------------------------------------------------------
LIST_UNWRAPPED = Fix(
    "list-unwrapped",
    'a list given the XML way (`{"titulaire": [...]}`) or as a single object made a plain list',
    "shape",
)
EMPTY_LIST = Fix(
    "empty-list", 'an empty text where a list is expected (`"modifications": ""`) is the empty list', "shape"
)
LIST_WRAPPED = Fix(
    "list-wrapped",
    'format 2022: a list item given bare (`[{"id": …}]`) wrapped the 2022 way (`[{"titulaire": {"id": …}}]`)',
    "shape",
)
BOOLEAN_FROM_TEXT = Fix(
    "boolean-from-text",
    'format 2022: a yes/no field given as text (`"oui"`, `"false"`, `"1"`) read as a boolean',
    "value",
)
NON_SCHEMA_FIELD_DROPPED = Fix(
    "non-schema-field-dropped",
    "format 2022: a field the 2.0.3 schema does not define (`_type`, `uid`, `source`, "
    "Dématis's `offresRecues_source` …) dropped, since the schema forbids it",
    "shape",
)
DRAFT_2_0_0_NAME = Fix(
    "draft-2.0.0-name",
    "format 2022: a name of the 2.0.0 draft (`technique: [...]`, "
    "`dateNotificationModificationActeSousTraitance`) renamed as 2.0.3 names it",
    "shape",
)
LIST_DUPLICATE_ITEM = Fix(
    "list-duplicate-item", "an item repeated identically in a list (two identical titulaires) kept once", "shape"
)
TYPE_ADDED = Fix(
    "type-added",
    "`_type` added from the element or list the record came from (`Marché`, `Contrat de concession`)",
    "identity",
)
TYPE_CORRECTED = Fix("type-corrected", "`_type` in the wrong case corrected", "identity")
UID_SET = Fix("uid-set", "`uid` set to the buyer's SIRET followed by `id`", "identity")
SOURCE_SET = Fix("source-set", "`source` set to the id of the source the record was read from", "identity")
# -- per source (normalize/hooks.py) --------------------------------------------------------------------------
DATE_PUBLICATION_REPEATED = Fix(
    "date-publication-repeated", "Grand Lyon: several `datePublicationDonnees`: the first is kept", "publisher"
)
DATE_PUBLICATION_FROM_FILE_NAME = Fix(
    "date-publication-from-file-name",
    "AIFE: a missing `datePublicationDonnees` taken from the file name (`…marchesDD.MM.YYYY…`)",
    "publisher",
)
DATE_PUBLICATION_FROM_TRANSMISSION = Fix(
    "date-publication-from-transmission",
    "PES Marché: a missing `datePublicationDonnees` taken from `dateTransmissionDonneesEtalab`, the day the "
    "DGFiP published the data",
    "publisher",
)
DGFIP_FIELD_DROPPED = Fix(
    "dgfip-field-dropped",
    "PES Marché: a DGFiP-only field (`dateTransmissionDonneesEtalab`, `urlProfilAcheteur`) not carried into the "
    "regulatory output",
    "publisher",
)
# -- reading --------------------------------------------------------------------------------------------------
NAN_AS_ABSENT = Fix(
    "nan-as-absent",
    "`NaN`, `Infinity` or `-Infinity`, which are not JSON (pandas exports), read as an absent value",
    "file",
)
DOTTED_KEY = Fix("dotted-key", 'a flat dotted key (`"acheteur.id": "…"`) made the nested object it names', "shape")
XML_CONTROL_CHARACTERS = Fix(
    "xml-control-characters",
    "characters XML forbids (control characters) removed from a file so that it can be read",
    "file",
)

# Every fix, in the order of the documentation's table.
CATALOGUE: tuple[Fix, ...] = (
    KEY_TRIMMED,
    ABSENT_VALUE,
    VALUE_TRIMMED,
    NUMBER_FROM_TEXT,
    TEXT_FROM_NUMBER,
    DURATION_ROUNDED_UP,
    SIRET_SPACES,
    CPV_SPACES,
    CPV_LEADING_ZERO,
    DATE_PADDED,
    DATE_DMY,
    DATE_TIME_DROPPED,
    ENUM_CASE,
    ENUM_LABEL,
    PROCEDURE_1_4,
    LIST_UNWRAPPED,
    EMPTY_LIST,
    LIST_WRAPPED,
    BOOLEAN_FROM_TEXT,
    NON_SCHEMA_FIELD_DROPPED,
    DRAFT_2_0_0_NAME,
    LIST_DUPLICATE_ITEM,
    TYPE_ADDED,
    TYPE_CORRECTED,
    UID_SET,
    SOURCE_SET,
    DATE_PUBLICATION_REPEATED,
    DATE_PUBLICATION_FROM_FILE_NAME,
    DATE_PUBLICATION_FROM_TRANSMISSION,
    DGFIP_FIELD_DROPPED,
    NAN_AS_ABSENT,
    DOTTED_KEY,
    XML_CONTROL_CHARACTERS,
)
BY_CODE: dict[str, Fix] = {fix.code: fix for fix in CATALOGUE}


def markdown_table() -> str:
    """The table of docs/normalization.md ("The fix catalogue"), one row per fix, in catalogue order."""
    rows = ["| Code | Repairs | What it does |", "|---|---|---|"]
    rows += [f"| `{fix.code}` | {fix.repairs} | {fix.description} |" for fix in CATALOGUE]
    return "\n".join(rows) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
