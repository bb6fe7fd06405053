"""coverage.csv, buyers.csv and report.json's `silent`: on the demo, the real 2019 files, and a source removed
between two builds (pipeline/coverage.py)."""

from __future__ import annotations

import datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest
import yaml

from decp_pipeline.pipeline.coverage import silent_sources

from .conftest import run_cli
from .test_build import ALL_SAMPLES, REAL_FILES, SAMPLES, build


def agrees_with_the_report(dist: Path, report: dict) -> pd.DataFrame:
    """coverage.csv: for every source and each of the two dates, its rows add up to exported + rejected."""
    coverage = pd.read_csv(dist / "coverage.csv", dtype={"month": str}, keep_default_na=False)
    sums = coverage.groupby(["source", "date"])[["records", "exported", "rejected"]].sum()
    for source, counts in report["sources"].items():
        for date in ("dateNotification", "datePublicationDonnees"):
            row = sums.loc[(source, date)]
            assert (row["exported"], row["rejected"]) == (counts["exported"], counts["rejected"]), (source, date)
            assert row["records"] == counts["exported"] + counts["rejected"]
    return coverage


def test_demo_coverage_and_buyers(tmp_path):
    code, report, _ = build(tmp_path, *ALL_SAMPLES)
    assert code == 0
    dist = tmp_path / "dist"
    coverage = agrees_with_the_report(dist, report)
    pes = coverage[(coverage["source"] == "pes-marche") & (coverage["date"] == "datePublicationDonnees")]
    assert pes[["month", "records", "buyers"]].values.tolist() == [["2019-02", 10, 1], ["2019-03", 19, 3],
                                                                    ["2019-04", 1, 1]]  # fmt: skip
    buyers = pd.read_csv(dist / "buyers.csv", dtype={"acheteur_id": str})
    main = pd.concat(
        [
            pd.read_parquet(dist / "marches.parquet").rename(columns={"acheteur_id": "buyer"}),
            pd.read_parquet(dist / "concessions.parquet").rename(columns={"autoriteConcedante_id": "buyer"}),
        ]
    )
    with_id = main[main["buyer"].fillna("") != ""]
    assert sorted(buyers["acheteur_id"]) == sorted(set(with_id["buyer"]))
    assert buyers["records"].sum() == len(with_id)
    assert buyers["rejected"].sum() == int((~with_id["valid"]).sum())
    row = buyers.set_index("acheteur_id").loc["20002715900017"]
    assert (row["acheteur_nom"], row["sources"], row["records"], row["rejected"]) == (
        "VILLE DE DUNKERQUE - PRINCIPAL",
        "pes-marche",
        20,
        0,
    )
    assert (row["first_publication"], row["last_publication"], row["records_by_year"]) == (
        "2019-02-06",
        "2019-04-02",
        "2018:4 2019:16",
    )
    # The samples are of 2019: every source is silent, by its rhythm, and said so in report.json.
    assert sorted(s["source"] for s in report["silent"]) == sorted(report["sources"])
    assert {s["why"] for s in report["silent"]} == {"no publication for longer than its rhythm"}
    # A rebuild that finds nothing changed says them again (a user's walk found them dropped).
    again = run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(dist), *ALL_SAMPLES)
    assert "Nothing changed since the last build" in again.stdout
    assert sum(" is silent: " in line for line in again.stderr.splitlines()) == len(report["sources"])


@pytest.mark.realdata
def test_real_2019_files_coverage(tmp_path, realdata):
    args = [*REAL_FILES, *[a for s, p in REAL_FILES.items() for a in ("--input", f"{s}={realdata / p}")]]
    code, report, _ = build(tmp_path, *args)
    assert code == 0
    coverage = agrees_with_the_report(tmp_path / "dist", report)
    aife = coverage[(coverage["source"] == "aife") & (coverage["date"] == "dateNotification")]
    assert aife[aife["month"] == ""]["records"].sum() > 0  # records without a notification date: the empty month
    buyers = pd.read_csv(tmp_path / "dist" / "buyers.csv", dtype={"acheteur_id": str})
    assert buyers["acheteur_id"].is_unique
    vallogis = buyers.set_index("acheteur_id").loc["08618038700010"]
    assert (vallogis["acheteur_nom"], vallogis["sources"]) == ("VALLOGIS", "marches-publics-info")


def test_a_source_removed_between_two_builds_is_silent(tmp_path):
    config = yaml.safe_load((Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8"))
    both = ["--input", f"pes-marche={SAMPLES / 'pes-marche'}", "--input", f"grandlyon={SAMPLES / 'grandlyon'}"]
    code, report, _ = build(tmp_path, "pes-marche", "grandlyon", *both)
    assert code == 0
    assert "grandlyon" in report["sources"]
    config["sources"] = [s for s in config["sources"] if s["id"] != "grandlyon"]
    path = tmp_path / "without-grandlyon.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    result = run_cli("build", "--offline", "--config", str(path), "--data-dir", str(tmp_path / "data"),
                     "--out", str(tmp_path / "dist"), "pes-marche", *both[:2])  # fmt: skip
    assert result.exit_code == 0  # a warning, not a failure
    warning = "WARNING: source grandlyon is silent: it was in the previous release and is missing from this one"
    assert warning in result.stderr.splitlines()
    import json

    report = json.loads((tmp_path / "dist" / "report.json").read_text(encoding="utf-8"))
    assert {"source": "grandlyon", "why": "it was in the previous release and is missing from this one"} in (
        report["silent"]
    )


def test_silence_follows_the_source_rhythm():
    weekly = [datetime.date(2026, 7, 2) + datetime.timedelta(days=7 * n) for n in range(14)]  # last: 2026-10-01
    rows = pa.table({"source": ["a"] * 14 + ["once"], "datePublicationDonnees": [*weekly, datetime.date(2026, 11, 20)]})
    assert silent_sources(rows, "2026-10-25", ["a", "once"], None) == []  # 24 days: under 31
    [a] = silent_sources(rows, "2026-11-05", ["a", "once"], None)  # 35 days > max(4 × 7, 31)
    assert (a.source, a.newest_publication, a.days, a.usual_gap) == ("a", "2026-10-01", 35, 7)
    assert a.warning == ("source a is silent: its newest publication is of 2026-10-01, 35 days ago, against a usual "
                         "gap of 7 day(s)")  # fmt: skip
    once = silent_sources(rows, "2026-12-31", ["once"], None)[0]
    assert once.usual_gap is None
    assert once.warning.endswith("41 days ago, one publication day only, no rhythm known: silent after 31 days")
