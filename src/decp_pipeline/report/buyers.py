"""Feedback per buyer: acheteurs.csv (the counts of every buyer) and one page per buyer, acheteurs/<SIRET>.html
(its contracts, its rejected records with the reasons, its repaired records with the fixes, its anomalies, its
publication delays).

A buyer is an id of acheteur (autorité concédante for a concession) of at least one row of the tables, valid or
not. DuckDB computes everything: the counts per buyer; its latest contracts, as HTML rows it writes itself; its
rejected records (the first of them); its fixes and anomalies per code, with their counts and the first ids. A
buyer of 20,000 contracts gets a page of at most a few hundred rows; each page says how many it does not show.
"""

# ruff: noqa: S608 - the SQL is made of this module's constants and of quoted paths, never of data

from __future__ import annotations

import csv
import hashlib
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb

from decp_pipeline.report.buyer_page import (
    SHOWN_CONTRACTS,
    SHOWN_REJECTED,
    SHOWN_REPAIRED,
    STYLESHEET,
    page,
    stylesheet,
)
from decp_pipeline.report.indicators import DELAY, ON_TIME
from decp_pipeline.report.libelles import ANOMALIES, FIXES, rule_words

FOLDER = "acheteurs"
CSV = "acheteurs.csv"
SAFE_ID = re.compile(r"[0-9A-Za-z]{1,32}")
FIELDS = [  # acheteurs.csv: (column, Table Schema type, description)
    ("acheteur_id", "string", "the buyer's id (acheteur.id, autoriteConcedante.id for concessions)"),
    ("acheteur_nom", "string", "its name in its latest publication (as buyers.csv)"),
    ("sources", "string", "the sources of its records, separated by ' '"),
    ("records", "integer", "its rows of marches and concessions: exported + rejected (duplicates dropped are not)"),
    ("exported", "integer", "of which valid (published)"),
    ("rejected", "integer", "of which rejected (rejected.jsonl)"),
    ("repaired", "integer", "rows with at least one fix (column fixes)"),
    ("with_anomalies", "integer", "rows with at least one anomaly (column anomalies)"),
    ("delay_median_days", "number", "median days from notification (dateSignature for a concession) to publication "
                                    "(valid rows with both dates, published on or after the notification)"),
    ("published_within_two_months", "number", "share of those published at most two months after notification"),
    ("page", "string", "its page in the release: acheteurs/<id>.html"),
]  # fmt: skip
_AGGREGATES = f"""
SELECT acheteur, coalesce(arg_max(nom, publication), any_value(nom)), string_agg(DISTINCT source, ' ' ORDER BY source),
       count(*), count(*) FILTER (WHERE valid), count(*) FILTER (WHERE NOT valid),
       count(*) FILTER (WHERE fixes IS NOT NULL), count(*) FILTER (WHERE anomalies IS NOT NULL),
       median({DELAY}) FILTER (WHERE valid AND publication >= notification),
       avg(CASE WHEN {ON_TIME} THEN 1.0 ELSE 0.0 END) FILTER (WHERE valid AND publication >= notification)
FROM contrats WHERE acheteur IS NOT NULL AND acheteur <> '' GROUP BY acheteur ORDER BY acheteur"""
# DuckDB writes the rows of the contracts' tables itself, escaped (`esc`), one string per buyer: at national size
# (half a million rows listed) no row becomes a Python object. Amounts and dates the French way, as render.py does.
_MACROS = [
    """CREATE OR REPLACE MACRO esc(x) AS
       replace(replace(replace(replace(x, '&', '&amp;'), '<', '&lt;'), '>', '&gt;'), '"', '&quot;')""",
    """CREATE OR REPLACE MACRO cut(x) AS CASE WHEN length(x) > 120 THEN left(x, 119) || '…' ELSE x END""",
    """CREATE OR REPLACE MACRO fr(x) AS replace(replace(replace(x, ',', ' '), '.', ','), ' ', '\u202f')""",
    """CREATE OR REPLACE MACRO euros(x) AS CASE WHEN x IS NULL THEN '–'
       WHEN abs(x) >= 1e9 THEN fr(format('{:.1f}', x / 1e9)) || '\u202fMd€'
       WHEN abs(x) >= 1e6 THEN fr(format('{:.1f}', x / 1e6)) || '\u202fM€'
       ELSE fr(format('{:,.0f}', x)) || '\u202f€' END""",
]
_CONTRACTS = f"""
WITH ranked AS (
    SELECT acheteur, notification, publication, id, objet, montant, procedure, valid,
           row_number() OVER (PARTITION BY acheteur ORDER BY notification DESC NULLS LAST, uid) AS r
    FROM contrats WHERE acheteur IS NOT NULL AND acheteur <> '')
SELECT acheteur,
    '<tr><td>' || coalesce(CAST(notification AS VARCHAR), '–') || '</td><td>'
    || coalesce(CAST(publication AS VARCHAR), '–') || '</td><td><code>' || esc(coalesce(id, '–'))
    || '</code></td><td>' || esc(coalesce(cut(objet), '–')) || '</td><td class="n">' || euros(montant)
    || '</td><td>' || esc(coalesce(procedure, '–')) || '</td><td>'
    || CASE WHEN valid THEN '<span class="ok">publié</span>' ELSE '<span class="ko">rejeté</span>' END
    || '</td></tr>'
FROM ranked WHERE r <= {SHOWN_CONTRACTS} ORDER BY acheteur, r"""
_REJECTED = f"""
SELECT acheteur, uid, id, source, errors, objet, file, position FROM (
    SELECT *, row_number() OVER (PARTITION BY acheteur ORDER BY file, position) AS r
    FROM contrats WHERE NOT valid AND acheteur IS NOT NULL AND acheteur <> '')
WHERE r <= {SHOWN_REJECTED} ORDER BY acheteur, r"""
_REPAIRED = f"""
SELECT acheteur, uid, id, fixes, objet, valid FROM (
    SELECT *, row_number() OVER (PARTITION BY acheteur ORDER BY file, position) AS r
    FROM contrats WHERE fixes IS NOT NULL AND acheteur IS NOT NULL AND acheteur <> '')
WHERE r <= {SHOWN_REPAIRED} ORDER BY acheteur, r"""
_MARKS = """
SELECT acheteur, '{column}', code, count(*), min_by(coalesce(id, uid), ordinal, {examples})
FROM (SELECT acheteur, id, uid, (file, position) AS ordinal, unnest(string_split({column}, ' ')) AS code
      FROM contrats WHERE {column} IS NOT NULL AND acheteur IS NOT NULL AND acheteur <> '')
GROUP BY ALL ORDER BY acheteur, count(*) DESC, code"""
EXAMPLES = 5  # ids shown for each fix and each anomaly of a buyer


def page_name(buyer: str) -> str:
    """The buyer's page in acheteurs/: its id when that is a safe file name (a SIRET is), else a digest of it."""
    if SAFE_ID.fullmatch(buyer):
        return f"{buyer}.html"
    return "id-" + hashlib.sha1(buyer.encode(), usedforsecurity=False).hexdigest()[:16] + ".html"


def counts(db: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    """Every buyer's counts, sorted by id (the rows of acheteurs.csv)."""
    names = [name for name, _, _ in FIELDS[:-1]]
    return [{**dict(zip(names, row, strict=True)), "page": f"{FOLDER}/{page_name(row[0])}"}
            for row in db.execute(_AGGREGATES).fetchall()]  # fmt: skip


def write_csv(folder: Path, buyers: list[dict[str, Any]]) -> None:
    with open(folder / CSV, "w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f, quoting=csv.QUOTE_MINIMAL, lineterminator="\n")
        writer.writerow([name for name, _, _ in FIELDS])
        for buyer in buyers:
            writer.writerow(["" if buyer[n] is None else buyer[n] for n, _, _ in FIELDS])


def describe(rows: int) -> dict[str, Any]:
    """The datapackage.json resource of acheteurs.csv."""
    return {"name": "acheteurs", "path": CSV, "title": "acheteurs", "description": "One row per buyer id: its "
            "records exported and rejected, repaired, with anomalies, publication delay, its page (report.md)",
            "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
            "schema": {"fields": [{"name": n, "type": t, "description": d} for n, t, d in FIELDS]},
            "count": rows}  # fmt: skip


def write_pages(folder: Path, db: duckdb.DuckDBPyConnection, buyers: list[dict[str, Any]]) -> int:
    """acheteurs/<id>.html for every buyer; the bytes written."""
    (folder / FOLDER).mkdir(exist_ok=True)
    (folder / FOLDER / STYLESHEET).write_text(stylesheet(), encoding="utf-8")
    by_id = {buyer["acheteur_id"]: buyer for buyer in buyers}
    for macro in _MACROS:
        db.execute(macro)
    rejected, marks, repaired = _rejected(db), _marks(db), _repaired(db)
    written = 0
    for buyer_id, rows in _contract_rows(db):
        buyer = by_id[buyer_id]
        found = (rejected.get(buyer_id, []), marks.get(buyer_id, {}), repaired.get(buyer_id, []))
        data = page(buyer, rows, *found).encode("utf-8")
        (folder / buyer["page"]).write_bytes(data)
        written += len(data)
    return written


def _contract_rows(db: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, list[str]]]:
    """Each buyer's latest contracts as HTML rows (written by DuckDB), buyer by buyer: the query streams them
    sorted (a sort spills to disk, an aggregate of strings would not), so that memory holds one batch."""
    reader = db.sql(_CONTRACTS).to_arrow_reader(10_000)  # streamed: execute().fetchmany() holds the whole result
    current: str | None = None
    rows: list[str] = []
    for batch in reader:
        for buyer_id, row in zip(batch.column(0).to_pylist(), batch.column(1).to_pylist(), strict=True):
            if buyer_id != current:
                if current is not None:
                    yield current, rows
                current, rows = buyer_id, []
            rows.append(row)
    if current is not None:
        yield current, rows


def _rejected(db: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    """The rejected records listed per buyer, each with its reasons in plain words and the field."""
    found: dict[str, list[dict[str, Any]]] = {}
    for buyer, uid, id_, source, errors, objet, file, position in db.execute(_REJECTED).fetchall():
        reasons = [rule_words(code) for code in (errors or "").split()]
        found.setdefault(buyer, []).append({"uid": uid, "id": id_, "source": source, "objet": objet, "file": file,
                                            "position": position, "reasons": reasons})  # fmt: skip
    return found


def _repaired(db: duckdb.DuckDBPyConnection) -> dict[str, list[dict[str, Any]]]:
    found: dict[str, list[dict[str, Any]]] = {}
    for buyer, uid, id_, fixes, objet, valid in db.execute(_REPAIRED).fetchall():
        found.setdefault(buyer, []).append({"uid": uid, "id": id_, "fixes": fixes, "objet": objet, "valid": valid})
    return found


def _marks(db: duckdb.DuckDBPyConnection) -> dict[str, dict[str, list[dict[str, Any]]]]:
    """Per buyer, its fixes and its anomalies: each code in plain words, its records, the first ids."""
    found: dict[str, dict[str, list[dict[str, Any]]]] = {}
    for column, words in (("fixes", FIXES), ("anomalies", ANOMALIES)):
        query = _MARKS.format(column=column, examples=EXAMPLES)
        for buyer, _, code, count, examples in db.execute(query).fetchall():
            found.setdefault(buyer, {}).setdefault(column, []).append(
                {"code": code, "libelle": words.get(code, code), "records": count, "examples": examples}
            )
    return found
