// SMS campaigns to members: their schedule, audience, send window, and how
// their messages stand; overall statistics above the list.

import { api } from "../api.js";
import { actionButton, badge, button, csv, details, h, link, when } from "../dom.js";
import { confirmDialog, formDialog } from "../dialog.js";
import { announce, report } from "../feedback.js";
import { current } from "../router.js";
import { header, leaveTo, listScreen, rowActions, subsection } from "../screen.js";
import { listView } from "../table.js";

const COUNTS = ["pending", "sent", "failed", "expired", "cancelled"];

// datetime-local holds no zone: the form says UTC and converts both ways.
const toLocalInput = (iso) => (iso ? iso.slice(0, 16) : "");
const fromLocalInput = (value) => (value ? `${value}:00Z` : null);

function fields() {
  return [
    { name: "text", label: "Text", type: "textarea", required: true, hint: "1 to 1000 characters." },
    { name: "start_at", label: "Start (UTC)", type: "datetime-local", required: true },
    { name: "end_at", label: "End (UTC)", type: "datetime-local", required: true },
    { name: "tags", label: "Audience tags", hint: "Comma-separated; empty: any tag." },
    { name: "operator_codes", label: "Audience operator codes", hint: "Comma-separated, e.g. 916, 925; empty: any operator." },
    { name: "window_from", label: "Send window from", type: "time", hint: "In each member's time zone; both empty: any time." },
    { name: "window_to", label: "Send window to", type: "time" },
  ];
}

function body(values) {
  const window = values.window_from || values.window_to ? { from: values.window_from, to: values.window_to } : null;
  return {
    text: values.text,
    start_at: fromLocalInput(values.start_at),
    end_at: fromLocalInput(values.end_at),
    filter: { tags: csv(values.tags), operator_codes: csv(values.operator_codes) },
    send_window: window,
  };
}

const formValues = (c) => ({
  text: c.text,
  start_at: toLocalInput(c.start_at),
  end_at: toLocalInput(c.end_at),
  tags: (c.filter.tags || []).join(", "),
  operator_codes: (c.filter.operator_codes || []).join(", "),
  window_from: c.send_window ? c.send_window.from : "",
  window_to: c.send_window ? c.send_window.to : "",
});

const audience = (c) => {
  const parts = [];
  if ((c.filter.tags || []).length) parts.push(`tags ${(c.filter.tags || []).join(", ")}`);
  if ((c.filter.operator_codes || []).length) parts.push(`operators ${(c.filter.operator_codes || []).join(", ")}`);
  return parts.length ? parts.join("; ") : "every subscribed member with a phone";
};
const window_ = (c) => (c.send_window ? `${c.send_window.from}–${c.send_window.to}` : "any time");
const counts = (c) => COUNTS.map((name) => `${name} ${c[name]}`).join(", ");

function actionsFor(campaign, changed, gone = changed) {
  async function edit() {
    const saved = await formDialog({
      title: `Edit campaign ${campaign.id}`,
      fields: fields(),
      values: formValues(campaign),
      submit: (values) => api("PATCH", "/api/campaigns/{id}/", { params: { id: campaign.id }, body: body(values) }),
    });
    if (saved) {
      announce(`Campaign ${saved.id} saved.`);
      await changed();
    }
  }
  async function cancel() {
    const sure = await confirmDialog({
      title: `Cancel campaign ${campaign.id}?`,
      message: "Every message not yet sent is cancelled; sent ones stay.",
      confirmLabel: "Cancel campaign",
    });
    if (!sure) return;
    try {
      await api("POST", "/api/campaigns/{id}/cancel/", { params: { id: campaign.id } });
      announce(`Campaign ${campaign.id} cancelled.`);
      await changed();
    } catch (error) {
      report(error);
    }
  }
  async function remove() {
    const sure = await confirmDialog({
      title: `Delete campaign ${campaign.id}?`,
      message: "The campaign and all its messages are removed. This cannot be undone.",
      confirmLabel: "Delete",
    });
    if (!sure) return;
    try {
      await api("DELETE", "/api/campaigns/{id}/", { params: { id: campaign.id } });
      announce(`Campaign ${campaign.id} deleted.`);
      await gone();
    } catch (error) {
      report(error);
    }
  }
  const open = campaign.status === "scheduled" || campaign.status === "running";
  return [actionButton("Edit", edit), open ? actionButton("Cancel campaign", cancel) : null, actionButton("Delete", remove)];
}

function totalsTable(totals) {
  return h(
    "dl",
    { className: "counts" },
    COUNTS.map((name) => h("div", { className: `count count-${name}` }, h("dt", {}, name), h("dd", {}, String(totals[name])))),
  );
}

const list = listScreen("Campaigns", (reload) => {
  const overall = h("div", { className: "overall" });
  const loadTotals = () =>
    api("GET", "/api/campaigns/statistics/", { query: { limit: 1 } })
      .then((stats) => overall.replaceChildren(h("h3", {}, "All campaigns' messages"), totalsTable(stats.totals)))
      .catch(report);
  loadTotals();
  const changed = async () => {
    await Promise.all([reload(), loadTotals()]);
  };
  return {
    intro: overall,
    actions: [
      button(
        "New campaign",
        async () => {
          const saved = await formDialog({
            title: "New campaign",
            fields: fields(),
            submit: (values) => api("POST", "/api/campaigns/", { body: body(values) }),
          });
          if (saved) {
            announce(`Campaign ${saved.id} created (${saved.status}).`);
            await changed();
          }
        },
        { kind: "primary" },
      ),
    ],
    list: {
      caption: "Campaigns",
      load: (query) => api("GET", "/api/campaigns/", { query }),
      columns: [
        { label: "Campaign", cell: (c) => link(`#/campaigns/${c.id}`, `Campaign ${c.id}`), nowrap: true },
        { label: "Text", cell: (c) => c.text },
        { label: "State", cell: (c) => badge(c.status) },
        { label: "Start", cell: (c) => when(c.start_at), nowrap: true },
        { label: "End", cell: (c) => when(c.end_at), nowrap: true },
        { label: "Audience", cell: audience },
        { label: "Send window", cell: window_, nowrap: true },
        { label: "Messages", cell: (c) => counts(c.counts) },
        { label: "Actions", cell: (c) => rowActions(...actionsFor(c, changed)), className: "actions-cell" },
      ],
    },
  };
});

// Without a gateway the sender leaves messages alone (no attempt, no
// error): only this note says why they stay pending.
async function gatewayNote(pending) {
  if (!pending) return null;
  const settings = await api("GET", "/api/settings/").catch(() => null);
  if (!settings || settings.sms_url) return null;
  return h(
    "p",
    { className: "notice" },
    "No SMS gateway is set, so pending messages wait: none is sent until one is set in ",
    link("#/settings", "Settings"),
    ".",
  );
}

async function detail(container, route, id) {
  const stats = await api("GET", "/api/campaigns/{id}/statistics/", { params: { id }, query: { limit: 1 } });
  const campaign = stats.campaign;
  const note = await gatewayNote(stats.counts.pending);
  const messages = listView({
    caption: "Messages",
    filters: [{ name: "status", label: "Message state", type: "select", options: [["", "any"], ...COUNTS.map((s) => [s, s])] }],
    load: (query) => api("GET", "/api/campaigns/{id}/messages/", { params: { id }, query }),
    columns: [
      { label: "Message", cell: (m) => `#${m.id}`, nowrap: true },
      { label: "Member", cell: (m) => link(`#/members/${m.user}`, m.username || `#${m.user}`) },
      { label: "Phone", cell: (m) => m.phone, nowrap: true },
      { label: "State", cell: (m) => badge(m.status) },
      { label: "Attempts", cell: (m) => String(m.attempts) },
      { label: "Created", cell: (m) => when(m.created_at), nowrap: true },
      { label: "Sent", cell: (m) => when(m.sent_at), nowrap: true },
      { label: "Last error", cell: (m) => m.last_error },
    ],
  });
  const again = () => detail(container, current(), id);
  container.replaceChildren(
    header(`Campaign ${campaign.id}`, ...actionsFor(campaign, again, () => leaveTo("/campaigns"))),
    ...(note ? [note] : []),
    details([
      ["State", badge(campaign.status)],
      ["Text", campaign.text],
      ["Start", when(campaign.start_at)],
      ["End", when(campaign.end_at)],
      ["Audience", audience(campaign)],
      ["Send window", window_(campaign)],
      ["Created", when(campaign.created_at)],
      ["Updated", when(campaign.updated_at)],
    ]),
    subsection(`Statistics: ${stats.total} ${stats.total === 1 ? "message" : "messages"}`, totalsTable(stats.counts)),
    subsection("Messages", messages.node),
  );
  await messages.refresh(route.query);
  return (next) => messages.refresh(next.query);
}

export const campaigns = { ...list, detail };
