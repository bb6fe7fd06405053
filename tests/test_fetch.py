"""`decp fetch` end to end against a real local HTTP server serving recorded data.gouv.fr answers and real files."""

from __future__ import annotations

import copy
import json
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from .conftest import FIXTURES, fixture, run_cli
from .httpserver import LocalServer, Reply, Request, dead_url, json_reply

EMAR_DATASET = "5c0a7845634f4139b2ee8883"
EMAR_METADATA = FIXTURES / "datagouv" / "e-marchespublics_metadata_excerpt.json"
DEMATIS_2024 = Path(fixture("e-marchespublics_2024-07_dematis20.json")).read_bytes()
GRANDLYON = Path(fixture("grandlyon_record.xml")).read_bytes()
HTML_ERROR = b"<!DOCTYPE html><html><head><title>Maintenance</title></head><body>Service indisponible</body></html>"
FAST_HTTP = {"retries": 2, "backoff": 0, "connect_timeout": 2, "read_timeout": 2}


@pytest.fixture
def server():
    s = LocalServer()
    yield s
    s.stop()


class DataGouv:
    """The data.gouv.fr API v2 resources listing of one dataset, from a recorded answer, paginated."""

    def __init__(self, server: LocalServer, dataset: str, metadata: dict[str, Any]) -> None:
        self.server = server
        self.dataset = dataset
        self.resources = copy.deepcopy(metadata["resources"])
        for r in self.resources:  # the files are served by the local server
            r["url"] = server.url("/static/" + r["url"].rsplit("/", 1)[-1])
        self.gone = False
        server.route(f"/api/2/datasets/{dataset}/resources/", self.page)

    def page(self, request: Request) -> Reply:
        if self.gone:
            return json_reply({"message": "Dataset not found"}, status=404)
        page = int(request.query["page"][0])
        size = int(request.query["page_size"][0])
        items = self.resources[(page - 1) * size : page * size]
        more = page * size < len(self.resources)
        next_page = self.server.url(request.path.replace(f"page={page}", f"page={page + 1}")) if more else None
        return json_reply(
            {"data": items, "next_page": next_page, "page": page, "page_size": size, "total": len(self.resources)}
        )

    def selected(self) -> list[dict[str, Any]]:
        """The resources the shipped filters keep: JSON, at least 180 bytes."""
        return [r for r in self.resources if (r["filesize"] or 0) >= 180]

    def path(self, resource: dict[str, Any]) -> str:
        return "/static/" + resource["url"].rsplit("/", 1)[-1]


def serve_files(server: LocalServer, paths: list[str], body: bytes = DEMATIS_2024) -> None:
    for n, path in enumerate(paths):
        server.route(path, Reply(200, body, {"Content-Type": "application/json"}, etag=f'"v1-{n}"'))


def write_config(tmp_path: Path, sources: list[dict[str, Any]], **settings: Any) -> str:
    path = tmp_path / "sources.yaml"
    base = {"enabled": True, "priority": 10, "format": "auto"}
    document = {"http": {**FAST_HTTP, **settings}, "sources": [{**base, **s} for s in sources]}
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return str(path)


def emar_source(server: LocalServer) -> dict[str, Any]:
    return {
        "id": "e-marchespublics",
        "name": "Dématis",
        "kind": "datagouv_dataset",
        "dataset": EMAR_DATASET,
        "api_base": server.url("/api"),
        "formats": ["json"],
        "min_size": 180,
    }


def fetch(config: str, data_dir: Path, *args: str) -> tuple[int, dict[str, Any], str]:
    result = run_cli("fetch", "--config", config, "--data-dir", str(data_dir), "--json", *args)
    return result.exit_code, json.loads(result.stdout), result.stderr


def fetch_table(config: str, data_dir: Path, *args: str) -> tuple[int, str]:
    result = run_cli("fetch", "--config", config, "--data-dir", str(data_dir), *args)
    return result.exit_code, result.stdout


def state(data_dir: Path, query: str, *params: Any) -> list[tuple]:
    with sqlite3.connect(data_dir / "state.sqlite") as db:
        return db.execute(query, params).fetchall()


@pytest.fixture
def emar(server: LocalServer) -> DataGouv:
    return DataGouv(server, EMAR_DATASET, json.loads(EMAR_METADATA.read_text(encoding="utf-8")))


def test_failing_server_every_good_resource_fetched_every_failure_reported(server, emar, tmp_path):
    selected = emar.selected()
    assert len(emar.resources) == 150
    assert len(selected) == 109  # 41 of the 150 real resources are near-empty files of 49 or 158 bytes
    paths = [emar.path(r) for r in selected]
    serve_files(server, paths)
    retried_500, retried_429, truncated, html = paths[:4]
    server.route(retried_500, Reply(500, b"oops"), Reply(503, b"busy"), Reply(200, DEMATIS_2024, etag='"a"'))
    server.route(retried_429, Reply(429, b"slow down", {"Retry-After": "1"}), Reply(200, DEMATIS_2024, etag='"b"'))
    server.route(truncated, Reply(200, DEMATIS_2024, truncate_to=1000))
    server.route(html, Reply(200, HTML_ERROR, {"Content-Type": "text/html"}))
    server.route("/lyon/marches_publics.xml", Reply(200, GRANDLYON, etag='"lyon-1"'))
    dead = dead_url("/decp/dgfip-pes-decp.xml")
    config = write_config(
        tmp_path,
        [
            emar_source(server),
            {"id": "grandlyon", "name": "Lyon", "kind": "url", "url": server.url("/lyon/marches_publics.xml")},
            {"id": "pes-marche", "name": "PES", "kind": "url", "url": dead},
        ],
    )
    data = tmp_path / "data"

    code, out, _ = fetch(config, data)

    assert code == 1
    emar_result = out["sources"]["e-marchespublics"]
    assert emar_result["status"] == "failed"
    assert (emar_result["listed"], emar_result["downloaded"], emar_result["failed"]) == (109, 107, 2)
    assert emar_result["skipped"] == 41
    assert {s["reason"] for s in emar_result["skips"]} == {
        "49 bytes, under min_size 180",
        "158 bytes, under min_size 180",
    }
    assert emar_result["bytes"] == 107 * len(DEMATIS_2024)
    failures = {f["url"]: f["reason"] for f in emar_result["failures"]}
    assert failures == {
        server.url(truncated): f"truncated body: 1,000 of {len(DEMATIS_2024):,} bytes received (after 3 attempts)",
        server.url(html): "the server sent an HTML page, not DECP data",
    }
    # Retryable failures were retried: 500 and 503 then 200; 429 then 200 after the Retry-After second.
    assert [r.status for r in server.requests_to(retried_500)] == [500, 503, 200]
    assert [r.status for r in server.requests_to(retried_429)] == [429, 200]
    assert len(server.requests_to(truncated)) == 3  # first attempt + 2 retries
    assert len(server.requests_to(html)) == 1  # an HTML page is not retried
    # The API was paginated: 150 resources over two pages of 100.
    assert len(server.requests_to(f"/api/2/datasets/{EMAR_DATASET}/resources/")) == 2
    assert out["sources"]["grandlyon"]["downloaded"] == 1
    pes = out["sources"]["pes-marche"]
    assert pes["failed"] == 1
    assert pes["failures"][0]["url"] == dead
    assert pes["failures"][0]["reason"].startswith("connection failed")
    # Files on disk: byte for byte, only complete ones, no temporary file left behind.
    files = sorted((data / "raw" / "e-marchespublics").iterdir())
    assert len(files) == 107
    assert all(f.read_bytes() == DEMATIS_2024 for f in files)
    assert not list(data.rglob("*.part"))
    assert state(data, "SELECT status, stale FROM resources WHERE url = ?", server.url(html)) == [("failed", 1)]

    # The same run as a table for humans: one line per source, then each failure with its URL and reason.
    code, table = fetch_table(config, tmp_path / "data2")
    assert code == 1
    lines = table.splitlines()
    assert lines[0].split() == ["SOURCE", "STATUS", "LISTED", "DOWNLOADED", "UNCHANGED", "SKIPPED", "FAILED", "BYTES"]
    assert lines[1].split()[:7] == ["e-marchespublics", "failed", "109", "107", "0", "41", "2"]
    assert f"FAILED e-marchespublics: {server.url(html)}: the server sent an HTML page, not DECP data" in lines
    assert any(line.startswith(f"FAILED pes-marche: {dead}: connection failed") for line in lines)


def test_second_run_against_unchanged_server_downloads_nothing(server, emar, tmp_path):
    paths = [emar.path(r) for r in emar.selected()]
    serve_files(server, paths)
    server.route("/lyon/marches_publics.xml", Reply(200, GRANDLYON, etag='"lyon-1"'))
    server.route(
        "/pes/dgfip-pes-decp.xml",
        Reply(200, Path(fixture("fcp-branch-dgfip_xml_paquet.xml")).read_bytes(), last_modified=LAST_MODIFIED),
    )
    config = write_config(
        tmp_path,
        [
            emar_source(server),
            {"id": "grandlyon", "name": "Lyon", "kind": "url", "url": server.url("/lyon/marches_publics.xml")},
            {"id": "pes-marche", "name": "PES", "kind": "url", "url": server.url("/pes/dgfip-pes-decp.xml")},
        ],
    )
    data = tmp_path / "data"
    code, first, _ = fetch(config, data)
    assert code == 0
    assert first["sources"]["e-marchespublics"]["downloaded"] == 109
    server.clear_log()

    code, second, _ = fetch(config, data)

    assert code == 0
    assert second["sources"]["e-marchespublics"]["unchanged"] == 109
    assert second["sources"]["grandlyon"]["unchanged"] == 1
    assert second["sources"]["pes-marche"]["unchanged"] == 1
    assert all(s["downloaded"] == 0 and s["bytes"] == 0 for s in second["sources"].values())
    # data.gouv.fr's checksums avoided every request for the dataset's files; the others were conditional.
    assert {r.path.split("?")[0] for r in server.log} == {
        f"/api/2/datasets/{EMAR_DATASET}/resources/",
        "/lyon/marches_publics.xml",
        "/pes/dgfip-pes-decp.xml",
    }
    lyon, pes = server.requests_to("/lyon/marches_publics.xml"), server.requests_to("/pes/dgfip-pes-decp.xml")
    assert [(r.headers.get("if-none-match"), r.status, r.sent) for r in lyon] == [('"lyon-1"', 304, 0)]
    assert [(r.headers.get("if-modified-since"), r.status, r.sent) for r in pes] == [(LAST_MODIFIED, 304, 0)]
    assert sum(r.sent for r in server.log if "/api/" not in r.path) == 0
    assert second["requests"] == 4  # two API pages, two conditional requests

    # A resource re-uploaded on data.gouv.fr (new checksum, new content) is downloaded again, and only that one.
    reuploaded = emar.selected()[5]
    reuploaded["checksum"] = {"type": "sha1", "value": "0" * 40}
    server.route(emar.path(reuploaded), Reply(200, DEMATIS_2024 + b"\n", etag='"v2"'))
    server.clear_log()
    code, third, _ = fetch(config, data, "e-marchespublics")
    assert code == 0
    assert (third["sources"]["e-marchespublics"]["downloaded"], third["sources"]["e-marchespublics"]["unchanged"]) == (
        1,
        108,
    )
    [request] = [r for r in server.log if "/static/" in r.path]
    assert (request.path, request.headers["if-none-match"], request.status) == (emar.path(reuploaded), '"v1-5"', 200)


LAST_MODIFIED = "Wed, 24 Apr 2024 23:26:59 GMT"


def test_failed_and_vanished_sources_keep_their_last_good_copies(server, emar, tmp_path):
    paths = [emar.path(r) for r in emar.selected()]
    serve_files(server, paths)
    server.route("/lyon/marches_publics.xml", Reply(200, GRANDLYON, etag='"lyon-1"'))
    config = write_config(
        tmp_path,
        [
            emar_source(server),
            {"id": "grandlyon", "name": "Lyon", "kind": "url", "url": server.url("/lyon/marches_publics.xml")},
        ],
    )
    data = tmp_path / "data"
    assert fetch(config, data)[0] == 0
    lyon_file = next((data / "raw" / "grandlyon").iterdir())

    emar.gone = True  # the dataset was deleted
    server.route("/lyon/marches_publics.xml", Reply(200, HTML_ERROR))  # an error page served with 200
    code, out, _ = fetch(config, data)

    assert code == 1
    assert out["sources"]["e-marchespublics"]["status"] == "vanished"
    assert (
        "dataset 5c0a7845634f4139b2ee8883 has vanished (HTTP 404 Not Found"
        in out["sources"]["e-marchespublics"]["error"]
    )
    assert out["sources"]["e-marchespublics"]["cached"] == 109
    assert out["sources"]["e-marchespublics"]["stale"] == 109
    assert out["sources"]["grandlyon"]["status"] == "failed"
    assert lyon_file.read_bytes() == GRANDLYON  # the error page did not replace the good copy
    assert state(data, "SELECT status, stale FROM sources ORDER BY source") == [("vanished", 1), ("failed", 1)]

    code, table = fetch_table(config, data)
    assert "VANISHED e-marchespublics: dataset 5c0a7845634f4139b2ee8883 has vanished" in table
    assert "its last good data (109 files) is kept, marked stale" in table


def test_offline_opens_no_connection(server, emar, tmp_path):
    serve_files(server, [emar.path(r) for r in emar.selected()])
    config = write_config(tmp_path, [emar_source(server)])
    data = tmp_path / "data"
    assert fetch(config, data)[0] == 0
    server.clear_log()

    code, out, _ = fetch(config, data, "--offline")

    assert code == 0
    assert server.log == []
    assert out["requests"] == 0
    assert out["sources"]["e-marchespublics"]["status"] == "offline"
    assert out["sources"]["e-marchespublics"]["cached"] == 109
    assert out["sources"]["e-marchespublics"]["bytes"] == 109 * len(DEMATIS_2024)

    # A source never fetched has nothing to offer offline: that is a failure the user must see.
    code, out, _ = fetch(config, tmp_path / "empty", "--offline")
    assert code == 1
    assert out["sources"]["e-marchespublics"]["error"].startswith("nothing cached for this source")
    assert server.log == []


def test_recorded_datagouv_filters_skip_what_is_not_data(server, tmp_path):
    """The PES dataset lists the consolidated XML (format null) and an HTML page of type 'other'."""
    metadata = json.loads((FIXTURES / "datagouv" / "data.gouv.fr_pes_old_metadata_pes_0.json").read_text())
    pes = DataGouv(server, "5bd0b6fd8b4c413d0801dc57", metadata)
    xml_resource = pes.resources[0]
    server.route(pes.path(xml_resource), Reply(200, Path(fixture("fcp-branch-dgfip_xml_paquet.xml")).read_bytes()))
    config = write_config(
        tmp_path,
        [
            {
                "id": "pes-marche",
                "name": "PES",
                "kind": "datagouv_dataset",
                "dataset": "5bd0b6fd8b4c413d0801dc57",
                "api_base": server.url("/api"),
            }
        ],
    )
    code, out, _ = fetch(config, tmp_path / "data")
    assert code == 0
    result = out["sources"]["pes-marche"]
    assert (result["listed"], result["downloaded"], result["skipped"]) == (1, 1, 1)
    assert result["skips"][0]["reason"] == "format 'html', not one of json, xml"
    [cached] = (tmp_path / "data" / "raw" / "pes-marche").iterdir()
    assert cached.name.startswith("dgfip-pes-decp-")
    assert cached.suffix == ".xml"


def test_dead_api_fails_one_source_and_the_others_run(server, tmp_path):
    server.route("/lyon/marches_publics.xml", Reply(200, GRANDLYON))
    config = write_config(
        tmp_path,
        [
            {
                "id": "aife",
                "name": "AIFE",
                "kind": "datagouv_dataset",
                "dataset": "5df410e86f44413a91d34be3",
                "api_base": dead_url("/api"),
            },
            {"id": "grandlyon", "name": "Lyon", "kind": "url", "url": server.url("/lyon/marches_publics.xml")},
        ],
    )
    code, out, _ = fetch(config, tmp_path / "data")
    assert code == 1
    assert out["sources"]["aife"]["status"] == "failed"
    assert "listing failed" in out["sources"]["aife"]["error"]
    assert "connection failed" in out["sources"]["aife"]["error"]
    assert out["sources"]["grandlyon"]["status"] == "ok"
    assert out["sources"]["grandlyon"]["downloaded"] == 1


def test_slow_server_times_out_and_too_long_retry_after_gives_up(server, tmp_path):
    server.route("/slow.xml", Reply(200, GRANDLYON, delay=1.5))
    server.route("/later.xml", Reply(503, b"", {"Retry-After": "86400"}))
    config = write_config(
        tmp_path,
        [{"id": "lyon", "name": "Lyon", "kind": "url", "urls": [server.url("/slow.xml"), server.url("/later.xml")]}],
        read_timeout=0.5,
        retries=1,
    )
    code, out, _ = fetch(config, tmp_path / "data")
    assert code == 1
    reasons = {f["url"]: f["reason"] for f in out["sources"]["lyon"]["failures"]}
    assert reasons[server.url("/slow.xml")] == "no answer within 0.5 s (after 2 attempts)"
    assert reasons[server.url("/later.xml")] == (
        "HTTP 503 Service Unavailable; the server asks to retry after 86400 s, more than the limit"
    )
    assert len(server.requests_to("/later.xml")) == 1


def test_oversized_file_refused(server, tmp_path):
    server.route("/big.json", Reply(200, DEMATIS_2024))
    config = write_config(
        tmp_path, [{"id": "big", "name": "Big", "kind": "url", "url": server.url("/big.json")}], max_size=10_000
    )
    code, out, _ = fetch(config, tmp_path / "data")
    assert code == 1
    assert out["sources"]["big"]["failures"][0]["reason"] == (
        f"file too big: {len(DEMATIS_2024):,} bytes announced, limit 10,000"
    )
    assert not (tmp_path / "data" / "raw" / "big").exists() or not any((tmp_path / "data" / "raw" / "big").iterdir())


def test_unknown_source_is_a_usage_error(tmp_path):
    config = write_config(tmp_path, [{"id": "lyon", "name": "Lyon", "kind": "url", "url": "http://127.0.0.1:9/x.xml"}])
    result = run_cli("fetch", "--config", config, "--data-dir", str(tmp_path / "d"), "nope")
    assert result.exit_code == 2
    assert "unknown source 'nope' (known: lyon)" in result.stderr


def test_a_trickling_server_meets_the_total_deadline(server, tmp_path):
    """0.10.1: 40 bytes every 1.5 s against read_timeout 3 was accepted after 63 s. Now the body must be whole
    within http.total_timeout: the failure names the URL and the limit, the last good copy stays."""
    server.route("/trickle.xml", Reply(200, GRANDLYON, trickle=(40, 0.5)))
    config = write_config(
        tmp_path,
        [{"id": "lyon", "name": "Lyon", "kind": "url", "url": server.url("/trickle.xml")}],
        read_timeout=3,
        total_timeout=2,
        retries=0,
    )
    started = time.monotonic()
    code, out, _ = fetch(config, tmp_path / "data")
    assert time.monotonic() - started < 10
    assert code == 1
    [failure] = out["sources"]["lyon"]["failures"]
    assert failure["url"] == server.url("/trickle.xml")
    assert failure["reason"].startswith("not complete within 2 s (http.total_timeout), ")
    assert not list((tmp_path / "data" / "raw").rglob("*.part"))


def test_a_slow_transfer_under_min_rate_fails(server, tmp_path, monkeypatch):
    from decp_pipeline.fetch import deadline

    monkeypatch.setattr(deadline, "RATE_WINDOW", 2.0)
    server.route("/slow.xml", Reply(200, GRANDLYON, trickle=(40, 0.5)))
    config = write_config(
        tmp_path,
        [{"id": "lyon", "name": "Lyon", "kind": "url", "url": server.url("/slow.xml")}],
        min_rate=1000,
        retries=0,
    )
    code, out, _ = fetch(config, tmp_path / "data")
    assert code == 1
    reason = out["sources"]["lyon"]["failures"][0]["reason"]
    assert reason.startswith("slower than 1,000 bytes/s (http.min_rate): ")


def test_redirects_are_named_and_other_schemes_refused(server, tmp_path):
    """0.10.1 named only the first URL of a redirect that failed, and refused a redirect to file:// with a raw
    requests message (a quote missing)."""
    server.route("/moved.json", Reply(302, headers={"Location": server.url("/gone.json")}))
    server.route("/gone.json", Reply(404, b"nope"))
    server.route("/local.json", Reply(302, headers={"Location": "file:///etc/passwd"}))
    config = write_config(
        tmp_path,
        [{"id": "x", "name": "X", "kind": "url", "urls": [server.url("/moved.json"), server.url("/local.json")]}],
        retries=0,
    )
    code, out, _ = fetch(config, tmp_path / "data")
    assert code == 1
    reasons = {f["url"]: f["reason"] for f in out["sources"]["x"]["failures"]}
    assert reasons[server.url("/moved.json")] == (
        "HTTP 404 Not Found (the resource no longer exists at this address), "
        f"from {server.url('/gone.json')} (redirected from {server.url('/moved.json')})"
    )
    assert reasons[server.url("/local.json")] == "redirected to file:///etc/passwd, which is not http(s): not followed"
