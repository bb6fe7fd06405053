"""The accounting of report.json, per source and in total: every record read is exported, rejected or a
duplicate (read = exported + rejected + duplicates), with the fixes, errors and anomalies behind them."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

_INDEX = re.compile(r"\[\d+\]")
_NUMBERS = ("files", "files_failed", "read", "exported", "rejected", "duplicates")
_COUNTERS = ("duplicates_by_rule", "anomalies", "fixes", "errors")


def error_code(rule: str, path: str) -> str:
    """The code of a schema error in report.json and the tables: RULE:PATH, list indexes collapsed."""
    return f"{rule}:{_INDEX.sub('[]', path)}" if path else rule


@dataclass
class Counts:
    """The counts of report.json for one source (or the total)."""

    files: int = 0
    files_failed: int = 0
    read: int = 0
    exported: int = 0
    rejected: int = 0
    duplicates: int = 0
    duplicates_by_rule: Counter[str] = field(default_factory=Counter)
    anomalies: Counter[str] = field(default_factory=Counter)  # of the exported records
    fixes: Counter[str] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    failed_files: list[dict[str, Any]] = field(default_factory=list)

    def add(self, other: Counts) -> None:
        for name in _NUMBERS:
            setattr(self, name, getattr(self, name) + getattr(other, name))
        for name in _COUNTERS:
            getattr(self, name).update(getattr(other, name))
        self.failed_files.extend(other.failed_files)

    def to_dict(self) -> dict[str, Any]:
        numbers: dict[str, Any] = {name: getattr(self, name) for name in _NUMBERS}
        counters = {name: dict(sorted(getattr(self, name).items())) for name in _COUNTERS}
        return {**numbers, **counters, "failed_files": self.failed_files}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Counts:
        counts = cls(**{k: data[k] for k in _NUMBERS})
        for name in _COUNTERS:
            setattr(counts, name, Counter(data.get(name, {})))
        counts.failed_files = list(data.get("failed_files", []))
        return counts
