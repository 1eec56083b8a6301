// The browser suite's world: the `libris` binary that `make test-browser`
// built (nothing is built here), a local OpenID provider
// (oidc-provider-mock, from the virtualenv the Makefile made), a webhook
// receiver (receiver.mjs) and headless Chromium, each on a free loopback port,
// each stopped by `Stack.stop()` whatever happened (and killed outright if
// the test process dies first).
import { spawn } from "node:child_process";
import { createWriteStream, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, request as httpRequest } from "node:http";
import { createServer } from "node:net";
import os, { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const TARGET = process.env.CARGO_TARGET_DIR
  ? path.resolve(REPO, process.env.CARGO_TARGET_DIR)
  : path.join(REPO, "target");
const LIBRIS_BINARY = path.join(TARGET, "debug", "libris");
const PROVIDER_BINARY = path.join(TARGET, "browser-venv", "bin", "oidc-provider-mock");
const CHROMIUM = "/usr/bin/chromium";
export const SCREENSHOTS = path.join(TARGET, "browser-screenshots");
export const LOGS = path.join(TARGET, "browser-logs");

export const ADMIN = { username: "admin", password: "browser-admin-password", email: "admin@libris.test" };
const OIDC_CLIENT = { id: "libris-console", secret: "libris-console-secret" };

// Without the background-networking flags Chromium keeps calling home, and
// this closed network refuses it; --no-sandbox because CI runs as root.
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// Children still alive when the process exits (a crash, a timeout, Ctrl-C)
// die with it.
const children = new Set();
const killChildren = () => {
  for (const child of children) child.kill("SIGKILL");
};
process.on("exit", killChildren);
for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"]) {
  process.on(signal, () => {
    killChildren();
    process.exit(128 + os.constants.signals[signal]);
  });
}

// A port the kernel just handed out and we released; the child binds it a
// moment later. Libris must know its public URL (the OIDC redirect) before
// it starts, so port 0 would not do.
async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Starts `command`, its output to target/browser-logs/<name>.log.
function startProcess(name, command, args, env) {
  if (!existsSync(command)) throw new Error(`${command} is missing: run \`make test-browser\`, which builds it`);
  mkdirSync(LOGS, { recursive: true });
  const logPath = path.join(LOGS, `${name}.log`);
  const log = createWriteStream(logPath);
  // Only the settings given here: none of the caller's LIBRIS_* or DATABASE_URL.
  const inherited = Object.fromEntries(
    Object.entries(process.env).filter(([key]) => !key.startsWith("LIBRIS_") && key !== "DATABASE_URL"),
  );
  const child = spawn(command, args, { env: { ...inherited, ...env }, stdio: ["ignore", "pipe", "pipe"] });
  child.stdout.pipe(log);
  child.stderr.pipe(log);
  children.add(child);
  const exited = new Promise((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  exited.then(() => children.delete(child));
  return { name, child, logPath, exited };
}

async function stopProcess({ child, exited }) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const stopped = await Promise.race([exited, sleep(5000).then(() => null)]);
  if (!stopped) {
    child.kill("SIGKILL");
    await exited;
  }
}

function lastLines(logPath, count = 30) {
  try {
    return readFileSync(logPath, "utf8").trimEnd().split("\n").slice(-count).join("\n");
  } catch {
    return "(no log)";
  }
}

// Polls `url` until it answers 200, or fails with the process's last log lines.
async function waitUntilServing(proc, url, seconds = 30) {
  const deadline = Date.now() + seconds * 1000;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null) {
      throw new Error(`${proc.name} exited at start:\n${lastLines(proc.logPath)}`);
    }
    try {
      const response = await fetch(url);
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await sleep(100);
  }
  throw new Error(`${proc.name} did not answer 200 at ${url} within ${seconds} s:\n${lastLines(proc.logPath)}`);
}

// A local OpenID provider; users' claims are set with `setUser`.
//
// `expiredTokens`: its ID tokens have expired when they arrive
// (`--token-max-age=-120`). The mock then also answers the token request with
// `"expires_in": -120`, which no real provider sends and which the OIDC
// client rightly refuses as a malformed answer (provider_error) before it
// ever looks at the ID token; so a proxy in front of it, which the issuer
// URL names, puts a plausible `expires_in` back, and what reaches Libris is
// a well-formed answer carrying an expired ID token. (The mock names itself
// after the Host it is asked for, so the proxy's URL is the issuer in its
// discovery document and tokens alike.)
async function startProvider(name, { expiredTokens = false } = {}) {
  const port = await freePort();
  const args = ["--port", String(port)];
  if (expiredTokens) args.push("--token-max-age=-120");
  const proc = startProcess(name, PROVIDER_BINARY, args, { NO_COLOR: "1" });
  const direct = `http://127.0.0.1:${port}`;
  await waitUntilServing(proc, `${direct}/.well-known/openid-configuration`);
  const proxy = expiredTokens ? await startExpiresInProxy(port) : null;
  const issuer = proxy ? proxy.base : direct;
  return {
    proc,
    proxy,
    issuer,
    async setUser(subject, claims) {
      const response = await fetch(`${direct}/users/${encodeURIComponent(subject)}`, {
        method: "PUT",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify(claims),
      });
      if (response.status !== 204) throw new Error(`PUT /users/${subject}: ${response.status} ${await response.text()}`);
    },
  };
}

// Forwards everything to the provider on `targetPort`, Host header and all,
// and turns a negative `expires_in` in the token endpoint's answer into 60.
async function startExpiresInProxy(targetPort) {
  const server = createHttpServer((request, response) => {
    const upstream = httpRequest(
      { host: "127.0.0.1", port: targetPort, method: request.method, path: request.url, headers: request.headers },
      (answer) => {
        const chunks = [];
        answer.on("data", (chunk) => chunks.push(chunk));
        answer.on("end", () => {
          let body = Buffer.concat(chunks);
          if (request.url.startsWith("/oauth2/token") && answer.statusCode === 200) {
            const token = JSON.parse(body.toString("utf8"));
            if (token.expires_in < 0) token.expires_in = 60;
            body = Buffer.from(JSON.stringify(token));
          }
          const headers = { ...answer.headers, "content-length": String(body.length) };
          delete headers["transfer-encoding"];
          response.writeHead(answer.statusCode, headers);
          response.end(body);
        });
      },
    );
    upstream.on("error", (error) => {
      response.writeHead(502);
      response.end(String(error));
    });
    request.pipe(upstream);
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    base: `http://127.0.0.1:${server.address().port}`,
    close() {
      server.closeAllConnections();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// Libris on a fresh SQLite database, with the admin, loopback webhook
// targets allowed, one quick retry, and single sign-on through `provider`.
async function startLibris(name, { provider } = {}) {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const dataDir = mkdtempSync(path.join(tmpdir(), "libris-browser-"));
  const env = {
    DATABASE_URL: `sqlite://${path.join(dataDir, "libris.db")}`,
    LIBRIS_HOST: "127.0.0.1",
    LIBRIS_PORT: String(port),
    LIBRIS_ADMIN_USERNAME: ADMIN.username,
    LIBRIS_ADMIN_PASSWORD: ADMIN.password,
    LIBRIS_ADMIN_EMAIL: ADMIN.email,
    LIBRIS_WEBHOOK_ALLOW_PRIVATE: "true",
    LIBRIS_WEBHOOK_RETRY_SCHEDULE: "1s",
    LIBRIS_WEBHOOK_TIMEOUT: "5s",
    LIBRIS_PUBLIC_URL: base,
    RUST_LOG: process.env.RUST_LOG ?? "info",
  };
  if (provider) {
    Object.assign(env, {
      LIBRIS_OIDC_ISSUER: provider.issuer,
      LIBRIS_OIDC_CLIENT_ID: OIDC_CLIENT.id,
      LIBRIS_OIDC_CLIENT_SECRET: OIDC_CLIENT.secret,
    });
  }
  const proc = startProcess(name, LIBRIS_BINARY, ["serve"], env);
  proc.dataDir = dataDir;
  await waitUntilServing(proc, `${base}/readyz`);
  return { proc, base, api: new AdminApi(base) };
}

// The JSON API as the admin (seeding and checking what the console did).
class AdminApi {
  constructor(base) {
    this.base = base;
    this.token = null;
  }

  async request(method, pathname, body, token = this.token) {
    const headers = { Accept: "application/json" };
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers["Content-Type"] = "application/json";
    const response = await fetch(this.base + pathname, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    const data = text ? JSON.parse(text) : null;
    if (!response.ok) throw new Error(`${method} ${pathname}: ${response.status} ${text}`);
    return data;
  }

  async signIn() {
    const { token } = await this.request("POST", "/api/auth/token/", {
      username: ADMIN.username,
      password: ADMIN.password,
    });
    this.token = token;
    return this;
  }

  get(pathname) {
    return this.request("GET", pathname);
  }

  post(pathname, body) {
    return this.request("POST", pathname, body);
  }
}

async function launchBrowser() {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: apt-get install chromium`);
  return chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
}

// Everything one test file started, stopped in reverse order.
export class Stack {
  constructor() {
    this.parts = [];
  }

  add(stop) {
    this.parts.push(stop);
  }

  async provider(name, options) {
    const provider = await startProvider(name, options);
    this.add(async () => {
      await provider.proxy?.close();
      await stopProcess(provider.proc);
    });
    return provider;
  }

  async libris(name, options) {
    const libris = await startLibris(name, options);
    this.add(async () => {
      await stopProcess(libris.proc);
      rmSync(libris.proc.dataDir, { recursive: true, force: true });
      // A panic on a worker shows in no response; the log has it.
      if (/panicked at|ERROR.* panic/.test(readFileSync(libris.proc.logPath, "utf8"))) {
        throw new Error(`libris panicked: see ${libris.proc.logPath}`);
      }
    });
    return libris;
  }

  async browser() {
    const browser = await launchBrowser();
    this.add(() => browser.close());
    return browser;
  }

  async stop() {
    const failures = [];
    for (const stop of this.parts.reverse()) {
      try {
        await stop();
      } catch (error) {
        failures.push(error);
      }
    }
    this.parts = [];
    if (failures.length) throw failures[0];
  }
}
