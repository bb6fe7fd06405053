"""The fast validators give the reference validators' verdicts on every real record.

- JSON: jsonschema-rs (what `decp validate` and the pipeline use) against jsonschema (the reference Python
  implementation), record by record and whole document;
- XML: libxml2 through lxml (an XSD 1.0 processor) against xmlschema's XSD 1.1 processor, since the 1.5 XSDs
  declare XSD 1.1.

Run on the fixtures always, and on every file of shared/realdata when it is present (it is in CI).
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import xmlschema
from lxml import etree

from decp_pipeline.detect import xml_record_version
from decp_pipeline.exceptions import XmlSyntaxError
from decp_pipeline.official_schemas import VERSIONS, load_json_schema, schema_path
from decp_pipeline.readers.json_stream import iter_records, sniff_layout
from decp_pipeline.readers.xml_stream import XmlReader
from decp_pipeline.validation.files import FileValidation
from decp_pipeline.validation.json_records import json_validator
from decp_pipeline.validation.xml_records import xml_validator

from .conftest import CORPUS, REAL

SKIPPED_FOLDERS = (
    "schemas",
    "datagouv-dataset-metadata",
    "source-registries",
    "dcat",
    "scdl-marches-publics",
)
JSON_VERSIONS = {"marches-list": "1.5", "marches-object": "2.0"}


def data_files(folder: Path, suffix: str) -> list[Path]:
    return sorted(
        p for p in folder.rglob(f"*{suffix}") if not set(SKIPPED_FOLDERS) & set(p.parts) and p.name != "verdicts.json"
    )


@cache
def reference_validator(version: str, kind: str | None) -> jsonschema.protocols.Validator:
    schema = load_json_schema(VERSIONS[version].json_schema)
    cls = jsonschema.validators.validator_for(schema)
    if kind is None:
        return cls(schema)
    if version == "1.5":
        sub = {"$schema": schema["$schema"], **schema["properties"]["marches"]["items"]}
    else:
        sub = {"$schema": schema["$schema"], "$ref": f"#/definitions/{kind}"}
    return cls({**sub, "definitions": schema["definitions"]})


def json_records(path: Path) -> Iterator[tuple[str, str | None, Any]]:
    layout = sniff_layout(str(path))
    version = JSON_VERSIONS.get(layout.shape)
    if version is None:
        return
    try:
        for kind, record in iter_records(str(path), layout):
            yield version, kind, record
    except Exception:
        return


def check_json_file(path: Path) -> int:
    """Compare the verdicts on every record of one file; return the number of records compared."""
    compared = 0
    for version, kind, record in json_records(path):
        ours = json_validator(version)
        the_kind = ours.kind_of(record, kind)
        reference = reference_validator(version, the_kind if version == "2.0" else "any")
        fast = ours.is_valid(record, the_kind)
        assert fast == reference.is_valid(record), (path, record.get("id"))
        assert fast == (ours.errors(record, the_kind) == []), (path, record.get("id"))
        compared += 1
    return compared


def check_json_document(path: Path) -> None:
    """The whole-file verdict of `decp validate` is the reference verdict on the whole document."""
    layout = sniff_layout(str(path))
    version = JSON_VERSIONS.get(layout.shape)
    if version is None:
        return
    import json

    try:
        document = json.loads(path.read_bytes().removeprefix(b"\xef\xbb\xbf"))
    except ValueError:
        return
    validation = FileValidation(str(path))
    list(validation)
    assert (validation.result.status == "valid") == reference_validator(version, None).is_valid(document), path


@pytest.mark.parametrize("path", data_files(REAL, ".json") + data_files(CORPUS, ".json"), ids=lambda p: p.name)
def test_json_fixture_records(path: Path) -> None:
    check_json_file(path)
    check_json_document(path)


def test_json_realdata_records(realdata: Path) -> None:
    files = data_files(realdata, ".json")
    compared = 0
    for path in files:
        compared += check_json_file(path)
        check_json_document(path)
    # 1.x: AWS 4509 + AIFE 4530 + PES 1148 + 110 + 49 + Dématis 470 + per-file PES; 2022: Dématis daily files ...
    assert compared > 12_000


# -- XML ---------------------------------------------------------------------------------------------


def xsd11(version: str) -> xmlschema.XMLSchemaBase:
    cls = xmlschema.XMLSchema10 if version == "2.0" else xmlschema.XMLSchema11
    return _schemas.setdefault(version, cls(str(schema_path(VERSIONS[version].xsd))))


_schemas: dict[str, xmlschema.XMLSchemaBase] = {}


# xmlschema takes ~80 ms on an invalid record: past this many records per file (only the non-regulatory
# Région Bretagne conversion has more, 762), the rest of the file is left to the lxml-only tests.
MAX_XML_RECORDS_PER_FILE = 50


def check_xml_file(path: Path) -> int:
    reader = XmlReader(str(path))
    compared = 0
    version = None
    try:
        for item in reader.items():
            if item.kind is None:
                continue
            version = version or xml_record_version(item.element)
            fast = xml_validator(version).is_valid(item.element)
            standalone = etree.tostring(item.element)
            assert fast == xsd11(version).is_valid(standalone), (path, item.line)
            compared += 1
            if compared == MAX_XML_RECORDS_PER_FILE:
                break
    except XmlSyntaxError:
        return compared
    return compared


@pytest.mark.parametrize("path", data_files(REAL, ".xml") + data_files(CORPUS, ".xml"), ids=lambda p: p.name)
def test_xml_fixture_records(path: Path) -> None:
    check_xml_file(path)


def test_xml_realdata_records(realdata: Path) -> None:
    compared = sum(check_xml_file(p) for p in data_files(realdata, ".xml"))
    assert compared > 50
