"""metadata.json for Datasette (its metadata format, read by `datasette decp.sqlite -m metadata.json`): the
titles and descriptions of every table, view and column, from datapackage.json; the licence and the source; the
facets, default sort and label of each table; the canned queries (views.py). In English, as the descriptions of
datapackage.json it repeats."""

from __future__ import annotations

from typing import Any

from decp_pipeline.explore.schema import SEARCHED, Table
from decp_pipeline.explore.views import DESCRIPTIONS, queries, views

DATABASE_NAME = "decp"  # Datasette names a database after its file: decp.sqlite
SCHEMAS_URL = "https://github.com/139bercy/format-commande-publique"  # the official schemas of the DECP
# What a page shows first: the columns to facet by, the newest rows, a row's label in the links to it.
FACETS = {
    "marches": ["source", "nature", "procedure", "acheteur_departement"],
    "concessions": ["source", "nature", "procedure"],
    "titulaires": ["role", "identifiant_type"],
    "listes": ["champ"],
    "coverage": ["source", "date"],
}
SORT_DESC = {"marches": "dateNotification", "concessions": "dateSignature"}
LABELS = {"marches": "objet", "concessions": "objet", "buyers": "acheteur_nom"}


def datasette_metadata(package: dict[str, Any], tables: list[Table], sources: list[str]) -> dict[str, Any]:
    """The metadata of decp.sqlite, made of its datapackage.json, its tables and the build's sources."""
    licence = (package.get("licenses") or [{}])[0]
    present = {table.name for table in tables}
    return {
        "title": package.get("title", "DECP"),
        "description": "The French public procurement data (données essentielles de la commande publique), "
        "consolidated: one contract per row in marches and concessions; their titulaires, modifications, listes and "
        "actes_sous_traitance linked by uid. Rows with valid = 0 are the rejected records, with their errors "
        "(booleans are 0 and 1, dates YYYY-MM-DD). "
        "Full-text search on marches and concessions (object, buyer, winners); the views contrats, "
        "contrats_titulaires and contrats_par_annee hold the published contracts only.",
        "license": licence.get("title", licence.get("name", "")),
        "license_url": licence.get("path", ""),
        "source": f"DECP published in the regulatory formats; sources: {', '.join(sources) or 'none'}",
        "source_url": SCHEMAS_URL,
        "databases": {
            DATABASE_NAME: {
                "title": package.get("title", "DECP"),
                "tables": {
                    **{table.name: _table(table) for table in tables},
                    **{name: {"description": DESCRIPTIONS[name]} for name in views(present)},
                },
                "queries": queries(present),
            }
        },
    }


def _table(table: Table) -> dict[str, Any]:
    names = {column.name for column in table.all_columns}
    described: dict[str, Any] = {
        "title": table.title,
        "description": _description(table),
        "columns": {column.name: column.description for column in table.all_columns if column.description},
    }
    if facets := [column for column in FACETS.get(table.name, ()) if column in names]:
        described["facets"] = facets
    if table.name in SORT_DESC and SORT_DESC[table.name] in names:
        described["sort_desc"] = SORT_DESC[table.name]
    if LABELS.get(table.name) in names:
        described["label_column"] = LABELS[table.name]
    if table.name in SEARCHED:
        described["fts_table"] = f"{table.name}_fts"
        described["fts_pk"] = "rowid"
    return described


def _description(table: Table) -> str:
    key = f" Key: {', '.join(table.primary_key)}." if table.primary_key else ""
    links = "".join(f" {link.column}: its row of {link.parent}." for link in table.links)
    return f"{table.description or table.title}.{key}{links} {table.rows:,} rows ({table.path} of the release)."
