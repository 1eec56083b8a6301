// Members through the console: the admin creates one with the form (phone,
// tags, time zone), finds them in the list by tag, opens their page, edits
// a field there and sees the change; deleting asks again first.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, Stack } from "./harness.mjs";
import {
  announcement,
  assertNoProblems,
  capture,
  detailValue,
  eventually,
  expectText,
  field,
  heading,
  openPage,
  openSection,
  rowWith,
  signInWithPassword,
} from "./console.mjs";

const NEW_MEMBER = {
  username: "vera",
  email: "vera@libris.test",
  // Typed as a person would; the console shows the 11 digits the API keeps.
  phone: "+7 (916) 123-45-67",
  storedPhone: "79161234567",
  tags: "Readers, night-owls",
  timezone: "Europe/Moscow",
};
// Untagged: the tag filter must leave them out.
const OTHER_MEMBER = { username: "otto", email: "otto@libris.test", phone: "79251112233" };

const stack = new Stack();
let libris;
let page;

before(async () => {
  libris = await stack.libris("members-libris");
  await libris.api.signIn();
  await libris.api.post("/api/users/", OTHER_MEMBER);
  const browser = await stack.browser();
  page = await openPage(browser, libris);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
});
after(() => stack.stop());

const detail = (term) => detailValue(page, term);

test("the admin creates a member with phone, tags and time zone through the form", async () => {
  await openSection(page, "Members");
  await page.getByRole("button", { name: "New member" }).click();
  const form = page.getByRole("dialog", { name: "New member" });
  await form.waitFor();
  await field(form, "Username").fill(NEW_MEMBER.username);
  await field(form, "Email").fill(NEW_MEMBER.email);
  await field(form, "Phone").fill(NEW_MEMBER.phone);
  await field(form, "Tags").fill(NEW_MEMBER.tags);
  assert.equal(await field(form, "Time zone").inputValue(), "UTC", "UTC unless told otherwise");
  await field(form, "Time zone").fill(NEW_MEMBER.timezone);
  assert.equal(await field(form, "Subscribed to notifications").isChecked(), true);
  await capture(page, "member-form");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await expectText(announcement(page, "status"), new RegExp(`Member ${NEW_MEMBER.username} created`));
  await form.waitFor({ state: "detached" });

  const row = rowWith(page, NEW_MEMBER.email);
  await expectText(row, new RegExp(NEW_MEMBER.storedPhone));
  // Tags are kept in lower case and sorted; the operator code is read from the phone.
  await expectText(row, /night-owls, readers/);
  await expectText(row, /\b916\b/);
  await expectText(row, /Europe\/Moscow/);
});

test("a tag in the list's Tag filter keeps only the members with it", async () => {
  await openSection(page, "Members");
  await rowWith(page, OTHER_MEMBER.email).waitFor();
  await field(page, "Tag").fill("night-owls");
  await page.getByRole("button", { name: "Apply filters" }).click();
  await page.waitForURL(/#\/members\?(.*&)?tag=night-owls/);
  await expectText(page.getByText(/^Showing /).first(), /^Showing 1–1 of 1$/);
  await rowWith(page, NEW_MEMBER.email).waitFor();
  assert.equal(await rowWith(page, OTHER_MEMBER.email).count(), 0, "the untagged member is filtered out");
  assert.equal(await rowWith(page, ADMIN.email).count(), 0, "the admin has no tag either");
  await capture(page, "members-by-tag");
});

test("the member's page shows every attribute, and an edit there shows at once", async () => {
  await rowWith(page, NEW_MEMBER.email).getByRole("link", { name: NEW_MEMBER.username, exact: true }).click();
  await heading(page, `Member ${NEW_MEMBER.username}`).waitFor();
  assert.match(page.url(), /#\/members\/\d+$/);
  await expectText(detail("Phone"), new RegExp(`^${NEW_MEMBER.storedPhone}$`));
  await expectText(detail("Operator code"), /^916$/);
  await expectText(detail("Tags"), /^night-owls, readers$/);
  await expectText(detail("Time zone"), /^Europe\/Moscow$/);
  await expectText(detail("Can sign in with a password"), /^no$/);
  await capture(page, "member-detail");

  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const form = page.getByRole("dialog", { name: `Edit member ${NEW_MEMBER.username}` });
  assert.equal(await field(form, "Phone").inputValue(), NEW_MEMBER.storedPhone, "the form starts from the member as stored");
  await field(form, "Time zone").fill("Asia/Vladivostok");
  await field(form, "Bio").fill("Reads at night.");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await form.waitFor({ state: "detached" });
  await expectText(announcement(page, "status"), new RegExp(`Member ${NEW_MEMBER.username} saved`));
  await expectText(detail("Time zone"), /^Asia\/Vladivostok$/);
  await expectText(detail("Bio"), /^Reads at night\.$/);
  // What the page shows is what was stored.
  const [stored] = (await libris.api.get(`/api/users/?q=${NEW_MEMBER.username}`)).results;
  assert.equal(stored.timezone, "Asia/Vladivostok");
  await capture(page, "member-edited");
});

test("a phone the API refuses is marked in the form, which stays open", async () => {
  await page.getByRole("button", { name: "Edit", exact: true }).click();
  const form = page.getByRole("dialog", { name: `Edit member ${NEW_MEMBER.username}` });
  await field(form, "Phone").fill("12345");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await expectText(form.getByRole("alert"), /\S/);
  assert.equal(await field(form, "Phone").getAttribute("aria-invalid"), "true");
  await capture(page, "member-form-invalid-phone");
  await form.getByRole("button", { name: "Cancel", exact: true }).click();
  await form.waitFor({ state: "detached" });
  await expectText(detail("Phone"), new RegExp(`^${NEW_MEMBER.storedPhone}$`));
});

test("deleting the member asks again; Cancel keeps them, Delete removes them", async () => {
  await page.getByRole("button", { name: "Delete", exact: true }).click();
  const confirm = page.getByRole("dialog", { name: `Delete member ${NEW_MEMBER.username}?` });
  await confirm.waitFor();
  await capture(page, "member-delete-confirmation");
  await confirm.getByRole("button", { name: "Cancel", exact: true }).click();
  await confirm.waitFor({ state: "detached" });
  await heading(page, `Member ${NEW_MEMBER.username}`).waitFor();
  assert.equal((await libris.api.get(`/api/users/?q=${NEW_MEMBER.username}`)).count, 1, "Cancel deleted nothing");

  await page.getByRole("button", { name: "Delete", exact: true }).click();
  await confirm.getByRole("button", { name: "Delete", exact: true }).click();
  await heading(page, "Members").waitFor();
  await expectText(announcement(page, "status"), new RegExp(`Member ${NEW_MEMBER.username} deleted`));
  await rowWith(page, OTHER_MEMBER.email).waitFor();
  await eventually("the deleted member's row is gone", () => rowWith(page, NEW_MEMBER.email).count(), (n) => n === 0);
  assert.equal((await libris.api.get(`/api/users/?q=${NEW_MEMBER.username}`)).count, 0);
  assertNoProblems(page);
});
