"""One raw record → kept (normalized, valid, with its contract, facts and anomalies) or rejected (with its
errors). Pure: no I/O.

A JSON record its strict model accepts (models/strict.py: valid, nothing to repair) takes the fast path: kept
as it is, with a 1.5 record's `uid` and `source` set. Every other record takes the slow path:

    raw record ─ per-source hooks (before) ─ normalizer of its format ─ hooks (after) ─ uid and source
               ─ validation against the official schema of its format ─ Kept | Rejected

Format 1.x records are normalized to 1.5 and validated against the 1.5 schema; format 2022 records are
normalized and validated against 2.0.3, and keep their format. What the build needs of a record afterwards
(consolidation facts, anomalies, table rows) is read from its `Contract` (models/contract.py).
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass
from typing import Any

import orjson

from decp_pipeline.models.contract import Contract, kind_of, uid_of
from decp_pipeline.models.strict import fast_verdict, identity_in_place
from decp_pipeline.normalize.decp15 import Normalizer15
from decp_pipeline.normalize.decp2022 import Normalizer2022
from decp_pipeline.normalize.fixes import NAN_AS_ABSENT, SOURCE_SET, UID_SET, XML_CONTROL_CHARACTERS, Tally
from decp_pipeline.normalize.hooks import FileContext, hooks_for
from decp_pipeline.pipeline.anomalies import run_facts, static_anomalies
from decp_pipeline.pipeline.counts import error_code
from decp_pipeline.pipeline.dedup.rules import Facts
from decp_pipeline.readers.records import RawRecord
from decp_pipeline.validation.json_records import FieldError, json_validator
from decp_pipeline.validation.limits import overlong_text, without_long_texts


@dataclass(slots=True)
class Kept:
    """A valid record: `contract.record` is what decp.json or decp-2022.json publishes; with what the build
    needs of it later: the digest of its content, its consolidation facts, its static anomalies and the facts
    of the run-dependent ones (day, amount)."""

    position: int
    contract: Contract
    line: bytes  # the record's JSON, as decp.json or decp-2022.json publishes it
    digest: bytes
    facts: Facts
    anomalies: list[str]
    run_facts: tuple[str | None, float | None]
    fixes: str | None = None  # the codes of the fixes made to it (record_fixes), set by the caller


@dataclass(slots=True)
class Rejected:
    """A record left out: its original form, its schema errors (rule, path, message) and their codes, and its
    contract when it can be identified (its rows then appear in the tables with `valid = false`)."""

    position: int
    original: Any
    errors: list[tuple[str, str, str]]
    version: str
    contract: Contract | None
    anomalies: list[str]  # of its table rows (none without a contract)
    run_facts: tuple[str | None, float | None]
    fixes: str | None = None  # the codes of the fixes made to it (record_fixes), set by the caller

    @property
    def codes(self) -> list[str]:
        return [error_code(rule, where) for rule, where, _ in self.errors]


# The identity the pipeline gives a record of format 1.5 (its uid and source), not a repair of what a publisher
# wrote: left out of a record's codes. The fixes made to a whole file are not a record's either (stage.py).
_EVERY_RECORD = frozenset({UID_SET.code, SOURCE_SET.code})
NOT_PER_RECORD = _EVERY_RECORD | {XML_CONTROL_CHARACTERS.code, NAN_AS_ABSENT.code}


def record_fixes(made: Tally) -> str | None:
    """The codes of the fixes made to one record, for its table rows (`fixes`): sorted, joined by ' '."""
    codes = sorted(code for code in made if code not in _EVERY_RECORD)
    return " ".join(codes) or None


def fast_path_enabled() -> bool:
    """`DECP_FAST_PATH=0` sends every record through the normalizer and jsonschema: the outputs are the same
    (tests/test_fast_path.py), only slower; for checking that, or a suspected difference."""
    return os.environ.get("DECP_FAST_PATH", "1") != "0"


class RecordProcessor:
    """Normalizes and validates the records of one source (its hooks, both formats' normalizers). The fixes
    made are counted in the `tally` given with each record (pipeline/stage.py gives one per file).

    The fast path: a JSON record that its strict model accepts (models/strict.py: valid, and nothing the
    normalizer would change) is kept as it is, with its `uid` and `source` set as the slow path sets them; any
    other record, and every record of a source with hooks or read from XML, takes the slow path."""

    def __init__(self, source: str, hooks: tuple[str, ...] = (), *, fast: bool | None = None) -> None:
        self.source = source
        self.normalizer = Normalizer15()
        self.validator = json_validator("1.5")
        self.normalizer_2022 = Normalizer2022()
        self.validator_2022 = json_validator("2.0")
        self.before, self.after = hooks_for(hooks)
        # A source's own hooks may change any record: its records take the slow path. The hooks that run for
        # every source change nothing the strict models accept (tests/test_fast_path.py checks it).
        self.fast = (fast_path_enabled() if fast is None else fast) and not hooks

    def process(self, raw: RawRecord, context: FileContext, tally: Tally) -> Kept | Rejected:
        too_long = overlong_text(raw.data)
        if too_long is not None:  # rejected before any step copies the text (validation/limits.py)
            return self._too_long(raw, too_long)
        kind = kind_of(raw.data, raw.kind)
        xml = context.syntax == "xml"
        if self.fast and not xml and type(raw.data) is dict:
            kept = self._fast(raw, kind, tally)
            if kept is not None:
                return kept
        if raw.version == "2.0":
            record = self.normalizer_2022.normalize(raw.data, kind, tally, from_xml=xml)
            return self._verdict(raw, record, "2.0", kind)
        record = raw.data
        if isinstance(record, dict):
            record = dict(record)
            for hook in self.before:
                hook(record, kind, context, tally)
        record = self.normalizer.normalize(record, kind, tally, from_xml=xml)
        if isinstance(record, dict):
            for hook in self.after:
                hook(record, kind, context, tally)
            self._identify(record, kind, tally)
        return self._verdict(raw, record, "1.5", kind)

    @staticmethod
    def _too_long(raw: RawRecord, error: FieldError) -> Rejected:
        """A record holding a text over the bound: rejected with that one error; its table rows show it without
        such texts, under its uid, as the kind it says it is."""
        listed = [(error.rule, error.dotted, error.message)]
        shown = without_long_texts(raw.data)
        if not isinstance(shown, dict):
            return Rejected(raw.position, raw.data, listed, raw.version, None, [], (None, None))
        version = "2.0" if raw.version == "2.0" else "1.5"
        contract = Contract(shown, version, kind_of(shown, raw.kind))
        return Rejected(raw.position, raw.data, listed, raw.version, contract, [], (None, None))

    def _fast(self, raw: RawRecord, kind: str, tally: Tally) -> Kept | None:
        """The record kept as it is when its strict model accepts it, else None (and nothing counted)."""
        record: dict[str, Any] = raw.data
        version = "2.0" if raw.version == "2.0" else "1.5"
        made: Tally = Counter()  # counted only if the record takes this path
        if version == "1.5":
            if not identity_in_place(record):
                return None
            record = dict(record)
            self._identify(record, kind, made)
        line = orjson.dumps(record)
        if not fast_verdict(line, "2022" if version == "2.0" else "1.5", kind):  # type: ignore[arg-type]
            return None
        tally.update(made)
        return self._kept(raw.position, Contract(record, version, kind), line)

    def _kept(self, position: int, contract: Contract, line: bytes) -> Kept:
        return Kept(position, contract, line, contract.digest(), Facts.of(contract), static_anomalies(contract),
                    run_facts(contract))  # fmt: skip

    def _verdict(self, raw: RawRecord, record: Any, version: str, kind: str) -> Kept | Rejected:
        validator = self.validator_2022 if version == "2.0" else self.validator
        errors = validator.errors(record, kind)
        # A 2022 record is the kind of the list it came from (its schema's definition was checked); a 1.x one
        # is what its normalized `_type` says: the 1.5 schema accepts a concession in a list of marchés.
        kind = kind_of(record) if version == "1.5" else kind
        if errors:
            listed = [(e.rule, e.dotted, e.message) for e in errors]
            if not isinstance(record, dict):
                return Rejected(raw.position, raw.data, listed, version, None, [], (None, None))
            contract = Contract(record, version, kind)
            return Rejected(raw.position, raw.data, listed, version, contract, static_anomalies(contract),
                            run_facts(contract))  # fmt: skip
        return self._kept(raw.position, Contract(record, version, kind), orjson.dumps(record))

    def _identify(self, record: dict[str, Any], kind: str, tally: Tally) -> None:
        """Format 1.5 publishes each record's `uid` and `source`."""
        uid = uid_of(record, kind)
        if uid is not None and record.get("uid") != uid:
            UID_SET.count(tally)
            record["uid"] = uid
        if record.get("source") != self.source:
            SOURCE_SET.count(tally)
            record["source"] = self.source
