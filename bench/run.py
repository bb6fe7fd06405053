"""Time `decp build` on a generated corpus against the parse-only floor; check the counts.

    make bench                                   # 150,000 contracts in 500 files (10 % of national size)
    .venv/bin/python bench/run.py --contracts 1500000 --files 5000
    .venv/bin/python bench/run.py --contracts 1500000 --files 5000 --sources pes-marche,aife   # XML only

In one run, on the same files: (a) the parse-only floor: every file parsed by the fastest reader available
(orjson for JSON, lxml for XML) and discarded, in one process, the best of three runs; (b) `decp build --offline`
end to end on a fresh data dir; (c) the same build again, nothing changed; (d) again after one file changed;
(e) a reference: the minimal Python pass (`bench/python_pass.py`: each record converted, walked once and
serialized, nothing else), the least any Python pipeline does per record, the best of three runs; (f) the HTML
report and (g) the OCDS export of b's release written again, each alone (their share of the build).
Each step's wall time, records per second and peak resident memory (the build and its worker processes
together) are printed and written to bench/results.json with the machine's description, and the build's counts
are compared with the generator's.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
DECP = ROOT / ".venv" / "bin" / "decp"
PYTHON = ROOT / ".venv" / "bin" / "python"
FLOOR = """
import sys, orjson
from pathlib import Path
from lxml import etree
n = 0
for path in sorted(p for folder in sys.argv[1:] for p in Path(folder).rglob("*")):
    if path.suffix == ".json":
        orjson.loads(path.read_bytes()); n += 1
    elif path.suffix == ".xml":
        etree.parse(str(path), etree.XMLParser(resolve_entities=False, no_network=True)); n += 1
print(n)
"""


FLOOR_RUNS = 3


def tree_rss(leader: int) -> int:
    """Resident bytes of every process of the build's process group (the build and its workers)."""
    total = 0
    page = os.sysconf("SC_PAGE_SIZE")
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            group = int(stat[stat.rindex(")") + 2 :].split()[2])
            if group == leader:
                total += int(Path(f"/proc/{entry}/statm").read_text().split()[1]) * page
        except (OSError, ValueError, IndexError):
            continue
    return total


def timed(command: list[str]) -> tuple[float, float, subprocess.CompletedProcess[str]]:
    """Wall seconds, peak resident memory (MiB) and the result of a command.

    The peak is the largest sum of the resident memory of the command and all its worker processes, sampled
    every 0.1 s (an upper bound: pages shared by the forked workers count once per process), or the main
    process's own peak (wait4) when that is larger."""
    started = time.monotonic()
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True)  # fmt: skip
    peak = 0
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.1):
            peak = max(peak, tree_rss(process.pid))

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    output: dict[str, str] = {}
    readers = [threading.Thread(target=lambda n=n, f=f: output.__setitem__(n, f.read()), daemon=True)
               for n, f in (("stdout", process.stdout), ("stderr", process.stderr))]  # fmt: skip
    for reader in readers:
        reader.start()
    _, status, usage = os.wait4(process.pid, 0)
    seconds = time.monotonic() - started
    done.set()
    sampler.join()
    for reader in readers:
        reader.join()
    code = os.waitstatus_to_exitcode(status)
    peak_mib = max(peak / 2**20, usage.ru_maxrss / 1024)
    return seconds, peak_mib, subprocess.CompletedProcess(command, code, output["stdout"], output["stderr"])


def best_of(command: list[str]) -> tuple[tuple[float, float, int], list[float], str]:
    """The fastest of `FLOOR_RUNS` runs (seconds, peak MiB, exit code), every run's seconds, its output."""
    runs = [timed(command) for _ in range(FLOOR_RUNS)]
    seconds, peak, result = min(runs, key=lambda run: run[0])
    return (seconds, peak, result.returncode), [run[0] for run in runs], result.stdout.strip()


def count_mismatches(report: dict[str, Any], expected: dict[str, Any], passed: str) -> dict[str, Any]:
    """The build's counts that differ from the generator's, per source (none when all are equal); the minimal
    Python pass must have read every record too, for its time to mean anything."""
    mismatches = {
        source: {k: (report["sources"][source][k], want[k]) for k in ("read", "exported", "rejected", "duplicates")
                 if report["sources"][source][k] != want[k]}
        for source, want in expected["sources"].items()
    }  # fmt: skip
    mismatches = {s: m for s, m in mismatches.items() if m}
    records = sum(s["read"] for s in expected["sources"].values())
    if passed != str(records):
        mismatches["minimal Python pass"] = {"read": (passed, records)}
    return mismatches


def machine() -> dict[str, object]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gib": round(memory, 1), "python": sys.version.split()[0],
            "system": platform.platform()}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--contracts", type=int, default=150_000)
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--work", type=Path, default=ROOT / "bench" / "work")
    parser.add_argument("--sources", help="only these sources of the corpus (comma-separated), e.g. the XML ones")
    parser.add_argument(
        "--buyers",
        type=int,
        default=0,
        help="spread the contracts over N synthetic buyers (generate.py; national: 27000)",
    )
    args = parser.parse_args()
    corpus = args.work / (f"corpus-{args.contracts}-{args.files}" + (f"-{args.buyers}" if args.buyers else ""))
    if not (corpus / "expected.json").is_file():
        print(f"generating {corpus} ...", flush=True)
        subprocess.run([str(PYTHON), str(ROOT / "bench" / "generate.py"), "--contracts", str(args.contracts),
                        "--files", str(args.files), "--out", str(corpus), "--buyers", str(args.buyers)],
                       check=True)  # fmt: skip
    expected = json.loads((corpus / "expected.json").read_text())
    if args.sources:
        wanted = args.sources.split(",")
        if unknown := set(wanted) - set(expected["sources"]):
            parser.error(f"not sources of {corpus}: {', '.join(sorted(unknown))}")
        expected["sources"] = {s: v for s, v in expected["sources"].items() if s in wanted}
    rows, floors, passes, passed, out = run_steps(corpus, list(expected["sources"]), args.work)
    mismatches = count_mismatches(json.loads((out / "report.json").read_text()), expected, passed)
    records = sum(s["read"] for s in expected["sources"].values())
    files = sum(s["files"] for s in expected["sources"].values())
    print_table(rows, floors, passes, mismatches, records, f"{args.contracts:,} contracts, {records:,} records, "
                f"{files} files" + (f" ({', '.join(expected['sources'])})" if args.sources else ""))  # fmt: skip
    results = {"machine": machine(), "contracts": args.contracts, "buyers": args.buyers or "the templates'",
               **summary(rows, floors, passes, records), "files": files, "sources": list(expected["sources"]),
               "counts_match": not mismatches, "mismatches": mismatches}  # fmt: skip
    (ROOT / "bench" / "results.json").write_text(json.dumps(results, indent=2) + "\n")


Row = tuple[str, float, float, int]


def summary(rows: list[Row], floors: list[float], passes: list[float], records: int) -> dict[str, Any]:
    """The steps and the ratios of results.json."""
    full = rows[1][1]
    return {
        "records": records,
        "steps": [{"step": n, "seconds": round(s, 2), "records_per_second": round(records / s), "peak_mib": round(p),
                   "exit": c} for n, s, p, c in rows],
        "full_over_floor": round(full / rows[0][1], 2),
        "floor_runs_seconds": [round(seconds, 2) for seconds in floors],
        "python_pass_over_floor": round(rows[4][1] / rows[0][1], 2),
        "python_pass_runs_seconds": [round(seconds, 2) for seconds in passes],
        "report_over_full": round(rows[5][1] / full, 3),
        "ocds_over_full": round(rows[6][1] / full, 3),
        "sqlite_over_full": round(rows[7][1] / full, 3),
    }  # fmt: skip


def run_steps(corpus: Path, sources: list[str], work: Path) -> tuple[list[Row], list[float], list[float], str, Path]:
    """Steps a to e on the corpus: the rows (name, seconds, peak MiB, exit), the floor's and the minimal pass's
    runs, what the minimal pass printed, and the build's output folder."""
    data, out = work / "data", work / "dist"
    shutil.rmtree(data, ignore_errors=True)
    shutil.rmtree(out, ignore_errors=True)
    build = [str(DECP), "build", "-q", "--offline", "--data-dir", str(data), "--out", str(out), *sources]
    build += [a for s in sources for a in ("--input", f"{s}={corpus / s}")]
    rows: list[Row] = []
    # The floor is the best of three runs: on a shared machine one run of it varies by 30 %, which would move the
    # ratio as much as any change to the build does. So is the minimal Python pass (step e, a reference).
    folders = [str(corpus / s) for s in sources]
    floor, floors, _ = best_of([str(PYTHON), "-c", FLOOR, *folders])
    rows.append(("a. parse-only floor", *floor))
    python_pass, passes, passed = best_of([str(PYTHON), str(ROOT / "bench" / "python_pass.py"), *folders])
    for name in ("b. decp build (full)", "c. re-run, nothing changed"):
        seconds, peak, result = timed(build)
        rows.append((name, seconds, peak, result.returncode))
        if result.returncode:
            print(result.stdout, result.stderr)
    changed = sorted((corpus / sources[0]).iterdir())[0]
    original = changed.read_bytes()
    changed.write_bytes(original + b"\n")
    try:
        seconds, peak, result = timed(build)
    finally:
        changed.write_bytes(original)
    rows.append(("d. re-run, one file changed", seconds, peak, result.returncode))
    rows.append(("e. minimal Python pass", *python_pass))
    rows.append(("f. HTML report of b", *report_alone(out, work)))
    rows.append(("g. OCDS export of b", *ocds_alone(out, work)))
    rows.append(("h. SQLite database of b", *sqlite_alone(out, work)))
    return rows, floors, passes, passed, out


REPORT = """
import json, sys
from pathlib import Path
from decp_pipeline.report.write import write_report
folder = Path(sys.argv[1])
print(json.dumps(write_report(folder, json.loads((folder / "report.json").read_text()), sys.argv[2])))
"""


def report_alone(out: Path, work: Path) -> tuple[float, float, int]:
    """The HTML report (report/write.py) written again from the current release's tables, alone, in a copy of
    them (hard links): its share of the build it is part of (step b also wrote it)."""
    current = (out / "current").resolve()
    today = json.loads((current / "report.json").read_text())["generated_at"][:10]
    files = ("marches.parquet", "concessions.parquet", "titulaires.parquet", "rejected.jsonl", "report.json")
    return alone("report", REPORT, out, work / "report-alone", files, today)


OCDS = """
import json, sys
from pathlib import Path
from decp_pipeline.ocds.settings import OcdsSettings
from decp_pipeline.ocds.write import write_ocds
if __name__ == "__main__":  # its workers are spawned: they import this module
    print(json.dumps(write_ocds(Path(sys.argv[1]), OcdsSettings(), "2026-01-01T00:00:00+00:00")))
"""


def ocds_alone(out: Path, work: Path) -> tuple[float, float, int]:
    """The OCDS export (ocds/write.py) written again from the current release's decp.json and decp-2022.json,
    alone, in a copy of them (hard links): its share of the build it is part of (step b also wrote it)."""
    return alone("ocds", OCDS, out, work / "ocds-alone", ("decp.json", "decp-2022.json"))


SQLITE = """
import json, sys
from pathlib import Path
from decp_pipeline.explore.database import write_database
if __name__ == "__main__":  # its worker is spawned: it imports this module
    print(json.dumps(write_database(Path(sys.argv[1]), ["bench"])))
"""


def sqlite_alone(out: Path, work: Path) -> tuple[float, float, int]:
    """decp.sqlite (explore/database.py) written again from the current release's tables, alone, in a copy of
    them (hard links): its share of the build it is part of (step b also wrote it)."""
    names = ("marches", "concessions", "titulaires", "actes_sous_traitance", "listes", "modifications")
    tables = ["coverage.csv", "buyers.csv", *(f"{name}.parquet" for name in names)]
    return alone("sqlite", SQLITE, out, work / "sqlite-alone", tables)


def alone(name: str, script: str, out: Path, copy: Path, files: Sequence[str], *args: str) -> tuple[float, float, int]:
    """`script` run on a copy of `files` of the current release (hard links; datapackage.json copied: the report
    rewrites it), alone: its seconds, peak MiB and exit code."""
    shutil.rmtree(copy, ignore_errors=True)
    copy.mkdir(parents=True)
    current = (out / "current").resolve()
    for file in files:
        os.link(current / file, copy / file)
    package = json.loads((current / "datapackage.json").read_text())
    package["resources"] = [r for r in package["resources"] if r["name"] != "acheteurs"]  # the report adds it
    (copy / "datapackage.json").write_text(json.dumps(package))
    (copy / "script.py").write_text(script)
    seconds, peak, result = timed([str(PYTHON), str(copy / "script.py"), str(copy), *args])
    if result.returncode:
        print(result.stdout, result.stderr)
    else:
        print(f"{name} alone: {result.stdout.strip()}")
    return seconds, peak, result.returncode


def print_table(
    rows: list[Row], floors: list[float], passes: list[float], mismatches: dict[str, Any], records: int, title: str
) -> None:
    full = rows[1][1]
    print(f"\n{title}; machine: {machine()['cpu']}")
    print(f"{'step':<30} {'seconds':>9} {'records/s':>11} {'peak MiB':>9} {'vs full':>8} {'exit':>5}")
    for name, seconds, peak, code in rows:
        print(f"{name:<30} {seconds:>9.1f} {records / seconds:>11,.0f} {peak:>9.0f} {seconds / full:>8.2f} {code:>5}")
    runs = ", ".join(f"{seconds:.1f}" for seconds in floors)
    print(f"full build / parse floor: {full / rows[0][1]:.1f} (floor: best of {runs} s)")
    runs = ", ".join(f"{seconds:.1f}" for seconds in passes)
    print(f"minimal Python pass / parse floor: {rows[4][1] / rows[0][1]:.1f} (best of {runs} s)")
    print(f"HTML report alone / full build: {rows[5][1] / full:.1%} (the build writes it too)")
    print(f"OCDS export alone / full build: {rows[6][1] / full:.1%} (the build writes it too)")
    print(f"SQLite database alone / full build: {rows[7][1] / full:.1%} (the build writes it too)")
    print("counts:", "equal to the generator's" if not mismatches else f"MISMATCH {mismatches}")


if __name__ == "__main__":
    main()
