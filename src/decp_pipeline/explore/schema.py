"""What decp.sqlite holds: the tables of the release's datapackage.json (the Parquet file of a table published in
both formats, else its CSV), with their columns, types and descriptions, and what only the database adds:

    <winners>_noms   in marches (titulaires_noms) and concessions (concessionnaires_noms): the winners' names, each
                     once, in the order first listed (initial ones, then those a modification adds), "; "-joined,
                     so that the full-text search of `marches` finds a contract by its supplier's name
    marche, concession   in the linked tables (titulaires, modifications, listes, actes_sous_traitance): the row's
                     uid again, in the column of the table it belongs to, as a foreign key: `uid` itself names a
                     marché or a concession, and a column references one table only. A titulaire's role says
                     which; a modification or a list value of a uid that is both a marché's and a concession's
                     (a buyer's id reused) is linked to neither: nothing tells whose it is

Each table is read by DuckDB (a query: the added columns by joins, the rows in their key's order or the file's),
streamed as Arrow batches into SQLite (load.py).
"""

# ruff: noqa: S608 - the SQL is made of this package's constants and of the names datapackage.json gives (the
# build's own tables and columns) and quoted paths, never of data

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

SQLITE_TYPES: dict[str, type] = {"string": str, "integer": int, "number": float, "boolean": int, "date": str}
DUCKDB_TYPES = {"string": "VARCHAR", "integer": "BIGINT", "number": "DOUBLE", "boolean": "BOOLEAN", "date": "DATE"}


@dataclass(frozen=True)
class Column:
    name: str
    type: str  # a Frictionless type, as datapackage.json gives it
    description: str


@dataclass(frozen=True)
class Link:
    """A column of a linked table that references the contract its row belongs to."""

    column: str
    parent: str
    role: str | None = None  # titulaires: the role of the rows that belong to `parent`
    other: str | None = None  # the other table a uid can name: a uid of both is linked to neither (no role)


@dataclass(frozen=True)
class Table:
    name: str
    path: str  # in the release
    title: str
    columns: tuple[Column, ...]  # as published
    primary_key: tuple[str, ...]
    rows: int
    description: str = ""

    @property
    def links(self) -> tuple[Link, ...]:
        return LINKS.get(self.name, ())

    @property
    def added(self) -> tuple[Column, ...]:
        """The columns only the database has."""
        added = [Column(link.column, "string", f"the {link.parent[:-1]} of the row ({link.parent}.uid, as uid), "
                        f"when it is one (decp.sqlite only)") for link in self.links]  # fmt: skip
        if self.name in WINNERS:
            column, role = WINNERS[self.name]
            added.append(Column(column, "string", f"the names of its {role}s (denominationSociale of titulaires), "
                                f"each once, '; '-separated, searched (decp.sqlite only)"))  # fmt: skip
        return tuple(added)

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return (*self.columns, *self.added)


# Named by the regulation: `uid` of titulaires is a marché's for a titulaire, a concession's for a concessionnaire.
_CONTRACT = (Link("marche", "marches", other="concessions"), Link("concession", "concessions", other="marches"))
LINKS = {
    "titulaires": (Link("marche", "marches", "titulaire"), Link("concession", "concessions", "concessionnaire")),
    "modifications": _CONTRACT,
    "listes": _CONTRACT,
    "actes_sous_traitance": (Link("marche", "marches", other="concessions"),),
}
WINNERS = {"marches": ("titulaires_noms", "titulaire"), "concessions": ("concessionnaires_noms", "concessionnaire")}
# The columns people filter by: buyer and supplier identifiers, CPV, date, the buyer's département, the source
# (a facet). The link columns are indexed too (partial indexes: a link column is mostly empty): Datasette counts a
# contract's rows in the linked tables on its page.
INDEXES = {
    "marches": ("acheteur_id", "codeCPV", "dateNotification", "acheteur_departement", "source"),
    "concessions": ("autoriteConcedante_id", "dateSignature", "autoriteConcedante_departement", "source"),
    "titulaires": ("titulaire_id", "siren"),
    "actes_sous_traitance": ("sousTraitant_id",),
}
# Full-text search (FTS5, attached to the table: Datasette's `_search`); diacritics folded, so that "marche" finds
# "marché" and "Marché".
SEARCHED = {
    "marches": ("objet", "acheteur_nom", "titulaires_noms"),
    "concessions": ("objet", "autoriteConcedante_nom", "concessionnaires_noms"),
}
TOKENIZE = "unicode61 remove_diacritics 2"


def tables_of(package: dict[str, Any]) -> list[Table]:
    """The tables of a datapackage.json, those referenced first (a table is created after those it links to)."""
    resources = package.get("resources", [])
    names = {resource["name"] for resource in resources}
    tables = []
    for resource in resources:
        name = resource["name"]
        if name.endswith("-csv") and f"{name.removesuffix('-csv')}-parquet" in names:
            continue  # the same table, read from its Parquet file
        schema = resource.get("schema", {})
        table = name.removesuffix("-parquet")
        columns = tuple(Column(f["name"], f["type"], f.get("description", "")) for f in schema.get("fields", []))
        key = tuple(schema.get("primaryKey", ()))
        tables.append(Table(table, resource["path"], resource.get("title", table), columns, key,
                            int(resource.get("count", 0)), resource.get("description", "")))  # fmt: skip
    return sorted(tables, key=lambda table: bool(table.links))


def select(table: Table, folder: Path, present: dict[str, Table]) -> str:
    """The DuckDB query of a table's rows as the database holds them (`present`: the tables of the release)."""
    columns = [f't."{column.name}"' for column in table.columns]
    joins = []
    for link in table.links:
        if link.parent in present:
            role = f"t.role = '{link.role}' AND " if link.role else ""
            if link.other in present and not link.role:  # a buyer's id of a marché and of a concession: whose?
                role = f"t.uid NOT IN (SELECT uid FROM {_read(present[link.other], folder)}) AND "
            parent = _read(present[link.parent], folder)
            columns.append(f"CASE WHEN {role}t.uid IN (SELECT uid FROM {parent}) THEN t.uid END AS {link.column}")
        else:
            columns.append(f"CAST(NULL AS VARCHAR) AS {link.column}")
    if table.name in WINNERS:
        column, role = WINNERS[table.name]
        if "titulaires" in present:
            joins.append(f"LEFT JOIN ({_names(_read(present['titulaires'], folder), role)}) w ON w.uid = t.uid")
            columns.append(f"w.noms AS {column}")
        else:
            columns.append(f"CAST(NULL AS VARCHAR) AS {column}")
    order = ", ".join(f't."{key}"' for key in table.primary_key) or "t.file_row_number"
    if not table.path.endswith(".parquet") and not table.primary_key:
        order = ""  # a CSV's rows come in the file's order (DuckDB keeps it without a join)
    query = f"SELECT {', '.join(columns)} FROM {_read(table, folder, numbered=True)} t {' '.join(joins)}"
    return query + (f" ORDER BY {order}" if order else "")


def _names(titulaires: str, role: str) -> str:
    """Per contract, its winners' names, each once, in the order first listed."""
    first = (f"SELECT uid, denominationSociale AS nom, min(modification * 1000000 + rang) AS premier FROM {titulaires}"
             f" WHERE role = '{role}' AND denominationSociale IS NOT NULL AND denominationSociale <> ''"
             f" GROUP BY uid, denominationSociale")  # fmt: skip
    return f"SELECT uid, string_agg(nom, '; ' ORDER BY premier) AS noms FROM ({first}) GROUP BY uid"


def _read(table: Table, folder: Path, *, numbered: bool = False) -> str:
    path = str(folder / table.path).replace("'", "''")
    if table.path.endswith(".parquet"):
        return f"read_parquet('{path}'{', file_row_number = true' if numbered else ''})"
    types = ", ".join(f"'{c.name}': '{DUCKDB_TYPES.get(c.type, 'VARCHAR')}'" for c in table.columns)
    # `""` is an empty text, an empty field a null, as pyarrow wrote them (DuckDB reads both as null by default)
    options = "header = true, auto_detect = false, allow_quoted_nulls = false"
    return f"read_csv('{path}', {options}, columns = {{{types}}})"
