#!/usr/bin/env python3
"""`make check-docker`: what can be checked of Dockerfile and
docker-compose.yml on a machine with no Docker engine and no compose plugin.

Neither file is built or started here. Instead this checks that:
  * the Dockerfile builds with the README's build command (the one its
    "## Docker" section gives, itself `make run`'s cargo flags, i.e. the
    Makefile's `run` recipe) on the packages the README names, and starts the
    binary with the README's start command (`make run`'s arguments after `--`);
  * every setting it or the compose file gives is documented (the settings
    table of the README or of docs/operations.md), its health check asks an
    endpoint the README lists and works (it is run here against a stub);
  * docker-compose.yml parses as YAML and wires Libris to PostgreSQL: the
    depends_on condition, DATABASE_URL naming the postgres service with its
    user, password and database, the port, the named volume.

Needs PyYAML (tests/api/requirements.txt). Prints one line per check and
`check-docker: N passed, M failed`; exits 1 when any failed.
"""

from __future__ import annotations

import http.server
import json
import os
import re
import shlex
import subprocess
import sys
import threading
from pathlib import Path
from urllib.parse import urlsplit

import yaml

ROOT = Path(__file__).resolve().parents[2]

results: list[tuple[bool, str, str]] = []


def check(name: str, ok: bool, detail: str = "") -> bool:
    results.append((bool(ok), name, detail))
    return bool(ok)


# ---------------------------------------------------------------- sources


def makefile_run_command() -> tuple[list[str], str, list[str]]:
    """`make run`'s cargo command: (cargo flags, binary, binary arguments)."""
    text = (ROOT / "Makefile").read_text()
    recipe = re.search(r"^run:.*\n((?:\t.*\n|\s*\n)+)", text, re.M)
    if not recipe:
        raise SystemExit("check-docker: the Makefile has no `run` target")
    line = next((l for l in recipe.group(1).splitlines() if "$(CARGO) run" in l), None)
    if line is None:
        raise SystemExit("check-docker: the Makefile's `run` recipe runs no `$(CARGO) run`")
    words = shlex.split(line.split("$(CARGO) run", 1)[1])
    separator = words.index("--") if "--" in words else len(words)
    flags, args = words[:separator], words[separator + 1 :]
    if "--bin" not in flags:
        raise SystemExit("check-docker: `make run` names no --bin")
    return flags, flags[flags.index("--bin") + 1], args


def readme() -> str:
    return (ROOT / "README.md").read_text()


def readme_section(text: str, title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", text, re.M | re.S)
    return match.group(1) if match else ""


def readme_settings(text: str) -> set[str]:
    """Environment variables named in the first column of the settings table:
    the README's "Configuration" section, or the "Settings" section of
    docs/operations.md, where the README sends its readers for every setting."""
    tables = readme_section(text, "Configuration")
    operations = ROOT / "docs" / "operations.md"
    if operations.exists():
        tables += readme_section(operations.read_text(), "Settings")
    names: set[str] = set()
    for row in tables.splitlines():
        if row.startswith("|"):
            first = row.split("|")[1]
            names.update(re.findall(r"`([A-Z][A-Z0-9_]*)`", first))
    if not names:
        raise SystemExit("check-docker: found no settings table (README.md Configuration, docs/operations.md Settings)")
    return names


# ---------------------------------------------------------------- Dockerfile


class Instruction:
    def __init__(self, stage: int, keyword: str, args: str):
        self.stage, self.keyword, self.args = stage, keyword, args

    def exec_form(self) -> list[str] | None:
        try:
            value = json.loads(self.args)
        except ValueError:
            return None
        return value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None


def parse_dockerfile(path: Path) -> tuple[list[tuple[str, str | None]], list[Instruction]]:
    """Stages as (image, name) and the instructions, continuations joined."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue  # blank lines and comments, also inside a continued instruction
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        logical.append(pending + stripped)
        pending = ""
    if pending:
        logical.append(pending)
    stages: list[tuple[str, str | None]] = []
    instructions: list[Instruction] = []
    for line in logical:
        keyword, _, args = line.partition(" ")
        keyword, args = keyword.upper(), args.strip()
        if keyword == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--platform")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append((words[0], name))
        instructions.append(Instruction(len(stages) - 1, keyword, args))
    return stages, instructions


def env_assignments(args: str) -> dict[str, str]:
    words = shlex.split(args)
    if len(words) == 2 and "=" not in words[0]:
        return {words[0]: words[1]}  # legacy `ENV NAME value`
    return dict(w.split("=", 1) for w in words if "=" in w)


def apt_packages(instructions: list[Instruction]) -> set[str]:
    packages: set[str] = set()
    for ins in instructions:
        for command in re.split(r"&&|;", ins.args):
            words = command.split()
            if "apt-get" in words and "install" in words:
                tail = words[words.index("install") + 1 :]
                packages.update(w for w in tail if not w.startswith("-"))
    return packages


class Stub(http.server.BaseHTTPRequestHandler):
    status = 200

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        code = Stub.status if self.path in ("/readyz", "/healthz") else 404
        body = b'{"status":"stub"}'
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


def run_healthcheck(command: list[str], port: int) -> int:
    env = dict(os.environ, LIBRIS_PORT=str(port))
    return subprocess.run(command, env=env, timeout=10, capture_output=True).returncode


def check_healthcheck(command: list[str]) -> None:
    """Runs the image's health check against a stub answering 200, then 503,
    then against a port nothing listens on: only the first may pass."""
    if not command or command[0] in ("curl", "wget") or not Path("/bin/bash").exists():
        check("HEALTHCHECK runs here", False, f"cannot run {command!r}")
        return
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Stub)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        Stub.status = 200
        up = run_healthcheck(command, port)
        Stub.status = 503
        unready = run_healthcheck(command, port)
    finally:
        server.shutdown()
        server.server_close()
    down = run_healthcheck(command, port)
    check("HEALTHCHECK passes when the endpoint answers 200", up == 0, f"exit {up}")
    check("HEALTHCHECK fails when it answers 503", unready != 0, f"exit {unready}")
    check("HEALTHCHECK fails when nothing listens", down != 0, f"exit {down}")


def check_dockerfile(text: str, make_flags: list[str], binary: str, make_args: list[str]) -> dict:
    stages, instructions = parse_dockerfile(ROOT / "Dockerfile")
    facts: dict = {}
    check("Dockerfile has a build stage and a runtime stage", len(stages) >= 2, f"stages {stages}")
    if len(stages) < 2:
        return facts
    build_image, build_name = stages[0]
    run_image, _ = stages[-1]
    build = [i for i in instructions if i.stage == 0]
    runtime = [i for i in instructions if i.stage == len(stages) - 1]
    check("build stage is rust:1-bookworm", build_image == "rust:1-bookworm", build_image)
    check("runtime stage is debian:bookworm-slim", run_image == "debian:bookworm-slim", run_image)

    # The packages the README names.
    readme_build_packages = set(re.findall(r"apt-get install ([a-z0-9][a-z0-9.+-]*)", text))
    check(
        "build stage installs the README's build packages (apt-get install …)",
        readme_build_packages and readme_build_packages <= apt_packages(build),
        f"README: {sorted(readme_build_packages)}, Dockerfile: {sorted(apt_packages(build))}",
    )
    runtime_packages = apt_packages(runtime)
    check(
        "runtime stage installs libpq5 and ca-certificates",
        {"libpq5", "ca-certificates"} <= runtime_packages,
        f"{sorted(runtime_packages)}",
    )

    # The build command: the README's, which is `make run`'s.
    docker_section = readme_section(text, "Docker")
    readme_build = re.findall(r"`(cargo build[^`]*)`", docker_section)
    check("README's Docker section gives the build command", len(readme_build) >= 1, "no `cargo build …`")
    runs = [i.args for i in build if i.keyword == "RUN"]
    if readme_build:
        command = readme_build[0]
        check(
            "build stage RUNs the README's build command",
            any(re.search(rf"(^|&&|;)\s*{re.escape(command)}\s*($|&&|;)", r) for r in runs),
            f"{command!r} not in {runs}",
        )
        words = shlex.split(command)[2:]
        check(
            "the README's build command has `make run`'s cargo flags",
            all(flag in words for flag in make_flags)
            and words[words.index("--bin") + 1 : words.index("--bin") + 2] == [binary],
            f"{command!r} vs make run's {make_flags}",
        )
    profile = "release" if "--release" in make_flags else "debug"
    copies = [i.args for i in runtime if i.keyword == "COPY" and "--from=" in i.args]
    wanted = f"--from={build_name or 0}"
    binary_copy = [c for c in copies if c.startswith(wanted) and re.search(rf"/target/{profile}/{binary}\s", c)]
    check(
        f"runtime copies target/{profile}/{binary} from the build stage",
        len(binary_copy) == 1,
        f"{copies}",
    )
    if binary_copy:
        destination = binary_copy[0].split()[-1]
        on_path = destination.rstrip("/") in ("/usr/local/bin", "/usr/bin", f"/usr/local/bin/{binary}", f"/usr/bin/{binary}")
        check(f"{binary} lands on the PATH", on_path, destination)

    # The start command.
    def last(keyword: str) -> list[str]:
        found = [i for i in runtime if i.keyword == keyword]
        if not found:
            return []
        form = found[-1].exec_form()
        return form if form is not None else ["/bin/sh", "-c", found[-1].args]

    start = last("ENTRYPOINT") + last("CMD")
    check(
        "ENTRYPOINT + CMD start `make run`'s binary and arguments",
        start == [binary, *make_args],
        f"{start} vs {[binary, *make_args]}",
    )
    readme_start = " ".join([binary, *make_args])
    check(
        "README's Docker section gives that start command",
        f"`{readme_start}`" in docker_section,
        f"no `{readme_start}`",
    )

    # Who runs it, and the settings.
    users = [i.args for i in runtime if i.keyword == "USER"]
    check(
        "runs as a non-root user",
        bool(users) and users[-1].split(":")[0] not in ("root", "0"),
        f"USER {users}",
    )
    env: dict[str, str] = {}
    for i in runtime:
        if i.keyword == "ENV":
            env.update(env_assignments(i.args))
    facts["env"] = env
    check("ENV LIBRIS_HOST=0.0.0.0", env.get("LIBRIS_HOST") == "0.0.0.0", f"{env}")
    exposed = [p.split("/")[0] for i in runtime if i.keyword == "EXPOSE" for p in i.args.split()]
    port = env.get("LIBRIS_PORT", "8000")
    facts["port"] = port
    check("EXPOSE is the port Libris listens on", exposed == [port] == ["8000"], f"EXPOSE {exposed}, LIBRIS_PORT {port}")
    documented = readme_settings(text)
    unknown = sorted(set(env) - documented)
    check("every ENV is a documented setting", not unknown, f"undocumented: {unknown}")

    health = [i for i in runtime if i.keyword == "HEALTHCHECK"]
    check("has a HEALTHCHECK", bool(health))
    if health:
        args = health[-1].args
        command_part = args[args.index("CMD") + 3 :].strip() if "CMD" in args else ""
        command = json.loads(command_part) if command_part.startswith("[") else ["/bin/sh", "-c", command_part]
        endpoints = re.findall(r"/(healthz|readyz)\b", " ".join(command))
        check(
            "HEALTHCHECK asks /healthz or /readyz, both in the README",
            bool(endpoints) and all(f"/{e}" in text for e in endpoints),
            " ".join(command),
        )
        uses = {"curl", "wget"} & set(re.findall(r"[a-z]+", " ".join(command)))
        check("HEALTHCHECK needs no tool the image lacks", not (uses - runtime_packages), f"uses {sorted(uses)}")
        check_healthcheck(command)

    ignore_file = ROOT / ".dockerignore"
    lines = ignore_file.read_text().splitlines() if ignore_file.exists() else []
    ignored = [l.strip() for l in lines if l.strip() and not l.strip().startswith("#")]
    check(
        ".dockerignore keeps target/ and .git/ out of the build context",
        any(p.strip("/") == "target" for p in ignored) and any(p.strip("/") == ".git" for p in ignored),
        f"{ignored}",
    )
    return facts


# ---------------------------------------------------------------- compose

INTERPOLATION = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::?-([^}]*))?\}")


def interpolate(value: str) -> str:
    """Compose's `${VAR}` / `${VAR:-default}`, with VAR unset (the defaults)."""
    return INTERPOLATION.sub(lambda m: m.group(2) or "", value)


def environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {str(k): "" if v is None else str(v) for k, v in env.items()}


def check_compose(text: str, facts: dict) -> None:
    try:
        document = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    except yaml.YAMLError as error:
        check("docker-compose.yml parses as YAML", False, str(error))
        return
    check("docker-compose.yml parses as YAML", isinstance(document, dict))
    services = (document or {}).get("services") or {}
    postgres = {n: s for n, s in services.items() if str(s.get("image", "")).startswith("postgres:")}
    libris = {n: s for n, s in services.items() if "build" in s}
    check(
        "two services: postgres:15 and Libris built from this folder",
        len(services) == 2 and len(postgres) == 1 and len(libris) == 1,
        f"{list(services)}",
    )
    if len(postgres) != 1 or len(libris) != 1:
        return
    (db_name, db), (app_name, app) = next(iter(postgres.items())), next(iter(libris.items()))
    check("postgres image is postgres:15", db.get("image") == "postgres:15", str(db.get("image")))
    build = app["build"]
    context = build if isinstance(build, str) else build.get("context", ".")
    dockerfile = "Dockerfile" if isinstance(build, str) else build.get("dockerfile", "Dockerfile")
    check("Libris builds from the Dockerfile checked above", (ROOT / context / dockerfile).resolve() == ROOT / "Dockerfile", f"{context}/{dockerfile}")

    test = (db.get("healthcheck") or {}).get("test")
    test_text = " ".join(test) if isinstance(test, list) else str(test)
    check("postgres has a pg_isready healthcheck", "pg_isready" in test_text, test_text)

    depends = app.get("depends_on") or {}
    condition = depends.get(db_name, {}).get("condition") if isinstance(depends, dict) else None
    check(f"{app_name} depends on {db_name} being healthy", condition == "service_healthy", f"{depends}")

    db_env, app_env = environment(db), environment(app)
    url = urlsplit(interpolate(app_env.get("DATABASE_URL", "")))
    check("DATABASE_URL is a postgres:// URL", url.scheme in ("postgres", "postgresql"), url.geturl())
    check(f"DATABASE_URL's host is the service {db_name}", url.hostname == db_name, str(url.hostname))
    check("DATABASE_URL's port is PostgreSQL's", (url.port or 5432) == 5432, str(url.port))
    user = interpolate(db_env.get("POSTGRES_USER", "postgres"))
    password = interpolate(db_env.get("POSTGRES_PASSWORD", ""))
    database = interpolate(db_env.get("POSTGRES_DB", user))
    check(
        "DATABASE_URL's user, password and database are the postgres service's",
        (url.username, url.password, url.path.lstrip("/")) == (user, password, database),
        f"{(url.username, url.path)} vs {(user, database)}",
    )
    raw_url, raw_password = app_env.get("DATABASE_URL", ""), db_env.get("POSTGRES_PASSWORD", "")
    check(
        "DATABASE_URL takes its password from the same variable as POSTGRES_PASSWORD",
        raw_password in raw_url,
        f"{raw_password!r} not in DATABASE_URL",
    )
    documented = readme_settings(text)
    unknown = sorted(set(app_env) - documented)
    check(f"every setting of {app_name} is a documented setting", not unknown, f"undocumented: {unknown}")

    port = facts.get("port", "8000")
    container_ports = []
    for mapping in app.get("ports") or []:
        spec = mapping if isinstance(mapping, str) else f"{mapping.get('published', '')}:{mapping.get('target', '')}"
        container_ports.append(str(spec).rsplit(":", 1)[-1].split("/")[0])
    check(f"{app_name} publishes the container's port {port}", port in container_ports, f"{app.get('ports')}")
    check(f"{db_name} publishes no port", not db.get("ports"), f"{db.get('ports')}")

    volumes = document.get("volumes") or {}
    mounts = [str(v) if isinstance(v, str) else f"{v.get('source')}:{v.get('target')}" for v in db.get("volumes") or []]
    named = [m.split(":")[0] for m in mounts if m.split(":")[1:2] == ["/var/lib/postgresql/data"]]
    check(
        "a named volume holds /var/lib/postgresql/data",
        len(named) == 1 and named[0] in volumes,
        f"mounts {mounts}, volumes {list(volumes)}",
    )


def main() -> int:
    text = readme()
    flags, binary, args = makefile_run_command()
    facts = check_dockerfile(text, flags, binary, args)
    check_compose(text, facts)
    failed = 0
    for ok, name, detail in results:
        print(f"{'ok  ' if ok else 'FAIL'} {name}" + ("" if ok or not detail else f": {detail}"))
        failed += not ok
    print(f"check-docker: {len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
