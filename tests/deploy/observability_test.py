#!/usr/bin/env python3
"""The ctest `observability`: deploy/grafana/handoff.json and deploy/prometheus/alerts.yml
against a real `serve` scraped by a real Prometheus.

1. `promtool check rules` on alerts.yml and `promtool test rules` on alerts_test.yml.
2. serve_fixture's `serve` (a schedule every second, --max-concurrent-runs 1, two webhook
   destinations: "ci" answered by a receiver here, "audit" on a port nobody listens on)
   runs suites that pass (Fast, by its schedule), fail and flake (Mixed), fail softly (Soft);
   Debian's /usr/bin/prometheus scrapes it every second with alerts.yml as its rule file.
3. A run blocked on a gate file holds the only slot: runs queue up behind it and the
   scheduled suite stops finishing runs.
4. Every panel target of the dashboard, its Grafana variables substituted ($datasource,
   $job, $namespace and $suite as `.*` and as real names, $__rate_interval, $__interval,
   $__range), is evaluated through /api/v1/query and must return series; a time-series
   panel's target must also have a finite sample in a /api/v1/query_range over the test.
   Every metric a target (or an alert rule) names must exist, and every label it filters,
   groups or matches on must be one of that metric's labels; a target's selectors must follow
   $job, and $namespace and $suite where their metric has those labels.
5. Every alert rule, as Prometheus loaded it (/api/v1/rules), is evaluated: those the test
   provokes must return the provoking series (and not the healthy ones), and Prometheus must
   hold them pending or firing; the others must find series for each metric they read.
6. The server is stopped; HandoffInstanceDown and HandoffDown must then return series.

Without prometheus or promtool it prints "SKIP: ..." and exits 0, unless CI=true, where that
is a failure. Polling has deadlines; nothing sleeps in place of waiting for a condition.

Environment (set by tests/CMakeLists.txt):
  OBS_SERVE_FIXTURE   the serve_fixture binary (required)
  OBS_OUTPUT_DIR      logs and Prometheus' data (default: a temporary directory)
  OBS_PROMETHEUS, OBS_PROMTOOL   the binaries (default /usr/bin/prometheus, /usr/bin/promtool)
"""

import http.server
import json
import math
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

from harness import check, failures, free_port, skip

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DASHBOARD = os.path.join(REPO, "deploy", "grafana", "handoff.json")
RULES_DIR = os.path.join(REPO, "deploy", "prometheus")
ALERTS = os.path.join(RULES_DIR, "alerts.yml")
ALERTS_TEST = os.path.join(RULES_DIR, "alerts_test.yml")
JOB = "handoff"
SCRAPE_SECONDS = 1

def fail(message):
    check(False, message)  # once: a metric is checked for each target that reads it


def log(message):
    print(f"observability: {message}", flush=True)


def poll(what, condition, timeout=30.0, interval=0.1):
    """Calls condition() until it returns a truthy value (returned) or `timeout` passes."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)  # the polling period, not a synchronisation


def http_json(url, data=None, method=None, timeout=10):
    body = None if data is None else json.dumps(data).encode()
    req = urllib.request.Request(url, data=body, method=method,
                                 headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read() or b"null")
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"null")


# --- Prometheus ---------------------------------------------------------------------------


class Prometheus:
    def __init__(self, binary, out_dir, target, avoid_port):
        self.port = free_port(avoid=(avoid_port,))
        self.url = f"http://127.0.0.1:{self.port}"
        config = {
            "global": {"scrape_interval": f"{SCRAPE_SECONDS}s",
                       "scrape_timeout": f"{SCRAPE_SECONDS}s",
                       "evaluation_interval": f"{SCRAPE_SECONDS}s"},
            "rule_files": [ALERTS],
            "scrape_configs": [{"job_name": JOB, "static_configs": [{"targets": [target]}]}],
        }
        config_file = os.path.join(out_dir, "prometheus.yml")
        with open(config_file, "w") as f:
            json.dump(config, f, indent=2)  # JSON is YAML
        self.log_file = os.path.join(out_dir, "prometheus.log")
        self.process = subprocess.Popen(
            [binary, f"--config.file={config_file}",
             f"--storage.tsdb.path={os.path.join(out_dir, 'prometheus-data')}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            stdout=subprocess.DEVNULL, stderr=open(self.log_file, "w"))

    def ready(self):
        if self.process.poll() is not None:
            raise RuntimeError(f"prometheus exited with {self.process.returncode}; see {self.log_file}")
        try:
            with urllib.request.urlopen(f"{self.url}/-/ready", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError):
            return False

    def api(self, path, **params):
        query = urllib.parse.urlencode(params)
        req = urllib.request.Request(f"{self.url}/api/v1/{path}" + (f"?{query}" if query else ""))
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                answer = json.loads(r.read())
        except urllib.error.HTTPError as e:
            answer = json.loads(e.read())
        if answer.get("status") != "success":
            raise ValueError(f"{path} {params}: {answer.get('errorType')}: {answer.get('error')}")
        return answer["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def query_range(self, expr, start, end):
        return self.api("query_range", query=expr, start=f"{start:.3f}", end=f"{end:.3f}",
                        step=f"{SCRAPE_SECONDS}s")["result"]

    def label_names(self, selector, start):
        """The label names of the series `selector` matches since `start`."""
        names = set()
        for series in self.api("series", **{"match[]": selector, "start": f"{start:.3f}"}):
            names.update(series)
        return names

    def stop(self):
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# --- serve ----------------------------------------------------------------------------------


class Server:
    def __init__(self, binary, out_dir, args, env):
        self.log_file = os.path.join(out_dir, "serve.log")
        self.process = subprocess.Popen(
            [binary, "serve", *args], env={**os.environ, **env},
            stdout=subprocess.PIPE, stderr=open(self.log_file, "w"), text=True)
        self.url = None
        # The address is printed on stdout ("serving N suites on http://..."); read it on a
        # thread so that a server that prints nothing cannot hang the test.
        found = threading.Event()

        def read():
            for line in self.process.stdout:
                m = re.search(r"serving \d+ suites on (http://\S+)", line)
                if m and not found.is_set():
                    self.url = m.group(1).rstrip("/")
                    found.set()
        threading.Thread(target=read, daemon=True).start()
        if not found.wait(30):
            raise RuntimeError(f"serve printed no address in 30 s; see {self.log_file}")
        poll("/readyz to answer 200", lambda: self.get_status("/readyz") == 200)

    def get_status(self, path):
        try:
            with urllib.request.urlopen(self.url + path, timeout=5) as r:
                return r.status
        except urllib.error.HTTPError as e:
            return e.code
        except (urllib.error.URLError, ConnectionError):
            return 0

    def trigger(self, suite):
        status, run = http_json(f"{self.url}/api/v1/suites/{suite}/runs", {})
        if status != 201:
            raise RuntimeError(f"POST /api/v1/suites/{suite}/runs answered {status}: {run}")
        return run["id"]

    def run(self, run_id):
        status, run = http_json(f"{self.url}/api/v1/runs/{run_id}")
        if status != 200:
            raise RuntimeError(f"GET /api/v1/runs/{run_id} answered {status}: {run}")
        return run.get("run", run)

    def await_run(self, run_id, statuses, timeout=60):
        return poll(f"run {run_id} to be {'/'.join(statuses)}",
                    lambda: (lambda r: r if r["status"] in statuses else None)(self.run(run_id)),
                    timeout=timeout)

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                return self.process.wait()
        return self.process.returncode


class Receiver(http.server.ThreadingHTTPServer):
    """A webhook receiver that answers 200 to every POST and counts them."""

    def __init__(self):
        self.requests = 0

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(handler):
                handler.rfile.read(int(handler.headers.get("Content-Length", 0)))
                self.requests += 1
                handler.send_response(200)
                handler.send_header("Content-Length", "0")
                handler.end_headers()

            def log_message(handler, *args):
                pass

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


# --- PromQL checks --------------------------------------------------------------------------

GROUPING_WORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
KEYWORDS = {"and", "or", "unless", "offset", "bool", "atan2", "inf", "nan", "Inf", "NaN",
            # aggregations, whose `by (...)` may come before their parenthesis
            "sum", "min", "max", "avg", "group", "stddev", "stdvar", "count", "count_values",
            "bottomk", "topk", "quantile"}
MATCHER = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)\s*(?:=~|!~|!=|=)\s*"')
GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^()]*)\)")
LEGEND = re.compile(r"\{\{\s*([a-zA-Z_][a-zA-Z0-9_]*)\s*\}\}")


def selectors(expr):
    """The vector selectors of a PromQL expression, in order: (metric, matchers) pairs, the
    matchers being the text between the braces ("" for a bare name, as Prometheus prints)."""
    found, i, n = [], 0, len(expr)

    def skip_string(j):  # expr[j] is a quote: returns the index after the closing one
        quote, j = expr[j], j + 1
        while j < n and expr[j] != quote:
            j += 2 if expr[j] == "\\" else 1
        return j + 1

    def skip_to(j, close):  # returns the index after `close`, strings skipped
        while j < n and expr[j] != close:
            j = skip_string(j) if expr[j] in "\"'`" else j + 1
        return j + 1

    while i < n:
        c = expr[i]
        if c in "\"'`":
            i = skip_string(i)
        elif c == "[":
            i = skip_to(i, "]")  # a range or a subquery's duration
        elif c.isdigit() or (c == "." and i + 1 < n and expr[i + 1].isdigit()):
            while i < n and (expr[i].isalnum() or expr[i] in ".+-"):
                i += 1  # a number or a duration (offset 1h)
        elif c.isalpha() or c in "_:":
            j = i
            while j < n and (expr[j].isalnum() or expr[j] in "_:"):
                j += 1
            name, k = expr[i:j], j
            while k < n and expr[k].isspace():
                k += 1
            if name in GROUPING_WORDS:
                i = skip_to(k, ")") if k < n and expr[k] == "(" else k  # its label list
            elif name in KEYWORDS or (k < n and expr[k] == "("):
                i = k  # an operator, a function, an aggregation
            elif k < n and expr[k] == "{":
                end = skip_to(k, "}")
                found.append((name, expr[k + 1:end - 1].strip()))
                i = end
            else:
                found.append((name, ""))
                i = j
        elif c == "{":
            end = skip_to(i, "}")  # a selector without a name: {__name__=...}
            found.append(("", expr[i + 1:end - 1].strip()))
            i = end
        else:
            i += 1
    return found


def check_names(prom, where, expr, since):
    """Fails if `expr` names a metric with no series, or a label its metrics do not have."""
    metrics = {}
    for metric, matchers in selectors(expr):
        if metric not in metrics:
            metrics[metric] = prom.label_names(f'{metric}{{job="{JOB}"}}', since)
            if metric == "up":
                metrics[metric] |= {"job", "instance"}
            if not metrics[metric]:
                fail(f"{where}: metric {metric} has no series: it does not exist")
                continue
        for label in MATCHER.findall(matchers):
            if label not in metrics[metric]:
                fail(f"{where}: {metric} has no label {label!r} (it has {sorted(metrics[metric])})")
    if not metrics:
        fail(f"{where}: no metric selector found in {expr!r}")
    known = set().union(*metrics.values()) if metrics else set()
    for group in GROUPING.findall(expr):
        for label in filter(None, (l.strip() for l in group.split(","))):
            if label not in known:
                fail(f"{where}: groups or matches on {label!r}, a label none of "
                     f"{sorted(metrics)} has")
    return metrics


def finite(series):
    values = [series["value"]] if "value" in series else series.get("values", [])
    return any(math.isfinite(float(v[1])) for v in values)


# --- the test -------------------------------------------------------------------------------


def promtool_checks(promtool):
    for args in (["check", "rules", os.path.relpath(ALERTS, REPO)],
                 ["test", "rules", os.path.relpath(ALERTS_TEST, REPO)]):
        p = subprocess.run([promtool, *args], cwd=REPO, capture_output=True, text=True)
        log(f"promtool {' '.join(args)}")
        print("\n".join("  " + line for line in (p.stdout + p.stderr).strip().splitlines()))
        if p.returncode != 0 or "SUCCESS" not in p.stdout:
            fail(f"promtool {' '.join(args)} exited {p.returncode}")


def substitute(expr, variables):
    out = expr
    for name in sorted(variables, key=len, reverse=True):
        out = out.replace("${" + name + "}", variables[name]).replace("$" + name, variables[name])
    left = re.findall(r"\$\{?[a-zA-Z_]+", out)
    if left:
        fail(f"unknown dashboard variables {left} in {expr!r}")
    return out


def dashboard_targets(dashboard):
    def walk(panels):
        for p in panels:
            yield p
            yield from walk(p.get("panels", []))
    for panel in walk(dashboard["panels"]):
        for target in panel.get("targets", []):
            yield panel, target


def base_variables(since):
    """Grafana's built-in variables for a dashboard showing the time since `since`, with a
    scrape every SCRAPE_SECONDS: $__interval is the scrape interval at this width, and
    $__rate_interval is Grafana's max($__interval + scrape interval, 4 * scrape interval)."""
    return {"job": JOB, "__rate_interval": f"{4 * SCRAPE_SECONDS}s",
            "__interval": f"{SCRAPE_SECONDS}s",
            "__range": f"{max(int(time.time() - since), 1)}s"}


def await_time_series_data(prom, dashboard, since):
    """Polls until every time-series panel target has a finite value now: the durations'
    quantiles, for one, need runs finishing within $__rate_interval."""
    def missing():
        variables = {**base_variables(since), "namespace": ".*", "suite": ".*"}
        return [f"{panel['title']} [{target['refId']}]"
                for panel, target in dashboard_targets(dashboard)
                if panel["type"] == "timeseries"
                and not any(finite(r) for r in prom.query(substitute(target["expr"], variables)))]
    try:
        poll("a finite value of every time-series panel target", lambda: not missing(),
             timeout=60, interval=SCRAPE_SECONDS)
    except TimeoutError as e:
        fail(f"{e}: still none for {missing()}")


def check_dashboard(prom, dashboard, since, real_names):
    templating = {v["name"]: v for v in dashboard["templating"]["list"]}
    ds = templating.get("datasource")
    if not ds or ds["type"] != "datasource" or ds["query"] != "prometheus":
        fail("the dashboard has no datasource variable of type prometheus")
    for name in ("namespace", "suite"):
        v = templating.get(name)
        if not v or not v.get("multi") or not v.get("includeAll") or v.get("allValue") != ".*":
            fail(f"the dashboard variable {name} must be multi-valued with All (.*)")
    if not 35 <= dashboard.get("schemaVersion", 0) <= 41:
        fail(f"schemaVersion {dashboard.get('schemaVersion')}: expected about 39")

    base = base_variables(since)
    elapsed = base["__range"]
    # The variables' own queries: label_values(metric{...}, label).
    for name, v in templating.items():
        if v["type"] != "query":
            continue
        query = v["query"]["query"] if isinstance(v["query"], dict) else v["query"]
        m = re.fullmatch(r"label_values\((.+),\s*([a-zA-Z_]+)\)", query)
        if not m:
            fail(f"variable {name}: {query!r} is not label_values(selector, label)")
            continue
        selector = substitute(m.group(1), {**base, "namespace": ".*", "suite": ".*"})
        values = prom.api(f"label/{m.group(2)}/values", **{"match[]": selector})
        print(f"  variable {name}: {values}")
        if not values:
            fail(f"variable {name}: {query} has no values")

    count = 0
    for label, names in (("all", {"namespace": ".*", "suite": ".*"}), ("named", real_names)):
        variables = {**base, **names}
        for panel, target in dashboard_targets(dashboard):
            where = f"panel {panel['title']!r} target {target['refId']} ($namespace/$suite {label})"
            for d in (panel.get("datasource"), target.get("datasource")):
                if d != {"type": "prometheus", "uid": "${datasource}"}:
                    fail(f"{where}: datasource {d}, not the $datasource variable")
            expr = substitute(target["expr"], variables)
            uses_suite = "$suite" in target["expr"]
            if label == "named" and not uses_suite:
                continue  # the same query as with All
            count += 1
            if label == "all":
                labels_of = check_names(prom, where, expr, since)
                # Every selector is the chosen job's, and follows the namespace and suite
                # variables where its metric has those labels.
                for metric, matchers in selectors(target["expr"]):
                    wanted = ['job=~"$job"'] + [f'{l}=~"${l}"' for l in ("namespace", "suite")
                                                if l in labels_of.get(metric, ())]
                    for w in wanted:
                        if w not in matchers:
                            fail(f"{where}: {metric}{{{matchers}}} does not filter by {w}")
            result = prom.query(expr)
            if not result:
                fail(f"{where}: no series for {expr}")
                continue
            shown = ", ".join(sorted({LEGEND.sub(lambda m: s["metric"].get(m.group(1), ""),
                                                  target.get("legendFormat", "")) or str(s["metric"])
                                      for s in result}))
            print(f"  {len(result):3d} series  {panel['title']} [{target['refId']}, {label}]: {shown[:110]}")
            for legend_label in LEGEND.findall(target.get("legendFormat", "")):
                if not any(legend_label in s["metric"] for s in result):
                    fail(f"{where}: the legend's {{{{{legend_label}}}}} is on none of its series")
            if panel["type"] == "timeseries":
                ranged = prom.query_range(expr, since, time.time())
                if not any(finite(s) for s in ranged):
                    fail(f"{where}: no finite sample over the test's {elapsed}: {expr}")
    return count


def main():
    fixture = os.environ.get("OBS_SERVE_FIXTURE", "")
    if not os.access(fixture, os.X_OK):
        print(f"FAIL: OBS_SERVE_FIXTURE={fixture!r} is not an executable: run through ctest, "
              "which builds serve_fixture and sets it", file=sys.stderr)
        return 1
    prometheus = os.environ.get("OBS_PROMETHEUS", "/usr/bin/prometheus")
    promtool = os.environ.get("OBS_PROMTOOL", "/usr/bin/promtool")
    for binary, what in ((prometheus, "prometheus"), (promtool, "promtool")):
        if not os.access(binary, os.X_OK):
            skip(f"{binary} not found: the test needs Debian's {what} (apt-get install "
                 "prometheus; scripts/bootstrap installs it)", "the dashboard and alert rules")
    started = time.monotonic()

    promtool_checks(promtool)

    out_dir = os.environ.get("OBS_OUTPUT_DIR") or tempfile.mkdtemp(prefix="handoff-obs-")
    shutil.rmtree(out_dir, ignore_errors=True)
    os.makedirs(out_dir)
    log(f"logs and Prometheus' data in {out_dir}")
    gate = os.path.join(out_dir, "gate")
    receiver = Receiver()
    dead_port = free_port()  # nobody listens there: the "audit" receiver is gone
    notify = os.path.join(out_dir, "notify.json")
    with open(notify, "w") as f:
        json.dump({"destinations": [
            {"name": "ci", "plugin": "webhook", "on": "always",
             "url": f"http://127.0.0.1:{receiver.server_address[1]}/hook"},
            {"name": "audit", "plugin": "webhook", "on": "always",
             "url": f"http://127.0.0.1:{dead_port}/hook"}]}, f)

    server = prom = None
    provoked = []
    try:
        server = Server(fixture, out_dir, [
            "--port", "0", "--db", f"sqlite:{os.path.join(out_dir, 'handoff.db')}",
            "--max-concurrent-runs", "1", "--grace", "200ms", "--shutdown-timeout", "2s",
            "--notify-config", notify, "--notify-retry-backoff", "50ms",
            "--notify-request-timeout", "1s", "--external-url", "https://handoff.example.com/"],
            {"SERVE_FIXTURE_SCHEDULE": "1", "SERVE_FIXTURE_GATE": gate})
        target = server.url.split("://", 1)[1]
        log(f"serve on {server.url}")
        prom = Prometheus(prometheus, out_dir, target, dead_port)
        poll("Prometheus to be ready", prom.ready, timeout=60)
        since = time.time()
        log(f"prometheus on {prom.url}")
        # The counters' zeros are scraped before any run: increase() sees the first runs.
        poll("a scrape of handoff's counters",
             lambda: prom.query(f'handoff_testsuite_runs_total{{job="{JOB}",suite="Mixed"}}'))

        # Runs that fail and flake (Mixed, 4 times for the flaky rate), fail softly (Soft);
        # Fast passes every second by its schedule.
        for suite, times in (("Mixed", 4), ("Soft", 1)):
            for _ in range(times):
                run = server.await_run(server.trigger(suite), {"passed", "failed", "error"})
                log(f"{suite} run {run['id']}: {run['status']}{' (flaky)' if run.get('flaky') else ''}")
        poll("a scheduled Fast run to pass",
             lambda: prom.query(f'handoff_testsuite_runs_total{{job="{JOB}",suite="Fast",result="passed"}} > 0'))
        poll("a delivery to ci", lambda: receiver.requests > 0)
        with open(DASHBOARD) as f:
            dashboard = json.load(f)
        await_time_series_data(prom, dashboard, since)
        log(f"every time-series panel has data, {time.time() - since:.0f} s after Prometheus started")

        # A backlog: Gate holds the only slot until its gate file exists; the runs behind it
        # queue, and the scheduled Fast stops finishing runs.
        gate_run = server.trigger("Gate")
        server.await_run(gate_run, {"running"})
        for suite in ("Mixed", "Soft"):
            server.trigger(suite)
        log(f"Gate run {gate_run} holds the only slot; Mixed and Soft queue behind it")

        # Each alert this test provokes, with what must (and must not) be in its result.
        expected = {
            "HandoffSuiteFailing": ({"suite": "Mixed"}, {"suite": "Fast"}),
            "HandoffScheduledSuiteStopped": ({"suite": "Fast"}, None),
            "HandoffFlakyRateRising": ({"suite": "Mixed"}, {"suite": "Fast"}),
            "HandoffRunQueueBacklog": ({"job": JOB}, None),
            "HandoffNotificationsFailing": ({"destination": "audit"}, {"destination": "ci"}),
        }
        rules = [r for g in prom.api("rules")["groups"] for r in g["rules"]]
        names = [r["name"] for r in rules]
        log(f"alert rules loaded by Prometheus: {', '.join(names)}")
        for want in list(expected) + ["HandoffScheduleNotFiring", "HandoffInstanceDown", "HandoffDown"]:
            if want not in names:
                fail(f"alert {want} is not in alerts.yml as Prometheus loaded it")

        def matches(result, labels):
            return [s for s in result if all(s["metric"].get(k) == v for k, v in labels.items())]

        log("alert expressions, evaluated while the test provokes them:")
        for rule in rules:
            name, expr = rule["name"], rule["query"]
            check_names(prom, f"alert {name}", expr, since)
            if name in ("HandoffInstanceDown", "HandoffDown"):
                continue  # after the server stops, below
            if name not in expected:
                # Not provoked here (alerts_test.yml covers it): the metrics it reads exist.
                for metric, matchers in selectors(expr):
                    selector = f"{metric}{{{matchers}}}" if matchers else metric
                    if not prom.query(selector):
                        fail(f"alert {name}: {selector} has no series")
                # Nor does it hold: the fixture's scheduler fires and moves every schedule on.
                now = prom.query(expr)
                if now:
                    fail(f"alert {name} holds, though nothing provoked it: {now}")
                print(f"  {name}: not provoked, and it returns no series; the series it reads exist")
                continue
            must, must_not = expected[name]
            try:
                result = poll(f"alert {name}'s expression to return {must}",
                              lambda: (lambda r: r if matches(r, must) else None)(prom.query(expr)),
                              timeout=45)
            except TimeoutError as e:
                fail(str(e))
                continue
            if must_not and matches(result, must_not):
                fail(f"alert {name} also returns the healthy {must_not}: {result}")
            provoked.append(name)
            print(f"  {name}: provoked: {[s['metric'] for s in result]}")
            # Prometheus' own evaluation of the rule file agrees: pending (or firing).
            try:
                state = poll(f"Prometheus to hold {name} pending",
                             lambda: next((a["state"] for a in prom.api("alerts")["alerts"]
                                           if a["labels"]["alertname"] == name
                                           and all(a["labels"].get(k) == v for k, v in must.items())),
                                          None), timeout=15)
                print(f"    Prometheus holds it {state} (for: {rule['duration']} s)")
            except TimeoutError as e:
                fail(str(e))

        log("dashboard targets, evaluated through /api/v1/query (and query_range for time series):")
        count = check_dashboard(prom, dashboard, since,
                                {"namespace": "(serve)", "suite": "(Mixed|Fast)"})
        log(f"{count} target evaluations")

        # Down: stop the server; Prometheus records up == 0 at its next scrape.
        code = server.stop()
        log(f"serve stopped (exit status {code})")
        poll("Prometheus to see the server down", lambda: prom.query(f'up{{job="{JOB}"}} == 0'))
        for rule in rules:
            if rule["name"] in ("HandoffInstanceDown", "HandoffDown"):
                result = prom.query(rule["query"])
                if not result:
                    fail(f"alert {rule['name']} returns nothing with the server stopped")
                else:
                    provoked.append(rule["name"])
                    print(f"  {rule['name']}: provoked: {[s['metric'] for s in result]}")
    finally:
        with open(gate, "w"):
            pass
        if server:
            server.stop()
        if prom:
            prom.stop()
        receiver.shutdown()

    log(f"provoked: {', '.join(provoked)}")
    log(f"{len(failures)} failures in {time.monotonic() - started:.1f} s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
