#!/usr/bin/env python3
"""Replicas of `serve` on one PostgreSQL database (issue 17; see bench/README.md).

  bench/replica_bench.py BUILD_DIR

Throughput: 60 runs of 60 suites, each one test that sleeps a second, POSTed round-robin to
1 replica (the anchor) and then to 3 replicas on a fresh database, each with
--max-concurrent-runs 4; runs per minute from the first POST to the last run finished.

Fail-over: a run whose test sleeps for two minutes is claimed by replica A, which is then
killed with SIGKILL (with its workers); the time from the kill to the test starting again on
replica B (its run's `replica` is B, `resumed` 1 and the test running), read by polling B's
API every 20 ms. Twice per lease ttl: A on another "machine" (its own pid namespace, with
`unshare`, when run as root: B must wait for the lease to expire), and A on B's machine
(B sees at once that A's process is gone).
Environment: PG_BIN (see pg_cluster.py), BENCH_TTLS (default "5s 15s").
"""

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

from pg_cluster import Cluster

if len(sys.argv) != 2:
    sys.exit("usage: replica_bench.py BUILD_DIR")
build = sys.argv[1]
binary = os.path.join(build, "bench", "bench_replica_suites")
subprocess.run(["cmake", "--build", build, "--target", "bench_replica_suites"], check=True,
               stdout=subprocess.DEVNULL)
ttls = os.environ.get("BENCH_TTLS", "5s 15s").split()


def start(db, name, flags=(), namespace=False):
    argv = [binary, "serve", "--port", "0", "--db", db, "--replica-id", name, *flags]
    if namespace:
        # Its own pid namespace: to B, a process of another machine. The shell stays pid 1,
        # so that the server is not (a worker takes a parent of pid 1 for a dead server).
        argv = ["unshare", "--pid", "--fork", "sh", "-c", 'exec "$0" "$@" & wait', *argv]
    server = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                              start_new_session=True)
    line = server.stdout.readline()
    match = re.search(r":(\d+) ", line)
    if not match:
        server.kill()
        sys.exit(f"replica_bench.py: replica {name} did not start: {line!r}")
    return server, int(match.group(1))


def call(port, path, body=None):
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}",
                                 data=None if body is None else json.dumps(body).encode(),
                                 method="GET" if body is None else "POST",
                                 headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)


def stop(servers):
    for server in servers:
        try:
            os.killpg(server.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    for server in servers:
        server.wait()


def throughput(cluster, replicas):
    db = cluster.create(f"throughput_{replicas}")
    servers = [start(db, f"r{i}", ["--max-concurrent-runs", "4"]) for i in range(replicas)]
    try:
        began = time.perf_counter()
        ids = [call(servers[i % replicas][1], f"/api/v1/suites/Slow{10 + i}/runs", {})["id"]
               for i in range(60)]
        port = servers[0][1]
        while True:
            page = call(port, "/api/v1/runs?limit=100")["runs"]
            done = [r for r in page if r["id"] in ids and r["finished_at"] is not None]
            if len(done) == 60:
                break
            time.sleep(0.02)
        elapsed = time.perf_counter() - began
        failed = [r["id"] for r in done if r["status"] != "passed"]
        if failed:
            sys.exit(f"replica_bench.py: runs {failed} did not pass")
        return 60 / elapsed * 60, elapsed
    finally:
        stop([s for s, _ in servers])


def failover(cluster, ttl, elsewhere):
    db = cluster.create(f"failover_{ttl}_{'elsewhere' if elsewhere else 'here'}")
    flags = ["--lease-ttl", ttl]
    a, a_port = start(db, "a", flags, namespace=elsewhere)
    servers = [a]
    try:
        run = call(a_port, "/api/v1/suites/Long/runs", {})["id"]
        while call(a_port, f"/api/v1/runs/{run}")["tests"][0]["status"] != "running":
            time.sleep(0.02)
        b, b_port = start(db, "b", flags)
        servers.append(b)
        killed = time.perf_counter()
        os.killpg(a.pid, signal.SIGKILL)
        a.wait()
        while True:
            r = call(b_port, f"/api/v1/runs/{run}")
            if r.get("replica") == "b" and r["resumed"] >= 1 and r["tests"][0]["status"] == "running":
                return time.perf_counter() - killed
            time.sleep(0.02)
    finally:
        stop(servers[1:])


tmp = tempfile.mkdtemp(prefix="handoff-replica-bench-")
cluster = Cluster()
try:
    cluster.start(tmp)
    one, one_s = throughput(cluster, 1)
    three, three_s = throughput(cluster, 3)
    results = []
    for ttl in ttls:
        for elsewhere in ((True, False) if os.geteuid() == 0 else (False,)):
            results.append((ttl, elsewhere, failover(cluster, ttl, elsewhere)))
finally:
    cluster.stop()
    shutil.rmtree(tmp, ignore_errors=True)

print("| 60 runs of 60 suites (a 1 s test each), --max-concurrent-runs 4 | 1 replica (anchor) | 3 replicas | ratio |")
print("|---|---|---|---|")
print(f"| runs per minute | {one:.0f} ({one_s:.1f} s) | {three:.0f} ({three_s:.1f} s) | {three / one:.2f}x |")
print()
print("| fail-over: SIGKILL of the executing replica to its test starting again on another | lease ttl | measured | bound (ttl + 2 s) |")
print("|---|---|---|---|")
for ttl, elsewhere, seconds in results:
    where = "another machine (own pid namespace)" if elsewhere else "the same machine"
    bound = float(ttl.rstrip("s")) + 2
    print(f"| replica killed on {where} | {ttl} | {seconds:.2f} s | {bound:.0f} s |")
