"""One record per contract across sources: which copy wins, and why the others were dropped.

Rules, applied to the valid records of every source (docs/build.md):

- **exact-copy**: the same content (whatever its `source`) → one record;
- **same-uid**: the same `uid` with a different content → the most recent publication wins;
- **version**: in format 1.x the last two characters of `id` count the contract's modifications, so
  `2019DEM00100` (no modification) and `2019DEM00101` (one) are two versions of one contract: only the latest
  is kept. The suffix is stripped only when it equals the record's number of modifications (`2019AIFE0001`
  with no modification is not a version of anything).

"Most recent" is the latest of `datePublicationDonnees` and the dates of the record's modifications; then the
most modifications; then the source's `priority`; then the first read (the order of sources by priority, then
of files). Each dropped copy is counted against its own source and rule. Records of different contracts that
look alike across sources (same buyer, notification date, amount and winners) are flagged, never dropped.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from decp_pipeline.normalize.v2 import flat_view

MODIFICATION_DATES = (
    "datePublicationDonneesModification",
    "dateNotificationModification",
    "dateSignatureModification",
)
MAX_EXAMPLES = 20


def contract_key(record: dict[str, Any], *, versioned_id: bool = True) -> str:
    """The contract a record is a version of: kind, buyer SIRET and `id` without its 1.x version suffix.

    Format 2022 ids are stable across modifications (`versioned_id=False`): nothing is stripped."""
    concession = record.get("_type") == "Contrat de concession"
    buyer = record.get("autoriteConcedante" if concession else "acheteur") or {}
    contract_id = str(record.get("id", ""))
    modifications = record.get("modifications") or []
    if versioned_id and len(contract_id) > 2 and contract_id[-2:] == f"{len(modifications):02d}":
        contract_id = contract_id[:-2]
    return f"{'C' if concession else 'M'}|{buyer.get('id', '')}|{contract_id}"


def recency(record: dict[str, Any]) -> str:
    """The latest publication date of the record or of its modifications (YYYY-MM-DD, time zone ignored)."""
    dates = [str(record.get("datePublicationDonnees", ""))[:10]]
    for modification in record.get("modifications") or []:
        if isinstance(modification, dict):
            dates.extend(str(modification.get(name, ""))[:10] for name in MODIFICATION_DATES)
    return max(dates)


def near_key(record: dict[str, Any]) -> tuple[Any, ...] | None:
    """Same buyer, notification date, amount and winners: probably one contract under two ids."""
    buyer = record.get("acheteur") or record.get("autoriteConcedante") or {}
    holders = record.get("titulaires") or record.get("concessionnaires") or []
    winners = tuple(sorted(str(h.get("id")) for h in holders if isinstance(h, dict)))
    date = record.get("dateNotification") or record.get("dateSignature")
    amount = record.get("montant", record.get("valeurGlobale"))
    if not (buyer.get("id") and date and winners and amount is not None):
        return None
    return (buyer.get("id"), str(date)[:10], float(amount), winners)


def view(item: dict[str, Any]) -> dict[str, Any]:
    """A stage line's record in the 1.x shape (2022 records flattened once, then cached in the line)."""
    if item.get("format") != "2.0":
        return item["record"]
    if "_view" not in item:
        item["_view"] = flat_view(item["record"], item.get("kind", "marche"))
    return item["_view"]


def key_of(item: dict[str, Any]) -> str:
    return contract_key(view(item), versioned_id=item.get("format") != "2.0")


def uid_of(item: dict[str, Any]) -> str | None:
    return item.get("uid") or item["record"].get("uid")


@dataclass
class Candidate:
    rank: tuple[Any, ...]
    location: tuple[int, int]  # (source index, line number)
    digest: str
    uid: str | None


@dataclass
class Consolidation:
    """Pass 1 (`offer` every record) picks the winners; pass 2 (`verdict`) says each record's fate."""

    best: dict[str, Candidate] = field(default_factory=dict)
    holders: dict[str, int] = field(default_factory=dict)  # contract key → bit mask of the sources having it
    sources: list[str] = field(default_factory=list)
    near: dict[tuple[Any, ...], tuple[str, str]] = field(default_factory=dict)
    near_pairs: Counter[str] = field(default_factory=Counter)
    near_examples: list[dict[str, str]] = field(default_factory=list)

    def offer(self, source_index: int, line: int, item: dict[str, Any], priority: int, order: int) -> None:
        record = view(item)
        key = key_of(item)
        rank = (recency(record), len(record.get("modifications") or []), priority, -order)
        candidate = Candidate(rank, (source_index, line), item["digest"], uid_of(item))
        current = self.best.get(key)
        if current is None or candidate.rank > current.rank:
            self.best[key] = candidate
        self.holders[key] = self.holders.get(key, 0) | (1 << source_index)

    def verdict(self, source_index: int, line: int, item: dict[str, Any]) -> str | None:
        """None when the record is the one kept, else the rule that dropped it."""
        winner = self.best[key_of(item)]
        if winner.location == (source_index, line):
            return None
        if winner.digest == item["digest"]:
            return "exact-copy"
        if winner.uid is not None and winner.uid == uid_of(item):
            return "same-uid"
        return "version"

    def flag_near_duplicate(self, record: dict[str, Any], source: str, uid: str | None = None) -> None:
        """Called for each kept record: two kept records of different contracts from different sources."""
        key = near_key(record)
        if key is None:
            return
        uid = uid or record.get("uid")
        seen = self.near.get(key)
        if seen is None:
            self.near[key] = (source, str(uid))
            return
        if seen[0] != source:
            self.near_pairs["|".join(sorted((seen[0], source)))] += 1
            if len(self.near_examples) < MAX_EXAMPLES:
                self.near_examples.append({"uid": str(uid), "source": source, "like_uid": seen[1],
                                           "like_source": seen[0]})  # fmt: skip

    def overlap(self) -> dict[str, dict[str, int]]:
        """For each source, how many of its contracts each other source also has."""
        table: dict[str, dict[str, int]] = {s: {} for s in self.sources}
        for mask in self.holders.values():
            present = [i for i in range(len(self.sources)) if mask >> i & 1]
            if len(present) < 2:
                continue
            for a in present:
                for b in present:
                    if a != b:
                        row = table[self.sources[a]]
                        row[self.sources[b]] = row.get(self.sources[b], 0) + 1
        return table
