// Bulk imports: who imported how many books, when.

import { api } from "../api.js";
import { h, when } from "../dom.js";
import { listScreen } from "../screen.js";

export const imports = listScreen("Imports", () => ({
  intro: h("p", { className: "intro" }, "Each bulk import of books, all or nothing. Its books appear in the audit log under “imported”."),
  list: {
    caption: "Imports",
    load: (query) => api("GET", "/api/imports/", { query }),
    columns: [
      { label: "Import", cell: (i) => `#${i.id}`, nowrap: true },
      { label: "By", cell: (i) => h("a", { href: `#/members/${i.user}` }, i.username || `#${i.user}`) },
      { label: "Books", cell: (i) => String(i.count) },
      { label: "When", cell: (i) => when(i.created_at), nowrap: true },
    ],
  },
}));
