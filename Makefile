# Libris: `make run` serves on embedded SQLite; `make test` runs every test.

CARGO ?= cargo
PG_HOST ?= 127.0.0.1
PG_PORT ?= 5432

.PHONY: run test bench lint fmt postgres-status check-docker test-api test-browser

## Build and start the service (./libris.db unless DATABASE_URL says otherwise) with a local admin.
run:
	@if [ -n "$$DATABASE_URL" ]; then where="the database DATABASE_URL names"; \
	else where="embedded SQLite (./libris.db)"; fi; \
	echo "Libris on $$where; admin: $${LIBRIS_ADMIN_USERNAME:-admin} / $${LIBRIS_ADMIN_PASSWORD:-libris-admin}"
	LIBRIS_ADMIN_USERNAME=$${LIBRIS_ADMIN_USERNAME:-admin} \
	LIBRIS_ADMIN_PASSWORD=$${LIBRIS_ADMIN_PASSWORD:-libris-admin} \
	$(CARGO) run --release --bin libris -- serve

## Every test: unit, store suite on SQLite and PostgreSQL, end to end on both.
test: postgres-status
	$(CARGO) test --workspace --all-targets
	@if timeout 3 bash -c '</dev/tcp/$(PG_HOST)/$(PG_PORT)' 2>/dev/null; then \
		echo "End-to-end suite again, on PostgreSQL:"; \
		LIBRIS_E2E_BACKEND=postgres $(CARGO) test --workspace --test e2e; \
	else \
		echo "WARNING: the end-to-end suite on PostgreSQL was SKIPPED (PostgreSQL unreachable)"; \
	fi

## Throughput, latency and memory figures of the release binary (not timed tests).
bench:
	$(CARGO) build --release -p libris-server -p libris-bench
	$(CARGO) run --release -p libris-bench

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

# Says up front whether the PostgreSQL half of the suite will run; under CI an
# unreachable server is an error, never a skip.
postgres-status:
	@if timeout 3 bash -c '</dev/tcp/$(PG_HOST)/$(PG_PORT)' 2>/dev/null; then \
		echo "PostgreSQL reachable at $(PG_HOST):$(PG_PORT): the store suite runs on both backends"; \
	elif [ "$$CI" = "true" ]; then \
		echo "ERROR: PostgreSQL unreachable at $(PG_HOST):$(PG_PORT), and CI=true forbids skipping it" >&2; exit 1; \
	else \
		echo "WARNING: PostgreSQL unreachable at $(PG_HOST):$(PG_PORT): the PostgreSQL half of the store suite will be SKIPPED"; \
	fi

## Dockerfile and docker-compose.yml against the README and the Makefile (no Docker engine needed).
check-docker:
	@venv="$$(bash tests/api/venv.sh)" && "$$venv/bin/python" tests/api/check_docker.py

## schemathesis against /api/openapi.json on a fresh server (LIBRIS_API_MAX_EXAMPLES, LIBRIS_API_SEED).
test-api:
	CARGO="$(CARGO)" bash tests/api/run-schemathesis.sh

## The admin console in headless Chromium (/usr/bin/chromium) with a local OpenID provider and webhook receiver.
BROWSER_VENV := target/browser-venv
test-browser:
	$(CARGO) build -p libris-server --bin libris
	cd tests/browser && npm ci --no-audit --no-fund
	[ -x $(BROWSER_VENV)/bin/pip ] || python3 -m venv $(BROWSER_VENV)
	$(BROWSER_VENV)/bin/pip install -q -r tests/browser/requirements.txt
	cd tests/browser && node --test --test-timeout=120000
