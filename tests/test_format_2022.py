"""Format 2022: normalizing to 2.0.3, the Dématis 2024 daily files end to end, decp-2022.json."""

from __future__ import annotations

import copy
import json
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from decp_pipeline.models.contract import flat_view
from decp_pipeline.normalize.decp2022 import Normalizer2022
from decp_pipeline.validation.files import FileValidation
from decp_pipeline.validation.json_records import json_validator

from .conftest import REAL, load
from .test_build import build, inputs

DEMATIS_2024 = load(REAL / "e-marchespublics_2024-07_dematis20.json")["marches"]["marche"]
VALID = next(r for r in DEMATIS_2024 if json_validator("2.0").is_valid(r, "marche") and r.get("modifications"))


def normalized(record: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    tally: Counter[str] = Counter()
    return Normalizer2022().normalize(copy.deepcopy(record), "marche", tally), dict(tally)


def test_a_valid_real_record_is_not_touched():
    assert normalized(VALID) == (VALID, {})


def test_shapes_types_and_forbidden_fields():
    broken = copy.deepcopy(VALID)
    broken["titulaires"] = [t["titulaire"] for t in VALID["titulaires"]]  # AWS's hybrid: 1.x-style items
    broken["techniques"] = VALID["techniques"]["technique"][0]  # a single value
    broken["marcheInnovant"] = "non"
    broken["offresRecues"] = str(VALID["offresRecues"])
    broken["modifications"][0]["modification"]["id"] = "1"
    broken["_type"] = "Marché"
    broken["offresRecues_source"] = "acheteur"  # Dématis's own provenance field
    record, fixes = normalized(broken)
    assert record == {**VALID, "marcheInnovant": False}
    assert VALID["marcheInnovant"] is False
    assert fixes == {
        "list-wrapped": len(VALID["titulaires"]),
        "list-unwrapped": 1,
        "boolean-from-text": 1,
        "number-from-text": 2,
        "non-schema-field-dropped": 2,
    }
    assert json_validator("2.0").is_valid(record, "marche")


def test_flat_view_for_tables_and_consolidation():
    view = flat_view(VALID, "marche")
    assert view["titulaires"] == [t["titulaire"] for t in VALID["titulaires"]]
    assert view["modifications"][0] == VALID["modifications"][0]["modification"]
    assert view["techniques"] == "; ".join(VALID["techniques"]["technique"])
    assert view["_type"] == "Marché"


@pytest.mark.realdata
def test_dematis_2024_daily_files_together(tmp_path, realdata):
    folder = realdata / "dematis-emarchespublics" / "decp-2022-boutalex"
    files = sorted(folder.glob("*.json"))
    raw = sum(
        len(json.loads(f.read_text())["marches"].get(k) or []) for f in files for k in ("marche", "contrat-concession")
    )
    code, report, _ = build(tmp_path, "e-marchespublics", *inputs(e_marchespublics=folder))
    counts = report["sources"]["e-marchespublics"]
    assert code == 0
    assert (counts["files"], counts["files_failed"], counts["read"]) == (7, 0, raw) == (7, 0, 786)
    assert (counts["exported"], counts["rejected"], counts["duplicates"]) == (721, 6, 59)
    # Contracts republished in several daily files (with a new modification or another date) are kept once.
    assert counts["duplicates_by_rule"] == {"same-uid": 59}
    # demantis.json's "_type" on every record; two sub-contracting modifications with the 2.0.0 draft's names.
    assert counts["fixes"] == {"non-schema-field-dropped": 141, "draft-2.0.0-name": 2}
    # Every rejection is a value out of range or missing: modification id 0, idAccordCadre of 20 characters ...
    assert counts["errors"]["minimum:modifications[].modification.id"] == 3
    dist = tmp_path / "dist"
    validation = FileValidation(str(dist / "decp-2022.json"), "2.0")
    assert list(validation) == []
    assert validation.result.records == 721
    published = json.loads((dist / "decp-2022.json").read_text())["marches"]
    assert len(published["marche"]) + len(published.get("contrat-concession", [])) == 721
    assert not any("uid" in r or "source" in r for r in published["marche"])  # 2.0.3 forbids them

    import pandas as pd

    marches = pd.read_parquet(dist / "marches.parquet")
    assert marches["uid"].is_unique
    assert set(marches["format"]) == {"2.0"}
    assert int(marches["valid"].sum()) == len(published["marche"])
    assert marches["offresRecues"].notna().all() or marches["offresRecues"].dtype.kind in "if"
    # Sub-contracting and multi-valued fields, which a peer drops, are linked tables.
    acts = pd.read_parquet(dist / "actes_sous_traitance.parquet")
    # 199 of the exported marchés, 14 of rejected records whose uid an exported one holds (under their own key)
    assert len(acts) == report["tables"]["actes_sous_traitance"] == 213
    assert acts["uid"].str.startswith("rejected:").sum() == 14
    assert set(acts["uid"]) <= set(marches["uid"])
    lists = pd.read_parquet(dist / "listes.parquet")
    assert lists.groupby("champ").size().to_dict() == {  # 2 more each: rejected records whose uid is taken
        "considerationsEnvironnementales": 762,
        "considerationsSociales": 738,
        "modalitesExecution": 726,
        "techniques": 726,
        "typesPrix": 726,
    }


def test_1x_and_2022_samples_together(tmp_path):
    samples = Path(__file__).resolve().parents[1] / "samples"
    code, report, _ = build(
        tmp_path,
        "e-marchespublics",
        "--input",
        f"e-marchespublics={samples / 'e-marchespublics'}",
        "--input",
        f"e-marchespublics={samples / '2022' / 'e-marchespublics_2024-07.json'}",
    )
    assert code == 0
    counts = report["sources"]["e-marchespublics"]
    assert (counts["read"], counts["exported"], counts["duplicates_by_rule"]) == (75, 72, {"same-uid": 3})
    dist = tmp_path / "dist"
    assert len(json.loads((dist / "decp.json").read_text())["marches"]) == 29
    assert len(json.loads((dist / "decp-2022.json").read_text())["marches"]["marche"]) == 43


def dume_row(record: dict[str, Any]) -> dict[str, Any]:
    """A real 2022 record as the DUME API sends it (the shape dp's scraper reads, docs §2.3)."""
    top = {k: record[k] for k in ("id", "objet", "nature", "procedure", "dureeMois", "datePublicationDonnees")}
    details = {k: v for k, v in record.items() if k not in top and k not in ("acheteur", "lieuExecution")}
    details["idAcheteur"] = record["acheteur"]["id"]
    details["lieuExecutionCode"] = record["lieuExecution"]["code"]
    details["lieuExecutionTypeCode"] = record["lieuExecution"]["typeCode"]
    details["technique"] = details.pop("techniques")["technique"]
    details["modaliteExecution"] = details.pop("modalitesExecution")["modaliteExecution"]
    details["typePrix"] = details.pop("typesPrix")["typePrix"]
    details["marchesInnovant"] = details.pop("marcheInnovant")  # the API's spelling
    details["titulaires"] = [t["titulaire"] for t in details["titulaires"]]
    modifications = details.pop("modifications", None)
    row = {**top, "referenceUnique": f"AIFEDUME-{record['id']}", "donneesMP": details}
    if modifications is not None:
        row["modifications"] = modifications
    return row


def test_dume_api_rows_lose_no_field(tmp_path):
    by_uid = {r["acheteur"]["id"] + r["id"]: r for r in DEMATIS_2024 if json_validator("2.0").is_valid(r, "marche")}
    records = list(by_uid.values())[:10]  # distinct contracts (the file republishes some)
    day = tmp_path / "dume"
    day.mkdir()
    (day / "2024-07-15.json").write_text(json.dumps({"donneesEssentielles": [dume_row(r) for r in records]}))
    code, report, _ = build(tmp_path, "dume-api", *inputs(dume_api=day))
    assert code == 0
    assert (report["sources"]["dume-api"]["read"], report["sources"]["dume-api"]["exported"]) == (10, 10)
    published = json.loads((tmp_path / "dist" / "decp-2022.json").read_text())["marches"]["marche"]
    assert sorted(published, key=lambda r: r["id"]) == sorted(records, key=lambda r: r["id"])
    assert all("techniques" in r and "modalitesExecution" in r and "marcheInnovant" in r for r in published)


def test_names_of_the_2_0_0_draft():
    draft = copy.deepcopy(VALID)
    draft["technique"] = draft.pop("techniques")["technique"]
    draft["typePrix"] = draft.pop("typesPrix")["typePrix"]
    draft["_type"] = "Marché"
    record, fixes = normalized(draft)
    assert record == VALID
    assert fixes == {"draft-2.0.0-name": 2, "non-schema-field-dropped": 1}


def test_a_file_of_2022_marches_and_concessions_publishes_each_in_its_list(tmp_path):
    """decp-2022.json takes each kept record of a file into the list of its kind (the build tells them apart
    by codes, pipeline/plan.py FORMS): marchés in `marche`, concessions in `contrat-concession`, in reading order."""
    by_uid = {r["acheteur"]["id"] + r["id"]: r for r in DEMATIS_2024 if json_validator("2.0").is_valid(r, "marche")}
    marches = list(by_uid.values())[:3]
    concession = load(Path(__file__).parent / "fixtures" / "validation-corpus" / "v20-json-concession-valid.json")
    concessions = concession["marches"]["contrat-concession"]
    folder = tmp_path / "dematis"
    folder.mkdir()
    document = {"marches": {"marche": marches[:2], "contrat-concession": concessions}}
    (folder / "a.json").write_text(json.dumps(document, ensure_ascii=False), encoding="utf-8")
    (folder / "b.json").write_text(json.dumps({"marches": {"marche": marches[2:]}}, ensure_ascii=False), "utf-8")
    code, report, _ = build(tmp_path, "e-marchespublics", *inputs(e_marchespublics=folder))
    assert code == 0
    assert report["sources"]["e-marchespublics"]["exported"] == 3 + len(concessions) == 5
    published = json.loads((tmp_path / "dist" / "decp-2022.json").read_text(encoding="utf-8"))["marches"]
    assert [r["id"] for r in published["marche"]] == [r["id"] for r in marches]
    assert [r["id"] for r in published["contrat-concession"]] == ["0612202306122024", "0612202306122023"]
    assert json.loads((tmp_path / "dist" / "decp.json").read_text(encoding="utf-8")) == {"marches": []}
