"""Measure two `decp fetch` runs against a local server: a first full download, then a run with nothing changed.

    .venv/bin/python bench/fetch_bench.py [--metadata FILE.json]

The server (tests/httpserver.py, the one the tests use) answers the data.gouv.fr API v2 listing of a recorded
dataset (by default the full Dématis listing of shared/realdata, 1,222 resources; else the 150-resource
excerpt of tests/fixtures) page by page, and serves a real Dématis 2024 file for every resource, with an ETag.
A `url` source (Grand Lyon's real record, with an ETag) runs beside it. `decp fetch` runs twice in a child
process; each run's requests, bytes received, wall time and peak memory are printed. Nothing is asserted.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.httpserver import LocalServer, Reply, Request, json_reply  # noqa: E402

METADATA = [
    ROOT.parent / "shared/realdata/other/datagouv-dataset-metadata/e-marchespublics_old_metadata_emar_0.json",
    ROOT / "tests/fixtures/datagouv/e-marchespublics_metadata_excerpt.json",
]
BODY = (ROOT / "tests/fixtures/realdata/e-marchespublics_2024-07_dematis20.json").read_bytes()
LYON = (ROOT / "tests/fixtures/realdata/grandlyon_record.xml").read_bytes()


def serve(server: LocalServer, metadata: dict) -> int:
    resources = metadata["resources"]
    for n, r in enumerate(resources):
        path = "/static/" + r["url"].rsplit("/", 1)[-1]
        r["url"] = server.url(path)
        server.route(path, Reply(200, BODY, {"Content-Type": "application/json"}, etag=f'"{n}"'))

    def page(request: Request) -> Reply:
        number, size = int(request.query["page"][0]), int(request.query["page_size"][0])
        more = number * size < len(resources)
        return json_reply(
            {
                "data": resources[(number - 1) * size : number * size],
                "next_page": "next" if more else None,
                "page": number,
                "page_size": size,
                "total": len(resources),
            }
        )

    server.route(f"/api/2/datasets/{metadata['id']}/resources/", page)
    server.route("/lyon.xml", Reply(200, LYON, etag='"lyon"'))
    return len(resources)


def run(config: Path, data: Path) -> dict:
    started = time.monotonic()
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    done = subprocess.run(
        [str(ROOT / ".venv/bin/decp"), "fetch", "--config", str(config), "--data-dir", str(data), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    seconds = time.monotonic() - started
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    out = json.loads(done.stdout)
    out["wall"] = seconds
    out["peak_mib"] = max(peak, before) / 1024
    out["exit"] = done.returncode
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--metadata", type=Path, default=next((p for p in METADATA if p.is_file()), None))
    args = parser.parse_args()
    metadata = json.loads(args.metadata.read_text(encoding="utf-8"))
    server = LocalServer()
    try:
        count = serve(server, metadata)
        with tempfile.TemporaryDirectory() as tmp:
            config = Path(tmp) / "sources.yaml"
            sources = [
                {
                    "id": "e-marchespublics",
                    "name": "Dématis",
                    "kind": "datagouv_dataset",
                    "dataset": metadata["id"],
                    "api_base": server.url("/api"),
                    "formats": ["json"],
                    "min_size": 180,
                },
                {"id": "grandlyon", "name": "Lyon", "kind": "url", "url": server.url("/lyon.xml")},
            ]
            for s in sources:
                s.update({"format": "auto", "enabled": True, "priority": 10})
            config.write_text(yaml.safe_dump({"sources": sources}, allow_unicode=True), encoding="utf-8")
            print(f"{args.metadata.name}: {count} resources listed; each served file {len(BODY):,} bytes")
            print(f"{'run':<10} {'exit':>4} {'requests':>9} {'bytes':>14} {'downloaded':>10} {'unchanged':>10} "
                  f"{'seconds':>8} {'peak MiB':>9}")  # fmt: skip
            for name in ("first", "second"):
                server.clear_log()
                out = run(config, Path(tmp) / "data")
                downloaded = sum(s["downloaded"] for s in out["sources"].values())
                unchanged = sum(s["unchanged"] for s in out["sources"].values())
                print(
                    f"{name:<10} {out['exit']:>4} {out['requests']:>9,} {out['bytes_received']:>14,} "
                    f"{downloaded:>10,} {unchanged:>10,} {out['wall']:>8.2f} {out['peak_mib']:>9.0f}"
                )
                data_requests = [r for r in server.log if "/api/" not in r.path]
                print(
                    f"{'':<10} server side: {len(server.log)} requests, {len(data_requests)} for files, "
                    f"{sum(r.sent for r in data_requests):,} file bytes sent, "
                    f"{sum(r.status == 304 for r in data_requests)} answered 304"
                )
    finally:
        server.stop()


if __name__ == "__main__":
    main()
