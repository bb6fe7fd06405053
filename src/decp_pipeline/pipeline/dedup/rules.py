"""One record per contract across sources: the rules, in plain Python. This module is the reference;
`columnar.py` applies the same rules to a million records at once, and a property test proves that both give
every record the same fate.

Rules, applied to the valid records of every source (docs/build.md):

- **exact-copy**: the same content (whatever its `source`) as a better-ranked copy of the same contract;
- **same-uid**: the same `uid` as the contract's winner, with a different content;
- **version**: in format 1.x the last two characters of `id` count the contract's modifications, so
  `2019DEM00100` (no modification) and `2019DEM00101` (one) are two versions of one contract: only the latest
  is kept. The suffix is stripped only when it equals the record's number of modifications (`2019AIFE0001`
  with no modification is not a version of anything).

The winner of a contract is its most recent copy: the latest of `datePublicationDonnees` and the dates of
its modifications; then the most modifications; then the source's `priority`; then the first read (the order
of sources by priority, then of files, then of records). Each dropped copy is counted against its own source
and rule. Records of different contracts that look alike across sources (same buyer, notification date,
amount and winners: `near_key`) are flagged, never dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from decp_pipeline.models.contract import Contract

MODIFICATION_DATES: Final = (
    "datePublicationDonneesModification",
    "dateNotificationModification",
    "dateSignatureModification",
)
# A record's fate: kept (None) or the rule that dropped it; the columnar engine uses the index in RULES.
KEPT: Final = None
RULES: Final = (KEPT, "exact-copy", "same-uid", "version")


def contract_key(contract: Contract) -> str:
    """The contract a record is a version of: kind, buyer SIRET and `id` without its 1.x version suffix
    (format 2022 ids are stable across modifications: nothing is stripped)."""
    contract_id = str(contract.flat.get("id", ""))
    count = f"{len(contract.modifications):02d}"
    if contract.version != "2.0" and len(contract_id) > 2 and contract_id[-2:] == count:
        contract_id = contract_id[:-2]
    return f"{'C' if contract.concession else 'M'}|{contract.buyer.get('id', '')}|{contract_id}"


def recency(contract: Contract) -> str:
    """The latest publication date of the record or of its modifications (YYYY-MM-DD, time zone ignored)."""
    dates = [str(contract.flat.get("datePublicationDonnees", ""))[:10]]
    for modification in contract.modifications:
        dates.extend(str(modification.get(name, ""))[:10] for name in MODIFICATION_DATES)
    return max(dates)


def near_key(contract: Contract) -> tuple[Any, ...] | None:
    """Same buyer, notification (signature) date, amount and winners: probably one contract under two ids."""
    buyer = contract.buyer.get("id")
    winners = tuple(sorted(str(holder.get("id")) for holder in contract.holders))
    date = contract.flat.get("dateSignature" if contract.concession else "dateNotification")
    amount = contract.amount
    if not (buyer and date and winners and amount is not None):
        return None
    return (buyer, str(date)[:10], float(amount), winners)


def _hash(value: Any) -> bytes:
    return hashlib.blake2b(repr(value).encode(), digest_size=16).digest()


@dataclass
class Facts:
    """What consolidation needs of one valid record, cached with it (one row of the file's meta table)."""

    key: str
    uid: str | None
    recency: str
    modifications: int
    near: bytes | None  # a hash of near_key

    @classmethod
    def of(cls, contract: Contract) -> Facts:
        near = near_key(contract)
        return cls(
            key=contract_key(contract),
            uid=contract.uid,
            recency=recency(contract),
            modifications=len(contract.modifications),
            near=_hash(near) if near is not None else None,
        )


@dataclass(frozen=True)
class Copy:
    """One valid record offered to consolidation, in reading order (`order`)."""

    key: str
    recency: str
    modifications: int
    priority: int
    order: int
    digest: bytes
    uid: str | None


def fates(copies: Sequence[Copy]) -> list[str | None]:
    """The fate of each copy (in the order given): KEPT, or the rule that dropped it."""
    by_key: dict[str, list[Copy]] = {}
    for copy in copies:
        by_key.setdefault(copy.key, []).append(copy)
    fate: dict[int, str | None] = {}
    for group in by_key.values():
        ranked = sorted(group, key=lambda c: (_desc(c.recency), -c.modifications, -c.priority, c.order))
        winner = ranked[0]
        fate[winner.order] = KEPT
        seen = {winner.digest}
        for copy in ranked[1:]:
            if copy.digest in seen:
                fate[copy.order] = "exact-copy"
            elif copy.uid is not None and copy.uid == winner.uid:
                fate[copy.order] = "same-uid"
            else:
                fate[copy.order] = "version"
            seen.add(copy.digest)
    return [fate[copy.order] for copy in copies]


def _desc(text: str) -> tuple[int, ...]:
    """A sort key ordering texts in descending order."""
    return (*(-ord(char) for char in text), 1)
