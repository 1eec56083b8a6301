// Accessibility: axe-core's WCAG 2 A and AA rules on the sign-in screen,
// every admin section, a member's page and a form dialog, at 1280 and
// 360 px; any serious or critical violation fails, named by rule, impact
// and element. Then the console driven by the keyboard alone: sign in, reach
// Books through the navigation, and focus visible at every step.
//
// axe runs inside the page, injected as a script: its context alone does
// not enforce the Content-Security-Policy (bypassCSP). The keyboard test
// keeps the policy and its check, as every other test does.
import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { after, before, test } from "node:test";
import { ADMIN, Stack } from "./harness.mjs";
import {
  ADMIN_SECTIONS,
  NARROW,
  WIDE,
  assertNoProblems,
  eventually,
  field,
  heading,
  openPage,
  openSection,
  rowWith,
  signInWithPassword,
} from "./console.mjs";

const AXE_SOURCE = createRequire(import.meta.url)("axe-core").source;
// WCAG 2.0, 2.1 and 2.2, levels A and AA.
const WCAG_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"];
const FAILING_IMPACTS = new Set(["serious", "critical"]);
const MEMBER = {
  username: "lena",
  email: "lena@libris.test",
  password: "lena-long-password",
  phone: "79161234567",
  tags: ["evening-readers"],
  timezone: "Europe/Moscow",
};

const stack = new Stack();
let libris;
let browser;
let member;

before(async () => {
  libris = await stack.libris("accessibility-libris");
  await libris.api.signIn();
  // Something in the lists, so their rows, links and buttons are checked too.
  member = await libris.api.post("/api/users/", MEMBER);
  const author = await libris.api.post("/api/authors/", { name: "Nora K. Jemisin", bio: "The Broken Earth" });
  await libris.api.post("/api/books/", { title: "The Fifth Season", author_id: author.id, isbn: "978-0-316-22929-6" });
  await libris.api.post("/api/webhooks/", { url: "http://127.0.0.1:9/hook", events: ["member.greeted"], description: "Nobody listens" });
  const hour = 60 * 60 * 1000;
  await libris.api.post("/api/campaigns/", {
    text: "The library opens late on Friday.",
    start_at: new Date(Date.now() + hour).toISOString(),
    end_at: new Date(Date.now() + 2 * hour).toISOString(),
    filter: { tags: MEMBER.tags, operator_codes: [] },
    send_window: { from: "09:00", to: "21:00" },
  });
  browser = await stack.browser();
});
after(() => stack.stop());

// Waits until the screen has loaded what it loads (no busy region, no
// "Loading…", no dashboard counter still "…").
async function settled(page) {
  await eventually(
    "the screen finished loading",
    () =>
      Promise.all([
        page.locator('[aria-busy="true"]').count(),
        page.getByText(/^(Loading…|…)$/).count(),
      ]),
    (counts) => counts.every((n) => n === 0),
  );
}

// axe's serious and critical WCAG violations on the page as it is now, one
// line each: "rule (impact): target, target — help".
async function violations(page) {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ content: AXE_SOURCE });
  const results = await page.evaluate(
    (tags) => window.axe.run(document, { runOnly: { type: "tag", values: tags }, resultTypes: ["violations"] }),
    WCAG_TAGS,
  );
  return results.violations
    .filter((v) => FAILING_IMPACTS.has(v.impact))
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.map((n) => n.target.join(" ")).join(", ")} — ${v.help}`);
}

// Checks the screen at both widths; answers the problems found, each
// prefixed with the screen's name and the width.
async function check(page, name) {
  const found = [];
  for (const viewport of [WIDE, NARROW]) {
    await page.setViewportSize(viewport);
    await settled(page);
    for (const line of await violations(page)) found.push(`${name} at ${viewport.width} px: ${line}`);
  }
  await page.setViewportSize(WIDE);
  return found;
}

function assertNone(found) {
  assert.equal(found.length, 0, `serious or critical accessibility violations:\n${found.join("\n")}`);
}

test("axe finds no serious or critical violation on the sign-in screen", async () => {
  const page = await openPage(browser, libris, { bypassCSP: true });
  await page.goto(`${libris.base}/admin/`);
  await heading(page, "Sign in").waitFor();
  const found = await check(page, "Sign in");
  // With a refusal in its alert, too.
  await field(page, "Username").fill(ADMIN.username);
  await field(page, "Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await page.getByRole("alert").filter({ hasText: /\S/ }).first().waitFor();
  found.push(...(await check(page, "Sign in, refused")));
  assertNone(found);
  assertNoProblems(page);
  await page.context().close();
});

test("the check sees a violation: a field without a label, in grey on grey", async () => {
  const page = await openPage(browser, libris, { bypassCSP: true });
  await page.goto(`${libris.base}/admin/`);
  await heading(page, "Sign in").waitFor();
  assertNone(await check(page, "Sign in"));
  await page.evaluate(() => {
    const input = document.createElement("input");
    input.id = "unlabelled";
    const faint = document.createElement("p");
    faint.id = "faint";
    faint.textContent = "Hardly legible";
    faint.style.color = "#ccc";
    document.querySelector("main").append(input, faint);
  });
  const found = await violations(page);
  assert.ok(found.some((line) => /^label \(critical\): #unlabelled\b/.test(line)), found.join("\n"));
  assert.ok(found.some((line) => /^color-contrast \(serious\): #faint\b/.test(line)), found.join("\n"));
  await page.context().close();
});

test("axe finds no serious or critical violation in any admin section, a member's page or a form dialog", async () => {
  const page = await openPage(browser, libris, { bypassCSP: true });
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
  const found = [];
  for (const name of ADMIN_SECTIONS) {
    await openSection(page, name);
    found.push(...(await check(page, name)));
  }

  await openSection(page, "Members");
  await rowWith(page, MEMBER.email).getByRole("link", { name: MEMBER.username, exact: true }).click();
  await heading(page, `Member ${MEMBER.username}`).waitFor();
  found.push(...(await check(page, `Member ${MEMBER.username}`)));

  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const form = page.getByRole("dialog", { name: `Edit member ${MEMBER.username}` });
  await form.waitFor();
  found.push(...(await check(page, "The member's edit dialog")));
  await form.getByRole("button", { name: "Cancel", exact: true }).click();
  await form.waitFor({ state: "detached" });

  assertNone(found);
  assertNoProblems(page);
  await page.context().close();
});

test("axe finds no serious or critical violation on a member's own view", async () => {
  const page = await openPage(browser, libris, { bypassCSP: true });
  await signInWithPassword(page, libris, MEMBER.username, MEMBER.password);
  await heading(page, "My account").waitFor();
  assertNone(await check(page, "My account"));
  assertNoProblems(page);
  await page.context().close();
});

// What has the keyboard focus: its accessible name (label, text or
// aria-label), and whether a person can see where it is (an outline or a
// box shadow drawn around it).
function focused(page) {
  return page.evaluate(() => {
    const element = document.activeElement;
    if (!element || element === document.body) return { name: "", tag: "body", tabbable: false, visible: false };
    const label = element.labels && element.labels[0] ? element.labels[0].textContent : "";
    const name = (element.getAttribute("aria-label") || label || element.textContent || "").trim();
    const style = getComputedStyle(element);
    const outline = style.outlineStyle !== "none" && Number.parseFloat(style.outlineWidth) > 0;
    const shadow = style.boxShadow !== "none";
    return { name, tag: element.tagName.toLowerCase(), tabbable: element.tabIndex >= 0, visible: outline || shadow };
  });
}

// Presses Tab until the element named `name` has the focus (at most
// `presses` times: a trap, or a target out of reach, fails with the path
// the focus took). Every stop on the way that Tab can reach must show its
// focus (a screen's heading, focused by the console when the screen opens
// and out of the Tab order, draws none).
async function tabTo(page, name, presses = 60) {
  const path = [];
  for (let i = 0; i <= presses; i += 1) {
    const now = await focused(page);
    if (now.tag !== "body") {
      path.push(`${now.tag} "${now.name}"`);
      assert.ok(now.visible || !now.tabbable, `the focus on ${now.tag} "${now.name}" is not visible (no outline, no box shadow)`);
    }
    if (now.name === name) return now;
    await page.keyboard.press("Tab");
  }
  assert.fail(`Tab did not reach "${name}" in ${presses} presses; the focus went: ${path.join(" → ")}`);
}

test("the keyboard alone signs in and reaches Books through the navigation, focus visible all the way", async () => {
  const page = await openPage(browser, libris);
  await page.goto(`${libris.base}/admin/`);
  await heading(page, "Sign in").waitFor();

  await tabTo(page, "Username");
  await page.keyboard.type(ADMIN.username);
  await tabTo(page, "Password");
  await page.keyboard.type(ADMIN.password);
  await page.keyboard.press("Enter");
  await page.getByText(`Signed in as ${ADMIN.username}`).waitFor();
  // Once the dashboard has loaded its heading takes the focus; Tab goes on
  // from there (through the dashboard, round to the top, into the navigation).
  await eventually("the Dashboard heading has the focus", () => focused(page), (now) => now.tag === "h2" && now.name === "Dashboard");

  await tabTo(page, "Books");
  assert.equal(await page.evaluate(() => document.activeElement.closest("nav")?.getAttribute("aria-label")), "Sections");
  await page.keyboard.press("Enter");
  await heading(page, "Books").waitFor();
  assert.match(page.url(), /#\/books$/);
  // The new screen's heading takes the focus, so reading starts there.
  await eventually("the Books heading has the focus", () => focused(page), (now) => now.tag === "h2" && now.name === "Books");

  // On into the screen: a form dialog opens on Enter, keeps the focus inside
  // (its first field), lets go on Escape and gives the focus back.
  await tabTo(page, "New book");
  await page.keyboard.press("Enter");
  const form = page.getByRole("dialog", { name: "New book" });
  await form.waitFor();
  await tabTo(page, "Title");
  assert.equal(await page.evaluate(() => Boolean(document.activeElement.closest("dialog"))), true, "the focus is in the dialog");
  await page.keyboard.press("Escape");
  await form.waitFor({ state: "detached" });
  await eventually("the focus is back on New book", () => focused(page), (now) => now.name === "New book" && now.visible);
  assertNoProblems(page);
  await page.context().close();
});
