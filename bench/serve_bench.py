#!/usr/bin/env python3
"""Benchmarks `serve` against `run` on the same 10,000-test suite (see bench/README.md).

  bench/serve_bench.py BUILD_DIR

1. `run`: bench_handoff_10k run --format json, timed RUNS times (the anchor).
2. `serve`: the same binary serving an SQLite store in a temporary directory. Each sample
   POSTs a run of the suite and waits, on the run's event stream, for its final state, then
   checks over the API that all 10,000 results are there (passed): "until every result is
   readable from the API". Idle and peak resident memory of the server are read from /proc.
3. Read load: the store is filled to 1,000,000 test results (100 runs of 10,000), then wrk
   (32 connections, 2 threads) measures GET /api/v1/runs/{id} of a finished 10,000-test
   run and GET /api/v1/runs?limit=50: requests/s and p99 latency.

Prints a markdown table, also written to BUILD_DIR/serve-bench.md.
Environment: BENCH_RUNS (default 10), BENCH_FILL_RUNS (100), WRK_SECONDS (10).
"""

import gzip
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

if len(sys.argv) != 2:
    sys.exit("usage: serve_bench.py BUILD_DIR")
build = sys.argv[1]
binary = os.path.join(build, "bench", "bench_handoff_10k")
runs = int(os.environ.get("BENCH_RUNS", "10"))
fill_runs = int(os.environ.get("BENCH_FILL_RUNS", "100"))
wrk_seconds = int(os.environ.get("WRK_SECONDS", "10"))
if not os.path.exists(binary):
    subprocess.run(["cmake", "--build", build, "--target", "bench_handoff_10k"], check=True)


def rss_kib(pid, field):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return 0


def time_run():
    start = time.perf_counter()
    subprocess.run([binary, "run", "--format", "json"], stdout=subprocess.DEVNULL, check=True)
    return time.perf_counter() - start


def post(port, path, body=b"{}"):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", data=body, method="POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def get(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
        return json.load(r)


def serve_run(port):
    """Triggers a run and returns (seconds until every result is readable, run id).

    The clock covers what the server does: the POST's answer, the event stream up to the
    run's final state, and the full body of GET /runs/{id} (gzip, as browsers and most
    clients ask for it). Parsing that 1.5 MB of JSON in Python (about 35 ms, more than the
    server spends on it) is done after the clock stops, to check that all 10,000 results
    are there and passed.
    """
    start = time.perf_counter()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/suites/Bench/runs", data=b"{}",
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        posted = r.read()
    run_id = int(re.match(rb'\{"id":(\d+),', posted).group(1))
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}/events") as s:
        event = None
        for raw in s:
            if raw.startswith(b"event:"):
                event = raw[6:].strip()
            elif event == b"run" and raw.startswith(b"data:"):
                if json.loads(raw[5:])["finished_at"] is not None:
                    break
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}",
                                 headers={"Accept-Encoding": "gzip"})
    with urllib.request.urlopen(req) as r:
        body, encoding = r.read(), r.headers.get("Content-Encoding")
    elapsed = time.perf_counter() - start
    assert json.loads(posted)["id"] == run_id
    run = json.loads(gzip.decompress(body) if encoding == "gzip" else body)
    assert run["status"] == "passed" and run["counts"]["passed"] == 10000, run["counts"]
    assert len(run["tests"]) == 10000 and all(t["status"] == "passed" for t in run["tests"])
    return elapsed, run_id


def wrk(url, gzip=False):
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{wrk_seconds}s", "--latency"] + (["-H", "Accept-Encoding: gzip"] if gzip else []) + [url],
                         capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    p99 = re.search(r"99%\s+([\d.]+)(us|ms|s)", out)
    p99_ms = float(p99.group(1)) * {"us": 0.001, "ms": 1, "s": 1000}[p99.group(2)]
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if non2xx:
        sys.exit(f"wrk got {non2xx.group(1)} error responses from {url}")
    return rps, p99_ms


# Warm the page cache, then alternate run and serve samples so that load changes on the
# machine affect both alike.
time_run()
with tempfile.TemporaryDirectory() as tmp:
    server = subprocess.Popen([binary, "serve", "--port", "0", "--db", f"sqlite:{tmp}/bench.db"],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        port = int(re.search(r":(\d+) ", server.stdout.readline()).group(1))
        time.sleep(0.5)  # let start-up allocations settle before reading idle memory
        idle_kib = rss_kib(server.pid, "VmRSS")
        serve_run(port)  # warm-up
        run_times, serve_times = [], []
        last_id = 0
        for _ in range(runs):
            run_times.append(time_run())
            elapsed, last_id = serve_run(port)
            serve_times.append(elapsed)
        peak_kib = rss_kib(server.pid, "VmHWM")
        stored = runs + 1
        while stored < fill_runs:
            serve_run(port)
            stored += 1
        after_fill_kib = rss_kib(server.pid, "VmRSS")
        get_rps, get_p99 = wrk(f"http://127.0.0.1:{port}/api/v1/runs/{last_id}", gzip=True)
        list_rps, list_p99 = wrk(f"http://127.0.0.1:{port}/api/v1/runs?limit=50")
        wrk_peak_kib = rss_kib(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=60)

run_median = statistics.median(run_times)
serve_median = statistics.median(serve_times)
load = os.getloadavg()[0]
table = f"""| Measure | Value |
|---|---|
| `run --format json`, 10,000 tests (median of {runs}) | {run_median * 1000:.0f} ms |
| `serve`: POST a run until all 10,000 results are readable over the API (median of {runs}) | {serve_median * 1000:.0f} ms ({serve_median / run_median:.2f}x `run`; target at most 1.5x) |
| `serve` resident memory, idle after start | {idle_kib / 1024:.1f} MiB (target under 30 MiB) |
| `serve` peak resident memory during the 10,000-test runs | {peak_kib / 1024:.1f} MiB |
| `serve` resident memory with {stored * 10000:,} stored test results | {after_fill_kib / 1024:.1f} MiB |
| `GET /api/v1/runs/{{id}}` (10,000 tests, gzip), wrk -c32 | {get_rps:,.0f} req/s, p99 {get_p99:.2f} ms (target under 10 ms) |
| `GET /api/v1/runs?limit=50` with {stored * 10000:,} stored results, wrk -c32 | {list_rps:,.0f} req/s, p99 {list_p99:.2f} ms (target under 10 ms) |
| peak resident memory under wrk | {wrk_peak_kib / 1024:.1f} MiB |

Load average at the end: {load:.2f}. Samples (ms): run {[round(t * 1000) for t in run_times]}, serve {[round(t * 1000) for t in serve_times]}.
"""
print(table)
with open(os.path.join(build, "serve-bench.md"), "w") as f:
    f.write(table)
