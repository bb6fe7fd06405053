"""The release's tables as DuckDB views, under the common names the report's queries use.

    contrats     one row per row of marches and concessions (exported and rejected records): the buyer (acheteur
                 or autorité concédante) as `acheteur`, the notification (dateSignature for a concession) as
                 `notification`, the amount (valeurGlobale for a concession) as `montant`
    titulaires   the initial winners of each contract (modification 0), with the enrichment columns

DuckDB reads only the columns a query names, from the Parquet files, in bounded memory: no table of the release
is loaded whole into Python.
"""

# ruff: noqa: S608 - the SQL is made of this module's constants and of quoted paths, never of data

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow.parquet as pq

# column of contrats → (its column in marches, in concessions); None: the table has none
COLUMNS = {
    "uid": ("uid", "uid"),
    "id": ("id", "id"),
    "source": ("source", "source"),
    "valid": ("valid", "valid"),
    "errors": ("errors", "errors"),
    "anomalies": ("anomalies", "anomalies"),
    "fixes": ("fixes", "fixes"),
    "acheteur": ("acheteur_id", "autoriteConcedante_id"),
    "nom": ("acheteur_nom", "autoriteConcedante_nom"),
    "objet": ("objet", "objet"),
    "procedure": ("procedure", "procedure"),
    "notification": ("dateNotification", "dateSignature"),
    "publication": ("datePublicationDonnees", "datePublicationDonnees"),
    "montant": ("montant", "valeurGlobale"),
    "montant_fiable": ("montant_fiable", "montant_fiable"),
    "cpv_division": ("cpv_division", None),
    "offresRecues": ("offresRecues", None),
    "categorie": ("acheteur_categorie_juridique", "autoriteConcedante_categorie_juridique"),
    "departement": ("acheteur_departement", "autoriteConcedante_departement"),
    "file": ("file", "file"),
    "position": ("position", "position"),
}
TYPES = {"valid": "BOOLEAN", "notification": "DATE", "publication": "DATE", "montant": "DOUBLE",
         "montant_fiable": "BOOLEAN", "offresRecues": "BIGINT", "position": "BIGINT"}  # fmt: skip
HOLDER_COLUMNS = ("uid", "titulaire_id", "denominationSociale", "titulaire_categorie_entreprise",
                  "fournisseur_local", "modification")  # fmt: skip
HOLDER_TYPES = {"fournisseur_local": "BOOLEAN", "modification": "BIGINT"}


SPILL = ".duckdb-report"  # in the release being written, never the current folder: removed by write.py


def connect(folder: Path) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with the views of the release written in `folder`; beyond its memory limit it spills
    into `folder`/SPILL."""
    db = duckdb.connect(config={"threads": 2, "memory_limit": "384MB", "preserve_insertion_order": False,
                                "temp_directory": str(folder / SPILL)})  # fmt: skip
    db.execute("SET enable_progress_bar = false")  # else DuckDB draws one on stdout, over the build's output
    parts = []
    for table, side in (("marches", 0), ("concessions", 1)):
        path = folder / f"{table}.parquet"
        if not path.is_file():
            continue
        present = set(pq.read_schema(path).names)
        kind = "marche" if side == 0 else "contrat-concession"
        select = ", ".join(_column(name, pair[side], present) for name, pair in COLUMNS.items())
        parts.append(f"SELECT {select}, '{kind}' AS kind FROM read_parquet('{_quoted(path)}')")
    if not parts:
        empty = ", ".join(f"CAST(NULL AS {TYPES.get(n, 'VARCHAR')}) AS {n}" for n in COLUMNS)
        parts.append(f"SELECT {empty}, 'marche' AS kind WHERE false")
    db.execute("CREATE VIEW contrats AS " + " UNION ALL ".join(parts))
    holders = folder / "titulaires.parquet"
    if holders.is_file():
        present = set(pq.read_schema(holders).names)
        select = ", ".join(_column(name, name, present, HOLDER_TYPES) for name in HOLDER_COLUMNS)
        db.execute(f"CREATE VIEW titulaires AS SELECT {select} FROM read_parquet('{_quoted(holders)}') "
                   "WHERE modification = 0")  # fmt: skip
    else:
        empty = ", ".join(f"CAST(NULL AS {HOLDER_TYPES.get(n, 'VARCHAR')}) AS {n}" for n in HOLDER_COLUMNS)
        db.execute(f"CREATE VIEW titulaires AS SELECT {empty} WHERE false")
    return db


def _column(name: str, column: str | None, present: set[str], types: dict[str, str] = TYPES) -> str:
    kind = types.get(name, "VARCHAR")
    if column is None or column not in present:
        return f"CAST(NULL AS {kind}) AS {name}"
    return f'CAST("{column}" AS {kind}) AS {name}'


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")
