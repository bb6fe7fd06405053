"""schemathesis against the live `decp serve`'s own /openapi.json: requests generated from the document (its
coverage phase, then fuzzing) meet no server error, and every answer is one the document describes (status,
content type, body schema); undocumented methods are refused. Excluded: schemathesis' check that a request the
schema allows is accepted (2xx): a file the schemas judge invalid is answered 422 on purpose, as the issue and
docs/serve.md say."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .serve_server import serving

MAX_EXAMPLES = "100"  # per operation: about 5 s in all here
SEED = "20261204"  # the same requests every run; change it to explore


def schemathesis_command() -> str:
    found = shutil.which("schemathesis", path=str(Path(sys.executable).parent)) or shutil.which("schemathesis")
    if found is None:
        pytest.skip("schemathesis is not installed (the test extras: pip install -e '.[test]')")
    return found


def test_schemathesis_finds_no_server_error_and_no_undocumented_answer(tmp_path):
    command = schemathesis_command()
    with serving(tmp_path, "--workers", "2") as server:
        run = subprocess.run(
            [command, "run", server.url + "/openapi.json", "--checks", "all",
             "--exclude-checks", "positive_data_acceptance", "--max-examples", MAX_EXAMPLES, "--seed", SEED,
             "--phases", "coverage,fuzzing", "--no-color"],
            cwd=tmp_path, capture_output=True, text=True, timeout=300, check=False,
        )  # fmt: skip
        assert run.returncode == 0, run.stdout[-6000:] + run.stderr[-2000:]
        assert "Tested: 4" in run.stdout  # /, /api/validate, /api/schemas, /health (not the document itself)
        assert " passed" in run.stdout
        assert "failed" not in run.stdout.split("SUMMARY")[-1]
        assert server.uploads_left() == []
        log = server.log.read_text()
    assert "Traceback" not in log, log[-4000:]


def test_the_document_is_valid_openapi_3_0():
    """Checked against the OpenAPI 3.0 meta-schema (the one schemathesis ships), by jsonschema."""
    import jsonschema

    definitions = pytest.importorskip("schemathesis.specs.openapi.definitions")
    from decp_pipeline.serve.openapi import openapi_document

    jsonschema.Draft4Validator(definitions.OPENAPI_30).validate(openapi_document())
    broken = {**openapi_document(), "paths": {"/health": {"get": {"responses": {"200": {}}}}}}  # no description
    assert not jsonschema.Draft4Validator(definitions.OPENAPI_30).is_valid(broken)
