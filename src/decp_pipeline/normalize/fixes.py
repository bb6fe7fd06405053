"""The catalogue of fixes: every repair the normalizers make has a stable code, a description and a counter.

A fix repairs a shape, a type, a casing or a label that has one correct reading. None of them guesses a value
that is not in the data: a record still missing a required value after them is rejected, with its errors.
The codes are part of `report.json` (`fixes`): keep them stable.
"""

from __future__ import annotations

FIXES: dict[str, str] = {
    # values
    "key-trimmed": 'a key with stray spaces (`"nom "`) is the key it was meant to be',
    "absent-value": "an empty, whitespace-only or `NC` (non communiqué) value is an absent value: the key is dropped",
    "value-trimmed": "spaces around a text value removed",
    "number-from-text": 'a number given as text (`"12500.5"`, `"12 500,50"`) read as a number',
    "text-from-number": "an identifier, code or name given as a number (`13001898900017`) written as text",
    "duration-rounded-up": "a fractional `dureeMois` rounded up to whole months (1.5 → 2)",
    "siret-spaces": "spaces inside a SIRET or another identifier removed",
    "cpv-spaces": "spaces inside a CPV code removed",
    "cpv-leading-zero": "a CPV code given as a number lost its leading zero: restored (3111000 → 03111000)",
    "date-padded": "a date with one-digit month or day zero-padded (2019-1-5 → 2019-01-05)",
    "date-dmy": "a date written DD/MM/YYYY rewritten YYYY-MM-DD",
    "date-time-dropped": "a date with a time of day (2019-04-05T00:00:00) reduced to its date",
    # enumerations
    "enum-case": "an enumerated value in the wrong case or without its accents (`MARCHE`, `CODE DEPARTEMENT`) "
    "mapped to the official label",
    "enum-label": "an enumerated value spelled another known way (`TVA_INTRACOMMUNAUTAIRE`, `HORS_UE`) mapped to "
    "the official label",
    "procedure-1.4": "a procedure label of format 1.4 mapped to its 1.5 label (`Marché négocié sans publicité…` → "
    "`Marché passé sans publicité…`; `Procédure concurrentielle avec négociation` and `Procédure négociée avec "
    "mise en concurrence préalable` → `Procédure avec négociation`)",
    # shapes
    "list-unwrapped": 'a list given the XML way (`{"titulaire": [...]}`) or as a single object made a plain list',
    "empty-list": 'an empty text where a list is expected (`"modifications": ""`) is the empty list',
    "list-wrapped": 'format 2022: a list item given bare (`[{"id": …}]`) wrapped the 2022 way '
    '(`[{"titulaire": {"id": …}}]`)',
    "boolean-from-text": 'format 2022: a yes/no field given as text (`"oui"`, `"false"`, `"1"`) read as a boolean',
    "non-schema-field-dropped": "format 2022: a field the 2.0.3 schema does not define (`_type`, `uid`, `source`, "
    "Dématis's `offresRecues_source` …) dropped, since the schema forbids it",
    "draft-2.0.0-name": "format 2022: a name of the 2.0.0 draft (`technique: [...]`, "
    "`dateNotificationModificationActeSousTraitance`) renamed as 2.0.3 names it",
    "list-duplicate-item": "an item repeated identically in a list (two identical titulaires) kept once",
    "type-added": "`_type` added from the element or list the record came from (`Marché`, `Contrat de concession`)",
    "type-corrected": "`_type` in the wrong case corrected",
    "uid-set": "`uid` set to the buyer's SIRET followed by `id`",
    "source-set": "`source` set to the id of the source the record was read from",
    # per source
    "date-publication-repeated": "Grand Lyon: several `datePublicationDonnees`: the first is kept",
    "date-publication-from-file-name": "AIFE: a missing `datePublicationDonnees` taken from the file name "
    "(`…marchesDD.MM.YYYY…`)",
    "date-publication-from-transmission": "PES Marché: a missing `datePublicationDonnees` taken from "
    "`dateTransmissionDonneesEtalab`, the day the DGFiP published the data",
    "dgfip-field-dropped": "PES Marché: a DGFiP-only field (`dateTransmissionDonneesEtalab`, "
    "`urlProfilAcheteur`) not carried into the regulatory output",
    "nan-as-absent": "`NaN`, which is not JSON (pandas exports), read as an absent value",
    "dotted-key": 'a flat dotted key (`"acheteur.id": "…"`) made the nested object it names',
    "xml-control-characters": "characters XML forbids (control characters) removed from a file so that it can be read",
}
