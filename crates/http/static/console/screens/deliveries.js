// Deliveries: where each event's delivery to each webhook stands, and one
// delivery's attempts with what was sent and what came back.

import { api } from "../api.js";
import { actionButton, badge, details, h, json, link, when } from "../dom.js";
import { announce, report } from "../feedback.js";
import { current } from "../router.js";
import { header, subsection, webhookNames } from "../screen.js";
import { listView } from "../table.js";

const STATUSES = ["pending", "delivered", "failed", "dead"];
// Only a delivery that has given up may be sent again from here; a pending
// one is already queued.
const REDELIVERABLE = new Set(["failed", "dead"]);

const webhookLink = (names, id) => link(`#/webhooks/${id}`, names.get(id) || id);

export function deliveryColumns(names) {
  return [
    { label: "Delivery", cell: (d) => `#${d.id}`, nowrap: true },
    { label: "Event", cell: (d) => h("code", {}, d.event), nowrap: true },
    { label: "Webhook", cell: (d) => webhookLink(names, d.webhook), className: "url" },
    { label: "Status", cell: (d) => badge(d.status) },
    { label: "Attempts", cell: (d) => String(d.attempts) },
    { label: "Next attempt", cell: (d) => (d.status === "pending" ? when(d.next_attempt_at) : ""), nowrap: true },
    { label: "Last error", cell: (d) => d.last_error },
    { label: "Created", cell: (d) => when(d.created_at), nowrap: true },
    { label: "", cell: (d) => link(`#/deliveries/${d.id}`, "Details") },
  ];
}

const allWebhooks = () => webhookNames(() => api("GET", "/api/webhooks/", { query: { limit: 500 } }));

async function mount(container, route) {
  const names = allWebhooks();
  const list = listView({
    caption: "Deliveries",
    filters: [
      { name: "status", label: "Status", type: "select", options: [["", "any"], ...STATUSES.map((s) => [s, s])] },
      {
        name: "webhook",
        label: "Webhook",
        type: "select",
        options: [["", "any webhook"]],
        more: names.then((known) => [...known].map(([id, url]) => [id, url])),
      },
      { name: "event", label: "Event name", placeholder: "book.created" },
    ],
    load: (query) => api("GET", "/api/webhooks/deliveries/", { query }),
    columns: deliveryColumns(await names),
  });
  container.replaceChildren(
    header("Deliveries"),
    h("p", { className: "intro" }, "One delivery per event and webhook. Every attempt is in the ", link("#/attempts", "attempt log"), "."),
    list.node,
  );
  await list.refresh(route.query);
  return (next) => list.refresh(next.query);
}

function attemptRows(attempts) {
  return attempts.map((a) =>
    h(
      "tr",
      {},
      h("td", { "data-label": "Attempt" }, String(a.attempt)),
      h("td", { "data-label": "When", className: "nowrap" }, when(a.created_at)),
      h("td", { "data-label": "Response status" }, a.response_status === null ? "none" : String(a.response_status)),
      h("td", { "data-label": "Result" }, badge(a.success ? "succeeded" : "failed")),
      h("td", { "data-label": "Duration (ms)" }, String(a.duration_ms)),
      h("td", { "data-label": "Error" }, a.error_message || "—"),
      h("td", { "data-label": "Payload", className: "wide" }, json(a.payload)),
      h("td", { "data-label": "Response body", className: "wide" }, a.response_body ? json(a.response_body) : "—"),
    ),
  );
}

async function detail(container, route, id) {
  const [delivery, logs] = await Promise.all([
    api("GET", "/api/webhooks/deliveries/{id}/", { params: { id } }),
    api("GET", "/api/webhooks/logs/", { query: { delivery: id, limit: 500 } }),
  ]);
  const names = await allWebhooks();
  const attempts = [...logs.results].sort((a, b) => a.attempt - b.attempt || a.id - b.id);
  const redeliver = actionButton("Redeliver", async () => {
    try {
      await api("POST", "/api/webhooks/deliveries/{id}/redeliver/", { params: { id } });
      await detail(container, current(), id);
      container.querySelector("h2")?.focus();
      announce(`Delivery ${id} is queued again.`);
    } catch (error) {
      report(error);
    }
  }, { kind: "primary" });
  const table = h(
    "table",
    {},
    h("caption", { className: "visually-hidden" }, "Attempts"),
    h(
      "thead",
      {},
      h("tr", {}, ["Attempt", "When", "Response status", "Result", "Duration (ms)", "Error", "Payload", "Response body"].map((label) => h("th", { scope: "col", className: "nowrap" }, label))),
    ),
    h("tbody", {}, attempts.length ? attemptRows(attempts) : h("tr", {}, h("td", { colspan: "8", className: "empty" }, "No attempt yet."))),
  );
  container.replaceChildren(
    header(`Delivery ${delivery.id}`, REDELIVERABLE.has(delivery.status) ? redeliver : null),
    details([
      ["Status", badge(delivery.status)],
      ["Event", h("span", {}, h("code", {}, delivery.event), " ", h("span", { className: "muted" }, delivery.event_id))],
      ["Webhook", webhookLink(names, delivery.webhook)],
      ["Attempts", String(delivery.attempts)],
      ["Next attempt", delivery.status === "pending" ? when(delivery.next_attempt_at) : ""],
      ["Last error", delivery.last_error],
      ["Created", when(delivery.created_at)],
    ]),
    subsection(
      `Attempts (${logs.count})`,
      h("div", { className: "table-scroll", tabindex: "0", role: "region", "aria-label": "Attempts table" }, table),
    ),
  );
}

export const deliveries = { mount, detail };
