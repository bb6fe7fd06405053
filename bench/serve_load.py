"""A bounded load test of `decp serve` on loopback: N uploads from C concurrent clients, latencies and throughput.

    .venv/bin/python bench/serve_load.py [--requests 200] [--concurrency 20] [--workers N] [--file FILE]
                                         [--url http://127.0.0.1:8000]

Without --url, starts `decp serve` as the tests do (tests/serve_server.py: the command in its own process, on a
free port) and stops it at the end. Each client thread holds one keep-alive connection and sends the file as
multipart, one request after the other; a request's latency runs from sending to the whole answer read. Prints
the statuses, the latencies (p50, p95, p99, max) and the throughput, and one JSON line with the same. The
statuses are asserted to be the file's verdict (200 or 422) for every request: a load that turns answers into
errors is a failure, not a figure.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import requests

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.serve_server import serving  # noqa: E402

SAMPLE = ROOT / "samples" / "marches-publics-info" / "marches-publics-info_2019-03-07_excerpt.json"


def percentile(values: list[float], share: float) -> float:
    """The nearest-rank percentile (share in 0..1) of the values."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * len(ordered)) - 1))]


def load(url: str, body: bytes, name: str, total: int, concurrency: int) -> dict[str, object]:
    local = threading.local()
    counter = iter(range(total))
    lock = threading.Lock()
    latencies: list[float] = []
    statuses: Counter[int] = Counter()

    def client() -> None:
        local.session = requests.Session()
        while True:
            with lock:
                if next(counter, None) is None:
                    return
            started = time.perf_counter()
            answer = local.session.post(url + "/api/validate", files={"file": (name, body)}, timeout=120)
            answer.content  # noqa: B018 - read whole
            elapsed = time.perf_counter() - started
            with lock:
                latencies.append(elapsed)
                statuses[answer.status_code] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(concurrency) as pool:
        for future in [pool.submit(client) for _ in range(concurrency)]:
            future.result()
    wall = time.perf_counter() - started
    return {
        "requests": total,
        "concurrency": concurrency,
        "file": name,
        "file_bytes": len(body),
        "statuses": dict(statuses),
        "seconds": round(wall, 3),
        "throughput_rps": round(total / wall, 1),
        "p50_ms": round(percentile(latencies, 0.50) * 1000, 1),
        "p95_ms": round(percentile(latencies, 0.95) * 1000, 1),
        "p99_ms": round(percentile(latencies, 0.99) * 1000, 1),
        "max_ms": round(max(latencies) * 1000, 1),
        "mean_ms": round(statistics.fmean(latencies) * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--workers", type=int, default=None, help="decp serve --workers (default: its own)")
    parser.add_argument("--file", type=Path, default=SAMPLE)
    parser.add_argument("--url", default=None, help="a running server; default: one started here")
    args = parser.parse_args()
    body = args.file.read_bytes()
    if args.url:
        result = load(args.url.rstrip("/"), body, args.file.name, args.requests, args.concurrency)
    else:
        options = ["-q"] + (["--workers", str(args.workers)] if args.workers else [])
        with tempfile.TemporaryDirectory() as tmp, serving(Path(tmp), *options) as server:
            load(server.url, body, args.file.name, min(20, args.requests), args.concurrency)  # warm: connections
            result = load(server.url, body, args.file.name, args.requests, args.concurrency)
    result["workers"] = args.workers or "default"
    statuses = result["statuses"]
    assert isinstance(statuses, dict)
    assert set(statuses) <= {200, 422}, f"answers that are not a verdict: {statuses}"
    assert len(statuses) == 1, f"different verdicts on the same file: {statuses}"
    print(f"{result['requests']} requests, {result['concurrency']} clients, {result['file']} ({len(body):,} bytes)")
    print(f"statuses {statuses}; {result['seconds']} s, {result['throughput_rps']} requests/s")
    p50, p95, p99, worst = (result[k] for k in ("p50_ms", "p95_ms", "p99_ms", "max_ms"))
    print(f"latency p50 {p50} ms, p95 {p95} ms, p99 {p99} ms, max {worst} ms")
    print(json.dumps(result))


if __name__ == "__main__":
    main()
