"""The indicators of the report, computed on the valid, deduplicated marchés (the rows of marches.parquet with
`valid`: one per contract), each with its definition and the number of contracts it rests on.

Every indicator is one DuckDB query over the release's tables (report/store.py). A value absent from a record is
never guessed: a contract without the fields an indicator needs is left out of it, and the count says so.
"""

# ruff: noqa: S608 - the SQL is made of this module's constants and of quoted paths, never of data

from __future__ import annotations

import statistics
from typing import Any

import duckdb

from decp_pipeline.report.libelles import cpv_divisions, legal_categories

MARCHES = "FROM contrats WHERE valid AND kind = 'marche'"
# Amount bands (euros HT) of the procedures-by-size indicator: the threshold below which no publicity is due
# (40,000 €), then those of the European procedures for the State's supplies and services, other buyers', works
# (2024–2025: 143,000, 221,000 and 5,538,000 €).
BANDS = ((40_000, "moins de 40 000 €"), (221_000, "40 000 à 221 000 €"), (5_538_000, "221 000 à 5,5 M€"),
         (None, "5,5 M€ et plus"))  # fmt: skip
DEPENDENCE_MIN = 5  # contracts a buyer needs, with one titulaire each, to be counted in the dependence indicator
TOP_DIVISIONS = 15


def all_indicators(db: duckdb.DuckDBPyConnection, *, enriched: bool) -> dict[str, Any]:
    """Every indicator; those of the enrichment only when the reference data filled its columns."""
    found = {
        "cpv": amounts_per_division(db),
        "delays": delays(db),
        "single_offer": single_offer(db),
        "dependence": dependence(db),
        "sizes": procedures_by_size(db),
    }
    if enriched:
        found["pme"] = holders_share(db, "titulaire_categorie_entreprise = 'PME'", "titulaire_categorie_entreprise")
        found["local"] = holders_share(db, "fournisseur_local", "fournisseur_local")
    return found


def amounts_per_division(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    rows = db.execute(
        "SELECT cpv_division, count(*), sum(montant), sum(montant) FILTER (WHERE montant_fiable IS NOT false), "
        "count(*) FILTER (WHERE montant_fiable = false), median(montant) FILTER (WHERE montant_fiable IS NOT false) "
        f"{MARCHES} AND montant IS NOT NULL GROUP BY cpv_division ORDER BY 4 DESC NULLS LAST, 1"
    ).fetchall()
    labels = cpv_divisions()
    divisions = [{"division": d, "libelle": labels.get(d or "", "sans code CPV lisible"), "contracts": n,
                  "sum": total or 0.0, "sum_reliable": reliable or 0.0, "doubtful": doubtful, "median": median}
                 for d, n, total, reliable, doubtful, median in rows]  # fmt: skip
    return {"divisions": divisions[:TOP_DIVISIONS], "others": divisions[TOP_DIVISIONS:],
            "contracts": sum(d["contracts"] for d in divisions)}  # fmt: skip


# The publication delay and its regulatory bound, for the indicator and the buyers' counts (buyers.py).
DELAY = "date_diff('day', notification, publication)"
ON_TIME = "publication <= notification + INTERVAL 2 MONTH"


def delays(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The days from notification to publication (contracts with both dates, published on or after the
    notification), the median per source and per buyer category, and the share published within two months."""
    where = f"{MARCHES} AND notification IS NOT NULL AND publication IS NOT NULL AND publication >= notification"
    select = f"count(*), median({DELAY}), avg(CASE WHEN {ON_TIME} THEN 1.0 ELSE 0.0 END)"
    total = db.execute(f"SELECT {select} {where}").fetchone() or (0, None, None)
    per_source = db.execute(f"SELECT source, {select} {where} GROUP BY source ORDER BY source").fetchall()
    categories = legal_categories()
    per_category = db.execute(f"SELECT left(categorie, 2), {select} {where} GROUP BY 1 ORDER BY 2 DESC").fetchall()
    before = db.execute(
        f"SELECT count(*) {MARCHES} AND notification IS NOT NULL AND publication < notification"
    ).fetchone()
    return {
        "contracts": total[0], "median": total[1], "on_time": total[2], "before_notification": (before or (0,))[0],
        "sources": [{"source": s, "contracts": n, "median": m, "on_time": t} for s, n, m, t in per_source],
        "categories": [{"code": c, "libelle": categories.get(c or "", "catégorie inconnue (sans SIRENE)"),
                        "contracts": n, "median": m, "on_time": t} for c, n, m, t in per_category],
    }  # fmt: skip


def single_offer(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The share of contracts with one offer received (offresRecues = 1, format 2022), per procedure."""
    rows = db.execute(
        "SELECT procedure, count(*), avg(CASE WHEN offresRecues = 1 THEN 1.0 ELSE 0.0 END) "
        f"{MARCHES} AND offresRecues IS NOT NULL GROUP BY procedure ORDER BY 2 DESC"
    ).fetchall()
    procedures = [{"procedure": p or "non renseignée", "contracts": n, "share": s} for p, n, s in rows]
    contracts = sum(p["contracts"] for p in procedures)
    share = sum(p["contracts"] * p["share"] for p in procedures) / contracts if contracts else None
    return {"procedures": procedures, "contracts": contracts, "share": share}


def dependence(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Per buyer, the share of its amount going to its first supplier: on its contracts with exactly one initial
    titulaire and a reliable amount, for buyers with at least DEPENDENCE_MIN of them."""
    rows = db.execute(
        f"""WITH one AS (SELECT uid, min(titulaire_id) AS titulaire FROM titulaires GROUP BY uid HAVING count(*) = 1),
             per AS (SELECT acheteur, titulaire, sum(montant) AS amount, count(*) AS n
                     FROM contrats JOIN one USING (uid)
                     WHERE valid AND kind = 'marche' AND montant > 0 AND montant_fiable IS NOT false GROUP BY ALL)
        SELECT max(amount) / sum(amount), sum(n) FROM per GROUP BY acheteur HAVING sum(n) >= {DEPENDENCE_MIN}"""
    ).fetchall()
    shares = sorted(share for share, _ in rows)
    median = statistics.median(shares) if shares else None
    over_half = sum(1 for s in shares if s > 0.5) / len(shares) if shares else None
    return {"buyers": len(shares), "shares": shares, "median": median, "over_half": over_half,
            "contracts": int(sum(n for _, n in rows)), "minimum": DEPENDENCE_MIN}  # fmt: skip


def procedures_by_size(db: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Contracts per procedure and amount band (reliable amounts only)."""
    cases = " ".join(f"WHEN montant < {limit} THEN {i}" for i, (limit, _) in enumerate(BANDS) if limit is not None)
    rows = db.execute(
        f"SELECT coalesce(procedure, 'non renseignée'), CASE {cases} ELSE {len(BANDS) - 1} END, count(*) "
        f"{MARCHES} AND montant IS NOT NULL AND montant_fiable IS NOT false GROUP BY ALL"
    ).fetchall()
    procedures: dict[str, list[int]] = {}
    for procedure, band, count in rows:
        procedures.setdefault(procedure, [0] * len(BANDS))[band] += count
    ordered = sorted(procedures.items(), key=lambda item: -sum(item[1]))
    return {"bands": [label for _, label in BANDS], "procedures": [{"procedure": p, "counts": c} for p, c in ordered],
            "contracts": sum(sum(c) for _, c in ordered)}  # fmt: skip


def holders_share(db: duckdb.DuckDBPyConnection, condition: str, known: str) -> dict[str, Any]:
    """Among the initial titulaires of the valid marchés for which `known` is filled (the enrichment found them):
    the share of them that meet `condition`, and the share of the amount of the contracts with one such titulaire."""
    row = db.execute(
        f"""SELECT count(*), avg(CASE WHEN {condition} THEN 1.0 ELSE 0.0 END), count(DISTINCT uid)
            FROM titulaires JOIN (SELECT uid {MARCHES}) USING (uid) WHERE {known} IS NOT NULL"""
    ).fetchone() or (0, None, 0)
    amounts = db.execute(
        f"""WITH one AS (SELECT uid, bool_or({condition}) AS hit FROM titulaires GROUP BY uid
                         HAVING count(*) = 1 AND count({known}) = 1)
            SELECT sum(montant), sum(montant) FILTER (WHERE hit) FROM contrats JOIN one USING (uid)
            WHERE valid AND kind = 'marche' AND montant_fiable IS NOT false"""
    ).fetchone() or (None, None)
    total, hit = amounts
    return {"holders": row[0], "share": row[1], "contracts": row[2],
            "amount_share": (hit or 0.0) / total if total else None}  # fmt: skip
