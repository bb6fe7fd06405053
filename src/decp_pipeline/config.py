"""Loading and checking sources.yaml, the registry of the publishers the pipeline reads.

A source is data, not code: adding a publisher of a known kind is one entry in sources.yaml. Every rule
below is checked when the file is loaded, and every problem is reported at once, naming the source and the
key, so that a run never stops halfway on a typo.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib.resources import files
from pathlib import Path
from typing import Any

import yaml

from decp_pipeline.discover.settings import check_discover_settings
from decp_pipeline.exceptions import ConfigError
from decp_pipeline.normalize.hooks import HOOKS, named_hooks
from decp_pipeline.ocds.settings import check_ocds_settings
from decp_pipeline.pipeline.outputs import check_output_settings
from decp_pipeline.publish.settings import check_publish_settings
from decp_pipeline.settings_checks import check_mapping, suggest
from decp_pipeline.yaml_loader import StrictLoader

DEFAULT_CONFIG = Path("sources.yaml")
PACKAGED_CONFIG = files("decp_pipeline") / "sources.yaml"

ID_PATTERN = re.compile(r"^[a-z0-9][a-z0-9-]*$")
DATASET_ID_PATTERN = re.compile(r"^[0-9a-f]{24}$")

# Keys every source has.
REQUIRED_KEYS = ("id", "name", "kind", "format", "enabled", "priority")
# Keys any source may have, whatever its kind.
OPTIONAL_KEYS = ("description", "publisher", "license", "homepage", "caveats", "schema_version")
# The per-source repairs a source asks for, by name (normalize/hooks.py): `hooks: [aife-date-from-file-name]`.
HOOKS_KEY = "hooks"

# How a source is reached: for each kind, its location keys. A tuple inside "one_of" means exactly one of
# those keys must be present.
KINDS: dict[str, dict[str, tuple[Any, ...]]] = {
    "url": {"one_of": (("url", "urls"),), "optional": ()},
    "datagouv_dataset": {
        "one_of": (("dataset", "datasets"),),
        "optional": ("api_base", "formats", "title_pattern", "url_pattern", "exclude_resources", "min_size"),
    },
    "dcat": {"one_of": (("catalog", "catalogs"),), "optional": ()},
    "dume_api": {"one_of": (), "optional": ("api_base", "start_date", "end_date", "refresh_days", "api_key_env")},
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
    hooks: tuple[str, ...] = ()  # the names of its per-source repairs (checked: registered in normalize/hooks.py)

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
    loader = StrictLoader(text)
    try:
        document = loader.get_single_data()
    except yaml.YAMLError as e:
        where = ""
        if mark := getattr(e, "problem_mark", None):
            where = f"line {mark.line + 1}, column {mark.column + 1}: "
        problem = getattr(e, "problem", None) or str(e)
        raise ConfigError(path, [f"{where}not valid YAML: {problem}"]) from e
    finally:
        loader.dispose()
    if loader.duplicates:
        raise ConfigError(path, loader.duplicates)
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
        source_id = entry.get("id") if isinstance(entry, dict) else None
        if isinstance(source_id, str) and source_id in seen:  # said even when the entry has other problems
            first = seen[source_id]
            problems.append(
                f"source '{source_id}' (entry {position}): key 'id': duplicate id, already used by entry {first}"
            )
            continue
        if isinstance(source_id, str):
            seen[source_id] = position
        if source is not None:
            sources.append(source)
    settings = {k: v for k, v in document.items() if k != "sources"}
    problems.extend(_check_http_settings(settings.get("http")))
    problems.extend(_check_build_settings(settings.get("build")))
    problems.extend(_check_release_settings(settings.get("releases")))
    problems.extend(check_publish_settings(settings.get("publish")))
    problems.extend(check_discover_settings(settings.get("discover")))
    problems.extend(check_output_settings(settings.get("outputs")))
    problems.extend(check_ocds_settings(settings.get("ocds")))
    from decp_pipeline.references.settings import check_reference_settings  # noqa: PLC0415 - it imports this module

    problems.extend(check_reference_settings(settings.get("references")))
    if problems:
        raise ConfigError(path, problems)
    return Config(path=path, sources=tuple(sources), settings=settings)


# The `http:` settings section: timeouts and retries of every download (see fetch.http.HttpSettings).
HTTP_SETTINGS = {
    "connect_timeout": "seconds to wait for a connection",
    "read_timeout": "seconds to wait for data",
    "retries": "attempts after the first one",
    "backoff": "seconds before the first retry, doubled at each retry",
    "max_backoff": "longest wait between two retries, in seconds",
    "max_retry_after": "longest Retry-After honoured, in seconds",
    "max_size": "largest file accepted, in bytes",
    "total_timeout": "seconds a whole body may take (0: no limit)",
    "min_rate": "slowest average transfer accepted, in bytes per second (0: no limit)",
    "parallel_sources": "sources fetched at once",
    "per_host": "requests at once to one host",
}
WHOLE_HTTP_SETTINGS = {"retries": 0, "parallel_sources": 1, "per_host": 1}  # → the least value accepted


def _check_build_settings(section: Any) -> list[str]:
    """The `build:` settings: `max_shrink` (largest drop of published contracts accepted), `max_amount`."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return ["key 'build': expected a mapping of settings (max_shrink)"]
    known = {"max_shrink", "max_amount"}
    problems = [f"build: unknown key '{k}'" + suggest(str(k), known) for k in section if k not in known]
    value = section.get("max_shrink", 0.5)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1:
        problems.append(f"build: key 'max_shrink': expected a share between 0 and 1 (0.5 = 50 %), got {value!r}")
    amount = section.get("max_amount", 1)
    if isinstance(amount, bool) or not isinstance(amount, int | float) or amount <= 0:
        problems.append(f"build: key 'max_amount': expected an amount in euros > 0, got {amount!r}")
    return problems


DEFAULT_KEEP = 7  # releases kept in OUT/releases/ (pipeline/release.py)


def _check_release_settings(section: Any) -> list[str]:
    """The `releases:` settings: `keep`, how many releases OUT/releases/ keeps (the current one among them)."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return ["key 'releases': expected a mapping of settings (keep)"]
    problems = [f"releases: unknown key '{k}'" + suggest(str(k), {"keep"}) for k in section if k != "keep"]
    keep = section.get("keep", DEFAULT_KEEP)
    if isinstance(keep, bool) or not isinstance(keep, int) or keep < 1:
        problems.append(f"releases: key 'keep': expected a whole number of releases >= 1, got {keep!r}")
    return problems


def _check_http_settings(section: Any) -> list[str]:
    return check_mapping("http", section, "settings (" + ", ".join(HTTP_SETTINGS) + ")", HTTP_SETTINGS, _http_value)


def _http_value(key: str, value: Any) -> str | None:
    """What an `http:` setting expects, when `value` is not that (else None)."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
        return f"a number >= 0 ({HTTP_SETTINGS[key]})"
    if key in WHOLE_HTTP_SETTINGS and (not isinstance(value, int) or value < WHOLE_HTTP_SETTINGS[key]):
        return f"a whole number >= {WHOLE_HTTP_SETTINGS[key]} ({HTTP_SETTINGS[key]})"
    return None


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
    allowed = set(REQUIRED_KEYS) | set(OPTIONAL_KEYS) | {HOOKS_KEY} | set(location_keys)
    for key in entry:
        if key not in allowed:
            problems.append(f"{label}: unknown key '{key}'" + suggest(key, allowed))
    problems.extend(_check_values(entry, label))
    problems.extend(_check_hooks(entry.get(HOOKS_KEY, []), label))
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
        hooks=tuple(entry.get(HOOKS_KEY, [])),
    )
    return source, []


def _check_hooks(names: Any, label: str) -> list[str]:
    """`hooks:` is a list of registered hook names, each once; the every-source hooks are not listed."""
    known = named_hooks()
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        return [f"{label}: key 'hooks': expected a list of hook names ({', '.join(known)}), got {names!r}"]
    problems = []
    for position, name in enumerate(names):
        if name in names[:position]:
            problems.append(f"{label}: key 'hooks': hook '{name}' listed twice")
        elif name in HOOKS and HOOKS[name].every_source:
            problems.append(f"{label}: key 'hooks': hook '{name}' runs for every source, it is not listed")
        elif name not in HOOKS:
            problems.append(f"{label}: key 'hooks': unknown hook '{name}'" + suggest(name, set(known)))
    return problems


def _check_values(entry: dict[str, Any], label: str) -> list[str]:
    return [
        f"{label}: key '{key}': expected {expected}, got "
        + ("a value not shown (it may be a secret)" if key in SECRET_KEYS else repr(entry[key]))
        for key, (valid, expected) in VALUE_RULES.items()
        if key in entry and not valid(entry[key])
    ]


# Keys whose wrong value may be a secret pasted in the wrong place: never echoed in messages or logs.
SECRET_KEYS = frozenset({"api_key_env"})


def _is_http_url(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(("http://", "https://"))


def _is_regex(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        re.compile(value)
    except re.error:
        return False
    return True


def _is_text_list(value: Any) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) and v for v in value)


def _is_date(value: Any) -> bool:
    if isinstance(value, datetime.date) and not isinstance(value, datetime.datetime):
        return True  # YAML reads an unquoted 2024-01-01 as a date
    try:
        datetime.date.fromisoformat(str(value))
    except ValueError:
        return False
    return isinstance(value, str) and len(value) == 10


def _is_dataset_id(value: Any) -> bool:
    return isinstance(value, str) and bool(DATASET_ID_PATTERN.match(value))


def _whole(minimum: int) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= minimum


def _list_of(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, list) and bool(v) and all(map(check, v))


def _text(v: Any) -> bool:
    return isinstance(v, str) and bool(v.strip())


# For each key, a check of its value and what the user should have written.
VALUE_RULES: dict[str, tuple[Callable[[Any], bool], str]] = {
    "id": (lambda v: isinstance(v, str) and bool(ID_PATTERN.match(v)), "lowercase letters, digits and dashes"),
    "name": (_text, "a non-empty text"),
    "format": (lambda v: v in FORMATS, "one of " + ", ".join(FORMATS)),
    "enabled": (lambda v: isinstance(v, bool), "true or false"),
    "priority": (_whole(-(10**9)), "a whole number (higher wins when two sources publish the same contract)"),
    "schema_version": (lambda v: v in SCHEMA_VERSIONS, "one of " + ", ".join(SCHEMA_VERSIONS)),
    "url": (_is_http_url, "an http(s) URL"),
    "catalog": (_is_http_url, "an http(s) URL"),
    "api_base": (_is_http_url, "an http(s) URL"),
    "urls": (_list_of(_is_http_url), "a non-empty list of http(s) URLs"),
    "catalogs": (_list_of(_is_http_url), "a non-empty list of http(s) URLs"),
    "dataset": (_is_dataset_id, "a data.gouv.fr dataset id (24 hexadecimal characters)"),
    "datasets": (
        _list_of(_is_dataset_id),
        "a non-empty list of data.gouv.fr dataset ids (24 hexadecimal characters)",
    ),
    "title_pattern": (_is_regex, "a valid regular expression (Python syntax)"),
    "url_pattern": (_is_regex, "a valid regular expression (Python syntax)"),
    "formats": (_list_of(_text), "a non-empty list of resource formats (e.g. [json, xml])"),
    "exclude_resources": (_list_of(_text), "a non-empty list of data.gouv.fr resource ids"),
    "min_size": (_whole(0), "a whole number of bytes >= 0"),
    "refresh_days": (_whole(1), "a whole number of days >= 1"),
    "start_date": (_is_date, "a date written YYYY-MM-DD"),
    "end_date": (_is_date, "a date written YYYY-MM-DD"),
    "api_key_env": (
        lambda v: isinstance(v, str) and v.isidentifier(),
        "the name of an environment variable holding the key (never the key itself)",
    ),
}
