"""The shipped sources.yaml covers the national dataset, and every fact of it is traceable to a peer's registry.

Each entry cites, in its caveats, the registry files of shared/realdata/other/source-registries/ (copied in
tests/source-registries/) that list its data.gouv.fr dataset ids or its URL; docs/sources.md,
"Shipped sources".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from decp_pipeline.config import FORMATS, PACKAGED_CONFIG, Source, load_config

from .conftest import run_cli

REGISTRIES = Path(__file__).parent / "source-registries"  # not in fixtures/: test_columns reads every file there
CITATION = re.compile(r"other/source-registries/([\w.-]+\.(?:json|csv))")
READ_FORMATS = {"auto", "json", "xml", "dume-api"}  # DECP 1.x / 2022 JSON and XML, and the DUME API days
SHIPPED = load_config(str(PACKAGED_CONFIG)).sources


def datasets(source: Source) -> list[str]:
    if source.kind != "datagouv_dataset":
        return []
    location = source.location
    return [location["dataset"]] if "dataset" in location else list(location["datasets"])


def cited(source: Source) -> list[str]:
    return sorted(set(CITATION.findall(str(source.extra.get("caveats", "")))))


def test_the_shipped_config_loads_and_is_listed() -> None:
    result = run_cli("sources", "--json")
    assert result.exit_code == 0, result.stderr
    listed = json.loads(result.stdout)["sources"]
    assert [s["id"] for s in listed] == [s.id for s in SHIPPED]
    assert len(SHIPPED) == 26
    assert sum(s.enabled for s in SHIPPED) == 19


def test_ids_are_unique_and_the_seed_ids_are_kept() -> None:
    ids = [s.id for s in SHIPPED]
    assert len(ids) == len(set(ids))
    seeds = {"pes-marche", "aife", "dume-api", "e-marchespublics", "grandlyon", "marches-publics-info"}
    assert seeds <= set(ids)


def test_no_two_entries_share_a_dataset() -> None:
    seen: dict[str, str] = {}
    for source in SHIPPED:
        for dataset in datasets(source):
            assert dataset not in seen, f"{dataset} in {seen.get(dataset)} and {source.id}"
            seen[dataset] = source.id
    assert len(seen) == 71


def test_every_cited_registry_exists() -> None:
    files = {p.name for p in REGISTRIES.iterdir()}
    for source in SHIPPED:
        assert set(cited(source)) <= files, source.id


@pytest.mark.parametrize("source", [s for s in SHIPPED if s.kind in ("datagouv_dataset", "url")], ids=str)
def test_every_dataset_id_and_url_is_in_a_registry_the_entry_cites(source: Source) -> None:
    files = cited(source)
    assert files, f"{source.id} cites no registry file"
    text = "\n".join((REGISTRIES / name).read_text(encoding="utf-8") for name in files)
    for dataset in datasets(source):
        assert dataset in text, f"{source.id}: {dataset} not in {files}"
    if source.kind == "url":
        urls = [source.location["url"]] if "url" in source.location else source.location["urls"]
        for url in urls:
            assert url in text, f"{source.id}: {url} not in {files}"


def test_every_enabled_entry_has_a_format_we_read() -> None:
    assert set(FORMATS) >= READ_FORMATS
    for source in SHIPPED:
        if source.enabled:
            assert source.format in READ_FORMATS, source.id
            assert source.kind != "dume_api" or source.format == "dume-api", source.id
            formats = source.location.get("formats", ["json", "xml"])
            assert set(formats) <= {"json", "xml"}, source.id


def test_every_entry_has_caveats_a_licence_and_says_whether_it_was_verified() -> None:
    for source in SHIPPED:
        caveats = str(source.extra.get("caveats", ""))
        assert caveats.strip(), source.id
        assert str(source.extra.get("license", "")).strip(), source.id  # a licence, or "unknown"
        assert (
            "Verified on" in caveats
            or "Documented shape only" in caveats
            or "Read on real" in caveats
            or (not source.enabled and "Disabled" in caveats)
        ), source.id
        if not source.enabled:
            assert caveats.startswith("Disabled"), f"{source.id}: a disabled entry says why first"


def test_the_real_files_named_in_the_caveats_exist(realdata: Path) -> None:
    named = re.compile(
        r"\b((?:aife-dume|aws-marchespublicsinfo|dematis-emarchespublics|grandlyon|pes-marche|"
        r"consolidated|decp-2022)/[\w./-]+\.(?:json|xml))"
    )
    checked = 0
    for source in SHIPPED:
        for path in named.findall(str(source.extra.get("caveats", ""))):
            assert (realdata / path).is_file(), f"{source.id}: {path}"
            checked += 1
    assert checked >= 8
