"""The reference-data layer (references/): every accepted shape normalized to the exact rows, the conversion
reused when its input is unchanged, URLs fetched once then confirmed by a 304, `--reference` over the config,
a missing reference as one warning, and the checks of the `references:` section."""

from __future__ import annotations

import datetime
import os
import shutil
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from decp_pipeline.config import load_config
from decp_pipeline.exceptions import ConfigError, InputError
from decp_pipeline.references import REFERENCE_NAMES, References, parse_references, prepare_references
from decp_pipeline.references.convert import normalize
from decp_pipeline.references.shapes import SCHEMAS

from .conftest import FIXTURES, run_cli
from .httpserver import LocalServer, Reply

REFS = FIXTURES / "references"
SAMPLES = Path(__file__).parents[1] / "samples"
FAST_HTTP = {"retries": 0, "backoff": 0, "connect_timeout": 2, "read_timeout": 2}


def rows(path: Path) -> list[tuple[Any, ...]]:
    return duckdb.sql(f"SELECT * FROM read_parquet('{path}')").fetchall()


def columns(path: Path) -> list[tuple[str, str]]:
    return [(r[0], r[1]) for r in duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{path}')").fetchall()]


def normalized(name: str, source: Path, tmp_path: Path) -> list[tuple[Any, ...]]:
    converted = normalize(name, source, tmp_path / "references")
    assert not converted.reused
    expected_types = ["DATE" if c == "date_debut" else "VARCHAR" for c in SCHEMAS[name]]
    assert columns(converted.path) == list(zip(SCHEMAS[name], expected_types, strict=True))
    return rows(converted.path)


def write_config(tmp_path: Path, **settings: Any) -> str:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({**settings, "sources": []}, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return str(path)


def say(lines: list[str]) -> Any:
    def progress(line: str, *, detail: bool = False) -> None:
        if not detail:
            lines.append(line)

    return progress


# -- CPV ---------------------------------------------------------------------------------------------------------


def test_cpv_from_the_official_xls(tmp_path: Path) -> None:
    result = normalized("cpv", REFS / "cpv_2008.xls", tmp_path)
    assert len(result) == 9454
    assert result[:2] == [
        ("03000000", "03000000-1", "Produits agricoles, de l'élevage, de la pêche, de la sylviculture et produits "
                                   "connexes"),
        ("03100000", "03100000-2", "Produits agricoles et produits de l'horticulture"),
    ]  # fmt: skip
    assert ("45000000", "45000000-7", "Travaux de construction") in result


def test_cpv_from_code_code8_libelle_fr(tmp_path: Path) -> None:
    result = normalized("cpv", REFS / "cpv_code_code8_libelle.csv", tmp_path)
    assert len(result) == 36
    assert result[0][:2] == ("03000000", "03000000-1")
    assert ("45000000", "45000000-7", "Travaux de construction") in result
    assert ("90620000", "90620000-9", "Services de déneigement") in result


def test_cpv_from_code_fr_without_check_digit(tmp_path: Path) -> None:
    """`CODE,FR` with 8-digit codes: no check digit to give (null); a code read as a number gets its zero back;
    a line that is no code is left out."""
    assert normalized("cpv", REFS / "cpv_code_fr_no_check_digit.csv", tmp_path) == [
        ("03000000", None, "Produits agricoles, de l'élevage, de la pêche, de la sylviculture et produits connexes"),
        ("03100000", None, "Produits agricoles et produits de l'horticulture"),
        ("03110000", None, "Produits agricoles, produits de la culture maraîchère et de l'horticulture commerciale"),
        ("03111000", None, "Graines"),
        ("03111100", None, "Graines de soja"),
        ("45000000", None, "Travaux de construction"),
    ]


# -- COG ---------------------------------------------------------------------------------------------------------

# Codes of both vintages: a commune, a commune nouvelle whose chef-lieu is also its commune déléguée (same code:
# the commune wins), a commune déléguée and an associated one (their département and région are their parent's),
# municipal arrondissements, Corsica.
COG_BOTH = [
    ("01015", "Arboys en Bugey", "01", "84"),
    ("01025", "Bâgé-Dommartin", "01", "84"),
    ("01120", "Cordieux", "01", "84"),
    ("01262", "Montluel", "01", "84"),
    ("13055", "Marseille", "13", "93"),
    ("13201", "Marseille 1er Arrondissement", "13", "93"),
    ("14011", "Anctoville", "14", "28"),
    ("14581", "Aurseulles", "14", "28"),
    ("2A004", "Ajaccio", "2A", "94"),
]


@pytest.mark.parametrize(
    ("year", "changed"),
    [
        ("2025", [("02077", "Berzy-le-Sec", "02", "32"), ("12083", "Cransac", "12", "76")]),
        ("2026", [("12083", "Cransac-les-Thermes", "12", "76")]),
    ],
)
def test_cog_communes(tmp_path: Path, year: str, changed: list[tuple[str, ...]]) -> None:
    result = normalized("cog-communes", REFS / f"cog_{year}_communes.csv", tmp_path)
    assert len({r[0] for r in result}) == len(result)  # one row per code
    for row in [*COG_BOTH, *changed]:
        assert row in result
    assert all(r[2] and r[3] for r in result)
    assert ("02077" in {r[0] for r in result}) == (year == "2025")  # a commune déléguée gone in 2026


# -- SIRENE ------------------------------------------------------------------------------------------------------

ETABLISSEMENTS = [
    ("13001898900017", "130018989", "A", datetime.date(2012, 4, 1), "59350", "84.12Z", "41", None),
    ("21600174300527", "216001743", "A", datetime.date(2015, 9, 1), "75101", "84.11Z", "11", "SERVICE DES MARCHES"),
    ("33245605200049", "332456052", "A", datetime.date(2005, 2, 1), "59350", "43.21A", "12", "ELEC NORD"),
    ("33861420900017", "338614209", "F", datetime.date(2019, 11, 30), "14581", "41.20B", "NN", None),
    ("48771554200030", "487715542", "A", datetime.date(2017, 7, 1), "01015", "71.12B", "03",
     "BUREAU D ETUDES EXEMPLE"),
    ("55208131766522", "552081317", "A", datetime.date(1999, 5, 1), "67482", "35.14Z", None, None),
]  # fmt: skip
REAL_2019_ETABLISSEMENT = ("00588003400011", "005880034", "F", datetime.date(1984, 12, 25), None, "57.10", None, None)


def parquet_of(csv_file: Path, tmp_path: Path, *, typed: bool) -> Path:
    """The CSV as a Parquet stock: every column text, or `typed` (dateDebut a date, as INSEE's Parquet has it)."""
    table = pacsv.read_csv(csv_file, convert_options=pacsv.ConvertOptions(column_types={}, strings_can_be_null=True,
                                                                          auto_dict_encode=False))  # fmt: skip
    table = table.cast(pa.schema([pa.field(f.name, pa.string()) for f in table.schema]))
    if typed:
        index = table.schema.get_field_index("dateDebut")
        table = table.set_column(index, "dateDebut", table["dateDebut"].cast(pa.date32()))
    path = tmp_path / (csv_file.stem + ".parquet")
    pq.write_table(table, path)
    return path


@pytest.mark.parametrize("vintage", ["2019", "current"])
@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_sirene_etablissements(tmp_path: Path, vintage: str, form: str) -> None:
    source = REFS / f"sirene_etablissements_{vintage}.csv"
    if form == "parquet":
        source = parquet_of(source, tmp_path, typed=vintage == "current")
    result = normalized("sirene-etablissements", source, tmp_path)
    assert len(result) == (17 if vintage == "2019" else 14)
    for row in ETABLISSEMENTS:
        assert row in result
    assert (REAL_2019_ETABLISSEMENT in result) == (vintage == "2019")


UNITES_LEGALES = [
    ("130018989", "ETABLISSEMENT PUBLIC EXEMPLE", "7389", "ETI", "41", "A", datetime.date(2012, 4, 1)),
    ("338614209", "CONSTRUCTIONS EXEMPLE", "5499", None, "NN", "C", datetime.date(2019, 11, 30)),
    ("487715542", "EXEMPLE CAMILLE", "1000", "PME", "03", "A", datetime.date(2017, 7, 1)),  # a person: nom prénom
    ("552081317", "ENERGIE EXEMPLE", "5599", "GE", None, "A", datetime.date(1999, 5, 1)),
]
REAL_UNITES_LEGALES = {
    "2019": ("000325175", "JANOYER THIERRY", "1000", "PME", None, "A", datetime.date(2018, 2, 7)),
    "current": ("016750697", "ETS J VIRLY S A", "5710", "ETI", "31", "A", datetime.date(2022, 10, 1)),
}


@pytest.mark.parametrize("vintage", ["2019", "current"])
@pytest.mark.parametrize("form", ["csv", "parquet"])
def test_sirene_unites_legales(tmp_path: Path, vintage: str, form: str) -> None:
    source = REFS / f"sirene_unites_legales_{vintage}.csv"
    if form == "parquet":
        source = parquet_of(source, tmp_path, typed=True)
    result = normalized("sirene-unites-legales", source, tmp_path)
    assert len(result) == (17 if vintage == "2019" else 23)
    for row in [*UNITES_LEGALES, REAL_UNITES_LEGALES[vintage]]:
        assert row in result


def test_a_file_of_another_shape_is_refused(tmp_path: Path) -> None:
    from decp_pipeline.exceptions import ReferenceDataError

    with pytest.raises(ReferenceDataError, match="no column siret"):
        normalize("sirene-etablissements", REFS / "cpv_code_fr_no_check_digit.csv", tmp_path)


def test_a_damaged_file_is_a_warning(tmp_path: Path) -> None:
    damaged = tmp_path / "stock.parquet"
    damaged.write_bytes(b"PAR1 not a Parquet file")
    config = load_config(write_config(tmp_path))
    given = {"sirene-unites-legales": str(damaged)}
    prepared = prepare_references(config, tmp_path / "data", given, offline=True, progress=say([]))
    assert prepared.paths == {}
    assert len(prepared.warnings) == 1
    assert prepared.warnings[0].startswith(f"reference sirene-unites-legales: {damaged}: cannot be read: ")


# -- the conversion's cache --------------------------------------------------------------------------------------


def test_conversion_reused_when_unchanged_redone_when_changed(tmp_path: Path) -> None:
    source = tmp_path / "cpv.csv"
    shutil.copyfile(REFS / "cpv_code_code8_libelle.csv", source)
    folder = tmp_path / "references"
    first = normalize("cpv", source, folder)
    assert not first.reused
    assert first.rows == 36
    assert normalize("cpv", source, folder).reused  # same size and mtime
    os.utime(source, ns=(1, 1))
    assert normalize("cpv", source, folder).reused  # touched: same sha1
    source.write_text(source.read_text(encoding="utf-8") + "99999999-9,99999999,Un code de plus\n", encoding="utf-8")
    again = normalize("cpv", source, folder)
    assert not again.reused
    assert again.rows == 37
    assert normalize("cpv", source, folder).reused


# -- prepare_references: paths, URLs, --reference, missing -------------------------------------------------------


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.stop()


def test_a_url_is_fetched_once_then_confirmed_by_a_304(tmp_path: Path, server: LocalServer) -> None:
    body = (REFS / "cog_2026_communes.csv").read_bytes()
    server.route("/v_commune_2026.csv", Reply(200, body, etag='"cog-2026"'))
    where = {"cog-communes": {"url": server.url("/v_commune_2026.csv")}}
    config = load_config(write_config(tmp_path, http=FAST_HTTP, references=where))
    lines: list[str] = []
    first = prepare_references(config, tmp_path / "data", {}, offline=False, progress=say(lines))
    assert list(first.paths) == ["cog-communes"]
    assert first.warnings == []
    assert ("75056", "Paris", "75", "11") in rows(first.paths["cog-communes"])
    second = prepare_references(config, tmp_path / "data", {}, offline=False, progress=say(lines))
    assert second == first
    sent = server.requests_to("/v_commune_2026.csv")
    assert len(sent) == 2
    assert [r.status for r in sent] == [200, 304]
    assert sent[1].headers.get("if-none-match") == '"cog-2026"'
    offline = prepare_references(config, tmp_path / "data", {}, offline=True, progress=say(lines))
    assert offline == first
    assert len(server.requests_to("/v_commune_2026.csv")) == 2
    assert "unchanged, reused" in lines[1]


def test_a_failed_download_keeps_the_cached_copy_with_a_warning(tmp_path: Path, server: LocalServer) -> None:
    server.route("/cpv.csv", Reply(200, (REFS / "cpv_code_code8_libelle.csv").read_bytes()), Reply(404, b"gone"))
    config = load_config(write_config(tmp_path, http=FAST_HTTP, references={"cpv": {"url": server.url("/cpv.csv")}}))
    assert prepare_references(config, tmp_path / "data", {}, offline=False, progress=say([])).warnings == []
    again = prepare_references(config, tmp_path / "data", {}, offline=False, progress=say([]))
    assert list(again.paths) == ["cpv"]
    assert len(again.warnings) == 1
    assert "cannot be downloaded" in again.warnings[0]


def test_reference_option_replaces_the_configured_file(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, references={"cpv": {"path": "missing.csv"}}))
    given = parse_references([f"cpv={REFS / 'cpv_code_fr_no_check_digit.csv'}"])
    prepared = prepare_references(config, tmp_path / "data", given, offline=True, progress=say([]))
    assert prepared.warnings == []
    assert len(rows(prepared.paths["cpv"])) == 6


def test_a_missing_reference_is_one_warning_and_no_failure(tmp_path: Path) -> None:
    shutil.copyfile(REFS / "cog_2025_communes.csv", tmp_path / "communes.csv")
    config = load_config(write_config(tmp_path, references={
        "cpv": {"path": "missing.csv"},  # relative to the folder of sources.yaml
        "cog-communes": {"path": "communes.csv"},
        "sirene-etablissements": {"url": "http://127.0.0.1:9/stock.parquet"},
    }))  # fmt: skip
    prepared = prepare_references(config, tmp_path / "data", {}, offline=True, progress=say([]))
    assert list(prepared.paths) == ["cog-communes"]
    assert len(prepared.warnings) == 2
    assert prepared.warnings[0].startswith("reference sirene-etablissements: not downloaded")
    assert prepared.warnings[1].startswith(f"reference cpv: {tmp_path / 'missing.csv'} is not a file")


def test_nothing_configured_means_no_reference_and_no_warning(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path))
    assert prepare_references(config, tmp_path / "data", {}, offline=True, progress=say([])) == References()


def test_build_keeps_the_references_and_says_their_warnings(tmp_path: Path) -> None:
    from decp_pipeline.fetch.store import Store
    from decp_pipeline.pipeline.run import build

    config_file = write_config(tmp_path, references={"cpv": {"path": "missing.csv"}})
    source = {"id": "grandlyon", "name": "Grand Lyon", "kind": "url", "url": "https://example.org/x.xml",
              "format": "auto", "enabled": True, "priority": 1}  # fmt: skip
    Path(config_file).write_text(
        yaml.safe_dump({"references": {"cpv": {"path": "missing.csv"}}, "sources": [source]}), encoding="utf-8"
    )
    config = load_config(config_file)
    given = {"cog-communes": str(REFS / "cog_2026_communes.csv")}
    with Store(tmp_path / "data") as store:
        run = build(config, store, tmp_path / "dist", inputs={"grandlyon": [str(SAMPLES / "grandlyon" /
                    "marches_publics.xml")]}, offline=True, references=given)  # fmt: skip
    assert run.ok
    assert list(run.references.paths) == ["cog-communes"]
    assert run.references.warnings[0] in run.assembly.warnings
    assert run.assembly.warnings[0].startswith("reference cpv:")


# -- the command line and the config -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("cpv", "expected NAME=PATH"),
        ("cvp=x.csv", "unknown reference 'cvp' (did you mean 'cpv'?)"),
        ("cpv=/nowhere/cpv.csv", "/nowhere/cpv.csv is not a file"),
    ],
)
def test_a_bad_reference_option_is_a_usage_error(tmp_path: Path, value: str, message: str) -> None:
    with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")):
        parse_references([value])
    result = run_cli("build", "--offline", "--data-dir", str(tmp_path / "d"), "--out", str(tmp_path / "o"),
                     "--reference", value)  # fmt: skip
    assert result.exit_code == 2
    assert result.stderr.count("\n") == 1
    assert message in result.stderr


def test_references_section_errors_are_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, references={
            "sirene-etablisements": {"path": "x.csv"},
            "cpv": {"url": "https://example.org/cpv.xls", "path": "cpv.xls"},
            "cog-communes": {"url": "ftp://example.org/cog.csv", "format": "csv"},
            "sirene-unites-legales": "stock.csv",
        }))  # fmt: skip
    assert caught.value.problems == [
        "references: unknown reference 'sirene-etablisements' (did you mean 'sirene-etablissements'?)",
        "references: 'cpv': expected exactly one of 'url' or 'path', got 2",
        "references: 'cog-communes': unknown key 'format' (allowed: path, url)",
        "references: 'cog-communes': key 'url': expected an http(s) URL, got 'ftp://example.org/cog.csv'",
        "references: 'sirene-unites-legales': expected a mapping with 'url' or 'path', got 'stock.csv'",
    ]
    with pytest.raises(ConfigError, match="key 'references': expected a mapping"):
        load_config(write_config(tmp_path, references=["cpv"]))


def test_the_names_are_the_interface() -> None:
    assert REFERENCE_NAMES == ("sirene-etablissements", "sirene-unites-legales", "cog-communes", "cpv")
