"""The `publish:` section of sources.yaml: which dataset, which files of the release, where the API is.

publish:
  dataset: 5cd57bf68b4c4179299eb0e9      # or --dataset
  api_base: https://www.data.gouv.fr/api  # or --api-base (the API root, ending in /api)
  files: [decp.json, decp-2022.json]      # default: every file meant for reusers (DEFAULT_FILES)
  documentation: https://...              # linked from each resource's description
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from typing import Any

from decp_pipeline.settings_checks import suggest

DEFAULT_API_BASE = "https://www.data.gouv.fr/api"
DATASET_PATTERN = re.compile(r"^[0-9a-f]{24}$|^[a-z0-9][a-z0-9-]{0,99}$")  # an id, or the dataset's slug
NEVER_PUBLISHED = ("manifest.json", "publication.json")  # what the release is and what publishing did
KEYS = ("dataset", "api_base", "files", "documentation")


def default_files() -> tuple[str, ...]:
    """The files published by default: the regulatory JSON, every table in CSV and Parquet, their description,
    the accounting, the delta, the duplicates and the rejected records (not index.parquet, an internal index)."""
    from decp_pipeline.pipeline.tables import TABLES  # noqa: PLC0415 - pyarrow, only when publishing

    tables = [f"{name}.{ext}" for name in TABLES for ext in ("csv", "parquet")]
    return ("decp.json", "decp-2022.json", *tables, "datapackage.json", "report.json", "delta.json", "delta.csv",
            "duplicates.csv", "rejected.jsonl", *DERIVED_FILES)  # fmt: skip


# Files made when publishing from a folder of the release (an optional output, pipeline/outputs.py): ocds.zip from
# ocds/ (ocds/archive.py). Left out of the default files, not an error, when a release was built without the
# folder (`outputs: {ocds: false}`); an error when `publish.files` names them.
DERIVED_FILES = {"ocds.zip": "ocds"}


@dataclass(frozen=True)
class PublishSettings:
    dataset: str | None
    api_base: str
    files: tuple[str, ...]
    documentation: str | None
    api_base_from: str = "the default"  # where api_base comes from, for messages
    files_given: bool = False  # `publish.files` names them (else: the default files)


def publish_settings(
    settings: dict[str, Any], *, dataset: str | None = None, api_base: str | None = None
) -> PublishSettings:
    """The settings of a run: the command line's first, then sources.yaml's (checked when it was loaded)."""
    section = settings.get("publish") or {}
    origins = [
        ("--api-base", api_base),
        ("publish.api_base", section.get("api_base")),
        ("DECP_DATAGOUV_API", os.environ.get("DECP_DATAGOUV_API")),
        ("the default", DEFAULT_API_BASE),
    ]
    origin, base = next((o, v) for o, v in origins if v)
    return PublishSettings(
        dataset=dataset or section.get("dataset"),
        api_base=base.rstrip("/"),
        files=tuple(section.get("files") or default_files()),
        documentation=section.get("documentation"),
        api_base_from=origin,
        files_given=bool(section.get("files")),
    )


def check_api_base(value: Any) -> str | None:
    """Why `value` is not an API root (`https://www.data.gouv.fr/api`), or None."""
    if not isinstance(value, str) or not re.match(r"^https?://[^/\s]+(/\S*)?$", value):
        return f"expected an http(s) URL, got {value!r}"
    if not value.rstrip("/").endswith("/api"):
        return f"expected the API root, ending in /api (for instance {DEFAULT_API_BASE}), got {value!r}"
    return None


def check_publish_settings(section: Any) -> list[str]:
    """Every problem of the `publish:` section, for config.parse_config."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return ["key 'publish': expected a mapping of settings (" + ", ".join(KEYS) + ")"]
    problems = [f"publish: unknown key '{k}'" + suggest(str(k), set(KEYS)) for k in section if k not in KEYS]
    dataset = section.get("dataset")
    if dataset is not None and (not isinstance(dataset, str) or not DATASET_PATTERN.match(dataset)):
        problems.append(f"publish: key 'dataset': expected a data.gouv.fr dataset id or slug, got {dataset!r}")
    if "api_base" in section and (why := check_api_base(section["api_base"])):
        problems.append(f"publish: key 'api_base': {why}")
    if section.get("documentation") is not None and not re.match(r"^https?://\S+$", str(section["documentation"])):
        problems.append(f"publish: key 'documentation': expected an http(s) URL, got {section['documentation']!r}")
    problems.extend(_check_files(section.get("files")))
    return problems


def _check_files(files: Any) -> list[str]:
    if files is None:
        return []
    if not isinstance(files, list) or not files or not all(isinstance(f, str) for f in files):
        return [f"publish: key 'files': expected a non-empty list of file names of a release, got {files!r}"]
    problems = []
    for name in files:
        if "/" in name or name.startswith(".") or not name:
            problems.append(f"publish: key 'files': {name!r} is not the name of a file of a release")
        elif name in NEVER_PUBLISHED:
            problems.append(f"publish: key 'files': {name} is never published (it describes the release)")
    if len(set(files)) != len(files):
        problems.append("publish: key 'files': a file is named twice")
    return problems
