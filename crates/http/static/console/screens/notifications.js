// Emails to admins and members, and where each stands.

import { api } from "../api.js";
import { badge, when } from "../dom.js";
import { listScreen } from "../screen.js";

export const notifications = listScreen("Notifications", () => ({
  list: {
    caption: "Notifications",
    filters: [
      { name: "channel", label: "Channel", type: "select", options: [["", "any"], ["email", "email"]] },
      { name: "status", label: "Delivery state", type: "select", options: [["", "any"], ...["pending", "sent", "failed", "dead"].map((s) => [s, s])] },
    ],
    load: (query) => api("GET", "/api/notifications/", { query }),
    columns: [
      { label: "Created", cell: (n) => when(n.created_at), nowrap: true },
      { label: "Channel", cell: (n) => n.channel },
      { label: "To", cell: (n) => n.to },
      { label: "Subject", cell: (n) => n.subject },
      { label: "State", cell: (n) => badge(n.status) },
      { label: "Attempts", cell: (n) => String(n.attempts) },
      { label: "Last error", cell: (n) => n.last_error },
      { label: "Sent", cell: (n) => when(n.sent_at), nowrap: true },
    ],
  },
}));
