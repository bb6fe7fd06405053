"""`decp sources discover` against a local server answering like data.gouv.fr's API v1."""

from __future__ import annotations

import copy
import datetime
import json
from pathlib import Path
from typing import Any

import pytest

from decp_pipeline.config import load_config
from decp_pipeline.discover.append import source_id

from .conftest import FIXTURES, run_cli
from .httpserver import LocalServer, Reply, Request, dead_url, json_reply

# JSON Lines, not .json: the tests that read every JSON file of the fixtures as DECP data leave it alone.
RECORDED = [
    json.loads(line)
    for line in (FIXTURES / "datagouv" / "discover" / "recorded-datasets.jsonl")
    .read_text(encoding="utf-8")
    .splitlines()
]
MEGALIS, PES, AIFE = (copy.deepcopy(d) for d in RECORDED)
# The real PES and AIFE datasets carry no tag: tagged here so that the server answers them to ?tag=decp.
PES["tags"] = AIFE["tags"] = ["decp"]
FCP = "139bercy/format-commande-publique"


def resource(rid: str, fmt: str, schema: dict[str, Any] | None) -> dict[str, Any]:
    url = f"https://static.data.gouv.fr/resources/x/{rid}.{fmt}"
    return {"id": rid, "title": f"{rid}.{fmt}", "type": "main", "format": fmt, "url": url, "schema": schema}


# Synthetic: a buyer-profile declarations dataset, tagged decp, whose resources declare etalab/schema-decp-dpa.
DPA = {
    "id": "6500000000000000000000d1",
    "slug": "declarations-profils-acheteurs",
    "title": "Déclarations des profils d'acheteurs",
    "tags": ["decp"],
    "organization": {"name": "Etalab"},
    "last_update": "2025-01-02T10:00:00+00:00",
    "page": "https://www.data.gouv.fr/fr/datasets/declarations-profils-acheteurs/",
    "resources": [resource("dpa-1", "csv", {"name": "etalab/schema-decp-dpa", "version": "1.0.0"})],
}
# Synthetic: a publisher's dataset with both formats of the regulation, owned by a person.
BOTH = {
    "id": "6500000000000000000000b2",
    "slug": "decp-de-la-commune-d-eve",
    "title": "DECP de la commune d'Ève",
    "tags": [],
    "owner": {"first_name": "Anne", "last_name": "Martin", "slug": "anne-martin"},
    "last_update": "2025-03-04T05:06:07+00:00",
    "resources": [
        resource("both-1", "json", {"name": FCP, "version": "2.0.1"}),
        resource("both-2", "xml", {"name": FCP, "version": "1.5.0"}),
        resource("both-3", "json", {"name": FCP, "version": "2.0.2"}),
        resource("both-4", "pdf", None),
    ],
}

CONFIG = """# My sources: a comment kept as it is.
http:
  retries: 0   # no retry in tests

sources:
  - id: pes-marche
    name: PES
    kind: url
    url: https://files.data.gouv.fr/decp/dgfip-pes-decp.xml
    format: auto
    enabled: true
    priority: 50

  - id: aife
    name: AIFE
    kind: datagouv_dataset
    datasets: [5bd789ee8b4c4155bd9a0770, 5df410e86f44413a91d34be3]
    format: auto
    enabled: true
    priority: 40
  # a comment at the end of the list

# the build settings, after the sources
build:
  max_shrink: 0.5
"""


def api(server: LocalServer) -> None:
    """/api/1/datasets/: the schema search in two pages, the tag search in one."""
    pages = {
        ("schema", "1"): ([MEGALIS], 2),
        ("schema", "2"): ([BOTH], None),
        ("tag", "1"): ([MEGALIS, PES, AIFE, DPA], None),
    }

    def answer(request: Request) -> Reply:
        query = request.query
        search = "schema" if query.get("schema") == [FCP] else "tag" if query.get("tag") == ["decp"] else None
        page = query.get("page", ["1"])[0]
        if search is None or (search, page) not in pages:
            return json_reply({"message": "not found"}, 404)
        data, following = pages[search, page]
        next_page = None
        if following:
            next_page = server.url(f"/api/1/datasets/?schema={FCP}&page_size=100&page={following}")
        return json_reply({"data": data, "next_page": next_page, "page": int(page), "page_size": 100, "total": 2})

    server.route("/api/1/datasets/", answer)


@pytest.fixture
def server():
    s = LocalServer()
    api(s)
    yield s
    s.stop()


@pytest.fixture
def config(tmp_path: Path) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


def discover(config: Path, server_base: str, *args: str) -> Any:
    return run_cli("sources", "discover", "--config", str(config), "--api-base", server_base, *args)


MEGALIS_LINE = (
    "5f4f4f8910f4b55843deae51  Données essentielles du profil acheteur Mégalis Bretagne - schéma 2022 — Mégalis "
    "Bretagne; 3 resource(s) (xml); updated 2024-06-11; schema versions unspecified; "
    "https://www.data.gouv.fr/fr/datasets/donnees-essentielles-du-profil-acheteur-megalis-bretagne-schema-2022/"
)
BOTH_LINE = (
    "6500000000000000000000b2  DECP de la commune d'Ève — Anne Martin; 4 resource(s) (json, pdf, xml); updated "
    "2025-03-04; schema versions 1.5.0, 2.0.1, 2.0.2; "
    "https://www.data.gouv.fr/fr/datasets/decp-de-la-commune-d-eve/"
)


def test_lists_the_new_datasets_and_counts(server: LocalServer, config: Path) -> None:
    result = discover(config, server.url("/api"), "-v")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines() == [
        MEGALIS_LINE,
        BOTH_LINE,
        "4 datasets found, 2 covered, 2 new; 1 excluded (not DECP data)",
    ]
    assert "covered: 5bd0b6fd8b4c413d0801dc57 " in result.stderr
    assert "(source pes-marche)" in result.stderr
    assert "(source aife)" in result.stderr
    assert (
        "excluded: 6500000000000000000000d1 Déclarations des profils d'acheteurs: its resources declare only other "
        "schemas (etalab/schema-decp-dpa), not 139bercy/format-commande-publique" in result.stderr
    )
    # Two pages of the schema search, one of the tag search: 3 requests, the first pages as documented.
    assert [r.path for r in server.log] == [
        f"/api/1/datasets/?schema={FCP}&page_size=100",
        f"/api/1/datasets/?schema={FCP}&page_size=100&page=2",
        "/api/1/datasets/?tag=decp&page_size=100",
    ]
    assert f"Network: 3 requests to {server.url('/api')}" in result.stderr


def test_json_document(server: LocalServer, config: Path) -> None:
    result = discover(config, server.url("/api"), "--json")
    assert result.exit_code == 0
    document = json.loads(result.stdout)
    assert {k: document[k] for k in ("found", "covered", "new", "excluded", "requests", "written")} == {
        "found": 4, "covered": 2, "new": 2, "excluded": 1, "requests": 3, "written": None,
    }  # fmt: skip
    assert [(d["id"], d["status"], d["covered_by"]) for d in document["datasets"]] == [
        ("5f4f4f8910f4b55843deae51", "new", None),
        ("6500000000000000000000b2", "new", None),
        ("5bd0b6fd8b4c413d0801dc57", "covered", "pes-marche"),
        ("5df410e86f44413a91d34be3", "covered", "aife"),
    ]
    both = document["datasets"][1]
    assert both == {
        "status": "new",
        "id": "6500000000000000000000b2",
        "slug": "decp-de-la-commune-d-eve",
        "title": "DECP de la commune d'Ève",
        "publisher": "Anne Martin",
        "resources": 4,
        "formats": ["json", "pdf", "xml"],
        "last_update": "2025-03-04T05:06:07+00:00",
        "schema_versions": ["1.5.0", "2.0.1", "2.0.2"],
        "page": "https://www.data.gouv.fr/fr/datasets/decp-de-la-commune-d-eve/",
        "tagged_decp": False,
        "covered_by": None,
        "excluded": None,
        "other_schemas": [],
    }
    assert [d["id"] for d in document["excluded_datasets"]] == ["6500000000000000000000d1"]


def test_write_appends_disabled_sources_keeping_the_text(server: LocalServer, config: Path) -> None:
    result = discover(config, server.url("/api"), "--write", str(config))
    assert result.exit_code == 0, result.output
    ids = ["donnees-essentielles-du-profil-acheteur-megalis-bretagne", "decp-de-la-commune-d-eve"]
    assert result.stdout.splitlines()[-1] == f"Appended 2 disabled source(s) to {config}: {', '.join(ids)}"
    text = config.read_text(encoding="utf-8")
    before, after = CONFIG.split("  # a comment at the end of the list\n")
    assert text.startswith(before.rstrip("\n") + "\n")  # the file's text, comments included, is kept
    assert text.endswith("  # a comment at the end of the list\n" + after)
    loaded = load_config(str(config))
    added = [s for s in loaded.sources if s.id in ids]
    today = datetime.date.today().isoformat()
    assert [(s.id, s.kind, s.location, s.enabled, s.priority, s.format) for s in added] == [
        (ids[0], "datagouv_dataset", {"dataset": "5f4f4f8910f4b55843deae51"}, False, 39, "auto"),
        (ids[1], "datagouv_dataset", {"dataset": "6500000000000000000000b2"}, False, 39, "auto"),
    ]
    assert added[1].name == "DECP de la commune d'Ève"
    assert added[0].extra["caveats"] == f"found by decp sources discover on {today}: not reviewed"
    assert added[0].extra["publisher"] == "Mégalis Bretagne"
    # Run again: they are now covered, nothing is appended.
    again = discover(config, server.url("/api"), "--write", str(config))
    assert again.stdout.splitlines()[-2:] == [
        "4 datasets found, 4 covered, 0 new; 1 excluded (not DECP data)",
        f"Appended 0 disabled source(s) to {config}",
    ]
    assert config.read_text(encoding="utf-8") == text


def test_write_to_another_file_with_a_taken_id_and_the_discover_priority(
    server: LocalServer, config: Path, tmp_path: Path
) -> None:
    other = tmp_path / "mine.yaml"
    other.write_text(
        "discover:\n  priority: -7\nsources:\n"
        "- id: decp-de-la-commune-d-eve\n  name: taken\n  kind: url\n  url: https://example.org/x.json\n"
        "  format: auto\n  enabled: false\n  priority: 1\n",
        encoding="utf-8",
    )
    result = discover(config, server.url("/api"), "--write", str(other), "--json")
    assert result.exit_code == 0, result.output
    written = json.loads(result.stdout)["written"]["ids"]
    assert written[1] == "decp-de-la-commune-d-eve-2"
    loaded = load_config(str(other))
    assert [(s.id, s.priority, s.enabled) for s in loaded.sources][1:] == [(i, -7, False) for i in written]


def test_write_refuses_a_flow_list(server: LocalServer, config: Path, tmp_path: Path) -> None:
    other = tmp_path / "flow.yaml"
    other.write_text("sources: []\n", encoding="utf-8")
    result = discover(config, server.url("/api"), "--write", str(other))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {other}: cannot append to it: no line 'sources:' opening a block list")
    assert other.read_text(encoding="utf-8") == "sources: []\n"


@pytest.mark.parametrize(
    ("section", "problem"),
    [
        ("discover: yes\n", "key 'discover': expected a mapping of settings (include, priority)"),
        ("discover:\n  include: 1\n", "discover: key 'include': expected true or false, got 1"),
        ("discover:\n  priority: low\n", "discover: key 'priority': expected a whole number"),
        ("discover:\n  includes: true\n", "discover: unknown key 'includes' (did you mean 'include'?)"),
    ],
)
def test_discover_settings_are_checked(config: Path, section: str, problem: str) -> None:
    config.write_text(CONFIG + section, encoding="utf-8")
    result = run_cli("sources", "--config", str(config))
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ")
    assert problem in result.stderr


def test_a_dead_api_is_one_line(config: Path) -> None:
    base = dead_url("/api")
    result = discover(config, base)
    assert result.exit_code == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1
    assert "Traceback" not in result.stderr
    assert lines[0].startswith(f"Error: {base}/1/datasets/?schema={FCP}&page_size=100: connection failed: ")


def test_an_answer_that_is_not_json_is_one_line(config: Path) -> None:
    server = LocalServer()
    try:
        server.route("/api/1/datasets/", Reply(200, b"<html>maintenance</html>", {"Content-Type": "text/html"}))
        result = discover(config, server.url("/api"))
    finally:
        server.stop()
    assert result.exit_code == 1
    assert result.stderr.startswith(f"Error: {server.url('/api')}/1/datasets/?schema={FCP}&page_size=100: ")
    assert "the answer is not JSON" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_bad_api_base_is_a_usage_error(config: Path) -> None:
    result = discover(config, "https://www.data.gouv.fr/")
    assert result.exit_code == 2
    assert "--api-base: expected the API root, ending in /api" in result.stderr


def test_source_ids_from_slugs() -> None:
    taken = {"a-b"}
    assert source_id("A_B", taken) == "a-b-2"
    assert source_id("Commune d'Ève (2019)", taken) == "commune-d-eve-2019"
    assert source_id("---", taken) == "dataset"
    assert source_id("x" * 80, taken) == "x" * 60
    assert source_id("foo", taken, prefix="discovered-") == "discovered-foo"


def test_discover_include_adds_the_new_datasets_to_a_fetch(
    server: LocalServer, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """discover.include: the new datasets are fetched as discovered-<slug> sources; an offline run, or a run
    whose search fails, uses the last list of the data dir."""
    monkeypatch.setenv("DECP_DATAGOUV_API", server.url("/api"))
    for dataset in (MEGALIS, BOTH):
        server.route(f"/api/2/datasets/{dataset['id']}/resources/", json_reply({"data": [], "next_page": None}))
    # The declared sources are disabled: nothing goes to the internet.
    config.write_text(
        CONFIG.replace("enabled: true", "enabled: false") + "discover:\n  include: true\n  priority: -5\n",
        encoding="utf-8",
    )
    data = str(tmp_path / "data")
    ids = ["discovered-donnees-essentielles-du-profil-acheteur-megalis-bretagne", "discovered-decp-de-la-commune-d-eve"]
    result = run_cli("fetch", "--config", str(config), "--data-dir", data, "--json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert list(document["sources"]) == ids
    assert document["discovered"] == {"added": ids, "searched": True, "requests": 3, "note": None}
    assert len(server.requests_to("/api/1/datasets/")) == 3

    server.clear_log()
    offline = run_cli("fetch", "--config", str(config), "--data-dir", data, "--offline")
    assert offline.stdout.splitlines()[-1] == (
        f"Discovered: 2 discovered source(s) added (the last list of the data dir): {', '.join(ids)}"
    )
    assert server.log == []

    monkeypatch.setenv("DECP_DATAGOUV_API", dead_url("/api"))
    dead = run_cli("fetch", "--config", str(config), "--data-dir", data, "--offline")
    assert "the last list of the data dir" in dead.stdout  # offline: no search at all
    sources = run_cli("sources", "--config", str(config), "--json")
    assert [s["id"] for s in json.loads(sources.stdout)["sources"]] == ["pes-marche", "aife"]  # the file is unchanged


def test_a_failed_search_uses_the_last_list(
    server: LocalServer, config: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config.write_text(CONFIG.replace("enabled: true", "enabled: false") + "discover:\n  include: true\n")
    data = tmp_path / "data"
    data.mkdir()
    saved = {"datasets": [{"id": BOTH["id"], "slug": BOTH["slug"], "title": "t", "publisher": "p", "page": "u"}]}
    (data / "discovered.json").write_text(json.dumps(saved), encoding="utf-8")
    base = dead_url("/api")
    monkeypatch.setenv("DECP_DATAGOUV_API", base)
    result = run_cli("fetch", "--config", str(config), "--data-dir", str(data))
    assert result.exit_code == 1  # the discovered source's listing fails too: the server is dead
    line = next(x for x in result.stdout.splitlines() if x.startswith("Discovered: "))
    assert line.startswith(
        "Discovered: 1 discovered source(s) added (the last list of the data dir) (the search failed, "
        f"{base}/1/datasets/?schema={FCP}&page_size=100: connection failed: "
    )
    assert line.endswith(": discovered-decp-de-la-commune-d-eve")


def test_a_build_reads_the_discovered_sources(config: Path, tmp_path: Path) -> None:
    """decp build --offline with discover.include: the last list's sources are built (here with nothing cached:
    a failed source, exit 1) and the run says it added them."""
    config.write_text(CONFIG.replace("enabled: true", "enabled: false") + "discover:\n  include: true\n")
    data = tmp_path / "data"
    data.mkdir()
    saved = {"datasets": [{"id": BOTH["id"], "slug": BOTH["slug"], "title": "t", "publisher": "p", "page": "u"}]}
    (data / "discovered.json").write_text(json.dumps(saved), encoding="utf-8")
    result = run_cli(
        "build", "--offline", "--config", str(config), "--data-dir", str(data), "--out", str(tmp_path / "d")
    )
    assert (
        "Discovered: 1 discovered source(s) added (the last list of the data dir): discovered-decp-de-la-commune-d-eve"
        in (result.stderr)
    )
    assert "FAILED discovered-decp-de-la-commune-d-eve: nothing to read" in result.stdout
