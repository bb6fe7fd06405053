"""One contract of the DECP (format 1.5 or 2022) as OCDS 1.1 releases: one at its notification, one per
modification (ocds/amendments.py). docs/ocds.md gives the mapping field by field; what has no home in OCDS goes,
under its DECP name and as published, into the `decp` object of the contract (the decp extension,
ocds/extension/), and so does a mapped value the mapping cannot read (a date that is no date).

Dates: the DECP gives days; OCDS wants date-times: a day becomes midnight of that day, in the offset the record
gives, else `Z`. A duration in months stays in months (`decp.dureeMois`): OCDS counts days, and a month has no
one length in days. Nothing is computed that the record does not say.
"""

from __future__ import annotations

from typing import Any, Final

from decp_pipeline.models.contract import Contract
from decp_pipeline.ocds.amendments import History
from decp_pipeline.ocds.parties import BUYER_SCHEME, Parties
from decp_pipeline.ocds.values import clean, date_time, some, value_of

# procedure → tender.procurementMethod, where the label has one reading (the label itself is always kept, as
# procurementMethodDetails). A procédure adaptée is whatever the buyer makes it: no method.
METHODS: Final = {
    "Appel d'offres ouvert": "open",
    "Appel d'offres restreint": "selective",
    "Procédure avec négociation": "selective",
    "Dialogue compétitif": "selective",
    "Marché passé sans publicité ni mise en concurrence préalable": "limited",
    "Procédure négociée ouverte": "open",
    "Procédure non négociée ouverte": "open",
    "Procédure négociée restreinte": "selective",
    "Procédure non négociée restreinte": "selective",
}
# A concession's nature → tender.mainProcurementCategory (a marché's nature says nothing of it).
CATEGORIES: Final = {
    "Concession de travaux": "works",
    "Concession de service": "services",
    "Concession de service public": "services",
    "Délégation de service public": "services",
}
# The record's fields the mapping places in OCDS itself, by kind; every other field goes to `decp` as it is
# (a marché's `valeurGlobale` too: it is no field of a marché).
COMMON: Final = frozenset({"id", "objet", "codeCPV", "procedure", "datePublicationDonnees", "modifications",
                           "offresRecues"})  # fmt: skip
MAPPED: Final = {
    "marche": COMMON | {"acheteur", "dateNotification", "montant", "titulaires"},
    "contrat-concession": COMMON | {"autoriteConcedante", "dateSignature", "dateDebutExecution", "valeurGlobale",
                                    "concessionnaires"},
}  # fmt: skip
DATES: Final = ("dateNotification", "dateSignature", "dateDebutExecution")  # kept in `decp` when unreadable


def ocid_of(prefix: str, contract: Contract) -> str | None:
    """`<prefix>-<uid>` for a marché, `<prefix>-concession-<uid>` for a concession (a marché and a concession may
    share a uid: the deduplication keeps both); None without a uid."""
    if contract.uid is None:
        return None
    return f"{prefix}-concession-{contract.uid}" if contract.concession else f"{prefix}-{contract.uid}"


def releases(contract: Contract, ocid: str) -> list[dict[str, Any]]:
    """The releases of one valid contract, initial first then one per dated modification in the record's order
    (a modification whose publication day cannot be read is kept in the first release's `decp.modifications`).

    Raises ValueError when the contract's publication day is no date (no release can be dated)."""
    initial, parties = _initial(contract, ocid)
    history = History(contract, ocid, initial, parties.roles)
    found = [initial]
    undated = []
    for modification in contract.modifications:
        release = history.amendment(len(found), modification)
        if release is None:
            undated.append(modification)
        else:
            found.append(release)
    if undated:
        initial["contracts"][0].setdefault("decp", {})["modifications"] = undated
    return found


def _initial(contract: Contract, ocid: str) -> tuple[dict[str, Any], Parties]:
    flat = contract.flat
    date = date_time(flat.get("datePublicationDonnees"))
    if date is None:
        raise ValueError("datePublicationDonnees is not a date")
    parties = Parties()
    buyer = parties.add(contract.buyer, BUYER_SCHEME, "procuringEntity" if contract.concession else "buyer")
    suppliers, folded = parties.suppliers(contract.holders)
    release: dict[str, Any] = {
        "ocid": ocid, "id": f"{ocid}-00", "date": date, "tag": ["award", "contract"], "initiationType": "tender",
        "language": "fr", "parties": parties.listed(), "tender": _tender(contract, buyer),
    }  # fmt: skip
    if buyer is not None and not contract.concession:
        release["buyer"] = buyer
    award = some({"id": flat.get("id"), "status": "active", "date": date_time(flat.get("dateNotification")),
                  "value": value_of(contract.amount), "suppliers": suppliers})  # fmt: skip
    release["awards"] = [award]
    release["contracts"] = [_contract(contract, folded)]
    return some(release), parties


def _tender(contract: Contract, buyer: dict[str, Any] | None) -> dict[str, Any]:
    flat = contract.flat
    procedure = flat.get("procedure")
    return some({
        "id": flat.get("id"),
        "procurementMethod": METHODS.get(procedure) if isinstance(procedure, str) else None,
        "procurementMethodDetails": procedure if isinstance(procedure, str) else None,
        "mainProcurementCategory": CATEGORIES.get(str(flat.get("nature"))) if contract.concession else None,
        "numberOfTenderers": flat.get("offresRecues"),
        "procuringEntity": buyer if contract.concession else None,
    })  # fmt: skip


def _contract(contract: Contract, folded: bool) -> dict[str, Any]:
    """contracts[0] of the first release; `folded`: a winner was listed twice under one id (the list is kept)."""
    flat, mapped = contract.flat, MAPPED[contract.kind]
    cpv = flat.get("codeCPV")
    items = [{"id": "1", "classification": {"scheme": "CPV", "id": cpv}}] if isinstance(cpv, str) else None
    return some({
        "id": flat.get("id"),
        "awardID": flat.get("id"),
        "description": flat.get("objet"),
        "value": value_of(contract.amount),
        "dateSigned": date_time(flat.get("dateSignature")) if contract.concession else None,
        "period": some({"startDate": date_time(flat.get("dateDebutExecution")) if contract.concession else None}),
        "items": items,
        "decp": some(_extension(contract, mapped, folded)),
    })  # fmt: skip


def _extension(contract: Contract, mapped: frozenset[str], folded: bool) -> dict[str, Any]:
    """The record's fields for `decp`: those OCDS has no place for, the dates it cannot read, a `uid` other than
    the buyer's SIRET and id, the winners' list when one was folded."""
    flat = contract.flat
    extension = {key: value if not isinstance(value, dict | list) else clean(value)
                 for key, value in flat.items() if key not in mapped and key not in ("_lists", "uid")}  # fmt: skip
    extension.update(contract.lists)  # 2022's multi-valued fields as lists of values, not joined texts
    if contract.version == "2.0":
        extension.pop("_type", None)  # the 1.x shape's, not the record's
    for key in DATES:
        if key in mapped and flat.get(key) is not None and date_time(flat[key]) is None:
            extension[key] = flat[key]
    if flat.get("uid") is not None and flat["uid"] != contract.uid:
        extension["uid"] = flat["uid"]
    holders = "concessionnaires" if contract.concession else "titulaires"
    if folded:
        extension[holders] = clean(flat[holders])
    return extension
