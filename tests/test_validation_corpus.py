"""`decp validate` gives the official validator's verdict on every file of the validation corpus."""

from __future__ import annotations

import json

import pytest

from decp_pipeline.validation.files import FileValidation

from .conftest import CORPUS, load, run_cli

VERDICTS = load(CORPUS / "verdicts.json")


def official_verdict(entry: dict[str, str]) -> str:
    """The ministry's jar when it ran on the file, else ajv (the JSON Schema validator of its test suite)."""
    return entry.get("official_jar") or entry["ajv"]


@pytest.mark.parametrize("name", sorted(VERDICTS))
def test_verdict_matches_official_validator(name: str) -> None:
    validation = FileValidation(str(CORPUS / name))
    problems = list(validation)
    expected = official_verdict(VERDICTS[name])
    assert validation.result.status == expected, [p.to_text() for p in problems]
    if not validation.result.malformed:
        assert validation.result.schema_version == VERDICTS[name]["schema_version"]
    assert (problems == []) == (expected == "valid")


def test_all_corpus_files_are_covered() -> None:
    files = {p.name for p in CORPUS.iterdir() if p.suffix in (".json", ".xml")} - {"verdicts.json"}
    assert files == set(VERDICTS)


# Each broken file changes one thing: the problem names the record, the field and the rule.
EXPECTED_PROBLEMS = {
    "v15-json-acheteur-siret-13.json": (
        1,
        "2010345211201",
        "acheteur.id",
        "pattern",
        "is not a SIRET: 14 digits",
    ),
    "v15-json-cpv-7-digits.json": (1, "2010345211201", "codeCPV", "pattern", '"9310000" is not a CPV code'),
    "v15-json-date-french.json": (
        1,
        "2010345211201",
        "dateNotification",
        "pattern",
        '"13/08/2007" is not a date',
    ),
    "v15-json-duree-zero.json": (1, "2010345211201", "dureeMois", "minimum", "0 is below the minimum 1"),
    "v15-json-missing-dateNotification.json": (1, "2010345211201", "dateNotification", "required", "missing"),
    "v15-json-modification-missing-objet.json": (
        1,
        "2010345211201",
        "modifications[0].objetModification",
        "required",
        "required field is missing",
    ),
    "v15-json-montant-string.json": (
        1,
        "2010345211201",
        "montant",
        "type",
        'expected a number, got the text "127000"',
    ),
    "v15-json-nature-uppercase.json": (
        1,
        "2010345211201",
        "nature",
        "enum",
        '"MARCHE" is not an allowed value; allowed: "Marché", "Marché de partenariat", "Accord-cadre", '
        '"Marché subséquent"',
    ),
    "v15-json-procedure-1.4-label.json": (
        1,
        "2010345211201",
        "procedure",
        "enum",
        '"Procédure concurrentielle avec négociation" is not an allowed',
    ),
    "v15-json-titulaires-empty.json": (1, "2010345211201", "titulaires", "minItems", "at least 1 required"),
    "v15-json-typeIdentifiant-variant.json": (
        1,
        "2010345211201",
        "titulaires[0].typeIdentifiant",
        "enum",
        '"TVA_INTRACOMMUNAUTAIRE" is not an allowed',
    ),
    "v15-json-empty-marches.json": (None, None, "marches", "minItems", "at least 1 required"),
    "v20-json-acheteur-siret-13.json": (1, "TEST2022", "acheteur.id", "pattern", "is not a SIRET"),
    "v20-json-missing-titulaires.json": (
        1,
        "TEST2022",
        "titulaires",
        "required",
        "required field is missing",
    ),
    "v20-json-modification-id-zero.json": (
        1,
        "TEST2022",
        "modifications[0].modification.id",
        "minimum",
        "0 is below the minimum 1",
    ),
    "v20-json-montant-string.json": (1, "TEST2022", "montant", "type", "expected a number"),
    "v20-json-titulaires-flat-v1-shape.json": (
        1,
        "TEST2022",
        "titulaires[0].titulaire",
        "required",
        "required field is missing",
    ),
    "v15-xml-montant-text.xml": (
        1,
        "2010345211203",
        "montant",
        "datatype",
        "'abc' is not valid here: expected a decimal number",
    ),
    "v15-xml-nature-uppercase.xml": (
        1,
        "2010345211203",
        "nature",
        "enumeration",
        "The value 'MARCHE' is not an element of the set",
    ),
    "v15-xml-missing-objet.xml": (1, "2010345211203", "", "content", "Expected is one of ( uid, objet )"),
    "v20-xml-montant-text.xml": (
        1,
        "TEST2022",
        "actesSousTraitance/acteSousTraitance/montant",
        "datatype",
        "expected a decimal number",
    ),
}


@pytest.mark.parametrize("name", sorted(EXPECTED_PROBLEMS))
def test_problem_names_record_field_and_rule(name: str) -> None:
    record, record_id, path, rule, message = EXPECTED_PROBLEMS[name]
    problems = list(FileValidation(str(CORPUS / name)))
    assert len(problems) == 1, [p.to_text() for p in problems]
    problem = problems[0]
    assert (problem.record, problem.record_id, problem.path, problem.rule) == (record, record_id, path, rule)
    assert message in problem.message


def test_malformed_xml_gives_line_and_column() -> None:
    problems = list(FileValidation(str(CORPUS / "v15-xml-malformed.xml")))
    assert [(p.rule, p.line, p.column) for p in problems] == [("syntax", 76, 10)]
    assert "objet" in problems[0].message


def test_corpus_through_the_command_line() -> None:
    result = run_cli("validate", "--json", *sorted(str(CORPUS / n) for n in VERDICTS))
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    verdicts = {f["file"].rsplit("/", 1)[1]: f["status"] for f in report["files"]}
    assert verdicts == {n: official_verdict(e) for n, e in VERDICTS.items()}
    assert report["summary"]["valid"] == sum(official_verdict(e) == "valid" for e in VERDICTS.values())
