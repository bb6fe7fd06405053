"""The rows of each record in the published tables (pipeline/tables.py defines their columns), made once when
its file is read and cached beside its normalized records as Arrow fragments."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path
from typing import Any

import pyarrow as pa

from decp_pipeline.models.contract import BUYER_KEY, HOLDERS_KEY, Contract, dicts
from decp_pipeline.pipeline.tables import (
    BATCH_ROWS,
    BOOLEAN,
    DATE,
    INTEGER,
    NUMBER,
    TABLES,
    TEXT,
    fragment_name,
    fragment_schema,
)


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
    """An integer of the table's 64-bit column, else none (a rejected record's `dureeMois` of 1.8e19)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    return value if isinstance(value, int) and -(2**63) <= value < 2**63 else None


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

    def write_table(self, table: pa.Table) -> None:
        """Rows already made as columns (pipeline/columns.py), after the rows added before them."""
        self.flush()
        if self._writer is None:
            self._writer = pa.ipc.new_file(str(self.path), self.schema)
        self._writer.write_table(table)

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


class ColumnSpool:
    """Rows given as tuples in the schema's order, kept as one list per column and converted to Arrow a column
    at a time (for rows whose values have their columns' types: the meta rows), written to an Arrow IPC file
    (none when no row came)."""

    def __init__(self, schema: pa.Schema, path: Path) -> None:
        self.schema = schema
        self.path = path
        self.columns: list[list[Any]] = [[] for _ in schema]
        self._writer: pa.ipc.RecordBatchFileWriter | None = None

    def add(self, *values: Any) -> None:
        for column, value in zip(self.columns, values, strict=True):
            column.append(value)
        if len(self.columns[0]) >= BATCH_ROWS:
            self.flush()

    def flush(self) -> None:
        if not self.columns[0]:
            return
        arrays = [pa.array(column, f.type) for column, f in zip(self.columns, self.schema, strict=True)]
        if self._writer is None:
            self._writer = pa.ipc.new_file(str(self.path), self.schema)
        self._writer.write_batch(pa.record_batch(arrays, schema=self.schema))
        self.columns = [[] for _ in self.schema]

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
        contract: Contract,
        *,
        source: str,
        valid: bool,
        errors: list[str],
        anomalies: list[str],
        facts: tuple[str | None, float | None],
        position: int,
        fixes: str | None = None,
    ) -> None:
        """Add a contract's rows. A rejected contract without uid has rows with none: the build names them
        with a key of their own (writers/tables.py)."""
        uid = contract.uid
        if uid is None and valid:
            return
        self.fragments = self.lanes[valid]
        main = self._main_row(contract, source, valid, errors, anomalies, facts)
        main["position"], main["fixes"] = position, fixes
        self.fragments["concessions" if contract.concession else "marches"].add(main)
        role = "concessionnaire" if contract.concession else "titulaire"
        self._holders(uid, position, role, 0, contract.holders)
        self._format_2022_lists(uid, position, contract)
        for number, modification in enumerate(contract.modifications, start=1):
            listed = contract.holders_of(modification)
            row = {**modification, "uid": uid, "numero": number, "titulaires_count": len(listed) or None}
            row["_position"] = position
            self.fragments["modifications"].add(row)
            self._holders(uid, position, role, number, listed)

    @staticmethod
    def _main_row(
        contract: Contract,
        source: str,
        valid: bool,
        errors: list[str],
        anomalies: list[str],
        facts: tuple[str | None, float | None],
    ) -> dict[str, Any]:
        """The contract's row of `marches` or `concessions` (without its position)."""
        record = contract.flat
        buyer_key, holders_key = BUYER_KEY[contract.kind], HOLDERS_KEY[contract.kind]
        place = found if isinstance(found := record.get("lieuExecution"), dict) else {}
        current = ("valeurGlobale_actuelle", "valeurGlobale") if contract.concession else ("montant_actuel", "montant")
        return {
            **record,
            "uid": contract.uid,
            "source": source,
            "format": contract.version,
            "valid": valid,
            "errors": " ".join(errors) or None,
            "anomalies": " ".join(anomalies) or None,
            f"{buyer_key}_id": contract.buyer.get("id"),
            f"{buyer_key}_nom": contract.buyer.get("nom"),
            "lieuExecution_code": place.get("code"),
            "lieuExecution_typeCode": place.get("typeCode"),
            "lieuExecution_nom": place.get("nom"),
            "dureeMois_actuelle": contract.current("dureeMois"),
            current[0]: contract.current(current[1]),
            "modifications_count": len(contract.modifications),
            f"{holders_key}_count": len(contract.holders),
            "_day": facts[0],
            "_amount": facts[1],
        }

    def _format_2022_lists(self, uid: str | None, position: int, contract: Contract) -> None:
        """Format 2022: the values of multi-valued fields, and the actes spéciaux de sous-traitance."""
        record = contract.flat
        for field, values in contract.lists.items():
            for rank, value in enumerate(values, start=1):
                self.fragments["listes"].add(
                    {"uid": uid, "champ": field, "rang": rank, "valeur": value, "_position": position}
                )
        for name, acts in (("acte", "actesSousTraitance"), ("modification", "modificationsActesSousTraitance")):
            for act in dicts(record.get(acts)):
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

    def _holders(
        self, uid: str | None, position: int, role: str, modification: int, holders: list[dict[str, Any]]
    ) -> None:
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
