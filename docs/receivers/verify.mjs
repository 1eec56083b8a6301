// Verifies Libris webhook deliveries: both signatures and the timestamp.
// Node 20, built-in modules only.
//
//   node verify.mjs check --secret my-secret-key --headers headers.json --body body.bin [--tolerance 300]
//
// exits 0 when both signatures verify and the timestamp is fresh, 1 with the
// reason otherwise. headers.json is a JSON object of header name -> value (any
// case); body.bin holds the raw body bytes. In your own receiver, import or
// copy `signingKey`, `verifyHex`, `verifyStandard` and `verifyDelivery`, and
// give them the raw body (a Buffer), never JSON parsed and serialised again.

import { createHmac, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { pathToFileURL } from "node:url";

// Standard Webhooks' recommendation, and what Libris's own inbound endpoint allows.
export const TOLERANCE_SECONDS = 5 * 60;

export class Refused extends Error {}

// A `whsec_` secret is base64 (padding optional) after the prefix; any other
// secret is used as its UTF-8 bytes.
export function signingKey(secret) {
  return secret.startsWith("whsec_")
    ? Buffer.from(secret.slice("whsec_".length), "base64")
    : Buffer.from(secret, "utf8");
}

// Constant time: the answer's timing must not reveal how much of a forged
// signature was right. timingSafeEqual needs equal lengths; a length says
// nothing secret.
function same(expected, given) {
  const a = Buffer.from(expected, "utf8");
  const b = Buffer.from(given, "utf8");
  return a.length === b.length && timingSafeEqual(a, b);
}

// X-Webhook-Signature: `sha256=` + hex HMAC-SHA256 of the raw body.
export function verifyHex(key, body, header) {
  if (!header) throw new Refused("no X-Webhook-Signature header");
  const expected = "sha256=" + createHmac("sha256", key).update(body).digest("hex");
  if (!same(expected, header.trim())) {
    throw new Refused("X-Webhook-Signature does not match the body");
  }
}

// Standard Webhooks: webhook-signature holds one or more space-separated
// `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; one match is
// enough. The timestamp is signed, so checking its age stops replays.
export function verifyStandard(key, id, timestamp, body, header, now, tolerance = TOLERANCE_SECONDS) {
  if (!id || !timestamp || !header) {
    throw new Refused("webhook-id, webhook-timestamp or webhook-signature is missing");
  }
  const expected = createHmac("sha256", key)
    .update(`${id}.${timestamp}.`)
    .update(body)
    .digest("base64");
  const matches = header.split(/\s+/).some((signature) => {
    const [version, value = ""] = signature.split(",", 2);
    return version === "v1" && same(expected, value);
  });
  if (!matches) {
    throw new Refused("webhook-signature does not match webhook-id, webhook-timestamp and the body");
  }
  // After the signature, so that this message also says "signed correctly".
  if (!/^\d+$/.test(timestamp)) {
    throw new Refused(`webhook-timestamp ${JSON.stringify(timestamp)} is not Unix seconds`);
  }
  const age = now - Number(timestamp);
  if (Math.abs(age) > tolerance) {
    const when = age > 0 ? "old" : "in the future";
    throw new Refused(
      `webhook-timestamp is ${Math.floor(Math.abs(age))} s ${when}; at most ${tolerance} s either way is accepted`,
    );
  }
}

// Checks both schemes; `header(name)` returns a header's value or undefined.
// A receiver needs only one of them; this checks both because Libris sends
// both, so a mismatch in either means something is wrong.
export function verifyDelivery(secret, header, body, now = Date.now() / 1000, tolerance = TOLERANCE_SECONDS) {
  const key = signingKey(secret);
  verifyHex(key, body, header("x-webhook-signature"));
  verifyStandard(
    key,
    header("webhook-id"),
    header("webhook-timestamp"),
    body,
    header("webhook-signature"),
    now,
    tolerance,
  );
}

const USAGE = "usage: node verify.mjs check --secret S --headers headers.json --body body.bin [--tolerance SECONDS]";

// Exit status 2 for a usage error, as Python's argparse does: 1 means refused.
function check(argv) {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        secret: { type: "string" },
        headers: { type: "string" },
        body: { type: "string" },
        tolerance: { type: "string", default: String(TOLERANCE_SECONDS) },
      },
    });
  } catch (error) {
    console.error(`${error.message}\n${USAGE}`);
    return 2;
  }
  const { positionals, values } = parsed;
  const tolerance = Number(values.tolerance);
  if (positionals[0] !== "check" || !values.secret || !values.headers || !values.body || !Number.isInteger(tolerance)) {
    console.error(USAGE);
    return 2;
  }
  const given = JSON.parse(readFileSync(values.headers, "utf8"));
  const headers = new Map(Object.entries(given).map(([name, value]) => [name.toLowerCase(), value]));
  const body = readFileSync(values.body);
  try {
    verifyDelivery(values.secret, (name) => headers.get(name), body, Date.now() / 1000, tolerance);
  } catch (error) {
    if (!(error instanceof Refused)) throw error;
    console.error(`refused: ${error.message}`);
    return 1;
  }
  console.log(`verified: webhook-id ${headers.get("webhook-id")}, both signatures match`);
  return 0;
}

// Run as a script, not when imported.
if (import.meta.url === pathToFileURL(process.argv[1]).href) {
  process.exitCode = check(process.argv.slice(2));
}
