#!/usr/bin/env python3
"""Load benchmarks of `serve`'s HTTP layer (issue 15) on the suite of 10,000 tests.

  bench/serve_load_bench.py BUILD_DIR

1. Idle subscribers: 1,000 clients open the event stream of a run of 10,000 tests while it
   is queued, and read nothing. The server's resident memory is read from /proc after four
   warm-up runs (before they connect), with them connected, after the run streamed its
   10,000 results to them (and its peak), and after they leave.
2. Followers: 20 runs of 10,000 tests are triggered at once (4 run at a time) and a client
   GETs /api/v1/runs back to back until all have finished: p50 and p99 of its latency. Once
   alone (the anchor), once with 300 SSE followers (15 per run) reading every stream to its
   end in another process; each follower must receive its run's final event.

Clients connect from several 127.0.0.x addresses, as clients on a network would, so that the
per-client connection limit (64) does not refuse them. Prints a markdown table, also written
to BUILD_DIR/serve-load-bench.md.
"""

import http.client
import json
import multiprocessing
import os
import re
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

if len(sys.argv) != 2:
    sys.exit("usage: serve_load_bench.py BUILD_DIR")
build = sys.argv[1]
binary = os.path.join(build, "bench", "bench_handoff_10k")
if not os.path.exists(binary):
    subprocess.run(["cmake", "--build", build, "--target", "bench_handoff_10k"], check=True)

SUBSCRIBERS = 1000
RUNS = 20
FOLLOWERS = 300


def rss_mib(pid, field="VmRSS"):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def start_server(db, *flags):
    server = subprocess.Popen([binary, "serve", "--port", "0", "--db", f"sqlite:{db}", *flags],
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r":(\d+) ", server.stdout.readline()).group(1))
    return server, port


def post_run(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/suites/Bench/runs", data=b"{}",
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        return json.load(r)["id"]


def get_json(port, path):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}") as r:
        return json.load(r)


def finished(port, run_id):
    return get_json(port, f"/api/v1/runs/{run_id}")["finished_at"] is not None


def metric(port, name):
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics") as r:
        for line in r.read().decode().splitlines():
            if line.startswith(name + " "):
                return float(line.split()[-1])
    return None


def wait_until(probe, timeout, what):
    deadline = time.monotonic() + timeout
    while not probe():
        if time.monotonic() > deadline:
            sys.exit(f"timed out waiting for {what}")
        time.sleep(0.05)


def open_stream(port, run_id, index, rcvbuf=None):
    """A socket that asked for the run's event stream, from 127.0.0.(10 + index % 40)."""
    s = socket.socket()
    if rcvbuf:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
    s.bind((f"127.0.0.{10 + index % 40}", 0))
    s.connect(("127.0.0.1", port))
    s.sendall(f"GET /api/v1/runs/{run_id}/events HTTP/1.1\r\nHost: bench\r\n\r\n".encode())
    return s


def idle_subscribers(tmp):
    server, port = start_server(f"{tmp}/idle.db", "--max-concurrent-runs", "1")
    try:
        # The baseline: the server after as many runs of the suite as the measure adds (three
        # blockers and the followed run), each read once over the API as `finished` does:
        # its caches and SQLite's hold what they will hold after, and no stream is open.
        for _ in range(4):
            warm = post_run(port)
            wait_until(lambda: finished(port, warm), 300, "the warm-up runs to finish")
        time.sleep(0.5)
        before = rss_mib(server.pid)
        blockers = [post_run(port) for _ in range(3)]
        run_id = post_run(port)  # queued behind the blockers: followed from its start
        sockets = [open_stream(port, run_id, i) for i in range(SUBSCRIBERS)]
        wait_until(lambda: metric(port, 'handoff_http_connections{pool="general"}') >= SUBSCRIBERS,
                   60, "the subscribers to connect")
        connected = rss_mib(server.pid)
        queued = not finished(port, blockers[-1])
        wait_until(lambda: finished(port, run_id), 300, "the followed run to finish")
        with_them = rss_mib(server.pid)
        dropped = metric(port, 'handoff_http_connections_rejected_total{reason="stream_lag"}')
        peak = rss_mib(server.pid, "VmHWM")
        for s in sockets:
            s.close()
        wait_until(lambda: metric(port, 'handoff_http_connections{pool="general"}') <= 1, 60,
                   "the subscribers' connections to close")
        time.sleep(1)
        after = rss_mib(server.pid)
    finally:
        server.terminate()
        server.wait(timeout=60)
    return before, connected, with_them, peak, after, dropped, queued


def follow(port, run_ids, result):
    """Reads FOLLOWERS streams (15 per run) to their end; puts the count that saw the final
    run event (its last event is `event: run` with a finished status)."""
    sel = selectors.DefaultSelector()
    tails = {}
    for i in range(FOLLOWERS):
        s = open_stream(port, run_ids[i % len(run_ids)], i + 100)
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ)
        tails[s] = b""
    ok = 0
    while tails:
        for key, _ in sel.select(timeout=60):
            s = key.fileobj
            try:
                data = s.recv(1 << 20)
            except BlockingIOError:
                continue
            if data:
                tails[s] = (tails[s] + data)[-8192:]
                continue
            tail = tails.pop(s)
            sel.unregister(s)
            s.close()
            last = tail.rstrip(b"\n").rsplit(b"\n\n", 1)[-1]
            if b"event: run" in last and b'"status":"passed"' in last:
                ok += 1
    result.put(ok)


def runs_latency(tmp, followers):
    server, port = start_server(f"{tmp}/runs{int(followers)}.db")
    try:
        run_ids = [post_run(port) for _ in range(RUNS)]
        result = multiprocessing.Queue()
        follower = None
        if followers:
            follower = multiprocessing.Process(target=follow, args=(port, run_ids, result))
            follower.start()
        latencies = []
        conn = http.client.HTTPConnection("127.0.0.1", port)
        last = run_ids[-1]
        done = False
        checks = 0
        while not done:
            start = time.perf_counter()
            conn.request("GET", "/api/v1/runs")
            r = conn.getresponse()
            body = r.read()
            latencies.append(time.perf_counter() - start)
            assert r.status == 200, body
            checks += 1
            if checks % 20 == 0:
                runs = json.loads(body)["runs"]
                done = all(run["finished_at"] is not None for run in runs if run["id"] in run_ids)
        complete = None
        if follower:
            complete = result.get(timeout=300)
            follower.join()
        peak = rss_mib(server.pid, "VmHWM")
    finally:
        server.terminate()
        server.wait(timeout=60)
    latencies.sort()
    pick = lambda q: latencies[min(len(latencies) - 1, int(q * len(latencies)))] * 1000
    return pick(0.5), pick(0.99), latencies[-1] * 1000, len(latencies), complete, peak


with tempfile.TemporaryDirectory() as tmp:
    before, connected, with_them, peak, after, dropped, queued = idle_subscribers(tmp)
    alone = runs_latency(tmp, followers=False)
    followed = runs_latency(tmp, followers=True)

load = os.getloadavg()[0]
table = f"""| Measure | Value |
|---|---|
| `serve` RSS after 4 warm-up runs, before {SUBSCRIBERS:,} idle SSE subscribers | {before:.1f} MiB |
| ... with them connected to a queued run of 10,000 tests | {connected:.1f} MiB |
| ... after the run streamed its 10,000 results to them (none read; still connected) | {with_them:.1f} MiB (peak {peak:.1f} MiB; target under 100 MB) |
| ... after they left | {after:.1f} MiB |
| `GET /api/v1/runs` while {RUNS} runs of 10,000 tests execute, no followers (anchor) | p50 {alone[0]:.1f} ms, p99 {alone[1]:.1f} ms, max {alone[2]:.1f} ms ({alone[3]:,} requests) |
| ... with {FOLLOWERS} SSE followers (15 per run) | p50 {followed[0]:.1f} ms, p99 {followed[1]:.1f} ms, max {followed[2]:.1f} ms ({followed[3]:,} requests; target p99 under 50 ms) |
| followers that received their run's final event | {followed[4]} of {FOLLOWERS} |

Subscribers dropped for lag: {dropped:.0f}; the subscribed run was still queued when all had connected: {queued}. Load average at the end: {load:.2f}.
"""
print(table)
with open(os.path.join(build, "serve-load-bench.md"), "w") as f:
    f.write(table)
