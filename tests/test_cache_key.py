"""The per-file cache is keyed by the code that reads a file: change any module the reading imports, and the
next build reads the files again and shows the change (0.10.1 hashed a hand-written list of paths that left out
detect.py and validation/, and reused stale verdicts and messages).

Each case edits one function in a copy of the package and runs the real command on it, with the data dir of
the build before, in a subprocess."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from decp_pipeline.pipeline.cache import CODE_VERSION, code_version, imported_modules

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "decp_pipeline"
# A record without dateNotification (rejected: `required`), and a file that is neither JSON nor XML.
RECORD = {"id": "2019-0001", "_type": "Marché", "uid": "217500016000192019-0001",
          "acheteur": {"id": "21750001600019", "nom": "Ville de Paris"}, "nature": "Marché", "objet": "Voirie",
          "codeCPV": "45233140", "procedure": "Procédure adaptée", "dureeMois": 12,
          "lieuExecution": {"code": "75056", "typeCode": "Code commune", "nom": "Paris"},
          "datePublicationDonnees": "2019-03-01", "montant": 125000.0, "formePrix": "Ferme",
          "titulaires": [{"typeIdentifiant": "SIRET", "id": "55210055400013", "denominationSociale": "ACME"}],
          "modifications": []}  # fmt: skip

EDITS = {
    "format detection": (
        "detect.py",
        'f"the file is neither JSON nor XML: it starts with {shown!r}"',
        'f"not JSON, not XML either: it starts with {shown!r}"',
        "not JSON, not XML either",
    ),
    "validation messages": (
        "validation/messages.py",
        '"required field is missing"',
        '"this required field is absent"',
        "this required field is absent",
    ),
    "error explanations": (
        "validation/messages.py",
        "return template(value, detail) if template else fallback",
        'return "explained: " + (template(value, detail) if template else fallback)',
        "explained: ",
    ),
}


def _build(tmp: Path, src: Path) -> tuple[dict, str]:
    env = {**os.environ, "PYTHONPATH": str(src), "DECP_WORKERS": "1"}
    command = [sys.executable, "-m", "decp_pipeline", "build", "--offline", "marches-publics-info",
               "--input", f"marches-publics-info={tmp / 'in'}", "--data-dir", str(tmp / "data"),
               "--out", str(tmp / "dist")]  # fmt: skip
    subprocess.run(command, env=env, check=False, capture_output=True, cwd=tmp)
    report = json.loads((tmp / "dist" / "report.json").read_text(encoding="utf-8"))
    return report, (tmp / "dist" / "rejected.jsonl").read_text(encoding="utf-8")


@pytest.mark.parametrize("case", list(EDITS))
def test_editing_the_reading_code_reads_the_files_again(tmp_path, case):
    relative, before, after, shown = EDITS[case]
    src = tmp_path / "src"
    shutil.copytree(PACKAGE, src / "decp_pipeline", ignore=shutil.ignore_patterns("__pycache__"))
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "notes.txt").write_text("hello, this is not DECP data\n", encoding="utf-8")
    (tmp_path / "in" / "marches.json").write_text(json.dumps({"marches": [RECORD]}), encoding="utf-8")
    report, rejected = _build(tmp_path, src)
    failed = report["sources"]["marches-publics-info"]["failed_files"]
    assert (report["total"]["read"], report["total"]["rejected"], len(failed)) == (1, 1, 1)
    assert "the file is neither JSON nor XML" in failed[0]["error"]
    assert "required field is missing" in rejected
    module = src / "decp_pipeline" / relative
    text = module.read_text(encoding="utf-8")
    assert text.count(before) == 1
    module.write_text(text.replace(before, after), encoding="utf-8")
    report, rejected = _build(tmp_path, src)
    seen = report["sources"]["marches-publics-info"]["failed_files"][0]["error"] + rejected
    assert shown in seen


def test_the_key_covers_what_the_stage_imports_and_nothing_of_the_assembly():
    reading = imported_modules("decp_pipeline.pipeline.stage")
    expected = (
        "detect",
        "validation.messages",
        "validation.json_records",
        "normalize.decp15",
        "readers.records",
        "normalize.hooks",
        "models.contract",
        "pipeline.record",
        "pipeline.cache",
        "pipeline.rows",
    )
    for module in expected:
        assert f"decp_pipeline.{module}" in reading
    for module in ("pipeline.assemble", "pipeline.plan", "pipeline.writers.tables", "cli", "fetch.http", "config"):
        assert f"decp_pipeline.{module}" not in reading
    assert code_version("decp_pipeline.pipeline.stage") == CODE_VERSION
    assert code_version("decp_pipeline.pipeline.assemble") != CODE_VERSION
