// Webhooks: subscriptions with every option the API has, their actions, and
// a detail screen with the webhook's deliveries.

import { api } from "../api.js";
import { actionButton, badge, button, csv, details, h, json, link, when, yesNo } from "../dom.js";
import { confirmDialog, formDialog, infoDialog } from "../dialog.js";
import { announce, report } from "../feedback.js";
import { current } from "../router.js";
import { header, leaveTo, listScreen, rowActions, subsection } from "../screen.js";
import { listView } from "../table.js";
import { deliveryColumns } from "./deliveries.js";

const FORMATS = [
  ["libris", "libris (the Libris envelope)"],
  ["rest_hooks", "rest_hooks (REST Hooks / drf-hooks)"],
  ["template", "template (your own body)"],
];

function fields({ creating }) {
  return [
    { name: "url", label: "URL", type: "url", required: true, hint: "An http or https target, or an AMQP or NATS broker URL (admins only)." },
    { name: "events", label: "Events", required: true, hint: "Comma-separated patterns: book.created, book.*, or * for everything." },
    { name: "description", label: "Description" },
    {
      name: "secret",
      label: "Secret",
      type: "password",
      autocomplete: "new-password",
      hint: creating
        ? "Optional: generated when left empty. At least 8 characters, or whsec_ and base64."
        : "Leave empty to keep the current secret.",
    },
    { name: "is_active", label: "Active", type: "checkbox" },
    { name: "method", label: "HTTP method", type: "select", options: ["POST", "PUT", "PATCH"].map((m) => [m, m]) },
    { name: "payload_format", label: "Payload format", type: "select", options: FORMATS },
    { name: "content_type", label: "Content type", hint: "The request's Content-Type; application/json by default." },
    {
      name: "payload_template",
      label: "Payload template",
      type: "textarea",
      rows: 5,
      hint: "With the template format: placeholders such as {{event}}, {{data.title}}, {{webhook.url}}.",
    },
    { name: "filter", label: "Filter (JSON)", type: "textarea", rows: 3, hint: 'Equality conditions, e.g. {"data.author_id": 3}. Empty: every matching event.' },
    { name: "headers", label: "Extra headers (JSON)", type: "textarea", rows: 3, hint: 'e.g. {"X-Tenant": "library-1"}' },
  ];
}

// A JSON field of the form: empty is null; anything else must parse.
function parseJson(text, field) {
  if (!text.trim()) return null;
  try {
    return JSON.parse(text);
  } catch (error) {
    const problem = new Error(`${field} is not valid JSON: ${error.message}`);
    throw problem;
  }
}

function body(values, { creating }) {
  const payload = {
    url: values.url.trim(),
    events: csv(values.events),
    description: values.description,
    is_active: values.is_active,
    method: values.method,
    payload_format: values.payload_format,
    payload_template: values.payload_template.trim() ? values.payload_template : null,
    filter: parseJson(values.filter, "Filter"),
  };
  if (values.content_type.trim()) payload.content_type = values.content_type.trim();
  const headers = parseJson(values.headers, "Extra headers");
  if (headers !== null || !creating) payload.headers = headers || {};
  if (values.secret) payload.secret = values.secret;
  return payload;
}

function formValues(webhook) {
  return {
    ...webhook,
    events: webhook.events.join(", "),
    secret: "",
    payload_template: webhook.payload_template || "",
    filter: webhook.filter ? JSON.stringify(webhook.filter, null, 2) : "",
    headers: Object.keys(webhook.headers || {}).length ? JSON.stringify(webhook.headers, null, 2) : "",
  };
}

// The actions on one webhook; `changed()` re-reads what shows it.
function actionsFor(webhook, changed, { onDeleted = changed } = {}) {
  async function edit() {
    const saved = await formDialog({
      title: `Edit webhook ${webhook.url}`,
      fields: fields({ creating: false }),
      values: formValues(webhook),
      submit: (values) => api("PATCH", "/api/webhooks/{id}/", { params: { id: webhook.id }, body: body(values, { creating: false }) }),
    });
    if (saved) {
      announce(`Webhook ${saved.url} saved.`);
      await changed();
    }
  }
  async function setActive(active) {
    try {
      const options = { params: { id: webhook.id } };
      if (active) await api("POST", "/api/webhooks/{id}/activate/", options);
      else await api("POST", "/api/webhooks/{id}/deactivate/", options);
      announce(`Webhook ${webhook.url} is now ${active ? "active" : "inactive"}.`);
      await changed();
    } catch (error) {
      report(error);
    }
  }
  async function sendTest() {
    try {
      const attempt = await api("POST", "/api/webhooks/{id}/test/", { params: { id: webhook.id } });
      const answer = attempt.response_status === null ? "no response" : `HTTP ${attempt.response_status}`;
      let text = `Test ping to ${webhook.url}: ${attempt.success ? "delivered" : "failed"}, ${answer}, ${attempt.duration_ms} ms`;
      if (attempt.error_message) text += ` (${attempt.error_message})`;
      announce(text + ".");
      await changed();
    } catch (error) {
      report(error);
    }
  }
  async function revealSecret() {
    try {
      const { secret } = await api("GET", "/api/webhooks/{id}/secret/", { params: { id: webhook.id } });
      infoDialog(
        `Secret of ${webhook.url}`,
        h("p", {}, "Receivers verify signatures with this secret. Keep it out of tickets and chats."),
        h("pre", { className: "code secret", tabindex: "0" }, secret),
      );
    } catch (error) {
      report(error);
    }
  }
  async function remove() {
    const sure = await confirmDialog({
      title: `Delete webhook ${webhook.url}?`,
      message: "Its pending deliveries are dropped; its attempt log stays. This cannot be undone.",
      confirmLabel: "Delete",
    });
    if (!sure) return;
    try {
      await api("DELETE", "/api/webhooks/{id}/", { params: { id: webhook.id } });
      announce(`Webhook ${webhook.url} deleted.`);
      await onDeleted();
    } catch (error) {
      report(error);
    }
  }
  return [
    actionButton("Edit", edit),
    webhook.is_active ? actionButton("Deactivate", () => setActive(false)) : actionButton("Activate", () => setActive(true)),
    actionButton("Send test", sendTest),
    actionButton("Reveal secret", revealSecret),
    actionButton("Delete", remove),
  ];
}

function request(webhook) {
  return `${webhook.method} ${webhook.content_type}, ${webhook.payload_format}`;
}

const owner = (webhook) => (webhook.owner === null ? "admin" : h("a", { href: `#/members/${webhook.owner}` }, `member #${webhook.owner}`));

async function create(changed) {
  const saved = await formDialog({
    title: "New webhook",
    fields: fields({ creating: true }),
    values: { is_active: true, method: "POST", payload_format: "libris" },
    submit: (values) => api("POST", "/api/webhooks/", { body: body(values, { creating: true }) }),
  });
  if (saved) {
    announce(`Webhook ${saved.url} created. Its secret is shown once more with “Reveal secret”.`);
    await changed();
  }
}

const list = listScreen("Webhooks", (reload) => ({
  actions: [button("New webhook", () => create(reload), { kind: "primary" })],
  list: {
    caption: "Webhooks",
    load: (query) => api("GET", "/api/webhooks/", { query }),
    columns: [
      {
        label: "URL",
        cell: (w) => h("div", {}, link(`#/webhooks/${w.id}`, w.url), w.description ? h("div", { className: "muted" }, w.description) : null),
        className: "url",
      },
      {
        label: "Events",
        cell: (w) => h("div", {}, h("code", {}, w.events.join(", ")), w.filter ? h("div", { className: "muted" }, "filter ", h("code", {}, JSON.stringify(w.filter))) : null),
      },
      { label: "Request", cell: (w) => request(w) },
      { label: "Owner", cell: owner },
      { label: "Active", cell: (w) => badge(w.is_active ? "active" : "inactive") },
      {
        label: "Failures",
        cell: (w) => h("div", {}, String(w.failure_count), w.disabled_reason ? h("div", { className: "muted" }, `disabled: ${w.disabled_reason}`) : null),
      },
      { label: "Actions", cell: (w) => rowActions(...actionsFor(w, reload)), className: "actions-cell" },
    ],
  },
}));

// Re-reading the detail after an action keeps the hash's list updater live.
async function detail(container, route, id) {
  let update;
  const again = async () => {
    update = await render(container, current(), id, again);
  };
  update = await render(container, route, id, again);
  return (next) => update(next);
}

async function render(container, route, id, again) {
  const webhook = await api("GET", "/api/webhooks/{id}/", { params: { id } });
  const deliveries = listView({
    caption: "Deliveries of this webhook",
    load: (query) => api("GET", "/api/webhooks/deliveries/", { query: { ...query, webhook: id } }),
    columns: deliveryColumns(new Map([[webhook.id, webhook.url]])),
  });
  container.replaceChildren(
    header(`Webhook ${webhook.url}`, ...actionsFor(webhook, again, { onDeleted: () => leaveTo("/webhooks") })),
    details([
      ["URL", h("code", {}, webhook.url)],
      ["Id", h("code", {}, webhook.id)],
      ["Events", h("code", {}, webhook.events.join(", "))],
      ["Description", webhook.description],
      ["Active", yesNo(webhook.is_active)],
      ["Secret", h("code", {}, webhook.secret)],
      ["HTTP method", webhook.method],
      ["Payload format", webhook.payload_format],
      ["Content type", webhook.content_type],
      ["Payload template", webhook.payload_template ? json(webhook.payload_template) : ""],
      ["Filter", webhook.filter ? json(webhook.filter) : "every matching event"],
      ["Extra headers", Object.keys(webhook.headers).length ? json(webhook.headers) : ""],
      ["Owner", owner(webhook)],
      ["Failures since last success", String(webhook.failure_count)],
      ["Disabled because", webhook.disabled_reason],
      ["Created", when(webhook.created_at)],
      ["Updated", when(webhook.updated_at)],
    ]),
    subsection("Deliveries", h("p", {}, link(`#/attempts?webhook=${webhook.id}`, "Attempt log of this webhook")), deliveries.node),
  );
  await deliveries.refresh(route.query);
  return (next) => deliveries.refresh(next.query);
}

export const webhooks = { ...list, detail };
