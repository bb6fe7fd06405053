"""The one error hierarchy: every error class lives in exceptions.py, is a DecpError, has the exit code that
docs/cli.md's table gives it and a docstring naming who raises it."""

from __future__ import annotations

import ast
import inspect
import pickle
import re
from pathlib import Path

import pytest

from decp_pipeline import exceptions
from decp_pipeline.exceptions import ConfigError, DecpError, JsonSyntaxError, MalformedFileError, NotDecpDataError

ROOT = Path(__file__).parents[1]
SRC = ROOT / "src" / "decp_pipeline"
CLASSES = sorted(
    (c for _, c in inspect.getmembers(exceptions, inspect.isclass) if c.__module__ == exceptions.__name__),
    key=lambda c: c.__name__,
)


def documented_exit_codes() -> dict[str, int]:
    """Class name → exit code, from the table of docs/cli.md's "Errors" section: a row's first cell names a
    class, and the classes named in backquotes in its last cell, when they are classes too, share its code."""
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    section = text.split("\n## Errors\n", 1)[1].split("\n## ", 1)[0]
    names = {c.__name__ for c in CLASSES}
    codes: dict[str, int] = {}
    for row in re.finditer(r"^\| `(\w+)` \| (\d) \| (.*) \|$", section, re.MULTILINE):
        name, code, when = row[1], int(row[2]), row[3]
        assert name not in codes, f"{name} is in the table twice"
        codes[name] = code
        for kind in re.findall(r"`(\w+Error)`", when):
            if kind in names:
                codes.setdefault(kind, code)
    return codes


def test_every_error_class_is_a_decp_error_with_an_exit_code_and_who_raises_it() -> None:
    assert CLASSES, "exceptions.py defines no class"
    for cls in CLASSES:
        assert issubclass(cls, DecpError), cls
        assert cls.exit_code in (1, 2), cls  # the contract's codes for a command that stopped on an error
        doc = cls.__dict__.get("__doc__") or ""
        assert re.search(r"\braise[sd]?\b", doc, re.IGNORECASE), f"{cls.__name__}'s docstring says not who raises it"


def test_the_docs_table_of_errors_is_the_code() -> None:
    assert documented_exit_codes() == {cls.__name__: cls.exit_code for cls in CLASSES}


def test_no_error_class_outside_exceptions_py() -> None:
    """Found by reading the source: a class whose base is an exception (a name ending in Error or Exception)
    anywhere else in src/ breaks the one hierarchy."""
    strays = []
    for path in sorted(SRC.rglob("*.py")):
        if path.name == "exceptions.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef):
                bases = [ast.unparse(b).rsplit(".", 1)[-1] for b in node.bases]
                if any(b.endswith(("Error", "Exception")) for b in bases):
                    strays.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}({', '.join(bases)})")
    assert strays == []


@pytest.mark.parametrize(
    "error",
    [
        ConfigError("sources.yaml", ["source 'x' (entry 1): missing key 'url'", "line 3: not valid YAML"]),
        MalformedFileError("not well-formed", 3, 7),
        NotDecpDataError("the file is empty"),
        JsonSyntaxError("unexpected end of the file", 10, 2, 123),
    ],
    ids=lambda e: type(e).__name__,
)
def test_errors_cross_a_process_boundary_whole(error: DecpError) -> None:
    """The build reads files in worker processes: an error pickled there is the same error here."""
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is type(error)
    assert str(copy) == str(error)
    assert copy.__dict__ == error.__dict__
