// Members: every attribute of the account and profile, their loans, and
// the single sign-on identities that may sign in as them.

import { api, ApiError } from "../api.js";
import { actionButton, button, csv, details, h, link, when, yesNo } from "../dom.js";
import { confirmDialog, formDialog } from "../dialog.js";
import { announce, report } from "../feedback.js";
import { current } from "../router.js";
import { header, leaveTo, listScreen, rowActions, subsection } from "../screen.js";
import { listView } from "../table.js";
import { memberLoanColumns } from "./loans.js";

function fields({ creating }) {
  return [
    { name: "username", label: "Username", required: true, autocomplete: "off" },
    { name: "email", label: "Email", type: "email" },
    {
      name: "password",
      label: "New password",
      type: "password",
      autocomplete: "new-password",
      hint: creating ? "At least 8 characters. Empty: the member cannot sign in with a password." : "Empty: keep the current password.",
    },
    { name: "is_admin", label: "Administrator", type: "checkbox" },
    { name: "phone", label: "Phone", type: "tel", hint: "7XXXXXXXXXX; spaces, hyphens, parentheses and a leading + are dropped." },
    { name: "tags", label: "Tags", hint: "Comma-separated: letters, digits, _ and -; at most 20." },
    { name: "timezone", label: "Time zone", hint: "An IANA name such as Europe/Moscow." },
    { name: "subscribed_to_notifications", label: "Subscribed to notifications", type: "checkbox" },
    { name: "bio", label: "Bio", type: "textarea" },
  ];
}

function body(values) {
  const payload = {
    username: values.username.trim(),
    email: values.email.trim() || null,
    is_admin: values.is_admin,
    phone: values.phone,
    tags: csv(values.tags),
    timezone: values.timezone.trim() || "UTC",
    subscribed_to_notifications: values.subscribed_to_notifications,
    bio: values.bio,
  };
  if (values.password) payload.password = values.password;
  return payload;
}

const formValues = (member) => ({ ...member, tags: member.tags.join(", "), password: "" });

async function edit(member, changed) {
  const saved = await formDialog({
    title: `Edit member ${member.username}`,
    fields: fields({ creating: false }),
    values: formValues(member),
    submit: (values) => api("PATCH", "/api/users/{id}/", { params: { id: member.id }, body: body(values) }),
  });
  if (saved) {
    announce(`Member ${saved.username} saved.`);
    await changed();
  }
}

async function remove(member, gone) {
  const sure = await confirmDialog({
    title: `Delete member ${member.username}?`,
    message: "Their profile, tokens, webhooks and pending campaign messages go; closed loans, audit entries and events keep their name. A member with an open loan, or the last admin, cannot be deleted.",
    confirmLabel: "Delete",
  });
  if (!sure) return;
  try {
    await api("DELETE", "/api/users/{id}/", { params: { id: member.id } });
    announce(`Member ${member.username} deleted.`);
    await gone();
  } catch (error) {
    report(error);
  }
}

const list = listScreen("Members", (reload) => ({
  actions: [
    button(
      "New member",
      async () => {
        const saved = await formDialog({
          title: "New member",
          fields: fields({ creating: true }),
          values: { subscribed_to_notifications: true, timezone: "UTC" },
          submit: (values) => api("POST", "/api/users/", { body: body(values) }),
        });
        if (saved) {
          announce(`Member ${saved.username} created.`);
          await reload();
        }
      },
      { kind: "primary" },
    ),
  ],
  list: {
    caption: "Members",
    filters: [
      { name: "q", label: "Search members", placeholder: "username or email" },
      { name: "tag", label: "Tag" },
      { name: "operator_code", label: "Operator code", inputmode: "numeric", placeholder: "916" },
    ],
    load: (query) => api("GET", "/api/users/", { query }),
    columns: [
      { label: "Username", cell: (m) => link(`#/members/${m.id}`, m.username) },
      { label: "Email", cell: (m) => m.email },
      { label: "Role", cell: (m) => (m.is_admin ? "admin" : "member") },
      { label: "Phone", cell: (m) => m.phone, nowrap: true },
      { label: "Operator", cell: (m) => m.operator_code },
      { label: "Tags", cell: (m) => m.tags.join(", ") },
      { label: "Time zone", cell: (m) => m.timezone, nowrap: true },
      { label: "Borrowed", cell: (m) => String(m.books_borrowed) },
      { label: "Returned", cell: (m) => String(m.books_returned) },
      { label: "Notifications", cell: (m) => (m.subscribed_to_notifications ? "subscribed" : "off") },
      { label: "Joined", cell: (m) => when(m.created_at), nowrap: true },
      { label: "Actions", cell: (m) => rowActions(actionButton("Edit", () => edit(m, reload)), actionButton("Delete", () => remove(m, reload))), className: "actions-cell" },
    ],
  },
}));

// The member's single sign-on identities. The endpoints come with single
// sign-on: a 404 means this Libris has none configured.
function identitiesSection(member) {
  const content = h("div", {}, h("p", { className: "muted" }, "Loading…"));
  const section = subsection("Single sign-on identities", content);

  async function load() {
    let page;
    try {
      page = await api("GET", "/api/users/{id}/identities/", { params: { id: member.id } });
    } catch (error) {
      if (error instanceof ApiError && error.status === 404) {
        content.replaceChildren(h("p", {}, "Single sign-on is not configured on this Libris."));
        return;
      }
      throw error;
    }
    const rows = page.results.map((identity) =>
      h(
        "tr",
        {},
        h("td", { "data-label": "Issuer" }, h("code", {}, identity.issuer)),
        h("td", { "data-label": "Subject" }, h("code", {}, identity.subject)),
        h("td", { "data-label": "Email" }, identity.email || "—"),
        h("td", { "data-label": "Linked", className: "nowrap" }, when(identity.created_at)),
        h("td", { "data-label": "Actions" }, actionButton("Unlink", () => unlink(identity))),
      ),
    );
    content.replaceChildren(
      h("p", {}, "Each identity at the identity provider signs in as this member.", " ", button("Link identity", link_, { kind: "primary" })),
      rows.length
        ? h(
            "div",
            { className: "table-scroll", tabindex: "0", role: "region", "aria-label": "Identities table" },
            h(
              "table",
              {},
              h("caption", { className: "visually-hidden" }, "Identities"),
              h("thead", {}, h("tr", {}, ["Issuer", "Subject", "Email", "Linked", "Actions"].map((l) => h("th", { scope: "col" }, l)))),
              h("tbody", {}, rows),
            ),
          )
        : h("p", { className: "muted" }, "No identity is linked."),
    );
  }
  async function link_() {
    const saved = await formDialog({
      title: `Link an identity to ${member.username}`,
      fields: [
        { name: "subject", label: "Subject", required: true, hint: "The provider's id of the person (its sub claim)." },
        { name: "issuer", label: "Issuer", hint: "Empty: the configured provider." },
      ],
      submit: (values) => {
        const payload = { subject: values.subject.trim() };
        if (values.issuer.trim()) payload.issuer = values.issuer.trim();
        return api("POST", "/api/users/{id}/identities/", { params: { id: member.id }, body: payload });
      },
      submitLabel: "Link",
    });
    if (saved) {
      announce(`Identity ${saved.subject} linked to ${member.username}.`);
      await load();
    }
  }
  async function unlink(identity) {
    const sure = await confirmDialog({
      title: `Unlink ${identity.subject}?`,
      message: `${member.username} can no longer sign in with this identity.`,
      confirmLabel: "Unlink",
    });
    if (!sure) return;
    try {
      await api("DELETE", "/api/users/{id}/identities/{identity_id}/", { params: { id: member.id, identity_id: identity.id } });
      announce(`Identity ${identity.subject} unlinked.`);
      await load();
    } catch (error) {
      report(error);
    }
  }
  load().catch(report);
  return section;
}

async function detail(container, route, id) {
  const member = await api("GET", "/api/users/{id}/", { params: { id } });
  const loans = listView({
    caption: "Loans of this member",
    load: (query) => api("GET", "/api/loans/", { query: { ...query, user: id } }),
    columns: memberLoanColumns,
  });
  const again = async () => {
    await detail(container, current(), id);
  };
  container.replaceChildren(
    header(`Member ${member.username}`, actionButton("Edit", () => edit(member, again)), actionButton("Delete", () => remove(member, () => leaveTo("/members")))),
    details([
      ["Id", String(member.id)],
      ["Username", member.username],
      ["Email", member.email],
      ["Role", member.is_admin ? "admin" : "member"],
      ["Can sign in with a password", yesNo(member.has_password)],
      ["Phone", member.phone],
      ["Operator code", member.operator_code],
      ["Tags", member.tags.join(", ")],
      ["Time zone", member.timezone],
      ["Books borrowed", String(member.books_borrowed)],
      ["Books returned", String(member.books_returned)],
      ["Subscribed to notifications", yesNo(member.subscribed_to_notifications)],
      ["Bio", member.bio],
      ["Joined", when(member.created_at)],
    ]),
    identitiesSection(member),
    subsection("Loans", loans.node),
  );
  await loans.refresh(route.query);
  return (next) => loans.refresh(next.query);
}

export const members = { ...list, detail };
