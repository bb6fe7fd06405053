"""The tabular outputs: the same tables in CSV and Parquet, and a datapackage.json describing them.

    marches        one row per marché (uid unique): initial values, current values after modifications
    concessions    one row per contrat de concession (uid unique), with its own columns
    titulaires     one row per winner (titulaire or concessionnaire), initial or added by a modification
    modifications  one row per modification, numbered from 1 in publication order
    actes_sous_traitance  format 2022: one row per acte spécial de sous-traitance or modification of one
    listes         format 2022: one row per value of a multi-valued field (techniques, typesPrix ...)

Tables are linked by `uid`. Records left out of decp.json appear too, with `valid = false` and their error
codes, when they can be identified (a buyer SIRET and an `id`) and their contract has no valid row; the others
are only in rejected.jsonl. Rows are written in batches with one typed schema (dates as dates, amounts as
numbers, identifiers as text) by pyarrow, which writes CSV (UTF-8, comma, RFC 4180 quoting, ISO dates, `.`
decimals) and Parquet from the same batches.
"""

from __future__ import annotations

import datetime
import json
import os
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

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


CONVERT = {
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
        buyer = record.get(buyer_key) if isinstance(record.get(buyer_key), dict) else {}
        if not isinstance(uid, str):
            return
        self.fragments = self.lanes[valid]
        modifications = [m for m in record.get("modifications") or [] if isinstance(m, dict)]
        place = record.get("lieuExecution") if isinstance(record.get("lieuExecution"), dict) else {}
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
                contractor = act.get("sousTraitant") if isinstance(act.get("sousTraitant"), dict) else {}
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


def read_fragment(path: Path, columns: list[str] | None = None) -> pa.Table | None:
    """A cached fragment (None when the file had no row for this table)."""
    if not path.is_file():
        return None
    with pa.memory_map(str(path)) as source:
        table = pa.ipc.open_file(source).read_all()
    return table.select(columns) if columns else table


class _Output:
    """One published table, CSV and Parquet written from the same batches of selected fragment rows.

    Rows come in two lanes: the rows of valid records are written as they come; the rows of rejected records
    are kept aside (an Arrow IPC file) and written after them, so that each fragment is read once."""

    def __init__(self, name: str, folder: Path, finish: Callable[[pa.Table], pa.Table] | None = None) -> None:
        self.name = name
        self.finish = finish  # applied to each batch before it is written
        self.columns = TABLES[name]
        self.schema = pa.schema([(column, kind) for column, kind, _ in self.columns])
        self.paths = {fmt: folder / f".{name}.{fmt}.{os.getpid()}.tmp" for fmt in ("csv", "parquet")}
        self.aside_path = folder / f".{name}.rejected.{os.getpid()}.tmp"
        self.pending: dict[bool, list[tuple[pa.Table, str]]] = {False: [], True: []}
        self.pending_rows = {False: 0, True: 0}
        self.count = 0
        self._csv = pa_csv.CSVWriter(str(self.paths["csv"]), self.schema)
        self._parquet = pq.ParquetWriter(str(self.paths["parquet"]), self.schema, compression="zstd")
        self._aside: pa.ipc.RecordBatchStreamWriter | None = None

    def add(self, rows: pa.Table, file: str, *, later: bool) -> None:
        self.pending[later].append((rows, file))
        self.pending_rows[later] += rows.num_rows
        self.count += rows.num_rows
        if self.pending_rows[later] >= BATCH_ROWS * 4:
            self.flush(later)

    def flush(self, later: bool) -> None:
        if not self.pending_rows[later]:
            return
        fragments = self.pending[later]
        rows = pa.concat_tables([table for table, _ in fragments])
        if self.finish is not None:
            rows = self.finish(rows)
        files = np.repeat(np.array([file for _, file in fragments], dtype=object), [t.num_rows for t, _ in fragments])
        columns = [pa.array(files, TEXT) if f.name == "file" else rows.column(f.name) for f in self.schema]
        table = pa.Table.from_arrays(columns, schema=self.schema).combine_chunks()
        if later:
            if self._aside is None:
                self._aside = pa.ipc.new_stream(str(self.aside_path), self.schema)
            self._aside.write_table(table)
        else:
            self._write(table)
        self.pending[later], self.pending_rows[later] = [], 0

    def _write(self, table: pa.Table) -> None:
        for batch in table.to_batches(max_chunksize=BATCH_ROWS * 4):
            self._csv.write_batch(batch)
        self._parquet.write_table(table, row_group_size=BATCH_ROWS * 4)

    def close(self) -> None:
        self.flush(False)
        self.flush(True)
        if self._aside is not None:
            self._aside.close()
            with pa.memory_map(str(self.aside_path)) as source:
                for batch in pa.ipc.open_stream(source):
                    self._write(pa.Table.from_batches([batch]))
        self._csv.close()
        self._parquet.close()
        self.aside_path.unlink(missing_ok=True)


class TableOutput:
    """The published tables, filled with the rows the build selects from each file's fragments."""

    def __init__(self, folder: Path, finish: dict[str, Callable[[pa.Table], pa.Table]] | None = None) -> None:
        """`finish`: per table, a function applied to each batch of selected rows before it is written."""
        self.folder = folder
        self.tables = {name: _Output(name, folder, (finish or {}).get(name)) for name in TABLES}

    def add(self, name: str, rows: pa.Table, file: str, *, later: bool = False) -> None:
        """Selected rows of one fragment (`file` is the file's current path); `later`: after all the others."""
        if rows.num_rows:
            self.tables[name].add(rows, file, later=later)

    def close(self) -> dict[str, Path]:
        temporaries: dict[str, Path] = {}
        for table in self.tables.values():
            table.close()
            for fmt, path in table.paths.items():
                temporaries[f"{table.name}.{fmt}"] = path
        datapackage = self.folder / f".datapackage.json.{os.getpid()}.tmp"
        datapackage.write_text(json.dumps(describe(self.tables), ensure_ascii=False, indent=2) + "\n", "utf-8")
        temporaries["datapackage.json"] = datapackage
        return temporaries

    def discard(self) -> None:
        for table in self.tables.values():
            for path in (*table.paths.values(), table.aside_path):
                path.unlink(missing_ok=True)


def _current(record: dict[str, Any], modifications: list[dict[str, Any]], field: str) -> Any:
    """The value after the last modification that set it, else the initial value."""
    for modification in reversed(modifications):
        if modification.get(field) is not None:
            return modification[field]
    return record.get(field)


def describe(tables: dict[str, _Output]) -> dict[str, Any]:
    """A Frictionless data package: each table, in CSV and in Parquet, with its fields."""
    resources = []
    for table in tables.values():
        fields = [
            {"name": name, "type": FRICTIONLESS_TYPES[kind], "description": text} for name, kind, text in table.columns
        ]
        schema: dict[str, Any] = {"fields": fields}
        if table.name in ("marches", "concessions"):
            schema["primaryKey"] = ["uid"]
        for fmt in ("csv", "parquet"):
            resource = {
                "name": f"{table.name}-{fmt}",
                "path": f"{table.name}.{fmt}",
                "format": fmt,
                "mediatype": "text/csv" if fmt == "csv" else "application/vnd.apache.parquet",
                "schema": schema,
                "count": table.count,
            }
            if fmt == "csv":
                resource["encoding"] = "utf-8"
                resource["dialect"] = {"delimiter": ",", "quoteChar": '"', "header": True}
            resources.append(resource)
    return {
        "name": "decp",
        "title": "Données essentielles de la commande publique, consolidées",
        "profile": "data-package",
        "resources": resources,
    }
