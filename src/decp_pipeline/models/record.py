"""A record as the pipeline carries it: the regulatory JSON shape of its format version, with its provenance.

A record is kept as parsed (a dict with the regulation's field names), because that shape is what the
official schemas validate and what `decp.json` / `decp-2022.json` publish: converting every record to an
object model and back would cost time on 1.5 million records and could only lose fields. Its typed
counterpart is `decp15.Marche`, `decp15.ContratConcession`, `decp2022.Marche` or
`decp2022.ContratConcession`, which `typed.typed_verdict` decodes it into.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Kind = Literal["marche", "contrat-concession"]
FormatVersion = Literal["1.5", "2.0"]

# The key holding the buyer of each kind of contract, in both versions.
BUYER_KEY: dict[str, str] = {"marche": "acheteur", "contrat-concession": "autoriteConcedante"}


def make_uid(buyer_siret: str, contract_id: str) -> str:
    """The national key of a contract: the buyer's SIRET followed by the buyer's own `id`.

    Format 1.5 defines it as `uid` (pattern `^[0-9]{14}.{7,16}$`); for a concession the buyer is the
    `autoriteConcedante`. In format 1.5 the `id` ends with a two-digit modification counter, so a uid names
    a version of a contract; in format 2022 the `id` is stable across modifications.
    """
    return f"{buyer_siret}{contract_id}"


@dataclass(slots=True)
class Record:
    """One contract (marché or contrat de concession) in its regulatory shape, with where it came from."""

    kind: Kind
    version: FormatVersion
    data: dict[str, Any]  # the record as read or as normalized, in the JSON shape of `version`
    source: str | None = None  # sources.yaml id
    file: str | None = None  # the file it was read from
    position: int | None = None  # 1-based ordinal of the record in that file

    @property
    def id(self) -> str | None:
        value = self.data.get("id")
        return value if isinstance(value, str) else None

    @property
    def buyer_id(self) -> str | None:
        buyer = self.data.get(BUYER_KEY[self.kind])
        value = buyer.get("id") if isinstance(buyer, dict) else None
        return value if isinstance(value, str) else None

    @property
    def uid(self) -> str | None:
        if self.id is None or self.buyer_id is None:
            return None
        return make_uid(self.buyer_id, self.id)
