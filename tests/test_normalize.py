"""Each fix of the 1.x normalizer on its own, on values met in real files; what is never touched; the catalogue
of fixes and the registry of per-source hooks."""

from __future__ import annotations

import copy
import re
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from decp_pipeline.config import PACKAGED_CONFIG, load_config
from decp_pipeline.normalize import fixes
from decp_pipeline.normalize.decp15 import Normalizer15
from decp_pipeline.normalize.fixes import BY_CODE, CATALOGUE, markdown_table
from decp_pipeline.normalize.hooks import (
    HOOKS,
    FileContext,
    drop_dgfip_fields,
    first_publication_date,
    hooks_for,
    named_hooks,
    publication_date_from_file_name,
    publication_date_from_transmission,
)
from decp_pipeline.normalize.xml_records import element_to_dict
from decp_pipeline.validation.json_records import json_validator

from .conftest import REAL, load

ROOT = Path(__file__).resolve().parents[1]
# A real, valid 1.5 record (AWS marches-publics.info, 2019): each case below breaks one thing in it.
VALID = next(
    r
    for r in load(REAL / "aws_marches-publics.info_2019-03-07_excerpt.json")["marches"]
    if json_validator("1.5").is_valid(r, "marche") and r["modifications"] == []
)


def normalized(changes: dict[str, Any], kind: str = "marche") -> tuple[dict[str, Any], dict[str, int]]:
    record = copy.deepcopy(VALID)
    for key, value in changes.items():
        target = record
        *parents, last = key.split(".")
        for parent in parents:
            target = target[int(parent)] if parent.isdigit() else target[parent]
        if value is DELETE:
            del target[last]
        else:
            target[last] = value
    tally: Counter[str] = Counter()
    return Normalizer15().normalize(record, kind, tally), dict(tally)


DELETE = object()

CASES = [
    # (change, field path, expected value, fix code)
    ({"nature": "MARCHE"}, "nature", "Marché", "enum-case"),
    ({"nature": "marché"}, "nature", "Marché", "enum-case"),
    ({"nature": "MARCHE SUBSEQUENT"}, "nature", "Marché subséquent", "enum-case"),
    ({"lieuExecution.typeCode": "CODE DEPARTEMENT"}, "lieuExecution.typeCode", "Code département", "enum-case"),
    ({"lieuExecution.typeCode": "Code Postal"}, "lieuExecution.typeCode", "Code postal", "enum-case"),
    ({"titulaires.0.typeIdentifiant": "TVA_INTRACOMMUNAUTAIRE"}, "titulaires.0.typeIdentifiant", "TVA", "enum-label"),
    ({"titulaires.0.typeIdentifiant": "HORS_UE"}, "titulaires.0.typeIdentifiant", "HORS-UE", "enum-label"),
    (
        {"procedure": "Marché négocié sans publicité ni mise en concurrence préalable"},
        "procedure",
        "Marché passé sans publicité ni mise en concurrence préalable",
        "procedure-1.4",
    ),
    (
        {"procedure": "Procédure concurrentielle avec négociation"},
        "procedure",
        "Procédure avec négociation",
        "procedure-1.4",
    ),
    ({"montant": "12500.5"}, "montant", 12500.5, "number-from-text"),
    ({"montant": "12 500,50"}, "montant", 12500.5, "number-from-text"),
    ({"dureeMois": "12"}, "dureeMois", 12, "number-from-text"),
    ({"dureeMois": 1.5}, "dureeMois", 2, "duration-rounded-up"),
    ({"id": 20190001}, "id", "20190001", "text-from-number"),
    ({"lieuExecution.code": 75056}, "lieuExecution.code", "75056", "text-from-number"),
    ({"acheteur.id": "242 010 056 00073"}, "acheteur.id", "24201005600073", "siret-spaces"),
    ({"codeCPV": 3111000}, "codeCPV", "03111000", "cpv-leading-zero"),
    ({"codeCPV": "3111000"}, "codeCPV", "03111000", "cpv-leading-zero"),  # text (every XML source), 0.10.1: rejected
    ({"codeCPV": "9132000-3"}, "codeCPV", "09132000-3", "cpv-leading-zero"),
    ({"codeCPV": "90513500 "}, "codeCPV", "90513500", "value-trimmed"),
    ({"codeCPV": "9051 3500"}, "codeCPV", "90513500", "cpv-spaces"),
    ({"dateNotification": "2019-1-5"}, "dateNotification", "2019-01-05", "date-padded"),
    ({"dateNotification": "05/01/2019"}, "dateNotification", "2019-01-05", "date-dmy"),
    ({"dateNotification": "2019-01-05T00:00:00"}, "dateNotification", "2019-01-05", "date-time-dropped"),
    ({"titulaires": {"titulaire": VALID["titulaires"][0]}}, "titulaires", VALID["titulaires"], "list-unwrapped"),
    ({"titulaires": VALID["titulaires"][0]}, "titulaires", VALID["titulaires"], "list-unwrapped"),
    ({"titulaires": [VALID["titulaires"][0]] * 2}, "titulaires", VALID["titulaires"], "list-duplicate-item"),
    ({"modifications": ""}, "modifications", [], "empty-list"),
    ({"_type": DELETE}, "_type", "Marché", "type-added"),
    ({"_type": "marché"}, "_type", "Marché", "type-corrected"),
]


@pytest.mark.parametrize(("change", "path", "expected", "code"), CASES, ids=[c[3] + ":" + c[1] for c in CASES])
def test_each_fix_alone(change, path, expected, code):
    record, fixes = normalized(change)
    value: Any = record
    for part in path.split("."):
        value = value[int(part)] if part.isdigit() else value[part]
    assert value == expected
    assert fixes == {code: 1}
    assert json_validator("1.5").is_valid(record, "marche")


def test_absent_values_and_stray_key_spaces():
    record, fixes = normalized({"formePrix": "  ", "objet": "NC", "acheteur": {"id ": VALID["acheteur"]["id"]}})
    assert "formePrix" not in record
    assert "objet" not in record
    assert record["acheteur"] == {"id": VALID["acheteur"]["id"]}
    assert fixes == {"absent-value": 2, "key-trimmed": 1}
    # Missing required values are not invented: the record stays invalid, and is rejected by the build.
    assert not json_validator("1.5").is_valid(record, "marche")


def test_a_right_value_is_never_touched_and_nothing_is_guessed():
    record, fixes = normalized({})
    assert record == VALID
    assert fixes == {}
    # 4521000: 04521000 is no division (04), and 45210000 one reading among others: left as it is.
    for unreadable in ({"codeCPV": "4521000"}, {"nature": "Marché public"}, {"dureeMois": 0}, {"montant": "beaucoup"}):
        record, fixes = normalized(unreadable)
        key = next(iter(unreadable))
        assert record[key] == unreadable[key]
        assert fixes == {}


def test_xml_record_becomes_the_json_shape():
    from lxml import etree

    element = etree.fromstring(
        b"<marche><id>2019X01</id><titulaires><titulaire><id>1</id></titulaire><titulaire><id>2</id></titulaire>"
        b"</titulaires><modifications/><datePublicationDonnees>2019-01-17</datePublicationDonnees>"
        b"<datePublicationDonnees>2018-09-15</datePublicationDonnees></marche>"
    )
    assert element_to_dict(element) == {
        "id": "2019X01",
        "titulaires": [{"id": "1"}, {"id": "2"}],
        "modifications": [],
        "datePublicationDonnees": ["2019-01-17", "2018-09-15"],
    }


def test_source_hooks():
    tally: Counter[str] = Counter()
    record: dict[str, Any] = {"datePublicationDonnees": ["2019-01-17", "2018-09-15"]}
    first_publication_date(record, "marche", FileContext("grandlyon", "x.xml"), tally)
    assert record == {"datePublicationDonnees": "2019-01-17"}

    aife = FileContext("aife", "/data/raw/aife/donnees-essentielles-marches04.04.2019.01-30-3f2a.xml")
    record = {}
    publication_date_from_file_name(record, "marche", aife, tally)
    assert record == {"datePublicationDonnees": "2019-04-04"}

    record = {"dateTransmissionDonneesEtalab": "2019-03-19+01:00", "acheteur": {"urlProfilAcheteur": "http://x"}}
    publication_date_from_transmission(record, "marche", FileContext("pes-marche", "p.xml"), tally)
    drop_dgfip_fields(record, "marche", FileContext("pes-marche", "p.xml"), tally)
    assert record == {"datePublicationDonnees": "2019-03-19+01:00", "acheteur": {}}
    assert tally == {
        "date-publication-repeated": 1,
        "date-publication-from-file-name": 1,
        "date-publication-from-transmission": 1,
        "dgfip-field-dropped": 2,
    }


def test_the_docs_table_is_the_catalogue():
    text = (ROOT / "docs" / "normalization.md").read_text(encoding="utf-8")
    section = text.split("## The fix catalogue")[1].split("\n## ")[0]
    table = "".join(line + "\n" for line in section.splitlines() if line.startswith("|"))
    # On a difference: python -m decp_pipeline.normalize.fixes prints the table to paste.
    assert table == markdown_table()


def test_the_catalogue_one_constant_per_fix():
    assert len(BY_CODE) == len(CATALOGUE) == 33
    for fix in CATALOGUE:
        assert re.fullmatch(r"[a-z0-9]+([.-][a-z0-9]+)*", fix.code)
        assert getattr(fixes, re.sub(r"[-.]", "_", fix.code).upper()) is fix
    constants = {name for name, value in vars(fixes).items() if isinstance(value, fixes.Fix)}
    assert len(constants) == len(CATALOGUE)  # no fix left out of CATALOGUE


def test_every_fix_is_counted_through_its_object_and_no_code_literal_counts():
    sources = {p: p.read_text(encoding="utf-8") for p in (ROOT / "src").rglob("*.py")}
    codes = "|".join(re.escape(fix.code) for fix in CATALOGUE)
    counted = re.compile(rf"""(fixes|tally)\[\s*["']|\[\s*["']({codes})["']\s*\]\s*\+=""")
    for path, text in sources.items():
        assert not counted.search(text), f"{path.relative_to(ROOT)}: a fix counted by a string literal"
    code = "\n".join(text for path, text in sources.items() if path.name != "fixes.py")
    for fix in CATALOGUE:
        constant = re.sub(r"[-.]", "_", fix.code).upper()
        assert re.search(rf"\b{constant}\.count\(", code), f"{fix.code} is never counted"


def test_the_hook_registry_and_its_order():
    assert set(named_hooks()) == {"aife-date-from-file-name", "dgfip-date-from-transmission"}
    config = load_config(str(PACKAGED_CONFIG))
    # Every source gets the every-source hooks; a source's own after hooks run before drop-dgfip-fields.
    assert hooks_for(()) == ([first_publication_date], [drop_dgfip_fields])
    assert hooks_for(config.get("pes-marche").hooks) == (
        [first_publication_date],
        [publication_date_from_transmission, drop_dgfip_fields],
    )
    for doc in ("normalization.md", "sources.md"):
        text = (ROOT / "docs" / doc).read_text(encoding="utf-8")
        assert all(f"`{name}`" in text for name in HOOKS), doc


def test_the_file_name_date_is_read_only_when_a_hook_asks():
    context = FileContext("aife", "/data/donnees-essentielles-marches04.04.2019.01-30-3f2a.xml")
    assert "file_date" not in vars(context)
    assert context.file_date == "2019-04-04"
    assert vars(context)["file_date"] == "2019-04-04"  # once per file
    assert FileContext("grandlyon", "marches_publics.xml").file_date is None
