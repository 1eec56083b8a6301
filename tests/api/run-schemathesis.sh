#!/usr/bin/env bash
# `make test-api`: schemathesis generates requests from the OpenAPI document
# the server serves (/api/openapi.json) and fails on any 5xx and on any
# response the document does not describe (status code, content type,
# headers, body schema).
#
# It builds the `libris` binary (debug by default, the profile `make test`
# builds; LIBRIS_API_PROFILE=release for the release one), then, inside a
# network namespace of its own that has nothing but loopback, starts it on a
# fresh temporary SQLite database and a free port with an admin, logs the
# admin in, and runs schemathesis with the admin's bearer token on every
# request, so the admin routes are exercised past their 401/403. The server is
# stopped and the database deleted on the way out, whatever happened.
#
# Why a network namespace: generated webhook subscriptions name arbitrary
# URLs, and `POST /api/webhooks/{id}/test/` (and the delivery workers) send to
# them. In the namespace no address but loopback exists, so nothing the fuzzer
# invents can be reached; the script refuses to run without that isolation.
#
# Settings (environment):
#   LIBRIS_API_MAX_EXAMPLES  test cases per operation and phase (default 50)
#   LIBRIS_API_SEED          schemathesis seed (default 1: reproducible in CI;
#                            `random` for a fresh one each run)
#   LIBRIS_API_PROFILE       debug (default) or release
#   LIBRIS_API_CHECKS        schemathesis checks (default: the five below; `all`
#                            for every one, to explore: see the comment there)
#   LIBRIS_API_VENV_ROOT     where tests/api/venv.sh keeps the virtualenv
set -euo pipefail
cd "$(dirname "$0")/../.."

fail() { echo "test-api: FAILED: $*" >&2; exit 1; }

max_examples="${LIBRIS_API_MAX_EXAMPLES:-50}"
seed="${LIBRIS_API_SEED:-1}"
profile="${LIBRIS_API_PROFILE:-debug}"
target_dir="${CARGO_TARGET_DIR:-target}"
case "$max_examples" in '' | *[!0-9]*) fail "LIBRIS_API_MAX_EXAMPLES must be a number" ;; esac

if [ "${LIBRIS_API_ISOLATED:-}" != 1 ]; then
  # Stage 1, with the network: the tools and the binary.
  cargo="${CARGO:-cargo}"
  for tool in "$cargo" curl unshare ip; do
    command -v "$tool" >/dev/null || fail "$tool is not installed (ip: apt-get install iproute2)"
  done
  venv="$(tests/api/venv.sh)" || fail "no virtualenv with schemathesis"
  case "$profile" in
    debug) "$cargo" build -p libris-server --bin libris ;;
    release) "$cargo" build --release -p libris-server --bin libris ;;
    *) fail "LIBRIS_API_PROFILE must be debug or release, not $profile" ;;
  esac
  binary="$(cd "$target_dir/$profile" && pwd)/libris"
  [ -x "$binary" ] || fail "no binary at $binary"
  # Stage 2 in a new network namespace (as root, or as an unprivileged user
  # through a user namespace).
  if [ "$(id -u)" = 0 ]; then namespace=(unshare --net); else namespace=(unshare --user --map-root-user --net); fi
  exec "${namespace[@]}" env LIBRIS_API_ISOLATED=1 LIBRIS_API_VENV="$venv" LIBRIS_API_BINARY="$binary" \
    bash "$0" "$@"
fi

# Stage 2: only loopback exists from here on.
ip link set lo up || fail "cannot bring loopback up in the network namespace"
others="$(ip -o link show | awk -F': ' '$2 != "lo" {print $2}')"
[ -z "$others" ] || fail "the network namespace has interfaces besides loopback: $others"

st="$LIBRIS_API_VENV/bin/st"
python="$LIBRIS_API_VENV/bin/python"
"$st" --version

work="$(mktemp -d "${TMPDIR:-/tmp}/libris-api.XXXXXX")"
server_pid=""
stop() {
  local status=$?
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    for _ in $(seq 1 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [ "$status" -ne 0 ] && [ -f "$work/server.log" ]; then
    echo "---- last lines of the server's log ----" >&2
    tail -n 40 "$work/server.log" >&2
  fi
  rm -rf "$work"
  exit "$status"
}
trap stop EXIT
trap 'exit 130' INT TERM

port="$("$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')"
base="http://127.0.0.1:$port"
admin_user="st-admin"
admin_password="st-admin-$RANDOM-$RANDOM-password"

# LIBRIS_WEBHOOK_ALLOW_PRIVATE lets the seeded subscription below point at
# loopback; with no network in this namespace nothing else is reachable either.
DATABASE_URL="sqlite://$work/libris.db" \
LIBRIS_HOST=127.0.0.1 LIBRIS_PORT="$port" \
LIBRIS_ADMIN_USERNAME="$admin_user" LIBRIS_ADMIN_PASSWORD="$admin_password" \
LIBRIS_WEBHOOK_ALLOW_PRIVATE=true LIBRIS_WEBHOOK_TIMEOUT=2s \
LIBRIS_INBOUND_SECRET="st-inbound-secret-$RANDOM" \
RUST_LOG="${RUST_LOG:-warn}" \
  "$LIBRIS_API_BINARY" serve >"$work/server.log" 2>&1 &
server_pid=$!

for _ in $(seq 1 100); do
  kill -0 "$server_pid" 2>/dev/null || fail "the server exited at start"
  curl -fsS "$base/readyz" >/dev/null 2>&1 && break
  sleep 0.2
done
curl -fsS "$base/readyz" >/dev/null || fail "the server is not ready on $base after 20 s"
echo "test-api: libris on $base, database $work/libris.db"

# One token for the main run, one for the run of `revoke_token` (which logs
# its token out), both taken before schemathesis makes the login throttle
# answer 429 to this address.
login() {
  curl -fsS -X POST "$base/api/auth/token/" -H 'Content-Type: application/json' \
    -d "{\"username\":\"$admin_user\",\"password\":\"$admin_password\"}" |
    "$python" -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
token="$(login)" || fail "cannot log the admin in"
logout_token="$(login)" || fail "cannot log the admin in"

# A little data, so that the ids tests/api/schemathesis.toml hands out name
# rows (authors and books 1-3, three webhook subscriptions) and the lists have
# some. The subscriptions point at a loopback port nothing listens on in this
# namespace (9, discard), so every attempt fails at once.
api() {
  curl -fsS -X "$1" "$base$2" -H "Authorization: Bearer $token" \
    -H 'Content-Type: application/json' ${3:+-d "$3"} || fail "seeding: $1 $2 failed"
}
for name in "Frank Herbert" "Ursula K. Le Guin" "Octavia E. Butler"; do
  api POST /api/authors/ "{\"name\":\"$name\"}" >/dev/null
done
api POST /api/books/ '{"title":"Dune","author":1,"isbn":"978-0-441-17271-9"}' >/dev/null
api POST /api/books/ '{"title":"The Dispossessed","author":2}' >/dev/null
api POST /api/books/ '{"title":"Kindred","author":3}' >/dev/null
api POST /api/books/2/borrow/ >/dev/null
cp tests/api/schemathesis.toml "$work/schemathesis.toml"
for events in '"*"' '"book.*"' '"book.created","author.deleted"'; do
  api POST /api/webhooks/ "{\"url\":\"http://127.0.0.1:9/libris-webhook\",\"events\":[$events],\"secret\":\"st-webhook-secret\"}" |
    "$python" -c 'import json, sys; print(json.dumps(json.load(sys.stdin)["id"]))' >>"$work/webhook-ids.dict"
done

mkdir -p "$target_dir/schemathesis"
report_dir="$(cd "$target_dir/schemathesis" && pwd)"
rm -f "$report_dir/junit.xml" "$report_dir/junit-revoke.xml"
seed_args=()
[ "$seed" = random ] || seed_args=(--seed "$seed")

# Checks: a 5xx, and every way a response can differ from the document.
# Left out (LIBRIS_API_CHECKS=all runs them), as they test what the document
# does not promise:
#   positive_data_acceptance / negative_data_rejection: that the API accepts
#     exactly what the request schemas accept. The schemas are looser than the
#     validation (AuthorBody, BookBody and WebhookBody serve POST, PUT and
#     PATCH alike and require nothing; no lengths, no enums for filters):
#     `POST /api/authors/ {}` answers a documented 422, not a 2xx.
#   unsupported_method, allow_header_conformance: methods the document does
#     not list (TRACE answers 405 without `Allow`, or 404).
#   ignored_auth, object_level_authorization: authentication properties
#     (every request here carries the admin's token; no second user's).
#   missing_required_header: only /api/webhooks/receive/ has header
#     parameters, and none is required (either signature scheme will do).
#   use_after_free, ensure_resource_availability: stateful properties of
#     create/delete sequences, not conformance.
checks="${LIBRIS_API_CHECKS:-not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance}"
common=(
  --checks "$checks"
  --max-examples "$max_examples"
  "${seed_args[@]}"
  # One worker: with two, CPython 3.11's ast module (hypothesis describes
  # its strategies with it) fails now and then with "SystemError: AST
  # constructor recursion depth mismatch", an error of the tool, not the API.
  --workers 1
  --request-timeout 30
  --generation-database none
  --no-color
)

status=0
echo "test-api: schemathesis, every operation but revoke_token (max $max_examples examples each)"
(cd "$work" && "$st" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" "${common[@]}" \
  --header "Authorization: Bearer $token" \
  --exclude-operation-id revoke_token \
  --report junit --report-junit-path "$report_dir/junit.xml") || status=1

# `DELETE /api/auth/token/` revokes the token it is sent with: alone, last,
# with a token of its own (after the first 204 it is documented to answer 401).
echo "test-api: schemathesis, revoke_token"
(cd "$work" && "$st" --config-file "$work/schemathesis.toml" run "$base/api/openapi.json" "${common[@]}" \
  --header "Authorization: Bearer $logout_token" \
  --include-operation-id revoke_token \
  --report junit --report-junit-path "$report_dir/junit-revoke.xml") || status=1

kill -0 "$server_pid" 2>/dev/null || fail "the server died during the run"
# A handler's panic answers a JSON 500, but one on a worker or after the
# response would not show in any status: the server logs each as ERROR "panic".
if grep -Eq 'ERROR.* panic|panicked at' "$work/server.log"; then
  echo "test-api: the server panicked:" >&2
  grep -E -A3 'ERROR.* panic|panicked at' "$work/server.log" >&2
  status=1
fi
# One closing line over both runs, counted from the JUnit reports (a test case
# there is one API operation, or the stateful phase).
"$python" - "$report_dir/junit.xml" "$report_dir/junit-revoke.xml" <<'PY' || status=1
import sys
import xml.etree.ElementTree as ET

passed = failed = 0
for path in sys.argv[1:]:
    for case in ET.parse(path).getroot().iter("testcase"):
        if case.find("failure") is not None or case.find("error") is not None:
            failed += 1
        elif case.find("skipped") is None:
            passed += 1
print(f"test-api: {passed} passed, {failed} failed")
sys.exit(1 if failed or not passed else 0)
PY
[ "$status" -eq 0 ] || fail "schemathesis found responses the document does not allow (see above; JUnit in $report_dir)"
