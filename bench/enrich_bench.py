"""The enrichment join at national size: `pipeline/enrich.py` on generated tables of N contracts against a
generated SIRENE stock of M establishments (and M × 0.6 unités légales), the COG communes and the CPV.

    .venv/bin/python bench/enrich_bench.py --contracts 1500000 --establishments 40000000 --work /tmp/enrich

Not part of `make test`. Prints the time and peak memory (RSS of the process doing the join) of each step,
and the join's match counts. The generated stock uses the normalized columns (references/), with SIRETs of
which a share are those of the contracts (buyers and holders), so that the joins find rows.
"""

# ruff: noqa: S608 - the generating SQL is made of this script's constants and its own paths
from __future__ import annotations

import argparse
import json
import resource
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]


def generate(work: Path, contracts: int, establishments: int) -> None:
    refs, tables = work / "references", work / "tables"
    refs.mkdir(parents=True, exist_ok=True)
    tables.mkdir(parents=True, exist_ok=True)
    db = duckdb.connect()
    db.execute("SET memory_limit = '2GB'")
    siret = "lpad(CAST(i * 7919 % 99999999999999 AS VARCHAR), 14, '0')"  # spread over the key space
    db.execute(f"""COPY (SELECT {siret} AS siret, substr({siret}, 1, 9) AS siren,
        CASE WHEN i % 10 = 0 THEN 'F' ELSE 'A' END AS etat, DATE '2000-01-01' + CAST(i % 9000 AS INTEGER) AS date_debut,
        lpad(CAST(1000 + i % 35000 AS VARCHAR), 5, '0') AS code_commune, '84.11Z' AS naf, '12' AS tranche_effectifs,
        'ETABLISSEMENT ' || i AS denomination FROM range({establishments}) t(i))
        TO '{refs / "sirene-etablissements.parquet"}' (FORMAT parquet, COMPRESSION zstd)""")
    db.execute(f"""COPY (SELECT DISTINCT ON (siren) siren, 'UNITE ' || siren AS denomination, '7210' AS
        categorie_juridique, 'PME' AS categorie_entreprise, '12' AS tranche_effectifs, 'A' AS etat,
        DATE '2000-01-01' AS date_debut FROM read_parquet('{refs / "sirene-etablissements.parquet"}'))
        TO '{refs / "sirene-unites-legales.parquet"}' (FORMAT parquet, COMPRESSION zstd)""")
    db.execute(f"""COPY (SELECT lpad(CAST(1000 + i AS VARCHAR), 5, '0') AS code_commune, 'COMMUNE ' || i AS nom,
        lpad(CAST(1 + i % 95 AS VARCHAR), 2, '0') AS code_departement, CAST(11 + i % 18 AS VARCHAR) AS code_region
        FROM range(35000) t(i)) TO '{refs / "cog-communes.parquet"}' (FORMAT parquet)""")
    shutil.copy(ROOT / "samples" / "references" / "cpv.csv", work / "cpv.csv")
    cpv = work / "cpv.csv"
    db.execute(f"""COPY (SELECT code8, code, libelle_fr AS libelle FROM read_csv('{cpv}', all_varchar=true))
        TO '{refs / "cpv.parquet"}' (FORMAT parquet)""")
    # Contracts: a buyer among 27,000, half of them in the stock; holders: 1.2 per contract, 70 % in the stock.
    buyer = (
        "CASE WHEN i % 2 = 0 THEN lpad(CAST((i % 27000) * 7919 * 1481 % 99999999999999 AS VARCHAR), 14, '0') "
        "ELSE lpad(CAST(i % 27000 AS VARCHAR), 14, '9') END"
    )
    db.execute(f"""COPY (SELECT 'u' || i AS uid, 'source' || (i % 50) AS source, {buyer} AS acheteur_id,
        'ACHETEUR' AS acheteur_nom, DATE '2019-01-01' + CAST(i % 2000 AS INTEGER) AS dateNotification,
        '45000000-7' AS codeCPV, 1000.0 * (i % 977) AS montant FROM range({contracts}) t(i))
        TO '{tables / "marches.parquet"}' (FORMAT parquet, COMPRESSION zstd)""")
    db.execute(f"""COPY (SELECT 'c' || i AS uid, 'source1' AS source, '21350238800019' AS autoriteConcedante_id,
        'AUTORITE' AS autoriteConcedante_nom, DATE '2020-01-01' AS dateSignature FROM range(2000) t(i))
        TO '{tables / "concessions.parquet"}' (FORMAT parquet)""")
    holder = "lpad(CAST((i * 3) * 7919 % 99999999999999 AS VARCHAR), 14, '0')"
    db.execute(f"""COPY (SELECT 'u' || (i % {contracts}) AS uid, 'SIRET' AS identifiant_type,
        CASE WHEN i % 10 < 7 THEN {holder} ELSE lpad(CAST(i AS VARCHAR), 14, '8') END AS titulaire_id, true AS
        identifiant_valide, substr(CASE WHEN i % 10 < 7 THEN {holder} ELSE lpad(CAST(i AS VARCHAR), 14, '8') END, 1, 9)
        AS siren FROM range({int(contracts * 1.2)}) t(i))
        TO '{tables / "titulaires.parquet"}' (FORMAT parquet, COMPRESSION zstd)""")
    resources = [{"name": f"{t}-{f}", "schema": {"fields": []}} for t in ("marches", "concessions", "titulaires")
                 for f in ("csv", "parquet")]  # fmt: skip
    (tables / "datapackage.json").write_text(json.dumps({"resources": resources}), encoding="utf-8")


def join(work: Path) -> None:
    """In this process (its peak RSS is the join's): enrich the generated tables."""
    from decp_pipeline.pipeline.enrich import enrich  # noqa: PLC0415 - in the child process only

    refs = work / "references"
    paths = {name: refs / f"{name}.parquet" for name in ("sirene-etablissements", "sirene-unites-legales",
                                                           "cog-communes", "cpv")}  # fmt: skip
    started = time.monotonic()
    counts = enrich(work / "tables", paths)
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    total = {k: sum(c[k] for c in counts.values()) for k in ("matched", "not_found", "closed")}
    print(json.dumps({"join_seconds": round(seconds, 1), "peak_rss_mib": round(peak), **total}))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--contracts", type=int, default=1_500_000)
    parser.add_argument("--establishments", type=int, default=40_000_000)
    parser.add_argument("--work", type=Path, default=Path("bench/work/enrich"))
    parser.add_argument("--join-only", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.join_only:
        join(args.work)
        return
    started = time.monotonic()
    generate(args.work, args.contracts, args.establishments)
    sizes = {p.name: p.stat().st_size // 2**20 for p in (args.work / "references").glob("*.parquet")}
    print(json.dumps({"generated_seconds": round(time.monotonic() - started, 1), "reference_mib": sizes}))
    subprocess.run([sys.executable, __file__, "--join-only", "--work", str(args.work)], check=True)


if __name__ == "__main__":
    main()
