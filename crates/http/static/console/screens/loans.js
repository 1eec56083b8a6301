// Loans: open, overdue, by member or book.

import { api } from "../api.js";
import { badge, h, when } from "../dom.js";
import { listScreen } from "../screen.js";

export function loanState(loan) {
  if (loan.returned_at) return "returned";
  return new Date(loan.due_at) < new Date() ? "overdue" : "open";
}

// The columns of one member's loans (their own view and their page).
export const memberLoanColumns = [
  { label: "Book", cell: (l) => l.book_title },
  { label: "State", cell: (l) => badge(loanState(l)) },
  { label: "Borrowed", cell: (l) => when(l.borrowed_at), nowrap: true },
  { label: "Due", cell: (l) => when(l.due_at), nowrap: true },
  { label: "Returned", cell: (l) => when(l.returned_at), nowrap: true },
];

export const loans = listScreen("Loans", () => ({
  list: {
    caption: "Loans",
    filters: [
      { name: "open", label: "State", type: "select", options: [["", "any"], ["true", "open"], ["false", "returned"]] },
      { name: "overdue", label: "Overdue only", type: "checkbox" },
      { name: "user", label: "Member id", type: "number", inputmode: "numeric" },
      { name: "book", label: "Book id", type: "number", inputmode: "numeric" },
    ],
    load: (query) => api("GET", "/api/loans/", { query }),
    columns: [
      { label: "Loan", cell: (l) => `#${l.id}`, nowrap: true },
      { label: "Book", cell: (l) => h("span", {}, l.book_title, h("span", { className: "muted" }, ` #${l.book}`)) },
      { label: "Member", cell: (l) => h("a", { href: `#/members/${l.user}` }, `#${l.user}`) },
      { label: "State", cell: (l) => badge(loanState(l)) },
      { label: "Borrowed", cell: (l) => when(l.borrowed_at), nowrap: true },
      { label: "Due", cell: (l) => when(l.due_at), nowrap: true },
      { label: "Returned", cell: (l) => when(l.returned_at), nowrap: true },
    ],
  },
}));
