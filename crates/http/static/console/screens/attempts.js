// The attempt log: one row per try of any delivery, successful or not.

import { api } from "../api.js";
import { badge, h, json, link, when } from "../dom.js";
import { header, webhookNames } from "../screen.js";
import { listView } from "../table.js";

async function mount(container, route) {
  const names = webhookNames(() => api("GET", "/api/webhooks/", { query: { limit: 500 } }));
  const known = await names;
  const list = listView({
    caption: "Attempts",
    filters: [
      { name: "webhook", label: "Webhook", type: "select", options: [["", "any webhook"], ...known] },
      { name: "success", label: "Result", type: "select", options: [["", "any"], ["true", "succeeded"], ["false", "failed"]] },
      { name: "event", label: "Event name", placeholder: "book.created" },
      { name: "delivery", label: "Delivery id", type: "number", inputmode: "numeric" },
    ],
    load: (query) => api("GET", "/api/webhooks/logs/", { query }),
    columns: [
      { label: "When", cell: (a) => when(a.created_at), nowrap: true },
      { label: "Event", cell: (a) => h("code", {}, a.event), nowrap: true },
      { label: "Webhook", cell: (a) => link(`#/webhooks/${a.webhook}`, known.get(a.webhook) || a.webhook), className: "url" },
      { label: "Delivery", cell: (a) => link(`#/deliveries/${a.delivery_id}`, `#${a.delivery_id}`), nowrap: true },
      { label: "Attempt", cell: (a) => String(a.attempt) },
      { label: "Response status", cell: (a) => (a.response_status === null ? "none" : String(a.response_status)) },
      { label: "Result", cell: (a) => badge(a.success ? "succeeded" : "failed") },
      { label: "Duration (ms)", cell: (a) => String(a.duration_ms) },
      { label: "Error", cell: (a) => a.error_message },
      { label: "Payload", cell: (a) => json(a.payload), wide: true },
      { label: "Response body", cell: (a) => (a.response_body ? json(a.response_body) : ""), wide: true },
    ],
  });
  container.replaceChildren(
    header("Attempt log"),
    h("p", { className: "intro" }, "Every try of every delivery, newest first. A webhook deleted since keeps its attempts here."),
    list.node,
  );
  await list.refresh(route.query);
  return (next) => list.refresh(next.query);
}

export const attempts = { mount };
