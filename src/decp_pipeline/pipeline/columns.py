"""The table rows of valid records, made as columns: Arrow's JSON reader (C++) parses the records' published
lines straight into typed columns, and the tables' columns are computed from them, with no Python object per
value. pipeline/rows.py makes the same rows one record at a time: it stays the reference, it makes the rows of
rejected records, and it takes over whenever a chunk holds a value of another type than its column's (Arrow's
reader refuses it, where rows.py converts it) or a list item that is not an object: the rows are the same
either way (tests/test_columns.py).

Measured on the 10 % bench corpus (bench/work), warm, µs per record: 1.x JSON 21 (rows.py 22) in chunks of
300 records, the mean file, and 8 (22) in chunks of 5,000; format 2022 28 (52) and 16 (35). Arrow's reader
costs 0.8 ms per call plus 3.9 µs per record; each compute call about 30 µs, hence few of them per chunk.

A chunk holds records of one format version and kind (`Chunk`); the rows of each table come out in record
order, as rows.py adds them: per record, its initial winners, then each modification's.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.json as pj

from decp_pipeline.models.contract import BUYER_KEY, HOLDERS_KEY, VALUE_LISTS, WRAPPED_LISTS, Contract
from decp_pipeline.pipeline.rows import CONVERT, _parse_date
from decp_pipeline.pipeline.tables import DATE, FIELDS_2022, INTEGER, NUMBER, TEXT, fragment_schema

HOLDER = pa.struct([("typeIdentifiant", TEXT), ("id", TEXT), ("denominationSociale", TEXT)])
MODIFICATION_FIELDS = [
    ("objetModification", TEXT), ("dateNotificationModification", TEXT), ("dateSignatureModification", TEXT),
    ("datePublicationDonneesModification", TEXT), ("dureeMois", INTEGER), ("montant", NUMBER),
    ("valeurGlobale", NUMBER),
]  # fmt: skip
ACTE = pa.struct(
    [("id", INTEGER), ("sousTraitant", pa.struct([("typeIdentifiant", TEXT), ("id", TEXT)])), ("dureeMois", INTEGER),
     ("dateNotification", TEXT), ("dateNotificationModificationSousTraitance", TEXT),
     ("datePublicationDonnees", TEXT), ("montant", NUMBER), ("variationPrix", TEXT)]
)  # fmt: skip
# The record fields a main row takes as they are (every column of its table that the record may hold).
MAIN_FIELDS = {
    "marche": [("id", TEXT), ("nature", TEXT), ("objet", TEXT), ("procedure", TEXT), ("dureeMois", INTEGER),
               ("datePublicationDonnees", TEXT), ("codeCPV", TEXT), ("dateNotification", TEXT), ("montant", NUMBER),
               ("formePrix", TEXT)],
    "contrat-concession": [("id", TEXT), ("nature", TEXT), ("objet", TEXT), ("procedure", TEXT),
                           ("dureeMois", INTEGER), ("datePublicationDonnees", TEXT), ("dateSignature", TEXT),
                           ("dateDebutExecution", TEXT), ("valeurGlobale", NUMBER),
                           ("montantSubventionPublique", NUMBER)],
}  # fmt: skip


def _wrapped(name: str, item: pa.DataType, version: str) -> pa.DataType:
    """A list of objects: plain in 1.5, each item wrapped (`{"titulaire": {...}}`) in 2022."""
    return pa.list_(pa.struct([(WRAPPED_LISTS[name], item)]) if version == "2.0" else item)


@cache
def record_schema(version: str, kind: str) -> pa.Schema:
    """What Arrow's reader takes of a record: the fields of the table rows (any other field is ignored)."""
    holders = HOLDERS_KEY[kind]
    modification = pa.struct([*MODIFICATION_FIELDS, (holders, _wrapped(holders, HOLDER, version))])
    fields: list[tuple[str, pa.DataType]] = [
        *MAIN_FIELDS[kind],
        (BUYER_KEY[kind], pa.struct([("id", TEXT), ("nom", TEXT)])),
        ("lieuExecution", pa.struct([("code", TEXT), ("typeCode", TEXT), ("nom", TEXT)])),
        (holders, _wrapped(holders, HOLDER, version)),
        ("modifications", _wrapped("modifications", modification, version)),
    ]
    fields += [
        (name, _wrapped(name, ACTE, version)) for name in ("actesSousTraitance", "modificationsActesSousTraitance")
    ]
    if kind == "marche":
        fields += [(name, kind_) for name, kind_, _ in FIELDS_2022 if name not in VALUE_LISTS]
        if version == "2.0":
            fields += [(name, pa.struct([(item, pa.list_(TEXT))])) for name, item in VALUE_LISTS.items()]
        else:  # a 1.5 record holding a 2022 field as a text (`"techniques": "..."`): the row shows it
            fields += [(name, TEXT) for name in VALUE_LISTS]
    return pa.schema(fields)


RunFacts = tuple[str | None, float | None]


@dataclass
class Chunk:
    """Valid records of one version and kind, with what their main rows need besides the record."""

    version: str
    kind: str
    lines: list[bytes] = field(default_factory=list)
    positions: list[int] = field(default_factory=list)
    anomalies: list[str | None] = field(default_factory=list)
    fixes: list[str | None] = field(default_factory=list)
    days: list[str | None] = field(default_factory=list)
    amounts: list[float | None] = field(default_factory=list)
    # The `listes` rows (uid, champ, rang, valeur, position): the order of a record's fields decides theirs,
    # and Arrow's reader keeps no order of fields, so they are made in Python, as the record is kept.
    listes: tuple[list[Any], ...] = field(default_factory=lambda: ([], [], [], [], []))

    def takes(self, contract: Contract) -> bool:
        return contract.version == self.version and contract.kind == self.kind

    def add(self, contract: Contract, line: bytes, position: int, marks: tuple[str | None, str | None],
            facts: RunFacts) -> None:  # fmt: skip
        """`marks`: the record's anomaly codes and fix codes, each joined by ' ' (None: none)."""
        self.lines.append(line)
        self.positions.append(position)
        self.anomalies.append(marks[0])
        self.fixes.append(marks[1])
        self.days.append(facts[0])
        self.amounts.append(facts[1])
        for name, values in contract.lists.items():
            for rank, value in enumerate(values, start=1):
                for column, item in zip(self.listes, (contract.uid, name, rank, value, position), strict=True):
                    column.append(item)

    def listes_table(self) -> pa.Table:
        schema = fragment_schema("listes")
        try:
            arrays = [pa.array(column, f.type) for column, f in zip(self.listes, schema, strict=True)]
        except (pa.ArrowInvalid, pa.ArrowTypeError):  # a value that is not a text (rows.py converts it)
            arrays = [
                pa.array([CONVERT[f.type](v) for v in column], f.type)
                for column, f in zip(self.listes, schema, strict=True)
            ]
        return pa.Table.from_arrays(arrays, schema=schema)


def tables_of(chunk: Chunk, source: str) -> dict[str, pa.Table] | None:
    """The rows of every table for the records of `chunk` (tables without rows are left out), or None when a
    value does not have its column's type (rows.py then makes them)."""
    data = b"\n".join(chunk.lines)
    options = pj.ParseOptions(explicit_schema=record_schema(chunk.version, chunk.kind),
                              unexpected_field_behavior="ignore")  # fmt: skip
    try:
        records = pj.read_json(io.BytesIO(data), read_options=pj.ReadOptions(use_threads=False,
                               block_size=len(data) + 1), parse_options=options)  # fmt: skip
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        return None
    if records.num_rows != len(chunk.lines):
        return None
    try:
        tables = _Builder(chunk, records.combine_chunks(), source).tables()
    except ValueError:  # a list item that is not an object (rows.py leaves it out)
        return None
    if chunk.listes[0]:
        tables["listes"] = chunk.listes_table()
    return tables


def _dates(strings: pa.Array) -> pa.Array:
    """Texts to dates as rows.py reads them (`_parse_date`: the first 10 characters, else none), each distinct
    text parsed once."""
    if strings.null_count == len(strings):
        return pa.nulls(len(strings), DATE)
    encoded = strings.dictionary_encode()
    parsed = pa.array([_parse_date(s) for s in encoded.dictionary.to_pylist()], DATE)
    return parsed.take(encoded.indices)


@dataclass
class _Items:
    """The items of a list column, flattened: each with the row it belongs to and its 1-based rank."""

    values: pa.StructArray
    parent: np.ndarray
    rank: np.ndarray
    _fields: dict[str, pa.Array] | None = None

    @classmethod
    def of(cls, lists: pa.Array, wrapper: str | None) -> _Items:
        values = lists.flatten()
        if wrapper is not None:
            values = _fields(values)[wrapper]
        if values.null_count:
            raise ValueError("a list holds an item that is not an object")
        parent = pc.list_parent_indices(lists).to_numpy()
        offsets = lists.offsets.to_numpy()
        rank = np.arange(len(values)) - (offsets[parent] - offsets[0]) + 1
        return cls(values, parent, rank)

    def field(self, name: str) -> pa.Array:
        if self._fields is None:
            self._fields = _fields(self.values)
        return self._fields[name]


def _fields(struct: pa.StructArray) -> dict[str, pa.Array]:
    """The fields of an object column, null where the object is (`flatten` applies the parent's nulls)."""
    return {f.name: array for f, array in zip(struct.type, struct.flatten(), strict=True)}


def _lengths(lists: pa.ListArray) -> pa.Array:
    """The number of items of each list, 0 when there is none (`len(dicts(...))`)."""
    return lists.value_lengths().fill_null(0).cast(INTEGER)


def _column(array: pa.Array, kind: pa.DataType) -> pa.Array:
    return _dates(array) if kind == DATE else array


class _Builder:
    def __init__(self, chunk: Chunk, records: pa.Table, source: str) -> None:
        buyer_id = _fields(records.column(BUYER_KEY[chunk.kind]).chunk(0))["id"]
        uid = pc.binary_join_element_wise(buyer_id, records.column("id").chunk(0), "")
        self.keep = keep = None if uid.null_count == 0 else uid.is_valid()  # rows only for records with a uid
        self.records = records if keep is None else records.filter(keep).combine_chunks()
        self.uid = self.kept(uid)
        self.position = self.kept(pa.array(chunk.positions, pa.int64()))
        self.parts: dict[str, dict[str, pa.Array]] = {}
        self.chunk, self.source, self.kind, self.version = chunk, source, chunk.kind, chunk.version
        self.wrapper = (lambda name: WRAPPED_LISTS[name]) if chunk.version == "2.0" else (lambda name: None)
        self.holders_key = HOLDERS_KEY[chunk.kind]
        self.modifications = _Items.of(self.column("modifications"), self.wrapper("modifications"))

    def kept(self, array: pa.Array) -> pa.Array:
        return array if self.keep is None else array.filter(self.keep)

    def column(self, name: str) -> pa.Array:
        return self.records.column(name).chunk(0)

    def part(self, name: str, field_name: str) -> pa.Array:
        """A field of an object column (`acheteur.id`)."""
        if name not in self.parts:
            self.parts[name] = _fields(self.column(name))
        return self.parts[name][field_name]

    def tables(self) -> dict[str, pa.Table]:
        found = {
            "concessions" if self.kind == "contrat-concession" else "marches": self.main(),
            "titulaires": self.titulaires(),
            "modifications": self.modification_rows(),
            "actes_sous_traitance": self.actes(),
        }
        return {name: table for name, table in found.items() if table.num_rows}

    def _table(self, name: str, columns: dict[str, Any], rows: int) -> pa.Table:
        schema = fragment_schema(name)
        arrays = []
        for f in schema:
            value = columns.get(f.name)
            if value is None:
                arrays.append(pa.nulls(rows, f.type))
            elif isinstance(value, pa.Array):
                arrays.append(value)
            else:
                arrays.append(pa.array([value] * rows, f.type))
        return pa.Table.from_arrays(arrays, schema=schema)

    def main(self) -> pa.Table:
        name = "concessions" if self.kind == "contrat-concession" else "marches"
        rows = self.records.num_rows
        schema = fragment_schema(name)
        columns: dict[str, Any] = {}
        for f in schema:
            if f.name in self.records.column_names and f.name not in VALUE_LISTS:
                columns[f.name] = _column(self.column(f.name), f.type)
        if self.version == "2.0" and self.kind == "marche":
            for list_name, item in VALUE_LISTS.items():
                columns[list_name] = pc.binary_join(self.part(list_name, item), "; ")
        elif self.kind == "marche":
            for list_name in VALUE_LISTS:
                columns[list_name] = self.column(list_name)
        buyer_key = BUYER_KEY[self.kind]
        current = (
            ("valeurGlobale_actuelle", "valeurGlobale")
            if self.kind == "contrat-concession"
            else ("montant_actuel", "montant")
        )
        holders = self.column(self.holders_key)
        columns |= {
            "uid": self.uid, "source": self.source, "format": self.version, "valid": True,
            "anomalies": self.kept(pa.array(self.chunk.anomalies, TEXT)),
            "fixes": self.kept(pa.array(self.chunk.fixes, TEXT)),
            f"{buyer_key}_id": self.part(buyer_key, "id"), f"{buyer_key}_nom": self.part(buyer_key, "nom"),
            "lieuExecution_code": self.part("lieuExecution", "code"),
            "lieuExecution_typeCode": self.part("lieuExecution", "typeCode"),
            "lieuExecution_nom": self.part("lieuExecution", "nom"),
            "dureeMois_actuelle": self.current("dureeMois", INTEGER),
            current[0]: self.current(current[1], NUMBER),
            "modifications_count": _lengths(self.column("modifications")),
            f"{self.holders_key}_count": _lengths(holders),
            "_day": self.kept(pa.array(self.chunk.days, TEXT)),
            "_amount": self.kept(pa.array(self.chunk.amounts, NUMBER)),
            "position": self.position,
        }  # fmt: skip
        return self._table(name, columns, rows)

    def current(self, name: str, kind: pa.DataType) -> pa.Array:
        """The value after the last modification that set it, else the record's own (Contract.current)."""
        initial = self.column(name) if name in self.records.column_names else pa.nulls(self.records.num_rows, kind)
        changed = self.modifications.field(name)
        if not changed.null_count < len(changed):
            return initial
        values = initial.to_pylist()
        changes = changed.to_pylist()
        for index in np.nonzero(changed.is_valid().to_numpy(zero_copy_only=False))[0]:
            values[self.modifications.parent[index]] = changes[index]  # in order: the last one stays
        return pa.array(values, kind)

    def _linked(self, parent: np.ndarray) -> dict[str, Any]:
        """The columns that link a row to its record."""
        return {"uid": self.uid.take(parent), "_position": self.position.take(parent)}

    def titulaires(self) -> pa.Table:
        """Initial winners (modification 0), then those each modification lists, per record in order."""
        key = self.holders_key
        initial = _Items.of(self.column(key), self.wrapper(key))
        mods = self.modifications
        listed = _Items.of(mods.field(key), self.wrapper(key))
        parent = np.concatenate([initial.parent, mods.parent[listed.parent]])
        modification = np.concatenate([np.zeros(len(initial.parent), np.int64), mods.rank[listed.parent]])
        order = np.lexsort((modification, parent))  # stable: ranks stay in order
        holders = _fields(pa.concat_arrays([initial.values, listed.values]).take(order))
        columns = {
            **self._linked(parent[order]),
            "role": "concessionnaire" if self.kind == "contrat-concession" else "titulaire",
            "modification": pa.array(modification[order], INTEGER),
            "rang": pa.array(np.concatenate([initial.rank, listed.rank])[order], INTEGER),
            "typeIdentifiant": holders["typeIdentifiant"],
            "titulaire_id": holders["id"],
            "denominationSociale": holders["denominationSociale"],
        }
        return self._table("titulaires", columns, len(order))

    def modification_rows(self) -> pa.Table:
        mods = self.modifications
        if not len(mods.parent):
            return fragment_schema("modifications").empty_table()
        listed = mods.field(self.holders_key).value_lengths()
        columns: dict[str, Any] = {
            **self._linked(mods.parent),
            "numero": pa.array(mods.rank, INTEGER),
            "titulaires_count": pc.cast(pc.if_else(pc.equal(listed, 0), None, listed), INTEGER),
        }
        schema = fragment_schema("modifications")
        for name, _ in MODIFICATION_FIELDS:
            columns[name] = _column(mods.field(name), schema.field(name).type)
        return self._table("modifications", columns, len(mods.parent))

    def actes(self) -> pa.Table:
        """Per record: its actes spéciaux de sous-traitance, then the modifications of actes."""
        found = [_Items.of(self.column(name), self.wrapper(name))
                 for name in ("actesSousTraitance", "modificationsActesSousTraitance")]  # fmt: skip
        parent = np.concatenate([items.parent for items in found])
        if not len(parent):
            return fragment_schema("actes_sous_traitance").empty_table()
        group = np.concatenate([np.full(len(items.parent), n) for n, items in enumerate(found)])
        order = np.lexsort((group, parent))
        acts = _fields(pa.concat_arrays([items.values for items in found]).take(order))
        field = acts.__getitem__
        notified = pc.coalesce(field("dateNotification"), field("dateNotificationModificationSousTraitance"))
        contractor = _fields(field("sousTraitant"))
        columns = {
            **self._linked(parent[order]),
            "acte": pa.array(np.array(["acte", "modification"])[group[order]], TEXT),
            "id": field("id"), "dureeMois": field("dureeMois"), "montant": field("montant"),
            "variationPrix": field("variationPrix"),
            "sousTraitant_typeIdentifiant": contractor["typeIdentifiant"],
            "sousTraitant_id": contractor["id"],
            "dateNotification": _dates(notified), "datePublicationDonnees": _dates(field("datePublicationDonnees")),
        }  # fmt: skip
        return self._table("actes_sous_traitance", columns, len(order))
