"""The columnar dedup engine (pipeline/dedup/columnar.py) gives every record the fate the plain rules
(pipeline/dedup/rules.py, the reference) give it: on random sets of copies built to collide often (few keys,
dates, digests and uids), and on the real records of the PES excerpt."""

from __future__ import annotations

import hashlib

import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from decp_pipeline.models.contract import Contract, digest_of
from decp_pipeline.pipeline.dedup.columnar import consolidate
from decp_pipeline.pipeline.dedup.rules import RULES, Copy, Facts, fates

from .conftest import REAL, load

SCHEMA = pa.schema([("key", pa.string()), ("recency", pa.string()), ("modifications", pa.int32()),
                    ("priority", pa.int32()), ("digest", pa.binary(16)), ("uid", pa.string()),
                    ("source", pa.int32())])  # fmt: skip


def columnar_fates(copies: list[Copy], sources: list[int]) -> list[str | None]:
    rows = [{"key": c.key, "recency": c.recency, "modifications": c.modifications, "priority": c.priority,
             "digest": c.digest, "uid": c.uid, "source": s} for c, s in zip(copies, sources, strict=True)]  # fmt: skip
    result = consolidate(pa.Table.from_pylist(rows, schema=SCHEMA), ["a", "b", "c"])
    return [RULES[rule] for rule in result.rule]


def _digest(n: int) -> bytes:
    return hashlib.blake2b(str(n).encode(), digest_size=16).digest()


copy_fields = st.tuples(
    st.sampled_from(["M|1|a", "M|1|b", "C|1|a", "M|2|a"]),
    st.sampled_from(["2019-01-01", "2019-01-02", "2020-06-30", "2019-01"]),
    st.integers(0, 2),
    st.integers(0, 2),  # the source, whose priority follows
    st.integers(0, 3),  # the content
    st.sampled_from([None, "u1", "u2"]),
)


@settings(max_examples=300, deadline=None)
@given(st.lists(copy_fields, max_size=30))
def test_the_columnar_engine_gives_the_fates_of_the_rules(drawn):
    priorities = (50, 10, 50)  # two sources of equal priority: reading order breaks the tie
    ordered = sorted(enumerate(drawn), key=lambda item: (-priorities[item[1][3]], item[1][3], item[0]))
    copies = [Copy(key, recency, mods, priorities[source], order, _digest(content), uid)
              for order, (_, (key, recency, mods, source, content, uid)) in enumerate(ordered)]  # fmt: skip
    sources = [fields[3] for _, fields in ordered]
    assert columnar_fates(copies, sources) == fates(copies)


def test_real_records_and_their_copies():
    pes = load(REAL / "pes_2019-04-05_excerpt.json")["marches"]
    records = pes + pes[:5] + [dict(r, objet="autre objet") for r in pes[3:8]]
    copies = []
    for order, record in enumerate(records):
        facts = Facts.of(Contract(record, "1.5", "marche"))
        copies.append(Copy(facts.key, facts.recency, facts.modifications, 0, order, digest_of(record), facts.uid))
    expected = fates(copies)
    assert columnar_fates(copies, [0] * len(copies)) == expected
    assert expected.count(None) == len(pes)
    assert expected[len(pes) :] == ["exact-copy"] * 5 + ["same-uid"] * 5
