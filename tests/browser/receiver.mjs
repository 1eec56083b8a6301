// A webhook receiver on loopback that checks every delivery the way a
// receiver should (ARCHITECTURE.md, "Sending"): `X-Webhook-Signature:
// sha256=<hex HMAC-SHA256(key, body)>` and the Standard Webhooks headers
// (`webhook-id` = the body's id, `webhook-timestamp` within 5 minutes,
// `webhook-signature: v1,<base64 HMAC-SHA256(key, "{id}.{timestamp}.{body}")>`),
// where the key is the base64 after `whsec_`, or the secret's UTF-8 bytes.
//
// Each path answers the status set with `answer(path, status)` (200 unless
// told), so a test can make one subscription fail on purpose.
import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer } from "node:http";

const TOLERANCE_SECONDS = 5 * 60;

export function newSecret() {
  return `whsec_${randomBytes(24).toString("base64")}`;
}

export function signingKey(secret) {
  return secret.startsWith("whsec_") ? Buffer.from(secret.slice("whsec_".length), "base64") : Buffer.from(secret, "utf8");
}

function sameText(a, b) {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

// What is wrong with one delivery's signatures, as a list of problems
// (empty when both verify).
export function signatureProblems(secret, headers, body) {
  const key = signingKey(secret);
  const problems = [];
  const hex = `sha256=${createHmac("sha256", key).update(body).digest("hex")}`;
  if (!sameText(headers["x-webhook-signature"] ?? "", hex)) {
    problems.push(`X-Webhook-Signature ${headers["x-webhook-signature"]} is not ${hex}`);
  }
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  if (!id || !timestamp) {
    problems.push("webhook-id or webhook-timestamp is missing");
    return problems;
  }
  let bodyId = null;
  try {
    bodyId = JSON.parse(body.toString("utf8")).id;
  } catch {
    problems.push("the body is not JSON");
  }
  if (bodyId !== id) problems.push(`webhook-id ${id} is not the body's id ${bodyId}`);
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) {
    problems.push(`webhook-timestamp ${timestamp} is more than 5 minutes away`);
  }
  const expected = `v1,${createHmac("sha256", key).update(`${id}.${timestamp}.`).update(body).digest("base64")}`;
  // The header may carry several space-separated signatures; one must match.
  const offered = (headers["webhook-signature"] ?? "").split(" ");
  if (!offered.some((signature) => sameText(signature, expected))) {
    problems.push(`webhook-signature ${headers["webhook-signature"]} does not include ${expected}`);
  }
  return problems;
}

export async function startReceiver() {
  const statuses = new Map();
  const received = [];
  const waiters = new Set();
  const server = createServer((request, response) => {
    const chunks = [];
    request.on("data", (chunk) => chunks.push(chunk));
    request.on("end", () => {
      const status = statuses.get(request.url) ?? 200;
      received.push({ path: request.url, method: request.method, headers: request.headers, body: Buffer.concat(chunks), status });
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(JSON.stringify({ received: status === 200 }));
      for (const waiter of waiters) waiter();
    });
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `http://127.0.0.1:${server.address().port}`;
  return {
    base,
    received,
    answer(path, status) {
      statuses.set(path, status);
    },
    // Resolves with the first delivery `match` accepts, received or to come.
    waitFor(match, timeoutMs = 15_000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const found = received.find(match);
          if (!found) return false;
          waiters.delete(check);
          clearTimeout(timer);
          resolve(found);
          return true;
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching delivery within ${timeoutMs} ms; received: ${received.map((r) => r.path).join(", ")}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    close() {
      // Libris keeps connections alive; close() alone would wait for them.
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}
