"""The `ocds:` section of sources.yaml: how the OCDS export names its processes and packages.

ocds:
  prefix: ocds-78apv2                        # the ocid prefix (every ocid is <prefix>-<uid>)
  base_uri: https://example.org/decp/ocds    # where dist/ocds/ is published: the packages' `uri`, the releases' urls
  publisher: Mon organisation                # the packages' publisher name
  license: https://...                       # the data's licence

`ocds-78apv2` is the prefix the Open Contracting Partnership registered for France's consolidated DECP (the one
the ministry's earlier OCDS file used). `base_uri` should be set to where the folder is served: the default is
in the `.invalid` domain (RFC 2606), which names no real place.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from decp_pipeline.settings_checks import check_mapping

PREFIX_PATTERN = re.compile(r"^ocds-[a-z0-9]{6}$")
URI_PATTERN = re.compile(
    r"^https?://[A-Za-z0-9.-]+(:([1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?"
    r"(/([A-Za-z0-9._~!$&'()*+,;=:@/-]|%[0-9A-Fa-f]{2})*)?$"
)
LICENCE_OUVERTE = "https://www.etalab.gouv.fr/licence-ouverte-open-licence"
KEYS = {
    "prefix": "the ocid prefix: ocds- and 6 lower-case letters or digits",
    "base_uri": "an absolute URI (http:// or https:// in lower case, a host (and port), no user, ASCII, no "
    "query or fragment), where dist/ocds/ is published",
    "publisher": "the name of the publisher of the packages",
    "license": "an absolute URI (http:// or https:// in lower case, a host (and port), no user, ASCII, no "
    "query or fragment), the licence of the data",
}


@dataclass(frozen=True)
class OcdsSettings:
    prefix: str = "ocds-78apv2"
    base_uri: str = "https://decp.invalid/ocds"
    publisher: str = "decp-pipeline"
    license: str = LICENCE_OUVERTE

    @classmethod
    def from_settings(cls, section: Any) -> OcdsSettings:
        """From a checked `ocds:` section (None: the defaults)."""
        given = {key: value for key, value in (section or {}).items() if key in KEYS}
        if "base_uri" in given:
            given["base_uri"] = given["base_uri"].rstrip("/")
        return cls(**given)

    @property
    def key(self) -> str:
        """What the release's fingerprint holds of them."""
        return f"{self.prefix}|{self.base_uri}|{self.publisher}|{self.license}"


def check_ocds_settings(section: Any) -> list[str]:
    """The problems of an `ocds:` section, for config.parse_config."""
    return check_mapping(
        "ocds",
        section,
        "settings (" + ", ".join(KEYS) + ")",
        KEYS,
        lambda key, value: None if isinstance(value, str) and _valid(key, value) else KEYS[key],
    )


def _valid(key: str, value: str) -> bool:
    if key == "prefix":
        return bool(PREFIX_PATTERN.match(value))
    if key in ("base_uri", "license"):  # ASCII and no % but %XX: the packages' uri must be URIs (RFC 3986)
        return bool(URI_PATTERN.match(value))
    return bool(value.strip())
