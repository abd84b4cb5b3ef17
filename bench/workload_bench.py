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
"""
import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

IMAGE = "handoff-bench/busybox:latest"
CLI_NET = "handoff-bench-cli"

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
    start = time.perf_counter()
    run(["sh", script])
    elapsed = time.perf_counter() - start
    cli_cleanup()
    return elapsed


def time_handoff(binary):
    start = time.perf_counter()
    proc = subprocess.Popen([binary, IMAGE], stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline()
    elapsed = time.perf_counter() - start
    rest = proc.stdout.read()
    if proc.wait() != 0 or line.strip() != "ready":
        sys.exit(f"bench_workload failed: {line}{rest}")
    return elapsed


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
        cli, ours = [], []
        for _ in range(args.rounds):
            cli.append(time_cli(script))
            ours.append(time_handoff(binary))
    finally:
        os.unlink(script)
        cli_cleanup()
    engine = subprocess.run(["docker", "version", "-f", "{{.Server.Version}}"],
                            capture_output=True, text=True).stdout.strip()
    print(f"Docker engine {engine}, {args.rounds} rounds each, alternating; "
          f"load average {os.getloadavg()[0]:.2f}\n")
    print("| Five HTTP runnables, started and ready | median | min | max | vs script |")
    print("|---|---|---|---|---|")
    base = statistics.median(cli)
    for name, xs in (("handoff Docker environment (`bench_workload`)", ours),
                     ("docker CLI + curl script", cli)):
        m = statistics.median(xs)
        print(f"| {name} | {m * 1000:.0f} ms | {min(xs) * 1000:.0f} ms | "
              f"{max(xs) * 1000:.0f} ms | {m / base:.2f}× |")


if __name__ == "__main__":
    main()
