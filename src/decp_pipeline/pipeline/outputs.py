"""The optional outputs of a release, switched by the top-level `outputs:` setting of sources.yaml (each on by
default): `outputs: {report: false}` leaves the HTML report out.

    report   report.html, acheteurs.csv and acheteurs/<id>.html (report/)
    ocds     ocds/: the contracts in OCDS 1.1 (ocds/), named by the `ocds:` section (published as ocds.zip)
    sqlite   decp.sqlite and metadata.json: the tables in one SQLite database, for Datasette (explore/)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from decp_pipeline.ocds.settings import OcdsSettings
from decp_pipeline.settings_checks import check_mapping

SWITCHES = {
    "report": "report.html, acheteurs.csv and the buyer pages acheteurs/",
    "ocds": "ocds/, the contracts in OCDS 1.1",
    "sqlite": "decp.sqlite and metadata.json, the tables in SQLite for Datasette",
}


@dataclass(frozen=True)
class Outputs:
    report: bool = True
    ocds: bool = True
    sqlite: bool = True
    ocds_settings: OcdsSettings = field(default_factory=OcdsSettings)  # the `ocds:` section

    @property
    def key(self) -> str:
        """What the release's fingerprint holds of them: switching one (or an `ocds:` setting) changes them."""
        switched = ",".join(name for name in SWITCHES if getattr(self, name))
        return f"{switched}|{self.ocds_settings.key}" if self.ocds else switched

    @classmethod
    def from_settings(cls, section: Any, ocds: Any = None) -> Outputs:
        """From a checked `outputs:` section (None: all on) and `ocds:` section (None: the defaults)."""
        switches = {name: bool((section or {}).get(name, True)) for name in SWITCHES}
        return cls(**switches, ocds_settings=OcdsSettings.from_settings(ocds))


DEFAULT_OUTPUTS = Outputs()


def check_output_settings(section: Any) -> list[str]:
    """The problems of an `outputs:` section: a mapping of the switches above, each true or false."""
    listing = "switches (" + ", ".join(SWITCHES) + ": true or false)"
    return check_mapping(
        "outputs",
        section,
        listing,
        SWITCHES,
        lambda key, value: None if isinstance(value, bool) else f"true or false ({SWITCHES[key]})",
    )
