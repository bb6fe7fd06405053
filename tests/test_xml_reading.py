"""Reading XML files safely and in bounded memory, on real files and hostile ones."""

from __future__ import annotations

import time
from pathlib import Path

from decp_pipeline.readers.xml_stream import XmlReader
from decp_pipeline.validation.files import FileValidation

from .conftest import CORPUS, fixture

RECORD = (CORPUS / "v15-xml-marche-valid.xml").read_text(encoding="utf-8").split("?>", 1)[1]
RECORD_BODY = RECORD[RECORD.index(">") + 1 : RECORD.rindex("</marche>")]  # children of the corpus <marche>


def write(tmp_path: Path, content: str | bytes, name: str = "f.xml") -> str:
    path = tmp_path / name
    path.write_bytes(content.encode("utf-8") if isinstance(content, str) else content)
    return str(path)


def problems_of(path: str, version: str = "auto") -> list:
    return list(FileValidation(path, version))


def test_dtd_with_entity_expansion_is_refused_fast(tmp_path: Path) -> None:
    laughs = "".join(f'<!ENTITY l{i} "{"&l" + str(i - 1) + ";" * 1}{"&l" + str(i - 1) + ";"}">' for i in range(1, 30))
    path = write(
        tmp_path,
        f'<?xml version="1.0"?><!DOCTYPE marches [<!ENTITY l0 "ha">{laughs}]>'
        "<marches><marche><objet>&l29;</objet></marche></marches>",
    )
    start = time.monotonic()
    problems = problems_of(path)
    assert time.monotonic() - start < 5  # 2**29 expansions would take minutes and gigabytes
    assert [p.rule for p in problems] == ["syntax"]
    assert "declares a DTD" in problems[0].message


def test_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    path = write(
        tmp_path,
        f'<?xml version="1.0"?><!DOCTYPE marches [<!ENTITY e SYSTEM "file://{secret}">]>'
        "<marches><marche><objet>&e;</objet></marche></marches>",
    )
    problems = problems_of(path)
    assert "declares a DTD" in problems[0].message
    assert not any("TOP-SECRET" in p.message for p in problems)


def test_wrong_encoding_declaration(tmp_path: Path) -> None:
    latin1 = f"<?xml version='1.0' encoding='UTF-8'?>\n<marches><marche>{RECORD_BODY}</marche></marches>"
    latin1 = latin1.replace("Entretien des jardins", "Entretien des jardins et espaces verts à Rennes")
    path = write(tmp_path, latin1.encode("latin-1"))
    problems = problems_of(path)
    assert [p.rule for p in problems] == ["syntax"]
    assert "declared encoding" in problems[0].message
    assert problems[0].line == latin1.split("à Rennes")[0].count("\n") + 1


def test_declared_latin1_is_read(tmp_path: Path) -> None:
    text = f"<?xml version='1.0' encoding='ISO-8859-1'?>\n<marches><marche>{RECORD_BODY}</marche></marches>"
    validation = FileValidation(write(tmp_path, text.encode("latin-1")))
    assert list(validation) == []
    assert (validation.result.status, validation.result.records) == ("valid", 1)


def test_namespaced_document_is_invalid_with_a_clear_message(tmp_path: Path) -> None:
    path = write(tmp_path, f'<marches xmlns="urn:x"><marche>{RECORD_BODY}</marche></marches>')
    problems = problems_of(path)
    assert problems
    assert problems[0].record == 1
    assert "No matching global declaration" in problems[0].message


def test_unexpected_nesting_is_reported_once() -> None:
    # Région Bretagne's conversion puts the records inside a <csv> element.
    validation = FileValidation(fixture("region-bretagne_marches_2019_converted_v2_excerpt.xml"))
    problems = list(validation)
    assert [(p.rule, p.path) for p in problems] == [("content", "csv")]
    assert validation.result.records == 0


def test_records_are_freed_as_they_are_read(tmp_path: Path) -> None:
    path = write(tmp_path, "<marches>" + f"<marche>{RECORD_BODY}</marche>" * 2000 + "</marches>")
    reader = XmlReader(path)
    seen = 0
    for item in reader.items():
        assert item.kind == "marche"
        assert item.element.getprevious() is None  # the records before it were freed
        assert len(reader.root) < 50  # what the parser has read ahead in its current 32 KiB chunk
        seen += 1
    assert seen == 2000


def test_dgfip_variant_is_detected() -> None:
    validation = FileValidation(fixture("fcp-branch-dgfip_xml_paquet.xml"))
    problems = list(validation)
    assert validation.result.schema_version == "1.5-dgfip"
    assert validation.result.records == 4
    # The official DGFiP example itself still carries the 1.4 procedure label.
    assert [(p.record, p.path, p.rule) for p in problems] == [
        (3, "procedure", "enumeration"),
        (4, "procedure", "enumeration"),
    ]
    forced = problems_of(fixture("fcp-branch-dgfip_xml_paquet.xml"), "1.5")
    assert "dateTransmissionDonneesEtalab" in {p.path for p in forced}


def test_grand_lyon_record() -> None:
    validation = FileValidation(fixture("grandlyon_record.xml"))
    problems = list(validation)
    assert validation.result.records == 1
    # Not the DGFiP variant: its empty dateTransmissionDonneesEtalab is an element the standard XSD refuses.
    assert validation.result.schema_version == "1.5"
    assert [(p.path, p.rule, p.line) for p in problems] == [
        ("id", "maxLength", 4),
        ("dateTransmissionDonneesEtalab", "content", 23),
    ]
    assert all(p.record_id == "2017-629-20004697700019" for p in problems)


def test_official_2022_example_is_valid() -> None:
    validation = FileValidation(fixture("fcp-master_xml_Marche.xml"))
    assert list(validation) == []
    assert (validation.result.schema_version, validation.result.records) == ("2.0", 2)


def test_root_attributes_are_checked(tmp_path: Path) -> None:
    path = write(tmp_path, f'<marches version="9"><marche>{RECORD_BODY}</marche></marches>')
    problems = problems_of(path)
    assert [(p.path, p.rule) for p in problems] == [("marches", "attribute")]


def test_unknown_root(tmp_path: Path) -> None:
    problems = problems_of(write(tmp_path, "<contracts><contract/></contracts>"))
    assert problems[0].message == "root element <contracts> is not a DECP element: expected <marches>"


def test_deep_nesting_is_a_syntax_error(tmp_path: Path) -> None:
    path = write(tmp_path, "<marches><marche>" + "<a>" * 100_000 + "</a>" * 100_000 + "</marche></marches>")
    problems = problems_of(path)
    assert [p.rule for p in problems] == ["syntax"]
    assert "Excessive depth" in problems[0].message
