#!/usr/bin/env python3
"""Checks the signatures of handoff's sample webhook requests (webhook_sample's JSON, the file
named by argv[1]) with Python's standard library alone: X-Hub-Signature-256 is "sha256=" and
the hex HMAC-SHA256 of the body keyed with the first secret's decoded bytes (GitHub's
scheme), and each "v1," signature of webhook-signature is the base64 HMAC-SHA256 of
"id.timestamp.body" keyed with each secret in order (Standard Webhooks). Exits 1 on any
failure."""

import base64
import hashlib
import hmac
import json
import sys


def key_of(secret):
    assert secret.startswith("whsec_"), secret[:6]
    return base64.b64decode(secret[len("whsec_"):], validate=True)


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        sample = json.load(f)
    passed = failed = 0

    def check(what, ok, detail=""):
        nonlocal passed, failed
        if ok:
            passed += 1
        else:
            failed += 1
            print(f"FAIL: {what}{': ' + detail if detail else ''}", file=sys.stderr)

    if not sample.get("cases"):
        print("FAIL: the sample has no cases", file=sys.stderr)
        return 1
    for case in sample["cases"]:
        name = case["name"]
        body = base64.b64decode(case["body_base64"], validate=True)
        headers = case["headers"]
        keys = [key_of(s) for s in case["secrets"]]

        github = "sha256=" + hmac.new(keys[0], body, hashlib.sha256).hexdigest()
        got = headers.get("X-Hub-Signature-256", "")
        check(f"{name}: X-Hub-Signature-256", hmac.compare_digest(github, got),
              f"expected {github}, got {got}")
        # A receiver that checks the header the way GitHub's documentation shows must refuse a
        # changed body.
        changed = body[:-2] + bytes([body[-2] ^ 1]) + body[-1:]
        check(f"{name}: X-Hub-Signature-256 of a changed body differs",
              not hmac.compare_digest(
                  "sha256=" + hmac.new(keys[0], changed, hashlib.sha256).hexdigest(), got))

        signed = (headers["webhook-id"] + "." + headers["webhook-timestamp"] + ".").encode() + body
        expected = " ".join(
            "v1," + base64.b64encode(hmac.new(k, signed, hashlib.sha256).digest()).decode()
            for k in keys)
        got = headers.get("webhook-signature", "")
        check(f"{name}: webhook-signature", hmac.compare_digest(expected, got),
              f"expected {expected}, got {got}")

        check(f"{name}: the body is the notification's JSON",
              json.loads(body).get("id") == headers["webhook-id"])
        check(f"{name}: Content-Type", headers.get("Content-Type") == "application/json")

    print(f"hmac (python): {passed} passed, {failed} failed")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
