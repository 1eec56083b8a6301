// What every screen starts with, and the list screens' common shape.

import { h } from "./dom.js";
import { carryAnnouncement } from "./feedback.js";
import { current, go } from "./router.js";
import { listView } from "./table.js";

// The screen's one <h2>, with its actions beside it.
export function header(title, ...actions) {
  return h("div", { className: "screen-header" }, h("h2", { tabindex: "-1" }, title), actions.length ? h("div", { className: "actions" }, actions) : null);
}

export function subsection(title, ...content) {
  return h("section", { className: "subsection" }, h("h3", {}, title), ...content);
}

// A screen that is one list: `build(reload)` answers {actions, list, intro}
// where `reload()` re-reads the current page after a change.
export function listScreen(title, build) {
  return {
    async mount(container) {
      let view;
      const reload = () => view.refresh(current().query);
      const { actions = [], list, intro = null } = build(reload);
      view = listView(list);
      container.replaceChildren(...[header(title, ...actions), intro, view.node].filter(Boolean));
      await view.refresh(current().query);
      return (route) => view.refresh(route.query);
    },
  };
}

// Goes to `path` after an action that ends the current screen (deleting
// what it showed); what the action announced stays on screen.
export function leaveTo(path) {
  carryAnnouncement();
  go(path);
}

// A row's buttons.
export function rowActions(...buttons) {
  return h("div", { className: "row-actions" }, buttons.filter(Boolean));
}

// Webhook URLs by id, for lists that name a webhook: ids are UUIDs.
export async function webhookNames(fetchPage) {
  const names = new Map();
  try {
    const page = await fetchPage();
    for (const webhook of page.results) names.set(webhook.id, webhook.url);
  } catch {
    // The lists still show ids.
  }
  return names;
}
