"""One raw record → Kept or Rejected (pipeline/record.py): the contract's kind, and no record, however
malformed, stops its file with a traceback."""

from __future__ import annotations

import copy
import json
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from decp_pipeline.normalize.hooks import FileContext
from decp_pipeline.pipeline.cache import FileResult
from decp_pipeline.pipeline.dedup.rules import Facts
from decp_pipeline.pipeline.record import Kept, RecordProcessor, Rejected
from decp_pipeline.readers.records import RawRecord

from .conftest import REAL, load

ROOT = Path(__file__).resolve().parents[1]
# The official 1.5 example: one marché and one contrat de concession (tests/fixtures/realdata/PROVENANCE.md).
MARCHE, CONCESSION = load(REAL / "fcp-1.5.0_json_paquet.json")["marches"]
PES = load(REAL / "pes_2019-04-05_excerpt.json")["marches"]
CONTEXT = FileContext("s", "f.json")
CONTEXT.syntax = "json"


def process(record: Any, hint: str | None = None, version: str = "1.5") -> Kept | Rejected:
    return RecordProcessor("s").process(RawRecord(1, hint, record, version), CONTEXT, Counter())


def test_a_concession_in_a_list_of_marches_keeps_its_own_kind():
    """The 1.5 schema validates a record as a marché or a concession (`anyOf`): a concession met in a list of
    marchés is valid, and its facts are a concession's (0.10.1 took them from `_type` too): two concessions of
    one id and two authorities are two contracts, not two versions of one."""
    other = copy.deepcopy(CONCESSION)
    other["autoriteConcedante"]["id"] = "13001898900017"
    kept = [process(record, "marche") for record in (CONCESSION, other)]
    assert all(isinstance(k, Kept) for k in kept)
    contracts = [k.contract for k in kept if isinstance(k, Kept)]
    assert [c.concession for c in contracts] == [True, True]
    keys = [Facts.of(c).key for c in contracts]
    assert keys[0] != keys[1]
    assert keys[0].startswith(f"C|{CONCESSION['autoriteConcedante']['id']}|")


def test_the_kind_from_the_list_for_a_2022_record():
    record = load(REAL / "fcp-master_json_marches_concessions.json")["marches"]["contrat-concession"][0]
    outcome = process(record, "contrat-concession", "2.0")
    assert outcome.contract is not None
    assert (outcome.contract.kind, outcome.contract.concession) == ("contrat-concession", True)


WRONG_TYPES = [True, 0, -1.5, "", "x", [], [1, "a"], {}, {"a": 1}, None]


def _mutations(record: dict[str, Any]) -> list[dict[str, Any]]:
    """The record with each field, and each field of its objects and list items, given each wrong type."""
    found = []
    for key, value in record.items():
        for wrong in WRONG_TYPES:
            found.append({**record, key: wrong})
        inner = value[0] if isinstance(value, list) and value and isinstance(value[0], dict) else value
        if isinstance(inner, dict):
            for sub in inner:
                for wrong in WRONG_TYPES[:4]:
                    changed = copy.deepcopy(record)
                    target = changed[key][0] if isinstance(changed[key], list) else changed[key]
                    target[sub] = wrong
                    found.append(changed)
    return found


@pytest.mark.parametrize("record", [MARCHE, CONCESSION, PES[0]], ids=["marche", "concession", "pes"])
def test_no_malformed_field_raises(tmp_path, record):
    """Every field of real records replaced by a value of each wrong type (`"titulaires": true` stopped
    0.10.1's build with a traceback): each record is kept or rejected, and its rows are written."""
    result = FileResult(tmp_path, "s")
    outcomes = Counter()
    for mutated in _mutations(record):
        for version in ("1.5", "2.0"):
            outcome = process(mutated, None, version)
            outcomes[type(outcome).__name__] += 1
            if isinstance(outcome, Kept):
                result.keep(outcome)
            else:
                result.reject(outcome)
    result.close()
    assert outcomes["Rejected"] > outcomes["Kept"] > 0
    assert (tmp_path / "meta.arrow").is_file()


@settings(max_examples=150, deadline=None)
@given(st.recursive(st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | st.floats(allow_nan=False)
                    | st.text(max_size=5),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(
                        ["titulaires", "modifications", "acheteur", "id", "montant", "_type", "lieuExecution",
                         "actesSousTraitance", "techniques", "_lists", "dureeMois", "dateNotification"]), inner,
                        max_size=4), max_leaves=12))  # fmt: skip
@example(1.8446744073709552e19)
@example(1e308)
@example(-(2**63))
def test_any_json_value_is_kept_or_rejected(value):
    """Any JSON value in a real record's fields is kept or rejected, and its table rows written: never an
    exception (a `dureeMois` of 1.8e19 was made an integer beyond 64 bits, which neither a JSON writer nor an
    Arrow column takes: fixed). Integers within 64 bits: the readers give larger ones as floats."""
    with tempfile.TemporaryDirectory() as folder:
        result = FileResult(Path(folder), "s")
        for version in ("1.5", "2.0"):
            record = json.loads(json.dumps({**copy.deepcopy(PES[1]), "extra": value}))
            for key in ("titulaires", "modifications", "acheteur", "dureeMois", "montant", "offresRecues"):
                outcome = process({**record, key: value}, None, version)
                if isinstance(outcome, Kept):
                    result.keep(outcome)
                else:
                    result.reject(outcome)
        result.close()


@pytest.mark.parametrize(("field", "value"), [("offresRecues", 1e308), ("dureeMois", 1.8446744073709552e19)])
def test_a_valid_2022_record_with_a_huge_whole_number(tmp_path, field, value):
    """An integer field given a float beyond 2**53: left as it is (no exact integer reading), so the record is
    judged and written like any other (0.10.1 made it an integer beyond 64 bits: a traceback)."""
    record = load(REAL / "fcp-master_json_marches_concessions.json")["marches"]["marche"][0]
    assert isinstance(process(record, "marche", "2.0"), Kept)
    outcome = process({**record, field: value}, "marche", "2.0")
    result = FileResult(tmp_path, "s")
    if isinstance(outcome, Kept):
        result.keep(outcome)
    else:
        result.reject(outcome)
    result.close()
    assert (tmp_path / "meta.arrow").is_file()
