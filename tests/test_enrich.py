"""The tables enriched from the reference data with DuckDB (pipeline/enrich.py): the demo's references
(samples/references/: the CPV nomenclature, COG 2026 rows, hand-made SIRENE rows for 14 SIRETs of the samples),
a build without references, and an establishment closed before its contracts."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from .test_build import ALL_SAMPLES, SAMPLES, build

REFERENCES = SAMPLES / "references"
NAMES = ("cpv", "cog-communes", "sirene-etablissements", "sirene-unites-legales")


def with_references(folder: Path = REFERENCES) -> list[str]:
    return [arg for name in NAMES for arg in ("--reference", f"{name}={folder / f'{name}.csv'}")]


@pytest.fixture(scope="module")
def enriched(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    tmp_path = tmp_path_factory.mktemp("enriched")
    code, report, _ = build(tmp_path, *ALL_SAMPLES, *with_references())
    assert code == 0
    return tmp_path / "dist", report


def test_buyers_holders_and_cpv_from_the_references(enriched):
    dist, report = enriched
    marches = pd.read_parquet(dist / "marches.parquet")
    row = marches[marches["acheteur_id"] == "13001898900017"].iloc[0]  # a buyer of pes-marche, hand-made row
    assert (row["acheteur_nom"], row["acheteur_nom_sirene"]) == ("INOVALYS", "ETABLISSEMENT PUBLIC EXEMPLE")
    assert (row["acheteur_categorie_juridique"], row["acheteur_departement"]) == ("7389", "59")
    assert not row["acheteur_ferme_a_la_notification"]
    assert marches["cpv_connu"].all()  # every CPV of the samples is in the nomenclature
    gas = marches[marches["codeCPV"] == "09123000-7"].iloc[0]
    assert (gas["cpv_libelle"], gas["cpv_division"], gas["cpv_groupe"]) == ("Gaz naturel", "09", "091")
    holders = pd.read_parquet(dist / "titulaires.parquet")
    software = holders[holders["titulaire_id"] == "79812303000016"].iloc[0]
    assert (software["titulaire_nom_sirene"], software["titulaire_categorie_entreprise"]) == ("LOGICIELS EXEMPLE",
                                                                                              "PME")  # fmt: skip
    assert (software["titulaire_departement"], software["titulaire_pays"]) == ("44", "FR")
    # Every row of each table is still there, in the same order as without references.
    assert len(marches) == report["tables"]["marches"]
    assert len(holders) == report["tables"]["titulaires"]


def test_the_report_counts_matched_and_not_found_sirets(enriched):
    _, report = enriched
    assert report["enrichment"]["pes-marche"] == {"matched": 28, "not_found": 36, "closed": 0}
    assert report["enrichment"]["grandlyon"] == {"matched": 0, "not_found": 2, "closed": 0}  # absent: not found
    assert sum(c["matched"] for c in report["enrichment"].values()) == 60


def test_duckdb_and_the_datapackage_read_the_new_columns_with_their_types(enriched):
    dist, _ = enriched
    described = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{dist / 'marches.parquet'}')").fetchall()
    types = {name: kind for name, kind, *_ in described}
    assert (types["acheteur_ferme_a_la_notification"], types["cpv_connu"], types["montant_fiable"]) == (
        "BOOLEAN",
        "BOOLEAN",
        "BOOLEAN",
    )
    assert (types["acheteur_departement"], types["duree_restante_mois"]) == ("VARCHAR", "BIGINT")
    package = json.loads((dist / "datapackage.json").read_text(encoding="utf-8"))
    fields = {r["name"]: [f["name"] for f in r["schema"]["fields"]] for r in package["resources"]}
    parquet_columns = list(pd.read_parquet(dist / "titulaires.parquet").columns)
    assert fields["titulaires-parquet"] == fields["titulaires-csv"] == parquet_columns
    with open(dist / "marches.csv", encoding="utf-8") as f:
        assert next(csv.reader(f)) == fields["marches-csv"]


def test_without_references_the_columns_are_there_and_empty(tmp_path):
    code, report, _ = build(tmp_path, *ALL_SAMPLES)
    assert code == 0
    marches = pd.read_parquet(tmp_path / "dist" / "marches.parquet")
    assert marches["acheteur_nom_sirene"].isna().all()
    assert marches["cpv_connu"].isna().all()  # unknown without the nomenclature, not false
    assert report["enrichment"] == {}  # nothing to count without SIRENE (not every SIRET "not found")


def test_an_establishment_closed_before_the_notification(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in NAMES:
        text = (REFERENCES / f"{name}.csv").read_text(encoding="utf-8")
        if name == "sirene-etablissements":  # the PES buyer's establishment, closed in 2010 (hand-made)
            lines = text.splitlines()
            header = lines[0].split(",")
            for number, line in enumerate(lines):
                cells = line.split(",")
                if len(cells) > 2 and cells[2] == "13001898900017":
                    cells[header.index("dateDebut")] = "2010-01-01"
                    cells[header.index("etatAdministratifEtablissement")] = "F"
                    lines[number] = ",".join(cells)
            text = "\n".join(lines) + "\n"
        (folder / f"{name}.csv").write_text(text, encoding="utf-8")
    code, report, _ = build(tmp_path, *ALL_SAMPLES, *with_references(folder))
    assert code == 0
    marches = pd.read_parquet(tmp_path / "dist" / "marches.parquet")
    closed = marches[marches["acheteur_id"] == "13001898900017"]
    assert closed["acheteur_ferme_a_la_notification"].all()
    assert report["enrichment"]["pes-marche"]["closed"] == len(closed)


def test_a_changed_reference_rebuilds_and_a_touched_one_does_not(tmp_path):
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in NAMES:
        (folder / f"{name}.csv").write_bytes((REFERENCES / f"{name}.csv").read_bytes())
    args = [*ALL_SAMPLES, *with_references(folder)]
    assert build(tmp_path, *args)[0] == 0
    assert "Nothing changed" in build(tmp_path, *args)[2]
    os.utime(folder / "cpv.csv")  # the same bytes, a new time: the same reference
    assert "Nothing changed" in build(tmp_path, *args)[2]
    (folder / "cpv.csv").write_text("code,code8,libelle_fr\n09123000-7,09123000,Gaz naturel\n", encoding="utf-8")
    code, _, out = build(tmp_path, *args)
    assert code == 0
    assert "Nothing changed" not in out
    marches = pd.read_parquet(tmp_path / "dist" / "marches.parquet")
    assert marches["cpv_connu"].sum() == (marches["codeCPV"].str[:8] == "09123000").sum()  # the one code left


def test_a_stock_with_several_rows_per_siret_multiplies_no_row(tmp_path):
    """A review found a SIRENE file with a repeated key (a stock with history) duplicating contract rows."""
    folder = tmp_path / "refs"
    folder.mkdir()
    for name in NAMES:
        lines = (REFERENCES / f"{name}.csv").read_text(encoding="utf-8").splitlines()
        if name.startswith("sirene"):
            lines += lines[1:3]  # two rows given twice
        (folder / f"{name}.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, report, _ = build(tmp_path, *ALL_SAMPLES, *with_references(folder))
    assert code == 0
    marches = pd.read_parquet(tmp_path / "dist" / "marches.parquet")
    assert len(marches) == report["tables"]["marches"] == 145
    assert marches["uid"].is_unique
    assert len(pd.read_parquet(tmp_path / "dist" / "titulaires.parquet")) == report["tables"]["titulaires"]
