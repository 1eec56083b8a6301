// Settings kept in the database: the SMS gateway and the daily statistics
// email. Each falls back to its environment variable when unset.

import { api } from "../api.js";
import { actionButton, csv, details, h } from "../dom.js";
import { formDialog } from "../dialog.js";
import { announce } from "../feedback.js";
import { header } from "../screen.js";

async function mount(container) {
  const settings = await api("GET", "/api/settings/");
  const edit = async () => {
    const saved = await formDialog({
      title: "Edit settings",
      fields: [
        { name: "sms_url", label: "SMS gateway URL", type: "url", hint: "Changing it without a new token clears the token, so it is never sent to another host." },
        { name: "sms_token", label: "SMS gateway token", type: "password", autocomplete: "new-password", hint: "Write-only. Empty: keep the current token." },
        { name: "stats_emails", label: "Statistics emails", hint: "Comma-separated addresses that get the daily statistics." },
        { name: "stats_email_time", label: "Statistics email time (UTC)", type: "time" },
      ],
      values: { ...settings, sms_url: settings.sms_url || "", sms_token: "", stats_emails: settings.stats_emails.join(", ") },
      submit: (values) => {
        // Only what changed: an unchanged URL keeps its token.
        const change = {};
        if (values.sms_url.trim() !== (settings.sms_url || "")) change.sms_url = values.sms_url.trim() || null;
        if (values.sms_token) change.sms_token = values.sms_token;
        const emails = csv(values.stats_emails);
        if (emails.join(",") !== settings.stats_emails.join(",")) change.stats_emails = emails;
        if (values.stats_email_time !== settings.stats_email_time) change.stats_email_time = values.stats_email_time || null;
        return api("PATCH", "/api/settings/", { body: change });
      },
    });
    if (saved) {
      announce("Settings saved.");
      await mount(container);
    }
  };
  container.replaceChildren(
    header("Settings", actionButton("Edit settings", edit)),
    h("p", { className: "intro" }, "Each setting falls back to its environment variable when it is not set here."),
    details([
      ["SMS gateway URL", settings.sms_url ? h("code", {}, settings.sms_url) : "not set"],
      ["SMS gateway token", settings.sms_token || "not set"],
      ["Statistics emails", settings.stats_emails.join(", ") || "nobody"],
      ["Statistics email time (UTC)", settings.stats_email_time],
    ]),
  );
}

export const settings = { mount };
