"""The vendored schemas are the official files, byte for byte, loaded from the installed package."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from decp_pipeline.official_schemas import VERSIONS, schema_path

SHA256 = {
    "marches.json": "07c4d252c3e179308a04f88d30bb6dbedfd79e04cf970e53c406f063e1204549",
    "marches.xsd": "f03050d66bf321604a63ef61dcaedc43ab187246b899e5cea24f8593c379c672",
    "marches-dgfip.xsd": "219d585caf0ede79d5bf8fed09c095db8f0c39d45f562ba31696401873c13d0d",
    "schema_decp_v2.0.3.json": "3210e4cbe965be416f4ba3d8ab3983c64be48a800dc8d594b730341f3de8765a",
    "schema_decp_v2.0.2.xsd": "08b6b327c919c15aa7c4ec791545cbe14992b43f06c42eca0a29016a225f4666",
}


@pytest.mark.parametrize("name", sorted(SHA256))
def test_schema_is_the_official_file(name: str) -> None:
    assert hashlib.sha256(schema_path(name).read_bytes()).hexdigest() == SHA256[name]


def test_every_version_names_vendored_files() -> None:
    names = {v.xsd for v in VERSIONS.values()} | {v.json_schema for v in VERSIONS.values() if v.json_schema}
    assert names == set(SHA256)


def test_validate_works_from_any_directory(tmp_path: Path) -> None:
    corpus = Path(__file__).parent / "fixtures" / "validation-corpus"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "decp_pipeline",
            "validate",
            str(corpus / "v20-xml-marche-valid.xml"),
            str(corpus / "v15-json-marche-valid.json"),
        ],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": ""},
    )
    assert result.returncode == 0, result.stderr
    assert "2 valid" in result.stdout
