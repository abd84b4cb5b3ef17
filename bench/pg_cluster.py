"""A throwaway PostgreSQL cluster for the benchmarks (bench/pg_bench.py, bench/replica_bench.py).

The server's defaults (fsync and synchronous_commit on, as a production database would run),
on a free port of 127.0.0.1, in a temporary directory; initdb and pg_ctl from PG_BIN, else the
newest /usr/lib/postgresql/*/bin, as the postgres user when run as root (they refuse root).
"""

import glob
import os
import pwd
import socket
import subprocess
import sys


def pg_bin():
    found = os.environ.get("PG_BIN") or (sorted(glob.glob("/usr/lib/postgresql/*/bin"),
                                                key=lambda p: int(p.split("/")[-2]))[-1:] or [""])[0]
    if not os.path.exists(os.path.join(found, "initdb")):
        sys.exit(f"{os.path.basename(sys.argv[0])}: no initdb: install Debian's postgresql or set PG_BIN")
    return found


def as_postgres(argv):
    return ["runuser", "-u", "postgres", "--"] + argv if os.geteuid() == 0 else argv


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Cluster:
    """Started by start(tmp); stop() stops it. create(name) makes a database, url(name) names it."""

    def __init__(self):
        self.data = None
        self.port = None
        self.bin = pg_bin()

    def start(self, tmp):
        self.data, sock = os.path.join(tmp, "pgdata"), os.path.join(tmp, "pgsock")
        os.makedirs(sock)
        if os.geteuid() == 0:
            postgres = pwd.getpwnam("postgres")
            for path in (tmp, sock):
                os.chown(path, postgres.pw_uid, postgres.pw_gid)
        subprocess.run(as_postgres([os.path.join(self.bin, "initdb"), "-D", self.data, "-A",
                                    "trust", "-U", "postgres"]), check=True,
                       stdout=subprocess.DEVNULL)
        self.port = free_port()
        subprocess.run(as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-w",
                                    "-l", os.path.join(tmp, "pg.log"), "-o",
                                    f"-p {self.port} -k {sock} -h 127.0.0.1", "start"]),
                       check=True, stdout=subprocess.DEVNULL)
        return self

    def create(self, name):
        subprocess.run(["psql", "-q", "-h", "127.0.0.1", "-p", str(self.port), "-U", "postgres",
                        "-c", f"CREATE DATABASE {name}"], check=True)
        return self.url(name)

    def url(self, name):
        return f"postgres://postgres@127.0.0.1:{self.port}/{name}"

    def stop(self):
        if self.data:
            subprocess.run(as_postgres([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m",
                                        "fast", "stop"]), stdout=subprocess.DEVNULL)
            self.data = None
