// Webhooks end to end through the console: the admin subscribes a receiver
// through the form, creates an author and a book through their forms, and
// follows the deliveries: the one the receiver accepted is delivered (its
// attempt answered 200, both signatures verify), the one it refused with a
// 400 has failed and offers "Redeliver", which sends it again.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, Stack } from "./harness.mjs";
import { newSecret, signatureProblems, startReceiver } from "./receiver.mjs";
import {
  announcement,
  assertNoProblems,
  capture,
  eventually,
  expectText,
  field,
  heading,
  openPage,
  openSection,
  rowWith,
  signInWithPassword,
} from "./console.mjs";

const stack = new Stack();
let libris;
let receiver;
let page;
const okSecret = newSecret();
const title = "The Left Hand of Darkness";
const parsed = (delivery) => JSON.parse(delivery.body.toString("utf8"));

before(async () => {
  receiver = await startReceiver();
  stack.add(() => receiver.close());
  receiver.answer("/refusing", 400);
  libris = await stack.libris("webhooks-libris");
  const browser = await stack.browser();
  page = await openPage(browser, libris);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
});
after(() => stack.stop());

async function createWebhook(url, secret, description) {
  await openSection(page, "Webhooks");
  await page.getByRole("button", { name: "New webhook" }).click();
  await field(page, "URL").fill(url);
  await field(page, "Events").fill("book.*");
  await field(page, "Description").fill(description);
  if (secret) await field(page, "Secret").fill(secret);
  const active = field(page, "Active");
  assert.equal(await active.isChecked(), true, "a new webhook is active unless unticked");
  await capture(page, `webhook-form-${description.split(" ")[0].toLowerCase()}`);
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expectText(announcement(page, "status"), /\S/);
  await rowWith(page, url).waitFor();
}

// Reloads the deliveries screen filtered by `status` until `count` rows show.
async function deliveryRows(status, count) {
  const rows = page.getByRole("row").filter({ has: page.getByRole("link", { name: "Details" }) });
  await eventually(
    `${count} ${status} deliveries listed`,
    async () => {
      await page.goto(`${libris.base}/admin/#/deliveries?status=${status}`);
      await page.reload();
      await heading(page, "Deliveries").waitFor();
      await page.getByRole("table").first().waitFor();
      return rows.count();
    },
    (n) => n === count,
    20_000,
  );
  assert.equal(await field(page, "Status").inputValue(), status, "the filter shows the hash's status");
  return rows;
}

// Opens the only delivery of that status and answers its detail page's id.
async function openOnlyDelivery(status) {
  const rows = await deliveryRows(status, 1);
  await rows.getByRole("link", { name: "Details" }).click();
  await heading(page, /^Delivery \S+$/).waitFor();
  return (await heading(page, /^Delivery \S+$/).innerText()).replace("Delivery ", "");
}

const attemptWithStatus = (status) =>
  page.getByRole("row").filter({ has: page.getByRole("cell", { name: String(status), exact: true }) });

test("the admin subscribes the receiver through the form", async () => {
  await createWebhook(`${receiver.base}/accepting`, okSecret, "Accepting receiver");
  await createWebhook(`${receiver.base}/refusing`, newSecret(), "Refusing receiver");
  await capture(page, "webhooks-list");
  await expectText(rowWith(page, `${receiver.base}/accepting`), /book\.\*/);
});

test("an author and a book created through their forms", async () => {
  await openSection(page, "Authors");
  await page.getByRole("button", { name: "New author" }).click();
  await field(page, "Name").fill("Ursula K. Le Guin");
  await field(page, "Bio").fill("Earthsea, Hainish cycle");
  await capture(page, "author-form");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await rowWith(page, "Ursula K. Le Guin").waitFor();

  await openSection(page, "Books");
  await page.getByRole("button", { name: "New book" }).click();
  await field(page, "Title").fill(title);
  await field(page, "Author").selectOption({ label: "Ursula K. Le Guin" });
  await field(page, "ISBN").fill("978-0-441-47812-5");
  assert.equal(await field(page, "Available").isChecked(), true, "a new book is available unless unticked");
  await capture(page, "book-form");
  await page.getByRole("button", { name: "Save", exact: true }).click();
  await expectText(rowWith(page, title), /Ursula K\. Le Guin/);
});

test("the receiver got the book, signed with the subscription's secret", async () => {
  const delivery = await receiver.waitFor((d) => d.path === "/accepting" && parsed(d).event === "book.created");
  assert.equal(parsed(delivery).data.title, title);
  assert.deepEqual(signatureProblems(okSecret, delivery.headers, delivery.body), []);
  // The wrong secret does not verify: the check above can fail.
  assert.notDeepEqual(signatureProblems(newSecret(), delivery.headers, delivery.body), []);
});

test("the accepted delivery is delivered, its attempt answered 200, and offers no Redeliver", async () => {
  const id = await openOnlyDelivery("delivered");
  await expectText(page.locator("body"), /book\.created/);
  await attemptWithStatus(200).first().waitFor();
  // The payload is shown as sent.
  await expectText(page.locator("pre").first(), new RegExp(title));
  assert.equal(await page.getByRole("button", { name: "Redeliver" }).count(), 0);
  assert.match(page.url(), new RegExp(`#/deliveries/${id}$`));
  // Times carry their zone, and the machine-readable instant.
  const created = page.locator("time").first();
  assert.match(await created.innerText(), /^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC$/);
  assert.ok(!Number.isNaN(Date.parse(await created.getAttribute("datetime"))));
  await capture(page, "delivery-delivered");
});

test("the refused delivery has failed; Redeliver sends it again", async () => {
  await receiver.waitFor((d) => d.path === "/refusing");
  // The Status filter, chosen as a person does, lands in the hash.
  await openSection(page, "Deliveries");
  await field(page, "Status").selectOption("failed");
  await page.waitForURL(/#\/deliveries\?(.*&)?status=failed/);
  await capture(page, "deliveries-failed");
  await openOnlyDelivery("failed");
  await attemptWithStatus(400).first().waitFor();
  assert.equal(await attemptWithStatus(200).count(), 0);
  await capture(page, "delivery-failed");

  receiver.answer("/refusing", 200);
  const before = receiver.received.filter((d) => d.path === "/refusing").length;
  await page.getByRole("button", { name: "Redeliver" }).click();
  await receiver.waitFor((d) => d.path === "/refusing" && d.status === 200);
  assert.equal(receiver.received.filter((d) => d.path === "/refusing").length, before + 1);
  // The second attempt shows on the page (after a reload, as a person would).
  await eventually(
    "the second attempt, answered 200, on the delivery's page",
    async () => {
      await page.reload();
      await heading(page, /^Delivery \S+$/).waitFor();
      return attemptWithStatus(200).count();
    },
    (n) => n === 1,
  );
  assert.equal(await attemptWithStatus(400).count(), 1, "the first attempt is still listed");
  assert.equal(await page.getByRole("button", { name: "Redeliver" }).count(), 0, "delivered now: nothing to redeliver");
  await capture(page, "delivery-redelivered");
});

test("a webhook's own screen, and its test ping", async () => {
  await openSection(page, "Webhooks");
  const url = `${receiver.base}/accepting`;
  await rowWith(page, url).getByRole("button", { name: "Send test" }).click();
  await expectText(announcement(page, "status"), /deliver|200/i);
  const ping = await receiver.waitFor((d) => d.path === "/accepting" && parsed(d).event === "webhook.test");
  assert.deepEqual(signatureProblems(okSecret, ping.headers, ping.body), []);

  await rowWith(page, url).getByRole("link", { name: url }).click();
  await heading(page, `Webhook ${url}`).waitFor();
  await expectText(page.locator("body"), /Accepting receiver/);
  await capture(page, "webhook-detail");
});

test("deleting a webhook asks again first", async () => {
  await openSection(page, "Webhooks");
  const url = `${receiver.base}/refusing`;
  await rowWith(page, url).getByRole("button", { name: "Delete" }).click();
  const confirm = page.getByRole("dialog");
  await confirm.waitFor();
  await capture(page, "webhook-delete-confirmation");
  await confirm.getByRole("button", { name: "Delete" }).click();
  await eventually("the deleted webhook's row is gone", () => rowWith(page, url).count(), (n) => n === 0);
  await rowWith(page, `${receiver.base}/accepting`).waitFor();
  assertNoProblems(page);
});
