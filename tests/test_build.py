"""`decp build` end to end: the shipped samples, the real files of shared/realdata, failures and reuse."""

from __future__ import annotations

import gc
import json
import os
import shutil
from pathlib import Path
from typing import Any

import pytest

from decp_pipeline.validation.files import FileValidation

from .conftest import force_assembly, release_files, run_cli

ROOT = Path(__file__).resolve().parents[1]
SAMPLES = ROOT / "samples"
SEED = ("pes-marche", "aife", "e-marchespublics", "grandlyon", "marches-publics-info")
# The five seed sources from their samples (named: the other enabled sources have no sample).
ALL_SAMPLES = [*SEED, *[a for s in SEED for a in ("--input", f"{s}={SAMPLES / s}")]]


def build(tmp_path: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    out = tmp_path / "dist"
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(out), *args)
    report = json.loads((out / "report.json").read_text(encoding="utf-8")) if (out / "report.json").exists() else {}
    return result.exit_code, report, result.stdout


def inputs(**paths: Path | str) -> list[str]:
    return [arg for source, path in paths.items() for arg in ("--input", f"{source.replace('_', '-')}={path}")]


def rejected(tmp_path: Path) -> list[dict[str, Any]]:
    lines = (tmp_path / "dist" / "rejected.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def decp_records(tmp_path: Path) -> list[dict[str, Any]]:
    return json.loads((tmp_path / "dist" / "decp.json").read_text(encoding="utf-8"))["marches"]


def assert_accounted(report: dict[str, Any]) -> None:
    for counts in [*report["sources"].values(), report["total"]]:
        assert counts["read"] == counts["exported"] + counts["rejected"] + counts["duplicates"]


def assert_valid_whole_file(path: Path) -> None:
    validation = FileValidation(str(path), "1.5")
    problems = list(validation)
    assert problems == []
    assert validation.result.status == "valid"


def test_samples_of_the_five_seed_sources(tmp_path):
    code, report, stdout = build(tmp_path, *ALL_SAMPLES)
    assert code == 0
    counts = {s: (c["read"], c["exported"], c["rejected"], c["duplicates"]) for s, c in report["sources"].items()}
    assert counts == {
        "pes-marche": (30, 30, 0, 0),
        "aife": (47, 0, 47, 0),
        "e-marchespublics": (30, 29, 0, 1),  # one contract republished with another date: the latest kept
        "grandlyon": (1, 0, 1, 0),
        "marches-publics-info": (49, 49, 0, 0),
    }
    assert report["sources"]["e-marchespublics"]["duplicates_by_rule"] == {"same-uid": 1}
    assert_accounted(report)
    fixes = report["sources"]
    assert fixes["pes-marche"]["fixes"]["date-publication-from-transmission"] == 15
    assert fixes["pes-marche"]["fixes"]["dgfip-field-dropped"] == 60  # 30 transmission dates + 30 profile URLs
    assert fixes["pes-marche"]["fixes"]["procedure-1.4"] == 5
    assert fixes["aife"]["fixes"]["date-publication-from-file-name"] == 41
    assert fixes["aife"]["fixes"]["xml-control-characters"] == 1
    assert fixes["aife"]["fixes"]["enum-case"] == 94  # MARCHE, CODE DEPARTEMENT, CONCESSION DE TRAVAUX ...
    assert fixes["grandlyon"]["fixes"]["date-publication-repeated"] == 1
    # The AIFE records lack their notification date: rejected, never invented.
    assert report["sources"]["aife"]["errors"]["required:dateNotification"] == 41
    assert_valid_whole_file(tmp_path / "dist" / "decp.json")
    assert (
        "total                            5             0           157           108            48             1"
        in stdout
    )


def test_golden_pes_record_from_dgfip_xml(tmp_path):
    """The second PES record: no datePublicationDonnees, a DGFiP transmission date, a buyer profile URL."""
    code, _, _ = build(tmp_path, "pes-marche", *inputs(pes_marche=SAMPLES / "pes-marche"))
    assert code == 0
    record = decp_records(tmp_path)[1]
    assert record == {
        "id": "2019I1701000",
        "acheteur": {"id": "13001898900017", "nom": "INOVALYS"},
        "nature": "Marché",
        "objet": record["objet"],
        "codeCPV": record["codeCPV"],
        "procedure": "Appel d'offres ouvert",
        "lieuExecution": record["lieuExecution"],
        "dureeMois": record["dureeMois"],
        "dateNotification": record["dateNotification"],
        "datePublicationDonnees": "2019-03-19+01:00",
        "montant": record["montant"],
        "formePrix": record["formePrix"],
        "titulaires": record["titulaires"],
        "modifications": [],
        "_type": "Marché",
        "uid": "130018989000172019I1701000",
        "source": "pes-marche",
    }
    assert isinstance(record["montant"], int | float)
    assert isinstance(record["dureeMois"], int)


def test_golden_grandlyon_record_is_rejected_with_its_reasons(tmp_path):
    code, _, _ = build(tmp_path, "grandlyon", *inputs(grandlyon=SAMPLES / "grandlyon"))
    assert code == 0
    [line] = rejected(tmp_path)
    assert (line["source"], line["position"], line["record"]["id"]) == ("grandlyon", 1, "2017-629-20004697700019")
    assert [(e["rule"], e["path"]) for e in line["errors"]] == [("maxLength", "id"), ("pattern", "uid")]
    assert line["record"]["datePublicationDonnees"] == ["2019-01-17", "2018-09-15"]  # the original record


def test_a_malformed_file_fails_alone(tmp_path):
    folder = tmp_path / "aws"
    folder.mkdir()
    good = SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
    shutil.copy(good, folder / "2019-03.json")
    (folder / "2019-04.json").write_bytes(good.read_bytes()[:20000])  # cut in the middle of a record
    (folder / "2019-05.json").write_text("<!DOCTYPE html><html><body>Erreur 500</body></html>")
    code, report, stdout = build(tmp_path, "marches-publics-info", *inputs(marches_publics_info=folder))
    assert code == 1
    counts = report["sources"]["marches-publics-info"]
    assert (counts["files"], counts["files_failed"], counts["read"], counts["exported"]) == (3, 2, 49, 49)
    errors = {Path(f["file"]).name: f["error"] for f in counts["failed_files"]}
    assert errors["2019-04.json"].startswith("line ")
    assert errors["2019-05.json"] == "the file is an HTML page, not DECP data"
    assert "FAILED marches-publics-info: " in stdout
    assert_accounted(report)


def test_one_source_rebuilt_the_others_reused(tmp_path):
    build(tmp_path, *ALL_SAMPLES)
    code, report, stdout = build(tmp_path, "grandlyon", *inputs(grandlyon=SAMPLES / "grandlyon"))
    assert code == 0
    assert set(report["sources"]) == set(SEED)
    assert report["total"]["exported"] == 108
    assert "(reused)" in stdout
    assert not list((tmp_path / "dist").glob(".*"))  # no temporary file left


def test_nothing_to_read_fails_the_source_not_the_build(tmp_path):
    code, report, stdout = build(tmp_path, "grandlyon", "pes-marche", *inputs(pes_marche=SAMPLES / "pes-marche"))
    assert code == 1
    assert report["sources"]["pes-marche"]["exported"] == 30
    assert "FAILED grandlyon: nothing to read" in stdout


def test_input_errors_are_usage_errors(tmp_path):
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path), "--input", "nope=samples")
    assert result.exit_code == 2
    assert "unknown source 'nope'" in result.stderr
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path), "--input", "aife=/no/such/file.xml")
    assert result.exit_code == 2
    assert "/no/such/file.xml does not exist" in result.stderr


REAL_FILES = {
    "pes-marche": "pes-marche/decp-json_data.gouv.fr_pes_2019-04-05.json",
    "aife": "aife-dume/decp-json_data.gouv.fr_aife_2019-04-04.json",
    "e-marchespublics": "dematis-emarchespublics/decp-json_e-marchespublics_2019-04-03.json",
    "marches-publics-info": "aws-marchespublicsinfo/decp-json_marches-publics.info_2019-03-07.json",
    "grandlyon": "grandlyon/boutalex_test-xml_grandlyon-record.xml",
}


@pytest.mark.realdata
def test_real_2019_files(tmp_path, realdata):
    args = [
        *REAL_FILES,
        *[a for source, path in REAL_FILES.items() for a in ("--input", f"{source}={realdata / path}")],
    ]
    code, report, _ = build(tmp_path, *args)
    assert code == 0
    counts = {s: (c["read"], c["exported"], c["rejected"], c["duplicates"]) for s, c in report["sources"].items()}
    assert counts["pes-marche"] == (1148, 1134, 0, 14)
    # 0.11: (4509, 4309, 7, 193). 5 records with a CPV of 7 digits as text are now repaired (cpv-leading-zero);
    # 2 contracts are no longer dropped as versions of others: 2018511551 (another holder than 201851155100's)
    # and 2018M18414GR01 (another lot than GR00: another amount), tests/test_dedup.py.
    assert counts["marches-publics-info"] == (4509, 4316, 2, 191)
    assert counts["e-marchespublics"] == (470, 439, 0, 31)
    rules = {s: c["duplicates_by_rule"] for s, c in report["sources"].items()}
    assert rules["pes-marche"] == {"exact-copy": 2, "same-uid": 6, "version": 6}
    assert rules["marches-publics-info"] == {"same-uid": 189, "version": 2}  # mostly the PES copies it also has
    assert rules["e-marchespublics"] == {"exact-copy": 2, "same-uid": 27, "version": 2}
    assert report["overlap"]["pes-marche"] == {"marches-publics-info": 175}
    assert report["near_duplicates"]["by_source_pair"] == {"marches-publics-info|pes-marche": 3}
    assert report["sources"]["marches-publics-info"]["anomalies"] == {
        "amount-too-low": 60,
        "date-before-2000": 2,
        "duration-over-legal-maximum": 1,
        "siret-checksum": 35,
    }
    assert report["sources"]["pes-marche"]["anomalies"]["publication-before-notification"] == 117
    assert counts["aife"][0] == 4530
    assert counts["grandlyon"] == (1, 0, 1, 0)
    # Every AWS rejection is a CPV code that cannot be read: 0.11 rejected 7, the 5 of 7 digits as text whose
    # one reading is a leading zero lost are now repaired; 2 remain (no such reading).
    assert report["sources"]["marches-publics-info"]["errors"] == {"pattern:codeCPV": 2}
    assert report["sources"]["marches-publics-info"]["fixes"]["cpv-leading-zero"] == 5
    assert report["sources"]["marches-publics-info"]["fixes"]["procedure-1.4"] == 135
    assert_accounted(report)
    assert_valid_whole_file(tmp_path / "dist" / "decp.json")
    records = decp_records(tmp_path)
    assert len(records) == report["total"]["exported"]
    assert all(r["uid"] == r[("acheteur" if r["_type"] == "Marché" else "autoriteConcedante")]["id"] + r["id"]
               for r in records)  # fmt: skip


def test_nan_dotted_keys_encodings_and_namespaces(tmp_path):
    """JSON with NaN and a flattened `acheteur.id`; Grand Lyon's XML in ISO-8859-1 with a namespace."""
    folder = tmp_path / "in"
    folder.mkdir()
    aws = json.loads((SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json").read_text())
    record = aws["marches"][0]
    buyer = record.pop("acheteur")
    record["acheteur.id"] = buyer["id"]
    record["acheteur.nom"] = buyer["nom"]
    text = json.dumps({"marches": [record]}, ensure_ascii=False).replace(
        '"modifications": []', '"modifications": [], "dateDebutExecution": NaN'
    )
    (folder / "pandas.json").write_text(text, encoding="utf-8")
    lyon = (SAMPLES / "grandlyon" / "marches_publics.xml").read_text(encoding="utf-8")
    lyon = lyon.replace("<marches", '<d:marches xmlns:d="http://example.org/decp"', 1).replace(
        "</marches>", "</d:marches>"
    )
    lyon = lyon.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"').replace('<?xml version="1.0"?>', "")
    if not lyon.startswith("<?xml"):
        lyon = '<?xml version="1.0" encoding="ISO-8859-1"?>\n' + lyon
    (folder / "lyon.xml").write_bytes(lyon.encode("iso-8859-1"))
    code, report, _ = build(tmp_path, "grandlyon", *inputs(grandlyon=folder))
    counts = report["sources"]["grandlyon"]
    assert (code, counts["files"], counts["files_failed"], counts["read"]) == (0, 2, 0, 2)
    assert counts["fixes"]["nan-as-absent"] == 1
    assert counts["fixes"]["dotted-key"] == 2
    [exported] = decp_records(tmp_path)
    assert exported["acheteur"] == buyer
    assert "dateDebutExecution" not in exported
    [lyon_rejected] = rejected(tmp_path)
    assert lyon_rejected["record"]["acheteur"]["nom"] == "Métropole de Lyon"  # decoded from ISO-8859-1


@pytest.mark.realdata
def test_anomaly_fixtures_of_other_pipelines(tmp_path, realdata):
    """decp-processing's 2019 test file and decp-table-schema-utils' anomaly files: every record accounted."""
    folder = tmp_path / "in"
    folder.mkdir()
    for path in [
        realdata / "other" / "decp-processing-tests" / "decp_test_2019.json",
        *sorted((realdata / "other" / "anomaly-fixtures-decp-table-schema-utils").glob("*.json")),
    ]:
        shutil.copy(path, folder / path.name)
    code, report, _ = build(tmp_path, "e-marchespublics", *inputs(e_marchespublics=folder))
    counts = report["sources"]["e-marchespublics"]
    assert (code, counts["files"], counts["read"]) == (0, 8, 9)
    assert_accounted(report)
    assert counts["fixes"]["procedure-1.4"] == 7  # "Marché public négocié sans publicité …"
    assert counts["fixes"]["dotted-key"] == 1  # decp-processing's flattened "acheteur.id"
    # What is left is missing or out-of-range values: nothing guessed.
    # The second record of decp-processing's file has 2022 fields: it is checked against 2.0.3, and lacks
    # most of what that format requires.
    assert counts["errors"] == {
        "minimum:dureeMois": 1,
        "minimum:montant": 1,
        "required:acheteur.id": 1,
        "required:acheteur.nom": 1,
        "required:dureeMois": 2,
        "required:id": 1,
        "required:montant": 1,
        "required:titulaires": 1,
        **{f"required:{name}": 1 for name in (
            "attributionAvance", "ccag", "considerationsEnvironnementales", "considerationsSociales",
            "modalitesExecution", "offresRecues", "sousTraitanceDeclaree", "techniques", "typeGroupementOperateurs",
            "typesPrix",
        )},
    }  # fmt: skip


def test_build_fetches_what_it_needs(tmp_path):
    """Without --offline, build fetches its sources first (here from a local server), then reads the cache."""
    from .httpserver import LocalServer, Reply
    from .test_fetch import write_config

    server = LocalServer()
    try:
        server.route("/pes.xml", Reply(200, (SAMPLES / "pes-marche" / "dgfip-pes-decp.xml").read_bytes(), etag='"1"'))
        # The source's hooks are named in its entry, as in the shipped sources.yaml (without it, the records
        # missing datePublicationDonnees would be rejected).
        entry = {"id": "pes-marche", "name": "PES", "kind": "url", "url": server.url("/pes.xml")}
        config = write_config(tmp_path, [{**entry, "hooks": ["dgfip-date-from-transmission"]}])
        out = tmp_path / "dist"
        result = run_cli("build", "--config", config, "--data-dir", str(tmp_path / "data"), "--out", str(out))
        assert result.exit_code == 0
        report = json.loads((out / "report.json").read_text())
        assert report["sources"]["pes-marche"]["exported"] == 30
        assert report["fetch"] == {"pes-marche": {"status": "ok", "error": None}}
        # Offline, the same build reads the cached copy and makes no request.
        server.clear_log()
        result = run_cli(
            "build", "--offline", "--config", config, "--data-dir", str(tmp_path / "data"), "--out", str(out)
        )
        assert result.exit_code == 0
        assert server.log == []
        assert json.loads((out / "report.json").read_text())["sources"]["pes-marche"]["exported"] == 30
    finally:
        server.stop()


def test_shrink_guard_keeps_the_previous_outputs_unless_forced(tmp_path):
    assert build(tmp_path, *ALL_SAMPLES)[0] == 0
    before = (tmp_path / "dist" / "decp.json").read_bytes()
    # Now the two biggest sources have nothing valid: 108 contracts would become 29.
    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "aws.json").write_text('{"marches": [{"id": "x"}]}')
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"),
                     "marches-publics-info", "pes-marche", "--input", f"marches-publics-info={empty}",
                     "--input", f"pes-marche={empty}")  # fmt: skip
    assert result.exit_code == 1
    assert "decp.json would hold 29 contracts against 108 in the current release, a drop of more than 50%" in (
        result.stderr
    )
    assert (tmp_path / "dist" / "decp.json").read_bytes() == before
    code, report, _ = build(tmp_path, "marches-publics-info", "pes-marche", "--force",
                            "--input", f"marches-publics-info={empty}", "--input", f"pes-marche={empty}")  # fmt: skip
    assert code == 0
    assert report["total"]["exported"] == 29
    assert [w for w in report["warnings"] if " is silent: " not in w] == [  # the samples are of 2019: silent
        "decp.json would hold 29 contracts against 108 in the current release, a drop of more than 50%; "
        "published anyway (--force)"
    ]


@pytest.mark.realdata
def test_real_2019_files_tables(tmp_path, realdata):
    """The done-when query: count(*) and count(distinct uid) of marches.parquet give the number of contracts."""
    import pandas as pd

    args = [
        *REAL_FILES,
        *[a for source, path in REAL_FILES.items() for a in ("--input", f"{source}={realdata / path}")],
    ]
    code, report, _ = build(tmp_path, *args)
    assert code == 0
    marches = pd.read_parquet(tmp_path / "dist" / "marches.parquet")
    concessions = pd.read_parquet(tmp_path / "dist" / "concessions.parquet")
    assert marches["uid"].is_unique
    assert concessions["uid"].is_unique
    published = decp_records(tmp_path)
    # 0.11: 6,200; 8 more: CPV codes of 7 digits repaired, and 2 contracts no longer merged as versions of others
    assert int(marches["valid"].sum()) + int(concessions["valid"].sum()) == len(published) == 6208
    assert report["tables"]["marches"] == len(marches)


def test_unchanged_files_are_not_read_again(tmp_path):
    folder = tmp_path / "aws"
    folder.mkdir()
    sample = SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
    shutil.copy(sample, folder / "2019-03.json")
    shutil.copy(SAMPLES / "e-marchespublics" / "e-marchespublics_2019-04-03_excerpt.json", folder / "2019-04.json")
    args = ("build", "-v", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"),
            "marches-publics-info", "--input", f"marches-publics-info={folder}")  # fmt: skip
    first = run_cli(*args)
    assert "2019-03.json: 49 read" in first.stderr
    report = (tmp_path / "dist" / "report.json").read_text()
    published = (tmp_path / "dist" / "decp.json").stat().st_mtime_ns
    second = run_cli(*args)
    assert second.exit_code == 0
    assert "read" not in second.stderr.replace("reading", "")  # no file was parsed
    assert "2 file(s): 2 unchanged, their results reused" in second.stderr
    # Same inputs, same code, same day: the current release is kept as it is, nothing is written.
    assert "Nothing changed since the last build" in second.stdout
    assert (tmp_path / "dist" / "decp.json").stat().st_mtime_ns == published
    assert (tmp_path / "dist" / "report.json").read_text() == report
    assert len(list((tmp_path / "dist" / "releases").iterdir())) == 1
    # One file changed: only that one is read again.
    (folder / "2019-04.json").write_bytes((folder / "2019-04.json").read_bytes() + b"\n")
    third = run_cli(*args)
    assert "2019-04.json: 30 read" in third.stderr
    assert "2019-03.json: 49 read" not in third.stderr
    assert "2 file(s): 1 to read, 1 unchanged, its result reused" in third.stderr
    assert "Nothing changed" not in third.stdout
    assert (tmp_path / "dist" / "decp.json").stat().st_mtime_ns != published


def test_checks_of_the_day_are_made_by_the_build_not_cached(tmp_path):
    """date-in-future and amount-too-high depend on the run: a later build with another day or ceiling gets
    them right from the cached results, without reading any file again."""
    import datetime

    import pandas as pd

    from decp_pipeline.pipeline.assemble import assemble

    copies = tmp_path / "in"
    shutil.copytree(SAMPLES, copies)
    code, report, _ = build(tmp_path, *SEED, *[a for s in SEED for a in ("--input", f"{s}={copies / s}")])
    assert code == 0
    assert "date-in-future" not in report["total"]["anomalies"]
    shutil.rmtree(copies)  # only the cached results are left
    day, ceiling = datetime.date(2019, 4, 1), 1_000_000
    sources = [(s, 0) for s in SEED]
    earlier = assemble(tmp_path / "data", tmp_path / "earlier", sources, {}, today=day, max_amount=ceiling)
    # The oracle: the published records themselves.
    records = decp_records(tmp_path)
    signed = [max(r.get("dateNotification", r.get("dateSignature", "")), r["datePublicationDonnees"])[:10]
              for r in records]  # fmt: skip
    amounts = [r.get("montant", r.get("valeurGlobale")) for r in records]
    assert earlier.total.anomalies["date-in-future"] == sum(d > day.isoformat() for d in signed) > 0
    assert earlier.total.anomalies["amount-too-high"] == sum(a > ceiling for a in amounts) > 0
    assert earlier.total.exported == report["total"]["exported"]
    marches = pd.read_parquet(tmp_path / "earlier" / "marches.parquet")
    flagged = marches[marches["anomalies"].fillna("").str.contains("date-in-future")]
    assert len(flagged) >= earlier.total.anomalies["date-in-future"]  # rows of rejected records are flagged too
    later = json.loads((tmp_path / "earlier" / "report.json").read_text())
    assert later["build_fingerprint"] != report["build_fingerprint"]


def test_a_missing_cached_result_is_a_clear_error(tmp_path):
    code, _, _ = build(tmp_path, *ALL_SAMPLES)
    assert code == 0
    cache = tmp_path / "data" / "cache" / "normalized" / "aife"  # aife: enabled, so reused
    for entry in cache.iterdir():
        shutil.rmtree(entry)
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"),
                     "pes-marche", "--input", f"pes-marche={SAMPLES / 'pes-marche'}")  # fmt: skip
    assert result.exit_code == 1  # a DecpError: the command ran, something is wrong (exceptions.py)
    assert "aife: the cached result of" in result.stderr
    assert "run `decp build aife` again" in result.stderr


def test_files_read_in_parallel_give_the_same_outputs(tmp_path, monkeypatch):
    """The worker processes (one pool for the files of every source) produce exactly what one process produces:
    counts per source, published records, rejected lines and table rows."""
    from decp_pipeline.pipeline import stage

    sources = ("pes-marche", "aife", "e-marchespublics", "grandlyon", "marches-publics-info")
    results = []
    for workers, minimum in ((1, stage.PARALLEL_MIN_BYTES), (2, 0)):
        monkeypatch.setenv("DECP_WORKERS", str(workers))
        monkeypatch.setattr(stage, "PARALLEL_MIN_BYTES", minimum)
        run = tmp_path / f"run{workers}"
        code, report, _ = build(run, *sources, *inputs(**{s.replace("-", "_"): SAMPLES / s for s in sources}))
        assert code == 0
        assert gc.isenabled()  # paused while each file is read (stage.py), never left off
        outputs = [(run / "dist" / name).read_bytes() for name in ("decp.json", "rejected.jsonl", "marches.csv")]
        results.append((report["sources"], outputs))
    assert results[0][1] == results[1][1]
    assert results[0][0] == results[1][0]
    assert {s: c["read"] for s, c in results[0][0].items()} == {
        "pes-marche": 30, "aife": 47, "e-marchespublics": 30, "grandlyon": 1, "marches-publics-info": 49,
    }  # fmt: skip


def test_meta_rows_gathered_in_blocks_change_no_output(tmp_path, monkeypatch):
    """The build copies the cached meta rows into blocks (pipeline/plan.py `_read_meta`, to bound its memory): a
    block per file gives the same outputs, byte for byte, as one block, and the reading order still breaks
    ties (the second file's copies of each contract, equal in recency, lose against the first file's)."""
    from decp_pipeline.pipeline import plan

    folder = tmp_path / "aws"
    folder.mkdir()
    excerpt = SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
    (folder / "a.json").write_bytes(excerpt.read_bytes())
    copy = json.loads(excerpt.read_text(encoding="utf-8"))
    for record in copy["marches"]:
        record["objet"] = f"{record.get('objet')} (copie)"
    (folder / "b.json").write_text(json.dumps(copy, ensure_ascii=False), encoding="utf-8")
    args = ["marches-publics-info", "e-marchespublics", "aife", *inputs(marches_publics_info=folder,
            e_marchespublics=SAMPLES / "e-marchespublics", aife=SAMPLES / "aife")]  # fmt: skip
    code, first, _ = build(tmp_path, *args)
    assert code == 0
    dist = tmp_path / "dist"
    before = release_files(dist)
    aws = first["sources"]["marches-publics-info"]
    assert (aws["read"], aws["exported"], aws["duplicates_by_rule"]) == (98, 49, {"same-uid": 49})
    assert b"(copie)" not in before["decp.json"]
    report = json.loads((dist / "current" / "report.json").read_text(encoding="utf-8"))
    report["build_fingerprint"] = "other inputs"  # assembled again, not reused, with the release as delta base
    (dist / "current" / "report.json").write_text(json.dumps(report), encoding="utf-8")
    monkeypatch.setattr(plan, "META_BLOCK_ROWS", 1)
    code, again, _ = build(tmp_path, *args)
    assert code == 0
    no_change = b'"change","uid","source","format","reason","superseded_by","rule","fields"\n'
    assert release_files(dist) == {**before, "delta.csv": no_change}  # the same release again: no change
    assert again["sources"] == first["sources"]
    assert again["near_duplicates"] == first["near_duplicates"]
    assert b'"marche": [' in before["decp-2022.json"]  # a file of 2022 records (Plan.forms) among them


@pytest.mark.parametrize("blocked", ["marches.csv", "marches.rejected", "decp.json"])
def test_outputs_that_cannot_be_written_leave_the_previous_ones(tmp_path, blocked):
    """A file in the way of one output (here a folder where the build writes its temporary file, in the release
    it is writing; a full disk gives the same OSError: tests/test_cli_errors.py), at the start or in the middle
    of the writing threads: a clear error, exit 1 (OutputError), the current release untouched and still
    current, the release being written removed."""
    build(tmp_path, *ALL_SAMPLES)
    dist = tmp_path / "dist"
    before = release_files(dist, stamped=True)
    current = os.readlink(dist / "current")
    force_assembly(dist)  # the next build assembles again
    del before["report.json"]
    working = dist / "releases" / f".{os.getpid()}.tmp"  # the CLI runs in this process
    (working / f".{blocked}.{os.getpid()}.tmp").mkdir(parents=True)
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(dist), *ALL_SAMPLES)
    assert result.exit_code == 1
    assert f"Error: could not write the outputs in {dist}/ (" in result.stderr
    assert "is a directory" in result.stderr.lower()
    assert "the current release was kept" in result.stderr
    assert "Traceback" not in result.stderr
    assert os.readlink(dist / "current") == current
    assert release_files(dist, stamped=True) == before
    assert [p.name for p in (dist / "releases").iterdir()] == [current.split("/")[-1]]
    assert not list(dist.glob(".*"))


def test_two_files_with_the_same_content_read_once(tmp_path, monkeypatch):
    """A source publishing one file under two names: read once (one cached result, even by two worker
    processes that would otherwise write it at the same time), its records counted for both files and the second
    copy of each a duplicate."""
    from decp_pipeline.pipeline import stage

    monkeypatch.setenv("DECP_WORKERS", "2")
    monkeypatch.setattr(stage, "PARALLEL_MIN_BYTES", 0)
    folder = tmp_path / "in"
    folder.mkdir()
    excerpt = SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
    for name in ("2019-03.json", "2019-03-copy.json"):
        shutil.copy(excerpt, folder / name)
    code, report, _ = build(tmp_path, "marches-publics-info", *inputs(marches_publics_info=folder))
    assert code == 0
    counts = report["sources"]["marches-publics-info"]
    assert (counts["files"], counts["read"], counts["exported"], counts["duplicates"]) == (2, 98, 49, 49)
    assert counts["duplicates_by_rule"] == {"exact-copy": 49}
    assert len(list((tmp_path / "data" / "cache" / "normalized" / "marches-publics-info").iterdir())) == 1


def test_a_first_build_counts_no_file_as_unchanged(tmp_path: Path) -> None:
    """0.10.1 said "1 of 1 file(s) unchanged, their results reused" of an empty file on a first build."""
    folder = tmp_path / "aws"
    folder.mkdir()
    (folder / "empty.json").write_bytes(b"")
    shutil.copy(SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json", folder / "a.json")
    args = ("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"),
            "marches-publics-info", "--input", f"marches-publics-info={folder}")  # fmt: skip
    first = run_cli(*args)
    assert "marches-publics-info: reading 2 file(s)" in first.stderr
    assert "unchanged" not in first.stderr
    assert f"{folder / 'empty.json'}: FAILED: the file is empty" in first.stderr
    second = run_cli(*args)
    assert "marches-publics-info: 2 file(s): 2 unchanged, their results reused" in second.stderr


def test_build_json_is_one_document(tmp_path):
    """`decp build --json | python -m json.tool`: the summary as one JSON document, nothing else on stdout."""
    sources = ("pes-marche", "aife", "e-marchespublics", "grandlyon", "marches-publics-info")
    args = ("build", "--json", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"),
            *sources, *inputs(**{s.replace("-", "_"): SAMPLES / s for s in sources}))  # fmt: skip
    result = run_cli(*args)
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    report = json.loads((tmp_path / "dist" / "report.json").read_text(encoding="utf-8"))
    assert document["release"] == report["release"]
    assert document["total"] == report["total"]
    assert (document["total"]["read"], document["total"]["exported"], document["total"]["duplicates"]) == (157, 108, 1)
    assert document["tables"] == {"marches": 145, "concessions": 11, "titulaires": 167, "actes_sous_traitance": 0,
                                  "listes": 0, "modifications": 12}  # fmt: skip
    current = (tmp_path / "dist" / "current").iterdir()
    assert sorted(document["files"]) == sorted(p.name + ("/" if p.is_dir() else "") for p in current)
    assert document["report"]["pages"] == len(list((tmp_path / "dist" / "acheteurs").glob("*.html"))) > 0
    assert document["unchanged"] is False
    assert document["sources"]["aife"]["reused"] is False
    again = json.loads(run_cli(*args).stdout)
    assert again["unchanged"] is True
    assert again["release"] == document["release"]
