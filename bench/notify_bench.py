#!/usr/bin/env python3
"""What notifications cost a 10,000-test run of `serve` (see bench/README.md).

  bench/notify_bench.py BUILD_DIR

Two servers of the same binary (bench_handoff_10k), side by side in the same run: the anchor
without notifications, and one with a signed webhook told about every finished run
(--notify-on always) at a local receiver. Each sample POSTs a run and waits on its event
stream for its final state (the notification is decided and stored in that same commit);
for the second server it then waits until the receiver has the delivery. Prints the median
of each and the size of the delivered payload (every test's outcome).
Environment: BENCH_RUNS (default 5).
"""

import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, HTTPServer

if len(sys.argv) != 2:
    sys.exit("usage: notify_bench.py BUILD_DIR")
build = sys.argv[1]
binary = os.path.join(build, "bench", "bench_handoff_10k")
runs = int(os.environ.get("BENCH_RUNS", "5"))
if not os.path.exists(binary):
    subprocess.run(["cmake", "--build", build, "--target", "bench_handoff_10k"], check=True)

received = []
arrived = threading.Condition()


class Receiver(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with arrived:
            received.append((time.perf_counter(), len(body)))
            arrived.notify_all()
        self.send_response(204)
        self.end_headers()

    def log_message(self, *_):
        pass


receiver = HTTPServer(("127.0.0.1", 0), Receiver)
threading.Thread(target=receiver.serve_forever, daemon=True).start()


def start(tmp, name, extra):
    server = subprocess.Popen([binary, "serve", "--port", "0", "--db", f"sqlite:{tmp}/{name}.db"] + extra,
                              stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    port = int(re.search(r":(\d+) ", server.stdout.readline()).group(1))
    return server, port


def run(port, wait_delivery):
    start_at = time.perf_counter()
    req = urllib.request.Request(f"http://127.0.0.1:{port}/api/v1/suites/Bench/runs", data=b"{}",
                                 method="POST", headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req) as r:
        run_id = json.load(r)["id"]
    before = len(received)
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/runs/{run_id}/events") as s:
        event = None
        for raw in s:
            if raw.startswith(b"event:"):
                event = raw[6:].strip()
            elif event == b"run" and raw.startswith(b"data:"):
                if json.loads(raw[5:])["finished_at"] is not None:
                    break
    finished = time.perf_counter() - start_at
    if not wait_delivery:
        return finished, None, 0
    with arrived:
        arrived.wait_for(lambda: len(received) > before, timeout=60)
        at, size = received[-1]
    return finished, at - start_at, size


with tempfile.TemporaryDirectory() as tmp:
    anchor, anchor_port = start(tmp, "anchor", [])
    notified, notified_port = start(tmp, "notified", [
        "--webhook-url", f"http://127.0.0.1:{receiver.server_address[1]}/hook",
        "--notify-on", "always", "--external-url", "https://handoff.example.com"])
    try:
        run(anchor_port, False)
        run(notified_port, True)  # warm-up
        plain, with_notify, delivered, sizes = [], [], [], []
        for _ in range(runs):
            plain.append(run(anchor_port, False)[0])
            f, d, size = run(notified_port, True)
            with_notify.append(f)
            delivered.append(d)
            sizes.append(size)
    finally:
        for server in (anchor, notified):
            server.terminate()
            server.wait()

ms = lambda xs: statistics.median(xs) * 1000
print(f"| 10,000-test run, POST to final state (median of {runs}) | ms |")
print("|---|---|")
print(f"| serve, no notifications (anchor) | {ms(plain):.0f} |")
print(f"| serve, a webhook told about every run | {ms(with_notify):.0f} |")
print(f"| ... until the receiver has the delivery | {ms(delivered):.0f} |")
print(f"| delivered payload | {statistics.median(sizes) / 1e6:.2f} MB |")
