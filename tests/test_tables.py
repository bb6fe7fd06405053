"""The tabular outputs read back with pandas and pyarrow, and checked against datapackage.json."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from .test_build import ALL_SAMPLES, build

TABLES = ("marches", "concessions", "titulaires", "actes_sous_traitance", "listes", "modifications")
ARROW_TYPES = {"string": pa.string(), "number": pa.float64(), "integer": pa.int64(), "boolean": pa.bool_(),
               "date": pa.date32()}  # fmt: skip


@pytest.fixture(scope="module")
def samples_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp_path = tmp_path_factory.mktemp("tables")
    code, report, _ = build(tmp_path, *ALL_SAMPLES)
    assert code == 0
    return tmp_path / "dist", report


def test_marches_one_row_per_contract_valid_and_rejected(samples_build):
    dist, report = samples_build
    marches = pd.read_parquet(dist / "marches.parquet")
    assert marches["uid"].is_unique
    assert len(marches) == report["tables"]["marches"] == 145
    published = json.loads((dist / "decp.json").read_text())["marches"]
    valid = marches[marches["valid"]]
    assert sorted(valid["uid"]) == sorted(r["uid"] for r in published if r["_type"] == "Marché")
    invalid = marches[~marches["valid"]]
    assert len(invalid) == 42  # rejected records with a buyer SIRET and an id, and no valid row
    assert invalid["errors"].str.contains("required:dateNotification").sum() == 41  # the AIFE marchés
    row = marches.set_index("uid").loc["130018989000172019I1703000"]
    assert (row["montant"], row["dureeMois"], str(row["dateNotification"])) == (153900.0, 38, "2018-12-17")
    assert row["source"] == "pes-marche"


def test_typed_columns(samples_build):
    dist, _ = samples_build
    schema = pq.read_schema(dist / "marches.parquet")
    assert schema.field("uid").type == pa.string()
    assert schema.field("acheteur_id").type == pa.string()  # identifiers stay text: no lost leading zero
    assert schema.field("montant").type == pa.float64()
    assert schema.field("dateNotification").type == pa.date32()
    assert schema.field("valid").type == pa.bool_()


def test_linked_tables(samples_build):
    dist, _ = samples_build
    marches = pd.read_parquet(dist / "marches.parquet")
    concessions = pd.read_parquet(dist / "concessions.parquet")
    titulaires = pd.read_parquet(dist / "titulaires.parquet")
    modifications = pd.read_parquet(dist / "modifications.parquet")
    contracts = set(marches["uid"]) | set(concessions["uid"])
    assert set(titulaires["uid"]) <= contracts
    assert set(modifications["uid"]) <= contracts
    initial = titulaires[titulaires["modification"] == 0].groupby("uid").size()
    assert (initial.reindex(marches["uid"]).fillna(0).astype(int).values == marches["titulaires_count"].values).all()
    assert (modifications["numero"] >= 1).all()


def test_csv_twins_and_datapackage(samples_build):
    dist, _ = samples_build
    package = json.loads((dist / "datapackage.json").read_text())
    resources = {r["name"]: r for r in package["resources"]}
    assert set(resources) == {f"{t}-{fmt}" for t in TABLES for fmt in ("csv", "parquet")}
    for table in TABLES:
        fields = resources[f"{table}-csv"]["schema"]["fields"]
        with open(dist / f"{table}.csv", encoding="utf-8", newline="") as f:
            rows = list(csv.reader(f))
        assert rows[0] == [field["name"] for field in fields]
        assert len(rows) - 1 == resources[f"{table}-csv"]["count"]
        schema = pq.read_schema(dist / f"{table}.parquet")
        assert [(f.name, f.type) for f in schema] == [(f["name"], ARROW_TYPES[f["type"]]) for f in fields]
        assert pq.read_metadata(dist / f"{table}.parquet").num_rows == resources[f"{table}-parquet"]["count"]
    parsed = pd.read_csv(dist / "marches.csv", dtype={"uid": str, "acheteur_id": str})
    assert parsed["uid"].is_unique
    assert len(parsed) == 145
