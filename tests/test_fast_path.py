"""What a record becomes does not depend on the path it took (pipeline/record.py, models/strict.py).

Each record is processed twice, by a RecordProcessor with the fast path and by one without (every record through
the normalizer and jsonschema): the outcomes must be equal field by field (kept or rejected, the published line,
digest, consolidation facts, anomalies, errors) and so must the fixes counted. Checked on every JSON record of
the fixtures and of shared/realdata, on every single edit of the richest valid records (with the edits the
normalizer repairs: spaces around a text, `NC`, `12.0`, dates, SIRETs in groups ...), on records mutated by
hypothesis, and on whole builds of the samples with DECP_FAST_PATH=0 against the default.
"""

from __future__ import annotations

import copy
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import event, given
from hypothesis import strategies as st
from msgspec.structs import fields

from decp_pipeline.models.contract import kind_of
from decp_pipeline.models.strict import TRIMMED, fast_verdict, strict_model
from decp_pipeline.normalize.hooks import DGFIP_BUYER_FIELDS, DGFIP_FIELDS, FileContext
from decp_pipeline.normalize.labels import ABSENT
from decp_pipeline.pipeline.record import Kept, RecordProcessor
from decp_pipeline.readers.records import RawRecord

from .conftest import FIXTURES, PUBLISHED_DATE, release_files, run_cli
from .test_build import ALL_SAMPLES
from .test_typed_models import FAST, VALID, at, changes, drawn_mutation, edited, json_files, paths, put, records, shape

FAST_PROCESSOR = RecordProcessor("test-source", fast=True)
SLOW_PROCESSOR = RecordProcessor("test-source", fast=False)
CONTEXT = FileContext("test-source", "file.json")
CONTEXT.syntax = "json"


def outcome(processor: RecordProcessor, raw: RawRecord) -> tuple[Any, Counter[str]]:
    tally: Counter[str] = Counter()
    result = processor.process(copy.deepcopy(raw), CONTEXT, tally)
    if isinstance(result, Kept):
        facts = (result.line, result.digest, result.facts, result.anomalies, result.run_facts, result.contract.kind)
        return ("kept", *facts), tally
    return ("rejected", result.errors, result.version, result.anomalies, result.run_facts), tally


def assert_same_outcome(record: Any, version: str, kind: str | None) -> bool:
    """Both processors give the same outcome and count the same fixes; True when the fast path took it.

    A record with an integer beyond 64 bits is not tried: no reader makes one (orjson refuses the file, and the
    streaming parser reads such a number as a float)."""
    try:
        orjson.dumps(record)
    except TypeError:
        return False
    raw = RawRecord(1, kind, record, "2.0" if version == "2022" else "1.5")
    fast, slow = outcome(FAST_PROCESSOR, raw), outcome(SLOW_PROCESSOR, raw)
    assert fast == slow, record
    return FAST_PROCESSOR._fast(copy.deepcopy(raw), kind or kind_of(record), Counter()) is not None


def check_files(paths_: list[Path]) -> Counter[str]:
    counts: Counter[str] = Counter()
    for path in paths_:
        for version, listed_kind, record in records(path):
            took_fast = assert_same_outcome(record, version, listed_kind)
            counts[version] += 1
            counts[f"{version} fast"] += took_fast
    return counts


def test_fixture_records_same_outcome_on_both_paths() -> None:
    counts = check_files(json_files(FIXTURES))
    # The fast path takes real records (AWS's and the 2022 examples), not only made-up ones.
    assert counts == {"1.5": 173, "1.5 fast": 58, "2022": 70, "2022 fast": 58}, counts


@pytest.mark.realdata
def test_realdata_records_same_outcome_on_both_paths(realdata: Path) -> None:
    counts = check_files(json_files(realdata))
    assert counts == {"1.5": 11133, "1.5 fast": 2032, "2022": 997, "2022 fast": 677}, counts


# Edits the normalizer repairs (each must send the record to the slow path, where it is repaired and counted).
REPAIRED_TEXTS = [" {}", "{} ", "{}\n", "\u00a0{}", "{}\u2009", "{}\t"]


def repaired_edits(node: Any) -> list[Any]:
    found = []
    if isinstance(node, str):
        found += [put(text.format(node)) for text in REPAIRED_TEXTS]
        found += [put("NC"), put("n/c"), put(node.replace("-", "/")), put(" ".join(node))]
        if len(node) == 10 and node[4] == "-":  # a date: 2019-01-05 -> 2019-1-5, 05/01/2019, with a time
            found += [put(f"{node[:4]}-{int(node[5:7])}-{int(node[8:])}"), put(f"{node[8:]}/{node[5:7]}/{node[:4]}"),
                      put(node + "T10:00:00")]  # fmt: skip
    if isinstance(node, int) and not isinstance(node, bool):
        found += [put(float(node)), put(str(node)), put(f" {node}")]
    if isinstance(node, float):
        found += [put(str(node).replace(".", ",")), put(node + 0.5)]
    return found


@pytest.mark.parametrize(("version", "kind"), list(VALID), ids=lambda x: x)
def test_every_single_edit_same_outcome(version: str, kind: str) -> None:
    """Every edit of the typed models' catalog, and every repair of the normalizer, at every place of the
    richest record of each kind that takes the fast path (list items: the first one)."""
    listed = kind if version == "2022" else None
    fast = [r for r in VALID[version, kind] if assert_same_outcome(r, version, listed)]
    record = max(fast, key=lambda r: len({shape(p) for p in paths(r)}))
    took = Counter[bool]()
    for path in paths(record):
        if path != shape(path):
            continue
        node = at(record, path)
        for change in changes(node, not path) + repaired_edits(node):
            took[assert_same_outcome(edited(record, path, change), version, listed)] += 1
    # Edits that keep the record valid and clean take the fast path (a field deleted, an optional one added ...).
    assert took == EDITS_TAKEN[version, kind], took


EDITS_TAKEN = {
    ("1.5", "marche"): {False: 886, True: 172},
    ("1.5", "contrat-concession"): {False: 865, True: 125},
    ("2022", "marche"): {False: 3002, True: 218},
    ("2022", "contrat-concession"): {False: 1730, True: 120},
}


@pytest.mark.parametrize(("version", "kind"), list(VALID), ids=lambda x: x)
@FAST
@given(data=st.data())
def test_mutated_records_same_outcome(version: str, kind: str, data: st.DataObject) -> None:
    mutated = drawn_mutation(version, kind, data)
    took = assert_same_outcome(mutated, version, kind if version == "2022" else None)
    event("fast path" if took else "slow path")


@given(st.text(max_size=8))
def test_a_text_is_trimmed_exactly_when_the_pattern_says_so(text: str) -> None:
    assert bool(re.search(TRIMMED, text)) == (text == text.strip() and text not in ABSENT)


def test_fast_verdict_refuses_what_the_normalizer_repairs() -> None:
    record = copy.deepcopy(VALID["2022", "marche"][0])
    assert fast_verdict(orjson.dumps(record), "2022", "marche")
    for key, value in [("dureeMois", 12.0), ("objet", "objet "), ("dateNotification", "2024-1-5"), ("ccag", None)]:
        assert not fast_verdict(orjson.dumps({**record, key: value}), "2022", "marche"), key


def test_forced_slow_path_gives_byte_identical_outputs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    outputs = {}
    for mode in ("1", "0"):
        monkeypatch.setenv("DECP_FAST_PATH", mode)
        out = tmp_path / f"out{mode}"
        result = run_cli("build", "--offline", "--data-dir", str(tmp_path / f"data{mode}"), "--out", str(out),
                         *ALL_SAMPLES)  # fmt: skip
        assert result.exit_code == 0, result.output
        files = release_files(out, stamped=True)
        outputs[mode] = {k: PUBLISHED_DATE.sub(b"", v) if k.startswith("ocds/") else v for k, v in files.items()}
    assert len([name for name in outputs["1"] if "/" not in name]) == 28
    assert len([name for name in outputs["1"] if name.startswith("acheteurs/")]) == 60  # a page per buyer, a style
    report = {mode: files.pop("report.json") for mode, files in outputs.items()}
    for files in outputs.values():
        files.pop("manifest.json"), files.pop("delta.json"), files.pop("report.html")  # they name the release
    assert outputs["1"] == outputs["0"]
    fast_report, slow_report = (json.loads(report[m]) for m in ("1", "0"))
    for stamp in ("generated_at", "release"):
        fast_report.pop(stamp), slow_report.pop(stamp)
    fast_report["ocds"].pop("seconds"), slow_report["ocds"].pop("seconds")  # the export's time varies
    fast_report["sqlite"].pop("seconds"), slow_report["sqlite"].pop("seconds")
    assert fast_report == slow_report


def test_the_hooks_of_every_source_change_nothing_the_fast_path_takes() -> None:
    """The fast path skips the hooks that run for every source: they must be no-ops on what it accepts. A
    repeated `datePublicationDonnees` is a list (a date is a text), and the DGFiP's own fields are no field of
    the strict models (unknown fields are refused)."""
    for kind, buyer in (("marche", "acheteur"), ("contrat-concession", "autoriteConcedante")):
        model = strict_model("1.5", kind)
        names = {f.encode_name: f for f in fields(model)}
        assert not set(DGFIP_FIELDS) & set(names)
        buyer_type = names[buyer].type
        assert not set(DGFIP_BUYER_FIELDS) & {f.encode_name for f in fields(buyer_type)}
        record = copy.deepcopy(VALID["1.5", kind][0])
        record["datePublicationDonnees"] = [record["datePublicationDonnees"], "2020-01-01"]
        assert not fast_verdict(orjson.dumps(record), "1.5", kind)
