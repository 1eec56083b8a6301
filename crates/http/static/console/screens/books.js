// Books: full-text search, filters by author and availability, and the
// catalogue's changes.

import { api } from "../api.js";
import { actionButton, button, h, when, yesNo } from "../dom.js";
import { confirmDialog, formDialog } from "../dialog.js";
import { announce, report } from "../feedback.js";
import { listScreen, rowActions } from "../screen.js";

// Every author, for the form's select and the filter (500: the API's most).
async function authorOptions() {
  const page = await api("GET", "/api/authors/", { query: { limit: 500 } });
  return page.results.map((a) => [String(a.id), a.name]);
}

function fields(authors) {
  return [
    { name: "title", label: "Title", required: true },
    { name: "author", label: "Author", type: "select", options: authors, required: true },
    { name: "isbn", label: "ISBN", hint: "10 or 13 digits; hyphens and spaces are ignored. Optional." },
    { name: "available", label: "Available", type: "checkbox" },
  ];
}

const body = (values) => ({
  title: values.title,
  author: Number(values.author),
  isbn: values.isbn.trim() || null,
  available: values.available,
});

export const books = listScreen("Books", (reload) => {
  let authors = [];
  const loadAuthors = authorOptions()
    .catch((error) => {
      report(error);
      return [];
    })
    .then((options) => {
      authors = options;
      return options;
    });
  const authorFilter = { name: "author", label: "Filter by author", type: "select", options: [["", "any author"]], more: loadAuthors };

  async function create() {
    await loadAuthors;
    if (authors.length === 0) {
      report(new Error("there are no authors yet: create an author first"));
      return;
    }
    const saved = await formDialog({
      title: "New book",
      fields: fields(authors),
      values: { available: true },
      submit: (values) => api("POST", "/api/books/", { body: body(values) }),
    });
    if (saved) {
      announce(`Book “${saved.title}” created.`);
      await reload();
    }
  }
  async function edit(book) {
    await loadAuthors;
    const saved = await formDialog({
      title: `Edit book ${book.title}`,
      fields: fields(authors),
      values: { ...book, author: String(book.author), isbn: book.isbn || "" },
      submit: (values) => api("PATCH", "/api/books/{id}/", { params: { id: book.id }, body: body(values) }),
    });
    if (saved) {
      announce(`Book “${saved.title}” saved.`);
      await reload();
    }
  }
  async function remove(book) {
    const sure = await confirmDialog({
      title: `Delete book ${book.title}?`,
      message: "This cannot be undone. A borrowed book cannot be deleted; its audit entries stay.",
      confirmLabel: "Delete",
    });
    if (!sure) return;
    try {
      await api("DELETE", "/api/books/{id}/", { params: { id: book.id } });
      announce(`Book “${book.title}” deleted.`);
      await reload();
    } catch (error) {
      report(error);
    }
  }
  return {
    actions: [button("New book", create, { kind: "primary" })],
    list: {
      caption: "Books",
      submitLabel: "Search",
      filters: [
        { name: "q", label: "Search books", placeholder: "title, author or ISBN" },
        authorFilter,
        { name: "available", label: "Availability", type: "select", options: [["", "any"], ["true", "available"], ["false", "on loan"]] },
      ],
      load: (query) => api("GET", "/api/books/", { query }),
      columns: [
        { label: "Title", cell: (b) => b.title },
        { label: "Author", cell: (b) => b.author_name },
        { label: "ISBN", cell: (b) => b.isbn, nowrap: true },
        { label: "Available", cell: (b) => yesNo(b.available) },
        { label: "Updated", cell: (b) => when(b.updated_at), nowrap: true },
        {
          label: "Actions",
          cell: (b) => rowActions(actionButton("Edit", () => edit(b)), actionButton("Delete", () => remove(b)), h("a", { href: `#/audit?book_id=${b.id}` }, "History")),
        },
      ],
    },
  };
});
