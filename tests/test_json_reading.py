"""Reading JSON files: wrapper shapes, encodings and malformed files, on real and broken inputs."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path

import pytest

from decp_pipeline.exceptions import JsonSyntaxError
from decp_pipeline.readers.json_stream import NanRepair, iter_records, sniff_layout
from decp_pipeline.validation.files import FileValidation

from .conftest import fixture


def records(path: str) -> list[tuple[str | None, dict]]:
    return list(iter_records(path, sniff_layout(path)))


def test_format_15_list() -> None:
    path = fixture("aws_marches-publics.info_2019-03-07_excerpt.json")
    layout = sniff_layout(path)
    assert (layout.shape, layout.lists) == ("marches-list", [("marches.item", None)])
    found = records(path)
    assert len(found) == 49
    assert found[0][1]["id"] == "2018MC1804600"
    assert found[0][1]["montant"] == 0


def test_format_2022_lists_in_document_order() -> None:
    # The official example puts the concessions before the marchés: records come back in that order.
    path = fixture("fcp-master_json_marches_concessions.json")
    assert sniff_layout(path).shape == "marches-object"
    kinds = [kind for kind, _ in records(path)]
    assert kinds == ["contrat-concession", "contrat-concession", "marche", "marche"]


def test_format_2022_real_daily_file() -> None:
    found = records(fixture("e-marchespublics_2024-07_dematis20.json"))
    assert len(found) == 45
    assert {kind for kind, _ in found} == {"marche"}


def write(tmp_path: Path, content: bytes, name: str = "f.json") -> str:
    path = tmp_path / name
    path.write_bytes(content)
    return str(path)


def test_bare_list_and_single_record(tmp_path: Path) -> None:
    record = b'{"id": "2019A00", "acheteur": {"id": "21350238800019", "nom": "X"}}'
    bare = write(tmp_path, b"[" + record + b"," + record + b"]")
    assert sniff_layout(bare).shape == "list"
    assert len(records(bare)) == 2
    single = write(tmp_path, record, "single.json")
    assert sniff_layout(single).shape == "record"
    assert records(single) == [(None, {"id": "2019A00", "acheteur": {"id": "21350238800019", "nom": "X"}})]


def test_utf8_bom_is_skipped(tmp_path: Path) -> None:
    path = write(tmp_path, b'\xef\xbb\xbf{"marches": [{"id": "caf\xc3\xa9"}]}')
    assert records(path) == [(None, {"id": "café"})]


def test_truncated_file_gives_line_and_column(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"marches": [\n  {"id": "a"},\n  {"id": "b"')
    with pytest.raises(JsonSyntaxError) as caught:
        records(path)
    assert (caught.value.line, caught.value.column) == (3, 13)
    assert "truncated" in caught.value.message


def test_syntax_error_position_in_a_large_file(tmp_path: Path) -> None:
    # The fault lies far past the first 64 KiB chunk: the locating pass still finds its exact line.
    body = b",\n".join(b'  {"id": "%d"}' % i for i in range(20_000))
    path = write(tmp_path, b'{"marches": [\n' + body + b',\n  {"id": "x" "y": 1}\n]}')
    with pytest.raises(JsonSyntaxError) as caught:
        records(path)
    assert caught.value.line == 20_002
    assert caught.value.column == 16  # the end of the token "y" that breaks the grammar


def test_nan_is_a_problem_with_its_position_and_read_as_build_reads_it() -> None:
    """decp-processing's real test file has `"concessionnaires": NaN` at line 351, column 29. 0.10.1's validate
    stopped there (not well-formed JSON) while build read the value as absent: both read it as absent now, and
    validate still says where it is, and checks every record."""
    validation = FileValidation(fixture("decp-processing_decp_test_2022.json"))
    problems = list(validation)
    syntax = [p for p in problems if p.rule == "syntax"]
    assert [(p.line, p.column) for p in syntax] == [(351, 29)]
    assert syntax[0].message.startswith("NaN, Infinity or -Infinity is not JSON (1 such value(s), the first here)")
    assert not validation.result.malformed
    assert validation.result.records > 1  # the records after the NaN are checked too


def test_infinity_is_read_as_nan_is(tmp_path: Path) -> None:
    """0.10.1's build failed the whole file on `Infinity`, with the hint meant for NaN."""
    path = write(tmp_path, b'{"marches": [{"id": "1", "montant": Infinity}, {"id": "2", "montant": -Infinity}]}')
    validation = FileValidation(path)
    syntax = [p for p in validation if p.rule == "syntax"]
    assert [(p.line, p.column) for p in syntax] == [(1, 37)]
    assert "2 such value(s)" in syntax[0].message
    assert validation.result.records == 2


def test_invalid_utf8(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"marches": [{"objet": "Entretien caf\xe9"}]}')
    problems = list(FileValidation(path))
    assert [(p.rule, p.line, p.column) for p in problems] == [("syntax", 1, 38)]  # the byte 0xE9 itself
    assert "UTF-8" in problems[0].message


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty"),
        (b"   \n ", "the file is empty"),
        (b"\xff\xfe{\x00}\x00", "UTF-16"),
        (b"<!DOCTYPE html><html><body>Service unavailable</body></html>", "HTML page"),
        (b"PK\x03\x04rest", "ZIP archive"),
        (b"\x1f\x8b\x08", "gzip"),
        (b"id;nom\n1;x", "neither JSON nor XML"),
    ],
)
def test_not_decp_data(tmp_path: Path, content: bytes, message: str) -> None:
    validation = FileValidation(write(tmp_path, content))
    problems = list(validation)
    assert len(problems) == 1
    assert message in problems[0].message
    assert validation.result.status == "invalid"


def test_envelope_problems(tmp_path: Path) -> None:
    cases = {
        b'{"data": []}': ("required", "no 'marches' key"),
        b'{"marches": {"marche": {"id": "1"}}}': ("type", "expected a list of records, got object"),
        b'{"marches": {"autre": []}}': ("required", "a 'marche' or 'contrat-concession' list is required"),
    }
    for content, (rule, message) in cases.items():
        problems = list(FileValidation(write(tmp_path, content)))
        assert [(p.rule, message in p.message) for p in problems] == [(rule, True)], problems


def test_2022_file_forced_to_15_says_why(tmp_path: Path) -> None:
    problems = list(FileValidation(fixture("fcp-master_json_marches_concessions.json"), "1.5"))
    assert problems[0].path == "marches"
    assert "looks like format 2022" in problems[0].message


def test_identical_records_break_unique_items(tmp_path: Path) -> None:
    record = Path(fixture("fcp-1.5.0_json_paquet.json")).read_bytes()
    import json

    first = json.loads(record)["marches"][0]
    reordered = dict(reversed(list(first.items())))  # same record, keys in another order
    path = write(tmp_path, json.dumps({"marches": [first, json.loads(record)["marches"][1], reordered]}).encode())
    problems = list(FileValidation(path))
    assert [(p.rule, p.path) for p in problems] == [("uniqueItems", "marches[2]")]
    assert problems[0].message == "record 3 is identical to record 1; records must be unique"


def test_deep_nesting_is_refused_before_parsing(tmp_path: Path) -> None:
    # 100,000 nested lists: the parser would spend hours building their paths.
    path = write(tmp_path, b'{"marches": [' + b"[" * 100_000 + b"]" * 100_000 + b"]}")
    start = time.monotonic()
    problems = list(FileValidation(path))
    assert time.monotonic() - start < 5
    assert [(p.rule, p.line) for p in problems] == [("syntax", 1)]
    assert "nested more than 512 levels" in problems[0].message


def test_whole_file_and_streamed_readings_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    """Small files are parsed whole (orjson), large ones streamed (ijson): the same records either way."""
    from decp_pipeline.readers import json_stream

    paths = [fixture(name) for name in ("aws_marches-publics.info_2019-03-07_excerpt.json",
             "fcp-master_json_marches_concessions.json", "e-marchespublics_2024-07_dematis20.json")]  # fmt: skip
    whole = [records(path) for path in paths]
    monkeypatch.setattr(json_stream, "WHOLE_FILE_MAX", 0)
    assert [records(path) for path in paths] == whole


def test_a_wrapper_key_written_twice_loses_no_list(tmp_path: Path) -> None:
    path = write(tmp_path, b'{"marches": [{"id": "A1"}], "marches": [{"id": "B2"}, {"id": "C3"}]}')
    assert [record["id"] for _, record in records(path)] == ["A1", "B2", "C3"]


def test_nan_read_as_null_wherever_the_chunks_are_cut(tmp_path: Path) -> None:
    """A pandas export with a NaN in every record: the stream is read in chunks, and a NaN cut by a chunk
    boundary (`"montant": Na` | `N,`) is still read as null (it used to stop the file there)."""
    record = json.loads(Path(fixture("aws_marches-publics.info_2019-03-07_excerpt.json")).read_text())["marches"][0]
    absent = ("montant", "dureeMois", "dateNotification", "codeCPV", "formePrix", "nature")
    copies = [{**record, "id": f"{record['id']}{n}", "objet": record["objet"] + " " * (n % 41),
               **dict.fromkeys(absent, "@")} for n in range(3000)]  # fmt: skip
    path = tmp_path / "pandas.json"
    path.write_text(json.dumps({"marches": copies}).replace('"@"', "NaN"))
    assert path.stat().st_size > 10 * 65536  # many chunks of the streaming parser
    nan = NanRepair()
    found = list(iter_records(str(path), sniff_layout(str(path), nan), nan))
    assert [r["id"] for _, r in found] == [c["id"] for c in copies]
    assert all(r[field] is None for _, r in found for field in absent)
    assert [r["objet"] for _, r in found] == [c["objet"] for c in copies]
    assert nan.count == 3000 * len(absent)


@pytest.mark.parametrize("chunk", range(1, 48))
def test_nan_repair_at_every_chunk_boundary(chunk: int) -> None:
    document = b'{"marches": [{"montant": NaN, "dureeMois":NaN ,"titulaires": [NaN], "objet": "NaN"}]}'
    nan = NanRepair()
    stream = nan.wrap(io.BytesIO(document))
    read = b"".join(iter(lambda: stream.read(chunk), b""))
    assert json.loads(read) == {"marches": [{"montant": None, "dureeMois": None, "titulaires": [None],
                                             "objet": "NaN"}]}  # fmt: skip
    assert nan.count == 3
