#!/usr/bin/env python3
"""What authentication costs `serve` (issue 15): GET /api/v1/runs/{id} throughput with and
without tokens, side by side in one run.

  bench/auth_bench.py BUILD_DIR

One server without authentication (the anchor) and one with an auth file of 100 tokens and
HANDOFF_AUTH_TOKEN each run one run of the 10,000-test suite filtered to 10 tests (a small
answer, so that the per-request cost of authentication is not hidden behind rendering a
large one). wrk then GETs that run over 8 keep-alive connections for 5 s, sending a valid
token to the server that asks for one; the servers take turns for 5 rounds, and the median
of each is compared. Every answer must be 200: wrk's non-2xx count is checked. Prints a
markdown table, also written to BUILD_DIR/auth-bench.md.
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

if len(sys.argv) != 2:
    sys.exit("usage: auth_bench.py BUILD_DIR")
build = sys.argv[1]
binary = os.path.join(build, "bench", "bench_handoff_10k")
# Built every time: a binary left from before a change to serve would measure the old one.
subprocess.run(["cmake", "--build", build, "--target", "bench_handoff_10k"], check=True,
               stdout=subprocess.DEVNULL)
if shutil.which("wrk") is None:
    sys.exit("auth_bench.py: wrk not found (scripts/bootstrap installs it)")

ROUNDS = 5
SECONDS = 5
CONNECTIONS = 8
TOKEN = "hnd_bench-admin-token-0123456789abcdefghijklmn"


def start_server(work, name, env_extra, *flags):
    env = dict(os.environ, **env_extra)
    server = subprocess.Popen(
        [binary, "serve", "--port", "0", "--db", f"sqlite:{work}/{name}.db", *flags],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    port = int(re.search(r":(\d+) ", server.stdout.readline()).group(1))
    return server, port


def call(port, method, path, body=None, token=None):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(f"http://127.0.0.1:{port}{path}", method=method,
                                 data=None if body is None else json.dumps(body).encode(),
                                 headers=headers)
    with urllib.request.urlopen(req) as r:
        return json.loads(r.read())


def finished_run(port, token):
    run = call(port, "POST", "/api/v1/suites/Bench/runs", {"filter": "^Test0000[0-9]$"}, token)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        got = call(port, "GET", f"/api/v1/runs/{run['id']}", token=token)
        if got["finished_at"] is not None:
            assert got["counts"]["total"] == 10, got["counts"]
            return got["id"]
        time.sleep(0.05)
    sys.exit("auth_bench.py: the run did not finish in 60 s")


def wrk(port, run_id, token):
    argv = ["wrk", "-t", "2", "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--latency"]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(argv + [f"http://127.0.0.1:{port}/api/v1/runs/{run_id}"],
                         capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        sys.exit(f"auth_bench.py: some answers were not 200:\n{out}")
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


def main():
    work = tempfile.mkdtemp(prefix="handoff-auth-bench-")
    auth_file = os.path.join(work, "auth.txt")
    with open(auth_file, "w") as f:
        for i in range(100):
            # Other callers' hashes (of tokens nobody sends), as a team's file would hold.
            f.write(f"user{i} read sha256:{i:064x}\n")
    plain, plain_port = start_server(work, "plain", {})
    authed, authed_port = start_server(work, "authed", {"HANDOFF_AUTH_TOKEN": TOKEN},
                                       "--auth-file", auth_file)
    try:
        plain_run = finished_run(plain_port, None)
        authed_run = finished_run(authed_port, TOKEN)
        try:
            call(authed_port, "GET", f"/api/v1/runs/{authed_run}")
            sys.exit("auth_bench.py: the server with tokens answered without one")
        except urllib.error.HTTPError as e:
            assert e.code == 401, e.code
        without, with_auth = [], []
        for _ in range(ROUNDS):
            without.append(wrk(plain_port, plain_run, None))
            with_auth.append(wrk(authed_port, authed_run, TOKEN))
    finally:
        for server in (plain, authed):
            server.terminate()
            server.wait()
        shutil.rmtree(work, ignore_errors=True)
    a, b = statistics.median(without), statistics.median(with_auth)
    table = f"""| `GET /api/v1/runs/{{id}}` (a run of 10 tests), wrk, {CONNECTIONS} connections, median of {ROUNDS} × {SECONDS} s | requests/s | vs no authentication |
|---|---|---|
| no authentication (the anchor) | {a:,.0f} | 1.00× |
| a bearer token checked (100 tokens in the auth file, role read/admin) | {b:,.0f} | {b / a:.3f}× ({(b - a) / a * 100:+.1f} %) |

Every round: without {', '.join(f'{x:,.0f}' for x in without)}; with {', '.join(f'{x:,.0f}' for x in with_auth)}.
"""
    print(table)
    with open(os.path.join(build, "auth-bench.md"), "w") as f:
        f.write(table)


main()
