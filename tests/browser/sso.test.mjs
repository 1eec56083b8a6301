// Single sign-on through a real OpenID provider on loopback
// (oidc-provider-mock): its authorization page asks for the subject and has
// an "Authorize" button, as a company's provider would ask for a password.
// A second provider, whose ID tokens are expired on arrival, serves a second
// Libris for the expired-token case.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, Stack } from "./harness.mjs";
import {
  announcement,
  assertNoProblems,
  capture,
  expectText,
  field,
  heading,
  openPage,
  openSection,
  rowWith,
  sections,
  signInWithPassword,
  signOut,
} from "./console.mjs";

const MESSAGES = {
  unknown_identity: "This single sign-on account is not linked to a Libris user. Ask an administrator to link it.",
  state_mismatch: "The sign-in could not be verified (the request did not start here or has expired). Please try again.",
  token_invalid: "The identity provider's answer could not be verified (it may have expired). Please try again.",
};
const MEMBER = { username: "ann", email: "ann@libris.test", password: "ann-long-password" };

const stack = new Stack();
let provider;
let libris;
let expiredLibris;
let browser;
let member;

before(async () => {
  provider = await stack.provider("sso-provider");
  libris = await stack.libris("sso-libris", { provider });
  const expiredProvider = await stack.provider("sso-provider-expired", { expiredTokens: true });
  expiredLibris = await stack.libris("sso-libris-expired", { provider: expiredProvider });
  browser = await stack.browser();

  await libris.api.signIn();
  member = await libris.api.post("/api/users/", MEMBER);
});
after(() => stack.stop());

// From the sign-in screen through the provider's page, back to the console.
async function signInWithSso(page, target, subject) {
  await page.goto(`${target.base}/admin/`);
  await heading(page, "Sign in").waitFor();
  await page.getByRole("link", { name: "Sign in with single sign-on" }).click();
  await page.getByPlaceholder("sub").fill(subject);
  await page.getByRole("button", { name: "Authorize" }).click();
  await page.waitForURL((url) => url.href.startsWith(`${target.base}/admin/`));
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

async function expectRefused(page, reason) {
  await expectText(announcement(page, "alert"), new RegExp(escape(MESSAGES[reason])));
  await heading(page, "Sign in").waitFor();
  assert.equal(await page.getByText(/Signed in as/).count(), 0, "nobody is signed in");
}

test("the sign-in screen offers single sign-on when it is configured", async () => {
  const answer = await fetch(`${libris.base}/api/auth/oidc/`).then((r) => r.json());
  assert.deepEqual(answer, { enabled: true });
  const page = await openPage(browser, libris);
  await page.goto(`${libris.base}/admin/`);
  await heading(page, "Sign in").waitFor();
  await page.getByRole("link", { name: "Sign in with single sign-on" }).waitFor();
  await capture(page, "sign-in-with-sso");
  await page.context().close();
});

test("an identity the admin linked on the members screen signs the admin in", async () => {
  const page = await openPage(browser, libris);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
  await openSection(page, "Members");
  await rowWith(page, ADMIN.email).getByRole("link", { name: ADMIN.username, exact: true }).click();
  await heading(page, `Member ${ADMIN.username}`).waitFor();
  await page.getByRole("button", { name: "Link identity" }).click();
  const dialog = page.getByRole("dialog");
  await field(dialog, "Subject").fill("admin-at-provider");
  await capture(page, "member-link-identity");
  await dialog.getByRole("button", { name: "Link", exact: true }).click();
  // The issuer defaults to the configured provider's.
  await expectText(rowWith(page, "admin-at-provider"), new RegExp(escape(provider.issuer)));
  await capture(page, "member-detail");
  await signOut(page);

  await signInWithSso(page, libris, "admin-at-provider");
  await page.getByText(`Signed in as ${ADMIN.username}`).waitFor();
  await heading(page, "Dashboard").waitFor();
  assert.doesNotMatch(page.url(), /oidc_code/, "the one-time code is gone from the address bar");

  // Password sign-in still works after single sign-on.
  await signOut(page);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
  await heading(page, "Dashboard").waitFor();
  assertNoProblems(page);
  await page.context().close();
});

test("a first sign-in whose verified email names one member links them, and they see only their account", async () => {
  await provider.setUser("ann-at-provider", { email: MEMBER.email, email_verified: true });
  const page = await openPage(browser, libris);
  await signInWithSso(page, libris, "ann-at-provider");
  await page.getByText(`Signed in as ${MEMBER.username}`).waitFor();
  await heading(page, "My account").waitFor();
  assert.match(page.url(), /#\/me/);
  const links = await sections(page).getByRole("link").allInnerTexts();
  assert.deepEqual(links.map((text) => text.trim()), ["My account"]);
  await capture(page, "my-account-after-sso");

  const identities = await libris.api.get(`/api/users/${member.id}/identities/`);
  assert.equal(identities.count, 1);
  assert.equal(identities.results[0].subject, "ann-at-provider");
  assert.equal(identities.results[0].issuer, provider.issuer);
  assertNoProblems(page);
  await page.context().close();
});

test("an unknown identity is refused with a message", async () => {
  await provider.setUser("stranger", { email: "stranger@elsewhere.test", email_verified: true });
  const page = await openPage(browser, libris);
  await signInWithSso(page, libris, "stranger");
  await expectRefused(page, "unknown_identity");
  await capture(page, "sso-unknown-identity");
  await page.context().close();
});

test("an email the provider has not verified links nobody", async () => {
  const bob = await libris.api.post("/api/users/", { username: "bob", email: "bob@libris.test", password: "bob-long-password" });
  await provider.setUser("bob-at-provider", { email: "bob@libris.test", email_verified: false });
  const page = await openPage(browser, libris);
  await signInWithSso(page, libris, "bob-at-provider");
  await expectRefused(page, "unknown_identity");
  assert.equal((await libris.api.get(`/api/users/${bob.id}/identities/`)).count, 0);
  await page.context().close();
});

test("a callback whose state is not the one this browser started is refused", async () => {
  const page = await openPage(browser, libris);
  await page.goto(`${libris.base}/admin/oidc/login`);
  await page.getByRole("button", { name: "Authorize" }).waitFor();
  // Someone else's callback (a forged state) arrives in this browser.
  await page.goto(`${libris.base}/admin/oidc/callback?code=forged-code&state=forged-state`);
  await expectRefused(page, "state_mismatch");
  await capture(page, "sso-state-mismatch");
  await page.context().close();
});

test("an ID token that has expired is refused", async () => {
  await expiredLibris.api.signIn();
  const { id } = await expiredLibris.api.get("/api/users/me/");
  await expiredLibris.api.post(`/api/users/${id}/identities/`, { subject: "admin-at-provider" });
  const page = await openPage(browser, expiredLibris);
  await signInWithSso(page, expiredLibris, "admin-at-provider");
  await expectRefused(page, "token_invalid");
  await capture(page, "sso-token-expired");
  await page.context().close();
});
