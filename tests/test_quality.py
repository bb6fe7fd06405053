"""Quality anomalies on real records: each check on its own, and what the real 2019 files hold."""

from __future__ import annotations

import copy
import datetime
import json
import re
import sys
from pathlib import Path

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from decp_pipeline.models.contract import Contract
from decp_pipeline.pipeline.anomalies import _TEST, CATALOGUE, Run, _maybe_test, combine, markdown_table

from .conftest import REAL, load

ROOT = Path(__file__).resolve().parents[1]
RECORD = load(REAL / "pes_2019-04-05_excerpt.json")["marches"][0]  # INOVALYS, 153,900 €, notified 2018-12-17
CHECKS = Run(today=datetime.date(2026, 11, 23))


def anomalies(**changes: object) -> list[str]:
    record = copy.deepcopy(RECORD)
    record.update(changes)
    return CHECKS.check(Contract(record, "1.5", "marche"))


def test_a_clean_real_record_has_none():
    assert anomalies() == []


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"acheteur": {"id": "13001898900018", "nom": "INOVALYS"}}, ["siret-checksum"]),
        ({"datePublicationDonnees": "2018-12-01+01:00"}, ["publication-before-notification"]),
        ({"dateNotification": "2027-01-05", "datePublicationDonnees": "2027-01-06"}, ["date-in-future"]),
        ({"dateNotification": "1999-12-31"}, ["date-before-2000"]),
        ({"montant": 1}, ["amount-too-low"]),
        ({"montant": 4_000_000_000}, ["amount-too-high"]),
        ({"nature": "Accord-cadre", "dureeMois": 120}, ["duration-over-legal-maximum"]),
        ({"dureeMois": 240}, ["duration-aberrant"]),
        ({"acheteur": {"id": "13001898900017", "nom": "Ville de Testville"}}, ["test-record"]),
        ({"codeCPV": "99000000"}, ["cpv-unknown-division"]),
        ({"objet": "Fourniture de carburants pour l'ann\ufffde 2019"}, ["damaged-encoding"]),  # real AIFE, 2019-04-04
    ],
)
def test_each_anomaly(changes, expected):
    assert anomalies(**changes) == expected


def test_la_poste_sirets_are_not_flagged():
    # La Poste's establishments (SIREN 356000000) follow their own check rule, known to python-stdnum.
    assert anomalies(acheteur={"id": "35600000000048", "nom": "La Poste"}) == []


def test_every_anomaly_is_documented():
    text = (ROOT / "docs" / "build.md").read_text(encoding="utf-8")
    assert markdown_table() in text  # each anomaly's code, severity and description, in catalogue order
    assert len({a.code for a in CATALOGUE}) == len(CATALOGUE) == 11


@pytest.mark.realdata
def test_siret_check_agrees_with_python_stdnum_on_every_real_siret(realdata):
    from stdnum.fr import siret

    from decp_pipeline.pipeline.anomalies import siret_is_valid

    found: set[str] = set()
    for path in [*realdata.rglob("*.json"), *realdata.rglob("*.xml")]:
        found.update(re.findall(r"(?<![0-9])[0-9]{14}(?![0-9])", path.read_text(encoding="utf-8", errors="replace")))
    found |= {"35600000000048", "35600000049837", "35600000049838", "73282932000074", "00000000000000"}
    assert len(found) > 9_000
    disagreements = [s for s in found if siret_is_valid(s) != siret.is_valid(s)]
    assert disagreements == []


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from([None, "siret-checksum", "amount-too-low test-record", "cpv-unknown-division"]),
            st.sampled_from([None, "2019-01-01", "2026-11-23", "2026-11-24", "2031-05-01"]),
            st.sampled_from([None, 2.0, 999_999.0, 1_000_000.0, 1_000_001.0, 4e9]),
        ),
        max_size=20,
    )
)
def test_the_columnar_run_dependent_pass_equals_the_per_record_one(rows):
    """The build adds the run-dependent anomalies to whole columns (`Run.with_run_dependent`); both passes
    derive from the same catalogue objects and give each row the same codes."""
    run = Run(today=datetime.date(2026, 11, 23), max_amount=1_000_000)
    cached, days, amounts = (pa.array([row[i] for row in rows], t) for i, t in enumerate([pa.string(), pa.string(),
                             pa.float64()]))  # fmt: skip
    columnar = run.with_run_dependent(cached, days, amounts).to_pylist()
    expected = [" ".join(combine((codes or "").split(), run.codes(day, amount))) or None for codes, day, amount in rows]
    assert columnar == expected


def test_the_test_record_prefilter_lets_every_match_through() -> None:
    """`_maybe_test` may skip the regex only where it cannot match: a character matches a letter of `test` or
    `compte` under re.I exactly when it case-folds to that letter (all of Unicode), and real test texts pass."""
    for letter in set("testcompte"):
        for code in range(sys.maxunicode + 1):
            char = chr(code)
            if re.fullmatch(letter, char, re.IGNORECASE):
                assert char.casefold() == letter, (letter, hex(code))
    for text in ["Marché TESTVILLE", "AIFE_Test lot 1", "ENREGISTREMENT DE TEſT",
                 "Ne pas tenır compte", "ne pas TENIR COMPTE"]:  # fmt: skip
        assert _TEST.search(text)
        assert _maybe_test(text)
    assert not _maybe_test("Travaux d'entretien de la voirie")


def test_damaged_encoding_on_the_real_aife_excerpt():
    """39 of the 47 records of the real AIFE file of 2019-04-04 hold U+FFFD (`Soci\ufffdt\ufffd de livraison`):
    each is flagged, the others are not; nothing is repaired."""
    records = load(REAL / "aife_2019-04-04_excerpt.json")["marches"]
    flagged = ["damaged-encoding" in CHECKS.check(Contract(r, "1.5", "marche")) for r in records]
    assert sum(flagged) == 39
    assert flagged == ["\ufffd" in json.dumps(r, ensure_ascii=False) for r in records]
