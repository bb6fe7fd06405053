"""A redirect to another host is followed, and said: with -v on stderr, and in the run state's events."""

from __future__ import annotations

from .conftest import run_cli
from .httpserver import LocalServer, Reply
from .test_fetch import GRANDLYON, state, write_config


def test_a_redirect_to_another_host_is_shown_with_v_and_kept_in_the_run_state(tmp_path):
    first, other = LocalServer(), LocalServer()  # two ports: two hosts
    try:
        first.route("/marches.xml", Reply(302, headers={"Location": other.url("/elsewhere/marches.xml")}))
        other.route("/elsewhere/marches.xml", Reply(200, GRANDLYON))
        config = write_config(
            tmp_path, [{"id": "lyon", "name": "Lyon", "kind": "url", "url": first.url("/marches.xml")}]
        )
        result = run_cli("fetch", "-v", "--config", config, "--data-dir", str(tmp_path / "data"))
    finally:
        first.stop()
        other.stop()
    assert result.exit_code == 0
    target = other.url("/elsewhere/marches.xml")
    assert f"lyon: downloaded {first.url('/marches.xml')} (1,324 bytes, redirected to another host, {target})" in (
        result.stderr.splitlines()
    )
    events = state(tmp_path / "data", "SELECT url, outcome, reason FROM events WHERE source = 'lyon'")
    assert events == [(first.url("/marches.xml"), "downloaded", f"redirected to another host, {target}")]
