"""The deduplication rules on real records (PES Marché, 2019), and the accounting they keep."""

from __future__ import annotations

import copy
from typing import Any

from decp_pipeline.build.consolidate import Consolidation, contract_key, near_key, recency
from decp_pipeline.build.stage import record_digest

from .conftest import REAL, load

PES = load(REAL / "pes_2019-04-05_excerpt.json")["marches"]


def item(record: dict[str, Any]) -> dict[str, Any]:
    return {"record": record, "digest": record_digest(record).hex()}


def consolidate(*sources: list[dict[str, Any]], priorities: tuple[int, ...] = ()) -> list[list[str | None]]:
    """The fate of each record of each source: None when kept, else the rule that dropped it."""
    consolidation = Consolidation(sources=[f"s{i}" for i in range(len(sources))])
    order = 0
    for index, records in enumerate(sources):
        for line, record in enumerate(records):
            priority = priorities[index] if priorities else 0
            consolidation.offer(index, line, item(record), priority, order)
            order += 1
    return [[consolidation.verdict(i, n, item(r)) for n, r in enumerate(records)] for i, records in enumerate(sources)]


def test_version_suffix_is_stripped_only_when_it_counts_the_modifications():
    record = copy.deepcopy(PES[0])  # id 2019I1703000, no modification
    assert contract_key(record) == "M|13001898900017|2019I17030"
    record["id"] = "2019AIFE0001"  # ends with 01 but has no modification: not a version
    assert contract_key(record) == "M|13001898900017|2019AIFE0001"
    record["modifications"] = [{"objetModification": "avenant 1", "datePublicationDonneesModification": "2019-05-02"}]
    assert contract_key(record) == "M|13001898900017|2019AIFE00"


def test_exact_copy_across_sources_the_higher_priority_keeps_it():
    copy_ = {**PES[0], "source": "other"}  # same content, another source
    assert consolidate([PES[0]], [copy_], priorities=(50, 10)) == [[None], ["exact-copy"]]


def test_same_uid_the_most_recent_publication_wins_whatever_the_priority():
    older = copy.deepcopy(PES[0])
    newer = {**copy.deepcopy(PES[0]), "datePublicationDonnees": "2019-04-01", "montant": 160000}
    assert consolidate([older], [newer], priorities=(50, 10)) == [["same-uid"], [None]]
    # Same date: the source priority decides.
    tie = {**copy.deepcopy(PES[0]), "montant": 160000}
    assert consolidate([older], [tie], priorities=(10, 50)) == [["same-uid"], [None]]


def test_versions_of_one_contract_only_the_latest_is_kept():
    initial = copy.deepcopy(PES[0])  # 2019I1703000, no modification
    amended = copy.deepcopy(PES[0])
    amended["id"] = "2019I1703001"
    amended["uid"] = amended["acheteur"]["id"] + amended["id"]
    amended["modifications"] = [
        {
            "objetModification": "Avenant 1",
            "dateNotificationModification": "2019-06-01",
            "datePublicationDonneesModification": "2019-06-10",
            "montant": 170000,
        }
    ]
    assert recency(amended) == "2019-06-10"
    assert consolidate([amended, initial]) == [[None, "version"]]


def test_different_contracts_are_never_merged():
    assert consolidate(PES) == [[None] * len(PES)]


def test_near_duplicates_are_flagged_not_dropped():
    record = PES[0]
    other_id = {**copy.deepcopy(record), "id": "M2019I17030", "uid": "13001898900017M2019I17030"}
    assert near_key(record) == near_key(other_id)
    consolidation = Consolidation(sources=["pes-marche", "marches-publics-info"])
    consolidation.flag_near_duplicate(record, "pes-marche")
    consolidation.flag_near_duplicate(other_id, "marches-publics-info")
    assert consolidation.near_pairs == {"marches-publics-info|pes-marche": 1}
    assert consolidate([record], [other_id]) == [[None], [None]]
