#!/usr/bin/env bash
# The ctest entry point of the independent check of webhook signatures (`ctest -R
# webhook_verify`): webhook_sample prints requests as the webhook plugin renders them (one
# secret, a rotation of three, several events); Python's hmac recomputes both signatures
# (verify_github.py), and Standard Webhooks' reference implementation, the npm package
# `standardwebhooks` pinned in package-lock.json, verifies each (verify.mjs).
#
# Without python3, node or npm it prints "SKIP: ..." and exits 0, unless CI=true, where a
# missing tool is a failure. The environment (set by tests/CMakeLists.txt):
#   WEBHOOK_SAMPLE       the webhook_sample binary (required)
#   WEBHOOK_OUTPUT_DIR   where the sample is written (default: a temporary directory)
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"

skip() {
  if [ "${CI:-}" = "true" ]; then
    echo "FAIL: $1 (CI=true: the webhook signature check may not be skipped; run scripts/bootstrap)" >&2
    exit 1
  fi
  echo "SKIP: $1"
  exit 0
}

if [ -z "${WEBHOOK_SAMPLE:-}" ] || [ ! -x "$WEBHOOK_SAMPLE" ]; then
  echo "FAIL: WEBHOOK_SAMPLE='${WEBHOOK_SAMPLE:-}' is not an executable: run through ctest, which builds webhook_sample and sets it" >&2
  exit 1
fi
out="${WEBHOOK_OUTPUT_DIR:-}"
if [ -z "$out" ]; then
  out="$(mktemp -d)"
  trap 'rm -rf "$out"' EXIT
fi
mkdir -p "$out"
sample="$out/sample.json"
"$WEBHOOK_SAMPLE" >"$sample"
echo "webhook: the sample requests are in $sample"

command -v python3 >/dev/null || skip "python3 not found: it recomputes the signatures with hmac"
python3 verify_github.py "$sample"

command -v node >/dev/null || skip "node not found: Standard Webhooks' reference implementation (npm package standardwebhooks) needs Node.js >= 18 (scripts/bootstrap installs it)"
command -v npm >/dev/null || skip "npm not found: it installs the npm package standardwebhooks (scripts/bootstrap installs it)"
node_major="$(node -p 'process.versions.node.split(".")[0]')"
[ "$node_major" -ge 18 ] || skip "node $(node --version) is too old: the check needs Node.js >= 18"

# standardwebhooks, as locked. One install at a time (two build directories share this one).
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
stamp=node_modules/.handoff-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
  exec 9>"$here/.npm-install.lock"
  flock 9
  if [ "$(cat "$stamp" 2>/dev/null || true)" != "$want" ]; then
    echo "webhook: npm ci (standardwebhooks, from package-lock.json)"
    if ! npm ci --prefer-offline --no-audit --no-fund --loglevel=error; then
      skip "npm ci failed: standardwebhooks could not be installed (offline, and not in npm's cache?)"
    fi
    echo "$want" >"$stamp"
  fi
  exec 9>&-
fi
node verify.mjs "$sample"
