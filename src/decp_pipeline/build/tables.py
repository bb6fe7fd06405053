"""The tabular outputs: their columns, and the rows of each record (cached per file, as Arrow fragments).

    marches        one row per marché (uid unique): initial values, current values after modifications
    concessions    one row per contrat de concession (uid unique), with its own columns
    titulaires     one row per winner (titulaire or concessionnaire), initial or added by a modification
    modifications  one row per modification, numbered from 1 in publication order
    actes_sous_traitance  format 2022: one row per acte spécial de sous-traitance or modification of one
    listes         format 2022: one row per value of a multi-valued field (techniques, typesPrix ...)

Tables are linked by `uid`. Records left out of decp.json appear too, with `valid = false` and their error
codes, when they can be identified (a buyer SIRET and an `id`) and their contract has no valid row; the others
are only in rejected.jsonl. Rows are converted in batches to one typed schema (dates as dates, amounts as
numbers, identifiers as text); build/table_output.py writes them as CSV (UTF-8, comma, RFC 4180 quoting, ISO
dates, `.` decimals) and Parquet from the same batches.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

BATCH_ROWS = 20_000
TEXT, NUMBER, INTEGER, BOOLEAN, DATE = pa.string(), pa.float64(), pa.int64(), pa.bool_(), pa.date32()
COMMON = [
    ("uid", TEXT, "buyer SIRET followed by the contract id: the key linking the tables"),
    ("id", TEXT, "the contract id given by the buyer"),
    ("source", TEXT, "the id of the source (sources.yaml) the row comes from"),
    ("format", TEXT, "1.5 (published in decp.json) or 2.0 (format 2022, published in decp-2022.json)"),
    ("valid", BOOLEAN, "true when the record is valid against the schema of its format and published"),
    ("errors", TEXT, "the schema error codes of an invalid record (RULE:PATH, separated by ' ')"),
    ("anomalies", TEXT, "quality anomaly codes (docs/build.md), separated by ' '"),
    ("nature", TEXT, "nature of the contract"),
    ("objet", TEXT, "object of the contract"),
    ("procedure", TEXT, "award procedure"),
    ("lieuExecution_code", TEXT, "place of performance: code"),
    ("lieuExecution_typeCode", TEXT, "place of performance: type of code"),
    ("lieuExecution_nom", TEXT, "place of performance: name"),
    ("dureeMois", INTEGER, "initial duration in months"),
    ("datePublicationDonnees", DATE, "date the data was first published"),
]
# Fields of format 2022 only (empty for 1.x rows); lists of values are joined by "; ".
FIELDS_2022 = [
    ("idAccordCadre", TEXT, "id of the accord-cadre a marché subséquent belongs to"),
    ("ccag", TEXT, "the CCAG of reference"),
    ("offresRecues", INTEGER, "number of offers received"),
    ("marcheInnovant", BOOLEAN, "innovative contract"),
    ("attributionAvance", BOOLEAN, "advance payment granted"),
    ("tauxAvance", NUMBER, "advance rate"),
    ("origineUE", NUMBER, "share of EU origin"),
    ("origineFrance", NUMBER, "share of French origin"),
    ("sousTraitanceDeclaree", BOOLEAN, "subcontracting declared"),
    ("typeGroupementOperateurs", TEXT, "type of grouping of operators"),
    ("techniques", TEXT, "purchase techniques, '; '-separated"),
    ("modalitesExecution", TEXT, "performance arrangements, '; '-separated"),
    ("typesPrix", TEXT, "price types, '; '-separated"),
    ("considerationsSociales", TEXT, "social considerations, '; '-separated"),
    ("considerationsEnvironnementales", TEXT, "environmental considerations, '; '-separated"),
]
TABLES: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "marches": [
        *COMMON[:6],
        ("acheteur_id", TEXT, "SIRET of the buyer"),
        ("acheteur_nom", TEXT, "name of the buyer"),
        *COMMON[6:],
        ("codeCPV", TEXT, "CPV code"),
        ("dateNotification", DATE, "notification date of the contract"),
        ("montant", NUMBER, "initial amount, euros excluding VAT"),
        ("formePrix", TEXT, "price form"),
        ("montant_actuel", NUMBER, "amount after the last modification that changed it"),
        ("dureeMois_actuelle", INTEGER, "duration after the last modification that changed it"),
        ("titulaires_count", INTEGER, "number of initial titulaires"),
        ("modifications_count", INTEGER, "number of modifications"),
        *[(name, kind, f"format 2022: {text}") for name, kind, text in FIELDS_2022],
        ("file", TEXT, "the file the record was read from"),
        ("position", INTEGER, "1-based position of the record in its file"),
    ],
    "concessions": [
        *COMMON[:6],
        ("autoriteConcedante_id", TEXT, "SIRET of the granting authority"),
        ("autoriteConcedante_nom", TEXT, "name of the granting authority"),
        *COMMON[6:],
        ("dateSignature", DATE, "signature date"),
        ("dateDebutExecution", DATE, "start of performance"),
        ("valeurGlobale", NUMBER, "initial global value, euros"),
        ("montantSubventionPublique", NUMBER, "public subsidy, euros"),
        ("valeurGlobale_actuelle", NUMBER, "global value after the last modification that changed it"),
        ("dureeMois_actuelle", INTEGER, "duration after the last modification that changed it"),
        ("concessionnaires_count", INTEGER, "number of initial concessionnaires"),
        ("modifications_count", INTEGER, "number of modifications"),
        ("file", TEXT, "the file the record was read from"),
        ("position", INTEGER, "1-based position of the record in its file"),
    ],
    "titulaires": [
        ("uid", TEXT, "the contract (marches.uid or concessions.uid)"),
        ("role", TEXT, "titulaire (marché) or concessionnaire (concession)"),
        ("modification", INTEGER, "0 for the initial winners, else the number of the modification that lists them"),
        ("rang", INTEGER, "1-based rank in its list"),
        ("typeIdentifiant", TEXT, "type of identifier"),
        ("titulaire_id", TEXT, "identifier (SIRET ...)"),
        ("denominationSociale", TEXT, "company name"),
    ],
    "actes_sous_traitance": [
        ("uid", TEXT, "the marché (marches.uid), format 2022"),
        ("acte", TEXT, "acte (an acte spécial de sous-traitance) or modification (a modification of one)"),
        ("id", INTEGER, "number of the acte spécial de sous-traitance"),
        ("sousTraitant_typeIdentifiant", TEXT, "type of identifier of the subcontractor"),
        ("sousTraitant_id", TEXT, "identifier of the subcontractor"),
        ("dureeMois", INTEGER, "duration in months (new duration for a modification)"),
        ("dateNotification", DATE, "notification date (of the modification, for a modification)"),
        ("datePublicationDonnees", DATE, "publication date"),
        ("montant", NUMBER, "amount, euros excluding VAT (new amount for a modification)"),
        ("variationPrix", TEXT, "price variation"),
    ],
    "listes": [
        ("uid", TEXT, "the contract (marches.uid or concessions.uid), format 2022"),
        (
            "champ",
            TEXT,
            "the multi-valued field: techniques, modalitesExecution, typesPrix, considerationsSociales, "
            "considerationsEnvironnementales",
        ),
        ("rang", INTEGER, "1-based rank of the value in its list"),
        ("valeur", TEXT, "the value"),
    ],
    "modifications": [
        ("uid", TEXT, "the contract (marches.uid or concessions.uid)"),
        ("numero", INTEGER, "1-based number of the modification, in the order published"),
        ("objetModification", TEXT, "object of the modification"),
        ("dateNotificationModification", DATE, "notification date (marché)"),
        ("dateSignatureModification", DATE, "signature date (concession)"),
        ("datePublicationDonneesModification", DATE, "publication date of the modification"),
        ("dureeMois", INTEGER, "new duration in months"),
        ("montant", NUMBER, "new amount (marché)"),
        ("valeurGlobale", NUMBER, "new global value (concession)"),
        ("titulaires_count", INTEGER, "number of titulaires the modification lists"),
    ],
}
FRICTIONLESS_TYPES = {TEXT: "string", NUMBER: "number", INTEGER: "integer", BOOLEAN: "boolean", DATE: "date"}


def _date(value: Any) -> datetime.date | None:
    return _parse_date(value) if isinstance(value, str) else None


@lru_cache(maxsize=1 << 16)
def _parse_date(value: str) -> datetime.date | None:
    """Dates repeat a lot (a few thousand distinct days): parsed once each."""
    if len(value) < 10:
        return None
    try:
        return datetime.date.fromisoformat(value[:10])
    except ValueError:
        return None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


def _integer(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def _text(value: Any) -> str | None:
    if type(value) is str or value is None:
        return value
    if isinstance(value, dict | list):
        return None
    return str(value)


def _same(value: Any) -> Any:
    return value


CONVERT: dict[Any, Callable[[Any], Any]] = {
    TEXT: _text,
    NUMBER: _number,
    INTEGER: _integer,
    BOOLEAN: lambda v: v if isinstance(v, bool) else None,
    DATE: _date,
}


# Columns the fragments cached per file carry for the build, never published: the record a linked row belongs
# to (its position in the file), and the facts of the run-dependent quality checks.
HIDDEN_POSITION = ("_position", pa.int64())
HIDDEN_FACTS = [("_day", TEXT), ("_amount", NUMBER)]
MAIN_TABLES = ("marches", "concessions")


def fragment_schema(name: str) -> pa.Schema:
    """A table as cached per file: its columns but `file` (known only when the build runs), plus hidden ones."""
    fields = [(column, kind) for column, kind, _ in TABLES[name] if column != "file"]
    fields += HIDDEN_FACTS if name in MAIN_TABLES else [HIDDEN_POSITION]
    return pa.schema(fields)


class ArrowSpool:
    """Rows converted to Arrow in batches and written to an Arrow IPC file (none when no row came)."""

    def __init__(self, schema: pa.Schema, path: Path) -> None:
        self.schema = schema
        self.path = path
        self.rows: list[dict[str, Any]] = []
        self.date_columns = [f.name for f in self.schema if f.type == DATE]
        self._writer: pa.ipc.RecordBatchFileWriter | None = None

    def add(self, row: dict[str, Any]) -> None:
        for column in self.date_columns:  # the one type pyarrow cannot take from the record as it is
            row[column] = _date(row.get(column))
        self.rows.append(row)
        if len(self.rows) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.rows:
            return
        try:  # valid records have the right types already: pyarrow converts the batch in C++
            batch = pa.RecordBatch.from_pylist(self.rows, schema=self.schema)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError, OverflowError):
            batch = self._converted_batch()  # a rejected record with a number as text, a text as number ...
        if self._writer is None:
            self._writer = pa.ipc.new_file(str(self.path), self.schema)
        self._writer.write_batch(batch)
        self.rows = []

    def _converted_batch(self) -> pa.RecordBatch:
        arrays = [
            pa.array([CONVERT.get(f.type, _same)(row.get(f.name)) for row in self.rows], type=f.type)
            for f in self.schema
        ]
        return pa.record_batch(arrays, schema=self.schema)

    def close(self) -> None:
        self.flush()
        if self._writer is not None:
            self._writer.close()


class FragmentWriter:
    """The rows of every table for the records of one file (valid or not), cached beside its normalized records.

    Rows are made once, when the file is read; the build then only selects the rows of the records it keeps
    (`TableOutput`), so that an unchanged file costs no Python work per record. The rows of valid records
    (`NAME.arrow`) and of rejected ones (`NAME.rejected.arrow`) are apart: when every one of them is kept, the
    build takes the whole fragment without filtering it."""

    def __init__(self, folder: Path) -> None:
        self.lanes = {
            valid: {name: ArrowSpool(fragment_schema(name), folder / fragment_name(name, valid)) for name in TABLES}
            for valid in (True, False)
        }
        self.fragments = self.lanes[True]

    def add(
        self,
        record: dict[str, Any],
        *,
        uid: str | None,
        source: str,
        valid: bool,
        errors: list[str],
        anomalies: list[str],
        facts: tuple[str | None, float | None],
        position: int,
        version: str = "1.5",
    ) -> None:
        """Add a record's rows (a record without uid has none: it is only in rejected.jsonl)."""
        concession = record.get("_type") == "Contrat de concession" or "autoriteConcedante" in record
        buyer_key = "autoriteConcedante" if concession else "acheteur"
        buyer = found if isinstance(found := record.get(buyer_key), dict) else {}
        if not isinstance(uid, str):
            return
        self.fragments = self.lanes[valid]
        modifications = [m for m in record.get("modifications") or [] if isinstance(m, dict)]
        place = found if isinstance(found := record.get("lieuExecution"), dict) else {}
        row = {
            **record,
            "uid": uid,
            "source": source,
            "format": version,
            "valid": valid,
            "errors": " ".join(errors) or None,
            "anomalies": " ".join(anomalies) or None,
            f"{buyer_key}_id": buyer.get("id"),
            f"{buyer_key}_nom": buyer.get("nom"),
            "lieuExecution_code": place.get("code"),
            "lieuExecution_typeCode": place.get("typeCode"),
            "lieuExecution_nom": place.get("nom"),
            "dureeMois_actuelle": _current(record, modifications, "dureeMois"),
            "modifications_count": len(modifications),
            "position": position,
            "_day": facts[0],
            "_amount": facts[1],
        }
        holders_key = "concessionnaires" if concession else "titulaires"
        holders = [h for h in record.get(holders_key) or [] if isinstance(h, dict)]
        row[f"{holders_key}_count"] = len(holders)
        if concession:
            row["valeurGlobale_actuelle"] = _current(record, modifications, "valeurGlobale")
        else:
            row["montant_actuel"] = _current(record, modifications, "montant")
        self.fragments["concessions" if concession else "marches"].add(row)
        role = "concessionnaire" if concession else "titulaire"
        self._holders(uid, position, role, 0, holders)
        self._format_2022_lists(uid, position, record)
        for number, modification in enumerate(modifications, start=1):
            listed = [h for h in modification.get(holders_key) or [] if isinstance(h, dict)]
            self.fragments["modifications"].add(
                {
                    **modification,
                    "uid": uid,
                    "numero": number,
                    "titulaires_count": len(listed) or None,
                    "_position": position,
                }
            )
            self._holders(uid, position, role, number, listed)

    def _format_2022_lists(self, uid: str, position: int, record: dict[str, Any]) -> None:
        """Format 2022: the values of multi-valued fields, and the actes spéciaux de sous-traitance."""
        for field, values in (record.get("_lists") or {}).items():
            for rank, value in enumerate(values, start=1):
                self.fragments["listes"].add(
                    {"uid": uid, "champ": field, "rang": rank, "valeur": value, "_position": position}
                )
        for name, acts in (("acte", "actesSousTraitance"), ("modification", "modificationsActesSousTraitance")):
            for act in record.get(acts) or []:
                if not isinstance(act, dict):
                    continue
                contractor = found if isinstance(found := act.get("sousTraitant"), dict) else {}
                self.fragments["actes_sous_traitance"].add(
                    {
                        **act,
                        "uid": uid,
                        "acte": name,
                        "sousTraitant_typeIdentifiant": contractor.get("typeIdentifiant"),
                        "sousTraitant_id": contractor.get("id"),
                        "dateNotification": act.get(
                            "dateNotification", act.get("dateNotificationModificationSousTraitance")
                        ),
                        "_position": position,
                    }
                )

    def _holders(self, uid: str, position: int, role: str, modification: int, holders: list[dict[str, Any]]) -> None:
        for rank, holder in enumerate(holders, start=1):
            self.fragments["titulaires"].add(
                {
                    **holder,
                    "uid": uid,
                    "role": role,
                    "modification": modification,
                    "rang": rank,
                    "titulaire_id": holder.get("id"),
                    "_position": position,
                }
            )

    def close(self) -> None:
        for lane in self.lanes.values():
            for fragment in lane.values():
                fragment.close()


def fragment_name(table: str, valid: bool) -> str:
    return f"{table}.arrow" if valid else f"{table}.rejected.arrow"


def row_uid(record: dict[str, Any], valid: bool) -> str | None:
    """The uid of a record's rows: a valid record's own, else buyer SIRET + id when both are texts."""
    uid = record.get("uid") if valid else None
    if uid is None:
        concession = record.get("_type") == "Contrat de concession" or "autoriteConcedante" in record
        buyer = record.get("autoriteConcedante" if concession else "acheteur")
        if isinstance(buyer, dict) and isinstance(buyer.get("id"), str) and isinstance(record.get("id"), str):
            uid = buyer["id"] + record["id"]
    return uid if isinstance(uid, str) else None


def _current(record: dict[str, Any], modifications: list[dict[str, Any]], field: str) -> Any:
    """The value after the last modification that set it, else the initial value."""
    for modification in reversed(modifications):
        if modification.get(field) is not None:
            return modification[field]
    return record.get(field)
