"""The release part of the report: what came in and what became of it, per source.

Counts come from report.json as written (the page shows report.json's figures, never counts of its own); what
report.json does not hold (contracts per month, the records a fix or an anomaly touched, an example of each
rejection reason) is read from the release's tables and rejected.jsonl.
"""

# ruff: noqa: S608 - the SQL is made of this module's constants and of quoted paths, never of data

from __future__ import annotations

from pathlib import Path
from typing import Any

import duckdb
import orjson

from decp_pipeline.pipeline.counts import error_code
from decp_pipeline.pipeline.record import NOT_PER_RECORD
from decp_pipeline.report.libelles import ANOMALIES, FIXES, rule_words

TOP_REASONS = 10  # rejection reasons shown, each with an example
FIRST_MONTH = "2015-01"  # months before it are counted apart in the plots (dates before 2015 are rare and often wrong)
EXAMPLE_BYTES = 1500  # the example record shown, cut to this many characters


def sources(document: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per source: report.json's counts, and whether read = exported + rejected + duplicates."""
    rows = []
    for source, counts in document["sources"].items():
        row = {k: counts.get(k, 0) for k in ("files", "files_failed", "read", "exported", "rejected", "duplicates")}
        row["source"] = source
        row["balanced"] = row["read"] == row["exported"] + row["rejected"] + row["duplicates"]
        rows.append(row)
    return rows


def months(db: duckdb.DuckDBPyConnection, column: str, today: str) -> dict[str, Any]:
    """Exported contracts per source and month of `column` (notification or publication), from FIRST_MONTH to the
    build's month; the rows without the date, or out of that span, counted apart."""
    last = today[:7]
    rows = db.execute(
        f"SELECT source, strftime({column}, '%Y-%m') AS month, count(*) FROM contrats WHERE valid "
        "GROUP BY ALL ORDER BY source, month"
    ).fetchall()
    series: dict[str, dict[str, int]] = {}
    outside = missing = 0
    for source, month, count in rows:
        if month is None:
            missing += count
        elif FIRST_MONTH <= month <= last:
            series.setdefault(source, {})[month] = count
        else:
            outside += count
    return {"series": series, "outside": outside, "missing": missing, "first": FIRST_MONTH, "last": last}


def overlap(document: dict[str, Any]) -> dict[str, Any]:
    """The duplicate overlap: for each pair of sources, the contracts both published (report.json `overlap`)."""
    names = list(document["sources"])
    given = document.get("overlap") or {}
    matrix = [[int((given.get(a) or {}).get(b, 0)) for b in names] for a in names]
    return {"sources": names, "matrix": matrix, "any": any(any(row) for row in matrix)}


def touched(db: duckdb.DuckDBPyConnection, column: str, where: str = "true") -> dict[tuple[str, str], int]:
    """(source, code) → the rows (matching `where`) whose `column` (fixes, anomalies) holds the code."""
    rows = db.execute(
        f"SELECT source, code, count(*) FROM (SELECT source, unnest(string_split({column}, ' ')) AS code "
        f"FROM contrats WHERE {column} IS NOT NULL AND {where}) GROUP BY ALL"
    ).fetchall()
    return {(source, code): count for source, code, count in rows}


def marks(document: dict[str, Any], db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Fixes and anomalies per source: the count of report.json, the records that carry the code and their share
    of the source's records, counted as report.json counts them: fixes on every record (the tables hold the
    exported and the rejected ones), anomalies on the exported records; and, for anomalies, the rejected records
    that carry one too (report.json does not count them: a code found only on rejected records is listed, 0)."""
    fixes = touched(db, "fixes")
    exported, rejected = touched(db, "anomalies", "valid"), touched(db, "anomalies", "NOT valid")
    result: dict[str, Any] = {"fixes": [], "anomalies": []}
    for source, counts in document["sources"].items():
        for code, count in sorted(counts.get("fixes", {}).items(), key=lambda item: -item[1]):
            hit = None if code in NOT_PER_RECORD else fixes.get((source, code), 0)
            result["fixes"].append(_mark(source, code, FIXES, count, hit, counts["exported"] + counts["rejected"]))
        found = dict(counts.get("anomalies", {}))
        found |= {code: 0 for s, code in rejected if s == source and code not in found}
        for code, count in sorted(found.items(), key=lambda item: (-item[1], item[0])):
            row = _mark(source, code, ANOMALIES, count, exported.get((source, code), 0), counts["exported"])
            result["anomalies"].append(row | {"rejected": rejected.get((source, code), 0)})
    return result


def _mark(source: str, code: str, words: dict[str, str], count: int, hit: int | None, base: int) -> dict[str, Any]:
    share = hit / base if hit is not None and base else None
    return {"source": source, "code": code, "libelle": words.get(code, code), "count": count, "records": hit,
            "share": share}  # fmt: skip


def rejections(document: dict[str, Any], folder: Path) -> list[dict[str, Any]]:
    """The most frequent error codes (report.json's total), each with the first rejected record that has it."""
    errors = document["total"].get("errors", {})
    top = sorted(errors.items(), key=lambda item: (-item[1], item[0]))[:TOP_REASONS]
    examples = _examples(folder / "rejected.jsonl", {code for code, _ in top})
    rows = []
    for code, count in top:
        words, field = rule_words(code)
        rows.append({"code": code, "libelle": words, "field": field, "count": count, "example": examples.get(code)})
    return rows


def _examples(path: Path, wanted: set[str]) -> dict[str, dict[str, Any]]:
    """The first line of rejected.jsonl for each wanted code: where it is, its message, the record (cut)."""
    found: dict[str, dict[str, Any]] = {}
    if not path.is_file():
        return found
    with open(path, "rb") as lines:
        for line in lines:
            entry = orjson.loads(line)
            for error in entry.get("errors", []):
                code = error_code(error.get("rule", ""), error.get("path", ""))
                if code in wanted and code not in found:
                    text = orjson.dumps(entry.get("record"), option=orjson.OPT_INDENT_2).decode()
                    cut = text if len(text) <= EXAMPLE_BYTES else text[:EXAMPLE_BYTES] + "\n…"
                    found[code] = {"source": entry.get("source"), "file": entry.get("file"),
                                   "position": entry.get("position"), "message": error.get("message"),
                                   "record": cut}  # fmt: skip
            if len(found) == len(wanted):
                break
    return found


def silent(document: dict[str, Any]) -> list[dict[str, Any]]:
    return [s for s in document.get("silent", []) if isinstance(s, dict)]
