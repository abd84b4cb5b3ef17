#!/usr/bin/env python3
"""deploy/kubernetes/ as a cluster would take it, checked without a cluster.

The ctest entry point of `ctest -R kubernetes_manifests`. No cluster runs here, so this
checks what can be checked of each kustomization (base, postgres, tls) and of the
ServiceMonitor:

- Every manifest parses. Each kustomization is rendered by a small kustomize (resources,
  strategic-merge patches, namespace: the subset the manifests use) and, where `kubectl` is
  installed, by `kubectl kustomize`, and the two renders must agree.
- The pods are what the image needs: non-root as the image's user, a read-only root
  filesystem with every path serve writes on a volume, no privilege escalation, probes on
  the paths and the port serve serves, the Service's target port a port of the container.
- Every container's arguments and environment (the ConfigMap, Secrets and fieldRefs as the
  kubelet would give them, with the volumes' paths in temporary directories) pass
  `serve --check-config`; for postgres, against a real PostgreSQL when Debian's
  postgresql-15 is installed (required with CI=true).
- The server started with the serve container's configuration answers its probes with a
  pod address as Host (as the kubelet sends), its API at the Service's name, and refuses
  another Host; /metrics answers for the ServiceMonitor.

Without python3-yaml it prints "SKIP: ..." and exits 0, unless CI=true, where that is a
failure. The environment (set by tests/CMakeLists.txt):
  K8S_FIXTURE   the serve_fixture binary (a handoff binary standing in for the image's)
"""

import copy
import json
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

from harness import check, failures, free_port, skip

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
DEPLOY = os.path.join(SOURCE, "deploy", "kubernetes")
OVERLAYS = ["base", "postgres", "tls"]
KINDS = {"Namespace", "ServiceAccount", "ConfigMap", "PersistentVolumeClaim", "Deployment",
         "Service", "PodDisruptionBudget"}
IN_CI = os.environ.get("CI") == "true"
PG_BIN = "/usr/lib/postgresql/15/bin"


try:
    import yaml
except ImportError:
    skip("python3-yaml not found: it parses the manifests (apt-get install python3-yaml)",
         "the Kubernetes manifests")


def image_constant(name):
    """A constant of the image's layout, as src/cli/image_command.h declares it."""
    with open(os.path.join(SOURCE, "src", "cli", "image_command.h"), encoding="utf-8") as f:
        return int(re.search(rf"{name} = (\d+);", f.read()).group(1))


IMAGE_UID = image_constant("kImageUid")
IMAGE_PORT = image_constant("kImagePort")


# --- A kustomize of the features the manifests use ----------------------------------------


def load_docs(path):
    with open(path, encoding="utf-8") as f:
        return [d for d in yaml.safe_load_all(f) if d is not None]


def merge_key(items):
    for key in ("mountPath", "name"):  # volumeMounts merge on mountPath, the rest on name
        if items and all(isinstance(i, dict) and key in i for i in items):
            return key
    return None


def merge(base, patch):
    """A strategic merge patch: maps merge, null deletes, named lists merge by their key."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = copy.deepcopy(base)
        for k, v in patch.items():
            if v is None:
                out.pop(k, None)
            elif k in out:
                out[k] = merge(out[k], v)
            else:
                out[k] = copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list):
        key = merge_key(base + patch)
        if key:
            out = copy.deepcopy(base)
            for item in patch:
                for i, existing in enumerate(out):
                    if existing[key] == item[key]:
                        out[i] = merge(existing, item)
                        break
                else:
                    out.append(copy.deepcopy(item))
            return out
    return copy.deepcopy(patch)


def render(directory):
    k = load_docs(os.path.join(directory, "kustomization.yaml"))[0]
    unknown = set(k) - {"apiVersion", "kind", "namespace", "resources", "patches"}
    check(not unknown, f"{directory}: fields this test's kustomize does not know: {unknown}")
    docs = []
    for resource in k.get("resources", []):
        path = os.path.normpath(os.path.join(directory, resource))
        docs += render(path) if os.path.isdir(path) else load_docs(path)
    for patch in k.get("patches", []):
        for p in load_docs(os.path.join(directory, patch["path"])):
            target = [i for i, d in enumerate(docs)
                      if d["kind"] == p["kind"] and d["metadata"]["name"] == p["metadata"]["name"]]
            check(len(target) == 1, f"{directory}: patch {patch['path']} matches "
                                    f"{len(target)} resources")
            if not target:
                continue
            if p.get("$patch") == "delete":
                del docs[target[0]]
            else:
                docs[target[0]] = merge(docs[target[0]], p)
    if "namespace" in k:
        for d in docs:
            if d["kind"] != "Namespace":
                d["metadata"]["namespace"] = k["namespace"]
    return docs


def normalised(docs):
    """Documents in an order-free form, to compare two renders."""
    def norm(v):
        if isinstance(v, dict):
            return {k: norm(x) for k, x in v.items()}
        if isinstance(v, list):
            items = [norm(x) for x in v]
            key = merge_key(items)
            return sorted(items, key=lambda i: str(i[key])) if key else items
        return v
    return sorted((json.dumps(norm(d), sort_keys=True) for d in docs))


def by_kind(docs, kind):
    return [d for d in docs if d["kind"] == kind]


# --- What the kubelet would give a container -----------------------------------------------


class Pod:
    """A pod of the Deployment, with its volumes in a temporary directory."""

    def __init__(self, deployment, configmaps, secrets, work):
        self.spec = deployment["spec"]["template"]["spec"]
        self.labels = deployment["spec"]["template"]["metadata"]["labels"]
        self.configmaps = configmaps
        self.secrets = secrets
        self.work = work
        self.volumes = {}  # volume name -> host directory
        for v in self.spec.get("volumes", []):
            path = os.path.join(work, "volumes", v["name"])
            os.makedirs(path, exist_ok=True)
            if "secret" in v:
                name = v["secret"]["secretName"]
                check(name in secrets or v["secret"].get("optional") is True,
                      f"volume {v['name']}: the test knows no Secret {name}")
                for key, content in secrets.get(name, {}).items():
                    with open(os.path.join(path, key), "w", encoding="utf-8") as f:
                        f.write(content)
            self.volumes[v["name"]] = path

    def mounts(self, container):
        """mountPath -> host directory, longest first."""
        out = {}
        for m in container.get("volumeMounts", []):
            check(m["name"] in self.volumes, f"{container['name']}: mounts unknown volume "
                                             f"{m['name']}")
            out[m["mountPath"]] = self.volumes.get(m["name"], "/nonexistent")
        return dict(sorted(out.items(), key=lambda kv: -len(kv[0])))

    def local(self, container, text):
        """`text` with the container's mount paths as this host's directories."""
        mounts = self.mounts(container)
        if not mounts:
            return text
        # One pass, so that a host directory is never rewritten as a mount path again.
        pattern = "|".join(re.escape(m) for m in mounts)
        return re.sub(rf"(?<![\w/])({pattern})(?=/|$|\b)", lambda m: mounts[m.group(1)], text)

    def env(self, container):
        env = {}
        for source in container.get("envFrom", []):
            ref = source["configMapRef"]["name"]
            check(ref in self.configmaps, f"{container['name']}: envFrom unknown ConfigMap {ref}")
            env.update(self.configmaps.get(ref, {}))
        for entry in container.get("env", []):
            if "value" in entry:
                env[entry["name"]] = str(entry["value"])
            elif "secretKeyRef" in entry["valueFrom"]:
                ref = entry["valueFrom"]["secretKeyRef"]
                value = self.secrets.get(ref["name"], {}).get(ref["key"])
                check(value is not None, f"{entry['name']}: the test knows no Secret "
                                         f"{ref['name']} key {ref['key']}")
                env[entry["name"]] = value or ""
            elif "fieldRef" in entry["valueFrom"]:
                check(entry["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name",
                      f"{entry['name']}: fieldRef {entry['valueFrom']['fieldRef']}")
                env[entry["name"]] = "handoff-7d9f6c5b8-x2kqp"
        return {k: self.local(container, v) for k, v in env.items()}


def run(argv, env, timeout=60):
    full = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/nonexistent"}
    full.update(env)
    return subprocess.run(argv, env=full, capture_output=True, text=True, timeout=timeout)


def get(url, host, token=None, tls=False):
    req = urllib.request.Request(url)
    req.add_header("Host", host)
    if token:
        req.add_header("Authorization", "Bearer " + token)
    context = None
    if tls:  # as the kubelet's HTTPS probes: the certificate is not checked
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    try:
        with urllib.request.urlopen(req, timeout=10, context=context) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code
    except OSError:
        return 0


class Postgres:
    """A throwaway PostgreSQL cluster (Debian's postgresql-15), as the C++ tests start one."""

    def __init__(self, work):
        self.dir = os.path.join(work, "pg")
        os.makedirs(self.dir)
        self.port = free_port()
        self.prefix = []
        if os.geteuid() == 0:  # initdb refuses root
            shutil.chown(self.dir, "postgres")
            self.prefix = ["/usr/sbin/runuser", "-u", "postgres", "--"]
        made = subprocess.run(self.prefix + [f"{PG_BIN}/initdb", "-D", f"{self.dir}/data", "-A",
                                             "trust", "-U", "postgres"],
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        started = subprocess.run(
            self.prefix + [f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-w", "-l",
                           f"{self.dir}/log", "-o", f"-p {self.port} -k {self.dir} -h 127.0.0.1",
                           "start"], capture_output=True, text=True)
        assert started.returncode == 0, started.stderr + open(f"{self.dir}/log").read()
        self.url = f"postgres://postgres:secret-password@127.0.0.1:{self.port}/postgres"

    def stop(self):
        subprocess.run(self.prefix + [f"{PG_BIN}/pg_ctl", "-D", f"{self.dir}/data", "-m", "fast",
                                      "stop"], capture_output=True)


# --- The checks -------------------------------------------------------------------------


def check_render(name, docs):
    if shutil.which("kubectl"):
        kubectl = subprocess.run(["kubectl", "kustomize", os.path.join(DEPLOY, name)],
                                 capture_output=True, text=True)
        if check(kubectl.returncode == 0, f"{name}: kubectl kustomize: {kubectl.stderr}"):
            theirs = [d for d in yaml.safe_load_all(kubectl.stdout) if d]
            check(normalised(theirs) == normalised(docs),
                  f"{name}: kubectl kustomize renders differently from this test's kustomize")
    else:
        print(f"{name}: no kubectl here: rendered by this test's kustomize only")
    for d in docs:
        check(d["kind"] in KINDS, f"{name}: unexpected kind {d['kind']}")
        check(d.get("apiVersion") and d.get("metadata", {}).get("name"),
              f"{name}: {d['kind']} without apiVersion or name")
        if d["kind"] != "Namespace":
            check(d["metadata"].get("namespace") == "e2e", f"{name}: {d['kind']} "
                                                          f"{d['metadata']['name']} not in e2e")


def check_pod_shape(name, deployment, service, config):
    spec = deployment["spec"]
    pod = spec["template"]["spec"]
    replicas = spec.get("replicas", 1)
    sqlite = config.get("HANDOFF_DB", "").startswith("sqlite:")
    serve = next(c for c in pod["containers"] if c["name"] == "serve")
    db_from_secret = any(e["name"] == "HANDOFF_DB" and "valueFrom" in e
                         for e in serve.get("env", []))
    if sqlite and not db_from_secret:
        check(replicas == 1 and spec["strategy"]["type"] == "Recreate",
              f"{name}: SQLite is one server's: 1 replica and Recreate, got {replicas} and "
              f"{spec['strategy']['type']}")
    else:
        check(replicas > 1 and spec["strategy"]["type"] == "RollingUpdate",
              f"{name}: PostgreSQL replicas roll: got {replicas} and {spec['strategy']['type']}")
    security = pod.get("securityContext", {})
    check(security.get("runAsNonRoot") is True, f"{name}: runAsNonRoot")
    check(security.get("runAsUser") == IMAGE_UID, f"{name}: runAsUser is not the image's "
                                                  f"user {IMAGE_UID}")
    check(security.get("fsGroup") == IMAGE_UID, f"{name}: fsGroup, for the volume's files")
    check(pod.get("automountServiceAccountToken") is False, f"{name}: no API token mounted")
    for c in pod.get("initContainers", []) + pod["containers"]:
        cs = c.get("securityContext", {})
        check(cs.get("readOnlyRootFilesystem") is True, f"{name}/{c['name']}: read-only root")
        check(cs.get("allowPrivilegeEscalation") is False, f"{name}/{c['name']}: escalation")
        check(cs.get("capabilities", {}).get("drop") == ["ALL"], f"{name}/{c['name']}: caps")
        paths = [m["mountPath"] for m in c.get("volumeMounts", [])]
        check("/tmp" in paths, f"{name}/{c['name']}: /tmp (tests' temporary directories) "
                               "is not a volume on a read-only root")
        if sqlite and not db_from_secret:
            db_dir = os.path.dirname(config["HANDOFF_DB"][len("sqlite:"):])
            check(db_dir in paths, f"{name}/{c['name']}: the database's directory {db_dir} "
                                   "is not a volume")
    init = [c for c in pod.get("initContainers", []) if "--check-config" in c.get("args", [])]
    check(len(init) == 1, f"{name}: no init container runs serve --check-config")
    if init:
        check(init[0]["image"] == serve["image"], f"{name}: check-config runs another image")
        for field in ("envFrom", "env", "volumeMounts"):
            check(normalised([{"x": init[0].get(field)}]) == normalised([{"x": serve.get(field)}]),
                  f"{name}: check-config's {field} differs from serve's: it checks another "
                  "configuration")
    ports = {p["name"]: p["containerPort"] for p in serve.get("ports", [])}
    check(ports.get("http") == int(config.get("HANDOFF_PORT", "1337")) == IMAGE_PORT,
          f"{name}: container port http {ports.get('http')}, HANDOFF_PORT "
          f"{config.get('HANDOFF_PORT')}, the image's {IMAGE_PORT}")
    scheme = "HTTPS" if config.get("HANDOFF_TLS_CERT") else "HTTP"
    for probe, path in (("startupProbe", "/healthz"), ("livenessProbe", "/healthz"),
                        ("readinessProbe", "/readyz")):
        got = serve.get(probe, {}).get("httpGet", {})
        check(got.get("path") == path and got.get("port") in ("http", ports.get("http")),
              f"{name}: {probe} is {got}, want {path} on the http port")
        check(got.get("scheme", "HTTP") == scheme, f"{name}: {probe} scheme "
                                                   f"{got.get('scheme', 'HTTP')}, want {scheme}")
    check(service["spec"]["selector"].items() <= spec["template"]["metadata"]["labels"].items(),
          f"{name}: the Service selects no pod of the Deployment")
    for p in service["spec"]["ports"]:
        check(p["targetPort"] in ports or p["targetPort"] in ports.values(),
              f"{name}: the Service's targetPort {p['targetPort']} is no container port")
    hosts = config.get("HANDOFF_ALLOWED_HOSTS", "").split(",")
    for host in ("handoff", "handoff.e2e.svc", "handoff.e2e.svc.cluster.local"):
        check(host in hosts, f"{name}: HANDOFF_ALLOWED_HOSTS lacks the Service's name {host}")
    return serve, init[0] if init else None


def check_serve(name, pod, serve, init, work):
    """check-config on both containers, then the server itself with serve's configuration."""
    for c, args in ((init, init["args"] if init else []), (serve, serve["args"] + ["--check-config"])):
        if c is None:
            continue
        env = pod.env(c)
        argv = [FIXTURE] + [pod.local(c, a) for a in args]
        checked = run(argv, env)
        if check(checked.returncode == 0, f"{name}/{c['name']}: serve --check-config exited "
                                          f"{checked.returncode}: {checked.stderr}"):
            check("serve would start with this configuration" in checked.stdout,
                  f"{name}/{c['name']}: {checked.stdout}")
            print(f"{name}/{c['name']}: {' '.join(args)}\n{checked.stdout}", end="")
        if "postgres" in env.get("HANDOFF_DB", ""):
            check("PostgreSQL 15" in checked.stdout, f"{name}: not checked against PostgreSQL")
        check("secret-password" not in checked.stdout + checked.stderr,
              f"{name}: the database password was printed")

    # Notification credentials from the handoff-notify Secret, named as the ConfigMap's
    # comment says: the destination is configured from the mounted file.
    notify_env = pod.env(serve)
    notify_env["HANDOFF_SLACK_WEBHOOK_URL_FILE"] = pod.local(
        serve, "/etc/handoff/notify/slack-webhook-url")
    notified = run([FIXTURE] + [pod.local(serve, a) for a in serve["args"]] + ["--check-config"],
                   notify_env)
    check(notified.returncode == 0 and "notify     slack (slack)" in notified.stdout,
          f"{name}: a Slack destination from the handoff-notify Secret: {notified.stdout}"
          f"{notified.stderr}")
    check("hooks.slack.com" not in notified.stdout + notified.stderr,
          f"{name}: the Slack webhook URL (a secret) was printed")

    env = pod.env(serve)
    port = free_port()
    env["HANDOFF_PORT"] = str(port)
    out = open(os.path.join(work, f"{name}.out"), "w+", encoding="utf-8")
    proc = subprocess.Popen([FIXTURE] + [pod.local(serve, a) for a in serve["args"]],
                            env={"PATH": os.environ.get("PATH", ""), **env}, stdout=out,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        tls = bool(env.get("HANDOFF_TLS_CERT"))
        base = f"{'https' if tls else 'http'}://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while get(base + "/healthz", "10.244.1.17:1337", tls=tls) != 200:
            if proc.poll() is not None or time.monotonic() > deadline:
                out.seek(0)
                check(False, f"{name}: serve did not answer /healthz:\n{out.read()}")
                return
            time.sleep(0.05)  # polling for the server to listen, with a deadline
        # Each probe as the kubelet sends it: its path, the pod's address as Host.
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            path = serve.get(probe, {}).get("httpGet", {}).get("path", "")
            check(get(base + path, "10.244.1.17:1337", tls=tls) == 200,
                  f"{name}: {probe} {path} is not answered 200")
        check(get(base + "/metrics", "10.244.1.17:1337", tls=tls) == 200,
              f"{name}: /metrics, which the ServiceMonitor scrapes")
        check(get(base + "/api/v1/suites", "handoff.e2e.svc:1337", TOKEN, tls) == 200,
              f"{name}: the API at the Service's name")
        check(get(base + "/api/v1/suites", "handoff.e2e.svc:1337", tls=tls) == 401,
              f"{name}: the API without a token")
        check(get(base + "/api/v1/suites", "evil.example:1337", TOKEN, tls) in (400, 403, 421),
              f"{name}: another Host was answered")
    finally:
        proc.terminate()
        check(proc.wait(timeout=30) == 0, f"{name}: serve did not stop cleanly on SIGTERM")


def check_service_monitor(rendered):
    path = os.path.join(DEPLOY, "monitoring", "servicemonitor.yaml")
    monitor = load_docs(path)[0]
    service = by_kind(rendered, "Service")[0]
    check(monitor["kind"] == "ServiceMonitor", f"{path}: kind {monitor['kind']}")
    check(monitor["spec"]["selector"]["matchLabels"].items() <=
          service["metadata"]["labels"].items(), f"{path}: selects no handoff Service")
    names = {p["name"] for p in service["spec"]["ports"]}
    for e in monitor["spec"]["endpoints"]:
        check(e["port"] in names and e["path"] == "/metrics", f"{path}: endpoint {e}")
        check(e.get("honorLabels") is True, f"{path}: without honorLabels the suites' "
                                            "namespace label becomes exported_namespace")


FIXTURE = os.environ.get("K8S_FIXTURE", "")
TOKEN = ""


def main():
    global TOKEN
    if not FIXTURE:
        print("K8S_FIXTURE: the serve_fixture binary is required", file=sys.stderr)
        return 2
    work = tempfile.mkdtemp(prefix="handoff-k8s-")
    os.chmod(work, 0o711)  # PostgreSQL runs as postgres below it
    postgres = None
    try:
        auth = os.path.join(work, "tokens")
        made = run([FIXTURE, "token", "--name", "ci", "--role", "run", "--auth-file", auth], {})
        assert made.returncode == 0, made.stderr
        TOKEN = made.stdout.strip()
        tls_dir = os.path.join(work, "tls")
        os.makedirs(tls_dir)
        made = subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes",
                               "-keyout", f"{tls_dir}/tls.key", "-out", f"{tls_dir}/tls.crt",
                               "-days", "2", "-subj", "/CN=handoff.e2e.svc"],
                              capture_output=True, text=True)
        assert made.returncode == 0, made.stderr
        secrets = {"handoff-auth": {"tokens": open(auth).read()},
                   "handoff-notify": {
                       "slack-webhook-url": "https://hooks.slack.com/services/T0/B0/secret\n"},
                   "handoff-tls": {"tls.crt": open(f"{tls_dir}/tls.crt").read(),
                                   "tls.key": open(f"{tls_dir}/tls.key").read()}}
        if os.path.exists(f"{PG_BIN}/initdb"):
            postgres = Postgres(work)
            secrets["handoff-db"] = {"url": postgres.url}
        elif IN_CI:
            check(False, "postgresql-15 is required in CI: the postgres overlay goes unchecked")
        rendered = {}
        for name in OVERLAYS:
            docs = render(os.path.join(DEPLOY, name))
            rendered[name] = docs
            check_render(name, docs)
            deployments = by_kind(docs, "Deployment")
            services = by_kind(docs, "Service")
            if not check(len(deployments) == 1 and len(services) == 1,
                         f"{name}: want one Deployment and one Service"):
                continue
            configmaps = {c["metadata"]["name"]: c.get("data", {})
                          for c in by_kind(docs, "ConfigMap")}
            serve, init = check_pod_shape(name, deployments[0], services[0],
                                          configmaps.get("handoff-config", {}))
            if name == "postgres":
                check(not by_kind(docs, "PersistentVolumeClaim"), "postgres: a PVC is left")
                if postgres is None:
                    print("postgres: no postgresql-15 here: its configuration is not run")
                    continue
            pod = Pod(deployments[0], configmaps, secrets, os.path.join(work, name))
            check_serve(name, pod, serve, init, work)
        check_service_monitor(rendered["base"])
    finally:
        if postgres:
            postgres.stop()
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} check(s) failed", file=sys.stderr)
        return 1
    print(f"kubernetes manifests: {', '.join(OVERLAYS)} and the ServiceMonitor checked")
    return 0


if __name__ == "__main__":
    sys.exit(main())
