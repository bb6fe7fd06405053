"""The table rows of valid records made as columns (pipeline/columns.py) equal those rows.py makes record by record.

Every file of the samples and of the shipped real excerpts (JSON and XML, formats 1.x and 2022, marchés and
concessions) is read into a file result twice: as the build does (columns, rows.py only where Arrow's reader
refuses a chunk), and with rows.py alone. Every cached table fragment must be equal, value for value.
"""

from __future__ import annotations

import collections
from pathlib import Path

import orjson
import pyarrow as pa
import pytest

from decp_pipeline.models.contract import Contract
from decp_pipeline.normalize.hooks import FileContext
from decp_pipeline.pipeline import cache, columns
from decp_pipeline.pipeline.cache import FileResult, read_fragment
from decp_pipeline.pipeline.dedup.rules import Facts
from decp_pipeline.pipeline.record import Kept, RecordProcessor
from decp_pipeline.pipeline.tables import TABLES, fragment_name
from decp_pipeline.readers.records import RecordFile

from .conftest import FIXTURES

SAMPLES = Path(__file__).parents[1] / "samples"
FILES = sorted(
    p for p in [*SAMPLES.rglob("*"), *FIXTURES.rglob("*")] if p.suffix in (".json", ".xml") and p.parent.name != "ocds"
)  # (the OCDS schemas hold no DECP)


def fragments(path: Path, folder: Path, made: collections.Counter[str]) -> dict[str, pa.Table | None]:
    """The fragments of the valid records of one file, as FileResult caches them."""
    source = "test-source"
    processor, record_file = RecordProcessor(source), RecordFile(str(path))
    context = FileContext(source, str(path))
    context.syntax = record_file.sniff()
    folder.mkdir()
    result = FileResult(folder, source)
    try:
        for raw in record_file.records():
            outcome = processor.process(raw, context, collections.Counter())
            if isinstance(outcome, Kept):
                result.keep(outcome)
                made["records"] += outcome.contract.uid is not None
    except Exception:  # a malformed excerpt: the records before the fault are enough
        pass
    result.close()
    return {name: read_fragment(folder / fragment_name(name, True)) for name in TABLES}


def test_columns_equal_rows_on_every_shipped_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert len(FILES) == 54
    made: collections.Counter[str] = collections.Counter()
    tables_of = columns.tables_of

    def counted(chunk: columns.Chunk, source: str) -> dict[str, pa.Table] | None:
        made[f"{chunk.version} {chunk.kind}"] += len(chunk.lines)
        return tables_of(chunk, source)

    monkeypatch.setattr(cache, "tables_of", counted)
    built = {path: fragments(path, tmp_path / f"c{n}", made) for n, path in enumerate(FILES)}

    def refused(chunk: columns.Chunk, source: str) -> None:
        return None  # rows.py only

    monkeypatch.setattr(cache, "tables_of", refused)
    for n, path in enumerate(FILES):
        reference = fragments(path, tmp_path / f"r{n}", collections.Counter())
        for name, table in built[path].items():
            expected = reference[name]
            assert (table is None) == (expected is None), (path, name)
            if table is not None:
                assert table.equals(expected), (path, name, table.to_pylist()[:2], expected.to_pylist()[:2])
    # Every kind of record was made as columns (none refused here), both formats.
    assert set(made) == {"records", "1.5 marche", "1.5 contrat-concession", "2.0 marche", "2.0 contrat-concession"}
    assert sum(v for k, v in made.items() if k != "records") == made["records"]


def test_a_value_of_another_type_is_made_by_rows_py(tmp_path: Path) -> None:
    """A 1.5 marché holding a 2022 field as a number (not checked by the 1.5 schema): Arrow's reader refuses the
    chunk, rows.py converts the value to a text, as the column is."""
    sample = next(SAMPLES.glob("marches-publics-info/*.json"))
    record = orjson.loads(sample.read_bytes())["marches"][0]
    record["ccag"] = 5
    record["uid"] = "x"
    contract = Contract(record, "1.5", "marche")
    chunk = columns.Chunk("1.5", "marche")
    chunk.add(contract, orjson.dumps(record), 1, (None, None), (None, None))
    assert columns.tables_of(chunk, "test-source") is None
    result = FileResult(tmp_path, "test-source")
    result.keep(Kept(1, contract, orjson.dumps(record), contract.digest(), Facts.of(contract), [], (None, None)))
    result.close()
    rows = read_fragment(tmp_path / "marches.arrow")
    assert rows is not None
    assert rows.column("ccag").to_pylist() == ["5"]
