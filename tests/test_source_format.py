"""The `format` of a source (sources.yaml) chooses its reader: json, xml, dume-api, or auto (the content
decides). A file of another format than the one declared fails with a clear message; a file that is neither
JSON nor XML fails whatever the format. The format is part of the cached result's key."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from .conftest import run_cli

ROOT = Path(__file__).resolve().parents[1]
JSON_SAMPLE = ROOT / "samples" / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
XML_SAMPLE = ROOT / "samples" / "pes-marche" / "dgfip-pes-decp.xml"
# One row of the DUME API as the fetcher stores a day (fetch/kinds/dume.py), from tests/test_fetch_kinds.py.
DUME_DAY = {"donneesEssentielles": []}


def config(tmp_path: Path, fmt: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "sources:\n  - {id: s, name: S, kind: url, url: 'https://example.org/s', "
        f"format: {fmt}, enabled: true, priority: 1}}\n",
        encoding="utf-8",
    )
    return path


def build(tmp_path: Path, fmt: str, *files: Path) -> tuple[int, dict, str]:
    folder = tmp_path / "in"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    for file in files:
        shutil.copy(file, folder / file.name)
    where = ["--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist")]
    result = run_cli(
        "build", "--offline", "--config", str(config(tmp_path, fmt)), *where, "s", "--input", f"s={folder}"
    )
    report = json.loads((tmp_path / "dist" / "report.json").read_text(encoding="utf-8"))
    return result.exit_code, report["sources"]["s"], result.stderr


@pytest.mark.parametrize(("fmt", "read"), [("auto", 79), ("json", 49), ("xml", 30)])
def test_the_format_chooses_the_reader(tmp_path, fmt, read):
    code, counts, stderr = build(tmp_path, fmt, JSON_SAMPLE, XML_SAMPLE)
    assert counts["read"] == read
    if fmt == "auto":
        assert (code, counts["files_failed"]) == (0, 0)
        return
    other = "XML" if fmt == "json" else "JSON"
    assert (code, counts["files_failed"]) == (1, 1)
    [failed] = counts["failed_files"]
    assert failed["error"] == f"line 1, column 1: the source's format is {fmt} (sources.yaml), but the file is {other}"
    assert "Traceback" not in stderr


def test_dume_api_format_wants_the_rows_of_a_day(tmp_path):
    day = tmp_path / "2024-01-02.json"
    day.write_text(json.dumps(DUME_DAY), encoding="utf-8")
    code, counts, _ = build(tmp_path, "dume-api", day, JSON_SAMPLE)
    assert (code, counts["read"], counts["files_failed"]) == (1, 0, 1)
    assert counts["failed_files"][0]["error"].endswith(
        'format dume-api: expected {"donneesEssentielles": [...]}, the rows of the DUME API'
    )


@pytest.mark.parametrize("fmt", ["auto", "json", "xml", "dume-api"])
def test_neither_json_nor_xml_is_refused_whatever_the_format(tmp_path, fmt):
    text = tmp_path / "notes.txt"
    text.write_text("hello\n", encoding="utf-8")
    code, counts, _ = build(tmp_path, fmt, text)
    assert (code, counts["files_failed"]) == (1, 1)
    assert counts["failed_files"][0]["error"] == "the file is neither JSON nor XML: it starts with 'hello\\n'"


def test_the_format_is_part_of_the_cache_key(tmp_path):
    build(tmp_path, "auto", JSON_SAMPLE)
    build(tmp_path, "json", JSON_SAMPLE)
    cached = sorted(p.name.split("-", 1)[1] for p in (tmp_path / "data" / "cache" / "normalized" / "s").iterdir())
    assert len(cached) == 1  # the auto result was pruned, the json one made
    assert cached[0].count("-") == 1


def test_a_truncated_dume_day_says_where_it_ends(tmp_path):
    """format dume-api: a day cut short is a syntax error located in the file, not a wrong shape."""
    day = tmp_path / "2024-01-02.json"
    day.write_text('{"donneesEssentielles": [{"id": "1", "objet": "x"}, {"id": ', encoding="utf-8")
    code, counts, _ = build(tmp_path, "dume-api", day)
    assert (code, counts["files_failed"]) == (1, 1)
    error = counts["failed_files"][0]["error"]
    assert error.startswith("line 1, column ")
    assert "the file ends before the JSON document is complete" in error
