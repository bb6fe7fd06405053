"""Releases (pipeline/release.py): a whole release per build, made current in one step, checked against its
manifest; the delta against the previous release (pipeline/delta.py), duplicates.csv and index.parquet
(pipeline/lineage.py), `decp diff`."""

from __future__ import annotations

import copy
import csv
import hashlib
import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from decp_pipeline.models.contract import kind_of, uid_of
from decp_pipeline.pipeline.release import damage

from .conftest import force_assembly, run_cli

SAMPLES = Path(__file__).parents[1] / "samples"
AWS = SAMPLES / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"
SEED = ["pes-marche", "aife", "e-marchespublics", "grandlyon", "marches-publics-info"]
ALL_SAMPLES = [*SEED, *[a for s in SEED for a in ("--input", f"{s}={SAMPLES / s}")]]
BUILD_ID = re.compile(r"^\d{8}T\d{6}\.\d{3}Z-[0-9a-f]{8}$")


def build(tmp_path: Path, *args: str) -> Any:
    return run_cli("build", "--offline", "--data-dir", str(tmp_path / "data"), "--out", str(tmp_path / "dist"), *args)


def aws_build(tmp_path: Path, records: list[dict[str, Any]], *args: str) -> Any:
    """A build of marches-publics-info from one file holding `records`."""
    folder = tmp_path / "aws"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir()
    (folder / "2019-03-07.json").write_bytes(orjson.dumps({"marches": records}))
    return build(tmp_path, "marches-publics-info", "--input", f"marches-publics-info={folder}", *args)


def aws_records() -> list[dict[str, Any]]:
    return list(json.loads(AWS.read_text(encoding="utf-8"))["marches"])


def uid(record: dict[str, Any]) -> str:
    found = uid_of(record, kind_of(record))
    assert found is not None
    return found


def delta_rows(dist: Path) -> list[dict[str, str]]:
    with open(dist / "current" / "delta.csv", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def test_a_build_is_a_whole_release_made_current(tmp_path: Path) -> None:
    result = build(tmp_path, *ALL_SAMPLES)
    assert result.exit_code == 0, result.output
    dist = tmp_path / "dist"
    [release] = (dist / "releases").iterdir()
    assert BUILD_ID.match(release.name)
    assert os.readlink(dist / "current") == f"releases/{release.name}"
    report = json.loads((dist / "report.json").read_text())
    manifest = json.loads((dist / "manifest.json").read_text())
    assert report["release"] == manifest["build_id"] == release.name
    assert manifest["build_fingerprint"] == report["build_fingerprint"]
    assert manifest["counts"]["total"]["exported"] == report["total"]["exported"] == 108
    names = sorted(p.name for p in release.iterdir() if p.is_file())
    assert sorted(manifest["files"]) == [n for n in names if n != "manifest.json"]
    assert (
        sorted(manifest["folders"]) == sorted(p.name for p in release.iterdir() if p.is_dir()) == ["acheteurs", "ocds"]
    )
    for name, facts in manifest["files"].items():
        content = (release / name).read_bytes()
        assert (len(content), hashlib.sha256(content).hexdigest()) == (facts["size"], facts["sha256"])
        assert os.readlink(dist / name) == f"current/{name}"  # the documented paths, through `current`
    assert {"decp.json", "decp-2022.json", "delta.json", "delta.csv", "duplicates.csv", "index.parquet"} <= set(names)
    assert damage(release, checksums=True) == []


def test_nothing_changed_is_said_after_checking_the_manifest(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    assert build(tmp_path, *ALL_SAMPLES).exit_code == 0
    second = build(tmp_path, *ALL_SAMPLES)
    assert "Nothing changed since the last build" in second.stdout
    assert len(list((dist / "releases").iterdir())) == 1
    # A file of the release lost its end: its size differs from the manifest's, the release is rebuilt.
    marches = dist / "current" / "marches.csv"
    size = marches.stat().st_size
    marches.write_bytes(marches.read_bytes()[:-10])
    third = build(tmp_path, *ALL_SAMPLES)
    assert third.exit_code == 0
    assert "Nothing changed" not in third.stdout
    assert f"was damaged (marches.csv has {size - 10:,} bytes, the manifest says {size:,}): rebuilt" in third.stderr
    assert len(list((dist / "releases").iterdir())) == 2
    assert damage(dist / "current") == []
    # Same size, another byte: only the checksums see it (--verify).
    decp = dist / "current" / "decp.json"
    content = bytearray(decp.read_bytes())
    content[100] = ord("X") if content[100] != ord("X") else ord("Y")
    decp.write_bytes(bytes(content))
    assert "Nothing changed" in build(tmp_path, *ALL_SAMPLES).stdout
    verified = build(tmp_path, *ALL_SAMPLES, "--verify")
    assert "decp.json: its sha256 differs from the manifest's" in verified.stderr
    assert damage(dist / "current", checksums=True) == []


def test_the_last_n_releases_are_kept(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8")
    config.write_text(shipped + "\nreleases:\n  keep: 2\n", encoding="utf-8")
    records = aws_records()
    ids = []
    for count in (10, 20, 30):
        assert aws_build(tmp_path, records[:count], "--config", str(config)).exit_code == 0
        ids.append(os.readlink(tmp_path / "dist" / "current").split("/")[-1])
    assert sorted(p.name for p in (tmp_path / "dist" / "releases").iterdir()) == ids[1:]
    diff = run_cli("diff", "--out", str(tmp_path / "dist"))
    assert diff.exit_code == 0
    assert diff.stdout.splitlines()[-1] == f"{ids[1]} -> {ids[2]}: 10 added, 0 removed, 0 changed, 20 unchanged"
    gone = run_cli("diff", ids[0], "--out", str(tmp_path / "dist"))
    assert gone.exit_code == 2
    assert f"no release '{ids[0]}' (kept: {ids[1]}, {ids[2]})" in gone.stderr


def test_releases_setting_is_checked(tmp_path: Path) -> None:
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8")
    config.write_text(shipped + "\nreleases:\n  keep: 0\n  kep: 3\n", encoding="utf-8")
    result = run_cli("sources", "--config", str(config))
    assert result.exit_code == 2
    assert "releases: unknown key 'kep'" in result.stderr
    assert "releases: key 'keep': expected a whole number of releases >= 1, got 0" in result.stderr


def test_delta_of_one_record_changed_one_removed_one_added(tmp_path: Path) -> None:
    """The done-when case on a real 2019 file (the AWS excerpt): exactly those three uids in the delta."""
    records = aws_records()
    first, added = records[:-1], records[-1]
    assert aws_build(tmp_path, first).exit_code == 0
    assert {r["change"] for r in delta_rows(tmp_path / "dist")} == {"added"}  # the first release: every uid
    second = copy.deepcopy(first)
    changed = second[1]
    changed["montant"] = changed["montant"] + 1
    removed = second.pop(2)
    assert aws_build(tmp_path, [*second, added]).exit_code == 0
    assert delta_rows(tmp_path / "dist") == [
        {"change": "added", "uid": uid(added), "source": "marches-publics-info", "format": "1.5", "reason": "",
         "superseded_by": "", "rule": "", "fields": ""},
        {"change": "removed", "uid": uid(removed), "source": "marches-publics-info", "format": "1.5",
         "reason": "record-vanished", "superseded_by": "", "rule": "", "fields": ""},
        {"change": "changed", "uid": uid(changed), "source": "marches-publics-info", "format": "1.5", "reason": "",
         "superseded_by": "", "rule": "", "fields": "montant"},
    ]  # fmt: skip
    delta = json.loads((tmp_path / "dist" / "delta.json").read_text())
    assert delta["counts"] == {"added": 1, "removed": 1, "changed": 1, "unchanged": 46,
                               "removed_by_reason": {"record-vanished": 1},
                               "without_uid": {"previous": 0, "current": 0}}  # fmt: skip
    diff = run_cli("diff", "--out", str(tmp_path / "dist"))
    assert diff.stdout.splitlines()[:3] == [
        f"+ {uid(added)} (marches-publics-info, 1.5)",
        f"- {uid(removed)} (marches-publics-info, 1.5): record-vanished",
        f"~ {uid(changed)} (marches-publics-info, 1.5): montant",
    ]
    as_json = json.loads(run_cli("diff", "--json", "--out", str(tmp_path / "dist")).stdout)
    assert as_json == delta


def test_delta_says_why_a_uid_is_gone(tmp_path: Path) -> None:
    """Superseded by a newer version (1.x: `…00` then `…01` with one modification), now rejected."""
    records = aws_records()
    newer = next(r for r in records if r["id"] == "2018PA182801")
    older = copy.deepcopy(newer) | {"id": "2018PA182800", "modifications": []}
    invalid = records[0]
    base = [r for r in records if r is not newer]
    assert aws_build(tmp_path, [*base, older]).exit_code == 0
    broken = {**invalid, "montant": "beaucoup"}
    assert aws_build(tmp_path, [broken, *base[1:], older, newer]).exit_code == 0
    rows = {r["uid"]: r for r in delta_rows(tmp_path / "dist")}
    assert rows[uid(older)]["reason"] == "superseded"
    assert (rows[uid(older)]["superseded_by"], rows[uid(older)]["rule"]) == (uid(newer), "version")
    assert rows[uid(invalid)]["reason"] == "rejected"
    assert rows[uid(newer)]["change"] == "added"
    assert len(rows) == 3


def test_duplicates_csv_lists_every_dropped_copy(tmp_path: Path) -> None:
    """The copies dropped within a file (exact-copy, when it is read) and by the consolidation, each with the
    record it lost to; as many rows as report.json counts duplicates."""
    records = aws_records()
    assert aws_build(tmp_path, [*records[:3], records[0]]).exit_code == 0  # the 4th is the 1st again
    with open(tmp_path / "dist" / "duplicates.csv", encoding="utf-8") as f:
        [row] = list(csv.DictReader(f))
    assert row == {"source": "marches-publics-info", "file": str(tmp_path / "aws" / "2019-03-07.json"),
                   "position": "4", "uid": uid(records[0]), "rule": "exact-copy", "kept_uid": uid(records[0]),
                   "kept_source": "marches-publics-info", "kept_file": str(tmp_path / "aws" / "2019-03-07.json"),
                   "kept_position": "1"}  # fmt: skip
    assert build(tmp_path, *ALL_SAMPLES).exit_code == 0
    report = json.loads((tmp_path / "dist" / "report.json").read_text())
    with open(tmp_path / "dist" / "duplicates.csv", encoding="utf-8") as f:
        dropped = list(csv.DictReader(f))
    assert len(dropped) == report["total"]["duplicates"] == 1
    assert dropped[0]["rule"] == "same-uid"
    assert dropped[0]["uid"] == dropped[0]["kept_uid"]


def test_index_gives_each_published_record_its_line(tmp_path: Path) -> None:
    assert build(tmp_path, *ALL_SAMPLES).exit_code == 0
    release = tmp_path / "dist" / "current"
    index = pq.read_table(release / "index.parquet").to_pylist()
    lines = {}
    for output, wrapper in (("decp.json", lambda d: d["marches"]),
                            ("decp-2022.json", lambda d: d["marches"]["marche"] + d["marches"].get("contrat-concession", []))):  # fmt: skip  # noqa: E501
        lines[output] = wrapper(json.loads((release / output).read_text(encoding="utf-8")))
    assert len(index) == sum(len(v) for v in lines.values()) == 108
    for row in index:
        record = lines[row["output"]][row["line"]]
        assert uid_of(record, row["kind"]) == row["uid"]


def test_stale_temporaries_of_dead_runs_are_removed_and_flat_outputs_become_links(tmp_path: Path) -> None:
    """An --out written by 0.11 (flat files) and the temporaries of killed runs: the next build removes those of
    dead processes and replaces each flat file by its link into the release."""
    dist = tmp_path / "dist"
    dist.mkdir()
    pid = _dead_pid()
    (dist / "decp.json").write_text('{"marches": []}')
    (dist / f".decp.json.{pid}.tmp").write_text("half")
    (dist / "releases" / f".{pid}.tmp").mkdir(parents=True)
    (dist / "releases" / f".{pid}.tmp" / "decp.json").write_text("half")
    assert build(tmp_path, *ALL_SAMPLES).exit_code == 0
    assert os.readlink(dist / "decp.json") == "current/decp.json"
    assert not list(dist.glob(".*"))
    assert not list((dist / "releases").glob(".*"))


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_damaged_release_without_report_is_rebuilt(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    assert build(tmp_path, *ALL_SAMPLES).exit_code == 0
    force_assembly(dist)
    result = build(tmp_path, *ALL_SAMPLES)
    assert "was damaged (report.json is missing): rebuilt from the cached results" in result.stderr
    assert damage(dist / "current") == []


@pytest.mark.realdata
def test_delta_on_the_real_2019_file(tmp_path: Path, realdata: Path) -> None:
    """The whole real AWS file of 2019-03-07 (4,509 records): one record changed, one removed, one added."""
    records = json.loads((realdata / "aws-marchespublicsinfo" / "decp-json_marches-publics.info_2019-03-07.json")
                         .read_text(encoding="utf-8"))["marches"]  # fmt: skip
    assert aws_build(tmp_path, records[:-1]).exit_code == 0
    exported = json.loads((tmp_path / "dist" / "delta.json").read_text())["counts"]["added"]
    kept = [r["uid"] for r in pq.read_table(tmp_path / "dist" / "index.parquet").to_pylist()]
    second = copy.deepcopy(records[:-1])
    position = {u: i for i, u in reversed(list(enumerate(uid_of(r, kind_of(r)) for r in second)))}
    changed, removed = second[position[kept[10]]], second[position[kept[20]]]
    changed["objet"] = changed["objet"] + " (modifié)"
    second.remove(removed)
    assert aws_build(tmp_path, [*second, records[-1]]).exit_code == 0
    delta = json.loads((tmp_path / "dist" / "delta.json").read_text())
    assert [(r["change"], r["uid"]) for r in delta["changes"]] == [
        ("added", uid(records[-1])), ("removed", kept[20]), ("changed", kept[10])]  # fmt: skip
    assert delta["changes"][2]["fields"] == "objet"
    assert delta["counts"]["unchanged"] == exported - 2


def test_a_damaged_release_never_stops_the_next_build_nor_diff(tmp_path: Path) -> None:
    """Found on a fresh clone: an unreadable index.parquet or record line of the current release crashed every
    later build with new inputs (a traceback from the delta), and `decp diff` with it."""
    records = aws_records()
    assert aws_build(tmp_path, records[:-1]).exit_code == 0
    dist = tmp_path / "dist"
    first = os.readlink(dist / "current").split("/")[-1]
    (dist / "current" / "index.parquet").write_bytes(b"garbage")
    result = aws_build(tmp_path, records)
    assert result.exit_code == 0, result.output
    warning = f"WARNING: release {first} is damaged: its index.parquet cannot be read ("
    assert warning in result.stderr
    assert result.stderr.rstrip().endswith("this release's delta is against no release (every uid added)")
    assert "Traceback" not in result.output
    manifest = json.loads((dist / "current" / "manifest.json").read_text())
    assert manifest["previous"] is None
    assert {r["change"] for r in delta_rows(dist)} == {"added"}
    assert any("index.parquet cannot be read" in w for w in json.loads((dist / "report.json").read_text())["warnings"])
    diff = run_cli("diff", "--out", str(dist), first, "current")
    assert diff.exit_code == 1
    assert diff.stderr.startswith(f"Error: release {first} is damaged: its index.parquet cannot be read")
    again = aws_build(tmp_path, records)  # nothing changed: the warning of the build before is not said again
    assert "Nothing changed" in again.stdout
    [warning] = [line for line in again.stderr.splitlines() if line.startswith("WARNING")]
    # only the silent source, still silent (docs/build.md); how many days ago depends on today
    assert warning.startswith("WARNING: source marches-publics-info is silent: its newest publication is of 2019-02-28")
    assert warning.endswith(" days ago, against a usual gap of 2 day(s)")


def test_a_release_without_its_manifest_is_rebuilt_and_still_the_delta_base(tmp_path: Path) -> None:
    records = aws_records()
    assert aws_build(tmp_path, records).exit_code == 0
    dist = tmp_path / "dist"
    first = os.readlink(dist / "current").split("/")[-1]
    (dist / "current" / "manifest.json").unlink()
    result = aws_build(tmp_path, records)
    assert f"release {first} was damaged ({first}/manifest.json is missing or unreadable): rebuilt" in result.stderr
    manifest = json.loads((dist / "current" / "manifest.json").read_text())
    assert manifest["previous"] == first
    assert json.loads((dist / "delta.json").read_text())["counts"]["unchanged"] == 49
    assert run_cli("diff", "--out", str(dist), first, "current").exit_code == 0


def test_pruning_keeps_the_release_rolled_back_to(tmp_path: Path) -> None:
    """keep: 2; releases A, B; rolled back to A; C is built against A: A stays (C's delta base), B goes."""
    config = tmp_path / "sources.yaml"
    shipped = (Path(__file__).parents[1] / "sources.yaml").read_text(encoding="utf-8")
    config.write_text(shipped + "\nreleases:\n  keep: 2\n", encoding="utf-8")
    records = aws_records()
    dist = tmp_path / "dist"
    ids = []
    for count in (47, 48):
        assert aws_build(tmp_path, records[:count], "--config", str(config)).exit_code == 0
        ids.append(os.readlink(dist / "current").split("/")[-1])
    a, b = ids
    (dist / "current.new").symlink_to(f"releases/{a}")
    os.replace(dist / "current.new", dist / "current")
    assert aws_build(tmp_path, records, "--config", str(config)).exit_code == 0
    c = os.readlink(dist / "current").split("/")[-1]
    assert sorted(p.name for p in (dist / "releases").iterdir()) == [a, c]
    assert b not in {a, c}
    diff = run_cli("diff", "--out", str(dist))
    assert diff.stdout.splitlines()[-1].startswith(f"{a} -> {c}: 2 added, 0 removed")


def test_diff_of_a_first_release_says_where_its_delta_is(tmp_path: Path) -> None:
    assert aws_build(tmp_path, aws_records()).exit_code == 0
    dist = tmp_path / "dist"
    current = os.readlink(dist / "current").split("/")[-1]
    result = run_cli("diff", "--out", str(dist))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"Error: {dist}/: the current release {current} was compared with no release")
    missing = run_cli("diff", "--out", str(tmp_path / "nowhere"))
    assert (
        missing.stderr
        == f"Error: {tmp_path / 'nowhere'}/: no such folder (--out: where `decp build` wrote its releases)\n"
    )


def test_the_rebuild_of_a_damaged_release_replaces_it_in_the_delta(tmp_path: Path) -> None:
    """A (47 records), B (49: 2 added); B damaged, rebuilt as C from the same inputs: C's delta is against A,
    so the 2 added uids are still the day's delta (against B it would be empty)."""
    records = aws_records()
    dist = tmp_path / "dist"
    assert aws_build(tmp_path, records[:47]).exit_code == 0
    a = os.readlink(dist / "current").split("/")[-1]
    assert aws_build(tmp_path, records).exit_code == 0
    marches = dist / "current" / "marches.csv"
    marches.write_bytes(marches.read_bytes()[:-5])
    result = aws_build(tmp_path, records)
    assert "was damaged (marches.csv has" in result.stderr
    assert json.loads((dist / "manifest.json").read_text())["previous"] == a
    assert json.loads((dist / "delta.json").read_text())["counts"]["added"] == 2


def test_index_lines_hold_in_a_file_that_mixes_formats_and_kinds(tmp_path: Path) -> None:
    """Found in review: a file of [1.5 concession, 1.5 marché, 1.5 concession, 2022 marché, 1.5 marché] had its
    1.5 marchés written before its 1.5 concessions, so 2 of 5 index lines pointed at another record (and the
    delta read the wrong one). The official 1.5 example (fcp-1.5.0 paquet) and a real 2022 marché (Dématis)."""
    from .conftest import fixture

    marche, concession = json.loads(Path(fixture("fcp-1.5.0_json_paquet.json")).read_text(encoding="utf-8"))["marches"]
    marche_2022 = json.loads(Path(fixture("e-marchespublics_2024-07_dematis20.json")).read_text())["marches"]["marche"][
        0
    ]
    other = copy.deepcopy(marche)
    other["id"] = str(other["id"])[:-2] + "99"
    other_concession = copy.deepcopy(concession)
    other_concession["id"] = str(other_concession["id"]) + "X"
    records = [concession, marche, other_concession, marche_2022, other]
    folder = tmp_path / "mixed"
    folder.mkdir()
    (folder / "mixed.json").write_bytes(orjson.dumps({"marches": records}))
    result = build(tmp_path, "marches-publics-info", "--input", f"marches-publics-info={folder}")
    assert result.exit_code in (0, 1), result.output
    release = tmp_path / "dist" / "current"
    index = pq.read_table(release / "index.parquet").to_pylist()
    lists = {"decp.json": json.loads((release / "decp.json").read_text())["marches"],
             "decp-2022.json": json.loads((release / "decp-2022.json").read_text())["marches"]["marche"]}  # fmt: skip
    assert [(row["kind"], row["output"], row["line"]) for row in index] == [
        ("contrat-concession", "decp.json", 0), ("marche", "decp.json", 1), ("contrat-concession", "decp.json", 2),
        ("marche", "decp-2022.json", 0), ("marche", "decp.json", 3)]  # fmt: skip
    for row in index:
        assert uid_of(lists[row["output"]][row["line"]], row["kind"]) == row["uid"]
