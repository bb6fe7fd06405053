"""The releases of a contract's modifications: each its amendment (date, object, the releases before and after
it), the changed amount (`value`) and duration (`decp.dureeMois`); winners other than the current award's (or
named otherwise) as a new award, which the contract points to from then on."""

from __future__ import annotations

from typing import Any, Final

from decp_pipeline.models.contract import AMOUNT_KEY, HOLDERS_KEY, Contract
from decp_pipeline.ocds.parties import Parties
from decp_pipeline.ocds.values import clean, date_time, some, value_of

SIGNED: Final = {"marche": "dateNotificationModification", "contrat-concession": "dateSignatureModification"}
PUBLISHED: Final = "datePublicationDonneesModification"
# A modification's fields placed in OCDS, by kind (`dureeMois` goes to the contract's `decp`); the others, its
# DECP `id` among them, go to its amendment's `decp` as they are.
MAPPED: Final = {
    kind: frozenset({"objetModification", PUBLISHED, SIGNED[kind], AMOUNT_KEY[kind], HOLDERS_KEY[kind], "dureeMois"})
    for kind in SIGNED
}


class History:
    """What the releases of a contract said so far: the last release's id, the award the contract points to and
    its suppliers, the parties' roles."""

    def __init__(self, contract: Contract, ocid: str, initial: dict[str, Any], roles: dict[str, list[str]]) -> None:
        self.contract, self.ocid, self.roles = contract, ocid, roles
        self.previous = initial["id"]
        award = initial["awards"][0]
        self.award_id, self.suppliers = award["id"], award.get("suppliers", [])

    def amendment(self, number: int, modification: dict[str, Any]) -> dict[str, Any] | None:
        """The release `<ocid>-<number>` of one modification; None when its publication day is no date (no
        release can be dated: the caller keeps the modification as published)."""
        date = date_time(modification.get(PUBLISHED))
        if date is None:
            return None
        kind, release_id = self.contract.kind, f"{self.ocid}-{number:02d}"
        signed = date_time(modification.get(SIGNED[kind]))
        rest = {k: v for k, v in modification.items() if k not in MAPPED[kind]}
        if modification.get(SIGNED[kind]) is not None and signed is None:
            rest[SIGNED[kind]] = modification[SIGNED[kind]]  # a date that is no date, kept as published
        release: dict[str, Any] = {"ocid": self.ocid, "id": release_id, "date": date, "tag": ["contractAmendment"],
                                   "initiationType": "tender", "language": "fr"}  # fmt: skip
        folded = self._winners(release, number, modification, signed)
        if folded:
            rest[HOLDERS_KEY[kind]] = clean(modification[HOLDERS_KEY[kind]])
        amendment = some({"id": str(number), "date": signed, "description": modification.get("objetModification"),
                          "amendsReleaseID": self.previous, "releaseID": release_id, "decp": clean(rest)})  # fmt: skip
        release["contracts"] = [some({
            "id": self.contract.flat.get("id"), "awardID": self.award_id, "amendments": [amendment],
            "value": value_of(modification.get(AMOUNT_KEY[kind])),
            "decp": some({"dureeMois": modification.get("dureeMois")}),
        })]  # fmt: skip
        self.previous = release_id
        return release

    def _winners(self, release: dict[str, Any], number: int, modification: dict[str, Any], signed: str | None
                 ) -> bool:  # fmt: skip
        """Winners other than the current award's, or named otherwise: a new award in `release`. Whether one
        was listed twice under one id (folded)."""
        parties = Parties(self.roles)
        suppliers, folded = parties.suppliers(self.contract.holders_of(modification))
        if suppliers and _named(suppliers) != _named(self.suppliers):
            self.award_id, self.suppliers = f"{self.contract.flat.get('id')}-{number:02d}", suppliers
            release["tag"].append("awardUpdate")
            release["parties"] = parties.listed()
            release["awards"] = [some({"id": self.award_id, "status": "active", "date": signed,
                                       "suppliers": suppliers})]  # fmt: skip
        return folded


def _named(references: list[dict[str, Any]]) -> set[tuple[str, Any]]:
    return {(reference["id"], reference.get("name")) for reference in references}
