"""What the deploy tests (tests/deploy/*_test.py, run by ctest) share: a skip that CI=true
turns into a failure, failures recorded as they are found (the test goes on, and fails at
its end if any was), and a free port."""

import os
import socket
import sys

failures = []


def skip(message, what):
    """Ends the test: skipped (ctest's SKIP_REGULAR_EXPRESSION), or failed with CI=true,
    where `what` may not go untested."""
    if os.environ.get("CI") == "true":
        print(f"FAIL: {message} (CI=true: {what} may not go untested; run scripts/bootstrap)",
              file=sys.stderr)
        sys.exit(1)
    print(f"SKIP: {message}")
    sys.exit(0)


def check(condition, message):
    """Records `message` as a failure (once) unless `condition` holds; returns condition."""
    if not condition and message not in failures:
        failures.append(message)
        print(f"FAIL: {message}", file=sys.stderr, flush=True)
    return condition


def free_port(avoid=()):
    """A port of 127.0.0.1 nothing listens on now, none of `avoid`."""
    while True:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port not in avoid:
            return port
