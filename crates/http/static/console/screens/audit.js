// The books' audit log: who did what to which book, kept after the book.

import { api } from "../api.js";
import { h, json, when } from "../dom.js";
import { listScreen } from "../screen.js";

const ACTIONS = ["created", "updated", "deleted", "borrowed", "returned", "imported"];

export const audit = listScreen("Audit log", () => ({
  list: {
    caption: "Audit entries",
    filters: [
      { name: "action", label: "Action", type: "select", options: [["", "any"], ...ACTIONS.map((a) => [a, a])] },
      { name: "book_id", label: "Book id", type: "number", inputmode: "numeric" },
      { name: "user", label: "User id", type: "number", inputmode: "numeric" },
    ],
    load: (query) => api("GET", "/api/book-logs/", { query }),
    columns: [
      { label: "When", cell: (e) => when(e.timestamp), nowrap: true },
      { label: "Action", cell: (e) => e.action, nowrap: true },
      { label: "Book", cell: (e) => h("span", {}, e.book_title, h("span", { className: "muted" }, ` #${e.book_id}`)) },
      { label: "User", cell: (e) => (e.user === null ? "—" : h("a", { href: `#/members/${e.user}` }, e.username || `#${e.user}`)) },
      { label: "Details", cell: (e) => (e.details && Object.keys(e.details).length ? json(e.details) : ""), wide: true },
    ],
  },
}));
