"""A text longer than MAX_TEXT characters in any field: the record is rejected as soon as it is read, with one
error naming the field and the length, in `decp build` and `decp validate` alike (validation/limits.py).
0.10.1 took 43 s and 531 MB to reject a record with a 50 MB `objet`; the closing note of issue 19 gives the
figures now (the tests use 2 × MAX_TEXT: the same path, in milliseconds)."""

from __future__ import annotations

import copy
import json

import pandas as pd

from decp_pipeline.validation.limits import MAX_TEXT, overlong_text

from .conftest import REAL, load, run_cli
from .test_build import build, rejected

FIXTURES = REAL

# The official 1.5 example marché (tests/fixtures/realdata/PROVENANCE.md).
MARCHE = load(REAL / "fcp-1.5.0_json_paquet.json")["marches"][0]


def with_long_text(where: str) -> dict:
    record = copy.deepcopy(MARCHE)
    if where == "objet":
        record["objet"] = "x" * (2 * MAX_TEXT)
    else:
        record["titulaires"][0]["denominationSociale"] = "é" * (MAX_TEXT + 1)
    return record


def test_the_first_overlong_text_is_named_with_its_path():
    assert overlong_text(MARCHE) is None
    error = overlong_text(with_long_text("holder"))
    assert error is not None
    assert (error.rule, error.dotted) == ("maxTextLength", "titulaires[0].denominationSociale")
    assert error.message == (
        "a text of 100,001 characters, more than the 100,000 that decp-pipeline accepts in any field "
        "(a bound of the tool, not of the schema)"
    )
    assert overlong_text("y" * (MAX_TEXT + 1)).dotted == ""  # a record that is only a text
    assert overlong_text({"a": ["y" * MAX_TEXT]}) is None  # the bound itself is accepted
    key = overlong_text({"a": {"k" * (MAX_TEXT + 5): 1}})  # a key is a text too (found by a review)
    assert key is not None
    assert key.dotted.startswith("a.kkkk")
    assert "100,005 characters" in key.message


def test_build_rejects_the_record_and_keeps_it_whole_in_rejected_jsonl(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    good = copy.deepcopy(MARCHE)
    good["id"] = good["id"] + "-2"
    (folder / "long.json").write_text(json.dumps({"marches": [with_long_text("objet"), good]}), encoding="utf-8")
    code, report, _ = build(tmp_path, "aife", "--input", f"aife={folder}")
    assert code == 0
    counts = report["sources"]["aife"]
    assert (counts["read"], counts["exported"], counts["rejected"]) == (2, 1, 1)
    assert counts["errors"] == {"maxTextLength:objet": 1}
    [line] = rejected(tmp_path)
    assert line["record"]["objet"] == "x" * (2 * MAX_TEXT)  # nothing lost: the original record, whole
    assert [e["rule"] for e in line["errors"]] == ["maxTextLength"]
    marches = pd.read_parquet(tmp_path / "dist" / "marches.parquet")
    row = marches[~marches["valid"]].iloc[0]
    # Its row keeps its uid and kind (so that the delta says `rejected` for a contract published before), and
    # shows no objet: the text is in rejected.jsonl only.
    uid = MARCHE["acheteur"]["id"] + MARCHE["id"]
    assert (row["uid"], row["errors"], pd.isna(row["objet"])) == (uid, "maxTextLength:objet", True)


def test_validate_names_the_field_and_checks_the_other_records(tmp_path):
    path = tmp_path / "long.json"
    path.write_text(json.dumps({"marches": [MARCHE, with_long_text("holder")]}), encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.exit_code == 1
    assert result.stdout.splitlines()[0] == (
        f"{path}: record 2 (id={MARCHE['id']}): titulaires[0].denominationSociale: a text of 100,001 characters, "
        "more than the 100,000 that decp-pipeline accepts in any field (a bound of the tool, not of the schema) "
        "[maxTextLength]"
    )
    assert "1 of 2 records invalid, 1 problem(s)" in result.stdout


def test_validate_checks_the_bound_in_xml_too(tmp_path):
    """A review found `decp validate` passing an XML record that `decp build` rejects."""
    source = (FIXTURES / "fcp-1.4.0_xml_paquet.xml").read_text(encoding="utf-8")
    path = tmp_path / "long.xml"
    path.write_text(source.replace("<objet>", "<objet>" + "z" * (MAX_TEXT + 7), 1), encoding="utf-8")
    result = run_cli("validate", str(path))
    assert result.exit_code == 1
    [line] = [line for line in result.stdout.splitlines() if "[maxTextLength]" in line]
    assert ": objet: a text of 100,0" in line
    assert " characters, more than the 100,000 " in line
    assert "record 1 " in line
