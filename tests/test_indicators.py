"""The report's indicators (report/indicators.py) on small tables made by hand, each row chosen for a case the
demo's samples lack: a groupement of two titulaires of which SIRENE knows one, a doubtful amount larger than any
reliable one, buyers of five contracts or more, offers received (format 2022 only)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from decp_pipeline.report import indicators
from decp_pipeline.report.store import connect

DAY = datetime.date(2024, 3, 1)


def marche(uid: str, buyer: str, amount: float, **other: object) -> dict[str, object]:
    return {"uid": uid, "source": "test", "valid": True, "acheteur_id": buyer, "montant": amount,
            "montant_fiable": True, "cpv_division": "45", "procedure": "Procédure adaptée", "offresRecues": None,
            "dateNotification": DAY, "datePublicationDonnees": DAY + datetime.timedelta(days=10), **other}  # fmt: skip


def holder(uid: str, siret: str, category: str | None = None) -> dict[str, object]:
    return {"uid": uid, "titulaire_id": siret, "titulaire_categorie_entreprise": category, "modification": 0,
            "fournisseur_local": None}  # fmt: skip


@pytest.fixture
def db(tmp_path: Path):
    contracts = [
        marche("a", "B1", 1_000_000.0),  # two titulaires, SIRENE knows one (a PME)
        marche("b", "B1", 1_000.0),  # one titulaire, a GE
        marche("x", "B1", 999_000_000.0, montant_fiable=False, cpv_division="09"),  # doubtful: above the others
        *(marche(f"c{i}", "B2", 100.0, offresRecues=1 if i < 2 else 3) for i in range(5)),  # 3 to T1, 2 to T2
        *(marche(f"d{i}", "B3", 50.0, procedure="Appel d'offres ouvert", offresRecues=1) for i in range(5)),
        marche("late", "B3", 10.0, datePublicationDonnees=DAY + datetime.timedelta(days=90)),  # not within 2 months
    ]
    holders = [holder("a", "P", "PME"), holder("a", "U"), holder("b", "G", "GE"), holder("x", "G", "GE"),
               *(holder(f"c{i}", "T1" if i < 3 else "T2") for i in range(5)),
               *(holder(f"d{i}", "T3") for i in range(5)), holder("late", "T3")]  # fmt: skip
    pq.write_table(pa.Table.from_pylist(contracts), tmp_path / "marches.parquet")
    pq.write_table(pa.Table.from_pylist(holders), tmp_path / "titulaires.parquet")
    connection = connect(tmp_path)
    yield connection
    connection.close()


def test_pme_share_leaves_out_groupements(db):
    pme = indicators.holders_share(db, "titulaire_categorie_entreprise = 'PME'", "titulaire_categorie_entreprise")
    assert (pme["holders"], pme["share"]) == (3, pytest.approx(1 / 3))  # P, G (b), G (x)
    # Of the one-titulaire contracts with a reliable amount whose titulaire SIRENE knows (b only: a has two,
    # x is doubtful), none goes to a PME: a's million is not counted as a PME's.
    assert pme["amount_share"] == 0.0


def test_dependence_per_buyer_of_five_contracts_or_more(db):
    found = indicators.dependence(db)
    # B2: 300 of 500 to T1; B3: all 260 to T3; B1: two one-titulaire contracts, too few.
    assert found["shares"] == [pytest.approx(0.6), 1.0]
    assert found["median"] == pytest.approx(0.8)  # the mean of the two middle values
    assert (found["buyers"], found["contracts"], found["over_half"]) == (2, 11, 1.0)


def test_cpv_divisions_rank_by_reliable_amounts(db):
    found = indicators.amounts_per_division(db)
    first, second = found["divisions"]
    assert (first["division"], first["sum_reliable"], first["contracts"]) == ("45", 1_001_000.0 + 500 + 260, 13)
    assert (second["division"], second["sum"], second["sum_reliable"], second["doubtful"]) == ("09", 999e6, 0.0, 1)
    assert first["median"] == 100.0  # of the reliable amounts


def test_single_offer_and_delays(db):
    offers = indicators.single_offer(db)
    assert {p["procedure"]: (p["contracts"], p["share"]) for p in offers["procedures"]} == {
        "Procédure adaptée": (5, pytest.approx(0.4)), "Appel d'offres ouvert": (5, 1.0)}  # fmt: skip
    assert (offers["contracts"], offers["share"]) == (10, pytest.approx(0.7))
    delays = indicators.delays(db)
    assert (delays["contracts"], delays["median"], delays["on_time"]) == (14, 10.0, pytest.approx(13 / 14))
