"""DCAT catalogues and the DUME API against a local server; safe file names; content checks."""

from __future__ import annotations

import email.utils
import json
import sqlite3
import tempfile
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from decp_pipeline.exceptions import CatalogError, DataDirError
from decp_pipeline.fetch.content import check_catalog, check_decp_data
from decp_pipeline.fetch.http import HttpClient, HttpSettings
from decp_pipeline.fetch.kinds.dcat import Distribution, parse_catalog
from decp_pipeline.fetch.store import Store, safe_file_name

from .conftest import fixture, run_cli
from .httpserver import LocalServer, Reply, Request, json_reply
from .test_fetch import fetch, write_config

AIFE_RECORD = json.loads(Path(fixture("aife_2019-04-04_excerpt.json")).read_text(encoding="utf-8"))["marches"][0]


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.stop()


# A catalogue shaped like Klekoon's (per the decp-processing scraper): RDF/XML that declares UTF-16 but is
# UTF-8, one dcat:dataset per marché, its file URLs as text in a non-standard rdfs:ressource element.
KLEKOON_LIKE = """<?xml version="1.0" encoding="utf-16"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:rdfs="http://www.w3.org/2000/01/rdf-schema#"
         xmlns:dcat="http://www.w3.org/ns/dcat#" xmlns:dct="http://purl.org/dc/terms/">
  <dcat:Catalog rdf:about="{base}/dcat/20003302500012">
    <dct:title>Données essentielles — Communauté d'agglomération Bar-le-Duc Sud Meuse</dct:title>
    <dcat:dataset>
      <dct:title>Marché 2019-001</dct:title>
      <dct:issued>2019-04-03</dct:issued>
      <rdfs:ressource>{base}/klekoon/xml/2019-001</rdfs:ressource>
      <rdfs:ressource>{base}/klekoon/json/2019-001</rdfs:ressource>
    </dcat:dataset>
    <dcat:dataset>
      <dct:title>Marché 2019-002 — pièce PDF seulement</dct:title>
      <rdfs:ressource>{base}/klekoon/pdf/2019-002</rdfs:ressource>
    </dcat:dataset>
    <dcat:dataset>
      <dct:title>Marché 2019-003</dct:title>
      <rdfs:ressource>{base}/klekoon/json/2019-003</rdfs:ressource>
    </dcat:dataset>
  </dcat:Catalog>
</rdf:RDF>
"""

# The shape of the official example of the buyer-profile declaration schema (urlDCAT .../catalog.ttl).
TURTLE = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .

<{base}/catalog.ttl> a dcat:Catalog ;
    dct:title "Profil acheteur — données essentielles" ;
    dcat:dataset <{base}/ds/2019> .

<{base}/ds/2019> a dcat:Dataset ;
    dct:title "DECP 2019" ;
    dcat:distribution <{base}/dist/2019-json>, <{base}/dist/2019-pdf> .

<{base}/dist/2019-json> a dcat:Distribution ;
    dcat:downloadURL <{base}/files/decp-2019.json> ;
    dcat:mediaType <http://www.iana.org/assignments/media-types/application/json> .

<{base}/dist/2019-pdf> a dcat:Distribution ;
    dcat:accessURL <{base}/files/rapport.pdf> ;
    dct:format "PDF" .
"""


def test_klekoon_like_catalogue_encoding_lie_and_ressource_elements():
    base = "https://www.klekoon.com"
    distributions, notes = parse_catalog(KLEKOON_LIKE.format(base=base).encode("utf-8"))
    assert distributions == [
        Distribution(f"{base}/klekoon/json/2019-001", "json"),
        Distribution(f"{base}/klekoon/json/2019-003", "json"),
    ]
    assert notes == ["the catalogue declares encoding 'utf-16' but is utf-8: read as utf-8"]


def test_turtle_catalogue():
    base = "http://dcat.monacheteur.com"
    distributions, notes = parse_catalog(TURTLE.format(base=base).encode("utf-8"))
    assert distributions == [Distribution(f"{base}/files/decp-2019.json", "json")]
    assert notes == []


def test_catalogue_with_entities_is_refused():
    bomb = b'<?xml version="1.0"?><!DOCTYPE r [<!ENTITY a "aaaa"><!ENTITY b "&a;&a;&a;">]><rdf:RDF>&b;</rdf:RDF>'
    with pytest.raises(CatalogError, match="declares a DTD, which is refused"):
        parse_catalog(bomb)


def test_dcat_source_end_to_end(server, tmp_path):
    base = server.base
    server.route("/dcat/20003302500012", Reply(200, KLEKOON_LIKE.format(base=base).encode(), etag='"cat-1"'))
    record = json.dumps({"$schema": "https://example.org/schema.json", **AIFE_RECORD}).encode()
    server.route("/klekoon/json/2019-001", Reply(200, record, etag='"m1"'))
    server.route("/klekoon/json/2019-003", Reply(404, b"gone"))
    config = write_config(
        tmp_path,
        [{"id": "klekoon", "name": "Klekoon", "kind": "dcat", "catalog": server.url("/dcat/20003302500012")}],
    )
    code, out, _ = fetch(config, tmp_path / "data")
    result = out["sources"]["klekoon"]
    assert code == 1
    assert (result["listed"], result["downloaded"], result["failed"]) == (2, 1, 1)
    assert result["failures"] == [
        {
            "url": server.url("/klekoon/json/2019-003"),
            "reason": "HTTP 404 Not Found (the resource no longer exists at this address)",
            "gone": True,
        }
    ]
    assert any("declares encoding 'utf-16' but is utf-8" in n for n in result["notes"])
    assert server.requests_to("/klekoon/xml/2019-001") == []  # the JSON copy is enough
    # The catalogue is cached but is not data: only the marché file counts as the source's data.
    assert result["cached"] == 1
    saved = [p for p in (tmp_path / "data" / "raw" / "klekoon").iterdir() if p.read_bytes() == record]
    assert len(saved) == 1


class DumeApi:
    """The DUME API's behaviour: rows filtered by publication date and filters, silently cut at 100."""

    def __init__(self, rows: list[dict[str, Any]]) -> None:
        self.rows = rows
        self.queries: list[dict[str, Any]] = []

    def __call__(self, request: Request) -> Reply:
        body = request.json()
        self.queries.append(body)
        assert body["operation"] == "recupererDEV2"
        assert request.headers["x-api-version"] == "2"
        start, end = body["dateDebutPublication"], body["dateFinPublication"]
        found = [
            r
            for r in self.rows
            if start <= r["datePublicationDonnees"] <= end
            and all(r.get(k) == body[k] for k in ("typeDE", "procedure") if k in body)
        ]
        return json_reply({"response": {"messageList": [], "donneesEssentielles": found[:100]}})


def dume_rows(day: date, count: int, **fields: str) -> list[dict[str, Any]]:
    return [
        {"id": f"{day:%Y%m%d}{fields.get('typeDE', 'MP')}{n:04d}", "datePublicationDonnees": day.isoformat(), **fields}
        for n in range(count)
    ]


def dume_source(server: LocalServer, start: date, end: date, **more: Any) -> dict[str, Any]:
    return {
        "id": "dume-api",
        "name": "DUME",
        "kind": "dume_api",
        "format": "dume-api",
        "api_base": server.base,
        "start_date": start.isoformat(),
        "end_date": end.isoformat(),
        **more,
    }


def test_dume_api_splits_capped_queries_until_every_row_is_fetched(server, tmp_path):
    first = date(2024, 3, 1)
    busy, busier = first + timedelta(days=3), first + timedelta(days=5)
    rows = dume_rows(first, 30) + dume_rows(first + timedelta(days=1), 40)
    rows += dume_rows(busy, 90, typeDE="MP", procedure="Procédure adaptée") + dume_rows(busy, 20, typeDE="CC")
    rows += dume_rows(busier, 100, typeDE="MP", procedure="Procédure adaptée")
    rows += dume_rows(busier, 60, typeDE="MP", procedure="Appel d'offres ouvert")
    api = DumeApi(rows)
    server.route("/dumes/donneesEssentielles", api)
    source = dume_source(server, first, first + timedelta(days=9), refresh_days=2)
    config = write_config(tmp_path, [source])
    data = tmp_path / "data"

    code, out, _ = fetch(config, data)

    assert code == 1  # the busiest day cannot be fetched whole: 100 rows for one day, type and procedure
    result = out["sources"]["dume-api"]
    assert (result["listed"], result["downloaded"], result["failed"]) == (10, 9, 1)
    assert result["failures"][0]["reason"].startswith("2024-03-06: 100 rows even for")
    saved = {
        p.name: len(json.loads(p.read_text())["donneesEssentielles"]) for p in (data / "raw" / "dume-api").iterdir()
    }
    assert saved["2024-03-01.json"] == 30
    assert saved["2024-03-02.json"] == 40
    assert saved["2024-03-04.json"] == 110  # 90 MP + 20 CC, over the cap: split by type
    assert saved["2024-03-03.json"] == 0
    assert "2024-03-06.json" not in saved
    assert sum(saved.values()) == 180

    # Second run: only the refresh window (the last 2 days) and the failed day are asked again.
    api.queries.clear()
    code, out, _ = fetch(config, data)
    asked = {(q["dateDebutPublication"], q["dateFinPublication"]) for q in api.queries}
    assert min(start for start, _ in asked) == "2024-03-06"
    assert ("2024-03-09", "2024-03-10") in asked
    assert not any(start <= "2024-03-05" for start, _ in asked)
    assert out["sources"]["dume-api"]["unchanged"] == 9 - 0  # 7 old days skipped, 2 recent days identical


def test_safe_file_names():
    assert safe_file_name("https://static.data.gouv.fr/r/x/decp-2024-10-18-01.json").startswith("decp-2024-10-18-01-")
    hostile = safe_file_name("http://evil.example/..%2F..%2Fetc%2Fpasswd")
    assert "/" not in hostile
    assert not hostile.startswith(".")
    assert safe_file_name("http://e.example/" + "a" * 5000 + ".xml").endswith(".xml")
    assert len(safe_file_name("http://e.example/" + "a" * 5000 + ".xml")) < 100
    assert safe_file_name("http://a.example/x.json") != safe_file_name("http://b.example/x.json")
    assert safe_file_name("http://a.example/").startswith("resource-")
    assert safe_file_name("http://a.example/run.sh").startswith("run.sh-")  # unknown suffixes are not kept


def test_content_checks():
    check_decp_data(b'\xef\xbb\xbf{"marches": []}')
    check_decp_data(b"<?xml version='1.0'?><marches/>")
    with pytest.raises(ValueError, match="HTML page"):
        check_decp_data(b'<?xml version="1.0"?>\n<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0//EN"><html>')
    with pytest.raises(ValueError, match="ZIP archive"):
        check_decp_data(b"PK\x03\x04rest")
    check_catalog(b"@prefix dcat: <http://www.w3.org/ns/dcat#> .")
    with pytest.raises(ValueError, match="not a DCAT catalogue"):
        check_catalog(b"siret;url\n123;http://x")


def test_dume_api_key_is_sent_and_never_printed(server, tmp_path, monkeypatch):
    api = DumeApi(dume_rows(date(2024, 3, 1), 3))
    server.route("/dumes/donneesEssentielles", api)
    monkeypatch.setenv("DUME_KEY", "secret-key-4242")
    source = dume_source(server, date(2024, 3, 1), date(2024, 3, 1), api_key_env="DUME_KEY")
    config = write_config(tmp_path, [source])
    result = run_cli("fetch", "-v", "--config", config, "--data-dir", str(tmp_path / "d"))
    assert result.exit_code == 0
    assert [r.headers["x-api-key"] for r in server.log] == ["secret-key-4242"]
    assert "secret-key-4242" not in result.stdout + result.stderr
    with sqlite3.connect(tmp_path / "d" / "state.sqlite") as db:
        assert not any("secret-key-4242" in str(row) for row in db.execute("SELECT * FROM events"))


def test_one_run_at_a_time_per_data_dir(tmp_path):
    with Store(tmp_path / "data"):
        with pytest.raises(DataDirError, match="another decp run is using this data dir"):
            Store(tmp_path / "data")
        config = write_config(tmp_path, [{"id": "x", "name": "X", "kind": "url", "url": "http://127.0.0.1:9/x.xml"}])
        result = run_cli("fetch", "--config", config, "--data-dir", str(tmp_path / "data"))
    assert result.exit_code == 2
    assert "another decp run is using this data dir" in result.stderr


def test_retry_after_as_an_http_date_is_honoured(server):
    waits: list[float] = []
    when = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.route("/x.json", Reply(503, b"", {"Retry-After": when}), Reply(200, b'{"marches": []}'))
    client = HttpClient(HttpSettings(backoff=0), sleep=waits.append)
    download = client.download(server.url("/x.json"), Path(tempfile.mkdtemp()) / "x.json", check=check_decp_data)
    assert download.size == len(b'{"marches": []}')
    assert len(waits) == 1
    assert 28 <= waits[0] <= 30
    assert client.traffic.retries == 1


def test_a_key_the_dume_api_echoes_is_written_nowhere(server, tmp_path, monkeypatch):
    """0.10.1 printed the echoed key, put it in --json and stored it in state.sqlite."""
    key = "dume-s3cret-4242-abcd"
    monkeypatch.setenv("DUME_KEY", key)

    def echoing(request: Request) -> Reply:
        given = request.headers.get("x-api-key")
        message = {"type": "ERREUR", "code": "E401", "message": f"clé {given} inconnue"}
        return json_reply({"response": {"messageList": [message], "donneesEssentielles": []}})

    server.route("/dumes/donneesEssentielles", echoing)
    source = dume_source(server, date(2024, 3, 1), date(2024, 3, 1), api_key_env="DUME_KEY")
    config = write_config(tmp_path, [source])
    data = tmp_path / "data"
    result = run_cli("fetch", "--config", config, "--data-dir", str(data), "--json")
    assert result.exit_code == 1
    assert server.log[0].headers["x-api-key"] == key  # sent, as it must be
    reason = json.loads(result.stdout)["sources"]["dume-api"]["failures"][0]["reason"]
    assert reason.endswith("the API reports an error: E401: clé [DUME_KEY] inconnue")
    table = run_cli("fetch", "--config", config, "--data-dir", str(data), "-v")
    assert key not in result.output + table.output
    for path in data.rglob("*"):
        if path.is_file():
            assert key.encode() not in path.read_bytes(), path
