"""What reading one file leaves in its cache folder, for the build to assemble without reading it again.

    records.jsonl   the valid records, normalized, one JSON document per line (copied as they are into
                    decp.json / decp-2022.json when kept)
    rejected.jsonl  the rejected records: position, original record, errors, format (rejected.jsonl's lines
                    without `source` and `file`, which the build adds)
    meta.arrow      one row per record: its position, validity and, for a valid one, the facts consolidation
                    needs (build/consolidate.py: key, digest, uid, recency ...) and its quality anomalies
    <table>.arrow   the rows of the published tables (build/tables.py), for valid and rejected records

Quality checks that depend on the run (the day, the configured ceiling) are left to the build: the cache keeps
the facts they need (`day`, `amount`).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa

from decp_pipeline.build.consolidate import Facts, view
from decp_pipeline.build.quality import facts, static_anomalies
from decp_pipeline.build.tables import ArrowSpool, FragmentWriter, row_uid

META_SCHEMA = pa.schema(
    [
        ("position", pa.int64()),
        ("valid", pa.bool_()),
        ("format", pa.string()),  # 1.5 or 2.0
        ("kind", pa.string()),  # marche or contrat-concession
        ("key", pa.string()),
        ("digest", pa.binary(16)),
        ("uid", pa.string()),  # for a rejected record: the uid of its table rows, if it has any
        ("recency", pa.string()),
        ("modifications", pa.int32()),
        ("near", pa.binary(16)),
        ("anomalies", pa.string()),
        ("day", pa.string()),
        ("amount", pa.float64()),
    ]
)


class FileResult:
    """Writes one file's result into a (temporary) folder; `close()` when the whole file was read."""

    def __init__(self, folder: Path, source: str) -> None:
        self.source = source
        self.records = open(folder / "records.jsonl", "wb")  # noqa: SIM115 - closed by close()
        self.rejected = open(folder / "rejected.jsonl", "wb")  # noqa: SIM115
        self.meta = ArrowSpool(META_SCHEMA, folder / "meta.arrow")
        self.tables = FragmentWriter(folder)

    def keep(
        self, position: int, kind: str, version: str, record: dict[str, Any], uid: str | None, digest: bytes
    ) -> None:
        flat = view(record, version, kind)
        record_facts = Facts.of(flat, version, uid)
        anomalies = static_anomalies(flat)
        day, amount = facts(flat)
        self.records.write(orjson.dumps(record) + b"\n")
        self.meta.add({"position": position, "valid": True, "format": version, "kind": kind,
                       "key": record_facts.key, "digest": digest, "uid": uid, "recency": record_facts.recency,
                       "modifications": record_facts.modifications, "near": record_facts.near,
                       "anomalies": " ".join(anomalies) or None, "day": day, "amount": amount})  # fmt: skip
        self.tables.add(flat, uid=row_uid(flat, True), source=self.source, valid=True, errors=[],
                        anomalies=anomalies, facts=(day, amount), position=position, version=version)  # fmt: skip

    def reject(
        self, position: int, original: Any, errors: list[dict[str, str]], codes: list[str], normalized: Any,
        version: str,
    ) -> None:  # fmt: skip
        line = {"position": position, "record": original, "errors": errors, "format": version}
        self.rejected.write(orjson.dumps(line) + b"\n")
        if not isinstance(normalized, dict):
            return
        kind = "contrat-concession" if "autoriteConcedante" in normalized else "marche"
        flat = view(normalized, version, kind)
        uid = row_uid(flat, False)
        if uid is None:
            return
        self.meta.add({"position": position, "valid": False, "format": version, "kind": kind, "uid": uid})
        self.tables.add(flat, uid=uid, source=self.source, valid=False, errors=codes,
                        anomalies=static_anomalies(flat), facts=facts(flat), position=position,
                        version=version)  # fmt: skip

    def close(self) -> None:
        self.records.close()
        self.rejected.close()
        self.meta.close()
        self.tables.close()
