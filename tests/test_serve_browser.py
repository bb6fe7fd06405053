"""The publishers' page of `decp serve` in real headless Chromium (tests/chromium.py), against a live server: a
file set on its input (as a person picks one) and sent, the verdict and each problem shown in French with a
link to its field's definition; the page works with the keyboard alone and asks nothing of any other host."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from .chromium import Browser, Page, require_chromium
from .conftest import CORPUS
from .serve_server import serving

pytestmark = pytest.mark.browser
ROOT = Path(__file__).parents[1]
SCREENSHOTS = Path(os.environ.get("DECP_SCREENSHOTS", ROOT / "build" / "screenshots"))
EXCERPT = ROOT / "samples" / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
# Elements wider than the screen (but the problems' table, which scrolls sideways in its own box).
OVERFLOWING = """[...document.querySelectorAll('body *')].filter(e => !e.closest('.tableau')
    && e.getBoundingClientRect().right > window.innerWidth + 1).map(e => e.tagName + '#' + e.id)"""
ROWS = """[...document.querySelectorAll('#resultat tbody tr')].map(tr => {
    const cells = [...tr.cells].map(td => td.textContent);
    const link = tr.cells[1].querySelector('a');
    return {cells, href: link && link.getAttribute('href'), target: link && !!document.querySelector(
        '[id="' + link.getAttribute('href').slice(1) + '"]')};
})"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory):
    with serving(tmp_path_factory.mktemp("serve-page"), "--workers", "1") as running:
        yield running


def send(page: Page, path: Path) -> str:
    """Sets the file on the page's <input type=file> (DOM.setFileInputFiles, as a person's pick), submits the
    form with its button, and returns the verdict's heading once it shows."""
    document = page.connection.call("DOM.getDocument")
    node = page.connection.call("DOM.querySelector", {"nodeId": document["root"]["nodeId"], "selector": "#fichier"})
    page.connection.call("DOM.setFileInputFiles", {"files": [str(path)], "nodeId": node["nodeId"]})
    page.wait_for("document.getElementById('choisi').textContent.includes(" + repr(path.name) + ")")
    page.evaluate("document.getElementById('verifier').click()")
    return str(page.wait_for("(document.querySelector('#resultat h2') || {}).textContent", timeout=30))


def page_url(server) -> str:
    """The page by the name `localhost`: the harness's browser resolves no other (an IP literal neither)."""
    return f"http://localhost:{server.port}/"


def local_only(server, requests: list[str]) -> list[str]:
    """The requests to anything but the server itself: none."""
    return [url for url in requests if not url.startswith((page_url(server), "data:"))]


def test_a_file_with_problems_shows_each_in_french_with_its_field(server, tmp_path):
    require_chromium()
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    with Browser(tmp_path) as browser:
        page = browser.open(page_url(server))
        assert page.evaluate("document.documentElement.lang") == "fr"
        assert page.evaluate("document.title") == "Vérifier un fichier DECP"
        assert send(page, EXCERPT) == "Fichier non conforme"
        summary = page.evaluate("document.querySelector('#resultat p').textContent")
        assert summary == (
            "marches-publics-info_2019-03-07_excerpt.json : 5 enregistrements à corriger sur 49, 5 problèmes "
            "(format 1.5, JSON)."
        )
        rows = page.evaluate(ROWS)
        assert len(rows) == 5
        first = rows[0]
        assert first["cells"][:3] == ["n° 39 (id 2019PA183100)", "procedure", "valeur hors de la liste autorisée"]
        assert first["cells"][3] == (
            'une des valeurs : "Procédure adaptée", "Appel d\'offres ouvert", "Appel d\'offres restreint", '
            '"Marché passé sans publicité ni mise en concurrence préalable", "Dialogue compétitif", '
            '"Procédure avec négociation"'
        )
        assert first["cells"][4].startswith('"Marché négocié sans publicité ni mise en concurrence préalable" is not')
        assert rows[1]["cells"][2:4] == ["liste avec des éléments répétés", "des éléments tous différents"]
        assert first["href"] == "#champ-1.5-procedure"
        assert all(row["target"] for row in rows if row["href"]), rows
        assert page.evaluate("document.activeElement.tagName") == "H2"  # the verdict is where the focus goes
        page.screenshot(SCREENSHOTS / "serve-invalid.png", full_page=True)
        page.evaluate(f"document.querySelector('a[href=\"{first['href']}\"]').click()")
        assert page.evaluate("location.hash") == "#champ-1.5-procedure"
        definition = page.evaluate("document.getElementById('champ-1.5-procedure').nextElementSibling.textContent")
        assert definition.startswith("Procédure de passation")
        assert local_only(server, page.requests) == []
        assert page.console_errors == []


def test_a_valid_file_and_a_broken_one(server, tmp_path):
    require_chromium()
    with Browser(tmp_path) as browser:
        page = browser.open(page_url(server))
        assert send(page, CORPUS / "v20-xml-marche-valid.xml") == "Fichier conforme"
        assert "conformes au schéma officiel (format 2022, XML)" in page.evaluate(
            "document.querySelector('#resultat p').textContent"
        )
        assert send(page, CORPUS / "v15-xml-malformed.xml") == "Fichier non conforme"
        rows = page.evaluate(ROWS)
        assert rows[0]["cells"][0].startswith("le fichier, ligne ")
        assert rows[0]["cells"][2:4] == [
            "fichier mal formé : ni JSON ni XML lisible",
            "un fichier JSON ou XML bien formé",
        ]
        assert local_only(server, page.requests) == []
        assert page.console_errors == []


def press(page: Page, key: str, code: int, text: str = "") -> None:
    """A key pressed and released, as a keyboard sends it (`text`: the character it types, Enter's "\\r")."""
    down = {"type": "keyDown" if text else "rawKeyDown", "key": key, "code": key, "windowsVirtualKeyCode": code}
    page.connection.call("Input.dispatchKeyEvent", {**down, **({"text": text} if text else {})})
    page.connection.call("Input.dispatchKeyEvent", {"type": "keyUp", "key": key, "code": key})


def test_the_page_works_with_the_keyboard_alone(server, tmp_path):
    require_chromium()
    with Browser(tmp_path) as browser:
        page = browser.open(page_url(server))
        order = []
        for _ in range(4):
            press(page, "Tab", 9)
            order.append(page.evaluate("document.activeElement.id || document.activeElement.className"))
            outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
            assert outline != "none", order  # the focus is visible
        assert order == ["evitement", "fichier", "version", "verifier"]
        labels = page.evaluate("[...document.querySelectorAll('label')].map(l => l.htmlFor)")
        assert labels == ["fichier", "version"]
        # Enter on the button with no file: the page says what to do and puts the focus on the input.
        press(page, "Enter", 13, "\r")
        page.wait_for("!!document.querySelector('#resultat p')")
        assert page.evaluate("document.querySelector('#resultat p').textContent") == "Choisissez d'abord un fichier."
        assert page.evaluate("document.activeElement.id") == "fichier"
        assert page.console_errors == []


def test_a_file_dropped_on_the_page_is_checked_and_a_phone_reads_it(server, tmp_path):
    require_chromium()
    with Browser(tmp_path) as browser:
        page = browser.open(page_url(server), mobile=True)
        assert page.evaluate("window.innerWidth") == 390
        assert page.evaluate(OVERFLOWING) == []  # nothing wider than the phone
        box = page.evaluate("(() => { const r = document.getElementById('depot').getBoundingClientRect();"
                            " return [r.x + r.width / 2, r.y + r.height / 2]; })()")  # fmt: skip
        data = {"items": [], "files": [str(CORPUS / "v15-json-duree-zero.json")], "dragOperationsMask": 1}
        for kind in ("dragEnter", "dragOver", "drop"):
            page.connection.call("Input.dispatchDragEvent", {"type": kind, "x": box[0], "y": box[1], "data": data})
        page.wait_for("document.getElementById('choisi').textContent.includes('v15-json-duree-zero.json')")
        page.evaluate("document.getElementById('verifier').click()")
        page.wait_for("(document.querySelector('#resultat h2') || {}).textContent === 'Fichier non conforme'", 30)
        rows = page.evaluate(ROWS)
        assert [row["cells"][:4] for row in rows] == [
            ["n° 1 (id 2010345211201)", "dureeMois", "nombre trop petit", "au moins 1"]
        ]
        assert rows[0]["href"] == "#champ-1.5-dureeMois"
        assert page.evaluate(OVERFLOWING) == []
        page.screenshot(SCREENSHOTS / "serve-phone.png", full_page=False)
        assert local_only(server, page.requests) == []
        assert page.console_errors == []
