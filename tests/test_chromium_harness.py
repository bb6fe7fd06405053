"""The browser harness (tests/chromium.py) on pages written here: what a page requested, drew and threw.

Each test skips, with its reason, where chromium is not installed; `pytest -m browser` runs these alone.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from .chromium import Browser, require_chromium

pytestmark = pytest.mark.browser

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
OFFLINE_SCHEMES = ("file:", "data:")
# A page that would load from the network: an image on one host, a script fetched from another.
EXTERNAL = {"http://example.invalid/x.png", "https://cdn.example.org/lib.js"}

CHART = """<!doctype html>
<html lang="fr"><head><meta charset="utf-8"><title>Montants</title></head>
<body>
<svg id="chart" xmlns="http://www.w3.org/2000/svg" width="300" height="120" viewBox="0 0 300 120">
  <rect x="10" y="10" width="180" height="50" fill="steelblue"/>
  <text x="10" y="95">Marchés publics</text>
</svg>
<img src="http://example.invalid/x.png" alt="">
<script>
  window.fetched = fetch('https://cdn.example.org/lib.js').then(() => 'loaded', () => 'failed');
</script>
<div style="height: 2000px"></div>
</body></html>
"""

THROWS = """<!doctype html>
<html><head><meta charset="utf-8"></head>
<body><p>before</p>
<script>throw new Error('the chart has no data');</script>
<script>console.error('second script:', 42);</script>
</body></html>
"""

# Without a viewport meta tag a phone lays a page out 980 px wide, as a desktop site, and zooms out.
DESKTOP_SITE = """<!doctype html>
<html><head><meta charset="utf-8"></head><body><p>wide</p></body></html>
"""

PHONE = """<!doctype html>
<html><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body><p>narrow</p></body></html>
"""


def page_url(tmp_path: Path, name: str, html: str) -> str:
    path = tmp_path / name
    path.write_text(html, encoding="utf-8")
    return path.as_uri()


def png_size(path: Path) -> tuple[int, int]:
    """Width and height from the PNG's header (IHDR, right after the signature)."""
    header = path.read_bytes()[16:24]
    return int.from_bytes(header[:4], "big"), int.from_bytes(header[4:], "big")


def test_a_page_requests_svg_and_screenshot_are_seen(tmp_path: Path) -> None:
    require_chromium()
    url = page_url(tmp_path, "chart.html", CHART)
    with Browser(tmp_path) as browser:
        page = browser.open(url)
        # The resolver fails every host: the fetch rejects, after its request was sent.
        assert page.evaluate("window.fetched") == "failed"
        assert url in page.requests
        assert {u for u in page.requests if not u.startswith(OFFLINE_SCHEMES)} == EXTERNAL
        box = page.evaluate("JSON.parse(JSON.stringify(document.getElementById('chart').getBoundingClientRect()))")
        assert box["width"] > 0
        assert box["height"] > 0
        assert page.evaluate("document.getElementById('chart').childElementCount") == 2
        assert page.evaluate("document.querySelector('#chart text').textContent") == "Marchés publics"
        shot = page.screenshot(tmp_path / "chart.png", full_page=True)
        assert shot.read_bytes().startswith(PNG_SIGNATURE)
        assert png_size(shot)[1] > 2000  # the whole page, not the 900 px of the viewport
        assert png_size(page.screenshot(tmp_path / "viewport.png")) == (1280, 900)
        assert page.console_errors == []


def test_a_page_that_throws_shows_in_console_errors(tmp_path: Path) -> None:
    require_chromium()
    url = page_url(tmp_path, "throws.html", THROWS)
    with Browser(tmp_path) as browser:
        page = browser.open(url)
        assert len(page.console_errors) == 2, page.console_errors
        assert "the chart has no data" in page.console_errors[0]
        assert page.console_errors[1] == "second script: 42"
        assert page.evaluate("document.querySelector('p').textContent") == "before"
        # An expression that throws fails the test with the page's message, a rejected promise too.
        with pytest.raises(AssertionError, match="no such function"):
            page.evaluate("(() => { throw new TypeError('no such function'); })()")
        with pytest.raises(AssertionError, match="rejected here"):
            page.evaluate("Promise.reject(new Error('rejected here'))")
        assert len(page.console_errors) == 2  # the harness's own evaluations are not the page's errors


def test_mobile_viewport_and_waiting_for_a_script(tmp_path: Path) -> None:
    require_chromium()
    url = page_url(tmp_path, "phone.html", PHONE)
    with Browser(tmp_path) as browser:
        phone = browser.open(url, mobile=True)
        assert phone.evaluate("window.innerWidth") == 390
        assert phone.evaluate("window.devicePixelRatio") == 2
        assert phone.evaluate("navigator.maxTouchPoints") > 0
        desktop_site = browser.open(page_url(tmp_path, "desktop-site.html", DESKTOP_SITE), mobile=True)
        assert desktop_site.evaluate("window.innerWidth") == 980
        desktop = browser.open(url)
        assert desktop.evaluate("[window.innerWidth, window.innerHeight]") == [1280, 900]
        desktop.evaluate("setTimeout(() => { window.ready = 'yes'; }, 200)")
        assert desktop.wait_for("window.ready") == "yes"
        with pytest.raises(AssertionError, match="still"):
            desktop.wait_for("window.never", timeout=0.3)
        phone.close()
        phone.close()
        assert desktop.evaluate("1 + 1") == 2


def live_processes(group: int, marker: str) -> list[str]:
    """The processes of `group`, or naming `marker` (the profile: the crash handler has a group of its own),
    not yet ended (a zombie has ended: init reaps it)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            cmdline = (entry / "cmdline").read_bytes().decode(errors="replace")
        except OSError:  # ended meanwhile
            continue
        state, _parent, pgrp = stat.rsplit(")", 1)[1].split()[:3]
        if state != "Z" and (int(pgrp) == group or marker in cmdline):
            found.append(f"{entry.name} {state} {cmdline.replace(chr(0), ' ')[:200]}")
    return found


def fail_with_a_browser_open(tmp_path: Path, seen: list[Browser], *, hang: bool) -> None:
    """A test that fails while its page is open, after it hung the browser (SIGSTOP) if `hang`."""
    with Browser(tmp_path, stop_timeout=1) as browser:
        seen.append(browser)
        browser.open("data:text/html,<p>hello</p>")
        assert browser.process is not None
        assert live_processes(browser.process.pid, str(browser.profile))
        if hang:
            os.kill(browser.process.pid, signal.SIGSTOP)
        raise RuntimeError("the test failed")


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads /proc (Linux)")
@pytest.mark.parametrize("hang", [False, True], ids=["closed", "hung-then-killed"])
def test_nothing_outlives_a_failed_test(tmp_path: Path, hang: bool) -> None:
    require_chromium()
    seen: list[Browser] = []
    with pytest.raises(RuntimeError, match="the test failed"):
        fail_with_a_browser_open(tmp_path, seen, hang=hang)
    [browser] = seen
    assert browser.process is not None
    assert browser.process.returncode is not None  # reaped
    group, marker = browser.process.pid, str(browser.profile)
    # The killed helpers and the crash handler (which exits when the browser has gone) end within moments.
    deadline = time.monotonic() + 5
    while live_processes(group, marker) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert live_processes(group, marker) == []
