"""The official schemas vendored in the package, by format version.

Files are read with importlib.resources from the installed package, never from the working directory.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib.resources import files
from pathlib import Path
from typing import Any

SCHEMA_DIR = files("decp_pipeline") / "schemas"


@dataclass(frozen=True)
class SchemaVersion:
    """One version of the regulatory format, with its official schema files."""

    name: str  # "1.5", "1.5-dgfip" or "2.0": what --schema-version accepts
    label: str  # what a user reads in reports
    json_schema: str | None  # file name under schemas/, None when the variant exists only as XML
    xsd: str

    def schema_file(self, syntax: str | None) -> str | None:
        """The file a document of this syntax ("json" or "xml") is validated against."""
        return self.xsd if syntax == "xml" else self.json_schema

    @property
    def is_2022(self) -> bool:
        return self.name == "2.0"


V15 = SchemaVersion("1.5", "format 1.5", "marches.json", "marches.xsd")
V15_DGFIP = SchemaVersion("1.5-dgfip", "format 1.5, DGFiP variant", None, "marches-dgfip.xsd")
V2022 = SchemaVersion(
    "2.0",
    "format 2022",
    "schema_decp_v2.0.3.json",
    "schema_decp_v2.0.2.xsd",
)
VERSIONS: dict[str, SchemaVersion] = {v.name: v for v in (V15, V15_DGFIP, V2022)}


def schema_path(name: str) -> Path:
    """Path of a vendored schema file (a real file: the package is installed unzipped)."""
    return Path(str(SCHEMA_DIR / name))


@cache
def load_json_schema(name: str) -> dict[str, Any]:
    """The parsed JSON Schema file `name` (cached: schemas are read once per process)."""
    with schema_path(name).open(encoding="utf-8") as f:
        schema: dict[str, Any] = json.load(f)
    return schema
