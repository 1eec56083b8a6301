// What other systems sent to the inbound webhook endpoint.

import { api } from "../api.js";
import { badge, h, json, when } from "../dom.js";
import { listScreen } from "../screen.js";

export const inbound = listScreen("Inbound", () => ({
  intro: h("p", { className: "intro" }, "Signed webhooks received from other systems, each stored once by its message id."),
  list: {
    caption: "Inbound messages",
    filters: [
      { name: "event", label: "Message type", placeholder: "payment.succeeded" },
      { name: "status", label: "Handling", type: "select", options: [["", "any"], ["processed", "processed"], ["ignored", "ignored"]] },
    ],
    load: (query) => api("GET", "/api/webhooks/inbound/", { query }),
    columns: [
      { label: "Received", cell: (m) => when(m.received_at), nowrap: true },
      { label: "Type", cell: (m) => (m.event ? h("code", {}, m.event) : ""), nowrap: true },
      { label: "Message id", cell: (m) => h("code", {}, m.message_id) },
      { label: "Scheme", cell: (m) => m.scheme, nowrap: true },
      { label: "Handling", cell: (m) => badge(m.status) },
      { label: "Payload", cell: (m) => json(m.payload), wide: true },
    ],
  },
}));
