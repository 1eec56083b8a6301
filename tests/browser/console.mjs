// Driving the console as a person does: by the names console-spec.md
// promises (roles, labels, headings), never by CSS classes. Every page
// records what the browser complained about on Libris's pages (uncaught
// errors, console errors, Content-Security-Policy violations) so a test can
// insist there was nothing.
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import path from "node:path";
import { SCREENSHOTS } from "./harness.mjs";

export const WIDE = { width: 1280, height: 800 };
export const NARROW = { width: 360, height: 740 };
const STEP_TIMEOUT_MS = 10_000;

export const ADMIN_SECTIONS = [
  "Dashboard",
  "Members",
  "Authors",
  "Books",
  "Audit log",
  "Loans",
  "Imports",
  "Webhooks",
  "Deliveries",
  "Attempt log",
  "Events",
  "Inbound",
  "Notifications",
  "Campaigns",
  "Settings",
];

const isLoopback = (url) => {
  const { protocol, hostname } = new URL(url);
  return protocol === "data:" || protocol === "blob:" || hostname === "127.0.0.1" || hostname === "localhost";
};

// An API answering 401/403/404/409/422 is the console's business (a wrong
// password, a conflict): Chromium logs each such fetch as a console error,
// which says nothing about the page itself.
const EXPECTED_REFUSAL = /^Failed to load resource: the server responded with a status of 4\d\d/;

// A fresh context (no cookies, empty sessionStorage) and page on Libris.
// `bypassCSP`: the page's Content-Security-Policy is not enforced, so a test
// may inject a script (the accessibility checker); only that test does.
export async function openPage(browser, libris, { bypassCSP = false } = {}) {
  const context = await browser.newContext({ viewport: WIDE, bypassCSP });
  // The provider's pages link a CDN stylesheet: nothing leaves loopback.
  await context.route((url) => !isLoopback(url.href), (route) => route.abort());
  const problems = [];
  const onLibris = (url) => url.startsWith(libris.base);
  await context.exposeBinding("__librisCspViolation", ({ page }, detail) => {
    if (onLibris(page.url())) problems.push(`CSP violation: ${detail}`);
  });
  await context.addInitScript(() => {
    document.addEventListener("securitypolicyviolation", (event) => {
      window.__librisCspViolation(`${event.violatedDirective} blocked ${event.blockedURI || "inline"} in ${event.sourceFile}:${event.lineNumber}`);
    });
  });
  const page = await context.newPage();
  page.setDefaultTimeout(STEP_TIMEOUT_MS);
  page.on("console", (message) => {
    if (message.type() !== "error" || !onLibris(page.url())) return;
    if (EXPECTED_REFUSAL.test(message.text())) return;
    problems.push(`console error: ${message.text()} (${message.location().url})`);
  });
  page.on("pageerror", (error) => {
    if (onLibris(page.url())) problems.push(`uncaught: ${error.message}`);
  });
  page.problems = problems;
  return page;
}

export function assertNoProblems(page) {
  assert.deepEqual(page.problems, [], "the browser complained on Libris's pages");
}

// Polls `probe` (which answers a value or throws) until `accept(value)`.
export async function eventually(what, probe, accept = (value) => value, timeoutMs = STEP_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  let last;
  for (;;) {
    try {
      last = await probe();
      if (accept(last)) return last;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) {
      assert.fail(`${what}: still not so after ${timeoutMs} ms (last seen: ${last instanceof Error ? last.message : JSON.stringify(last)})`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

// Waits until the locator's text matches `pattern`, and answers the text.
export function expectText(locator, pattern, timeoutMs) {
  return eventually(`text matching ${pattern}`, () => locator.innerText(), (text) => pattern.test(text), timeoutMs);
}

// The form control labelled `name`, or `name (a hint)`: a bare substring
// would also find "Username" for "Name".
export function field(page, name) {
  return page.getByLabel(new RegExp(`^${name}\\b`));
}

// The first role="status" or role="alert" element that says something.
export function announcement(page, role) {
  return page.getByRole(role).filter({ hasText: /\S/ }).first();
}

export function heading(page, name) {
  return page.getByRole("heading", { level: 2, name, exact: true });
}

export function sections(page) {
  return page.getByRole("navigation", { name: "Sections" });
}

export async function openSection(page, name) {
  await sections(page).getByRole("link", { name, exact: true }).click();
  await heading(page, name).waitFor();
}

export async function signInWithPassword(page, libris, username, password) {
  await page.goto(`${libris.base}/admin/`);
  await heading(page, "Sign in").waitFor();
  await field(page, "Username").fill(username);
  await field(page, "Password").fill(password);
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByText(`Signed in as ${username}`).waitFor();
}

export async function signOut(page) {
  await page.getByRole("button", { name: "Sign out" }).click();
  await heading(page, "Sign in").waitFor();
}

// Full-page screenshots of what is on screen at 1280 and 360 px wide,
// as target/browser-screenshots/<name>-<width>.png.
export async function capture(page, name) {
  mkdirSync(SCREENSHOTS, { recursive: true });
  for (const viewport of [WIDE, NARROW]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: path.join(SCREENSHOTS, `${name}-${viewport.width}.png`), fullPage: true });
  }
  await page.setViewportSize(WIDE);
}

// The value a detail screen shows for `term` (a <dt> and its <dd>).
export function detailValue(page, term) {
  const dt = page.getByRole("term").and(page.getByText(term, { exact: true }));
  return dt.locator("xpath=following-sibling::dd[1]");
}

// The row of the table that holds `text`.
export function rowWith(page, text) {
  return page.getByRole("row").filter({ hasText: text });
}
