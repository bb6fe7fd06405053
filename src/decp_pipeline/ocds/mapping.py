"""One contract of the DECP (format 1.5 or 2022) as OCDS 1.1 releases: one at its notification, one per
modification. docs/ocds.md gives the mapping field by field; what has no home in OCDS goes, under its DECP name,
into the `decp` object of the contract (the decp extension, ocds/extension/).

Dates: the DECP gives days; OCDS wants date-times: a day becomes midnight of that day, in the offset the record
gives, else `Z`. A duration in months stays in months (`decp.dureeMois`): OCDS counts days, and a month has no
one length in days. Nothing is computed that the record does not say.
"""

from __future__ import annotations

import re
from typing import Any, Final

from decp_pipeline.models.contract import AMOUNT_KEY, SIGNED_KEY, Contract

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
# Winners' typeIdentifiant → org-id scheme. A SIRET (or SIREN) is in France's company register list, FR-RCS
# (org-id.guide has no FR-SIRET); the other kinds have no org-id list: their DECP name is the scheme.
SCHEMES: Final = {"SIRET": "FR-RCS"}
BUYER_SCHEME: Final = "FR-RCS"  # acheteur.id and autoriteConcedante.id are SIRETs (the schemas' pattern)
# The record's fields the mapping places in OCDS itself; every other field goes to `decp` as it is.
MAPPED: Final = frozenset({
    "id", "uid", "acheteur", "autoriteConcedante", "objet", "codeCPV", "procedure", "datePublicationDonnees",
    "dateNotification", "dateSignature", "dateDebutExecution", "montant", "valeurGlobale", "titulaires",
    "concessionnaires", "modifications", "offresRecues",
})  # fmt: skip
MODIFICATION_MAPPED: Final = frozenset({
    "id", "objetModification", "datePublicationDonneesModification", "dateNotificationModification",
    "dateSignatureModification", "montant", "valeurGlobale", "titulaires", "concessionnaires",
})  # fmt: skip
_DAY = re.compile(r"^(\d{4}-\d{2}-\d{2})(Z|[+-]\d{2}:\d{2})?$")
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def date_time(value: Any) -> str | None:
    """A DECP day (`2019-01-29`, `2019-01-29+01:00`) as an OCDS date-time; None when it is not one."""
    if not isinstance(value, str):
        return None
    if _DATE_TIME.match(value):
        return value
    day = _DAY.match(value)
    return f"{day[1]}T00:00:00{day[2] or 'Z'}" if day else None


def value_of(amount: Any) -> dict[str, Any] | None:
    if isinstance(amount, bool) or not isinstance(amount, int | float):
        return None
    return {"amount": amount, "currency": "EUR"}


def releases(contract: Contract, ocid: str) -> list[dict[str, Any]]:
    """The releases of one valid contract, initial first then one per modification in the record's order.

    Raises ValueError when its publication day is no date (no release can be dated)."""
    initial = _initial(contract, ocid)
    history = _History(contract, ocid, initial)
    return [initial, *(history.amendment(n, m) for n, m in enumerate(contract.modifications, start=1))]


def _initial(contract: Contract, ocid: str) -> dict[str, Any]:
    flat, kind = contract.flat, contract.kind
    date = date_time(flat.get("datePublicationDonnees"))
    if date is None:
        raise ValueError("datePublicationDonnees is not a date")
    parties: dict[str, dict[str, Any]] = {}
    buyer = _party(parties, contract.buyer, BUYER_SCHEME, "buyer" if kind == "marche" else "procuringEntity")
    suppliers = _suppliers(parties, contract.holders)
    release: dict[str, Any] = {
        "ocid": ocid, "id": f"{ocid}-00", "date": date, "tag": ["award", "contract"], "initiationType": "tender",
        "language": "fr", "parties": list(parties.values()), "tender": _tender(contract, buyer),
    }  # fmt: skip
    if buyer is not None and kind == "marche":
        release["buyer"] = buyer
    award_id = flat.get("id")
    award = _some({"id": award_id, "status": "active", "date": date_time(flat.get("dateNotification")),
                   "value": value_of(contract.amount), "suppliers": suppliers})  # fmt: skip
    release["awards"] = [award]
    release["contracts"] = [_contract(contract)]
    return _some(release)


def _tender(contract: Contract, buyer: dict[str, Any] | None) -> dict[str, Any]:
    flat = contract.flat
    procedure = flat.get("procedure")
    return _some({
        "id": flat.get("id"),
        "procurementMethod": METHODS.get(procedure) if isinstance(procedure, str) else None,
        "procurementMethodDetails": procedure if isinstance(procedure, str) else None,
        "mainProcurementCategory": CATEGORIES.get(str(flat.get("nature"))) if contract.concession else None,
        "numberOfTenderers": flat.get("offresRecues"),
        "procuringEntity": buyer if contract.concession else None,
    })  # fmt: skip


def _contract(contract: Contract) -> dict[str, Any]:
    flat = contract.flat
    cpv = flat.get("codeCPV")
    items = [{"id": "1", "classification": {"scheme": "CPV", "id": cpv}}] if isinstance(cpv, str) else None
    extension = {key: value if not isinstance(value, dict | list) else _clean(value)
                 for key, value in flat.items() if key not in MAPPED and key != "_lists"}  # fmt: skip
    extension.update(contract.lists)  # 2022's multi-valued fields as lists of values, not joined texts
    if contract.version == "2.0":
        extension.pop("_type", None)  # the 1.x shape's, not the record's
    return _some({
        "id": flat.get("id"),
        "awardID": flat.get("id"),
        "description": flat.get("objet"),
        "value": value_of(contract.amount),
        "dateSigned": date_time(flat.get(SIGNED_KEY[contract.kind])) if contract.concession else None,
        "period": _some({"startDate": date_time(flat.get("dateDebutExecution"))}),
        "items": items,
        "decp": _some(extension),
    })  # fmt: skip


class _History:
    """What the releases of a contract said so far: the last release's id, the award the contract points to and
    its suppliers, every party's roles (a party's roles are one list, replaced whole when releases are merged)."""

    def __init__(self, contract: Contract, ocid: str, initial: dict[str, Any]) -> None:
        self.contract, self.ocid = contract, ocid
        self.previous = initial["id"]
        award = initial["awards"][0]
        self.award_id, self.suppliers = award["id"], [s["id"] for s in award.get("suppliers", [])]
        self.roles = {party["id"]: party["roles"] for party in initial.get("parties", [])}

    def amendment(self, number: int, modification: dict[str, Any]) -> dict[str, Any]:
        """The release of one modification: its amendment, the changed amount and duration; other winners than
        the current award's as a new award, which the contract points to from then on."""
        contract, release_id = self.contract, f"{self.ocid}-{number:02d}"
        signed = date_time(modification.get("dateNotificationModification",
                                            modification.get("dateSignatureModification")))  # fmt: skip
        date = date_time(modification.get("datePublicationDonneesModification")) or signed
        if date is None:
            raise ValueError(f"modification {number}: datePublicationDonneesModification is not a date")
        rest = {k: v for k, v in modification.items() if k not in MODIFICATION_MAPPED and k != "dureeMois"}
        amendment = _some({"id": str(modification.get("id", number)), "date": signed,
                           "description": modification.get("objetModification"), "amendsReleaseID": self.previous,
                           "releaseID": release_id, "decp": _clean(rest)})  # fmt: skip
        release: dict[str, Any] = {"ocid": self.ocid, "id": release_id, "date": date, "tag": ["contractAmendment"],
                                   "initiationType": "tender", "language": "fr"}  # fmt: skip
        parties: dict[str, dict[str, Any]] = {}
        suppliers = _suppliers(parties, contract.holders_of(modification))
        if suppliers and {s["id"] for s in suppliers} != set(self.suppliers):
            for party_id, party in parties.items():
                party["roles"] = self.roles[party_id] = sorted({*self.roles.get(party_id, []), *party["roles"]})
            self.award_id, self.suppliers = f"{contract.flat.get('id')}-{number:02d}", [s["id"] for s in suppliers]
            release["tag"].append("awardUpdate")
            release["parties"] = list(parties.values())
            release["awards"] = [_some({"id": self.award_id, "status": "active", "date": signed,
                                        "suppliers": suppliers})]  # fmt: skip
        release["contracts"] = [_some({
            "id": contract.flat.get("id"), "awardID": self.award_id, "amendments": [amendment],
            "value": value_of(modification.get(AMOUNT_KEY[contract.kind])),
            "decp": _some({"dureeMois": modification.get("dureeMois")}),
        })]  # fmt: skip
        self.previous = release_id
        return release


def _party(parties: dict[str, dict[str, Any]], organization: dict[str, Any], scheme: str, role: str
           ) -> dict[str, Any] | None:  # fmt: skip
    """Add an organization with `role` to `parties` (one entry per id, its roles gathered); its reference."""
    identifier = organization.get("id")
    if not isinstance(identifier, str | int) or isinstance(identifier, bool):
        return None
    party_id = f"{scheme}-{identifier}"
    name = organization.get("nom", organization.get("denominationSociale"))
    party = parties.get(party_id)
    if party is None:
        party = _some({"id": party_id, "name": name, "identifier": {"scheme": scheme, "id": str(identifier)}})
        party["roles"] = []
        parties[party_id] = party
    if role not in party["roles"]:
        party["roles"].append(role)
    return _some({"id": party_id, "name": party.get("name")})


def _suppliers(parties: dict[str, dict[str, Any]], holders: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The winners as supplier parties; their references, once each."""
    found: dict[str, dict[str, Any]] = {}
    for holder in holders:
        kind = holder.get("typeIdentifiant")
        scheme = SCHEMES.get(kind, kind) if isinstance(kind, str) else "DECP"
        reference = _party(parties, holder, scheme, "supplier")
        if reference is not None:
            found.setdefault(reference["id"], reference)
    return list(found.values())


def _some(fields: dict[str, Any]) -> dict[str, Any]:
    """The object without its None, empty lists and empty objects (OCDS merging drops them: a release that held
    them would differ from its compiled record). One level: the mapping builds each level with it."""
    return {
        key: value for key, value in fields.items() if value or not (value is None or isinstance(value, list | dict))
    }


def _clean(value: Any) -> Any:
    """A value of the record without its None, empty lists and empty objects, at every depth (in lists of
    objects too): what the record gives for the decp extension. None when nothing is left."""
    if isinstance(value, dict):
        kept = {key: cleaned for key, item in value.items() if (cleaned := _clean(item)) is not None}
        return kept or None
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return [cleaned for item in value if (cleaned := _clean(item)) is not None] or None
    return None if value is None or value == [] else value
