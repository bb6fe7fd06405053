"""The tables enriched from the reference data (references/: SIRENE, the COG communes, the CPV), with DuckDB.

Once the tables are written, one DuckDB query per table joins them with the normalized reference Parquet
files (no record is loaded into Python objects; DuckDB streams and spills within `memory_limit`), and the
result replaces the table, CSV and Parquet written from the same Arrow batches, in the same row order. The
regulatory JSON files are never touched. A reference that is missing leaves its columns empty (null): the
tables have the same columns in every release, whatever was available.

    marches, concessions   the buyer (acheteur, autorité concédante) by its SIRET: its name in the register,
                           legal category, commune, département, région, closed at the notification date
    marches                the CPV code's label and whether the nomenclature knows it
    titulaires             each holder by its SIRET or SIREN: name, company category, headcount band, NAF
                           activity, commune, département, région; the country of a foreign identifier; whether
                           it is in the buyer's département (fournisseur_local)

`report.json` gains `enrichment`: per source, the buyers' and holders' SIRETs matched, not found, and closed at
the notification date, over every row (rejected records included).
"""

# ruff: noqa: S608 - the SQL is made of this module's constants and of quoted paths (_quoted), never of data

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from decp_pipeline.pipeline.tables import BATCH_ROWS, BOOLEAN, FRICTIONLESS_TYPES, TEXT

MEMORY_LIMIT = "1GB"  # DuckDB's; it spills to a temporary folder beyond
# The normalized columns each reference has (references/shapes.py), for an empty stand-in when it is missing.
REFERENCE_COLUMNS = {
    "sirene-etablissements": ("siret", "siren", "etat", "date_debut", "code_commune", "naf", "tranche_effectifs",
                              "denomination"),
    "sirene-unites-legales": ("siren", "denomination", "categorie_juridique", "categorie_entreprise",
                              "tranche_effectifs", "etat", "date_debut"),
    "cog-communes": ("code_commune", "nom", "code_departement", "code_region"),
    "cpv": ("code8", "code", "libelle"),
}  # fmt: skip
BUYER = [
    ("nom_sirene", TEXT, "name in the SIRENE register (the unité légale's), when the record's differs or lacks"),
    ("categorie_juridique", TEXT, "legal category (SIRENE, catégorie juridique)"),
    ("commune", TEXT, "commune code of the establishment (SIRENE, COG)"),
    ("departement", TEXT, "département code (COG)"),
    ("region", TEXT, "région code (COG)"),
    ("ferme_a_la_notification", BOOLEAN, "the establishment was closed at the notification date (SIRENE)"),
]
ADDED: dict[str, list[tuple[str, pa.DataType, str]]] = {
    "marches": [*[(f"acheteur_{n}", t, f"buyer: {d}") for n, t, d in BUYER],
                ("cpv_libelle", TEXT, "label of the CPV code (CPV 2008 nomenclature)"),
                ("cpv_connu", BOOLEAN, "the CPV code is in the nomenclature (null without it)")],
    "concessions": [(f"autoriteConcedante_{n}", t, f"granting authority: {d}") for n, t, d in BUYER],
    "titulaires": [
        ("titulaire_nom_sirene", TEXT, "name in the SIRENE register (unité légale)"),
        ("titulaire_categorie_entreprise", TEXT, "company category (PME, ETI, GE: SIRENE)"),
        ("titulaire_tranche_effectifs", TEXT, "headcount band (SIRENE code)"),
        ("titulaire_naf", TEXT, "NAF activity of the establishment (SIRENE)"),
        ("titulaire_commune", TEXT, "commune code of the establishment (SIRENE)"),
        ("titulaire_departement", TEXT, "département code (COG)"),
        ("titulaire_region", TEXT, "région code (COG)"),
        ("titulaire_pays", TEXT, "country: FR for a SIRET or SIREN, the prefix of a TVA number, else null"),
        ("fournisseur_local", BOOLEAN, "the holder's département is the buyer's"),
    ],
}  # fmt: skip


def enrich(folder: Path, references: dict[str, Path]) -> dict[str, dict[str, int]]:
    """Enrich the tables of the release being written in `folder`; the counts per source for report.json."""
    import duckdb  # noqa: PLC0415 - only builds load it (50 ms)

    spill = folder / ".duckdb-tmp"  # in the release being written, never the current folder; removed after
    db = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)})
    db.execute("SET preserve_insertion_order = true")
    for name, columns in REFERENCE_COLUMNS.items():
        view = name.replace("-", "_")
        path = references.get(name)
        if path is not None:  # one row per key: a stock with history (several rows per SIRET) multiplies nothing
            db.execute(f"""CREATE VIEW {view} AS SELECT * FROM read_parquet('{_quoted(path)}')
                           QUALIFY row_number() OVER (PARTITION BY {columns[0]} ORDER BY {_latest(name)}) = 1""")
        else:
            db.execute(f"CREATE TABLE {view} AS SELECT " + ", ".join(f"NULL::VARCHAR AS {c}" for c in columns)
                       + " WHERE false")  # fmt: skip
    _buyers(db, folder)
    _replace(db, folder, "marches", _marches_sql(folder, "cpv" in references))
    _replace(db, folder, "concessions", _concessions_sql(folder))
    _replace(db, folder, "titulaires", _holders_sql(folder))
    counts = _counts(db) if "sirene-etablissements" in references else {}  # nothing to count without SIRENE
    _describe(folder)
    db.close()
    shutil.rmtree(spill, ignore_errors=True)
    return counts


def _latest(name: str) -> str:
    """Which row of a key a reference keeps: the latest period of a SIRENE stock, else any."""
    return "date_debut DESC NULLS LAST" if name.startswith("sirene") else "1"


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _buyers(db: Any, folder: Path) -> None:
    """One row per contract: its source, buyer SIRET, notification day and what the register says of it."""
    parts = []
    for table, prefix, day in (("marches", "acheteur", "dateNotification"),
                               ("concessions", "autoriteConcedante", "dateSignature")):  # fmt: skip
        path = folder / f"{table}.parquet"
        parts.append(
            f"SELECT uid, source, replace({prefix}_id, ' ', '') AS siret, {day} AS day "
            f"FROM read_parquet('{_quoted(path)}')"
        )
    db.execute(f"""
        CREATE TABLE buyers AS
        SELECT b.uid, b.source, b.siret, b.day, e.siret AS found, u.denomination, u.categorie_juridique,
               e.code_commune, c.code_departement, c.code_region,
               CASE WHEN e.siret IS NULL THEN NULL WHEN e.etat IS DISTINCT FROM 'F' THEN false
                    ELSE TRY_CAST(e.date_debut AS DATE) <= b.day END AS closed
        FROM ({" UNION ALL ".join(parts)}) b
        LEFT JOIN sirene_etablissements e ON e.siret = b.siret
        LEFT JOIN sirene_unites_legales u ON u.siren = substr(b.siret, 1, 9)
        LEFT JOIN cog_communes c ON c.code_commune = e.code_commune
    """)


def _buyer_columns(prefix: str) -> str:
    return f"""
        CASE WHEN b.denomination IS DISTINCT FROM t.{prefix}_nom THEN b.denomination END AS {prefix}_nom_sirene,
        b.categorie_juridique AS {prefix}_categorie_juridique, b.code_commune AS {prefix}_commune,
        b.code_departement AS {prefix}_departement, b.code_region AS {prefix}_region,
        b.closed AS {prefix}_ferme_a_la_notification"""


def _marches_sql(folder: Path, with_cpv: bool) -> str:
    known = "cpv.code8 IS NOT NULL" if with_cpv else "NULL::BOOLEAN"
    return f"""
        SELECT t.*, {_buyer_columns("acheteur")}, cpv.libelle AS cpv_libelle,
               CASE WHEN t.codeCPV IS NULL THEN NULL ELSE {known} END AS cpv_connu
        FROM read_parquet('{_quoted(folder / "marches.parquet")}', file_row_number = true) t
        LEFT JOIN buyers b ON b.uid = t.uid
        LEFT JOIN cpv ON cpv.code8 = substr(t.codeCPV, 1, 8)
        ORDER BY t.file_row_number"""


def _concessions_sql(folder: Path) -> str:
    return f"""
        SELECT t.*, {_buyer_columns("autoriteConcedante")}
        FROM read_parquet('{_quoted(folder / "concessions.parquet")}', file_row_number = true) t
        LEFT JOIN buyers b ON b.uid = t.uid
        ORDER BY t.file_row_number"""


def _holders_sql(folder: Path) -> str:
    siret = "CASE WHEN t.identifiant_type = 'SIRET' AND t.identifiant_valide THEN replace(t.titulaire_id, ' ', '') END"

    return f"""
        CREATE OR REPLACE TABLE holders AS
        SELECT t.*, b.source AS _source, b.day AS _day, e.siret AS _found,
               (e.etat = 'F' AND TRY_CAST(e.date_debut AS DATE) <= b.day) AS _closed,
               u.denomination AS titulaire_nom_sirene, u.categorie_entreprise AS titulaire_categorie_entreprise,
               coalesce(e.tranche_effectifs, u.tranche_effectifs) AS titulaire_tranche_effectifs,
               e.naf AS titulaire_naf, e.code_commune AS titulaire_commune,
               c.code_departement AS titulaire_departement, c.code_region AS titulaire_region,
               CASE WHEN t.identifiant_type IN ('SIRET', 'SIREN') THEN 'FR'
                    WHEN t.identifiant_type = 'TVA' AND regexp_matches(t.titulaire_id, '^[A-Z]{{2}}')
                    THEN substr(t.titulaire_id, 1, 2) END AS titulaire_pays,
               CASE WHEN c.code_departement IS NOT NULL AND b.code_departement IS NOT NULL
                    THEN c.code_departement = b.code_departement END AS fournisseur_local
        FROM read_parquet('{_quoted(folder / "titulaires.parquet")}', file_row_number = true) t
        LEFT JOIN buyers b ON b.uid = t.uid
        LEFT JOIN sirene_etablissements e ON e.siret = {siret}
        LEFT JOIN sirene_unites_legales u ON u.siren = t.siren
        LEFT JOIN cog_communes c ON c.code_commune = e.code_commune
        ORDER BY t.file_row_number;
        SELECT * EXCLUDE (_source, _day, _found, _closed) FROM holders ORDER BY file_row_number"""


def _replace(db: Any, folder: Path, table: str, sql: str) -> None:
    """The table `folder/TABLE.{csv,parquet}` replaced by the query's result (without its row number)."""
    *setup, query = [part for part in sql.split(";") if part.strip()]
    for statement in setup:
        db.execute(statement)
    result = db.sql(f"SELECT * EXCLUDE (file_row_number) FROM ({query})").to_arrow_reader(BATCH_ROWS * 4)
    schema = result.schema
    parquet, csv = folder / f".{table}.enriched.parquet", folder / f".{table}.enriched.csv"
    with pq.ParquetWriter(parquet, schema, compression="zstd") as out_parquet, \
            pa_csv.CSVWriter(csv, schema) as out_csv:  # fmt: skip
        for batch in result:
            out_parquet.write_batch(batch)
            out_csv.write_batch(batch)
    parquet.replace(folder / f"{table}.parquet")
    csv.replace(folder / f"{table}.csv")


def _counts(db: Any) -> dict[str, dict[str, int]]:
    """Per source: SIRETs (buyers and holders) matched, not found, and closed at the notification date."""
    rows = db.execute("""
        WITH sirets AS (
            SELECT source, siret, found, closed FROM buyers WHERE siret IS NOT NULL AND siret <> ''
            UNION ALL
            SELECT _source, titulaire_id, _found, _closed FROM holders WHERE identifiant_type = 'SIRET'
        )
        SELECT source, count(found), count(*) - count(found), count(*) FILTER (WHERE closed)
        FROM sirets GROUP BY source ORDER BY source""").fetchall()
    return {source: {"matched": m, "not_found": n, "closed": c} for source, m, n, c in rows}


def _describe(folder: Path) -> None:
    """datapackage.json: the added columns of each enriched table, in both formats."""
    path = folder / "datapackage.json"
    package = json.loads(path.read_text(encoding="utf-8"))
    for resource in package["resources"]:
        table = resource["name"].rpartition("-")[0]
        if table in ADDED:
            added = [{"name": n, "type": FRICTIONLESS_TYPES[t], "description": d} for n, t, d in ADDED[table]]
            resource["schema"] = {**resource["schema"], "fields": [*resource["schema"]["fields"], *added]}
    path.write_text(json.dumps(package, ensure_ascii=False, indent=2) + "\n", "utf-8")
