"""The `references:` section of sources.yaml: `references: {NAME: {url: URL} | {path: PATH}}`."""

from __future__ import annotations

from typing import Any

from decp_pipeline.settings_checks import suggest

REFERENCE_NAMES = ("sirene-etablissements", "sirene-unites-legales", "cog-communes", "cpv")
REFERENCE_KEYS = ("url", "path")


def check_reference_settings(section: Any) -> list[str]:
    """Each entry names a known reference and has exactly one of `url` (http(s)) and `path` (a file, relative
    to the folder of sources.yaml); every problem is named, with a suggestion for a misspelt name or key."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return ["key 'references': expected a mapping of reference names (" + ", ".join(REFERENCE_NAMES) + ")"]
    problems = []
    for name, entry in section.items():
        label = f"references: '{name}'"
        if name not in REFERENCE_NAMES:
            problems.append(f"references: unknown reference '{name}'" + suggest(str(name), set(REFERENCE_NAMES)))
            continue
        if not isinstance(entry, dict):
            problems.append(f"{label}: expected a mapping with 'url' or 'path', got {entry!r}")
            continue
        problems.extend(
            f"{label}: unknown key '{key}'" + suggest(str(key), set(REFERENCE_KEYS))
            for key in entry
            if key not in REFERENCE_KEYS
        )
        present = [key for key in REFERENCE_KEYS if key in entry]
        if len(present) != 1:
            problems.append(f"{label}: expected exactly one of 'url' or 'path', got {len(present)}")
        url, path = entry.get("url"), entry.get("path")
        if "url" in entry and not (isinstance(url, str) and url.startswith(("http://", "https://"))):
            problems.append(f"{label}: key 'url': expected an http(s) URL, got {url!r}")
        if "path" in entry and not (isinstance(path, str) and path.strip()):
            problems.append(f"{label}: key 'path': expected the path of a file, got {path!r}")
    return problems
