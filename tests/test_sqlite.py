"""decp.sqlite and metadata.json (explore/): the demo's five seed samples with the demo's references, built once.
The database holds the rows of every Parquet table, value for value; its search finds a contract by its object,
buyer or supplier; its keys and views answer the common questions; Datasette, started on loopback as a user
starts it, serves its pages, its search and its JSON API; a release written by two processes is the same
database as one written by one."""

from __future__ import annotations

import contextlib
import datetime
import json
import math
import shutil
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import requests

from decp_pipeline.exceptions import OutputError
from decp_pipeline.explore.database import write_database

from .serve_server import free_port
from .test_build import ALL_SAMPLES, SAMPLES, build
from .test_enrich import with_references

CHROMATOGRAPHIE = "130018989000172019I1800000"  # INOVALYS's gas chromatograph, won by THERMO ELECTRON SAS
THERMO = "32655657800069"  # THERMO ELECTRON SAS's SIRET
INOVALYS = "13001898900017"  # 8 marchés in the samples
SAINT_LO = "20006638900012201875CO00"  # a concession, won by AUTOCARS DELCOURT


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("sqlite")
    code, _report, output = build(tmp_path, *ALL_SAMPLES, *with_references())
    assert code == 0, output
    assert "SQLite: decp.sqlite (" in output
    assert "and metadata.json for Datasette, written in" in output
    return tmp_path / "dist"


@pytest.fixture(scope="module")
def db(dist: Path) -> Iterator[sqlite3.Connection]:
    connection = sqlite3.connect(f"file:{dist / 'decp.sqlite'}?mode=ro", uri=True)
    yield connection
    connection.close()


def typed(v: Any) -> tuple[str, Any]:
    """A value as SQLite gives it back, with its type (1 == 1.0 == True: an INTEGER stored as REAL shows)."""
    assert not (isinstance(v, float) and math.isnan(v))  # the tables hold no NaN: a NULL is a null
    if isinstance(v, bool):
        v = int(v)
    elif isinstance(v, datetime.date):
        v = v.isoformat()
    return type(v).__name__, v


def published_rows(path: Path) -> tuple[list[str], list[tuple[tuple[str, Any], ...]]]:
    """A published table's rows (Parquet, or CSV read with its datapackage.json types) as SQLite gives them."""
    if path.suffix == ".parquet":
        table = pq.read_table(path)
    else:
        package = json.loads((path.parent / "datapackage.json").read_text(encoding="utf-8"))
        (resource,) = [r for r in package["resources"] if r["path"] == path.name]
        kinds = {"string": pa.string(), "integer": pa.int64(), "number": pa.float64(), "date": pa.date32()}
        types = {f["name"]: kinds[f["type"]] for f in resource["schema"]["fields"]}
        options = pa_csv.ConvertOptions(column_types=types, strings_can_be_null=True, quoted_strings_can_be_null=False)
        table = pa_csv.read_csv(path, convert_options=options)
    return table.column_names, [tuple(typed(v) for v in row.values()) for row in table.to_pylist()]


def test_every_table_holds_the_parquet_rows_value_for_value(dist, db):
    report = json.loads((dist / "report.json").read_text(encoding="utf-8"))
    tables = report["sqlite"]["tables"]
    assert set(tables) == {*report["tables"], "coverage", "buyers"}
    for name in tables:
        path = dist / (f"{name}.parquet" if name in report["tables"] else f"{name}.csv")
        names, published = published_rows(path)
        columns = ", ".join(f'"{c}"' for c in names)
        order = "ORDER BY rowid" if name not in ("marches", "concessions", "buyers") else ""
        stored = [tuple(typed(v) for v in row) for row in db.execute(f'SELECT {columns} FROM "{name}" {order}')]
        assert tables[name] == len(stored) == len(published), name
        assert sorted(stored, key=repr) == sorted(published, key=repr), name
        if order:  # the linked tables keep the files' order: a contract's rows together
            assert stored == published, name
    assert (tables["marches"], tables["titulaires"], tables["modifications"]) == (145, 167, 12)
    assert report["sqlite"]["bytes"] == (dist / "decp.sqlite").stat().st_size


def test_columns_are_typed_and_keyed(db):
    types = {row[1]: row[2] for row in db.execute("PRAGMA table_info(marches)")}
    assert (types["uid"], types["montant"], types["dureeMois"], types["valid"]) == (
        "TEXT",
        "REAL",
        "INTEGER",
        "INTEGER",
    )
    assert "STRICT" in db.execute("SELECT sql FROM sqlite_master WHERE name = 'marches'").fetchone()[0]
    assert [row[1] for row in db.execute("PRAGMA table_info(marches)") if row[5]] == ["uid"]
    row = db.execute("SELECT dateNotification, montant, valid, acheteur_departement, titulaires_noms FROM marches "
                     "WHERE uid = ?", [CHROMATOGRAPHIE]).fetchone()  # fmt: skip
    assert row[1:] == (40000.0, 1, "59", "THERMO ELECTRON SAS")
    assert len(row[0]) == 10
    keys = {(row[2], row[3], row[4]) for row in db.execute("PRAGMA foreign_key_list(titulaires)")}
    assert keys == {("marches", "marche", "uid"), ("concessions", "concession", "uid")}
    assert db.execute("PRAGMA foreign_key_check").fetchall() == []
    # Every winner row belongs to one contract, of its role's table.
    counts = db.execute("SELECT count(*), count(marche), count(concession), sum(role = 'concessionnaire') "
                        "FROM titulaires").fetchone()  # fmt: skip
    assert counts[0] == counts[1] + counts[2]
    assert counts[2] == counts[3] == 11
    indexes = {row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'index'")}
    assert {
        "idx_marches_acheteur_id",
        "idx_marches_codeCPV",
        "idx_marches_dateNotification",
        "idx_marches_acheteur_departement",
        "idx_titulaires_titulaire_id",
        "idx_titulaires_marche",
    } <= indexes
    plan = db.execute("EXPLAIN QUERY PLAN SELECT * FROM contrats_titulaires WHERE titulaire_id = ?", [THERMO])
    assert all("SCAN t" not in row[3] for row in plan)  # each branch reads titulaires through its index


def search(db: sqlite3.Connection, table: str, query: str) -> list[str]:
    sql = f"SELECT t.uid FROM {table}_fts f JOIN {table} t ON t.rowid = f.rowid WHERE {table}_fts MATCH ?"
    return sorted(row[0] for row in db.execute(sql, [query]))


def test_search_finds_a_contract_by_its_object_buyer_or_supplier(db):
    assert search(db, "marches", "chromatographie") == [CHROMATOGRAPHIE]
    assert CHROMATOGRAPHIE in search(db, "marches", "thermo electron")  # a titulaire's name
    assert len(search(db, "marches", "inovalys")) >= 8  # the buyer's name (and objects naming it)
    # Diacritics folded: "electriques" finds "ÉLECTRIQUES".
    assert "130018989000172019I1704000" in search(db, "marches", "electriques")
    assert search(db, "concessions", "delcourt") == [SAINT_LO]


def test_the_views_answer_the_common_questions(db):
    published = db.execute("SELECT (SELECT sum(valid) FROM marches) + (SELECT sum(valid) FROM concessions)")
    assert db.execute("SELECT count(*) FROM contrats").fetchone()[0] == published.fetchone()[0] == 108
    buyer = db.execute("SELECT count(*) FROM contrats WHERE acheteur_id = ?", [INOVALYS]).fetchone()[0]
    assert buyer == db.execute("SELECT count(*) FROM marches WHERE acheteur_id = ? AND valid", [INOVALYS]).fetchone()[0]
    supplier = db.execute("SELECT uid, categorie, objet FROM contrats_titulaires WHERE titulaire_id = ?", [THERMO])
    assert [row[:2] for row in supplier] == [(CHROMATOGRAPHIE, "marche")]
    years = db.execute("SELECT sum(contrats), sum(montant) FROM contrats_par_annee").fetchone()
    total = db.execute("SELECT count(*), sum(montant) FROM contrats").fetchone()
    assert years[0] == total[0]
    assert years[1] == pytest.approx(total[1])


def test_metadata_describes_every_table_and_column(dist, db):
    metadata = json.loads((dist / "metadata.json").read_text(encoding="utf-8"))
    assert metadata["license"] == "Licence Ouverte / Open Licence version 2.0"
    assert metadata["license_url"].startswith("https://www.etalab.gouv.fr/")
    assert "sources: pes-marche, aife, e-marchespublics, grandlyon, marches-publics-info" in metadata["source"]
    described = metadata["databases"]["decp"]["tables"]
    tables = [row[0] for row in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE "
                                           "'%_fts%' AND name NOT LIKE 'sqlite_%'")]  # fmt: skip
    for table in tables:
        columns = [row[1] for row in db.execute(f'PRAGMA table_info("{table}")')]
        assert set(described[table]["columns"]) == set(columns), table
        assert described[table]["description"], table
    assert described["marches"]["facets"] == ["source", "nature", "procedure", "acheteur_departement"]
    assert described["marches"]["fts_table"] == "marches_fts"
    assert {"contrats", "contrats_titulaires", "contrats_par_annee"} <= set(described)
    assert set(metadata["databases"]["decp"]["queries"]) == {"contrats_d_un_acheteur", "contrats_d_un_titulaire"}


@contextlib.contextmanager
def datasette(dist: Path, tmp_path: Path) -> Iterator[str]:
    """`datasette decp.sqlite -m metadata.json` on a free loopback port, as docs/explore.md says; its URL."""
    port = free_port()
    log = tmp_path / "datasette.log"
    command = [sys.executable, "-m", "datasette", "serve", str(dist / "decp.sqlite"), "-m", str(dist / "metadata.json"),
               "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and process.poll() is None:
            with contextlib.suppress(requests.ConnectionError):
                if requests.get(url + "/-/versions.json", timeout=5).ok:
                    break
            time.sleep(0.2)
        else:
            raise AssertionError(f"datasette did not start: {log.read_text()}")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_datasette_serves_the_tables_the_search_and_the_json_api(dist, tmp_path):
    with datasette(dist, tmp_path) as url:
        page = requests.get(f"{url}/decp/marches", timeout=30)
        assert page.status_code == 200
        assert "One row per marché (uid unique)" in page.text
        assert "145 rows" in page.text
        found = requests.get(f"{url}/decp/marches.json", params={"_search": "chromatographie", "_shape": "array"},
                             timeout=30).json()  # fmt: skip
        assert [row["uid"] for row in found] == [CHROMATOGRAPHIE]
        answer = requests.get(f"{url}/decp.json", params={"sql": "SELECT count(*) AS n FROM contrats",
                                                          "_shape": "array"}, timeout=30).json()  # fmt: skip
        assert answer == [{"n": 108}]
        canned = requests.get(f"{url}/decp/contrats_d_un_titulaire.json",
                              params={"identifiant": THERMO[:9], "_shape": "array"}, timeout=30).json()  # fmt: skip
        assert [row["uid"] for row in canned] == [CHROMATOGRAPHIE]
        row = requests.get(f"{url}/decp/marches/{CHROMATOGRAPHIE}", timeout=30)
        assert row.status_code == 200
        assert f"/decp/titulaires?marche={CHROMATOGRAPHIE}" in row.text


def test_two_processes_write_the_same_database_as_one(dist, tmp_path):
    release = tmp_path / "release"
    release.mkdir()
    for path in dist.iterdir():
        if path.suffix in (".parquet", ".csv"):
            shutil.copy(path, release / path.name)
    package = json.loads((dist / "datapackage.json").read_text(encoding="utf-8"))
    package["resources"] = [r for r in package["resources"] if r["name"] != "acheteurs"]  # written after the database
    (release / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    summary = write_database(release, ["x"], parallel_rows=0)
    assert summary["tables"] == json.loads((dist / "report.json").read_text(encoding="utf-8"))["sqlite"]["tables"]
    assert sorted(p.name for p in release.iterdir() if p.name.startswith(".")) == []  # no part, no spill left
    one, two = (sqlite3.connect(path) for path in (dist / "decp.sqlite", release / "decp.sqlite"))
    schema = "SELECT type, name, sql FROM sqlite_master WHERE name NOT LIKE 'sqlite_stat%' ORDER BY name"
    assert one.execute(schema).fetchall() == two.execute(schema).fetchall()
    for (name,) in one.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"):
        sql = f'SELECT * FROM "{name}"' + ("" if "_fts_" in name else " ORDER BY rowid")
        assert sorted(one.execute(sql), key=repr) == sorted(two.execute(sql), key=repr), name
        assert one.execute(sql).fetchall() == two.execute(sql).fetchall(), name
    assert search_rows(two, "thermo") == search_rows(one, "thermo") == [CHROMATOGRAPHIE]


def search_rows(db: sqlite3.Connection, query: str) -> list[str]:
    return search(db, "marches", query)


def test_switched_off_there_is_no_database(tmp_path):
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).resolve().parents[1] / "src" / "decp_pipeline" / "sources.yaml").read_text("utf-8")
    config.write_text(shipped + "\noutputs: {sqlite: false}\n")
    source = "marches-publics-info"
    code, report, output = build(tmp_path, "--config", str(config), source, "--input", f"{source}={SAMPLES / source}")
    assert code == 0, output
    assert not (tmp_path / "dist" / "decp.sqlite").exists()
    assert not (tmp_path / "dist" / "metadata.json").exists()
    assert report["sqlite"] == {}
    assert "SQLite:" not in output


@pytest.mark.realdata
def test_the_real_files_of_2019_and_2022(tmp_path, realdata):
    """The five real files of 2019 and the Dématis 2022 daily files: every table's rows, the links whole, a
    2022 contract's lists and the search."""
    from .test_build import REAL_FILES

    args = [*REAL_FILES, *[a for s, path in REAL_FILES.items() for a in ("--input", f"{s}={realdata / path}")]]
    args += ["--input", f"e-marchespublics={realdata / 'dematis-emarchespublics' / 'decp-2022-boutalex'}"]
    code, report, output = build(tmp_path, *args)
    assert code == 0, output
    dist = tmp_path / "dist"
    with contextlib.closing(sqlite3.connect(dist / "decp.sqlite")) as db:
        for name, rows in report["tables"].items():
            assert (
                db.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] == rows == report["sqlite"]["tables"][name]
            )
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        linked = db.execute("SELECT count(*) FROM listes WHERE marche IS NULL AND concession IS NULL").fetchone()[0]
        assert linked == 0
        assert report["tables"]["listes"] > 0
        assert db.execute("SELECT count(*) FROM contrats").fetchone()[0] == report["total"]["exported"]
        found = search(db, "marches", "nettoyage")
        assert len(found) > 0
        objects = db.execute(f"SELECT objet, titulaires_noms FROM marches WHERE uid IN ({','.join('?' * len(found))})",
                             found).fetchall()  # fmt: skip
        assert all("nettoyage" in (o or "").lower() or "nettoyage" in (t or "").lower() for o, t in objects)


@pytest.mark.parametrize("parallel_rows", [0, 10**9])
def test_a_table_that_cannot_be_read_is_a_one_line_output_error(dist, tmp_path, parallel_rows):
    for path in dist.iterdir():
        if path.suffix in (".parquet", ".csv") or path.name == "datapackage.json":
            shutil.copy(path, tmp_path / path.name)
    (tmp_path / "modifications.parquet").write_bytes(b"PAR1 not a Parquet file")  # read by the worker only
    with pytest.raises(OutputError) as error:
        write_database(tmp_path, ["x"], parallel_rows=parallel_rows)
    assert str(error.value).startswith("could not write decp.sqlite (")
    assert "modifications.parquet" in str(error.value)
    assert "\n" not in str(error.value)
    assert not (tmp_path / "decp.sqlite").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []  # no temporary file left


def test_a_uid_of_a_marche_and_of_a_concession_links_its_modifications_to_neither(dist, tmp_path):
    """A buyer reusing an id for a marché and a concession: its winners are told apart by their role; its
    modifications, which carry nothing else, are linked to no contract rather than to both."""
    for path in dist.iterdir():
        if path.suffix in (".parquet", ".csv"):
            shutil.copy(path, tmp_path / path.name)
    package = json.loads((dist / "datapackage.json").read_text(encoding="utf-8"))
    package["resources"] = [r for r in package["resources"] if r["name"] != "acheteurs"]
    (tmp_path / "datapackage.json").write_text(json.dumps(package), encoding="utf-8")
    modified = pq.read_table(tmp_path / "modifications.parquet").column("uid")[0].as_py()
    concessions = pq.read_table(tmp_path / "concessions.parquet")
    uids = concessions.column("uid").to_pylist()
    shared = uids[0]
    uids[0] = modified
    pq.write_table(concessions.set_column(0, "uid", pa.array(uids)), tmp_path / "concessions.parquet")
    write_database(tmp_path, ["x"])
    with contextlib.closing(sqlite3.connect(tmp_path / "decp.sqlite")) as db:
        links = db.execute("SELECT marche, concession FROM modifications WHERE uid = ?", [modified]).fetchall()
        assert links
        assert set(links) == {(None, None)}
        assert db.execute("SELECT count(*) FROM titulaires WHERE concession = ?", [modified]).fetchone()[0] == 0
        assert db.execute("SELECT count(*) FROM titulaires WHERE marche = ?", [modified]).fetchone()[0] >= 1
        assert db.execute("PRAGMA foreign_key_check").fetchall() == []
        assert db.execute("SELECT count(*) FROM concessions WHERE uid = ?", [shared]).fetchone()[0] == 0
