"""The reference data of the enrichment: SIRENE (établissements, unités légales), the COG communes, the CPV.

Each reference comes from a file (`--reference NAME=PATH`, or `references: {NAME: {path: PATH}}` in
sources.yaml) or a URL (`references: {NAME: {url: URL}}`, downloaded into the data dir with conditional
requests), and is normalized once into DATA_DIR/references/NAME.parquet (convert.py). A reference that is not
configured is absent; one that cannot be had (offline without a copy, a failed download, a file of another
shape) is absent too, with one warning: it disables only what needs it. docs/references.md.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from decp_pipeline.config import Config
from decp_pipeline.exceptions import InputError, ReferenceDataError
from decp_pipeline.fetch.http import HttpClient
from decp_pipeline.fetch.runner import http_settings
from decp_pipeline.progress import Progress
from decp_pipeline.references.convert import normalize
from decp_pipeline.references.download import fetch_reference
from decp_pipeline.references.settings import REFERENCE_NAMES
from decp_pipeline.settings_checks import suggest

__all__ = ["REFERENCE_NAMES", "References", "parse_references", "prepare_references"]


@dataclass(frozen=True)
class References:
    paths: dict[str, Path] = field(default_factory=dict)  # name -> normalized Parquet; missing names absent
    warnings: list[str] = field(default_factory=list)


def parse_references(values: Sequence[str]) -> dict[str, str]:
    """`--reference NAME=PATH` options (the last one of a name wins): a known name and an existing file."""
    given: dict[str, str] = {}
    for value in values:
        name, sep, path = value.partition("=")
        if not sep or not name or not path:
            raise InputError(f"--reference {value!r}: expected NAME=PATH, NAME one of {', '.join(REFERENCE_NAMES)}")
        if name not in REFERENCE_NAMES:
            raise InputError(f"--reference {value!r}: unknown reference '{name}'" + suggest(name, set(REFERENCE_NAMES)))
        if not Path(path).is_file():
            raise InputError(f"--reference {value!r}: {path} is not a file")
        given[name] = str(Path(path).resolve())  # a path of the command line is the current folder's, not --config's
    return given


def prepare_references(
    config: Config, data_dir: Path, given: dict[str, str], *, offline: bool, progress: Progress
) -> References:
    """Every reference configured or given, normalized (or reused): their Parquet paths and the warnings."""
    configured: dict[str, Any] = config.settings.get("references") or {}
    folder = Path(data_dir) / "references"
    references = References()
    client: HttpClient | None = None
    try:
        for name in REFERENCE_NAMES:
            where = {"path": given[name]} if name in given else configured.get(name)
            if not where:
                progress(f"references: {name}: not configured", detail=True)
                continue
            if "url" in where and client is None:
                client = HttpClient(http_settings(config), offline=offline)
            _prepare(name, where, _base(config), folder, client, offline, references, progress)
    finally:
        if client is not None:
            client.close()
    return references


def _prepare(
    name: str,
    where: dict[str, str],
    base: Path,
    folder: Path,
    client: HttpClient | None,
    offline: bool,
    references: References,
    progress: Progress,
) -> None:
    """One reference: its local file (downloaded if need be), normalized; a warning instead when it cannot be."""
    started = time.monotonic()
    note = ""
    if "url" in where and client is not None:
        fetched = fetch_reference(name, where["url"], folder / "downloads", client, offline=offline)
        if fetched.warning:
            references.warnings.append(fetched.warning)
        if fetched.path is None:
            progress(f"references: {name}: left out ({fetched.warning})")
            return
        source, note = fetched.path, f"{fetched.note}, "
    else:
        source = Path(where["path"])
        source = source if source.is_absolute() else base / source
        if not source.is_file():
            _left_out(name, f"{source} is not a file", references, progress)
            return
    try:
        converted = normalize(name, source, folder)
    except (ReferenceDataError, OSError) as e:
        _left_out(name, f"{source}: {e}", references, progress)
        return
    references.paths[name] = converted.path
    how = "unchanged, reused" if converted.reused else "normalized"
    progress(f"references: {name}: {converted.rows:,} rows ({note}{how}, {time.monotonic() - started:.1f} s)")


def _left_out(name: str, why: str, references: References, progress: Progress) -> None:
    references.warnings.append(f"reference {name}: {why}: left out (what needs it is not done)")
    progress(f"references: {name}: left out: {why}")


def _base(config: Config) -> Path:
    """Relative paths in sources.yaml are relative to its folder."""
    return Path(config.path).parent
