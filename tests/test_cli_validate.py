"""`decp validate` as a publisher and a script use it: lines, JSON, exit codes."""

from __future__ import annotations

import json
from pathlib import Path

from decp_pipeline import __version__

from .conftest import CORPUS, fixture, run_cli

VALID = str(CORPUS / "v15-json-marche-valid.json")
INVALID = str(CORPUS / "v15-json-nature-uppercase.json")


def test_valid_file_exits_0_with_a_verdict_and_a_summary() -> None:
    result = run_cli("validate", VALID)
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [
        f"{VALID}: valid: 1 record (format 1.5, JSON, marches.json)",
        "1 file(s): 1 valid, 0 invalid, 0 unreadable; 1 record, 0 invalid; 0 problem(s)",
    ]


def test_invalid_file_exits_1_with_one_line_per_problem() -> None:
    result = run_cli("validate", INVALID, VALID)
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == (
        f'{INVALID}: record 1 (id=2010345211201): nature: "MARCHE" is not an allowed value; allowed: "Marché", '
        '"Marché de partenariat", "Accord-cadre", "Marché subséquent" [enum]'
    )
    assert lines[-1] == "2 file(s): 1 valid, 1 invalid, 0 unreadable; 2 records, 1 invalid; 1 problem(s)"


def test_real_aws_excerpt_reports_each_invalid_record() -> None:
    path = fixture("aws_marches-publics.info_2019-03-07_excerpt.json")
    result = run_cli("validate", path)
    assert result.exit_code == 1
    problems = [line for line in result.stdout.splitlines() if ": record " in line]
    # Records 41-44 repeat an item in their modifications or titulaires lists; others use 1.4 labels.
    assert any(
        line.startswith(f"{path}: record 44 (id=2018ASS000100): titulaires: items [1] and [2] are identical")
        for line in problems
    )
    verdict = result.stdout.splitlines()[-2]
    assert verdict.startswith(f"{path}: INVALID: ")
    assert "of 49 records invalid" in verdict


def test_json_report_is_one_document() -> None:
    result = run_cli("validate", "--json", INVALID, fixture("fcp-master_xml_Marche.xml"))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    first, second = report["files"]
    assert first["status"] == "invalid"
    assert first["problems"] == [
        {
            "record": 1,
            "id": "2010345211201",
            "path": "nature",
            "rule": "enum",
            "message": first["problems"][0]["message"],
            "line": None,
            "column": None,
            "pointer": "/marches/0/nature",
        }
    ]
    assert (second["status"], second["syntax"], second["schema_version"], second["records"]) == (
        "valid",
        "xml",
        "2.0",
        2,
    )
    assert report["summary"] == {
        "files": 2,
        "valid": 1,
        "invalid": 1,
        "unreadable": 0,
        "records": 3,
        "invalid_records": 1,
        "problems": 1,
    }
    assert report["valid"] is False


def test_pointer_of_a_2022_record_counts_within_its_list() -> None:
    report = json.loads(run_cli("validate", "--json", str(CORPUS / "v20-json-montant-string.json")).stdout)
    assert report["files"][0]["problems"][0]["pointer"] == "/marches/marche/0/montant"


def test_missing_file_exits_2_but_the_others_are_checked(tmp_path: Path) -> None:
    missing = str(tmp_path / "nope.json")
    result = run_cli("validate", missing, VALID)
    assert result.exit_code == 2
    assert f"{missing}: UNREADABLE: No such file or directory" in result.stdout
    assert f"{VALID}: valid" in result.stdout


def test_directory_is_unreadable_and_json_still_says_so(tmp_path: Path) -> None:
    result = run_cli("validate", "--json", str(tmp_path), VALID)
    assert result.exit_code == 2
    document = json.loads(result.stdout)
    assert [f["file"] for f in document["files"]] == [str(tmp_path), VALID]
    assert document["files"][0]["unreadable"].startswith("a directory; give the files inside it")


def test_schema_version_override() -> None:
    result = run_cli("validate", "--schema-version", "2.0", VALID)
    assert result.exit_code == 1
    assert "marches: expected an object" in result.stdout
    assert "looks like format 1.x" in result.stdout


def test_bad_option_value_is_a_usage_error() -> None:
    result = run_cli("validate", "--schema-version", "3.0", VALID)
    assert result.exit_code == 2


def test_version() -> None:
    assert run_cli("--version").stdout.strip() == f"decp, version {__version__}"
