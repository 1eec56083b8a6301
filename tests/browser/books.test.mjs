// The books list over 200 books (seeded with one bulk import): paged with
// "Next page" to the end and back, "Rows per page", and search, each
// reflected in the "Showing …" text, the table and the hash.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import { ADMIN, Stack } from "./harness.mjs";
import {
  assertNoProblems,
  capture,
  expectText,
  field,
  heading,
  openPage,
  openSection,
  rowWith,
  signInWithPassword,
} from "./console.mjs";

const TOTAL = 200;
const DUNE_TITLES = ["Dune", "Dune Messiah", "Children of Dune"];
const stack = new Stack();
let libris;
let page;

before(async () => {
  libris = await stack.libris("books-libris");
  await libris.api.signIn();
  const herbert = await libris.api.post("/api/authors/", { name: "Frank Herbert" });
  const shelf = await libris.api.post("/api/authors/", { name: "Anonymous Shelf" });
  const volumes = Array.from({ length: TOTAL - DUNE_TITLES.length }, (_, i) => ({
    title: `Catalogue volume ${String(i + 1).padStart(3, "0")}`,
    author_id: shelf.id,
  }));
  const dune = DUNE_TITLES.map((title) => ({ title, author_id: herbert.id }));
  const imported = await libris.api.post("/api/books/bulk-import/", [...dune, ...volumes]);
  assert.equal(imported.imported, TOTAL);

  const browser = await stack.browser();
  page = await openPage(browser, libris);
  await signInWithPassword(page, libris, ADMIN.username, ADMIN.password);
});
after(() => stack.stop());

const showing = () => page.getByText(/^Showing /).first();
const bookRows = () => page.getByRole("row").filter({ has: page.getByRole("button", { name: "Edit" }) });
const nextPage = () => page.getByRole("button", { name: "Next page" });
const previousPage = () => page.getByRole("button", { name: "Previous page" });

test("Next page walks the 200 books 50 at a time, to the end", async () => {
  await openSection(page, "Books");
  assert.equal(await field(page, "Rows per page").inputValue(), "50");
  await expectText(showing(), /^Showing 1–50 of 200$/);
  assert.equal(await previousPage().isDisabled(), true, "no page before the first");
  assert.equal(await bookRows().count(), 50);
  await capture(page, "books-first-page");

  for (const [from, to] of [[51, 100], [101, 150], [151, 200]]) {
    await nextPage().click();
    await expectText(showing(), new RegExp(`^Showing ${from}–${to} of 200$`));
    assert.equal(await bookRows().count(), 50);
    assert.match(page.url(), new RegExp(`offset=${from - 1}`));
  }
  assert.equal(await nextPage().isDisabled(), true, "no page after the last");
  await capture(page, "books-last-page");

  // Reload keeps the page (it lives in the hash), and Previous page goes back.
  await page.reload();
  await expectText(showing(), /^Showing 151–200 of 200$/);
  await previousPage().click();
  await expectText(showing(), /^Showing 101–150 of 200$/);
});

test("Rows per page changes the page size and starts again at the first page", async () => {
  await field(page, "Rows per page").selectOption("100");
  await expectText(showing(), /^Showing 1–100 of 200$/);
  assert.equal(await bookRows().count(), 100);
  await nextPage().click();
  await expectText(showing(), /^Showing 101–200 of 200$/);
  assert.equal(await nextPage().isDisabled(), true);
});

test("search finds the books by words of their titles and author", async () => {
  await field(page, "Search books").fill("dune mess");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expectText(showing(), /^Showing 1–1 of 1$/);
  await rowWith(page, "Dune Messiah").waitFor();
  assert.equal(await bookRows().count(), 1);
  assert.match(page.url(), /q=dune(\+|%20)mess/);
  await capture(page, "books-search");

  await field(page, "Search books").fill("herbert");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expectText(showing(), /^Showing 1–3 of 3$/);
  for (const title of DUNE_TITLES) await rowWith(page, title).first().waitFor();

  await field(page, "Search books").fill("");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  await expectText(showing(), /^Showing 1–\d+ of 200$/);
  await heading(page, "Books").waitFor();
  assertNoProblems(page);
});
