"""The deduplication rules on real records (PES Marché, 2019), and the accounting they keep."""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import pyarrow as pa

from decp_pipeline.models.contract import Contract, digest_of
from decp_pipeline.pipeline.dedup.columnar import consolidate, near_duplicates, run_starts, sorted_run_starts
from decp_pipeline.pipeline.dedup.rules import RULES, Facts, contract_key, near_key, recency, version_key

from .conftest import REAL, load

PES = load(REAL / "pes_2019-04-05_excerpt.json")["marches"]


def facts_table(*sources: list[dict[str, Any]], priorities: tuple[int, ...] = ()) -> pa.Table:
    """The cached facts of the records, as the build reads them (sources by priority, then positions)."""
    rows = []
    for index, records in enumerate(sources):
        for record in records:
            facts = Facts.of(contract(record))
            rows.append({"key": facts.key, "version_key": facts.version_key, "recency": facts.recency,
                         "modifications": facts.modifications,
                         "priority": priorities[index] if priorities else 0, "digest": digest_of(record),
                         "uid": facts.uid, "source": index, "near": facts.near})  # fmt: skip
    schema = pa.schema([("key", pa.string()), ("version_key", pa.string()), ("recency", pa.string()),
                        ("modifications", pa.int32()),
                        ("priority", pa.int32()), ("digest", pa.binary(16)), ("uid", pa.string()),
                        ("source", pa.int32()), ("near", pa.binary(16))])  # fmt: skip
    return pa.Table.from_pylist(rows, schema=schema)


def contract(record: dict[str, Any]) -> Contract:
    kind = "contrat-concession" if record.get("_type") == "Contrat de concession" else "marche"
    return Contract(record, "1.5", kind)


def consolidate_(*sources: list[dict[str, Any]], priorities: tuple[int, ...] = ()) -> list[list[str | None]]:
    """The fate of each record of each source: None when kept, else the rule that dropped it."""
    result = consolidate(facts_table(*sources, priorities=priorities), [f"s{i}" for i in range(len(sources))])
    fates = iter(RULES[rule] for rule in result.rule)
    return [[next(fates) for _ in records] for records in sources]


def test_version_suffix_is_stripped_only_when_it_counts_the_modifications():
    record = copy.deepcopy(PES[0])  # id 2019I1703000, no modification
    assert contract_key(contract(record)) == "M|13001898900017|2019I1703000"  # the record's own copies
    assert version_key(contract(record)).startswith("M|13001898900017|2019I17030|")  # its versions
    record["id"] = "2019AIFE0001"  # ends with 01 but has no modification: not a version
    assert version_key(contract(record)).startswith("M|13001898900017|2019AIFE0001|")
    record["modifications"] = [{"objetModification": "avenant 1", "datePublicationDonneesModification": "2019-05-02"}]
    assert version_key(contract(record)).startswith("M|13001898900017|2019AIFE00|")


def test_exact_copy_across_sources_the_higher_priority_keeps_it():
    copy_ = {**PES[0], "source": "other"}  # same content, another source
    assert consolidate_([PES[0]], [copy_], priorities=(50, 10)) == [[None], ["exact-copy"]]


def test_same_uid_the_most_recent_publication_wins_whatever_the_priority():
    older = copy.deepcopy(PES[0])
    newer = {**copy.deepcopy(PES[0]), "datePublicationDonnees": "2019-04-01", "montant": 160000}
    assert consolidate_([older], [newer], priorities=(50, 10)) == [["same-uid"], [None]]
    # Same date: the source priority decides.
    tie = {**copy.deepcopy(PES[0]), "montant": 160000}
    assert consolidate_([older], [tie], priorities=(10, 50)) == [["same-uid"], [None]]


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
    assert recency(contract(amended)) == "2019-06-10"
    assert consolidate_([amended, initial]) == [[None, "version"]]


def test_different_contracts_are_never_merged():
    assert consolidate_(PES) == [[None] * len(PES)]


def test_near_duplicates_are_flagged_not_dropped():
    record = PES[0]
    other_id = {**copy.deepcopy(record), "id": "M2019I17030", "uid": "13001898900017M2019I17030"}
    assert near_key(contract(record)) == near_key(contract(other_id))
    kept = facts_table([record], [other_id])
    assert near_duplicates(kept, ["pes-marche", "marches-publics-info"]) == {
        "count": 1,
        "by_source_pair": {"marches-publics-info|pes-marche": 1},
        "examples": [
            {
                "uid": other_id["uid"],
                "source": "marches-publics-info",
                "like_uid": record["uid"],
                "like_source": "pes-marche",
            }
        ],
    }
    assert consolidate_([record], [other_id]) == [[None], [None]]
    # In one source, or once the first copy is in the same source, nothing is flagged.
    assert near_duplicates(facts_table([record, other_id]), ["pes-marche"])["count"] == 0


def test_three_copies_the_two_identical_ones_are_exact_copies():
    """Rules are decided against the better-ranked copies: a copy identical to a dropped one is an exact copy."""
    newer = {**copy.deepcopy(PES[0]), "datePublicationDonnees": "2019-04-01", "montant": 160000}
    assert consolidate_([newer], [PES[0], copy.deepcopy(PES[0])]) == [[None], ["same-uid", "exact-copy"]]


def test_overlap_counts_the_contracts_sources_share():
    result = consolidate(facts_table(PES[:3], PES[1:5], PES[4:5]), ["a", "b", "c"])
    assert result.overlap == {"a": {"b": 2}, "b": {"a": 2, "c": 1}, "c": {"b": 1}}


def test_run_starts_in_slices_equal_those_of_the_whole_sorted_column():
    """Consolidation finds where each contract's run starts a slice of the sorted keys at a time (to bound
    its memory): slices of any size, and chunked keys, give the starts of the whole sorted column."""
    keys = [contract_key(contract(record)) for record in PES[:12]] * 3 + [contract_key(contract(PES[0]))]
    order = np.argsort(np.array(keys), kind="stable")
    whole = run_starts(pa.array(keys).take(pa.array(order)))
    assert whole.sum() == len(set(keys)) == 12
    for values in (pa.array(keys), pa.chunked_array([keys[:5], keys[5:]])):
        for slice_rows in (1, 2, 3, 7, len(keys), 1 << 19):
            assert sorted_run_starts(values, order, slice_rows).tolist() == whole.tolist()
