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

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from decp_pipeline.pipeline.tables import BATCH_ROWS, ENRICHED

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
ADDED = ENRICHED  # the columns each table gains (tables.py, where every published column is declared)


def enrich(folder: Path, references: dict[str, Path]) -> dict[str, dict[str, int]]:
    """Enrich the tables of the release being written in `folder`; the counts per source for report.json."""
    import duckdb  # noqa: PLC0415 - only builds load it (50 ms)

    spill = folder / ".duckdb-tmp"  # in the release being written, never the current folder; removed after
    db = duckdb.connect(config={"memory_limit": MEMORY_LIMIT, "temp_directory": str(spill)})
    db.execute("SET preserve_insertion_order = false")  # the queries say their order
    _wanted(db, folder)
    for name, columns in REFERENCE_COLUMNS.items():
        view = name.replace("-", "_")
        path = references.get(name)
        if path is not None:  # the rows of the keys the tables name, one per key (a stock with history: the latest)
            key = columns[0]
            wanted = f"WHERE {key} IN (SELECT {key} FROM wanted_{key})" if key in ("siret", "siren") else ""
            db.execute(f"""CREATE TABLE {view} AS SELECT * FROM read_parquet('{_quoted(path)}') {wanted}
                           QUALIFY row_number() OVER (PARTITION BY {key} ORDER BY {_latest(name)}) = 1""")
        else:
            db.execute(f"CREATE TABLE {view} AS SELECT " + ", ".join(f"NULL::VARCHAR AS {c}" for c in columns)
                       + " WHERE false")  # fmt: skip
    _buyers(db, folder)
    _replace(db, folder, "marches", _marches_sql(folder, "cpv" in references))
    _replace(db, folder, "concessions", _concessions_sql(folder))
    _replace(db, folder, "titulaires", _holders_sql(folder))
    counts = _counts(db) if "sirene-etablissements" in references else {}  # nothing to count without SIRENE
    db.close()
    shutil.rmtree(spill, ignore_errors=True)
    return counts


def _wanted(db: Any, folder: Path) -> None:
    """The SIRETs and SIRENs the tables name (buyers and holders): the stocks are read for them only, so that
    the 40 million establishments are filtered by a semi-join before any sort."""
    ids = []
    for table, column in (("marches", "acheteur_id"), ("concessions", "autoriteConcedante_id"),
                          ("titulaires", "titulaire_id")):  # fmt: skip
        ids.append(
            f"SELECT replace({column}, ' ', '') AS id FROM read_parquet('{_quoted(folder / f'{table}.parquet')}')"
        )
    db.execute(f"CREATE TABLE wanted_siret AS SELECT DISTINCT id AS siret FROM ({' UNION ALL '.join(ids)}) "
               "WHERE length(id) = 14")  # fmt: skip
    db.execute(
        "CREATE TABLE wanted_siren AS SELECT DISTINCT substr(siret, 1, 9) AS siren FROM wanted_siret UNION "
        f"SELECT siren FROM read_parquet('{_quoted(folder / 'titulaires.parquet')}') WHERE siren IS NOT NULL"
    )


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
        SELECT t.file_row_number, {_buyer_columns("acheteur")}, cpv.libelle AS cpv_libelle,
               CASE WHEN t.codeCPV IS NULL THEN NULL ELSE {known} END AS cpv_connu
        FROM read_parquet('{_quoted(folder / "marches.parquet")}', file_row_number = true) t
        LEFT JOIN buyers b ON b.uid = t.uid
        LEFT JOIN cpv ON cpv.code8 = substr(t.codeCPV, 1, 8)
        ORDER BY t.file_row_number"""


def _concessions_sql(folder: Path) -> str:
    return f"""
        SELECT t.file_row_number, {_buyer_columns("autoriteConcedante")}
        FROM read_parquet('{_quoted(folder / "concessions.parquet")}', file_row_number = true) t
        LEFT JOIN buyers b ON b.uid = t.uid
        ORDER BY t.file_row_number"""


def _holders_sql(folder: Path) -> str:
    siret = "CASE WHEN t.identifiant_type = 'SIRET' AND t.identifiant_valide THEN replace(t.titulaire_id, ' ', '') END"
    added = ", ".join(name for name, _, _ in ADDED["titulaires"])
    return f"""
        CREATE OR REPLACE TABLE holders AS
        SELECT t.file_row_number, t.identifiant_type, t.titulaire_id, b.source AS _source, e.siret AS _found,
               CASE WHEN e.siret IS NULL THEN NULL WHEN e.etat IS DISTINCT FROM 'F' THEN false
                    ELSE TRY_CAST(e.date_debut AS DATE) <= b.day END AS _closed,
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
        LEFT JOIN cog_communes c ON c.code_commune = e.code_commune;
        SELECT file_row_number, {added} FROM holders ORDER BY file_row_number"""


def _replace(db: Any, folder: Path, table: str, sql: str) -> None:
    """The table `folder/TABLE.{csv,parquet}` with the query's columns appended. The query gives only them,
    with the row number, in row order (a narrow sort); the table's own columns are streamed from its Parquet
    file beside them, so that no wide row goes through DuckDB."""
    *setup, query = [part for part in sql.split(";") if part.strip()]
    for statement in setup:
        db.execute(statement)
    added = db.sql(query).to_arrow_reader(BATCH_ROWS * 4)
    source = pq.ParquetFile(folder / f"{table}.parquet")
    names = [name for name in added.schema.names if name != "file_row_number"]
    kept = [field for field in source.schema_arrow if field.name not in names]  # the written empty columns go
    schema = pa.schema([*kept, *(source.schema_arrow.field(name) for name in names)])
    parquet, csv = folder / f".{table}.enriched.parquet", folder / f".{table}.enriched.csv"
    pending = _Rows(added)
    with pq.ParquetWriter(parquet, schema, compression="zstd") as out_parquet, \
            pa_csv.CSVWriter(csv, schema) as out_csv:  # fmt: skip
        for batch in source.iter_batches(BATCH_ROWS * 4, columns=[field.name for field in kept]):
            extra = pending.take(batch.num_rows)
            columns = [*batch.columns, *(extra.column(n).combine_chunks().cast(schema.field(n).type) for n in names)]
            joined = pa.RecordBatch.from_arrays(columns, schema=schema)
            out_parquet.write_batch(joined)
            out_csv.write_batch(joined)
    parquet.replace(folder / f"{table}.parquet")
    csv.replace(folder / f"{table}.csv")


class _Rows:
    """The next rows of a stream of record batches, as many as asked, whatever its batches' sizes."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.reader = reader
        self.buffer: pa.Table | None = None

    def take(self, count: int) -> pa.Table:
        parts = [self.buffer] if self.buffer is not None else []
        have = self.buffer.num_rows if self.buffer is not None else 0
        while have < count:
            batch = self.reader.read_next_batch()  # StopIteration: fewer rows than the table, never expected
            parts.append(pa.Table.from_batches([batch]))
            have += batch.num_rows
        rows = pa.concat_tables(parts).combine_chunks()
        self.buffer = rows.slice(count)
        return rows.slice(0, count)


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
