// Checks the webhook signatures of handoff's sample requests (webhook_sample's JSON, the
// file named by argv[2]) with Standard Webhooks' reference implementation, the npm package
// `standardwebhooks`: every secret of a case (one, or several during a key rotation) must
// verify the request as sent, and a request changed in any signed part must not verify
// (so a verifier that accepted everything would fail here too). Exits 1 on any failure.
import { readFileSync } from "node:fs";
import standardwebhooks from "standardwebhooks";

const { Webhook } = standardwebhooks;
const sample = JSON.parse(readFileSync(process.argv[2], "utf8"));
let passed = 0;
let failed = 0;

function check(what, ok, detail = "") {
  if (ok) {
    passed++;
  } else {
    failed++;
    console.error(`FAIL: ${what}${detail ? `: ${detail}` : ""}`);
  }
}

function verifies(secret, body, headers) {
  try {
    return { ok: true, payload: new Webhook(secret).verify(body, headers) };
  } catch (e) {
    return { ok: false, error: String(e && e.message ? e.message : e) };
  }
}

// A secret that signed none of the samples.
const stranger = "whsec_" + Buffer.alloc(32, 7).toString("base64");

if (!Array.isArray(sample.cases) || sample.cases.length === 0) {
  console.error("FAIL: the sample has no cases");
  process.exit(1);
}
for (const c of sample.cases) {
  const body = Buffer.from(c.body_base64, "base64");
  const headers = c.headers;
  for (const name of ["webhook-id", "webhook-timestamp", "webhook-signature"]) {
    check(`${c.name}: header ${name} is present`, typeof headers[name] === "string" && headers[name] !== "");
  }
  check(`${c.name}: one v1 signature per secret`,
        (headers["webhook-signature"] || "").split(" ").length === c.secrets.length &&
        (headers["webhook-signature"] || "").split(" ").every((s) => s.startsWith("v1,")),
        headers["webhook-signature"]);
  for (const [i, secret] of c.secrets.entries()) {
    const result = verifies(secret, body, headers);
    check(`${c.name}: secret ${i + 1} of ${c.secrets.length} verifies`, result.ok, result.error);
    if (result.ok) {
      check(`${c.name}: the verified payload is the notification`,
            result.payload.id === headers["webhook-id"] && typeof result.payload.type === "string" &&
            typeof result.payload.data?.run?.id === "number");
    }
  }
  // Controls: each signed part changed, and a secret that is not the endpoint's.
  const secret = c.secrets[0];
  const tampered = Buffer.from(body);
  tampered[tampered.length - 2] ^= 1;
  check(`${c.name}: a changed body is refused`, !verifies(secret, tampered, headers).ok);
  check(`${c.name}: a changed id is refused`,
        !verifies(secret, body, { ...headers, "webhook-id": headers["webhook-id"] + "x" }).ok);
  check(`${c.name}: a changed timestamp is refused`,
        !verifies(secret, body, { ...headers,
          "webhook-timestamp": String(Number(headers["webhook-timestamp"]) - 1) }).ok);
  check(`${c.name}: another secret is refused`, !verifies(stranger, body, headers).ok);
}
console.log(`standardwebhooks: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
