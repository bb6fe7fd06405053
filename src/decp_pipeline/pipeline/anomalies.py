"""Quality anomalies: facts that do not make a record invalid but that users of the data must know about.

Each anomaly is one object of the catalogue below: a stable code, a severity, a description (docs/build.md
lists them, a test checks both agree) and its check. They never change a record: they are counted per source
in `report.json` (`anomalies`) and listed per row in the tables (`anomalies`).

Most checks depend on the record alone and are made once, when its file is read (their codes are cached with
it). Two depend on the run (the day of the build, the configured ceiling): the cache keeps the fact each
compares (`day`, `amount`), and the build applies them, per record (`Run.codes`) or to whole columns
(`Run.with_run_dependent`), both derived from the same objects.
"""

from __future__ import annotations

import datetime
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import numpy as np
import orjson
import pyarrow as pa
import pyarrow.compute as pc

from decp_pipeline.models.contract import Contract
from decp_pipeline.normalize.labels import CPV_DIVISIONS

DEFAULT_MAX_AMOUNT = 3_000_000_000
_TEST = re.compile(r"\btestville\b|\baife_test\b|\benregistrement de test\b|\bne pas tenir compte\b", re.I)
# Every match holds `test` or `compte` once case-folded (a character matches t, e, s, c, o, m or p under re.I
# exactly when it case-folds to it: checked over all of Unicode by tests/test_quality.py), so texts without
# either, most of them, skip the regex, which costs several µs on a long `objet`.
_TEST_WORDS = ("test", "compte")


@lru_cache(maxsize=1 << 17)
def siret_is_valid(siret: str) -> bool:
    """The SIRET check of INSEE: Luhn over the 14 digits (and over the SIREN, its first 9); La Poste's
    establishments (SIREN 356000000) use the sum of the digits, a multiple of 5. Same answers as
    python-stdnum's `fr.siret.is_valid` (a test compares them on every real SIRET), 20 times faster."""
    if len(siret) != 14 or not siret.isdigit():
        return False
    if not luhn(siret[:9]):
        return False
    if siret[:9] == "356000000" and siret != "35600000000048":  # La Poste's establishments, its head office aside:
        return sum(map(int, siret)) % 5 == 0  # their rule only, as stdnum (a review found Luhn accepted beside it)
    return luhn(siret)


def luhn(digits: str) -> bool:
    """The Luhn check of a string of digits (SIREN, SIRET)."""
    total = 0
    for position, char in enumerate(reversed(digits)):
        value = ord(char) - 48
        if position % 2:
            value *= 2
            if value > 9:
                value -= 9
        total += value
    return total % 10 == 0


Fact = Literal["day", "amount"]


@dataclass(frozen=True)
class Anomaly:
    """One quality anomaly. A static one has `check` (on the contract); a run-dependent one names the cached
    `fact` it compares with a `threshold` of the run (a record is flagged when its fact is above it)."""

    code: str
    severity: Literal["warning", "error"]
    description: str
    check: Callable[[Contract], bool] | None = None
    fact: Fact | None = None
    threshold: Callable[[Run], Any] | None = None

    @property
    def run_dependent(self) -> bool:
        return self.fact is not None


def _siret_checksum(contract: Contract) -> bool:
    holders = [h.get("id") for h in contract.all_holders() if h.get("typeIdentifiant") == "SIRET"]
    return any(
        isinstance(s, str) and s.isdigit() and len(s) == 14 and not siret_is_valid(s)
        for s in [contract.buyer.get("id"), *holders]
    )


def _published_before_signed(contract: Contract) -> bool:
    return bool(contract.signed and contract.published and contract.published < contract.signed)


def _duration(contract: Contract) -> int | None:
    """A marché's duration in months (concessions are long by nature: not checked)."""
    duration = contract.flat.get("dureeMois")
    return duration if isinstance(duration, int) and not contract.concession else None


def _is_test(contract: Contract) -> bool:
    texts = [contract.buyer.get("nom"), contract.flat.get("objet"), contract.flat.get("source")]
    return any(isinstance(t, str) and _maybe_test(t) and _TEST.search(t) for t in texts)


def _maybe_test(text: str) -> bool:
    folded = text.casefold()
    return any(word in folded for word in _TEST_WORDS)


def _unknown_cpv_division(contract: Contract) -> bool:
    cpv = contract.flat.get("codeCPV")
    return isinstance(cpv, str) and cpv[:2].isdigit() and cpv[:2] not in CPV_DIVISIONS


def _damaged_encoding(contract: Contract) -> bool:
    """U+FFFD in a text: characters lost upstream to a wrong encoding (`Soci\ufffdt\ufffd`: the publisher's
    export read Latin-1 as UTF-8). Nothing can be repaired: the lost letters are not in the data."""
    return "\ufffd".encode() in orjson.dumps(contract.record)


CATALOGUE: tuple[Anomaly, ...] = (
    Anomaly(
        "siret-checksum",
        "warning",
        "a SIRET (buyer, titulaire, concessionnaire) fails its Luhn check (La Poste's rule for SIREN 356000000)",
        check=_siret_checksum,
    ),
    Anomaly(
        "publication-before-notification",
        "warning",
        "the data was published before the contract was notified",
        check=_published_before_signed,
    ),
    Anomaly(
        "date-in-future",
        "error",
        "a notification, signature or publication date after the day of the build",
        fact="day",
        threshold=lambda run: run.today,
    ),
    Anomaly(
        "date-before-2000",
        "warning",
        "a notification or signature date before 2000",
        check=lambda c: bool(c.signed and c.signed < "2000-01-01"),
    ),
    Anomaly(
        "amount-too-low",
        "warning",
        "an amount (montant, valeurGlobale) of 1 € or less",
        check=lambda c: (amount := c.numeric_amount) is not None and amount <= 1,
    ),
    Anomaly(
        "amount-too-high",
        "warning",
        "an amount above the ceiling (build.max_amount, default 3,000,000,000 €)",
        fact="amount",
        threshold=lambda run: run.max_amount,
    ),
    Anomaly(
        "duration-over-legal-maximum",
        "warning",
        "an accord-cadre longer than 96 months (4 years, 8 for entités adjudicatrices: Code de la commande "
        "publique, L2125-1 and R2162-4)",
        check=lambda c: (d := _duration(c)) is not None and c.flat.get("nature") == "Accord-cadre" and d > 96,
    ),
    Anomaly(
        "duration-aberrant",
        "warning",
        "a duration above 180 months (15 years) for a marché",
        check=lambda c: (d := _duration(c)) is not None and d > 180,
    ),
    Anomaly(
        "test-record", "error", "a test record (`Testville`, `AIFE_test`, `enregistrement de test`)", check=_is_test
    ),
    Anomaly(
        "damaged-encoding",
        "warning",
        "a text holds U+FFFD (\ufffd), the mark of characters lost to a wrong encoding before the data was published",
        check=_damaged_encoding,
    ),
    Anomaly(
        "cpv-unknown-division",
        "warning",
        "a CPV code whose division (first two digits) is not in the nomenclature",
        check=_unknown_cpv_division,
    ),
)
BY_CODE = {anomaly.code: anomaly for anomaly in CATALOGUE}
STATIC = tuple(anomaly for anomaly in CATALOGUE if not anomaly.run_dependent)
RUN_DEPENDENT = tuple(anomaly for anomaly in CATALOGUE if anomaly.run_dependent)


def static_anomalies(contract: Contract) -> list[str]:
    """The codes that depend on the record alone, in catalogue order."""
    return [anomaly.code for anomaly in STATIC if anomaly.check(contract)]  # type: ignore[misc]


def run_facts(contract: Contract) -> tuple[str | None, float | None]:
    """What the run-dependent checks compare (cached with the record): the latest of the notification
    (signature) and publication days, and the amount when it is above 1 € (an amount of 1 € or less is
    `amount-too-low`, never too high)."""
    days = [day for day in (contract.signed, contract.published) if day]
    amount = contract.numeric_amount
    return (max(days) if days else None), (amount if amount is not None and amount > 1 else None)


def combine(codes: list[str], more: list[str]) -> list[str]:
    """Two lists of codes as one, in catalogue order."""
    if not more:
        return codes
    found = {*codes, *more}
    return [anomaly.code for anomaly in CATALOGUE if anomaly.code in found]


class Run:
    """The run's settings that run-dependent anomalies compare with: the day of the build, the ceiling."""

    def __init__(self, today: datetime.date | None = None, max_amount: float = DEFAULT_MAX_AMOUNT) -> None:
        self.today: str = (today or datetime.date.today()).isoformat()
        self.max_amount: float = max_amount

    def check(self, contract: Contract) -> list[str]:
        """Every anomaly code of a contract, in catalogue order."""
        day, amount = run_facts(contract)
        return combine(static_anomalies(contract), self.codes(day, amount))

    def codes(self, day: str | None, amount: float | None) -> list[str]:
        """The run-dependent codes of one record, from its cached facts."""
        values = {"day": day, "amount": amount}
        return [
            a.code
            for a in RUN_DEPENDENT
            if (value := values[a.fact]) is not None and value > a.threshold(self)  # type: ignore[index, misc]
        ]

    def with_run_dependent(self, anomalies: pa.Array | pa.ChunkedArray, day: pa.Array, amount: pa.Array) -> pa.Array:
        """A column of cached anomaly codes, plus the run-dependent ones (from the columns of their facts)."""
        anomalies = anomalies.combine_chunks() if isinstance(anomalies, pa.ChunkedArray) else anomalies
        columns = {"day": day, "amount": amount}
        affected = None
        for a in RUN_DEPENDENT:
            above = pc.greater(columns[a.fact], a.threshold(self))  # type: ignore[index, misc]
            affected = above if affected is None else pc.or_kleene(affected, above)
        if affected is None:
            return anomalies
        rows = np.flatnonzero(affected.fill_null(False).to_numpy(zero_copy_only=False))
        if not len(rows):
            return anomalies
        values = anomalies.to_pylist()
        for row in rows:
            more = self.codes(day[row].as_py(), amount[row].as_py())
            values[row] = " ".join(combine((values[row] or "").split(), more)) or None
        return pa.array(values, pa.string())


def markdown_table() -> str:
    """The table of docs/build.md (a test checks that both agree)."""
    lines = ["| Code | Severity | What |", "|---|---|---|"]
    lines += [f"| `{a.code}` | {a.severity} | {a.description} |" for a in CATALOGUE]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    print(markdown_table(), end="")
