// The admin signs in with the password and walks every section: each shows
// its heading, is captured at 1280 and 360 px, and the browser reports no
// error and no Content-Security-Policy violation on the way.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, LOGS, SCREENSHOTS, Stack } from "./harness.mjs";
import {
  ADMIN_SECTIONS,
  announcement,
  assertNoProblems,
  capture,
  eventually,
  expectText,
  field,
  heading,
  openPage,
  openSection,
  sections,
  signInWithPassword,
  signOut,
} from "./console.mjs";

const stack = new Stack();
let libris;
let browser;

const MEMBER = { username: "mia", email: "mia@libris.test", password: "mia-long-password" };

before(async () => {
  libris = await stack.libris("sections-libris");
  await libris.api.post("/api/users/", MEMBER);
  browser = await stack.browser();
  console.log(`screenshots: ${SCREENSHOTS}; the servers' logs: ${LOGS}`);
});
after(() => stack.stop());

test("a wrong password is refused in the sign-in screen's alert", async () => {
  const page = await openPage(browser, libris);
  // This Libris has no OpenID provider configured: once the console has
  // asked, it offers the password alone.
  const asked = page.waitForResponse((response) => response.url().endsWith("/api/auth/oidc/"));
  await page.goto(`${libris.base}/admin/`);
  assert.deepEqual(await (await asked).json(), { enabled: false });
  await heading(page, "Sign in").waitFor();
  assert.equal(await page.getByRole("link", { name: "Sign in with single sign-on" }).count(), 0);
  await capture(page, "sign-in");
  await field(page, "Username").fill(ADMIN.username);
  await field(page, "Password").fill("not-the-password");
  await page.getByRole("button", { name: "Sign in", exact: true }).click();
  await expectText(announcement(page, "alert"), /\S/);
  await capture(page, "sign-in-refused");
  assert.equal(await page.getByText(/Signed in as/).count(), 0);
  assertNoProblems(page);
  await page.context().close();
});

test("the admin signs in with the password and sees every section", async () => {
  const page = await openPage(browser, libris);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
  // Admins land on the dashboard.
  await heading(page, "Dashboard").waitFor();
  assert.match(page.url(), /#\/dashboard/);
  await page.getByRole("img", { name: "Deliveries by status over the last 24 hours" }).waitFor();

  const links = await sections(page).getByRole("link").allInnerTexts();
  assert.deepEqual(links.map((text) => text.trim()), ADMIN_SECTIONS);
  assert.equal(await sections(page).getByRole("link", { name: "My account" }).count(), 0);

  for (const name of ADMIN_SECTIONS) {
    await openSection(page, name);
    assert.equal(await page.getByRole("heading", { level: 2 }).count(), 1, `${name} has one h2`);
    await capture(page, `section-${name.toLowerCase().replace(/ /g, "-")}`);
  }

  // The session survives a reload (sessionStorage) and the hash keeps the section.
  await page.reload();
  await heading(page, "Settings").waitFor();
  await page.getByText(`Signed in as ${ADMIN.username}`).waitFor();

  await signOut(page);
  assertNoProblems(page);
  await page.context().close();
});

test("the page's Content-Security-Policy refuses what the console must not need, and the check sees it", async () => {
  const page = await openPage(browser, libris);
  await page.goto(`${libris.base}/admin/`);
  await heading(page, "Sign in").waitFor();
  assertNoProblems(page);
  // An inline script, as an injected one would be: refused, and reported.
  await page.evaluate(() => {
    const script = document.createElement("script");
    script.textContent = "window.inlineRan = true;";
    document.head.append(script);
  });
  // Seen twice: as the securitypolicyviolation event and as Chromium's console error.
  await eventually("the violation is reported", () => page.problems.join("\n"), (text) => /CSP violation: script-src/.test(text));
  assert.match(page.problems.join("\n"), /console error: .*Content Security Policy/);
  assert.equal(await page.evaluate(() => window.inlineRan), undefined, "the inline script did not run");
  await page.context().close();
});

test("a member signs in to their own account and sees no admin section", async () => {
  const page = await openPage(browser, libris);
  await signInWithPassword(page, libris, MEMBER.username, MEMBER.password);
  await heading(page, "My account").waitFor();
  assert.match(page.url(), /#\/me/);
  const links = await sections(page).getByRole("link").allInnerTexts();
  assert.deepEqual(links.map((text) => text.trim()), ["My account"]);
  await expectText(page.locator("body"), new RegExp(MEMBER.email));
  await capture(page, "my-account");
  await signOut(page);
  assertNoProblems(page);
  await page.context().close();
});
