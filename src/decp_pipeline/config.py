"""Loading and checking sources.yaml, the registry of the publishers the pipeline reads.

A source is data, not code: adding a publisher of a known kind is one entry in sources.yaml. Every rule
below is checked when the file is loaded, and every problem is reported at once, naming the source and the
key, so that a run never stops halfway on a typo.
"""

from __future__ import annotations

import difflib
import os
import re
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from decp_pipeline.exceptions import ConfigError

DEFAULT_CONFIG = Path("sources.yaml")
PACKAGED_CONFIG = files("decp_pipeline") / "sources.yaml"

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DATASET_ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")

# Keys every source has.
REQUIRED_KEYS = ("id", "name", "kind", "format", "enabled", "priority")
# Keys any source may have, whatever its kind.
OPTIONAL_KEYS = ("description", "publisher", "license", "homepage", "caveats", "schema_version")

# How a source is reached: for each kind, its location keys. A tuple inside "one_of" means exactly one of
# those keys must be present.
KINDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "url": {"one_of": (("url", "urls"),), "optional": ()},
    "datagouv_dataset": {
        "one_of": (("dataset", "datasets"),),
        "optional": ("api_base", "formats", "title_pattern", "url_pattern", "exclude_resources", "min_size"),
    },
    "dcat": {"one_of": (("catalog", "catalogs"),), "optional": ()},
    "dume_api": {"one_of": (), "optional": ("api_base", "start_date", "api_key_env")},
}

# How a source is read. "auto" detects XML or JSON, format 1.x or 2022 and the wrapper shape from the content.
FORMATS = ("auto", "json", "xml", "dume-api")
SCHEMA_VERSIONS = ("auto", "1.5", "1.5-dgfip", "2.0")


@dataclass(frozen=True)
class Source:
    """One publisher entry of sources.yaml."""

    id: str
    name: str
    kind: str
    format: str
    enabled: bool
    priority: int
    location: dict[str, Any] = field(default_factory=dict)  # the kind's own keys (url, dataset, ...)
    extra: dict[str, Any] = field(default_factory=dict)  # the optional descriptive keys

    def where(self) -> str:
        """A one-line summary of where the source's data lives."""
        for key in ("url", "dataset", "catalog", "api_base"):
            if key in self.location:
                return str(self.location[key])
        for key in ("urls", "datasets", "catalogs"):
            if key in self.location:
                values = self.location[key]
                more = f" (+{len(values) - 1} more)" if len(values) > 1 else ""
                return f"{values[0]}{more}"
        return ""


@dataclass(frozen=True)
class Config:
    """The loaded sources.yaml: the sources, in file order, and the free top-level settings."""

    path: str
    sources: tuple[Source, ...]
    settings: dict[str, Any]

    def get(self, source_id: str) -> Source:
        for source in self.sources:
            if source.id == source_id:
                return source
        known = ", ".join(s.id for s in self.sources)
        raise ConfigError(self.path, [f"unknown source '{source_id}' (known: {known})"])


def config_path(explicit: str | None) -> str:
    """--config if given, else ./sources.yaml if present, else the copy shipped in the package."""
    if explicit:
        return explicit
    if env := os.environ.get("DECP_CONFIG"):
        return env
    if DEFAULT_CONFIG.is_file():
        return str(DEFAULT_CONFIG)
    return str(PACKAGED_CONFIG)


def load_config(explicit: str | None = None) -> Config:
    """Read and check sources.yaml; raise ConfigError listing every problem."""
    path = config_path(explicit)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(path, [f"cannot read the file: {e}"]) from e
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as e:
        where = ""
        if mark := getattr(e, "problem_mark", None):
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(path, [f"{where}not valid YAML: {problem}"]) from e
    return parse_config(document, path)


def parse_config(document: Any, path: str) -> Config:
    """Check a parsed sources.yaml document and build the Config."""
    if not isinstance(document, dict) or "sources" not in document:
        raise ConfigError(path, ["expected a mapping with a 'sources' key holding a list of sources"])
    entries = document["sources"]
    if not isinstance(entries, list):
        raise ConfigError(path, ["'sources' must be a list of sources"])
    problems: list[str] = []
    sources: list[Source] = []
    seen: dict[str, int] = {}
    for position, entry in enumerate(entries, start=1):
        source, entry_problems = _parse_source(entry, position)
        problems.extend(entry_problems)
        if source is None:
            continue
        if source.id in seen:
            problems.append(
                f"source '{source.id}' (entry {position}): key 'id': duplicate id, "
                f"already used by entry {seen[source.id]}"
            )
            continue
        seen[source.id] = position
        sources.append(source)
    if problems:
        raise ConfigError(path, problems)
    settings = {k: v for k, v in document.items() if k != "sources"}
    return Config(path=path, sources=tuple(sources), settings=settings)


def _parse_source(entry: Any, position: int) -> tuple[Source | None, list[str]]:
    if not isinstance(entry, dict):
        return None, [f"entry {position}: expected a mapping of keys, got {type(entry).__name__}"]
    label = f"source '{entry['id']}' (entry {position})" if isinstance(entry.get("id"), str) else f"entry {position}"
    problems = [f"{label}: missing key '{key}'" for key in REQUIRED_KEYS if key not in entry]
    kind = entry.get("kind")
    spec = KINDS.get(kind) if isinstance(kind, str) else None
    if "kind" in entry and spec is None:
        problems.append(f"{label}: key 'kind': unknown kind {kind!r} (known: {', '.join(KINDS)})")
    location_keys: tuple[str, ...] = ()
    if spec is not None:
        location_keys = tuple(k for group in spec["one_of"] for k in group) + tuple(spec["optional"])
        for group in spec["one_of"]:
            present = [k for k in group if k in entry]
            if len(present) != 1:
                what = "missing" if not present else "only one allowed of"
                problems.append(f"{label}: {what} key {' or '.join(repr(k) for k in group)} for kind '{kind}'")
    allowed = set(REQUIRED_KEYS) | set(OPTIONAL_KEYS) | set(location_keys)
    for key in entry:
        if key not in allowed:
            problems.append(f"{label}: unknown key '{key}'" + _suggest(key, allowed))
    problems.extend(_check_values(entry, label))
    if problems:
        return None, problems
    source = Source(
        id=entry["id"],
        name=entry["name"],
        kind=entry["kind"],
        format=entry["format"],
        enabled=entry["enabled"],
        priority=entry["priority"],
        location={k: entry[k] for k in location_keys if k in entry},
        extra={k: entry[k] for k in OPTIONAL_KEYS if k in entry},
    )
    return source, []


def _check_values(entry: dict[str, Any], label: str) -> list[str]:
    problems = []

    def bad(key: str, expected: str) -> None:
        problems.append(f"{label}: key '{key}': expected {expected}, got {entry[key]!r}")

    if "id" in entry and not (isinstance(entry["id"], str) and ID_PATTERN.match(entry["id"])):
        bad("id", "lowercase letters, digits and dashes (e.g. 'grandlyon')")
    if "name" in entry and not (isinstance(entry["name"], str) and entry["name"].strip()):
        bad("name", "a non-empty text")
    if "format" in entry and entry["format"] not in FORMATS:
        bad("format", "one of " + ", ".join(FORMATS))
    if "enabled" in entry and not isinstance(entry["enabled"], bool):
        bad("enabled", "true or false")
    if "priority" in entry and (isinstance(entry["priority"], bool) or not isinstance(entry["priority"], int)):
        bad("priority", "a whole number (higher wins when two sources publish the same contract)")
    if "schema_version" in entry and entry["schema_version"] not in SCHEMA_VERSIONS:
        bad("schema_version", "one of " + ", ".join(SCHEMA_VERSIONS))
    for key in ("url", "catalog", "api_base"):
        if key in entry and not _is_http_url(entry[key]):
            bad(key, "an http(s) URL")
    for key in ("urls", "catalogs"):
        if key in entry and not (
            isinstance(entry[key], list) and entry[key] and all(_is_http_url(u) for u in entry[key])
        ):
            bad(key, "a non-empty list of http(s) URLs")
    if "dataset" in entry and not _is_dataset_id(entry["dataset"]):
        bad("dataset", "a data.gouv.fr dataset id (24 hexadecimal characters)")
    if "datasets" in entry and not (
        isinstance(entry["datasets"], list) and entry["datasets"] and all(map(_is_dataset_id, entry["datasets"]))
    ):
        bad("datasets", "a non-empty list of data.gouv.fr dataset ids (24 hexadecimal characters)")
    return problems


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _is_dataset_id(value: Any) -> bool:
    return isinstance(value, str) and bool(DATASET_ID_PATTERN.match(value))


def _suggest(key: str, allowed: set[str]) -> str:
    close = difflib.get_close_matches(key, sorted(allowed), n=1)
    return f" (did you mean '{close[0]}'?)" if close else f" (allowed: {', '.join(sorted(allowed))})"
