"""`decp publish` (publish/): the current release on a local server that behaves like data.gouv.fr's API v1
(tests/udata_server.py): each file sent once with its sha1, nothing sent again, only what changed after a
rebuild, faults retried, the key in the X-API-KEY header and nowhere else."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from decp_pipeline.ocds.archive import zip_folder
from decp_pipeline.publish.settings import default_files

from .conftest import run_cli
from .httpserver import LocalServer, Reply
from .udata_server import FakeUdata, Fault

SAMPLES = Path(__file__).parents[1] / "samples"
SEED = ["pes-marche", "aife", "e-marchespublics", "grandlyon", "marches-publics-info"]
DATASET = "5cd57bf68b4c4179299eb0e9"
FILES = default_files()


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`make demo`'s build, once for the module (each test works on a copy)."""
    root = tmp_path_factory.mktemp("demo")
    result = build(root, SAMPLES)
    assert result.exit_code == 0, result.output
    return root


@pytest.fixture
def site(demo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Path, FakeUdata]]:
    shutil.copytree(demo, tmp_path, symlinks=True, dirs_exist_ok=True)
    server = LocalServer()
    udata = FakeUdata(server)
    udata.add_dataset(DATASET)
    monkeypatch.setenv("DECP_DATAGOUV_API_KEY", udata.key)
    config = tmp_path / "sources.yaml"  # the shipped sources, with retries that wait milliseconds
    shipped = (Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8")
    config.write_text(shipped + "\nhttp:\n  retries: 2\n  backoff: 0.01\n  read_timeout: 5\n", encoding="utf-8")
    monkeypatch.setenv("DECP_CONFIG", str(config))
    yield tmp_path, udata
    server.stop()


def build(root: Path, samples: Path) -> Any:
    inputs = [a for s in SEED for a in ("--input", f"{s}={samples / s}")]
    return run_cli("build", "-q", "--offline", "--data-dir", str(root / "data"), "--out", str(root / "dist"), *SEED,
                   *inputs)  # fmt: skip


def publish(root: Path, udata: FakeUdata, *args: str) -> Any:
    return run_cli("publish", "--out", str(root / "dist"), "--dataset", DATASET, "--api-base", udata.api_base, *args)


def sha1(path: Path) -> str:
    return hashlib.sha1(path.read_bytes(), usedforsecurity=False).hexdigest()


def by_title(udata: FakeUdata) -> dict[str, dict[str, Any]]:
    return {r["title"]: r for r in udata.resources(DATASET)}


def test_dry_run_lists_every_file_and_sends_no_write(site: tuple[Path, FakeUdata], monkeypatch) -> None:
    root, udata = site
    monkeypatch.delenv("DECP_DATAGOUV_API_KEY")  # a dry run reads a public dataset: no key needed
    result = publish(root, udata, "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert [line.split()[2] for line in lines] == list(FILES)
    size = (root / "dist" / "current" / "decp.json").stat().st_size
    digest = sha1(root / "dist" / "decp.json")
    assert lines[0] == f"would create decp.json ({size:,} bytes, sha1 {digest}): a new resource"
    assert [(r.method, r.path) for r in udata.server.log] == [("GET", f"/api/1/datasets/{DATASET}/")]
    assert udata.resources(DATASET) == []
    assert not (root / "dist" / "current" / "publication.json").exists()


def test_publish_sends_each_file_once_then_nothing(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    result = publish(root, udata)
    assert result.exit_code == 0, result.output
    current = root / "dist" / "current"
    remote = by_title(udata)
    assert sorted(remote) == sorted(FILES)  # titles set back to the file names (udata slugifies them)
    for name in FILES:
        assert remote[name]["checksum"] == {"type": "sha1", "value": sha1(current / name)}
        assert udata.bodies[remote[name]["id"]] == (current / name).read_bytes()
    writes = udata.writes()
    uploads = [r for r in writes if r.method == "POST"]
    assert len(uploads) == len(FILES) == 21
    assert all(r.path == f"/api/1/datasets/{DATASET}/upload/" for r in uploads)
    assert len([r for r in writes if r.method == "PUT"]) == 21
    assert len(udata.server.log) == 43  # 1 GET, 21 uploads, 21 metadata updates; no 4xx
    assert {r.status for r in udata.server.log} == {200, 201}
    description = remote["marches.csv"]["description"]
    assert description.startswith("Table des marchés publics (une ligne par marché), en CSV : 145 lignes.")
    assert "108 contrats publiés, 48 écartés, 1 doublon, lus dans 5 fichiers de 5 sources" in description
    publication = json.loads((current / "publication.json").read_text())
    [run] = publication["runs"]
    assert run["resources"]["decp.json"]["id"] == remote["decp.json"]["id"]
    assert run["resources"]["decp.json"]["done"] == "created"
    assert run["requests"] == 43
    assert result.stdout.splitlines()[0].startswith(f"created decp.json ({(current / 'decp.json').stat().st_size:,}")

    udata.server.clear_log()
    again = publish(root, udata)
    assert again.exit_code == 0, again.output
    assert [(r.method, r.path) for r in udata.server.log] == [("GET", f"/api/1/datasets/{DATASET}/")]
    assert all(line.startswith("unchanged ") for line in again.stdout.splitlines())
    assert by_title(udata) == remote  # same ids, same everything
    assert len(json.loads((current / "publication.json").read_text())["runs"]) == 2


def test_a_rebuild_with_one_record_changed_sends_only_the_changed_files(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    assert publish(root, udata).exit_code == 0
    ids = {t: r["id"] for t, r in by_title(udata).items()}
    before = json.loads((root / "dist" / "current" / "manifest.json").read_text())["files"]
    samples = root / "samples"
    shutil.copytree(SAMPLES, samples)
    aws = next((samples / "marches-publics-info").glob("*.json"))
    document = json.loads(aws.read_text(encoding="utf-8"))
    document["marches"][0]["objet"] += " (lot 2)"
    aws.write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    assert build(root, samples).exit_code == 0
    after = json.loads((root / "dist" / "current" / "manifest.json").read_text())["files"]
    made = "ocds.zip"  # made when publishing, from ocds/: its packages' publishedDate is the build's
    changed = {n for n in FILES if n != made and before[n]["sha256"] != after[n]["sha256"]} | {made}
    assert {"decp.json", "marches.csv", "marches.parquet", "delta.json", "delta.csv", "report.json"} <= changed
    assert changed < set(FILES)  # some files are the same: decp-2022.json, duplicates.csv ...
    udata.server.clear_log()
    result = publish(root, udata)
    assert result.exit_code == 0, result.output
    uploads = [r.path for r in udata.writes() if r.method == "POST"]
    assert sorted(uploads) == sorted(f"/api/1/datasets/{DATASET}/resources/{ids[n]}/upload/" for n in changed)
    assert {t: r["id"] for t, r in by_title(udata).items()} == ids  # replaced in place: ids stable
    assert sha1(root / "dist" / "decp.json") == by_title(udata)["decp.json"]["checksum"]["value"]


def test_the_key_goes_in_the_header_only(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    result = publish(root, udata, "--json")
    assert result.exit_code == 0
    for request in udata.server.log:
        assert udata.key not in request.path
        assert udata.key.encode() not in request.body
        assert [k for k, v in request.headers.items() if udata.key in v] == ["x-api-key"]
    assert udata.key not in result.output
    assert udata.key not in (root / "dist" / "current" / "publication.json").read_text()
    assert json.loads(result.stdout)["resources"]["decp.json"]["done"] == "created"


def test_no_key_is_a_usage_error_and_sends_nothing(site: tuple[Path, FakeUdata], monkeypatch) -> None:
    root, udata = site
    monkeypatch.delenv("DECP_DATAGOUV_API_KEY")
    result = publish(root, udata)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: DECP_DATAGOUV_API_KEY is not set")
    assert udata.server.log == []


@pytest.mark.parametrize(
    ("which", "status", "text", "writes"),
    [("key", 401, "Invalid API Key", 0), ("forbidden_key", 403, "not allowed to edit", 1)],
)
def test_a_refused_key_stops_and_is_never_echoed(site, monkeypatch, which: str, status: int, text: str,
                                                 writes: int) -> None:  # fmt: skip
    """A wrong key is refused at the first request (the dataset's listing); a key that may not write this
    dataset, at the first upload: either stops the run, exit 2, and the key the server echoed is redacted."""
    root, udata = site
    udata.echo_key = True
    sent = "wrong-key-98765" if which == "key" else udata.forbidden_key
    monkeypatch.setenv("DECP_DATAGOUV_API_KEY", sent)
    result = publish(root, udata)
    assert result.exit_code == 2
    assert f"HTTP {status}" in result.stderr
    assert text in result.stderr
    assert sent not in result.output
    assert "[DECP_DATAGOUV_API_KEY]" in result.stderr
    assert len(udata.writes()) == writes
    publication = root / "dist" / "current" / "publication.json"
    assert publication.exists() == bool(writes)
    if writes:
        assert sent not in publication.read_text()
        assert result.stdout.count("not sent: the API refused the key") == 20


def test_faults_are_retried_and_a_lost_creation_is_not_made_twice(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    upload = rf"/api/1/datasets/{DATASET}/upload/$"
    udata.faults = [
        Fault("GET", "/datasets/", Reply(503)),
        Fault("POST", upload, Reply(429, headers={"Retry-After": "0"})),
        Fault("POST", upload, Reply(drop=True), after=True),  # created, but the answer is lost
        Fault("PUT", "/resources/", Reply(502)),
    ]
    result = publish(root, udata)
    assert result.exit_code == 0, result.output
    assert udata.faults == []
    assert sorted(by_title(udata)) == sorted(FILES)  # 21 resources: none created twice
    statuses = [r.status for r in udata.server.log]
    assert statuses.count(503) == statuses.count(429) == statuses.count(502) == 1


def test_a_file_that_keeps_failing_fails_alone(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    assert publish(root, udata).exit_code == 0
    (root / "dist").joinpath("current", "manifest.json")  # the release is republished after a rebuild
    rid = by_title(udata)["report.json"]["id"]
    udata.resources(DATASET)  # report.json differs at each build: make it differ remotely
    next(r for r in udata.datasets[DATASET]["resources"] if r["id"] == rid)["checksum"]["value"] = "0" * 40
    udata.faults = [Fault("POST", f"/resources/{rid}/upload/", Reply(500)) for _ in range(3)]
    result = publish(root, udata)
    assert result.exit_code == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("failed ")]
    assert line.startswith("failed report.json: ")
    assert line.endswith("HTTP 500 Internal Server Error (after 3 attempts)")
    assert result.stderr.splitlines()[-1].startswith("Error: 1 of 21 files failed: report.json")


def test_a_damaged_or_forced_release_is_refused(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    current = root / "dist" / "current"
    manifest = json.loads((current / "manifest.json").read_text())
    assert manifest["shrink_guard"] == {"forced": False, "why": None}
    data = (current / "marches.csv").read_bytes()
    (current / "marches.csv").write_bytes(data.replace(b"2019", b"2091", 1))  # same size, other bytes
    result = publish(root, udata)
    assert result.exit_code == 1
    assert "marches.csv: its sha256 differs from the manifest's" in result.stderr
    assert udata.writes() == []
    (current / "marches.csv").write_bytes(data)
    manifest["shrink_guard"] = {"forced": True, "why": "108 contracts, the current release has 300"}
    (current / "manifest.json").write_text(json.dumps(manifest))
    result = publish(root, udata)
    assert result.exit_code == 1
    assert "built with --force past the shrink guard" in result.stderr
    assert udata.writes() == []
    assert publish(root, udata, "--force").exit_code == 0


def test_resources_are_matched_by_name_or_slug_and_others_left_alone(site: tuple[Path, FakeUdata]) -> None:
    root, udata = site
    udata.add_dataset(DATASET, [
        {"id": "keep-me", "title": "Documentation du jeu de données", "checksum": None},
        {"id": "old-actes", "title": "actes-sous-traitance.csv", "checksum": {"type": "sha1", "value": "0" * 40}},
    ])  # fmt: skip
    result = publish(root, udata)
    assert result.exit_code == 0, result.output
    remote = by_title(udata)
    assert remote["actes_sous_traitance.csv"]["id"] == "old-actes"
    documentation = {"id": "keep-me", "title": "Documentation du jeu de données", "checksum": None}
    assert remote["Documentation du jeu de données"] == documentation
    assert len(remote) == 22


def test_publish_settings_are_checked(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8")
    config.write_text(shipped + "\npublish:\n  dataset: 'not an id'\n  files: [manifest.json, a/b.csv]\n"
                      "  api_base: https://www.data.gouv.fr/api/1\n  dataset_id: x\n", encoding="utf-8")  # fmt: skip
    result = run_cli("sources", "--config", str(config))
    assert result.exit_code == 2
    for problem in ("publish: unknown key 'dataset_id'", "key 'dataset': expected a data.gouv.fr dataset id",
                    "manifest.json is never published", "'a/b.csv' is not the name of a file",
                    "key 'api_base': expected the API root, ending in /api"):  # fmt: skip
        assert problem in result.stderr


def test_a_redirect_is_not_followed_with_the_key(site: tuple[Path, FakeUdata]) -> None:
    """A request carrying the key goes to --api-base and nowhere else: a redirect fails it."""
    root, udata = site
    elsewhere = LocalServer()
    try:
        target = elsewhere.url(f"/api/1/datasets/{DATASET}/upload/")
        udata.faults = [Fault("POST", "/upload/$", Reply(307, headers={"Location": target}))]
        result = publish(root, udata)
        assert result.exit_code == 1
        assert f"failed decp.json: {udata.api_base}/1/datasets/{DATASET}/upload/: HTTP 307: redirected to {target}" in (
            result.stdout
        )
        assert elsewhere.log == []
        assert len(by_title(udata)) == 20  # the other files went up
    finally:
        elsewhere.stop()


def test_bad_dataset_and_api_base_are_refused_before_any_request(site, monkeypatch) -> None:
    root, udata = site
    result = run_cli("publish", "--out", str(root / "dist"), "--dataset", "../../x", "--api-base", udata.api_base)
    assert result.exit_code == 2
    assert result.stderr == "Error: --dataset: expected a data.gouv.fr dataset id or slug, got '../../x'\n"
    monkeypatch.setenv("DECP_DATAGOUV_API", udata.server.url("/"))
    result = run_cli("publish", "--out", str(root / "dist"), "--dataset", DATASET)
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: DECP_DATAGOUV_API: expected the API root, ending in /api")
    assert udata.server.log == []


def test_a_key_refused_midway_leaves_what_is_up_unchanged(site, monkeypatch) -> None:
    root, udata = site
    assert publish(root, udata).exit_code == 0
    by_title(udata)["report.json"]["checksum"]["value"] = "0" * 40  # one file to send again
    monkeypatch.setenv("DECP_DATAGOUV_API_KEY", udata.forbidden_key)
    result = publish(root, udata)
    assert result.exit_code == 2
    assert "Stopped publishing release" in result.stderr
    assert ": 20 unchanged, 1 failed; 2 requests" in result.stderr  # the GET, the refused upload
    runs = json.loads((root / "dist" / "current" / "publication.json").read_text())["runs"]
    assert runs[-1]["resources"]["decp.json"]["done"] == "unchanged"
    assert runs[-1]["resources"]["report.json"]["done"] == "failed"


def test_ocds_zip_is_made_from_the_release_s_folder(site: tuple[Path, FakeUdata], tmp_path: Path) -> None:
    """ocds.zip is made when publishing, from ocds/ checked against the manifest: the bytes sent are the zip of
    the folder; a damaged folder is refused; a release built without it is published without it, unless
    `publish.files` names it."""
    root, udata = site
    current = root / "dist" / "current"
    packages = current / "ocds" / "releases" / "2019" / "2019-01-29.json"
    original = packages.read_bytes()
    packages.write_bytes(original.replace(b"2019", b"2091", 1))  # same size, other bytes
    result = publish(root, udata)
    assert result.exit_code == 1
    assert "ocds/: its sha256 differs from the manifest's): nothing was published" in result.stderr
    assert udata.writes() == []
    packages.write_bytes(original)
    assert publish(root, udata).exit_code == 0
    zip_folder(current / "ocds", tmp_path / "expected.zip")
    assert udata.bodies[by_title(udata)["ocds.zip"]["id"]] == (tmp_path / "expected.zip").read_bytes()
    config = Path(os.environ["DECP_CONFIG"])
    config.write_text(config.read_text(encoding="utf-8") + "\noutputs: {ocds: false}\n", encoding="utf-8")
    assert build(root, SAMPLES).exit_code == 0
    result = publish(root, udata, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "decp.json" in result.stdout
    assert "ocds.zip" not in result.stdout
    config.write_text(config.read_text(encoding="utf-8") + "publish: {files: [decp.json, ocds.zip]}\n", "utf-8")
    result = publish(root, udata, "--dry-run")
    assert result.exit_code == 2
    assert "ocds.zip is made from ocds/, which release" in result.stderr
