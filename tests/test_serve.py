"""`decp serve` over real HTTP: a server started as a user starts it (tests/serve_server.py), requests sent by
`requests` or a bare socket. Its verdicts are `decp validate --json`'s on every file of the validation corpus;
its limits (upload size, time) answer 413 and 503; hostile files cost bounded time; no upload is left behind."""

from __future__ import annotations

import json
import socket
import time
from pathlib import Path

import markupsafe
import pytest
import requests

from decp_pipeline.cli import cli

from .conftest import CORPUS, run_cli
from .serve_server import ServeProcess, serving

ROOT = Path(__file__).parents[1]
EXCERPT = ROOT / "samples" / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
EXAMPLE_2022 = ROOT / "samples" / "2022" / "official-example-2022.xml"
CORPUS_FILES = sorted(p.name for p in CORPUS.iterdir() if p.suffix in (".json", ".xml") and p.name != "verdicts.json")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with serving(tmp_path_factory.mktemp("serve"), "--workers", "2", "--max-upload-mb", "1") as running:
        yield running


def cli_document(path: Path, *options: str) -> dict:
    """What `decp validate --json` prints for the file, its file name made the upload's."""
    result = run_cli("validate", "--json", *options, str(path))
    document = json.loads(result.stdout)
    document["files"][0]["file"] = path.name
    return document


def upload(server: ServeProcess, path: Path, **params: str) -> requests.Response:
    with path.open("rb") as f:
        return requests.post(server.url + "/api/validate", files={"file": (path.name, f)}, params=params, timeout=60)


@pytest.mark.parametrize("name", CORPUS_FILES)
def test_the_verdict_on_each_corpus_file_is_decp_validates(server, name):
    answer = upload(server, CORPUS / name)
    expected = cli_document(CORPUS / name)
    assert answer.json() == expected
    assert answer.status_code == (200 if expected["valid"] else 422)
    assert answer.headers["content-type"] == "application/json"


def test_a_sample_with_problems_and_a_forced_schema_version(server):
    answer = upload(server, EXCERPT)
    assert answer.status_code == 422
    assert answer.json() == cli_document(EXCERPT)
    assert answer.json()["summary"]["problems"] == 5
    forced = upload(server, EXAMPLE_2022, schema_version="1.5")
    assert forced.json() == cli_document(EXAMPLE_2022, "--schema-version", "1.5")
    assert forced.status_code == 422
    assert upload(server, EXAMPLE_2022, schema_version="2.0").status_code == 200


def test_the_raw_body_with_a_file_name_shown_never_used(server):
    body = EXAMPLE_2022.read_bytes()
    answer = requests.post(server.url + "/api/validate", data=body, params={"filename": "../../etc/passwd"}, timeout=60)
    assert answer.status_code == 200
    assert answer.json()["files"][0]["file"] == "passwd"
    unnamed = requests.post(server.url + "/api/validate", data=body, timeout=60)
    assert unnamed.json()["files"][0]["file"] == "upload"
    windows = requests.post(server.url + "/api/validate", files={"file": ("C:\\x\\\x00marchés.xml", body)}, timeout=60)
    assert windows.json()["files"][0]["file"] == "marchés.xml"


def test_unreadable_bytes_are_judged_422_like_the_cli(server, tmp_path):
    files = {
        "empty.json": b"",
        "page.html": b"<html><body>404</body></html>",
        "archive.zip": b"PK\x03\x04" + bytes(100),
        "utf16.json": '{"a": 1}'.encode("utf-16"),
    }
    for name, content in files.items():
        path = tmp_path / name
        path.write_bytes(content)
        answer = upload(server, path)
        assert answer.status_code == 422, name
        assert answer.json() == cli_document(path), name


def test_requests_without_a_file_are_400(server):
    assert requests.post(server.url + "/api/validate", files={"other": ("a", b"x")}, timeout=10).status_code == 400
    wrong = requests.post(server.url + "/api/validate", data=b"{}", params={"schema_version": "3"}, timeout=10)
    assert wrong.status_code == 400
    assert "schema_version must be one of auto, 1.5, 1.5-dgfip, 2.0" in wrong.json()["error"]
    broken = requests.post(
        server.url + "/api/validate",
        data=b"--x\r\nnonsense",
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        timeout=10,
    )
    assert broken.status_code == 400
    huge_header = (
        b"--x\r\nContent-Disposition: form-data; name=file; filename=" + b"a" * 100_000 + b"\r\n\r\n{}\r\n--x--\r\n"
    )
    answer = requests.post(
        server.url + "/api/validate",
        data=huge_header,
        headers={"Content-Type": "multipart/form-data; boundary=x"},
        timeout=10,
    )
    assert answer.status_code == 400
    # python-multipart bounds a part's headers itself (they are held in memory, unlike its data)
    assert answer.json() == {"error": "the multipart/form-data body cannot be read: Maximum header size exceeded"}


def _raw_exchange(server: ServeProcess, head: bytes, chunks: list[bytes]) -> tuple[bytes, int]:
    """Sends the request's head then its chunks while the server reads; its answer, and the chunks sent."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head)
        sent = 0
        for chunk in chunks:
            try:
                s.sendall(chunk)
            except OSError:  # the server answered and closed: it read no further
                break
            sent += 1
        s.shutdown(socket.SHUT_WR) if sent == len(chunks) else None
        answer = b""
        while data := s.recv(65536):
            answer += data
    return answer, sent


def test_an_upload_over_the_limit_is_413_before_its_body_is_read(server):
    head = (f"POST /api/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Length: {500 * 1024 * 1024}\r\nConnection: close\r\n\r\n").encode()  # fmt: skip
    started = time.monotonic()
    answer, _ = _raw_exchange(server, head, [])  # no byte of the 500 MiB announced is sent
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    assert b'"max_upload_bytes":1048576' in answer
    assert time.monotonic() - started < 5


def test_a_chunked_upload_is_counted_as_it_streams(server):
    head = (b"POST /api/validate HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n"
            b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n")  # fmt: skip
    piece = b"x" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer, _ = _raw_exchange(server, head, [chunk] * 17)  # 1 MiB + 64 KiB, no end
    assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
    small = requests.post(server.url + "/api/validate", data=iter([EXAMPLE_2022.read_bytes()]), timeout=30)
    assert small.status_code == 200  # chunked too (a generator), under the limit


def test_hostile_files_cost_bounded_time(server, tmp_path):
    bomb = tmp_path / "bomb.xml"
    entities = "".join(f'<!ENTITY e{i} "{"&e" + str(i - 1) + ";" * 10 if i else "lol" * 10}">' for i in range(10))
    bomb.write_text(f'<?xml version="1.0"?><!DOCTYPE marches [{entities}]><marches><marche>&e9;</marche></marches>')
    deep = tmp_path / "deep.json"
    deep.write_text('{"marches": [' + "[" * 200_000 + "]" * 200_000 + "]}")
    long = tmp_path / "long.json"
    long.write_text('{"marches": [{"id": "' + "x" * 900_000 + '"}]}')
    for path in (bomb, deep, long):
        started = time.monotonic()
        answer = upload(server, path)
        assert time.monotonic() - started < 10, path.name
        assert answer.status_code == 422, path.name
        assert answer.json() == cli_document(path), path.name
    assert upload(server, bomb).json()["files"][0]["problems"][0]["rule"] == "syntax"


def test_the_routes_beside_validation(server):
    health = requests.get(server.url + "/health", timeout=10)
    assert health.json() == {"status": "ok", "version": run_cli("--version").stdout.split()[-1]}
    schemas = requests.get(server.url + "/api/schemas", timeout=10).json()
    assert [v["name"] for v in schemas["versions"]] == ["1.5", "1.5-dgfip", "2.0"]
    document = requests.get(server.url + "/openapi.json", timeout=10).json()
    assert document["openapi"].startswith("3.")
    assert sorted(document["paths"]) == ["/", "/api/schemas", "/api/validate", "/health", "/openapi.json"]
    assert requests.get(server.url + "/api/validate", timeout=10).status_code == 405
    assert requests.get(server.url + "/nowhere", timeout=10).status_code == 404


def test_no_upload_is_left_behind(server):
    upload(server, EXCERPT)
    assert server.uploads_left() == []


def test_the_time_limit_answers_503_and_the_server_goes_on(tmp_path):
    with serving(tmp_path, "--workers", "1", "--time-limit", "0.001") as slow:
        answer = upload(slow, EXCERPT)
        assert answer.status_code == 503
        assert answer.json() == {
            "error": "the validation took longer than the limit of 0.001 s: the file could not be judged in time",
            "time_limit": 0.001,
        }
        assert requests.get(slow.url + "/health", timeout=10).ok
        assert slow.uploads_left() == []
        assert slow.stop() == 0  # SIGTERM: a clean stop


def test_serve_is_a_documented_command():
    assert "serve" in cli.commands
    assert "--max-upload-mb" in run_cli("serve", "--help").stdout


def test_the_page_is_french_self_contained_and_under_its_policy(server):
    answer = requests.get(server.url + "/", timeout=10)
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "text/html; charset=utf-8"
    page = answer.text
    policy = answer.headers["content-security-policy"]
    assert f'<meta http-equiv="Content-Security-Policy" content="{markupsafe.escape(policy)}">' in page
    assert "default-src 'none'" in policy
    assert "connect-src 'self'" in policy
    assert '<html lang="fr">' in page
    assert '<input type="file" id="fichier" name="file"' in page
    assert '<label for="fichier">' in page
    assert '<button type="submit" id="verifier">Vérifier le fichier</button>' in page
    assert 'id="champ-1.5-acheteur.id"' in page
    assert 'id="champ-2.0-titulaires.titulaire.typeIdentifiant"' in page
    assert " src=" not in page  # no script, image or frame loaded from anywhere
    assert 'href="http' not in page


def test_a_port_taken_is_one_error_line_and_exit_1(server):
    import subprocess
    import sys

    run = subprocess.run(
        [sys.executable, "-m", "decp_pipeline", "serve", "--port", str(server.port), "--workers", "1"],
        capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert run.returncode == 1
    assert "address already in use" in run.stderr
    assert run.stderr.splitlines()[-1] == (
        f"Error: the server could not start on 127.0.0.1:{server.port} (the ERROR line above says why)"
    )
