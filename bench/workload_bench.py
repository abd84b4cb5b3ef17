#!/usr/bin/env python3
"""The workload bench: five HTTP runnables started in Docker and waited on until each
answers, by handoff's Docker environment against the same five started one after another
with the docker CLI and polled with curl in a shell script, in one run.

    bench/workload_bench.py BUILD_DIR [--rounds N]

Both sides run the same busybox image (built here from Debian's busybox-static with
`docker build`, before any clock starts) on a network of their own, each container
publishing port 8080 on 127.0.0.1. The rounds alternate between the two sides. A round's
time runs from starting the process until all five answer: for handoff, until
bench_workload prints "ready" (it makes the network, starts the five at once and probes
them); for the script, until it exits. Removing the containers is not timed on either side.

A third side measures the engine's floor: the same network and five containers, created
and started at once with Engine API calls from this script, timed until the last start
call returns (no readiness wait). With each side, the machine's busy CPU time over the
round (/proc/stat, every core) shows where the time goes.
"""
import argparse
import http.client
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

IMAGE = "handoff-bench/busybox:latest"
CLI_NET = "handoff-bench-cli"
FLOOR_NET = "handoff-bench-floor"

SCRIPT = r"""#!/bin/sh
set -e
docker network create {net} >/dev/null
for i in 1 2 3 4 5; do
  docker run -d --name {net}-web-$i --network {net} -p 127.0.0.1::8080 {image} \
    sh -c 'echo up > /tmp/index.html; exec httpd -f -p 8080 -h /tmp' >/dev/null
done
for i in 1 2 3 4 5; do
  port=$(docker port {net}-web-$i 8080/tcp | head -n 1 | sed 's/.*://')
  tries=0
  until curl -sf -o /dev/null "http://127.0.0.1:$port/"; do
    tries=$((tries + 1)); [ $tries -lt 3000 ] || exit 1
    sleep 0.01
  done
done
"""


class EngineConnection(http.client.HTTPConnection):
    """HTTP to the Docker engine over its Unix socket."""

    def __init__(self):
        super().__init__("docker")

    def connect(self):
        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
                          .removeprefix("unix://"))


def engine(method, path, body=None):
    conn = EngineConnection()
    conn.request(method, path, json.dumps(body) if body is not None else None,
                 {"Content-Type": "application/json"})
    answer = conn.getresponse()
    data = answer.read()
    conn.close()
    if answer.status >= 300:
        sys.exit(f"engine: {method} {path}: {answer.status} {data!r}")
    return data


def busy_seconds():
    """CPU time the whole machine spent busy so far (every core), from /proc/stat."""
    with open("/proc/stat") as f:
        ticks = [int(x) for x in f.readline().split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


def build_image():
    busybox = "/bin/busybox"
    ctx = tempfile.mkdtemp(prefix="handoff-bench-")
    try:
        shutil.copy(busybox, os.path.join(ctx, "busybox"))
        with open(os.path.join(ctx, "Dockerfile"), "w") as f:
            f.write("FROM scratch\nCOPY busybox /bin/busybox\n"
                    "RUN [\"/bin/busybox\", \"--install\", \"-s\", \"/bin\"]\n"
                    "RUN [\"/bin/busybox\", \"mkdir\", \"-m\", \"1777\", \"/tmp\"]\n")
        run(["docker", "build", "-q", "-t", IMAGE, ctx], stdout=subprocess.DEVNULL)
    finally:
        shutil.rmtree(ctx)


def cli_cleanup():
    names = [f"{CLI_NET}-web-{i}" for i in range(1, 6)]
    subprocess.run(["docker", "rm", "-f", *names], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)
    subprocess.run(["docker", "network", "rm", CLI_NET], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def time_cli(script):
    cli_cleanup()
    cpu = busy_seconds()
    start = time.perf_counter()
    run(["sh", script])
    elapsed = time.perf_counter() - start
    cpu = busy_seconds() - cpu
    cli_cleanup()
    return elapsed, cpu


def floor_cleanup():
    for i in range(1, 6):
        subprocess.run(["docker", "rm", "-f", f"{FLOOR_NET}-web-{i}"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
    subprocess.run(["docker", "network", "rm", FLOOR_NET], stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL)


def time_floor():
    """The engine's own floor: the network, then the five containers (handoff's settings:
    an alias on the network, 8080 published on 127.0.0.1) created and started at once
    with Engine API calls, no client program started and no readiness wait."""
    floor_cleanup()

    def start(i):
        name = f"{FLOOR_NET}-web-{i}"
        spec = {"Image": IMAGE, "Hostname": f"web-{i}",
                "Cmd": ["sh", "-c", "echo up > /tmp/index.html; exec httpd -f -p 8080 -h /tmp"],
                "ExposedPorts": {"8080/tcp": {}},
                "HostConfig": {"NetworkMode": FLOOR_NET, "PortBindings": {
                    "8080/tcp": [{"HostIp": "127.0.0.1", "HostPort": ""}]}},
                "NetworkingConfig": {"EndpointsConfig": {FLOOR_NET: {"Aliases": [f"web-{i}"]}}}}
        cid = json.loads(engine("POST", f"/containers/create?name={name}", spec))["Id"]
        engine("POST", f"/containers/{cid}/start")

    cpu = busy_seconds()
    start_time = time.perf_counter()
    engine("POST", "/networks/create", {"Name": FLOOR_NET, "CheckDuplicate": True})
    with ThreadPoolExecutor(5) as pool:
        list(pool.map(start, range(1, 6)))
    elapsed = time.perf_counter() - start_time
    cpu = busy_seconds() - cpu
    floor_cleanup()
    return elapsed, cpu


def time_handoff(binary):
    cpu = busy_seconds()
    start = time.perf_counter()
    proc = subprocess.Popen([binary, IMAGE], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    cpu = busy_seconds() - cpu
    rest = proc.stdout.read()
    if proc.wait() != 0 or line.strip() != "ready":
        sys.exit(f"bench_workload failed: {line}{rest}")
    return elapsed, cpu


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("build_dir")
    parser.add_argument("--rounds", type=int, default=10)
    args = parser.parse_args()
    run(["cmake", "--build", args.build_dir, "--target", "bench_workload"],
        stdout=subprocess.DEVNULL)
    binary = os.path.join(args.build_dir, "bench", "bench_workload")
    build_image()
    with tempfile.NamedTemporaryFile("w", suffix=".sh", delete=False) as f:
        f.write(SCRIPT.format(net=CLI_NET, image=IMAGE))
        script = f.name
    try:
        # One untimed round of each: image layers and binaries in the page cache.
        time_cli(script)
        time_handoff(binary)
        time_floor()
        cli, ours, floor = [], [], []
        for _ in range(args.rounds):
            cli.append(time_cli(script))
            ours.append(time_handoff(binary))
            floor.append(time_floor())
    finally:
        os.unlink(script)
        cli_cleanup()
        floor_cleanup()
    version = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"],
                             capture_output=True, text=True).stdout.strip()
    print(f"Docker engine {version}, {os.cpu_count()} cores, {args.rounds} rounds each, "
          f"alternating; load average {os.getloadavg()[0]:.2f}\n")
    print("| Five HTTP runnables, started and ready | median | min | max | vs script "
          "| CPU busy, all cores (median) |")
    print("|---|---|---|---|---|---|")
    base = statistics.median(x for x, _ in cli)
    for name, rounds in (("handoff Docker environment (`bench_workload`)", ours),
                         ("docker CLI + curl script", cli),
                         ("engine floor: the same five created and started at once with "
                          "Engine API calls, no readiness wait", floor)):
        xs = [x for x, _ in rounds]
        m = statistics.median(xs)
        cpu = statistics.median(c for _, c in rounds)
        print(f"| {name} | {m * 1000:.0f} ms | {min(xs) * 1000:.0f} ms | "
              f"{max(xs) * 1000:.0f} ms | {m / base:.2f}× | {cpu:.2f} s |")


if __name__ == "__main__":
    main()
