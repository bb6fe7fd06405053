"""sources.yaml: the shipped file loads, and every mistake is a configuration error naming the source and key."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
import yaml

from decp_pipeline.config import PACKAGED_CONFIG, load_config
from decp_pipeline.exceptions import ConfigError
from decp_pipeline.normalize.hooks import HOOKS

from .conftest import run_cli

SEED_IDS = ["pes-marche", "aife", "dume-api", "e-marchespublics", "grandlyon", "marches-publics-info"]
FEEDS_2022 = ["pes-marche-2024", "marches-publics-info-2024"]
GOOD = {
    "id": "ville-x",
    "name": "Ville X",
    "kind": "url",
    "url": "https://example.org/decp.json",
    "format": "auto",
    "enabled": True,
    "priority": 1,
}


def write_config(tmp_path: Path, sources: list[dict], **settings: object) -> str:
    path = tmp_path / "sources.yaml"
    path.write_text(yaml.safe_dump({**settings, "sources": sources}, allow_unicode=True), encoding="utf-8")
    return str(path)


def problems(tmp_path: Path, *sources: dict) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, list(sources)))
    return caught.value.problems


def test_shipped_config_declares_the_seed_sources() -> None:
    config = load_config(str(PACKAGED_CONFIG))
    # The seed sources and their 2022 feeds come first, ids unchanged; the rest of the national coverage follows
    # (tests/test_shipped_sources.py checks those entries).
    assert [s.id for s in config.sources][: len(SEED_IDS + FEEDS_2022)] == SEED_IDS + FEEDS_2022
    aife = config.get("aife")
    assert aife.kind == "datagouv_dataset"
    assert aife.location["datasets"][3] == "5df410e86f44413a91d34be3"
    assert config.get("grandlyon").where().endswith("/marches_publics.xml")


def test_repository_sources_yaml_is_the_packaged_one() -> None:
    root = Path(__file__).parents[1] / "sources.yaml"
    assert root.read_bytes() == Path(str(PACKAGED_CONFIG)).read_bytes()


def test_every_hook_of_the_shipped_config_is_registered() -> None:
    config = load_config(str(PACKAGED_CONFIG))
    listed = [name for source in config.sources for name in source.hooks]
    assert listed
    assert all(name in HOOKS and not HOOKS[name].every_source for name in listed)
    # Today's behaviour: the AIFE and PES Marché hooks for those two sources only (the others run everywhere).
    assert {s.id: s.hooks for s in config.sources if s.hooks} == {
        "pes-marche": ("dgfip-date-from-transmission",),
        "aife": ("aife-date-from-file-name",),
    }


def test_hooks_are_checked_by_name(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, [{**GOOD, "hooks": ["aife-date-from-file-name"]}]))
    assert config.sources[0].hooks == ("aife-date-from-file-name",)
    assert load_config(write_config(tmp_path, [{**GOOD, "hooks": []}])).sources[0].hooks == ()
    assert load_config(write_config(tmp_path, [GOOD])).sources[0].hooks == ()
    assert problems(tmp_path, {**GOOD, "hooks": ["aife-date-from-filename"]}) == [
        "source 'ville-x' (entry 1): key 'hooks': unknown hook 'aife-date-from-filename' "
        "(did you mean 'aife-date-from-file-name'?)"
    ]
    assert problems(tmp_path, {**GOOD, "hooks": ["drop-dgfip-fields", "x", "x"]}) == [
        "source 'ville-x' (entry 1): key 'hooks': hook 'drop-dgfip-fields' runs for every source, it is not listed",
        "source 'ville-x' (entry 1): key 'hooks': unknown hook 'x' "
        "(allowed: aife-date-from-file-name, dgfip-date-from-transmission)",
        "source 'ville-x' (entry 1): key 'hooks': hook 'x' listed twice",
    ]
    assert problems(tmp_path, {**GOOD, "hooks": "aife-date-from-file-name"}) == [
        "source 'ville-x' (entry 1): key 'hooks': expected a list of hook names "
        "(aife-date-from-file-name, dgfip-date-from-transmission), got 'aife-date-from-file-name'"
    ]


def test_settings_are_free(tmp_path: Path) -> None:
    config = load_config(write_config(tmp_path, [GOOD], threshold=0.9))
    assert config.settings == {"threshold": 0.9}
    assert config.sources[0].location == {"url": "https://example.org/decp.json"}


def test_unknown_key_is_named_with_a_suggestion(tmp_path: Path) -> None:
    assert problems(tmp_path, {**GOOD, "prority": 3}) == [
        "source 'ville-x' (entry 1): unknown key 'prority' (did you mean 'priority'?)"
    ]


def test_missing_keys_are_all_named(tmp_path: Path) -> None:
    entry = {k: v for k, v in GOOD.items() if k not in ("enabled", "priority")}
    assert problems(tmp_path, entry) == [
        "source 'ville-x' (entry 1): missing key 'enabled'",
        "source 'ville-x' (entry 1): missing key 'priority'",
    ]


def test_duplicate_ids(tmp_path: Path) -> None:
    assert problems(tmp_path, GOOD, {**GOOD, "name": "again"}) == [
        "source 'ville-x' (entry 2): key 'id': duplicate id, already used by entry 1"
    ]


def test_unknown_kind_and_format(tmp_path: Path) -> None:
    found = problems(tmp_path, {**GOOD, "kind": "ftp"}, {**GOOD, "id": "y", "format": "csv"})
    kinds = "url, datagouv_dataset, dcat, dume_api"
    assert found[0] == f"source 'ville-x' (entry 1): key 'kind': unknown kind 'ftp' (known: {kinds})"
    assert found[-1].startswith(
        "source 'y' (entry 2): key 'format': expected one of auto, json, xml, dume-api, got 'csv'"
    )


def test_kind_location_keys(tmp_path: Path) -> None:
    no_url = {k: v for k, v in GOOD.items() if k != "url"}
    assert problems(tmp_path, no_url) == ["source 'ville-x' (entry 1): missing key 'url' or 'urls' for kind 'url'"]
    both = {**GOOD, "urls": ["https://example.org/a.json"]}
    assert problems(tmp_path, both) == [
        "source 'ville-x' (entry 1): only one allowed of key 'url' or 'urls' for kind 'url'"
    ]
    bad_dataset = {**GOOD, "kind": "datagouv_dataset", "dataset": "not-an-id"}
    del bad_dataset["url"]
    assert problems(tmp_path, bad_dataset) == [
        "source 'ville-x' (entry 1): key 'dataset': expected a data.gouv.fr dataset id (24 hexadecimal characters), "
        "got 'not-an-id'"
    ]


def test_value_types(tmp_path: Path) -> None:
    found = problems(tmp_path, {**GOOD, "id": "Ville X", "enabled": "yes", "priority": "high"})
    assert len(found) == 3
    assert "key 'id': expected lowercase letters, digits and dashes" in found[0]
    assert "key 'enabled': expected true or false, got 'yes'" in found[1]


def test_not_yaml(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text("sources:\n  - id: [unclosed\n", encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        load_config(str(path))
    assert caught.value.problems[0].startswith("line 3, column 1: not valid YAML")


def test_cli_lists_sources_as_a_table_and_as_json() -> None:
    table = run_cli("sources", "--config", str(PACKAGED_CONFIG))
    assert table.exit_code == 0
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["id", "kind", "format", "enabled", "priority", "name", "location"]
    shipped = [s.id for s in load_config(str(PACKAGED_CONFIG)).sources]  # 26 entries (tests/test_shipped_sources.py)
    assert shipped[: len(SEED_IDS + FEEDS_2022)] == SEED_IDS + FEEDS_2022
    assert [line.split()[0] for line in lines[1:]] == shipped
    document = json.loads(run_cli("sources", "--json", "--config", str(PACKAGED_CONFIG)).stdout)
    assert [s["id"] for s in document["sources"]] == shipped
    assert document["sources"][4]["url"].startswith("https://download.data.grandlyon.com/")


def test_cli_config_error_exits_2_and_names_the_key(tmp_path: Path) -> None:
    result = run_cli("sources", "--config", write_config(tmp_path, [{**GOOD, "urll": "x"}]))
    assert result.exit_code == 2
    assert "source 'ville-x' (entry 1): unknown key 'urll' (did you mean 'url'?)" in result.stderr
    assert result.stdout == ""


def test_default_config_is_the_packaged_copy_outside_the_repository(tmp_path: Path) -> None:
    cwd = os.getcwd()
    os.chdir(tmp_path)
    try:
        assert load_config().path == str(PACKAGED_CONFIG)
        (tmp_path / "sources.yaml").write_text(yaml.safe_dump({"sources": [GOOD]}), encoding="utf-8")
        assert [s.id for s in load_config().sources] == ["ville-x"]
    finally:
        os.chdir(cwd)


def test_fetch_keys_and_http_settings_are_checked(tmp_path: Path) -> None:
    dataset = {**GOOD, "kind": "datagouv_dataset", "dataset": "5c0a7845634f4139b2ee8883"}
    del dataset["url"]
    sources = [
        {**dataset, "id": "a", "title_pattern": "decp-(", "formats": "json", "min_size": -1},
        {"id": "d", "name": "D", "kind": "dume_api", "format": "dume-api", "enabled": True, "priority": 1,
         "start_date": "2024-13-01", "refresh_days": 0, "api_key_env": "sk-live-123"},
    ]  # fmt: skip
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, sources, http={"retries": 1.5, "timeout": 3, "backoff": -1}))
    assert sorted(caught.value.problems) == [
        "http: key 'backoff': expected a number >= 0 (seconds before the first retry, doubled at each retry), got -1",
        "http: key 'retries': expected a whole number >= 0 (attempts after the first one), got 1.5",
        "http: unknown key 'timeout' (did you mean 'read_timeout'?)",
        "source 'a' (entry 1): key 'formats': expected a non-empty list of resource formats (e.g. [json, xml]), "
        "got 'json'",
        "source 'a' (entry 1): key 'min_size': expected a whole number of bytes >= 0, got -1",
        "source 'a' (entry 1): key 'title_pattern': expected a valid regular expression (Python syntax), got 'decp-('",
        "source 'd' (entry 2): key 'api_key_env': expected the name of an environment variable holding the key "
        "(never the key itself), got a value not shown (it may be a secret)",
        "source 'd' (entry 2): key 'refresh_days': expected a whole number of days >= 1, got 0",
        "source 'd' (entry 2): key 'start_date': expected a date written YYYY-MM-DD, got '2024-13-01'",
    ]


def test_a_duplicate_id_is_named_even_when_the_entry_has_other_problems(tmp_path: Path) -> None:
    """0.10.1 said only the other problem."""
    assert problems(tmp_path, GOOD, {**GOOD, "prority": 3}) == [
        "source 'ville-x' (entry 2): unknown key 'prority' (did you mean 'priority'?)",
        "source 'ville-x' (entry 2): key 'id': duplicate id, already used by entry 1",
    ]


def test_a_key_given_twice_in_one_entry_is_a_problem(tmp_path: Path) -> None:
    """0.10.1 (PyYAML) kept the last value silently."""
    config = tmp_path / "sources.yaml"
    config.write_text(
        "sources:\n  - id: ville-x\n    name: X\n    kind: url\n    url: https://example.org/a.json\n"
        "    format: auto\n    enabled: true\n    priority: 1\n    enabled: false\n"
        "http:\n  retries: 2\n  retries: 3\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as error:
        load_config(str(config))
    assert error.value.problems == [
        "line 9: key 'enabled' given twice in one mapping (first on line 7)",
        "line 12: key 'retries' given twice in one mapping (first on line 11)",
    ]


def test_the_config_is_found_in_the_documented_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--config, then $DECP_CONFIG, then ./sources.yaml, then the shipped copy (docs/cli.md; 0.10.1's docs
    gave ./sources.yaml before $DECP_CONFIG, the code the other way)."""
    from decp_pipeline.config import config_path

    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("DECP_CONFIG", raising=False)
    assert config_path(None) == str(PACKAGED_CONFIG)
    (tmp_path / "sources.yaml").write_text("sources: []\n", encoding="utf-8")
    assert config_path(None) == "sources.yaml"
    monkeypatch.setenv("DECP_CONFIG", "/etc/decp.yaml")
    assert config_path(None) == "/etc/decp.yaml"
    assert config_path("mine.yaml") == "mine.yaml"
    assert "$DECP_CONFIG if set, else ./sources.yaml" in " ".join(run_cli("build", "--help").stdout.split())
    docs = (Path(__file__).parents[1] / "docs" / "cli.md").read_text(encoding="utf-8")
    assert "Default: `$DECP_CONFIG` if set, else `./sources.yaml` if present" in docs
