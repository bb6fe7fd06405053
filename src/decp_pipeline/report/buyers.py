"""Feedback per buyer: acheteurs.csv (the counts of every buyer) and one page per buyer, acheteurs/<SIRET>.html
(its contracts, its rejected records with the reasons, its repaired records with the fixes, its anomalies, its
publication delays).

A buyer is an id of acheteur (autorité concédante for a concession) of at least one row of the tables, valid or
not. Two DuckDB queries feed everything: the counts per buyer, and the rows the pages list, sorted by buyer and
cut per buyer (the latest contracts, and the first of each kind of feedback), so that a buyer of 20,000 contracts
gets a page of a few hundred rows and the whole set stays small; each page says how many it does not show.
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

from decp_pipeline.report.libelles import ANOMALIES, FIXES, rule_words
from decp_pipeline.report.render import environment

FOLDER = "acheteurs"
CSV = "acheteurs.csv"
SHOWN_CONTRACTS = 100  # the latest contracts listed on a page
SHOWN_FEEDBACK = 200  # rejected, repaired and anomalous records listed, each
SAFE_ID = re.compile(r"[0-9A-Za-z]{1,32}")
FIELDS = [  # acheteurs.csv: (column, Table Schema type, description)
    ("acheteur_id", "string", "the buyer's id (acheteur.id, autoriteConcedante.id for concessions)"),
    ("acheteur_nom", "string", "its most frequent name in its records"),
    ("sources", "string", "the sources of its records, separated by ' '"),
    ("records", "integer", "its rows of marches and concessions: exported + rejected"),
    ("exported", "integer", "of which valid (published)"),
    ("rejected", "integer", "of which rejected (rejected.jsonl)"),
    ("repaired", "integer", "rows with at least one fix (column fixes)"),
    ("with_anomalies", "integer", "rows with at least one anomaly (column anomalies)"),
    ("delay_median_days", "number", "median days from notification to publication (valid rows with both dates, "
                                    "published on or after the notification)"),
    ("published_within_two_months", "number", "share of those published at most two months after notification"),
    ("page", "string", "its page in the release: acheteurs/<id>.html"),
]  # fmt: skip
_AGGREGATES = """
SELECT acheteur, mode(nom), string_agg(DISTINCT source, ' ' ORDER BY source), count(*), count(*) FILTER (WHERE valid),
       count(*) FILTER (WHERE NOT valid), count(*) FILTER (WHERE fixes IS NOT NULL),
       count(*) FILTER (WHERE anomalies IS NOT NULL),
       median(date_diff('day', notification, publication)) FILTER (WHERE valid AND publication >= notification),
       avg(CASE WHEN publication <= notification + INTERVAL 2 MONTH THEN 1.0 ELSE 0.0 END)
           FILTER (WHERE valid AND publication >= notification)
FROM contrats WHERE acheteur IS NOT NULL AND acheteur <> '' GROUP BY acheteur ORDER BY acheteur"""
_LISTED = f"""
SELECT acheteur, uid, id, source, valid, errors, fixes, anomalies, objet, notification, publication, montant,
       procedure, file, position, kind,
       row_number() OVER (PARTITION BY acheteur ORDER BY notification DESC NULLS LAST, uid) AS latest,
       row_number() OVER (PARTITION BY acheteur, valid ORDER BY file, position) AS n_valid,
       row_number() OVER (PARTITION BY acheteur, fixes IS NULL ORDER BY file, position) AS n_fixes,
       row_number() OVER (PARTITION BY acheteur, anomalies IS NULL ORDER BY file, position) AS n_anomalies
FROM contrats WHERE acheteur IS NOT NULL AND acheteur <> ''
QUALIFY latest <= {SHOWN_CONTRACTS} OR (NOT valid AND n_valid <= {SHOWN_FEEDBACK})
     OR (fixes IS NOT NULL AND n_fixes <= {SHOWN_FEEDBACK})
     OR (anomalies IS NOT NULL AND n_anomalies <= {SHOWN_FEEDBACK})
ORDER BY acheteur, notification DESC NULLS LAST, uid"""
_ROW = ("acheteur", "uid", "id", "source", "valid", "errors", "fixes", "anomalies", "objet", "notification",
        "publication", "montant", "procedure", "file", "position", "kind")  # fmt: skip


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
    return {"name": "acheteurs", "path": CSV, "format": "csv", "mediatype": "text/csv", "encoding": "utf-8",
            "dialect": {"delimiter": ",", "quoteChar": '"', "header": True},
            "schema": {"fields": [{"name": n, "type": t, "description": d} for n, t, d in FIELDS]},
            "count": rows}  # fmt: skip


def write_pages(folder: Path, db: duckdb.DuckDBPyConnection, buyers: list[dict[str, Any]], meta: dict[str, Any]
                ) -> int:  # fmt: skip
    """acheteurs/<id>.html for every buyer; the bytes written."""
    pages = folder / FOLDER
    pages.mkdir(exist_ok=True)
    template = environment().get_template("acheteur.html")
    by_id = {buyer["acheteur_id"]: buyer for buyer in buyers}
    written = 0
    for buyer_id, rows in _grouped(db):
        buyer = by_id[buyer_id]
        html = template.render(buyer=buyer, meta=meta, **_lists(rows, buyer))
        data = html.encode("utf-8")
        (folder / buyer["page"]).write_bytes(data)
        written += len(data)
    return written


def _grouped(db: duckdb.DuckDBPyConnection) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """The listed rows, buyer by buyer (the query sorts them by buyer)."""
    result = db.execute(_LISTED)
    current: str | None = None
    rows: list[dict[str, Any]] = []
    while batch := result.fetchmany(10_000):
        for values in batch:
            row = dict(zip(_ROW, values, strict=False))
            if row["acheteur"] != current:
                if current is not None:
                    yield current, rows
                current, rows = row["acheteur"], []
            rows.append(row)
    if current is not None:
        yield current, rows


def _lists(rows: list[dict[str, Any]], buyer: dict[str, Any]) -> dict[str, Any]:
    """What a page lists, from its rows: the latest contracts; the rejected records with their reasons in plain
    words and the field as the schema spells it; the repaired ones with their fixes; those with anomalies."""
    for row in rows:
        row["reasons"] = [rule_words(code) for code in (row["errors"] or "").split()]
        row["fix_words"] = [(code, FIXES.get(code, code)) for code in (row["fixes"] or "").split()]
        row["anomaly_words"] = [(code, ANOMALIES.get(code, code)) for code in (row["anomalies"] or "").split()]
    contracts = rows[:SHOWN_CONTRACTS]
    rejected = [r for r in rows if not r["valid"]][:SHOWN_FEEDBACK]
    repaired = [r for r in rows if r["fixes"]][:SHOWN_FEEDBACK]
    anomalous = [r for r in rows if r["anomalies"]][:SHOWN_FEEDBACK]
    return {
        "contracts": contracts, "rejected": rejected, "repaired": repaired, "anomalous": anomalous,
        "hidden": {"contracts": buyer["records"] - len(contracts), "rejected": buyer["rejected"] - len(rejected),
                   "repaired": buyer["repaired"] - len(repaired),
                   "anomalous": buyer["with_anomalies"] - len(anomalous)},
    }  # fmt: skip
