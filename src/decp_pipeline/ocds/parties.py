"""The organizations of a contract as OCDS parties: one party per identifier, its roles gathered, its DECP fields
beyond id and name in `details`; the references (`buyer`, `suppliers`) name each organization as its record does.

Party ids are `<scheme>-<identifier>`. A SIRET (buyer, autorité concédante, a winner with `typeIdentifiant`
SIRET) is in France's company register list of org-id.guide, FR-RCS (SIREN numbers; it has no FR-SIRET list);
the other kinds (TVA, TAHITI, RIDET, FRWF, IREP, UE, HORS-UE) have no org-id list: their DECP name is the scheme.
"""

from __future__ import annotations

from typing import Any, Final

from decp_pipeline.ocds.values import clean, some

SCHEMES: Final = {"SIRET": "FR-RCS"}
BUYER_SCHEME: Final = "FR-RCS"  # acheteur.id and autoriteConcedante.id are SIRETs (the schemas' pattern)
NAMES: Final = ("nom", "denominationSociale")
MAPPED: Final = frozenset({"id", "typeIdentifiant", *NAMES})


class Parties:
    """The parties of one release; `roles`: every party's roles in the releases before (a party's roles are one
    list, replaced whole when releases are merged: each release gives them all)."""

    def __init__(self, roles: dict[str, list[str]] | None = None) -> None:
        self.found: dict[str, dict[str, Any]] = {}
        self.roles = roles if roles is not None else {}

    def add(self, organization: dict[str, Any], scheme: str, role: str) -> dict[str, Any] | None:
        """The organization with `role`; its reference (None when it has no identifier)."""
        identifier = organization.get("id")
        if not isinstance(identifier, str | int) or isinstance(identifier, bool):
            return None
        party_id = f"{scheme}-{identifier}"
        name = next((organization[n] for n in NAMES if isinstance(organization.get(n), str)), None)
        party = self.found.get(party_id)
        if party is None:
            party = self.found[party_id] = some({"id": party_id, "name": name,
                                                 "identifier": {"scheme": scheme, "id": str(identifier)}})  # fmt: skip
            party["roles"] = list(self.roles.get(party_id, []))
        if len(organization) > len(MAPPED) or any(key not in MAPPED for key in organization):  # rare: extra fields
            details = clean({k: v for k, v in organization.items() if k not in MAPPED})
            if details:
                party["details"] = {**party.get("details", {}), **details}
        if role not in party["roles"]:
            party["roles"] = sorted({*party["roles"], role})
        self.roles[party_id] = party["roles"]
        return some({"id": party_id, "name": name})

    def suppliers(self, holders: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], bool]:
        """The winners as supplier parties: their references, once each, and whether a winner listed twice under
        one id was folded (then the caller keeps the list as published, in `decp`)."""
        found: dict[str, dict[str, Any]] = {}
        folded = False
        for holder in holders:
            kind = holder.get("typeIdentifiant")
            scheme = SCHEMES.get(kind, kind) if isinstance(kind, str) else "DECP"
            reference = self.add(holder, scheme, "supplier")
            if reference is not None:
                folded = folded or reference["id"] in found
                found.setdefault(reference["id"], reference)
        return list(found.values()), folded

    def listed(self) -> list[dict[str, Any]]:
        return list(self.found.values())
