#!/usr/bin/env python3
"""A 10,000-test run through `serve` on PostgreSQL against SQLite (see bench/README.md).

  bench/pg_bench.py BUILD_DIR

Two servers of the same binary (bench_handoff_10k), side by side in the same run: the anchor
on SQLite (a file in a temporary directory) and one on PostgreSQL, a throwaway cluster started
here on the same machine with the server's defaults (fsync and synchronous_commit on, as a
production database would run). Each sample POSTs a run, waits on its event stream for its
final state (journaled in the commit that stores it), then reads the finished run's tests
back (its first GET /api/v1/runs/{id}, which reads its 10,000 tests from the store). Prints the median of each.
Environment: BENCH_RUNS (default 5), PG_BIN (the directory of initdb and pg_ctl; default
the newest /usr/lib/postgresql/*/bin).
"""

import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

from pg_cluster import Cluster

if len(sys.argv) != 2:
    sys.exit("usage: pg_bench.py BUILD_DIR")
build = sys.argv[1]
binary = os.path.join(build, "bench", "bench_handoff_10k")
runs = int(os.environ.get("BENCH_RUNS", "5"))
if not os.path.exists(binary):
    subprocess.run(["cmake", "--build", build, "--target", "bench_handoff_10k"], check=True)

def start(db):
    server = subprocess.Popen([binary, "serve", "--port", "0", "--db", db],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    line = server.stdout.readline()
    match = re.search(r":(\d+) ", line)
    if not match:
        server.kill()
        sys.exit(f"pg_bench.py: serve --db {db} did not start: {line!r}")
    return server, int(match.group(1))


def run(port):
    start_at = time.perf_counter()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/suites/Bench/runs", data=b"{}",
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        run_id = json.load(r)["id"]
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}/events") as s:
        event = None
        for raw in s:
            if raw.startswith(b"event:"):
                event = raw[6:].strip()
            elif event == b"run" and raw.startswith(b"data:"):
                if json.loads(raw[5:])["finished_at"] is not None:
                    break
    finished = time.perf_counter() - start_at
    read_at = time.perf_counter()
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}") as r:
        count = len(json.load(r)["tests"])
    read = time.perf_counter() - read_at
    if count < 10000:
        sys.exit(f"pg_bench.py: run {run_id} read back {count} tests, not 10,000")
    return finished, read


tmp = tempfile.mkdtemp(prefix="handoff-pg-bench-")
cluster = Cluster()
servers = []
try:
    cluster.start(tmp)
    sqlite, sqlite_port = start(f"sqlite:{tmp}/anchor.db")
    servers.append(sqlite)
    pg, pg_port_http = start(cluster.create("handoff_bench"))
    servers.append(pg)
    run(sqlite_port)  # warm-up
    run(pg_port_http)
    samples = {"sqlite": [], "pg": []}
    for _ in range(runs):
        samples["sqlite"].append(run(sqlite_port))
        samples["pg"].append(run(pg_port_http))
finally:
    for server in servers:
        server.terminate()
        server.wait()
    cluster.stop()
    shutil.rmtree(tmp, ignore_errors=True)


def ms(name, i):
    return statistics.median(s[i] for s in samples[name]) * 1000


print(f"| 10,000-test run through serve (median of {runs}) | SQLite (anchor) | PostgreSQL | ratio |")
print("|---|---|---|---|")
for label, i in (("POST to final state", 0), ("first GET of the finished run", 1)):
    a, b = ms("sqlite", i), ms("pg", i)
    print(f"| {label} | {a:.0f} ms | {b:.0f} ms | {b / a:.2f}x |")
