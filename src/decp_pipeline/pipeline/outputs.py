"""The optional outputs of a release, switched by the top-level `outputs:` setting of sources.yaml (each on by
default): `outputs: {report: false}` leaves the HTML report out.

    report   report.html, acheteurs.csv and acheteurs/<id>.html (report/)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

SWITCHES = {"report": "report.html, acheteurs.csv and the buyer pages acheteurs/"}


@dataclass(frozen=True)
class Outputs:
    report: bool = True

    @property
    def key(self) -> str:
        """What the release's fingerprint holds of them: switching one changes the outputs."""
        return ",".join(name for name in SWITCHES if getattr(self, name))

    @classmethod
    def from_settings(cls, section: Any) -> Outputs:
        """From a checked `outputs:` section (None: all on)."""
        return cls(**{name: bool((section or {}).get(name, True)) for name in SWITCHES})


DEFAULT_OUTPUTS = Outputs()


def check_output_settings(section: Any) -> list[str]:
    """The problems of an `outputs:` section: a mapping of the switches above, each true or false."""
    from decp_pipeline.config import suggest  # noqa: PLC0415 - config imports this module

    if section is None:
        return []
    if not isinstance(section, dict):
        return ["key 'outputs': expected a mapping of switches (" + ", ".join(SWITCHES) + ": true or false)"]
    problems = []
    for key, value in section.items():
        if key not in SWITCHES:
            problems.append(f"outputs: unknown key '{key}'" + suggest(str(key), set(SWITCHES)))
        elif not isinstance(value, bool):
            problems.append(f"outputs: key '{key}': expected true or false ({SWITCHES[key]}), got {value!r}")
    return problems
