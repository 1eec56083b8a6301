// The event log: every change, with its data in full.

import { api } from "../api.js";
import { h, json, when } from "../dom.js";
import { listScreen } from "../screen.js";

export const events = listScreen("Events", () => ({
  list: {
    caption: "Events",
    filters: [{ name: "event", label: "Event name", placeholder: "book.created" }],
    load: (query) => api("GET", "/api/events/", { query }),
    columns: [
      { label: "When", cell: (e) => when(e.timestamp), nowrap: true },
      { label: "Event", cell: (e) => h("code", { className: "nowrap" }, e.event), nowrap: true },
      { label: "By", cell: (e) => (e.user ? e.user.username : "") },
      { label: "Id", cell: (e) => h("code", {}, e.id), nowrap: true },
      // Never truncated: an operator reads what receivers got.
      { label: "Data", cell: (e) => json(e.data), wide: true },
    ],
  },
}));
