// The receiver's signature check against a delivery signed here by hand,
// so the browser tests' "both signatures verify" can be believed: it accepts
// exactly the scheme of ARCHITECTURE.md and refuses any change.
import assert from "node:assert/strict";
import { createHmac } from "node:crypto";
import { test } from "node:test";
import { newSecret, signatureProblems, signingKey } from "./receiver.mjs";

function signed(secret, body, timestamp = Math.floor(Date.now() / 1000)) {
  const key = signingKey(secret);
  const id = JSON.parse(body).id;
  return {
    "x-webhook-signature": `sha256=${createHmac("sha256", key).update(body).digest("hex")}`,
    "webhook-id": id,
    "webhook-timestamp": String(timestamp),
    "webhook-signature": `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.${body}`).digest("base64")}`,
  };
}

const body = JSON.stringify({ id: "3f1c0a52-7c1e-4d5e-9a51-1b0f4b9d2c11", event: "book.created", data: { title: "Dune" } });

test("a whsec_ secret keys by its decoded bytes, any other by its text", () => {
  assert.deepEqual(signingKey("whsec_c2VjcmV0LWtleQ=="), Buffer.from("secret-key"));
  assert.deepEqual(signingKey("my-secret-key"), Buffer.from("my-secret-key"));
});

test("a correctly signed delivery verifies", () => {
  const secret = newSecret();
  assert.deepEqual(signatureProblems(secret, signed(secret, body), Buffer.from(body)), []);
});

test("another secret, a changed body, an old timestamp or a wrong id do not", () => {
  const secret = newSecret();
  const headers = signed(secret, body);
  assert.equal(signatureProblems(newSecret(), headers, Buffer.from(body)).length, 2);
  assert.equal(signatureProblems(secret, headers, Buffer.from(body.replace("Dune", "Dune!"))).length, 2);
  const old = signed(secret, body, Math.floor(Date.now() / 1000) - 600);
  assert.deepEqual(signatureProblems(secret, old, Buffer.from(body)), ["webhook-timestamp " + old["webhook-timestamp"] + " is more than 5 minutes away"]);
  const otherId = { ...headers, "webhook-id": "another-id" };
  assert.equal(signatureProblems(secret, otherId, Buffer.from(body)).length, 2);
});
