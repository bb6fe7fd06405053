"""The report's pages in real headless Chromium (tests/chromium.py): they render their plots, make no request to
any host, run their search without error, read on a phone without sideways scrolling; screenshots are saved
in build/screenshots/ (not committed; DECP_SCREENSHOTS names another folder). Skipped, with the reason, where
chromium is not installed."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from .chromium import Browser, require_chromium
from .test_report import DUNKERQUE, SOLIDEO, demo  # noqa: F401 - the demo's release, built once

pytestmark = pytest.mark.browser
SCREENSHOTS = Path(os.environ.get("DECP_SCREENSHOTS", Path(__file__).parents[1] / "build" / "screenshots"))
PLOTS = """[...document.querySelectorAll("svg.plot")].map(svg => {
    const box = svg.getBoundingClientRect();
    return {label: svg.getAttribute("aria-label"), width: box.width, height: box.height,
            shapes: svg.querySelectorAll("path, rect, text, use").length};
})"""


def local_only(requests: list[str]) -> list[str]:
    return [url for url in requests if not url.startswith(("file:", "data:"))]


def test_the_report_renders_its_plots_and_requests_nothing(demo, tmp_path):  # noqa: F811
    require_chromium()
    dist, report = demo
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(tmp_path) as browser:
        page = browser.open((dist / "report.html").resolve().as_uri())
        plots = page.evaluate(PLOTS)
        assert len(plots) >= 7
        for plot in plots:
            assert plot["width"] > 300, plot
            assert plot["height"] > 100, plot
            assert plot["shapes"] > 10, plot
        sections = page.evaluate("[...document.querySelectorAll('main > section')].map(s => [s.id, s.offsetHeight])")
        assert [s for s, _ in sections] == ["publication", "corrections", "rejets", "silences", "indicateurs",
                                            "acheteurs"]  # fmt: skip
        assert all(height > 50 for _, height in sections)
        shown = page.evaluate("document.querySelector('[data-total=read] [data-value]').dataset.value")
        assert json.loads(shown) == report["total"]["read"]
        page.screenshot(SCREENSHOTS / "report.png", full_page=True)
        assert local_only(page.requests) == []
        assert page.console_errors == []


def test_the_search_finds_a_buyer_and_its_link_opens_its_page(demo, tmp_path):  # noqa: F811
    require_chromium()
    dist, _ = demo
    with Browser(tmp_path) as browser:
        page = browser.open((dist / "report.html").resolve().as_uri())
        before = page.evaluate("document.querySelectorAll('#liste a').length")
        assert before > 0  # the links are there before any search
        page.evaluate("""(() => { const box = document.getElementById("recherche");
            box.value = "dunkerque"; box.dispatchEvent(new Event("input")); })()""")
        found = page.evaluate("[...document.querySelectorAll('#liste a')].map(a => a.getAttribute('href'))")
        assert found == [f"acheteurs/{DUNKERQUE}.html"]
        assert page.evaluate("document.getElementById('resultat').textContent") == "1 acheteur trouvé :"
        page.evaluate("""(() => { const box = document.getElementById("recherche");
            box.value = "2000 2715 9000 17"; box.dispatchEvent(new Event("input")); })()""")  # a SIRET with spaces
        assert page.evaluate("document.querySelectorAll('#liste a').length") == 1
        # Clicked after this evaluation has returned, and looked at once the new page is there: an evaluation in
        # flight while the page navigates is answered with an error by chromium.
        page.evaluate("setTimeout(() => document.querySelector('#liste a').click(), 100)")
        time.sleep(1.5)
        page.wait_for(f"location.href.endsWith('{DUNKERQUE}.html') && document.readyState === 'complete'")
        assert page.evaluate("document.querySelectorAll('#contrats tbody tr').length") == 20
        assert local_only(page.requests) == []
        assert page.console_errors == []


def test_a_buyer_page_reads_on_a_phone(demo, tmp_path):  # noqa: F811
    require_chromium()
    dist, _ = demo
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(tmp_path) as browser:
        page = browser.open((dist / "acheteurs" / f"{SOLIDEO}.html").resolve().as_uri(), mobile=True)
        assert page.evaluate("window.innerWidth") == 390
        # Styled by the pages' shared stylesheet (acheteurs/style.css), which their policy lets load.
        assert page.evaluate("getComputedStyle(document.querySelector('header')).backgroundColor") == "rgb(0, 0, 145)"
        assert page.console_errors == []
        # Wide tables scroll in their own box: the page itself does not scroll sideways.
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        reasons = page.evaluate("document.querySelector('#rejets tbody tr').innerText")
        assert "champ obligatoire absent : dateNotification" in " ".join(reasons.split())
        page.screenshot(SCREENSHOTS / "acheteur-mobile.png", full_page=True)
        report = browser.open((dist / "report.html").resolve().as_uri(), mobile=True)
        assert report.evaluate("document.documentElement.scrollWidth") <= 390
        # A plot keeps a readable size (its text at least 9 px) and scrolls sideways in its own box.
        sizes = report.evaluate(
            "[...document.querySelectorAll('svg.plot')].map(s => [s.getBoundingClientRect().width, "
            "s.parentElement.clientWidth, parseFloat(getComputedStyle(s.querySelector('text')).fontSize)"
            " * s.getBoundingClientRect().width / s.viewBox.baseVal.width])"
        )
        assert all(width >= 600 and box <= 390 and text >= 9 for width, box, text in sizes), sizes
        report.screenshot(SCREENSHOTS / "report-mobile.png", full_page=True)
        assert local_only(page.requests + report.requests) == []
