#!/usr/bin/env python3
"""The deploy-gate examples (deploy/gates/, deploy/kubernetes/gate/) run as written.

The ctest entry point of `ctest -R deploy_gates`. It starts a real `serve` of serve_fixture
(suite Fast passes, Mixed fails, Gate waits for a file) with tokens on, parses every example
with PyYAML, takes from each its actual command, script, URL, header and conditions, and runs
them against the live server with the built binary in place of the image's. It substitutes
only the server's address (http://handoff.e2e.svc:1337), the binary's path
(/usr/local/bin/shop_e2e) and the token (the Secret handoff-tokens, key gate-token, or the CI
secret that holds it); the suite and the reference are what each example takes as input.

- Argo Rollouts, job provider: the Job's container, args templated with {{args.*}}, env from
  the Secret: exit 0 for a passing suite, non-zero for a failing one.
- Argo Rollouts, web provider: GET of the templated URL with the templated header, the
  jsonPath and the success/failure conditions evaluated as Argo does (the small subset of its
  expression language the example uses): Successful for the passing run's reference, Failed
  for the failing one's, a measurement error (Argo measures again) while no run has finished.
- Flux HelmRelease + the chart's helm test Pod: the Pod rendered with the release's values.
- The Kubernetes Job, the GitHub Actions step's `run:` and the GitLab job's `script:`.

Without python3-yaml it prints "SKIP: ..." and exits 0, unless CI=true, where that is a
failure. The environment (set by tests/CMakeLists.txt):
  GATES_FIXTURE   the serve_fixture binary (required)
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import check, failures, skip

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(os.path.dirname(HERE))
EXAMPLES = {
    "argo_job": os.path.join(SOURCE, "deploy/gates/argo-rollouts-job.yaml"),
    "argo_web": os.path.join(SOURCE, "deploy/gates/argo-rollouts-web.yaml"),
    "flux": os.path.join(SOURCE, "deploy/gates/flux-helmrelease.yaml"),
    "helm_test": os.path.join(SOURCE, "deploy/gates/helm-test-pod.yaml"),
    "job": os.path.join(SOURCE, "deploy/kubernetes/gate/job.yaml"),
    "github": os.path.join(SOURCE, "deploy/gates/github-actions.yml"),
    "gitlab": os.path.join(SOURCE, "deploy/gates/gitlab-ci.yml"),
}
# What the examples say and the test replaces: nothing else is changed.
EXAMPLE_SERVER = "http://handoff.e2e.svc:1337"
EXAMPLE_BINARY = "/usr/local/bin/shop_e2e"
TOKEN_SECRET = ("handoff-tokens", "gate-token")
PASSING, FAILING, WAITING = "Fast", "Mixed", "Gate"


try:
    import yaml
except ImportError:
    skip("python3-yaml not found: it parses the examples (apt-get install python3-yaml)",
         "the deploy-gate examples")


def load(name):
    with open(EXAMPLES[name], encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d is not None]
    assert len(docs) == 1, f"{EXAMPLES[name]}: want one document, got {len(docs)}"
    return docs[0]


class Live:
    """A real `serve` with tokens on, and how the examples reach it."""

    def __init__(self, fixture, work):
        self.fixture = fixture
        self.work = work
        auth = os.path.join(work, "auth")
        made = subprocess.run([fixture, "token", "--name", "gate", "--role", "run",
                               "--auth-file", auth], capture_output=True, text=True, timeout=60)
        assert made.returncode == 0, made.stderr
        self.token = made.stdout.strip()
        assert self.token, "no token printed"
        self.gate_file = os.path.join(work, "gate-open")
        self.out = open(os.path.join(work, "serve.out"), "w+", encoding="utf-8")
        self.err = open(os.path.join(work, "serve.err"), "w+", encoding="utf-8")
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
               "SERVE_FIXTURE_GATE": self.gate_file}
        self.proc = subprocess.Popen(
            [fixture, "serve", "--port", "0", "--db", f"sqlite:{work}/h.db", "--auth-file", auth,
             "--grace", "200ms", "--shutdown-timeout", "2s"],
            stdout=self.out, stderr=self.err, env=env, start_new_session=True)
        deadline = time.monotonic() + 30
        self.url = None
        while self.url is None:
            with open(self.out.name, encoding="utf-8") as f:
                m = re.search(r"serving \d+ suites on (http://\S+:\d+) ", f.read())
            if m:
                self.url = m.group(1)
            elif self.proc.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("serve did not start:\n" + self.logs())
            else:
                time.sleep(0.05)  # polling the log for the port, with a deadline
        self.secrets = {TOKEN_SECRET: self.token}
        # Every command line run, to check that no token was ever in one.
        self.argvs = []

    def logs(self):
        with open(self.out.name, encoding="utf-8") as o, open(self.err.name, encoding="utf-8") as e:
            return o.read() + e.read()

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def here(self, text):
        """The example's text with the live server and binary in place of the example's."""
        return text.replace(EXAMPLE_SERVER, self.url).replace(EXAMPLE_BINARY, self.fixture)

    def api(self, path, token=None):
        req = urllib.request.Request(self.url + path)
        req.add_header("Authorization", "Bearer " + (token or self.token))
        try:
            with urllib.request.urlopen(req, timeout=10) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read() or b"null")

    def post(self, path, body):
        req = urllib.request.Request(self.url + path, data=json.dumps(body).encode(),
                                     method="POST")
        req.add_header("Authorization", "Bearer " + self.token)
        req.add_header("Content-Type", "application/json")
        with urllib.request.urlopen(req, timeout=10) as r:
            return json.loads(r.read())

    def execute(self, argv, env):
        self.argvs.append(list(argv))
        base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": self.work}
        base.update(env)
        return subprocess.run(argv, env=base, capture_output=True, text=True, timeout=300)


# --- Kubernetes and Argo semantics the examples rely on ---------------------------------------


def expand_k8s(text, env):
    """Kubernetes' $(VAR) expansion in command, args and env values ($$ escapes)."""
    def one(m):
        if m.group(0).startswith("$$"):
            return m.group(0)[1:]
        return env.get(m.group(1), m.group(0))
    return re.sub(r"\$\$\([A-Za-z_][A-Za-z0-9_]*\)|\$\(([A-Za-z_][A-Za-z0-9_]*)\)", one, text)


def container_env(live, container, overrides=None):
    """A container's environment: values (with $(VAR)), or secretKeyRef from the Secret."""
    env = {}
    for entry in container.get("env", []):
        name = entry["name"]
        if "value" in entry:
            env[name] = expand_k8s(live.here(str(entry["value"])), env)
        else:
            ref = entry["valueFrom"]["secretKeyRef"]
            key = (ref["name"], ref["key"])
            check(key in live.secrets, f"{name} comes from Secret {key}, which holds no token; "
                                       f"the gates use {TOKEN_SECRET}")
            env[name] = live.secrets.get(key, "")
        if overrides and name in overrides:
            env[name] = overrides[name]
    return env


def run_container(live, container, overrides=None):
    env = container_env(live, container, overrides)
    argv = [expand_k8s(live.here(str(a)), env)
            for a in container.get("command", []) + container.get("args", [])]
    return live.execute(argv, env)


def template(value, fill):
    """Applies `fill` to every string of a YAML tree."""
    if isinstance(value, dict):
        return {k: template(v, fill) for k, v in value.items()}
    if isinstance(value, list):
        return [template(v, fill) for v in value]
    if isinstance(value, str):
        return fill(value)
    return value


def argo_args(live, spec, given):
    """An AnalysisTemplate's args: a default value, a Secret, or what the Rollout passes."""
    args = {}
    for arg in spec.get("args", []):
        name = arg["name"]
        if name in given:
            args[name] = given[name]
        elif "valueFrom" in arg:
            ref = arg["valueFrom"]["secretKeyRef"]
            key = (ref["name"], ref["key"])
            check(key in live.secrets, f"arg {name} comes from Secret {key}, which holds no "
                                       f"token; the gates use {TOKEN_SECRET}")
            args[name] = live.secrets.get(key, "")
        elif "value" in arg:
            args[name] = arg["value"]
        else:
            raise AssertionError(f"the Rollout must pass arg {name}")
    for name in given:
        check(name in args, f"the template has no arg {name}")

    def fill(text):
        def one(m):
            check(m.group(1) in args, f"{{{{args.{m.group(1)}}}}} is no arg of the template")
            return str(args.get(m.group(1), ""))
        return re.sub(r"\{\{\s*args\.([A-Za-z0-9_.-]+)\s*\}\}", one, text)
    return fill


def json_path(path, data):
    """The subset of Kubernetes JSONPath the web provider's example uses: {$}, {$.a.b}, {.a.b}."""
    m = re.fullmatch(r"\{\$?((?:\.[A-Za-z_][A-Za-z0-9_]*)*)\}", path.strip())
    if not m:
        raise AssertionError(f"jsonPath {path!r} is outside the subset this test evaluates")
    for key in [k for k in m.group(1).split(".") if k]:
        if not isinstance(data, dict) or key not in data:
            raise LookupError(f"jsonPath {path}: no {key} in {data!r}")
        data = data[key]
    return data


TOKEN_RE = re.compile(r"\s*(==|!=|&&|\|\||!|\(|\)|true\b|false\b|nil\b|-?\d+(?:\.\d+)?|"
                      r"'[^']*'|\"[^\"]*\"|result(?:\.[A-Za-z_][A-Za-z0-9_]*)*)")


def evaluate(expression, result):
    """Argo's conditions (the expr language), the subset the examples use: result and its
    fields, true/false/nil, numbers and strings, == != ! && || and parentheses."""
    tokens, pos = [], 0
    while pos < len(expression):
        m = TOKEN_RE.match(expression, pos)
        if not m:
            if expression[pos:].strip() == "":
                break
            raise AssertionError(f"condition {expression!r}: {expression[pos:]!r} is outside "
                                 "the subset this test evaluates")
        tokens.append(m.group(1))
        pos = m.end()
    at = [0]

    def peek():
        return tokens[at[0]] if at[0] < len(tokens) else None

    def take():
        at[0] += 1
        return tokens[at[0] - 1]

    def primary():
        t = take()
        if t == "(":
            v = disjunction()
            assert take() == ")", expression
            return v
        if t == "!":
            return not primary()
        if t in ("true", "false"):
            return t == "true"
        if t == "nil":
            return None
        if t[0] in "'\"":
            return t[1:-1]
        if t.startswith("result"):
            v = result
            for key in t.split(".")[1:]:
                v = v[key]
            return v
        return float(t) if "." in t else int(t)

    def comparison():
        left = primary()
        while peek() in ("==", "!="):
            op, right = take(), primary()
            # expr compares a bool with a bool only: true == 1 is false, as in Go.
            same = type(left) is type(right) and left == right
            left = same if op == "==" else not same
        return left

    def conjunction():
        v = comparison()
        while peek() == "&&":
            take()
            v = comparison() and v
        return v

    def disjunction():
        v = conjunction()
        while peek() == "||":
            take()
            v = conjunction() or v
        return v

    value = disjunction()
    assert at[0] == len(tokens), f"condition {expression!r} has trailing tokens"
    return value


def measure_web(live, metric):
    """One measurement of Argo's web provider: Successful, Failed, Inconclusive or Error."""
    web = metric["provider"]["web"]
    check(web.get("method", "GET") == "GET", "the verdict is a GET")
    req = urllib.request.Request(live.here(web["url"]))
    for header in web.get("headers", []):
        req.add_header(header["key"], header["value"])
    try:
        with urllib.request.urlopen(req, timeout=web.get("timeoutSeconds", 10)) as r:
            body = r.read()
    except urllib.error.HTTPError as e:
        return "Error", e.code  # non-2xx: a measurement error, measured again
    try:
        result = json_path(web.get("jsonPath", "{$}"), json.loads(body))
    except (LookupError, ValueError) as e:
        return "Error", str(e)
    success, failure = metric.get("successCondition", ""), metric.get("failureCondition", "")
    if failure and evaluate(failure, result):
        return "Failed", result
    if success and evaluate(success, result):
        return "Successful", result
    if success and failure:
        return "Inconclusive", result
    return ("Failed" if success else "Successful"), result


# --- The examples ----------------------------------------------------------------------------


def argo_job(live):
    spec = load("argo_job")["spec"]
    metric = spec["metrics"][0]
    for suite, revision, want_ok in ((PASSING, "sha-job-pass", True),
                                     (FAILING, "sha-job-fail", False)):
        job = template(metric["provider"]["job"]["spec"],
                       argo_args(live, spec, {"suite": suite, "revision": revision}))
        pod = job["template"]["spec"]
        check(pod.get("restartPolicy") == "Never", "argo job: restartPolicy must be Never")
        check(job.get("backoffLimit") == 0, "argo job: a failed run must not be retried")
        r = run_container(live, pod["containers"][0])
        print(f"argo job provider, {suite}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        check((r.returncode == 0) == want_ok,
              f"argo job provider for {suite}: exit {r.returncode}, want "
              f"{'0' if want_ok else 'non-zero'}")
        check(r.returncode in (0, 1), f"argo job provider for {suite}: exit {r.returncode} "
                                      "means the server was not reached or refused")
        status, body = live.api("/api/v1/runs?reference=" + revision)
        runs = body.get("runs", []) if status == 200 else []
        check(len(runs) == 1 and runs[0]["suite"] == suite and runs[0]["initiated_by"] == "gate",
              f"argo job provider for {suite}: want one run of it at {revision} by the token's "
              f"name, got {status} {runs}")


def argo_web(live):
    spec = load("argo_web")["spec"]
    metric = spec["metrics"][0]
    check(str(metric.get("count")) == "1",
          "argo web: count 1 (a pending verdict is an error and must not use up the count)")
    check(int(metric.get("consecutiveErrorLimit", 4)) >= 10,
          "argo web: consecutiveErrorLimit must cover the wait for a run to finish")

    def measure(suite, revision):
        filled = template(metric, argo_args(live, spec, {"suite": suite, "revision": revision}))
        phase, value = measure_web(live, filled)
        print(f"argo web provider, {suite} at {revision}: {phase} ({value})")
        return phase

    # The runs the job provider made: a passing and a failing one.
    check(measure(PASSING, "sha-job-pass") == "Successful", "argo web: want Successful")
    check(measure(FAILING, "sha-job-fail") == "Failed", "argo web: want Failed")
    # Nothing at that reference: an error, measured again.
    check(measure(PASSING, "sha-never-run") == "Error", "argo web: no run must be an Error")
    # A run in progress: an error until it finishes, then its verdict.
    run = live.post(f"/api/v1/suites/{WAITING}/runs", {"reference": "sha-web-pending"})
    check(measure(WAITING, "sha-web-pending") == "Error", "argo web: a pending run must be an "
                                                           "Error (measured again)")
    with open(live.gate_file, "w", encoding="utf-8") as f:
        f.write("open\n")
    deadline = time.monotonic() + 60
    while live.api(f"/api/v1/runs/{run['id']}")[1].get("status") in ("queued", "running"):
        check(time.monotonic() < deadline, "the Gate run did not finish")
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)  # polling the run's state, with a deadline
    check(measure(WAITING, "sha-web-pending") == "Successful",
          "argo web: the finished run's verdict must be Successful")


def flux(live):
    release = load("flux")
    spec = release["spec"]
    check(spec.get("test", {}).get("enable") is True, "flux: spec.test.enable must be true")
    pod = load("helm_test")
    hook = pod["metadata"].get("annotations", {}).get("helm.sh/hook")
    check(hook == "test", f"helm test pod: helm.sh/hook is {hook!r}, want test")
    for suite, reference, want_ok in ((PASSING, "helm-pass", True), (FAILING, "helm-fail", False)):
        values = json.loads(json.dumps(spec["values"]))
        values["e2e"]["suite"] = suite
        values["e2e"]["reference"] = reference

        def fill(text):
            def one(m):
                path = m.group(1)
                if path == "Release.Name":
                    return release["metadata"]["name"]
                check(path.startswith("Values."), f"helm test pod: {{{{ .{path} }}}} is not a "
                                                  "value")
                v = values
                for key in path.split(".")[1:]:
                    if not check(isinstance(v, dict) and key in v,
                                 f"helm test pod: .{path} is not in the HelmRelease's values"):
                        return ""
                    v = v[key]
                return str(v)
            rendered = re.sub(r"\{\{\s*\.([A-Za-z0-9_.]+)\s*\}\}", one, text)
            check("{{" not in rendered, f"helm test pod: {text!r} is outside the template "
                                        "subset this test renders")
            return rendered
        rendered = template(pod, fill)
        check(rendered["spec"].get("restartPolicy") == "Never", "helm test pod: restartPolicy")
        r = run_container(live, rendered["spec"]["containers"][0])
        print(f"helm test pod (Flux), {suite}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        check((r.returncode == 0) == want_ok, f"helm test pod for {suite}: exit {r.returncode}")


def kubernetes_job(live):
    job = load("job")
    check(job["kind"] == "Job" and job["spec"].get("backoffLimit") == 0,
          "kubernetes job: a Job with backoffLimit 0")
    pod = job["spec"]["template"]["spec"]
    check(pod.get("restartPolicy") == "Never", "kubernetes job: restartPolicy must be Never")
    for suite, sha, want_ok in ((PASSING, "job-pass", True), (FAILING, "job-fail", False)):
        r = run_container(live, pod["containers"][0], {"E2E_SUITE": suite, "GIT_SHA": sha})
        print(f"kubernetes job, {suite}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        check((r.returncode == 0) == want_ok, f"kubernetes job for {suite}: exit {r.returncode}")
        status, body = live.api("/api/v1/runs?reference=" + sha)
        check(status == 200 and len(body.get("runs", [])) == 1,
              f"kubernetes job for {suite}: no run recorded at {sha}")


def github(live):
    workflow = load("github")
    job = workflow["jobs"]["e2e-gate"]
    steps = [s for s in job["steps"] if "run" in s]
    check(len(steps) == 1, "github: want one step with run:")
    step = steps[0]
    context = {"vars": {"HANDOFF_SERVER": live.url},
               "secrets": {"HANDOFF_GATE_TOKEN": live.token}}

    def expression(text, sha):
        def one(m):
            name = m.group(1)
            if name == "github.sha":
                return sha
            scope, _, key = name.partition(".")
            check(key in context.get(scope, {}), f"github: ${{{{ {name} }}}} is not set up")
            return context.get(scope, {}).get(key, "")
        return re.sub(r"\$\{\{\s*([A-Za-z_.]+)\s*\}\}", one, str(text))
    for suite, sha, want_ok in ((PASSING, "gh-pass", True), (FAILING, "gh-fail", False)):
        env = {k: expression(v, sha) for k, v in job.get("env", {}).items()}
        env["E2E_SUITE"] = suite
        env.update({k: expression(v, sha) for k, v in step.get("env", {}).items()})
        env["GITHUB_SHA"] = sha
        script = live.here(expression(step["run"], sha))
        check("${{" not in script and live.token not in script, "github: run: is plain shell")
        # GitHub's default shell on Linux: bash --noprofile --norc -eo pipefail {0}.
        r = live.execute(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", script], env)
        print(f"github actions step, {suite}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        check((r.returncode == 0) == want_ok, f"github step for {suite}: exit {r.returncode}")
        status, body = live.api("/api/v1/runs?reference=" + sha)
        check(status == 200 and len(body.get("runs", [])) == 1,
              f"github step for {suite}: no run recorded at {sha}")


def gitlab(live):
    pipeline = load("gitlab")
    job = pipeline["e2e-gate"]
    check(job["image"].get("entrypoint") == [""],
          "gitlab: the image's entrypoint must be cleared for script: to run")
    project_variables = {"HANDOFF_GATE_TOKEN": live.token}
    for suite, sha, want_ok in ((PASSING, "gl-pass", True), (FAILING, "gl-fail", False)):
        predefined = {"CI_COMMIT_SHA": sha}
        known = dict(project_variables, **predefined)
        env = dict(predefined)
        for name, value in job.get("variables", {}).items():
            # GitLab expands $VAR and ${VAR} in a variable from the ones defined before it.
            env[name] = re.sub(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?",
                               lambda m: known.get(m.group(1), ""), live.here(str(value)))
            known[name] = env[name]
        env["E2E_SUITE"] = suite
        check(env.get("HANDOFF_TOKEN") == live.token, "gitlab: HANDOFF_TOKEN must come from "
                                                      "the project's HANDOFF_GATE_TOKEN")
        script = "\n".join(live.here(line) for line in job["script"])
        r = live.execute(["bash", "-eo", "pipefail", "-c", script], env)
        print(f"gitlab job, {suite}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        check((r.returncode == 0) == want_ok, f"gitlab job for {suite}: exit {r.returncode}")
        status, body = live.api("/api/v1/runs?reference=" + sha)
        check(status == 200 and len(body.get("runs", [])) == 1,
              f"gitlab job for {suite}: no run recorded at {sha}")


def main():
    fixture = os.environ.get("GATES_FIXTURE", "")
    if not fixture or not os.access(fixture, os.X_OK):
        print(f"FAIL: GATES_FIXTURE={fixture!r} is not an executable: run through ctest, which "
              "builds serve_fixture and sets it", file=sys.stderr)
        return 1
    for name, path in EXAMPLES.items():
        with open(path, encoding="utf-8") as f:
            text = f.read()
        if name not in ("helm_test", "github"):
            check(EXAMPLE_SERVER in text, f"{path} does not name the server {EXAMPLE_SERVER}")
        if name in ("argo_job", "job", "github", "gitlab"):
            check(EXAMPLE_BINARY in text, f"{path} does not run {EXAMPLE_BINARY}")
    work = tempfile.mkdtemp(prefix="handoff-gates-")
    live = Live(fixture, work)
    try:
        for example in (argo_job, argo_web, flux, kubernetes_job, github, gitlab):
            print(f"--- {example.__name__}")
            example(live)
        for argv in live.argvs:
            check(all(live.token not in a for a in argv), f"a token in argv: {argv[:3]}...")
        check(live.token not in live.logs(), "the token is in the server's log")
    finally:
        live.stop()
        if failures:
            print(f"the server's log:\n{live.logs()}", file=sys.stderr)
        shutil.rmtree(work, ignore_errors=True)
    if failures:
        print(f"{len(failures)} failure(s)", file=sys.stderr)
        return 1
    print("every deploy-gate example passed a passing suite and stopped a failing one")
    return 0


if __name__ == "__main__":
    sys.exit(main())
