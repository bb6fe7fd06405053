"""The `discover:` section of sources.yaml: whether `decp fetch` and `decp build` include the datasets that
`decp sources discover` finds, and at which priority.

discover:
  include: true      # default false: the found datasets are only listed by `decp sources discover`
  priority: -10      # default: one less than the lowest priority of the configuration's sources
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from decp_pipeline.settings_checks import suggest

KEYS = ("include", "priority")


@dataclass(frozen=True)
class DiscoverSettings:
    include: bool
    priority: int


def lowest_priority(priorities: Iterable[int]) -> int:
    """One less than the lowest of `priorities` (0 when there is none): below every declared source."""
    return min(priorities, default=1) - 1


def discover_settings(settings: dict[str, Any], priorities: Iterable[int]) -> DiscoverSettings:
    """The settings of a run (checked when sources.yaml was loaded)."""
    section = settings.get("discover") or {}
    priority = section.get("priority")
    return DiscoverSettings(
        include=bool(section.get("include", False)),
        priority=priority if priority is not None else lowest_priority(priorities),
    )


def check_discover_settings(section: Any) -> list[str]:
    """Every problem of the `discover:` section, for config.parse_config."""
    if section is None:
        return []
    if not isinstance(section, dict):
        return ["key 'discover': expected a mapping of settings (" + ", ".join(KEYS) + ")"]
    problems = [f"discover: unknown key '{k}'" + suggest(str(k), set(KEYS)) for k in section if k not in KEYS]
    if "include" in section and not isinstance(section["include"], bool):
        problems.append(f"discover: key 'include': expected true or false, got {section['include']!r}")
    priority = section.get("priority", 0)
    if isinstance(priority, bool) or not isinstance(priority, int):
        problems.append(
            f"discover: key 'priority': expected a whole number (the priority of the discovered sources), got "
            f"{priority!r}"
        )
    return problems
