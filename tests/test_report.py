"""The HTML report (report/): report.html, acheteurs.csv and the buyer pages of the demo (the five seed samples
and the demo's reference data). The figures are read from the pages (their `data-value` attributes) and compared
with report.json and with the tables, counted here with pandas; the pages' words for the codes, the `fixes`
column they rest on, the `outputs:` switch, the manifest's folder entry, and a hostile record's text."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import lxml.html
import orjson
import pandas as pd
import pytest

from decp_pipeline.normalize import fixes
from decp_pipeline.pipeline import anomalies
from decp_pipeline.pipeline.release import damage, read_manifest
from decp_pipeline.report.libelles import ANOMALIES, FIXES

from .test_build import ALL_SAMPLES, SAMPLES, build
from .test_enrich import with_references
from .test_releases import aws_build, aws_records

SOLIDEO = "83455372900015"  # a buyer of the AIFE sample: its records lack dateNotification, all rejected
DUNKERQUE = "20002715900017"  # a buyer of the PES Marché sample: 20 records, all published


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp_path = tmp_path_factory.mktemp("report")
    code, report, output = build(tmp_path, *ALL_SAMPLES, *with_references())
    assert code == 0, output
    return tmp_path / "dist", report


def page(path: Path) -> Any:
    return lxml.html.fromstring(path.read_bytes())


def value(element: Any) -> Any:
    """The figure a cell or a box shows, as the page keeps it (data-value)."""
    found = element.xpath(".//*[@data-value]")
    assert found, lxml.html.tostring(element)
    raw = found[0].get("data-value")
    return json.loads(raw) if raw else None


def main_tables(dist: Path) -> pd.DataFrame:
    marches = pd.read_parquet(dist / "marches.parquet").rename(columns={"acheteur_id": "buyer"})
    concessions = pd.read_parquet(dist / "concessions.parquet").rename(columns={"autoriteConcedante_id": "buyer"})
    return pd.concat([marches, concessions], ignore_index=True)


def test_the_release_figures_are_report_json_s(demo):
    dist, report = demo
    html = page(dist / "report.html")
    for name in ("read", "exported", "rejected", "duplicates", "files"):
        (box,) = html.xpath(f'//*[@data-total="{name}"]')
        assert value(box) == report["total"][name], name
    rows = html.xpath('//table[@id="sources"]/tbody/tr')
    assert [r.get("data-source") for r in rows] == list(report["sources"])
    for row in rows:
        counts = report["sources"][row.get("data-source")]
        for cell in row.xpath("td[@data-count]"):
            assert value(cell) == counts[cell.get("data-count")], (row.get("data-source"), cell.get("data-count"))
        assert "✓ oui" in row.text_content()
    assert value(html.xpath('//table[@id="sources"]/tbody/tr[@data-source="aife"]/td[@data-count="rejected"]')[0]) == 47


def test_fixes_and_anomalies_per_source_with_the_records_they_touched(demo):
    dist, report = demo
    html = page(dist / "report.html")
    rows = main_tables(dist)
    for column in ("fixes", "anomalies"):
        listed = html.xpath(f'//table[@id="{column}"]/tbody/tr')
        expected = {(s, code): n for s, counts in report["sources"].items() for code, n in counts[column].items()}
        if column == "anomalies":  # and those only rejected records carry, with no count in report.json
            for source, codes in rows[~rows["valid"]][["source", "anomalies"]].dropna().values:
                expected |= {(source, code): 0 for code in codes.split() if (source, code) not in expected}
        assert {(r.get("data-source"), r.get("data-code")): value(r.xpath("td")[3]) for r in listed} == expected
        for row in listed:
            source, code = row.get("data-source"), row.get("data-code")
            has_code = rows[column].fillna("").str.split().map(lambda codes, code=code: code in codes)
            counted = rows["valid"] if column == "anomalies" else True  # as report.json counts them
            touched = rows[(rows["source"] == source) & has_code & counted]
            assert (value(row.xpath("td")[4]) or 0) == len(touched), (column, source, code)
            if column == "anomalies":
                on_rejected = rows[(rows["source"] == source) & has_code & ~rows["valid"]]
                assert value(row.xpath("td")[6]) == len(on_rejected), (source, code)
    # One procedure label of format 1.4 per record: the records touched are the count (pes-marche: 5 of 30).
    (procedure,) = html.xpath('//table[@id="fixes"]/tbody/tr[@data-source="pes-marche"][@data-code="procedure-1.4"]')
    assert (value(procedure.xpath("td")[3]), value(procedure.xpath("td")[4])) == (5, 5)
    assert procedure.xpath("td")[5].text_content() == "16,7\u202f%"
    assert "libellé de procédure du format 1.4" in procedure.text_content()


def test_the_fixes_column_lists_each_record_s_repairs(demo):
    dist, report = demo
    rows = main_tables(dist)
    codes = rows["fixes"].dropna().str.split().explode()
    assert not {"uid-set", "source-set"} & set(codes)  # made to every 1.5 record: not listed
    pes = rows[rows["source"] == "pes-marche"]["fixes"].fillna("").str.split().explode()
    assert (pes == "date-publication-from-transmission").sum() == report["sources"]["pes-marche"]["fixes"][
        "date-publication-from-transmission"] == 15  # fmt: skip


def test_top_rejection_reasons_with_an_example_each(demo):
    dist, report = demo
    html = page(dist / "report.html")
    rows = html.xpath('//table[@id="reasons"]/tbody/tr')
    expected = sorted(report["total"]["errors"].items(), key=lambda item: (-item[1], item[0]))[:10]
    assert [(r.get("data-code"), value(r.xpath("td")[2])) for r in rows] == expected
    first = rows[0]
    assert first.get("data-code") == "required:dateNotification"
    assert first.xpath("td")[0].text_content() == "champ obligatoire absent"
    assert first.xpath("td")[1].text_content() == "dateNotification"
    example = first.xpath(".//pre")[0].text_content()
    assert '"id": "2018COs68fWklM00"' in example  # the first record of the AIFE sample, as published


def test_indicators_agree_with_the_tables(demo):
    dist, _ = demo
    html = page(dist / "report.html")
    marches = pd.read_parquet(dist / "marches.parquet")
    valid = marches[marches["valid"]]
    with_amount = valid[valid["montant"].notna()]
    assert value(html.xpath('//*[@data-indicator="cpv"]')[0]) == len(with_amount) == 103
    (works,) = html.xpath('//table[@id="cpv"]/tbody/tr[@data-division="45"]')
    division = with_amount[with_amount["cpv_division"] == "45"]
    assert value(works.xpath("td")[1]) == len(division)
    assert value(works.xpath("td")[2]) == pytest.approx(division["montant"].sum())
    assert value(works.xpath("td")[5]) == pytest.approx(division["montant"].median())
    both = valid[valid["dateNotification"].notna() & valid["datePublicationDonnees"].notna()]
    days = (pd.to_datetime(both["datePublicationDonnees"]) - pd.to_datetime(both["dateNotification"])).dt.days
    counted = both[days >= 0]
    assert value(html.xpath('//*[@data-indicator="delays"]')[0]) == len(counted)
    (pes,) = html.xpath('//table[@id="delais-sources"]/tbody/tr[@data-source="pes-marche"]')
    pes_days = days[(days >= 0) & (both["source"] == "pes-marche")]
    assert value(pes.xpath("td")[2]) == pytest.approx(pes_days.median())
    # The enrichment's indicators: the demo's hand-made SIRENE rows give categories to some titulaires.
    holders = pd.read_parquet(dist / "titulaires.parquet")
    known = holders[(holders["modification"] == 0) & holders["titulaire_categorie_entreprise"].notna()
                    & holders["uid"].isin(valid["uid"])]  # fmt: skip
    (pme,) = html.xpath('//tr[@data-indicator="pme"]')
    assert value(pme.xpath("td")[1]) == len(known) > 0


def test_every_plot_is_inline_svg_and_nothing_is_fetched(demo):
    dist, _ = demo
    text = (dist / "report.html").read_text(encoding="utf-8")
    html = page(dist / "report.html")
    plots = html.xpath("//figure/svg")
    assert len(plots) >= 7
    assert all(p.get("aria-label") and p.xpath(".//*[local-name()='path']") for p in plots)
    for element in html.xpath("//*[@src or @href]"):
        target = element.get("src") or element.get("href")
        assert not target.startswith(("http:", "https:", "//")), target
    assert "default-src 'none'" in text  # the page's policy forbids any request
    assert "<link" not in text
    assert "@import" not in text


def test_buyer_pages_and_acheteurs_csv(demo):
    dist, _ = demo
    buyers = pd.read_csv(dist / "acheteurs.csv", dtype={"acheteur_id": str})
    rows = main_tables(dist)
    with_id = rows[rows["buyer"].fillna("") != ""]
    assert sorted(buyers["acheteur_id"]) == sorted(set(with_id["buyer"]))
    assert buyers["records"].sum() == len(with_id)
    assert buyers["rejected"].sum() == int((~with_id["valid"]).sum())
    assert buyers["repaired"].sum() == int(with_id["fixes"].notna().sum())
    pages = sorted(p.name for p in (dist / "acheteurs").iterdir())
    assert pages == sorted([*(p.split("/")[1] for p in buyers["page"]), "style.css"])  # one stylesheet for all
    solideo = buyers.set_index("acheteur_id").loc[SOLIDEO]
    html = page(dist / "acheteurs" / f"{SOLIDEO}.html")
    for box in html.xpath('//*[@id="comptes"]/*[@data-count]'):
        expected = solideo[box.get("data-count")]
        assert value(box) == (None if pd.isna(expected) else pytest.approx(expected)), box.get("data-count")
    rejected = html.xpath('//section[@id="rejets"]//tbody/tr')
    assert len(rejected) == solideo["rejected"] > 0
    assert "champ obligatoire absent : dateNotification" in " ".join(rejected[0].text_content().split())
    own = with_id[with_id["buyer"] == SOLIDEO]
    for row in html.xpath('//section[@id="corriges"]//tr[@data-code]'):  # one per fix code, with its records
        code = row.get("data-code")
        touched = own["fixes"].fillna("").str.split().map(lambda codes, code=code: code in codes)
        assert value(row.xpath("td")[2]) == int(touched.sum()) > 0, code
    (enum,) = html.xpath('//section[@id="corriges"]//tr[@data-code="enum-case"]')
    assert "valeur d'une liste fermée corrigée" in enum.text_content()
    assert value(enum.xpath("td")[2]) == solideo["repaired"] == 7
    listed = html.xpath('//table[@id="corriges-liste"]/tbody/tr')  # and the repaired records themselves
    assert len(listed) == 7
    assert "valeur d'une liste fermée corrigée" in listed[0].text_content()  # in words, the code as title
    assert listed[0].xpath('.//span[@title="enum-case"]')
    dunkerque = page(dist / "acheteurs" / f"{DUNKERQUE}.html")
    assert len(dunkerque.xpath('//section[@id="contrats"]//tbody/tr')) == 20
    assert "Aucun enregistrement rejeté." in dunkerque.text_content()


def test_the_searchable_list_shows_links_before_any_search(demo):
    dist, _ = demo
    html = page(dist / "report.html")
    links = html.xpath('//ul[@id="liste"]/li/a')
    buyers = pd.read_csv(dist / "acheteurs.csv", dtype={"acheteur_id": str})
    assert len(links) == min(100, len(buyers))
    assert all((dist / link.get("href")).is_file() for link in links)
    data = json.loads(html.xpath('//script[@id="donnees-acheteurs"]')[0].text)
    assert sorted(row[0] for row in data) == sorted(buyers["acheteur_id"])


def test_every_code_has_its_french_words():
    catalogue = {v.code for v in vars(fixes).values() if isinstance(v, fixes.Fix)}
    assert set(FIXES) == catalogue
    assert set(ANOMALIES) == {a.code for a in anomalies.CATALOGUE}


def test_the_manifest_covers_the_buyer_pages(demo, tmp_path):
    dist, _ = demo
    release = tmp_path / "release"
    shutil.copytree(dist / "current", release, symlinks=True)
    manifest = read_manifest(release)
    assert manifest is not None
    pages = sorted((release / "acheteurs").iterdir())
    assert manifest["folders"]["acheteurs"]["files"] == len(pages)
    assert {"report.html", "acheteurs.csv"} <= set(manifest["files"])
    assert damage(release, checksums=True) == []
    pages[0].write_bytes(pages[0].read_bytes().replace(b"<main>", b"<main >"))
    assert damage(release) == [f"acheteurs/ has {len(pages):,} files of "
                               f"{manifest['folders']['acheteurs']['size'] + 1:,} bytes, the manifest says "
                               f"{len(pages)} of {manifest['folders']['acheteurs']['size']}"]  # fmt: skip


def test_outputs_report_false_leaves_the_report_out(tmp_path):
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8")
    assert aws_build(tmp_path, aws_records()[:5]).exit_code == 0  # with its report
    config.write_text(shipped + "\noutputs:\n  report: false\n", encoding="utf-8")
    assert aws_build(tmp_path, aws_records()[:5], "--config", str(config)).exit_code == 0
    assert not (tmp_path / "dist" / "report.html").is_symlink()  # no link left to a report the release lacks
    current = tmp_path / "dist" / "current"
    assert not (current / "report.html").exists()
    assert not (current / "acheteurs").exists()
    config.write_text(shipped + "\noutputs:\n  report: yes please\n  sqlit: true\n", encoding="utf-8")
    result = aws_build(tmp_path, aws_records()[:5], "--config", str(config))
    assert result.exit_code == 2
    assert "outputs: key 'report': expected true or false" in result.stderr
    assert "outputs: unknown key 'sqlit'" in result.stderr


def test_a_hostile_record_is_shown_as_text(tmp_path):
    records = aws_records()[:3]
    records[0]["objet"] = '<script>alert("objet")</script><img src="https://tracker.example/x.png">'
    records[1]["acheteur"]["id"] = "../../etc/passwd"
    assert aws_build(tmp_path, records).exit_code == 0
    dist = tmp_path / "dist"
    buyer = records[0]["acheteur"]["id"]
    text = (dist / "acheteurs" / f"{buyer}.html").read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(" in text
    buyers = pd.read_csv(dist / "acheteurs.csv", dtype={"acheteur_id": str}).set_index("acheteur_id")
    odd = buyers.loc["../../etc/passwd", "page"]
    assert odd.startswith("acheteurs/id-")
    assert (dist / odd).is_file()
    report = (dist / "report.html").read_text(encoding="utf-8")
    data = report.split('id="donnees-acheteurs" type="application/json">')[1].split("</script>")[0]
    assert any(row[0] == "../../etc/passwd" for row in orjson.loads(data))  # as data, in a JSON script block


def test_the_sample_names_are_real(demo):
    """The two buyers these tests name are in the shipped samples (not made up)."""
    assert SOLIDEO.encode() in next((SAMPLES / "aife").iterdir()).read_bytes()
    assert DUNKERQUE.encode() in next((SAMPLES / "pes-marche").iterdir()).read_bytes()


def test_duckdb_spills_into_the_release_being_written(demo, tmp_path):
    """Beyond its memory limit DuckDB spills into a folder of the release being written (removed after), never
    into the current folder (its default, `.tmp`), and draws no progress bar over the build's output."""
    from decp_pipeline.report.store import SPILL, connect

    dist, _ = demo
    db = connect(dist / "current")
    try:
        assert db.execute("SELECT current_setting('temp_directory')").fetchone() == (str(dist / "current" / SPILL),)
        assert db.execute("SELECT current_setting('enable_progress_bar')").fetchone() == (False,)
    finally:
        db.close()
    assert not (dist / "current" / SPILL).exists()


def test_a_kept_release_still_says_its_report(tmp_path):
    """A build that finds nothing changed keeps the release and its report: --json and the summary say so."""
    records = aws_records()[:5]
    assert aws_build(tmp_path, records).exit_code == 0
    again = aws_build(tmp_path, records, "--json")
    document = json.loads(again.stdout)
    assert document["unchanged"] is True
    assert document["report"]["pages"] == len(list((tmp_path / "dist" / "acheteurs").glob("*.html"))) > 0
    assert document["report"]["seconds"] is None
    assert {"report.html", "acheteurs.csv", "acheteurs/"} <= set(document["files"])
    [line] = [line for line in aws_build(tmp_path, records).stdout.splitlines() if line.startswith("Report: ")]
    assert "buyer pages in acheteurs/" in line
    assert line.endswith("kept with the release")


@pytest.mark.realdata
def test_the_report_of_the_real_2019_files(tmp_path, realdata):
    """The five real files of 2019: the overlap matrix is report.json's (175 contracts of PES Marché that AWS
    publishes too), and each anomaly's records on the page equal report.json's count, which counts the exported
    records only (AIFE's 4,171 rejected records hold many damaged texts that are not counted)."""
    from .test_build import REAL_FILES

    args = [*REAL_FILES, *[a for s, path in REAL_FILES.items() for a in ("--input", f"{s}={realdata / path}")]]
    code, report, _ = build(tmp_path, *args)
    assert code == 0
    html = page(tmp_path / "dist" / "report.html")
    anomalies = html.xpath('//table[@id="anomalies"]/tbody/tr')
    assert anomalies
    for row in anomalies:
        assert value(row.xpath("td")[3]) == value(row.xpath("td")[4]), row.get("data-code")  # once per record
    damaged = html.xpath('//table[@id="anomalies"]/tbody/tr[@data-source="aife"][@data-code="damaged-encoding"]')
    assert value(damaged[0].xpath("td")[4]) == report["sources"]["aife"]["anomalies"]["damaged-encoding"]
    assert len(html.xpath("//figure/svg[contains(@aria-label, 'deux sources')]")) == 1
    assert report["overlap"]["pes-marche"] == {"marches-publics-info": 175}


def test_a_relative_reference_path_is_the_current_folder_s(tmp_path, monkeypatch):
    """--reference cpv=samples/references/cpv.csv with a --config in another folder: the path is read from the
    current folder, as --input's (it was looked for beside the config, and the reference left out)."""
    config = tmp_path / "elsewhere" / "sources.yaml"
    config.parent.mkdir()
    config.write_text((Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(Path(__file__).parents[1])
    result = aws_build(tmp_path, aws_records()[:3], "--config", str(config), "--reference",
                       "cpv=samples/references/cpv.csv")  # fmt: skip
    assert result.exit_code == 0
    assert "WARNING: reference" not in result.stderr
    labels = pd.read_parquet(tmp_path / "dist" / "marches.parquet")["cpv_libelle"]
    assert labels.notna().all()
