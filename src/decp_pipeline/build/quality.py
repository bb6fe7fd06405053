"""Quality anomalies: facts that do not make a record invalid but that users of the data must know about.

Each has a stable code, a severity and a description (docs/build.md lists them). They never change a record:
they are counted per source in `report.json` (`anomalies`) and listed per row in the tables (`anomalies`).
"""

from __future__ import annotations

import datetime
import re
from functools import lru_cache
from typing import Any

ANOMALIES: dict[str, tuple[str, str]] = {
    "siret-checksum": (
        "warning",
        "a SIRET (buyer, titulaire, concessionnaire) fails its Luhn check (La Poste's rule for SIREN 356000000)",
    ),
    "publication-before-notification": ("warning", "the data was published before the contract was notified"),
    "date-in-future": ("error", "a notification, signature or publication date after the day of the build"),
    "date-before-2000": ("warning", "a notification or signature date before 2000"),
    "amount-too-low": ("warning", "an amount (montant, valeurGlobale) of 1 € or less"),
    "amount-too-high": ("warning", "an amount above the ceiling (build.max_amount, default 3,000,000,000 €)"),
    "duration-over-legal-maximum": (
        "warning",
        "an accord-cadre longer than 96 months (4 years, 8 for entités adjudicatrices: Code de la commande "
        "publique, L2125-1 and R2162-4)",
    ),
    "duration-aberrant": ("warning", "a duration above 180 months (15 years) for a marché"),
    "test-record": ("error", "a test record (`Testville`, `AIFE_test`, `enregistrement de test`)"),
    "cpv-unknown-division": ("warning", "a CPV code whose division (first two digits) is not in the nomenclature"),
}
DEFAULT_MAX_AMOUNT = 3_000_000_000
# The divisions of the CPV nomenclature (Commission Regulation (EC) No 213/2008).
CPV_DIVISIONS = frozenset(
    [
        "03",
        "09",
        "14",
        "15",
        "16",
        "18",
        "19",
        "22",
        "24",
        "30",
        "31",
        "32",
        "33",
        "34",
        "35",
        "37",
        "38",
        "39",
        "41",
        "42",
        "43",
        "44",
        "45",
        "48",
        "50",
        "51",
        "55",
        "60",
        "63",
        "64",
        "65",
        "66",
        "70",
        "71",
        "72",
        "73",
        "75",
        "76",
        "77",
        "79",
        "80",
        "85",
        "90",
        "92",
        "98",
    ]
)
_TEST = re.compile(r"\btestville\b|\baife_test\b|\benregistrement de test\b|\bne pas tenir compte\b", re.I)


@lru_cache(maxsize=1 << 17)
def siret_is_valid(siret: str) -> bool:
    """The SIRET check of INSEE: Luhn over the 14 digits (and over the SIREN, its first 9); La Poste's
    establishments (SIREN 356000000) use the sum of the digits, a multiple of 5. Same answers as
    python-stdnum's `fr.siret.is_valid` (a test compares them on every real SIRET), 20 times faster."""
    if len(siret) != 14 or not siret.isdigit():
        return False
    if not _luhn(siret[:9]):
        return False
    if _luhn(siret):
        return True
    return siret[:9] == "356000000" and sum(map(int, siret)) % 5 == 0


def _luhn(digits: str) -> bool:
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


def _day(value: Any) -> str | None:
    return value[:10] if isinstance(value, str) and len(value) >= 10 else None


# Checks whose answer depends on the run (the day of the build, the configured ceiling), not on the record
# alone: the normalized results cached per file keep the facts they need (`facts`), and the build adds them.
RUN_DEPENDENT = ("date-in-future", "amount-too-high")


class QualityChecks:
    def __init__(self, today: datetime.date | None = None, max_amount: float = DEFAULT_MAX_AMOUNT) -> None:
        self.today = (today or datetime.date.today()).isoformat()
        self.max_amount = max_amount

    def check(self, record: dict[str, Any]) -> list[str]:
        """The anomaly codes of a record (format 1.x), in catalogue order."""
        day, amount = facts(record)
        return combine(static_anomalies(record), self.run_dependent(day, amount))

    def run_dependent(self, day: str | None, amount: float | None) -> list[str]:
        """The codes that depend on the run, from a record's `facts`."""
        found = []
        if day is not None and day > self.today:
            found.append("date-in-future")
        if amount is not None and amount > self.max_amount:
            found.append("amount-too-high")
        return found


def combine(codes: list[str], more: list[str]) -> list[str]:
    """Two lists of codes as one, in catalogue order."""
    if not more:
        return codes
    found = {*codes, *more}
    return [code for code in ANOMALIES if code in found]


def facts(record: dict[str, Any]) -> tuple[str | None, float | None]:
    """What the run-dependent checks need: the latest of the notification (signature) and publication days,
    and the amount when it is above 1 € (an amount of 1 € or less is `amount-too-low`, never too high)."""
    concession = record.get("_type") == "Contrat de concession"
    days = [d for d in (_day(record.get("dateSignature" if concession else "dateNotification")),
                        _day(record.get("datePublicationDonnees"))) if d]  # fmt: skip
    amount = record.get("valeurGlobale" if concession else "montant")
    if not isinstance(amount, int | float) or isinstance(amount, bool) or amount <= 1:
        amount = None
    return (max(days) if days else None), (float(amount) if amount is not None else None)


def static_anomalies(record: dict[str, Any]) -> list[str]:
    """The anomaly codes that depend on the record alone (all but RUN_DEPENDENT), in catalogue order."""
    found: set[str] = set()
    concession = record.get("_type") == "Contrat de concession"
    buyer = record.get("autoriteConcedante" if concession else "acheteur") or {}
    holders = record.get("concessionnaires" if concession else "titulaires") or []
    for modification in record.get("modifications") or []:
        if isinstance(modification, dict):
            holders = [*holders, *(modification.get("titulaires") or modification.get("concessionnaires") or [])]
    sirets = [buyer.get("id")] + [
        h.get("id") for h in holders if isinstance(h, dict) and h.get("typeIdentifiant") == "SIRET"
    ]
    if any(isinstance(s, str) and s.isdigit() and len(s) == 14 and not siret_is_valid(s) for s in sirets):
        found.add("siret-checksum")
    signed = _day(record.get("dateSignature" if concession else "dateNotification"))
    published = _day(record.get("datePublicationDonnees"))
    if signed and published and published < signed:
        found.add("publication-before-notification")
    if signed and signed < "2000-01-01":
        found.add("date-before-2000")
    amount = record.get("valeurGlobale" if concession else "montant")
    if isinstance(amount, int | float) and not isinstance(amount, bool) and amount <= 1:
        found.add("amount-too-low")
    duration = record.get("dureeMois")
    if isinstance(duration, int) and not concession:
        if record.get("nature") == "Accord-cadre" and duration > 96:
            found.add("duration-over-legal-maximum")
        if duration > 180:
            found.add("duration-aberrant")
    texts = [buyer.get("nom"), record.get("objet"), record.get("source")]
    if any(isinstance(t, str) and _TEST.search(t) for t in texts):
        found.add("test-record")
    cpv = record.get("codeCPV")
    if isinstance(cpv, str) and cpv[:2].isdigit() and cpv[:2] not in CPV_DIVISIONS:
        found.add("cpv-unknown-division")
    return [code for code in ANOMALIES if code in found]
