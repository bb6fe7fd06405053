"""The contract: one record (marché or contrat de concession) with the facts every consumer reads.

A record keeps the regulatory JSON shape of its own format (that is what the official schemas validate and
what decp.json / decp-2022.json publish). Consolidation, the quality checks and the table rows all need the
same few facts of it (its uid, its kind, its buyer, its winners, its amount, its days, its modifications, the
digest of its content): `Contract` computes them once, in one place, from the record seen in the 1.x shape
(`flat`: a 2022 record with its wrapped lists unwrapped). Nothing else decides "is this a concession?" or
builds a uid.
"""

from __future__ import annotations

import hashlib
from typing import Any, Final, Literal

import orjson

from decp_pipeline.normalize.labels import fold

Kind = Literal["marche", "contrat-concession"]
# Where the record was read from and how it is published: "1.5" (decp.json) or "2.0" (format 2022).
Version = Literal["1.5", "2.0"]
KINDS: Final = ("marche", "contrat-concession")
# The `_type` of each kind in format 1.5, and the key holding the buyer and the winners in both formats.
TYPE_OF: Final = {"marche": "Marché", "contrat-concession": "Contrat de concession"}
BUYER_KEY: Final = {"marche": "acheteur", "contrat-concession": "autoriteConcedante"}
HOLDERS_KEY: Final = {"marche": "titulaires", "contrat-concession": "concessionnaires"}
AMOUNT_KEY: Final = {"marche": "montant", "contrat-concession": "valeurGlobale"}
SIGNED_KEY: Final = {"marche": "dateNotification", "contrat-concession": "dateSignature"}


# Format 2022: lists whose items are wrapped (`"titulaires": [{"titulaire": {...}}]`), with their wrapper key.
WRAPPED_LISTS = {
    "titulaires": "titulaire",
    "modifications": "modification",
    "concessionnaires": "concessionnaire",
    "actesSousTraitance": "acteSousTraitance",
    "modificationsActesSousTraitance": "modificationActeSousTraitance",
    "donneesExecution": "donneesAnnuelles",
    "tarifs": "tarif",
}
# Objects holding one list of values.
VALUE_LISTS = {
    "techniques": "technique",
    "modalitesExecution": "modaliteExecution",
    "typesPrix": "typePrix",
    "considerationsSociales": "considerationSociale",
    "considerationsEnvironnementales": "considerationEnvironnementale",
}


def kind_of(record: Any, hint: str | None = None) -> Kind:
    """marche or contrat-concession: the element or list the record came from (`hint`), else its `_type` (in
    any case, with or without accents), else, when it has no `_type`, its buyer's or winners' key. A record
    with another `_type` is a marché (real flattened exports write `"_type": "test"`, and have marché fields)."""
    if hint in KINDS:
        return "marche" if hint == "marche" else "contrat-concession"
    if not isinstance(record, dict):
        return "marche"
    declared = record.get("_type")
    folded = fold(declared) if isinstance(declared, str) else None
    if folded == "contrat de concession":
        return "contrat-concession"
    if declared is None and ("autoriteConcedante" in record or "concessionnaires" in record):
        return "contrat-concession"
    return "marche"


def buyer_siret(record: dict[str, Any], kind: str) -> str | None:
    """The buyer's identifier (the acheteur's, or the autorité concédante's), when it is a text."""
    buyer = record.get(BUYER_KEY[kind])
    value = buyer.get("id") if isinstance(buyer, dict) else None
    return value if isinstance(value, str) else None


def uid_of(record: dict[str, Any], kind: str) -> str | None:
    """The national key of a contract: the buyer's SIRET followed by the buyer's own `id` (both texts).

    Format 1.5 defines it as `uid`; in format 1.x the `id` ends with a two-digit modification counter, so a
    uid names a version of a contract; in format 2022 the `id` is stable across modifications."""
    siret = buyer_siret(record, kind)
    contract_id = record.get("id")
    return siret + contract_id if siret is not None and isinstance(contract_id, str) else None


def digest_of(record: dict[str, Any]) -> bytes:
    """The identity of a record's content, whatever source published it (so `source` is left out)."""
    content = {k: v for k, v in record.items() if k != "source"} if "source" in record else record
    return hashlib.blake2b(orjson.dumps(content, option=orjson.OPT_SORT_KEYS), digest_size=16).digest()


def flat_view(record: dict[str, Any], kind: str) -> dict[str, Any]:
    """A 2022 record in the 1.x shape (plain lists, `_type`), for consolidation, quality checks and tables.

    Multi-valued fields (`techniques`, `typesPrix` ...) become texts joined by "; ", their values kept as lists
    under `_lists` (for the `listes` table). Never written out as a record: decp-2022.json keeps the 2022 shape.
    """
    view = _flat(record)
    view["_type"] = "Contrat de concession" if kind == "contrat-concession" else "Marché"
    view["_lists"] = {
        key: value[VALUE_LISTS[key]]
        for key, value in record.items()
        if key in VALUE_LISTS and isinstance(value, dict) and isinstance(value.get(VALUE_LISTS[key]), list)
    }
    return view


def _flat(record: dict[str, Any]) -> dict[str, Any]:
    view: dict[str, Any] = {}
    for key, value in record.items():
        if key in WRAPPED_LISTS and isinstance(value, list):
            item_key = WRAPPED_LISTS[key]
            items = [i[item_key] if isinstance(i, dict) and item_key in i else i for i in value]
            view[key] = [_flat(i) if isinstance(i, dict) else i for i in items]
        elif key in VALUE_LISTS and isinstance(value, dict):
            values = value.get(VALUE_LISTS[key])
            view[key] = "; ".join(map(str, values)) if isinstance(values, list) else values
        else:
            view[key] = value
    return view


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


def dicts(value: Any) -> list[dict[str, Any]]:
    """The objects of a list (none when the value is not a list)."""
    return [item for item in value if isinstance(item, dict)] if isinstance(value, list) else []


class Contract:
    """A normalized record with its facts. `record` is in the shape of its format `version`; `kind` is the one
    the record was normalized and validated as (the list or element it came from, else its `_type`)."""

    __slots__ = ("amount", "buyer", "concession", "flat", "holders", "kind", "lists", "modifications",
                 "published", "record", "signed", "uid", "version")  # fmt: skip

    def __init__(self, record: dict[str, Any], version: str, kind: str) -> None:
        self.record = record
        self.version = version
        self.kind = kind
        self.concession = kind == "contrat-concession"
        flat = flat_view(record, kind) if version == "2.0" else record
        self.flat = flat
        # Format 2022: the values of multi-valued fields (`techniques` ...), by field, for the `listes` table.
        self.lists: dict[str, list[Any]] = flat["_lists"] if version == "2.0" else {}
        buyer = flat.get(BUYER_KEY[kind])
        self.buyer: dict[str, Any] = buyer if isinstance(buyer, dict) else {}
        self.holders = dicts(flat.get(HOLDERS_KEY[kind]))  # the initial winners
        self.modifications = dicts(flat.get("modifications"))
        self.uid = uid_of(flat, kind)
        self.amount = flat.get(AMOUNT_KEY[kind])  # as the record gives it: checked by the schema if valid
        self.signed = _day(flat.get(SIGNED_KEY[kind]))  # notification (marché) or signature (concession) day
        self.published = _day(flat.get("datePublicationDonnees"))

    @property
    def id(self) -> Any:
        return self.flat.get("id")

    @property
    def numeric_amount(self) -> float | None:
        """The amount when it is a number (never a boolean)."""
        amount = self.amount
        if isinstance(amount, bool) or not isinstance(amount, int | float):
            return None
        return float(amount)

    def all_holders(self) -> list[dict[str, Any]]:
        """The initial winners, then those that modifications list."""
        listed = list(self.holders)
        for modification in self.modifications:
            listed.extend(self.holders_of(modification))
        return listed

    def holders_of(self, modification: dict[str, Any]) -> list[dict[str, Any]]:
        """The winners a modification lists (titulaires of a marché, concessionnaires of a concession)."""
        return dicts(modification.get(HOLDERS_KEY[self.kind]))

    def digest(self) -> bytes:
        return digest_of(self.record)

    def current(self, field: str) -> Any:
        """The value after the last modification that set it, else the initial value."""
        for modification in reversed(self.modifications):
            if modification.get(field) is not None:
                return modification[field]
        return self.flat.get(field)
