"""One record per contract across sources: the rules, in plain Python. This module is the reference;
`columnar.py` applies the same rules to a million records at once, and a property test proves that both give
every record the fate the other gives it.

Rules, applied to the valid records of every source (docs/build.md), in two steps:

1. The copies of one record: the same kind, buyer and `id` (`contract_key`). Their winner is kept; each other
   copy is an **exact-copy** (the same content, whatever its `source`, as a better-ranked copy) or a
   **same-uid** one (another content).
2. The versions of one contract, among the winners of step 1 (`version_key`): in format 1.x the last two
   characters of `id` count the contract's modifications, so `2019DEM00100` (no modification) and
   `2019DEM00101` (one) are two **version**s of one contract: only the latest is kept. The suffix is stripped
   only when it equals the record's number of modifications (`2019AIFE0001` with no modification is not a
   version of anything), and two versions always have the same initial amount and initial holders, which an
   amendment does not change (it carries the new values in its modification): the key alone merges nothing.
   On the real 2019 files this keeps apart `2018511551` and `201851155100` of one buyer (two holders, two
   amounts) and the lots `2018M18414GR00` / `GR01` (260,000 € and 20,000 €), and still merges `2018J1215A`
   with `2018J1215A00` (PES: the same amount and holder, the object corrected).

The winner is the most recent copy: the latest of `datePublicationDonnees` and the dates of its modifications;
then the most modifications; then the source's `priority`; then the first read (the order of sources by
priority, then of files, then of records). Each dropped copy is counted against its own source and rule.
Records of different contracts that look alike across sources (same buyer, notification date, amount and
winners: `near_key`) are flagged, never dropped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
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
    """The record a record is a copy of: its kind, buyer SIRET and `id`."""
    return f"{'C' if contract.concession else 'M'}|{contract.buyer.get('id', '')}|{contract.flat.get('id', '')}"


def version_key(contract: Contract) -> str:
    """The contract a 1.x record is a version of: its id without the version suffix (when the suffix counts
    its modifications), and the values its versions share: the initial amount and the initial holders (not the
    object, which publishers correct: `l?imprimerie` in `2018J1215A`, `l'Imprimerie` in `2018J1215A00`). A
    format 2022 record is a version of nothing but itself (its id is stable across modifications)."""
    if contract.version == "2.0":
        return contract_key(contract)
    contract_id = str(contract.flat.get("id", ""))
    if len(contract_id) > 2 and contract_id[-2:] == f"{len(contract.modifications):02d}":
        contract_id = contract_id[:-2]
    holders = sorted(str(holder.get("id", "")) for holder in contract.holders)
    shared = _hash((contract.numeric_amount, holders)).hex()
    return f"{'C' if contract.concession else 'M'}|{contract.buyer.get('id', '')}|{contract_id}|{shared}"


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
    version_key: str = ""

    @classmethod
    def of(cls, contract: Contract) -> Facts:
        near = near_key(contract)
        return cls(
            key=contract_key(contract),
            version_key=version_key(contract),
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
    version_key: str = ""  # empty: the copy's `key`


def fates(copies: Sequence[Copy]) -> list[str | None]:
    """The fate of each copy (in the order given): KEPT, or the rule that dropped it."""
    fate: dict[int, str | None] = {}
    winners = []
    for group in _groups(copies, lambda c: c.key):  # 1. the copies of one record
        ranked = sorted(group, key=_rank)
        winner = ranked[0]
        winners.append(winner)
        seen = {winner.digest}
        for copy in ranked[1:]:
            if copy.digest in seen:
                fate[copy.order] = "exact-copy"
            elif copy.uid is not None and copy.uid == winner.uid:
                fate[copy.order] = "same-uid"
            else:
                fate[copy.order] = "version"
            seen.add(copy.digest)
    for group in _groups(winners, lambda c: c.version_key or c.key):  # 2. the versions of one contract
        ranked = sorted(group, key=_rank)
        fate[ranked[0].order] = KEPT
        fate.update((copy.order, "version") for copy in ranked[1:])
    return [fate[copy.order] for copy in copies]


def _groups(copies: Sequence[Copy], key: Callable[[Copy], str]) -> list[list[Copy]]:
    by_key: dict[str, list[Copy]] = {}
    for copy in copies:
        by_key.setdefault(key(copy), []).append(copy)
    return list(by_key.values())


def _rank(copy: Copy) -> tuple[Any, ...]:
    return (_desc(copy.recency), -copy.modifications, -copy.priority, copy.order)


def _desc(text: str) -> tuple[int, ...]:
    """A sort key ordering texts in descending order."""
    return (*(-ord(char) for char in text), 1)
