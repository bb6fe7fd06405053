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

SCHEMA = pa.schema([("key", pa.string()), ("version_key", pa.string()), ("recency", pa.string()),
                    ("modifications", pa.int32()), ("priority", pa.int32()), ("digest", pa.binary(16)),
                    ("uid", pa.string()), ("source", pa.int32())])  # fmt: skip


def columnar_fates(copies: list[Copy], sources: list[int]) -> list[str | None]:
    rows = [{"key": c.key, "version_key": c.version_key or c.key, "recency": c.recency,
             "modifications": c.modifications, "priority": c.priority, "digest": c.digest, "uid": c.uid, "source": s}
            for c, s in zip(copies, sources, strict=True)]  # fmt: skip
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
    st.sampled_from(["", "V|1", "V|2"]),  # the contract of which the record is a version ("": its own key)
)


@settings(max_examples=300, deadline=None)
@given(st.lists(copy_fields, max_size=30))
def test_the_columnar_engine_gives_the_fates_of_the_rules(drawn):
    priorities = (50, 10, 50)  # two sources of equal priority: reading order breaks the tie
    ordered = sorted(enumerate(drawn), key=lambda item: (-priorities[item[1][3]], item[1][3], item[0]))
    copies = [Copy(key, recency, mods, priorities[source], order, _digest(content), uid, version)
              for order, (_, (key, recency, mods, source, content, uid, version)) in enumerate(ordered)]  # fmt: skip
    sources = [fields[3] for _, fields in ordered]
    assert columnar_fates(copies, sources) == fates(copies)


def test_real_records_and_their_copies():
    pes = load(REAL / "pes_2019-04-05_excerpt.json")["marches"]
    records = pes + pes[:5] + [dict(r, objet="autre objet") for r in pes[3:8]]
    copies = []
    for order, record in enumerate(records):
        facts = Facts.of(Contract(record, "1.5", "marche"))
        copies.append(Copy(facts.key, facts.recency, facts.modifications, 0, order, digest_of(record), facts.uid,
                           facts.version_key))  # fmt: skip
    expected = fates(copies)
    assert columnar_fates(copies, [0] * len(copies)) == expected
    assert expected.count(None) == len(pes)
    assert expected[len(pes) :] == ["exact-copy"] * 5 + ["same-uid"] * 5


def _aws_2019(contract_id: str, holder: str, amount: float, objet: str, modifications: int) -> dict[str, object]:
    return {"id": contract_id, "_type": "Marché", "acheteur": {"id": "08618038700010"}, "montant": amount,
            "objet": objet, "titulaires": [{"id": holder, "typeIdentifiant": "SIRET"}],
            "datePublicationDonnees": "2019-02-04",
            "modifications": [{"objetModification": "avenant", "datePublicationDonneesModification": "2019-03-01"}
                              for _ in range(modifications)]}  # fmt: skip


def _fates_of(records: list[dict[str, object]]) -> list[str | None]:
    copies = []
    for order, record in enumerate(records):
        facts = Facts.of(Contract(record, "1.5", "marche"))
        copies.append(Copy(facts.key, facts.recency, facts.modifications, 0, order, digest_of(record), facts.uid,
                           facts.version_key))  # fmt: skip
    expected = fates(copies)
    assert columnar_fates(copies, [0] * len(copies)) == expected
    return expected


def test_versions_are_never_two_contracts():
    """The two merges of 0.10.1 that the issue found on the real AWS file of 2019-03-07
    (../shared/realdata/aws-marchespublicsinfo/decp-json_marches-publics.info_2019-03-07.json), and what real
    versions share: the same initial amount and holders (publishers correct the object)."""
    # `201851155100` (holder 30600163700025, no modification: stripped to 2018511551) and `2018511551` (holder
    # 95752847400134, no modification: its `51` counts nothing): two contracts of buyer 08618038700010.
    assert _fates_of([_aws_2019("201851155100", "30600163700025", 37981, "Nettoyage", 0),
                      _aws_2019("2018511551", "95752847400134", 33023, "Nettoyage", 0)]) == [None, None]  # fmt: skip
    # `2018M18414GR00` (260,000 €, propreté urbaine) and `GR01` (20,000 €, qualification, one modification):
    # two lots of buyer 24450046800040, one holder.
    lots = [_aws_2019("2018M18414GR00", "51464518300013", 260000, "Propreté urbaine", 0),
            _aws_2019("2018M18414GR01", "51464518300013", 20000, "Qualification", 1)]  # fmt: skip
    assert _fates_of(lots) == [None, None]
    # `20191815AC00` and `AC01` of buyer 21740225400015: one accord-cadre, the same amount, holders and object;
    # its copy in another source with another content is still the same uid.
    versions = [_aws_2019("20191815AC00", "31504385100049", 17666, "Accord-cadre fournitures", 0),
                _aws_2019("20191815AC01", "31504385100049", 17666, "Accord-cadre fournitures", 1),
                _aws_2019("20191815AC00", "31504385100049", 17000, "Accord-cadre fournitures", 0)]  # fmt: skip
    assert _fates_of(versions) == ["version", None, "same-uid"]
    # `2018J1215A` and `2018J1215A00` (PES, buyer 21690123100011, 75,000 €, holder 52258043000026, one object):
    # one contract under two forms of its id (the object corrected in the second), still one record.
    forms = [_aws_2019("2018J1215A", "52258043000026", 75000, "Musée de l?imprimerie", 0),
             _aws_2019("2018J1215A00", "52258043000026", 75000, "Musée de l'Imprimerie", 0)]  # fmt: skip
    assert _fates_of(forms) == [None, "version"]
