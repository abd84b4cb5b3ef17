#!/usr/bin/env bash
# The ctest entry point of the browser tests (`ctest -R ui`): checks for node, npm and
# Debian's chromium, installs playwright-core from package-lock.json when node_modules is
# missing or the lock changed, and runs tests/ui/*.test.mjs with node's own test runner.
#
# Without node, npm or chromium it prints "SKIP: ..." and exits 0, unless CI=true, where a
# missing tool is a failure. The environment (set by tests/CMakeLists.txt):
#   UI_FIXTURE      the ui_fixture binary (required)
#   UI_OUTPUT_DIR   server logs and screenshots (default build/ui)
#   UI_METRICS      the measured figures, JSON (default build/ui-metrics.json)
#   UI_CHROMIUM     the browser (default /usr/bin/chromium)
#   UPDATE_SCREENSHOTS=1   also write the screenshots to docs/images/
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 (CI=true: the ui tests may not be skipped; run scripts/bootstrap)" >&2
    exit 1
  fi
  echo "SKIP: $1"
  exit 0
}

command -v node >/dev/null || skip "node not found: the browser tests need Node.js >= 20 (scripts/bootstrap installs it)"
command -v npm >/dev/null || skip "npm not found: the browser tests install playwright-core with it (scripts/bootstrap installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 20 ] || skip "node $(node --version) is too old: the browser tests need Node.js >= 20"
chromium="${UI_CHROMIUM:-/usr/bin/chromium}"
[ -x "$chromium" ] || skip "$chromium not found: the browser tests need Debian's chromium (apt-get install chromium; scripts/bootstrap installs it)"
export UI_CHROMIUM="$chromium"

if [ -z "${UI_FIXTURE:-}" ] || [ ! -x "$UI_FIXTURE" ]; then
  echo "FAIL: UI_FIXTURE='${UI_FIXTURE:-}' is not an executable: run through ctest, which builds ui_fixture and sets it" >&2
  exit 1
fi

# playwright-core, as locked. One install at a time (two build directories share this one).
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.handoff-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  exec 9>"$here/.npm-install.lock"
  flock 9
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "ui: npm ci (playwright-core, from package-lock.json)"
    if ! npm ci --prefer-offline --no-audit --no-fund --loglevel=error; then
      skip "npm ci failed: playwright-core could not be installed (offline, and not in npm's cache?)"
    fi
    echo "$want" >"$stamp"
  fi
  exec 9>&-
fi

# One test file at a time: each starts its own server and browser, and the big run's timing
# should not compete with another file's browser for the 2 cores.
status=0
node --test --test-concurrency=1 --test-timeout=120000 --test-reporter=spec ./*.test.mjs || status=$?

metrics="${UI_METRICS:-}"
if [ -n "$metrics" ] && [ -f "$metrics" ]; then
  node -e 'const m = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    for (const [k, v] of Object.entries(m)) if (k.endsWith("_ms")) console.log(`ui-metric: ${k.replace(/_ms$/, "").replace(/_/g, "-")}-ms=${v}`);
    console.log(`ui-metrics: ${process.argv[1]}`);' "$metrics"
fi
exit "$status"
