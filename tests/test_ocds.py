"""The OCDS export (ocds/): the demo's five seed samples, a Dématis 2022 file and the official validator corpus's
2022 concessions, built once; every package checked against the OCDS 1.1.5 schemas with the reference
`jsonschema` library (formats checked: date-time, uri), every compiled release against the reference merge
(ocdsmerge, with the release schema extended by the decp extension), and the mapped values against the DECP
records they come from."""

from __future__ import annotations

import copy
import json
import re
import shutil
import warnings
import zipfile
from pathlib import Path
from typing import Any

import msgspec.inspect as mi
import ocdsmerge
import orjson
import pytest
from jsonschema import Draft4Validator, FormatChecker
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT4

from decp_pipeline.models import decp15, decp2022
from decp_pipeline.models.contract import Contract
from decp_pipeline.ocds import mapping, pieces
from decp_pipeline.ocds import write as ocds_write
from decp_pipeline.ocds.archive import zip_folder
from decp_pipeline.ocds.merge import compile_releases
from decp_pipeline.ocds.settings import OcdsSettings
from decp_pipeline.ocds.write import write_ocds
from decp_pipeline.pipeline.release import damage

from .conftest import FIXTURES, run_cli
from .test_build import ALL_SAMPLES, SAMPLES, build, inputs

SCHEMAS = FIXTURES / "ocds"
EXTENSION = Path(__file__).resolve().parents[1] / "src" / "decp_pipeline" / "ocds" / "extension"
ROUSSET = "ocds-78apv2-211300876000112019MAPA28201801"  # a marché of the AWS sample with one modification
AWS = ("marches-publics-info", "--input", f"marches-publics-info={SAMPLES / 'marches-publics-info'}")
CONCESSIONS = FIXTURES / "validation-corpus" / "v20-json-concession-valid.json"


def schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text(encoding="utf-8"))


def validator(name: str) -> Draft4Validator:
    """The OCDS schema `name`, its $refs to the release schema resolved locally (no network)."""
    resources = [(s["id"], Resource(s, specification=DRAFT4)) for s in map(schema, ("release-schema.json", name))]
    return Draft4Validator(schema(name), registry=Registry().with_resources(resources), format_checker=FormatChecker())


def extended_release_schema() -> dict[str, Any]:
    """The release schema with the decp extension's patch applied (JSON Merge Patch, as OCDS extensions are)."""

    def patch(base: dict[str, Any], changes: dict[str, Any]) -> None:
        for key, value in changes.items():
            if isinstance(value, dict) and isinstance(base.get(key), dict):
                patch(base[key], value)
            else:
                base[key] = value

    extended = copy.deepcopy(schema("release-schema.json"))
    patch(extended, json.loads((EXTENSION / "release-schema.json").read_text(encoding="utf-8")))
    return extended


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp_path = tmp_path_factory.mktemp("ocds")
    concessions = tmp_path / "concessions"
    concessions.mkdir()
    (concessions / "c.json").write_bytes(CONCESSIONS.read_bytes())
    more = inputs(e_marchespublics=SAMPLES / "2022" / "e-marchespublics_2024-07.json", grandlyon=concessions)
    code, _, output = build(tmp_path, *ALL_SAMPLES, *more)
    assert code == 0, output
    return tmp_path / "dist"


def packages(dist: Path) -> dict[str, dict[str, Any]]:
    return {p.name: json.loads(p.read_bytes()) for p in sorted((dist / "ocds" / "releases").rglob("*.json"))}


def records(dist: Path) -> dict[str, Any]:
    return json.loads((dist / "ocds" / "records.json").read_bytes())


def published(dist: Path) -> list[dict[str, Any]]:
    """The records of decp.json and decp-2022.json."""
    decp_2022 = json.loads((dist / "decp-2022.json").read_bytes())["marches"]
    return [*json.loads((dist / "decp.json").read_bytes())["marches"], *decp_2022["marche"],
            *decp_2022.get("contrat-concession", [])]  # fmt: skip


def test_every_package_is_valid_ocds_1_1(dist):
    found = packages(dist)
    releases = validator("release-package-schema.json")
    assert len(found) == 61
    for name, package in found.items():
        assert [e.message for e in releases.iter_errors(package)] == [], name
        assert {release["date"][:10] for release in package["releases"]} == {name.removesuffix(".json")}
    assert [e.message for e in validator("record-package-schema.json").iter_errors(records(dist))] == []


def test_the_formats_are_checked():
    """The validator of the tests refuses a release dated with a day only, and a url with a space."""
    release = {"ocid": "ocds-78apv2-1", "id": "1", "date": "2019-01-29", "tag": ["award"], "initiationType": "tender"}
    package = {"uri": "https://a.example/x y.json", "version": "1.1", "publishedDate": "2026-01-01T00:00:00Z",
               "publisher": {"name": "x"}, "releases": [release]}  # fmt: skip
    assert sorted(e.json_path for e in validator("release-package-schema.json").iter_errors(package)) == [
        "$.releases[0].date",
        "$.uri",
    ]


def test_one_record_per_published_contract_and_one_release_per_modification(dist):
    contracts = published(dist)
    found = records(dist)["records"]
    assert len(found) == len(contracts) == 108 + 43 + 2
    releases = [release for package in packages(dist).values() for release in package["releases"]]
    modifications = sum(len(c.get("modifications", [])) for c in contracts)
    assert len(releases) == len(contracts) + modifications == 153 + 30
    report = json.loads((dist / "report.json").read_bytes())["ocds"]
    assert (report["contracts"], report["releases"], report["packages"], report["skipped"]) == (153, 183, 61, {})
    assert len({r["ocid"] for r in found}) == len(found)


def test_compiled_releases_equal_the_reference_merge(dist):
    by_ocid: dict[str, list[dict[str, Any]]] = {}
    for package in packages(dist).values():
        for release in package["releases"]:
            by_ocid.setdefault(release["ocid"], []).append(release)
    merger = ocdsmerge.Merger(extended_release_schema())
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ocdsmerge warns of objects sharing an id in a list
        for record in records(dist)["records"]:
            assert record["compiledRelease"] == merger.create_compiled_release(by_ocid[record["ocid"]])
            assert [link["date"] for link in record["releases"]] == sorted(r["date"] for r in by_ocid[record["ocid"]])


def test_a_modified_contract_shows_its_initial_and_amended_values(dist):
    record = next(r for r in records(dist)["records"] if r["ocid"] == ROUSSET)
    base = "https://decp.invalid/ocds/releases/2019"
    assert record["releases"] == [
        {"url": f"{base}/2019-01-29.json#{ROUSSET}-00", "date": "2019-01-29T00:00:00Z", "tag": ["award", "contract"]},
        {"url": f"{base}/2019-02-12.json#{ROUSSET}-01", "date": "2019-02-12T00:00:00Z", "tag": ["contractAmendment"]},
    ]
    compiled = record["compiledRelease"]
    award, contract = compiled["awards"][0], compiled["contracts"][0]
    assert award["value"] == {"amount": 13216, "currency": "EUR"}  # at the notification
    assert contract["value"] == {"amount": 52866, "currency": "EUR"}  # after the modification
    assert contract["amendments"] == [{
        "id": "1", "date": "2019-01-29T00:00:00Z", "description": "erreur sur le prix global",
        "amendsReleaseID": f"{ROUSSET}-00", "releaseID": f"{ROUSSET}-01",
    }]  # fmt: skip
    assert compiled["buyer"] == {"id": "FR-RCS-21130087600011", "name": "MAIRIE DE ROUSSET"}
    assert award["suppliers"] == [{"id": "FR-RCS-33332163600479", "name": "SHARP BUSINESS SYSTEMS FRANCE"}]
    assert contract["items"] == [{"id": "1", "classification": {"scheme": "CPV", "id": "30121100"}}]
    assert compiled["tender"] == {"id": "2019MAPA28201801", "procurementMethodDetails": "Procédure adaptée"}
    assert contract["decp"]["dureeMois"] == 48
    assert contract["decp"]["lieuExecution"] == {"code": "13590", "typeCode": "Code postal", "nom": "MAIRIE DE ROUSSET"}


def test_2022_fields_and_concessions(dist):
    by_ocid = {r["ocid"]: r["compiledRelease"] for r in records(dist)["records"]}
    marche = next(r for r in published(dist) if r.get("offresRecues") == 3 and "techniques" in r)
    compiled = by_ocid[f"ocds-78apv2-{marche['acheteur']['id']}{marche['id']}"]
    assert compiled["tender"]["numberOfTenderers"] == 3
    assert compiled["contracts"][0]["decp"]["techniques"] == marche["techniques"]["technique"]
    assert compiled["contracts"][0]["decp"]["marcheInnovant"] == marche["marcheInnovant"]
    concessions = [c for c in by_ocid.values() if c.get("tender", {}).get("procuringEntity")]
    assert len(concessions) == 5 + 2  # the AWS sample's 1.5 concessions and the corpus's 2022 ones
    for concession in concessions:
        assert "buyer" not in concession
        entity = next(p for p in concession["parties"] if p["id"] == concession["tender"]["procuringEntity"]["id"])
        assert entity["roles"] == ["procuringEntity"]
        assert concession["tender"]["mainProcurementCategory"] in ("works", "services")
        assert concession["contracts"][0]["dateSigned"].endswith("T00:00:00Z")


def test_new_winners_are_a_new_award_and_roles_are_gathered():
    """A 2022 marché of the Dématis file, given a modification that changes its winners: the modification's
    release updates the award; the same winners again change no award; a buyer that also wins has both roles."""
    dematis = json.loads((SAMPLES / "2022" / "e-marchespublics_2024-07.json").read_bytes())["marches"]["marche"]
    record = copy.deepcopy(next(r for r in dematis if "modifications" not in r))
    buyer = record["acheteur"]["id"]
    first = record["titulaires"][0]["titulaire"]["id"]
    record["modifications"] = [
        {"modification": {"id": 1, "dateNotificationModification": "2024-08-01", "montant": 1000,
                          "datePublicationDonneesModification": "2024-08-02",
                          "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": buyer}}]}},
        {"modification": {"id": 2, "dateNotificationModification": "2024-09-01", "dureeMois": 7,
                          "datePublicationDonneesModification": "2024-09-02",
                          "titulaires": [{"titulaire": {"typeIdentifiant": "SIRET", "id": buyer}}]}},
    ]  # fmt: skip
    acts = [
        {
            "modificationActeSousTraitance": {
                "id": 1,
                "dateNotificationModificationSousTraitance": day,
                "montant": amount,
                "datePublicationDonnees": day,
            }
        }
        for day, amount in (("2024-08-05", 100), ("2024-08-06", 200))
    ]  # ids repeat, as in real files
    record["modificationsActesSousTraitance"] = acts
    ocid = "ocds-78apv2-" + buyer + record["id"]
    found = mapping.releases(Contract(record, "2.0", "marche"), ocid)
    assert [r["tag"] for r in found] == [["award", "contract"], ["contractAmendment", "awardUpdate"],
                                         ["contractAmendment"]]  # fmt: skip
    assert found[1]["awards"] == [{"id": f"{record['id']}-01", "status": "active", "date": "2024-08-01T00:00:00Z",
                                   "suppliers": [{"id": f"FR-RCS-{buyer}"}]}]  # fmt: skip
    compiled = compile_releases(found)
    assert compiled == ocdsmerge.Merger(extended_release_schema()).create_compiled_release(found)
    assert compiled["contracts"][0]["awardID"] == f"{record['id']}-01"
    assert compiled["contracts"][0]["decp"]["dureeMois"] == 7
    assert compiled["contracts"][0]["value"] == {"amount": 1000, "currency": "EUR"}
    assert compiled["contracts"][0]["decp"]["modificationsActesSousTraitance"] == [
        a["modificationActeSousTraitance"] for a in acts
    ]  # not folded
    roles = {p["id"]: p["roles"] for p in compiled["parties"]}
    assert roles[f"FR-RCS-{buyer}"] == ["buyer", "supplier"]
    assert roles[f"FR-RCS-{first}"] == ["supplier"]


def test_a_day_that_is_no_date_is_refused_not_guessed():
    assert mapping.date_time("2019-01-29") == "2019-01-29T00:00:00Z"
    assert mapping.date_time("2019-01-29+02:00") == "2019-01-29T00:00:00+02:00"
    assert mapping.date_time("29/01/2019") is None
    record = {"id": "2019X00", "acheteur": {"id": "21130087600011"}, "datePublicationDonnees": "janvier 2019"}
    with pytest.raises(ValueError, match="datePublicationDonnees is not a date"):
        mapping.releases(Contract(record, "1.5", "marche"), "ocds-78apv2-x")


def test_the_zip_holds_the_folder_and_the_manifest_covers_it(dist, tmp_path):
    folder = dist / "current" / "ocds"
    zip_folder(folder, tmp_path / "a.zip")
    zip_folder(folder, tmp_path / "b.zip")
    assert (tmp_path / "a.zip").read_bytes() == (tmp_path / "b.zip").read_bytes()  # same folder, same bytes
    with zipfile.ZipFile(tmp_path / "a.zip") as archive:
        names = archive.namelist()
        assert names == sorted(names)
        assert {n: archive.read(n) for n in names} == {
            f"ocds/{p.relative_to(folder).as_posix()}": p.read_bytes() for p in folder.rglob("*") if p.is_file()
        }
    manifest = json.loads((dist / "manifest.json").read_bytes())
    assert manifest["folders"]["ocds"]["files"] == 61 + 1 + 2  # the day packages, records.json, the extension
    assert damage(dist / "current", checksums=True) == []
    copy = tmp_path / "release"
    shutil.copytree(dist / "current", copy)
    (copy / "ocds" / "releases" / "2019" / "2019-01-29.json").write_bytes(b"{}")
    assert damage(copy, checksums=True)[0].startswith("ocds/ has 64 files of ")
    package = next(iter(packages(dist).values()))
    assert package["extensions"] == ["https://decp.invalid/ocds/extension/extension.json"]
    assert json.loads((folder / "extension" / "extension.json").read_bytes())["schemas"] == ["release-schema.json"]


def test_settings_name_the_ocids_and_uris_and_the_switch_leaves_it_out(tmp_path):
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).resolve().parents[1] / "sources.yaml").read_text(encoding="utf-8")
    config.write_text(shipped + "\nocds: {prefix: ocds-abc123, base_uri: 'https://data.example.org/decp/ocds/'}\n")
    code, _, output = build(tmp_path, "--config", str(config), *AWS)
    assert code == 0, output
    record = records(tmp_path / "dist")["records"][0]
    assert record["ocid"].startswith("ocds-abc123-")
    assert record["releases"][0]["url"].startswith("https://data.example.org/decp/ocds/releases/")
    config.write_text(shipped + "\noutputs: {ocds: false}\n")
    code, _, output = build(tmp_path, "--config", str(config), *AWS)
    assert code == 0, output
    assert not (tmp_path / "dist" / "ocds").exists()
    assert not (tmp_path / "dist" / "ocds.zip").exists()
    assert not (tmp_path / "dist" / "ocds").is_symlink()  # no dead link left


def test_a_bad_prefix_is_a_one_line_configuration_error(tmp_path):
    config = tmp_path / "sources.yaml"
    config.write_text("sources: []\nocds: {prefix: OCDS-1, base_uri: ftp://x}\n")
    result = run_cli("sources", "--config", str(config))
    assert result.exit_code == 2
    assert "ocds: key 'prefix': expected the ocid prefix: ocds- and 6 lower-case letters or digits, got 'OCDS-1'" in (
        result.output
    )
    assert "ocds: key 'base_uri': expected an absolute URI (http:// or https:// in lower case" in result.output


def schema_fields(model: Any) -> list[str]:
    """The dotted paths of the leaf fields of a typed model (models/): what the official schema defines."""
    found: list[str] = []

    def walk(info: Any, prefix: str) -> None:
        if isinstance(info, mi.StructType):
            for field in info.fields:
                before = len(found)
                walk(field.type, f"{prefix}{field.encode_name}.")
                if len(found) == before:
                    found.append(prefix + field.encode_name)
        elif isinstance(info, mi.UnionType):
            for member in info.types:
                walk(member, prefix)
        elif isinstance(info, mi.ListType):
            walk(info.item_type, prefix)
        elif isinstance(info, mi.Metadata):
            walk(info.type, prefix)

    walk(mi.type_info(model), "")
    return list(dict.fromkeys(found))


def test_the_mapping_documents_every_field_and_its_coverage():
    text = (Path(__file__).resolve().parents[1] / "docs" / "ocds.md").read_text(encoding="utf-8")
    models = {
        "Format 1.5, marché": decp15.Marche,
        "Format 1.5, contrat de concession": decp15.ContratConcession,
        "Format 2022, marché": decp2022.Marche,
        "Format 2022, contrat de concession": decp2022.ContratConcession,
    }
    stated = {
        f"{m[0]} {m[1]}": m[2]
        for m in re.findall(r"^\| (1\.5|2022) (marché|contrat de concession) \| (\d+ \| \d+ \| \d+) \|", text, re.M)
    }
    assert len(stated) == 4
    for title, model in models.items():
        section = text.split(f"### {title}\n")[1].split("\n### ")[0]
        rows = re.findall(r"^\| `([^`]+)` \| .* \| (OCDS|decp) \|$", section, re.M)
        assert [field for field, _ in rows] == schema_fields(model), title
        where = [w for _, w in rows]
        assert (
            stated[title.removeprefix("Format ").replace(",", "")]
            == f"{len(rows)} | {where.count('OCDS')} | {where.count('decp')}"
        )


def test_pieces_in_worker_processes_write_the_same_bytes(dist, tmp_path, monkeypatch):
    """The export cut into pieces of 4 KB (dozens) mapped by two worker processes writes what one piece in this
    process writes, byte for byte."""
    written = {}
    for name, size, workers in (("one", None, "1"), ("many", 4096, "2")):
        folder = tmp_path / name
        folder.mkdir()
        for regulatory in ("decp.json", "decp-2022.json"):
            shutil.copy(dist / regulatory, folder)
        if size:
            monkeypatch.setattr(pieces, "PIECE_BYTES", size)
            monkeypatch.setattr(ocds_write, "PARALLEL_BYTES", 0)
        monkeypatch.setenv("DECP_WORKERS", workers)
        summary = write_ocds(folder, OcdsSettings(), "2026-01-01T00:00:00+00:00")
        assert (summary["contracts"], summary["releases"]) == (153, 183)
        written[name] = {p.relative_to(folder): p.read_bytes() for p in (folder / "ocds").rglob("*") if p.is_file()}
    assert len(pieces.cut(tmp_path / "many")) > 20
    assert written["many"] == written["one"]


def test_every_code_is_in_its_codelist(dist):
    """The codes the export writes, against the standard's codelists (the open ones too: partyRole,
    itemClassificationScheme)."""

    def codes(name: str) -> set[str]:
        return {line.split(",")[0] for line in (SCHEMAS / name).read_text(encoding="utf-8").splitlines()[1:]}

    lists = ("partyRole", "itemClassificationScheme", "method", "procurementCategory", "releaseTag", "initiationType",
             "awardStatus", "currency")  # fmt: skip
    used: dict[str, set[str]] = {f"{name}.csv": set() for name in lists}
    for package in packages(dist).values():
        for release in package["releases"]:
            used["releaseTag.csv"].update(release["tag"])
            used["initiationType.csv"].add(release["initiationType"])
            used["partyRole.csv"].update(role for party in release.get("parties", []) for role in party["roles"])
            tender = release.get("tender", {})
            used["method.csv"].update(v for v in [tender.get("procurementMethod")] if v)
            used["procurementCategory.csv"].update(v for v in [tender.get("mainProcurementCategory")] if v)
            for award in release.get("awards", []):
                used["awardStatus.csv"].add(award["status"])
                used["currency.csv"].update(v["currency"] for v in [award.get("value")] if v)
            for contract in release["contracts"]:
                used["itemClassificationScheme.csv"].update(
                    i["classification"]["scheme"] for i in contract.get("items", [])
                )
    assert used == {
        "partyRole.csv": {"buyer", "procuringEntity", "supplier"},
        "itemClassificationScheme.csv": {"CPV"},
        "method.csv": {"open", "selective", "limited"},
        "procurementCategory.csv": {"services", "works"},
        "releaseTag.csv": {"award", "contract", "contractAmendment"},
        "initiationType.csv": {"tender"},
        "awardStatus.csv": {"active"},
        "currency.csv": {"EUR"},
    }
    for name, found in used.items():
        assert found <= codes(name), name


@pytest.mark.realdata
def test_the_real_files_of_2019_and_2022(tmp_path, realdata):
    """The five real files of 2019 and the Dématis 2022 daily files: every package valid, every compiled release
    with more than one release equal to the reference merge, one record per published contract."""
    from .test_build import REAL_FILES

    args = [*REAL_FILES, *[a for s, path in REAL_FILES.items() for a in ("--input", f"{s}={realdata / path}")]]
    args += ["--input", f"e-marchespublics={realdata / 'dematis-emarchespublics' / 'decp-2022-boutalex'}"]
    code, report, output = build(tmp_path, *args)
    assert code == 0, output
    dist = tmp_path / "dist"
    assert report["ocds"]["contracts"] == report["total"]["exported"] == len(published(dist))
    releases = validator("release-package-schema.json")
    by_ocid: dict[str, list[dict[str, Any]]] = {}
    for name, package in packages(dist).items():
        assert not any(releases.iter_errors(package)), name
        for release in package["releases"]:
            by_ocid.setdefault(release["ocid"], []).append(release)
    found = records(dist)
    assert not any(validator("record-package-schema.json").iter_errors(found))
    merger = ocdsmerge.Merger(extended_release_schema())
    amended = [record for record in found["records"] if len(record["releases"]) > 1]
    modifications = sum(len(record["releases"]) - 1 for record in amended)
    assert (len(amended), modifications) == (176, 258)
    assert modifications == report["ocds"]["releases"] - report["ocds"]["contracts"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for record in amended:
            assert record["compiledRelease"] == merger.create_compiled_release(by_ocid[record["ocid"]])
    tags = {tuple(link["tag"]) for record in amended for link in record["releases"]}
    assert ("contractAmendment", "awardUpdate") in tags


def dematis_marche() -> dict[str, Any]:
    """A real 2022 marché of the Dématis file, without modifications."""
    dematis = json.loads((SAMPLES / "2022" / "e-marchespublics_2024-07.json").read_bytes())["marches"]["marche"]
    return copy.deepcopy(next(r for r in dematis if "modifications" not in r))


def compiled_and_reference(found: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ocdsmerge warns of objects sharing an id: the case under test
        return compile_releases(found), ocdsmerge.Merger(extended_release_schema()).create_compiled_release(found)


def test_what_cannot_be_placed_is_kept_as_published():
    """Modifications sharing a DECP id are two amendments (numbered by their release, the DECP id kept); a
    modification whose publication day is no date has no release and is kept in decp.modifications; a day that
    is no date is kept in decp; a winner listed twice under one id keeps the list; an organization's other
    fields are its party's details."""
    record = dematis_marche()
    record["dateNotification"] = "2024-02-30"
    record["titulaires"].append(copy.deepcopy(record["titulaires"][0]))
    record["acheteur"]["email"] = "achats@example.org"
    modification = {"id": 1, "dateNotificationModification": "2024-08-01", "montant": 1000,
                    "datePublicationDonneesModification": "2024-08-02"}  # fmt: skip
    undated = {**modification, "datePublicationDonneesModification": "le 2 août", "montant": 3000}
    record["modifications"] = [{"modification": m} for m in (modification, {**modification, "montant": 2000}, undated)]
    ocid = f"ocds-78apv2-{record['acheteur']['id']}{record['id']}"
    found = mapping.releases(Contract(record, "2.0", "marche"), ocid)
    assert [r["id"] for r in found] == [f"{ocid}-00", f"{ocid}-01", f"{ocid}-02"]
    compiled, reference = compiled_and_reference(found)
    assert compiled == reference
    contract = compiled["contracts"][0]
    assert [(a["id"], a["decp"]) for a in contract["amendments"]] == [("1", {"id": 1}), ("2", {"id": 1})]
    assert contract["value"] == {"amount": 2000, "currency": "EUR"}
    assert contract["decp"]["modifications"] == [undated]
    assert contract["decp"]["dateNotification"] == "2024-02-30"
    assert "date" not in compiled["awards"][0]
    assert contract["decp"]["titulaires"] == [t["titulaire"] for t in record["titulaires"]]
    buyer = next(p for p in compiled["parties"] if "buyer" in p["roles"])
    assert buyer["details"] == {"email": "achats@example.org"}


def test_dates_are_read_as_the_schemas_write_them():
    assert mapping.date_time("2007-08-19+01:00Z") == "2007-08-19T00:00:00+01:00"
    assert mapping.date_time("2024-05-25Z") == "2024-05-25T00:00:00Z"
    for unreadable in ("2007-19-39", "2007-02-30+01:00", "2007-02-03+29:59", "2024-05-15 10:00", 20240515):
        assert mapping.date_time(unreadable) is None, unreadable


def test_a_marche_and_a_concession_sharing_a_uid_have_two_ocids():
    marche = {"id": "2019X00", "acheteur": {"id": "21130087600011"}, "_type": "Marché"}
    concession = {"id": "2019X00", "autoriteConcedante": {"id": "21130087600011"}, "_type": "Contrat de concession"}
    assert mapping.ocid_of("ocds-78apv2", Contract(marche, "1.5", "marche")) == "ocds-78apv2-211300876000112019X00"
    assert mapping.ocid_of("ocds-78apv2", Contract(concession, "1.5", "contrat-concession")) == (
        "ocds-78apv2-concession-211300876000112019X00"
    )


def test_extra_fields_keep_their_objects_and_odd_records_are_counted_not_fatal(tmp_path):
    """A field outside the schema holding a list of objects that share an id: the compiled release is the
    reference merge's; a record nested too deep to write is left out with its reason, the others written."""
    record = next(r for r in published_demo() if r.get("modifications"))
    record["annexes"] = [{"id": 1, "a": "x"}, {"id": 1, "a": "y"}]
    found = mapping.releases(Contract(record, "1.5", "marche"), "ocds-78apv2-x")
    compiled, reference = compiled_and_reference(found)
    assert compiled == reference
    deep: Any = "fond"
    for _ in range(250):
        deep = {"niveau": deep}
    odd = {**record, "uid": "odd", "id": record["id"] + "9", "profond": deep}
    (tmp_path / "decp.json").write_bytes(
        b'{"marches": [\n' + orjson.dumps(record) + b",\n" + orjson.dumps(odd) + b"\n]}\n"
    )
    (tmp_path / "decp-2022.json").write_bytes(b'{"marches": {"marche": [\n]}}\n')
    summary = write_ocds(tmp_path, OcdsSettings(), "2026-01-01T00:00:00+00:00")
    assert (summary["contracts"], list(summary["skipped"].values())) == (1, [1])
    assert next(iter(summary["skipped"])).startswith("not written as JSON (")


def test_no_contract_writes_no_record_package(tmp_path):
    (tmp_path / "decp.json").write_bytes(b'{"marches": [\n]}\n')
    (tmp_path / "decp-2022.json").write_bytes(b'{"marches": {"marche": [\n]}}\n')
    summary = write_ocds(tmp_path, OcdsSettings(), "2026-01-01T00:00:00+00:00")
    assert (summary["contracts"], summary["packages"]) == (0, 0)
    assert sorted(p.name for p in (tmp_path / "ocds").iterdir()) == ["extension"]


def published_demo() -> list[dict[str, Any]]:
    """The records of the AWS sample, as the demo publishes them (format 1.5, with uid)."""
    path = next((SAMPLES / "marches-publics-info").glob("*.json"))
    return [r for r in json.loads(path.read_bytes())["marches"] if r.get("_type") == "Marché"]
