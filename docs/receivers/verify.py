#!/usr/bin/env python3
"""Verifies Libris webhook deliveries: both signatures and the timestamp.

Python 3.11, standard library only. Two ways to use it:

    # a tiny local receiver that prints every delivery and whether it verifies
    python3 verify.py serve --port 9000 --secret my-secret-key [--save DIR]

    # a one-shot check of a captured request (exit 0: verified, 1: refused)
    python3 verify.py check --secret my-secret-key --headers headers.json --body body.bin

headers.json is a JSON object of header name -> value (any case); body.bin
holds the body's raw bytes exactly as they arrived. `serve --save DIR` writes
both files for every delivery it gets.

To use the checks in your own receiver, copy `signing_key`, `verify_hex`,
`verify_standard` and `verify_delivery`.
"""

import argparse
import base64
import hashlib
import hmac
import json
import sys
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

# Standard Webhooks' recommendation, and what Libris's own inbound endpoint allows.
TOLERANCE_SECONDS = 5 * 60


class Refused(Exception):
    """A delivery that must not be trusted; the message says why."""


def signing_key(secret: str) -> bytes:
    """The HMAC key: a `whsec_` secret is base64 (padding optional) after the
    prefix; any other secret is used as its UTF-8 bytes."""
    if secret.startswith("whsec_"):
        encoded = secret[len("whsec_"):].rstrip("=")
        return base64.b64decode(encoded + "=" * (-len(encoded) % 4), validate=True)
    return secret.encode("utf-8")


def verify_hex(key: bytes, body: bytes, header: str | None) -> None:
    """X-Webhook-Signature: `sha256=` + hex HMAC-SHA256 of the raw body."""
    if not header:
        raise Refused("no X-Webhook-Signature header")
    expected = "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()
    if not same(expected, header.strip()):
        raise Refused("X-Webhook-Signature does not match the body")


def verify_standard(key: bytes, msg_id: str | None, timestamp: str | None,
                    body: bytes, header: str | None, now: float,
                    tolerance: int = TOLERANCE_SECONDS) -> None:
    """Standard Webhooks: webhook-signature holds one or more space-separated
    `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`; one match is
    enough. The timestamp is signed, so checking its age stops replays."""
    if not (msg_id and timestamp and header):
        raise Refused("webhook-id, webhook-timestamp or webhook-signature is missing")
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    candidates = [s.partition(",") for s in header.split()]
    if not any(version == "v1" and same(expected, value)
               for version, _, value in candidates):
        raise Refused("webhook-signature does not match webhook-id, webhook-timestamp and the body")
    # After the signature, so that this message also says "signed correctly".
    if not (timestamp.isascii() and timestamp.isdigit()):
        raise Refused(f"webhook-timestamp {timestamp!r} is not Unix seconds")
    sent_at = int(timestamp)
    if abs(now - sent_at) > tolerance:
        when = "old" if sent_at < now else "in the future"
        raise Refused(f"webhook-timestamp is {int(abs(now - sent_at))} s {when}; "
                      f"at most {tolerance} s either way is accepted")


def same(expected: str, given: str) -> bool:
    """Constant time: the answer's timing must not reveal how much of a forged
    signature was right. Bytes, because a header may hold any character."""
    return hmac.compare_digest(expected.encode(), given.encode("utf-8", "replace"))


def verify_delivery(secret: str, header, body: bytes, now: float | None = None,
                    tolerance: int = TOLERANCE_SECONDS) -> None:
    """Checks both schemes; `header(name)` returns a header's value or None.
    A receiver needs only one of them; this checks both because Libris sends
    both, so a mismatch in either means something is wrong."""
    key = signing_key(secret)
    verify_hex(key, body, header("x-webhook-signature"))
    verify_standard(key, header("webhook-id"), header("webhook-timestamp"), body,
                    header("webhook-signature"),
                    time.time() if now is None else now, tolerance)


def check(args) -> int:
    headers = {k.lower(): v for k, v in json.loads(Path(args.headers).read_text()).items()}
    body = Path(args.body).read_bytes()
    try:
        verify_delivery(args.secret, headers.get, body, tolerance=args.tolerance)
    except Refused as refusal:
        print(f"refused: {refusal}", file=sys.stderr)
        return 1
    print(f"verified: webhook-id {headers.get('webhook-id')}, both signatures match")
    return 0


def serve(args) -> int:
    seen = set()  # webhook-ids already handled; in memory, so lost on restart

    class Handler(BaseHTTPRequestHandler):
        # HTTP/1.0 (the default): one request per connection, so this
        # one-thread server is never stuck on an idle kept-alive connection.
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            msg_id = self.headers.get("webhook-id")
            event = self.headers.get("X-Event-Type")
            try:
                verify_delivery(args.secret, self.headers.get, body)
            except Refused as refusal:
                print(f"REFUSED {self.path} {event} webhook-id={msg_id}: {refusal}", flush=True)
                self.answer(401)  # a 4xx other than 408/429: Libris does not retry it
                return
            if msg_id in seen:
                # A retry or redelivery of something handled: acknowledge it
                # again, or Libris would keep retrying, but do not act twice.
                print(f"duplicate {event} webhook-id={msg_id}: already handled", flush=True)
            else:
                seen.add(msg_id)
                print(f"verified {event} webhook-id={msg_id}", flush=True)
                print(f"  {body.decode('utf-8', 'replace')}", flush=True)
                if args.save:
                    save(Path(args.save), msg_id, self.headers, body)
            self.answer(204)

        def answer(self, status):
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_):
            pass  # the lines above say more than the default access log

    server = HTTPServer((args.host, args.port), Handler)
    host, port = server.server_address[:2]
    print(f"listening on http://{host}:{port}/", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    return 0


def save(directory: Path, msg_id: str, headers, body: bytes) -> None:
    """Writes what `check` reads: <id>.headers.json and <id>.body.bin."""
    directory.mkdir(parents=True, exist_ok=True)
    # The id is signed, but keep it from naming paths anyway.
    name = "".join(c for c in msg_id if c.isalnum() or c in "-_")
    named = {name.lower(): value for name, value in headers.items()}
    (directory / f"{name}.headers.json").write_text(json.dumps(named, indent=2) + "\n")
    (directory / f"{name}.body.bin").write_bytes(body)


def main() -> int:
    parser = argparse.ArgumentParser(description="Verify Libris webhook deliveries.")
    commands = parser.add_subparsers(dest="command", required=True)
    run = commands.add_parser("serve", help="receive deliveries and print them")
    run.add_argument("--host", default="127.0.0.1")
    run.add_argument("--port", type=int, default=9000, help="0 picks a free port")
    run.add_argument("--secret", required=True)
    run.add_argument("--save", metavar="DIR", help="write each delivery for `check`")
    one = commands.add_parser("check", help="verify one captured request")
    one.add_argument("--secret", required=True)
    one.add_argument("--headers", required=True, help="JSON object: name -> value")
    one.add_argument("--body", required=True, help="the raw body bytes")
    one.add_argument("--tolerance", type=int, default=TOLERANCE_SECONDS,
                     help="seconds webhook-timestamp may be from now (raise it "
                          "to re-check an old capture)")
    args = parser.parse_args()
    return serve(args) if args.command == "serve" else check(args)


if __name__ == "__main__":
    sys.exit(main())
