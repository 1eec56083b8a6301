// An SMS campaign through the console: two members with phones, one of them
// tagged; the admin creates a campaign for the tag through the form, starting
// now, and follows it on the list and its own screen. This Libris has no SMS
// gateway, so its one message stays pending, and the screen says why; the
// admin cancels the campaign, and the campaign and its message show
// cancelled, on its screen and in the overall statistics.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, Stack } from "./harness.mjs";
import {
  announcement,
  assertNoProblems,
  capture,
  detailValue,
  expectText,
  field,
  heading,
  openPage,
  openSection,
  rowWith,
  signInWithPassword,
} from "./console.mjs";

const TAG = "evening-readers";
const TAGGED = { username: "irina", email: "irina@libris.test", phone: "79161234567", tags: [TAG] };
const UNTAGGED = { username: "pavel", email: "pavel@libris.test", phone: "79257654321" };
const TEXT = "The reading club meets tonight at 19:00.";

const stack = new Stack();
let libris;
let page;
let campaignId;

before(async () => {
  libris = await stack.libris("campaigns-libris");
  await libris.api.signIn();
  await libris.api.post("/api/users/", TAGGED);
  await libris.api.post("/api/users/", UNTAGGED);
  const browser = await stack.browser();
  page = await openPage(browser, libris);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
});
after(() => stack.stop());

// A datetime-local value ("2026-12-07T15:20") for an instant, in UTC as the form asks.
const utcMinute = (date) => date.toISOString().slice(0, 16);

const messageRow = (username) => page.getByRole("region", { name: "Messages table" }).getByRole("row").filter({ hasText: username });

test("the admin creates a campaign for a tag through the form, starting now", async () => {
  await openSection(page, "Campaigns");
  await page.getByRole("button", { name: "New campaign" }).click();
  const form = page.getByRole("dialog", { name: "New campaign" });
  const now = new Date();
  await field(form, "Text").fill(TEXT);
  await field(form, "Start").fill(utcMinute(now));
  await field(form, "End").fill(utcMinute(new Date(now.getTime() + 60 * 60 * 1000)));
  await field(form, "Audience tags").fill(TAG);
  await capture(page, "campaign-form");
  await form.getByRole("button", { name: "Save", exact: true }).click();
  await form.waitFor({ state: "detached" });
  // It started at once: its start is already past.
  const said = await expectText(announcement(page, "status"), /^Campaign \d+ created \(running\)\.$/);
  campaignId = said.match(/^Campaign (\d+)/)[1];

  const row = rowWith(page, TEXT);
  await expectText(row, /running/);
  await expectText(row, new RegExp(`tags ${TAG}`));
  await row.getByRole("link", { name: `Campaign ${campaignId}`, exact: true }).waitFor();
  await capture(page, "campaigns-list");
});

test("its screen shows one message, pending, and why: no SMS gateway is set", async () => {
  await rowWith(page, TEXT).getByRole("link", { name: `Campaign ${campaignId}`, exact: true }).click();
  await heading(page, `Campaign ${campaignId}`).waitFor();
  assert.match(page.url(), new RegExp(`#/campaigns/${campaignId}$`));
  await expectText(detailValue(page, "State"), /^running$/);
  await expectText(detailValue(page, "Text"), new RegExp(`^${TEXT}$`));
  await expectText(detailValue(page, "Audience"), new RegExp(`^tags ${TAG}$`));
  // The start and end carry their zone.
  assert.match(await detailValue(page, "End").innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:00 UTC$/);

  // The message goes to the tagged member only. With no gateway the sender
  // leaves it alone: pending, no attempt, no error; the screen says why.
  const row = messageRow(TAGGED.username);
  // Its columns: id, member, phone, state, attempts, created, sent, last error.
  await expectText(row, new RegExp(`^#\\d+\\s+${TAGGED.username}\\s+${TAGGED.phone}\\s+pending\\s+0\\s+[-\\d]+ [:\\d]+ UTC\\s+—\\s+—$`));
  const note = page.getByText(/^No SMS gateway is set/);
  await expectText(note, /pending messages wait: none is sent until one is set in Settings\.$/);
  await note.getByRole("link", { name: "Settings" }).waitFor();
  assert.equal(await messageRow(UNTAGGED.username).count(), 0, "the untagged member gets no message");
  await page.getByRole("heading", { level: 3, name: "Statistics: 1 message", exact: true }).waitFor();
  await expectText(detailValue(page, "pending"), /^1$/);
  await expectText(detailValue(page, "sent"), /^0$/);
  await expectText(page.getByText(/^Showing /).first(), /^Showing 1–1 of 1$/);
  await capture(page, "campaign-detail");
});

test("the overall statistics count the pending message", async () => {
  await openSection(page, "Campaigns");
  await page.getByRole("heading", { level: 3, name: "All campaigns' messages" }).waitFor();
  await expectText(detailValue(page, "pending"), /^1$/);
  await expectText(detailValue(page, "cancelled"), /^0$/);
});

test("cancelling the campaign asks again, then its message is cancelled too", async () => {
  await rowWith(page, TEXT).getByRole("link", { name: `Campaign ${campaignId}`, exact: true }).click();
  await heading(page, `Campaign ${campaignId}`).waitFor();
  await page.getByRole("button", { name: "Cancel campaign", exact: true }).click();
  const confirm = page.getByRole("dialog", { name: `Cancel campaign ${campaignId}?` });
  await confirm.waitFor();
  await capture(page, "campaign-cancel-confirmation");
  await confirm.getByRole("button", { name: "Cancel campaign", exact: true }).click();
  await confirm.waitFor({ state: "detached" });

  await expectText(announcement(page, "status"), new RegExp(`^Campaign ${campaignId} cancelled\\.$`));
  await expectText(detailValue(page, "State"), /^cancelled$/);
  await expectText(messageRow(TAGGED.username), /\bcancelled\b/);
  await expectText(detailValue(page, "cancelled"), /^1$/);
  await expectText(detailValue(page, "pending"), /^0$/);
  assert.equal(await page.getByRole("button", { name: "Cancel campaign" }).count(), 0, "nothing left to cancel");
  assert.equal(await page.getByText(/^No SMS gateway is set/).count(), 0, "nothing waits for a gateway now");
  await capture(page, "campaign-cancelled");

  // As stored, not only as shown.
  const stored = await libris.api.get(`/api/campaigns/${campaignId}/`);
  assert.equal(stored.status, "cancelled");
  assert.deepEqual(stored.counts, { pending: 0, sent: 0, failed: 0, expired: 0, cancelled: 1 });
});

test("the list and the overall statistics show it cancelled", async () => {
  await openSection(page, "Campaigns");
  await expectText(rowWith(page, TEXT), /cancelled/);
  await expectText(detailValue(page, "cancelled"), /^1$/);
  await expectText(detailValue(page, "pending"), /^0$/);
  await capture(page, "campaigns-cancelled");
  assertNoProblems(page);
});
