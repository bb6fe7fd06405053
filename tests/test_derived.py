"""The columns the tables gain when written (pipeline/derived.py): whether an amount can be added up, months
left, CPV division and group, the holders' identifier type and check."""

from __future__ import annotations

import datetime

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from decp_pipeline.pipeline.derived import amount_reliability, cpv_parts, identifiers, months_left

from .test_build import ALL_SAMPLES, build


def test_each_reason_of_a_doubtful_amount_in_its_order():
    amounts = [33023.0, 4e9, 1.0, 123456789.5, 111111111.0, 12.0, 500.0, None, 20000.0, 0.5]
    durations = [12, 12, 12, 12, 12, 12, 12, 12, None, 1]
    reliable, reason = amount_reliability(pa.table({"montant": amounts, "dureeMois": durations}), "montant", 3e9)
    assert reliable.to_pylist() == [True, False, False, False, False, False, False, None, True, False]
    assert reason.to_pylist() == [
        None,
        "au-dessus-du-plafond",
        "un-euro-ou-moins",
        "suite-123456789",
        "chiffres-repetes",
        "egal-a-la-duree",
        "par-mois-invraisemblable",
        None,
        None,
        "un-euro-ou-moins",
    ]  # fmt: skip  (0.5 €: also under 100 € a month; the first wins)


def test_round_negative_huge_and_nan_amounts():
    """A review found 150,000,000 called doubtful (six zeros), -1e20 crashing the build and NaN reliable."""
    amounts = [150_000_000.0, 199_999_999.0, -1e20, float("nan"), 3e9]
    rows = pa.table({"montant": amounts, "dureeMois": [24] * 5})
    reliable, reason = amount_reliability(rows, "montant", 3e9)
    assert reliable.to_pylist() == [True, False, False, None, True]
    assert reason.to_pylist() == [None, "chiffres-repetes", "un-euro-ou-moins", None, None]


def test_months_left_at_the_builds_day():
    rows = pa.table({"dateNotification": [datetime.date(2026, 1, 15), None, datetime.date(2020, 1, 1)],
                     "dureeMois": [24, 12, 12], "dureeMois_actuelle": [None, None, 36]})  # fmt: skip
    # 2026-01 + 24 months = 2028-01: 13 months after 2026-12; no start: null; 2020-01 + 36 (current) ended
    assert months_left(rows, "dateNotification", datetime.date(2026, 12, 4)).to_pylist() == [13, None, 0]


def test_cpv_division_and_group_of_well_formed_codes_only():
    division, group = cpv_parts(pa.table({"codeCPV": ["45000000-7", "4500000", "79100000", None]}))
    assert (division.to_pylist(), group.to_pylist()) == (["45", None, "79", None], ["450", None, "791", None])


def test_identifier_types_in_one_spelling_and_checked():
    rows = pa.table({"typeIdentifiant": ["SIRET", "siret ", "TVA-intracommunautaire", "FRW123", "HORS_UE", None,
                                         "SIREN", "SIRET"],
                     "titulaire_id": ["78471226700060", "78471226700061", "FR123", "x", "y", None, "784712267",
                                      "356000000 00048"]})  # fmt: skip
    kind, valid, siren = identifiers(rows)
    assert kind.to_pylist() == ["SIRET", "SIRET", "TVA", "FRWF", "HORS-UE", None, "SIREN", "SIRET"]
    assert valid.to_pylist() == [True, False, None, None, None, None, True, True]  # La Poste's rule for the last
    assert siren.to_pylist() == ["784712267", None, None, None, None, None, "784712267", "356000000"]


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory):
    tmp_path = tmp_path_factory.mktemp("derived")
    code, _, _ = build(tmp_path, *ALL_SAMPLES)
    assert code == 0
    return tmp_path / "dist"


def test_the_demo_tables_have_the_derived_columns_typed_and_described(demo):
    schema = pq.read_schema(demo / "marches.parquet")
    assert (schema.field("montant_fiable").type, schema.field("duree_restante_mois").type) == (pa.bool_(), pa.int64())
    assert pq.read_schema(demo / "titulaires.parquet").field("identifiant_valide").type == pa.bool_()
    marches = pd.read_parquet(demo / "marches.parquet")
    assert marches["montant_fiable_raison"].value_counts().to_dict() == {"par-mois-invraisemblable": 5,
                                                                         "un-euro-ou-moins": 1}  # fmt: skip
    small = marches[marches["montant_fiable_raison"] == "un-euro-ou-moins"].iloc[0]
    assert small["montant"] <= 1
    assert (marches["cpv_division"] == marches["codeCPV"].str[:2]).sum() == marches["cpv_division"].notna().sum()
    import json

    package = json.loads((demo / "datapackage.json").read_text(encoding="utf-8"))
    fields = {f["name"]: f["type"] for r in package["resources"] if r["name"] == "marches-csv"
              for f in r["schema"]["fields"]}  # fmt: skip
    assert (fields["montant_fiable"], fields["duree_restante_mois"], fields["cpv_groupe"]) == (
        "boolean",
        "integer",
        "string",
    )
