"""Columns computed when the tables are written, from each row's other columns and the run: never cached,
never in the regulatory JSON files (they stay exactly as the schemas say). Each function takes a batch of rows
and returns the batch with its columns, computed as columns (pyarrow compute), not row by row.

    marches, concessions   montant_fiable, montant_fiable_raison   can the amount be added up (below)
                           duree_restante_mois                     months left at the build's day
    marches                cpv_division, cpv_groupe                 the first 2 and 3 digits of codeCPV
    titulaires             identifiant_type, identifiant_valide, siren

`montant_fiable` is false, with the first reason in this order, when the initial amount (`montant`,
`valeurGlobale` for concessions) is:
    au-dessus-du-plafond       above `build.max_amount` (3 bn €): DAJ's rules (decp-augmente nettoyage.py,
                               3 bn €), Eclaireur Public (amounts above 1 bn € nullified)
    un-euro-ou-moins           1 € or less: DAJ's rules (below 1 €), the `amount-too-low` anomaly
    suite-123456789            written starting with 123456789: DAJ's rules
    chiffres-repetes           above 100 M€ with a run of six or more identical digits, zeros aside (a round
                               amount is not a typo): DAJ's rules
    egal-a-la-duree            equal to the duration in months: the peers' quality indicator 13
    par-mois-invraisemblable   under 100 € per month of duration: the peers' quality indicator 13
(../shared/docs/peers.md §3.1 and §3.3). It is null when there is no amount: such a row adds nothing to a sum.
"""

from __future__ import annotations

import datetime
from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from decp_pipeline.pipeline.anomalies import luhn, siret_is_valid
from decp_pipeline.pipeline.tables import ENRICHED

REASONS = ("au-dessus-du-plafond", "un-euro-ou-moins", "suite-123456789", "chiffres-repetes", "egal-a-la-duree",
           "par-mois-invraisemblable")  # fmt: skip
# Six identical digits but zeros (150,000,000 is a round amount, not a typo): RE2 has no back-references.
REPEATED = r"(1{6}|2{6}|3{6}|4{6}|5{6}|6{6}|7{6}|8{6}|9{6})"
# The identifier types as published, in their known variants (DAJ's rules: FRW… → FRWF, HORS_UE → HORS-UE,
# TVA-intracommunautaire → TVA), upper-cased and trimmed first.
IDENTIFIER_TYPES = {"SIRET": "SIRET", "SIREN": "SIREN", "TVA": "TVA", "TVA-INTRACOMMUNAUTAIRE": "TVA",
                    "TVA_INTRACOMMUNAUTAIRE": "TVA", "TVA INTRACOMMUNAUTAIRE": "TVA", "HORS-UE": "HORS-UE",
                    "HORS_UE": "HORS-UE", "HORSUE": "HORS-UE", "HORS UE": "HORS-UE", "FRWF": "FRWF", "FRW": "FRWF",
                    "UE": "UE"}  # fmt: skip


def amount_reliability(rows: pa.Table, amount: str, max_amount: float) -> tuple[pa.Array, pa.Array]:
    """`montant_fiable` and `montant_fiable_raison` of a batch of marchés or concessions."""
    value = pc.cast(rows[amount], pa.float64())
    value = pc.if_else(pc.is_nan(value), pa.scalar(None, pa.float64()), value)  # NaN: no amount
    duration = pc.cast(rows["dureeMois"], pa.float64())
    # The digits of the whole euros (clipped: far above any ceiling, and an int64 must hold them).
    clipped = pc.max_element_wise(pc.min_element_wise(value, 9e18), -9e18)
    digits = pc.cast(pc.cast(pc.floor(clipped), pa.int64()), pa.string())
    tests = [
        pc.greater(value, max_amount),
        pc.less_equal(value, 1.0),
        pc.starts_with(digits, "123456789"),
        pc.and_(pc.greater(value, 100_000_000.0), pc.match_substring_regex(digits, REPEATED)),
        pc.equal(value, duration),
        pc.and_(pc.greater(duration, 0.0), pc.less(pc.divide(value, duration), 100.0)),
    ]
    reason = pa.nulls(rows.num_rows, pa.string())
    for code, test in reversed(list(zip(REASONS, tests, strict=True))):  # the first reason wins
        reason = pc.if_else(pc.fill_null(test, False), pa.scalar(code), reason)
    reliable = pc.if_else(pc.is_null(value), pa.scalar(None, pa.bool_()), pc.is_null(reason))
    return reliable, reason


def months_left(rows: pa.Table, start: str, today: datetime.date) -> pa.Array:
    """`duree_restante_mois`: whole months from the build's month to the end of the contract (the month of its
    start plus its current duration), 0 once ended; null without a start or a duration."""
    duration = pc.cast(pc.coalesce(rows["dureeMois_actuelle"], rows["dureeMois"]), pa.int64())
    begin = rows[start]
    first = pc.add(pc.multiply(pc.cast(pc.year(begin), pa.int64()), 12), pc.cast(pc.month(begin), pa.int64()))
    left = pc.subtract(pc.add(first, duration), today.year * 12 + today.month)
    return pc.if_else(pc.less(left, 0), pa.scalar(0, pa.int64()), left)  # null stays null


def cpv_parts(rows: pa.Table) -> tuple[pa.Array, pa.Array]:
    """`cpv_division` and `cpv_groupe`: the first 2 and 3 digits of an 8-digit CPV code, else null."""
    code = rows["codeCPV"]
    shaped = pc.match_substring_regex(code, r"^[0-9]{8}(-[0-9])?$")
    division = pc.if_else(shaped, pc.utf8_slice_codeunits(code, 0, 2), pa.scalar(None, pa.string()))
    group = pc.if_else(shaped, pc.utf8_slice_codeunits(code, 0, 3), pa.scalar(None, pa.string()))
    return division, group


def identifiers(rows: pa.Table) -> tuple[pa.Array, pa.Array, pa.Array]:
    """`identifiant_type` (the known variants under one spelling; others as published), `identifiant_valide`
    (SIRET: 14 digits and INSEE's check; SIREN: 9 digits and Luhn; null for other types) and `siren`."""
    published = pc.utf8_upper(pc.utf8_trim_whitespace(rows["typeIdentifiant"]))
    kinds = [IDENTIFIER_TYPES.get(k, k) if k is not None else None for k in published.to_pylist()]
    if any(k is not None and k.startswith("FRW") for k in kinds):
        kinds = ["FRWF" if k is not None and k.startswith("FRW") else k for k in kinds]
    ids = rows["titulaire_id"].to_pylist()
    valid: list[bool | None] = []
    for kind, value in zip(kinds, ids, strict=True):
        text = value.replace(" ", "") if isinstance(value, str) else None
        if kind == "SIRET" and text is not None:
            valid.append(siret_is_valid(text))
        elif kind == "SIREN" and text is not None:
            valid.append(len(text) == 9 and text.isdigit() and luhn(text))
        else:
            valid.append(None)
    siren = [v.replace(" ", "")[:9] if ok and isinstance(v, str) else None for v, ok in zip(ids, valid, strict=True)]
    return pa.array(kinds, pa.string()), pa.array(valid, pa.bool_()), pa.array(siren, pa.string())


def finish_table(name: str, today: datetime.date, max_amount: float) -> Callable[[pa.Table], pa.Table] | None:
    """The function that adds a table's derived columns (DERIVED in tables.py) to a batch of its rows, and its
    enriched ones, empty (pipeline/enrich.py fills them when the references are there)."""
    derive = _derive(name, today, max_amount)
    empty = ENRICHED.get(name, [])
    if derive is None or not empty:
        return derive

    def finish(rows: pa.Table) -> pa.Table:
        rows = derive(rows)
        for column, kind, _ in empty:
            rows = rows.append_column(column, pa.nulls(rows.num_rows, kind))
        return rows

    return finish


def _derive(name: str, today: datetime.date, max_amount: float) -> Callable[[pa.Table], pa.Table] | None:
    if name in ("marches", "concessions"):
        amount, start = (
            ("montant", "dateNotification") if name == "marches" else ("valeurGlobale", "dateDebutExecution")
        )

        def contracts(rows: pa.Table) -> pa.Table:
            reliable, reason = amount_reliability(rows, amount, max_amount)
            rows = rows.append_column("montant_fiable", reliable).append_column("montant_fiable_raison", reason)
            rows = rows.append_column("duree_restante_mois", months_left(rows, start, today))
            if name == "marches":
                division, group = cpv_parts(rows)
                rows = rows.append_column("cpv_division", division).append_column("cpv_groupe", group)
            return rows

        return contracts
    if name == "titulaires":

        def holders(rows: pa.Table) -> pa.Table:
            kind, valid, siren = identifiers(rows)
            rows = rows.append_column("identifiant_type", kind).append_column("identifiant_valide", valid)
            return rows.append_column("siren", siren)

        return holders
    return None
