// A list screen's parts: filters above, a table that scrolls inside its own
// box on narrow screens, and paging. The filters and the page live in the
// hash query, so the list re-reads them on every hash change.

import { h } from "./dom.js";
import { setQuery } from "./router.js";
import { report } from "./feedback.js";

const PAGE_SIZES = [25, 50, 100];
const DEFAULT_LIMIT = 50;

let uniqueId = 0;
export const nextId = (prefix) => `${prefix}-${++uniqueId}`;

// A labelled filter control whose value lives in the hash query under
// `name`. Selects and checkboxes apply at once; text waits for the form's
// submit button (or Enter).
function filterControl(filter) {
  const id = nextId("filter");
  let control;
  if (filter.type === "select") {
    control = h(
      "select",
      { id, name: filter.name },
      filter.options.map(([value, label]) => h("option", { value }, label)),
    );
    control.addEventListener("change", () => setQuery({ [filter.name]: control.value }));
  } else if (filter.type === "checkbox") {
    control = h("input", { id, name: filter.name, type: "checkbox" });
    control.addEventListener("change", () => setQuery({ [filter.name]: control.checked ? "true" : "" }));
  } else {
    control = h("input", {
      id,
      name: filter.name,
      type: filter.type || "search",
      inputmode: filter.inputmode,
      placeholder: filter.placeholder,
      autocomplete: "off",
    });
  }
  const wrapper = h(
    "div",
    { className: filter.type === "checkbox" ? "field field-check" : "field" },
    filter.type === "checkbox" ? [control, h("label", { htmlFor: id }, filter.label)] : [h("label", { htmlFor: id }, filter.label), control],
  );
  // Options known later (authors, webhooks): added before the value is shown.
  const ready = filter.more
    ? filter.more.then((options) => control.append(...options.map(([value, label]) => h("option", { value }, label))))
    : Promise.resolve();
  return {
    filter,
    control,
    wrapper,
    ready,
    read: () => (filter.type === "checkbox" ? (control.checked ? "true" : "") : control.value.trim()),
    show(query) {
      const value = query.get(filter.name) || "";
      if (filter.type === "checkbox") control.checked = value === "true";
      else control.value = value;
    },
  };
}

// The list. `load(query)` answers `{count, results}` for the API query
// (filters, limit, offset); `columns` are {label, cell(item) → text|Node,
// nowrap?}; `caption` names the table for assistive technology.
export function listView({ caption, columns, load, filters = [], submitLabel = "Apply filters", empty = "Nothing here yet." }) {
  const controls = filters.map(filterControl);
  const hasText = controls.some((c) => !["select", "checkbox"].includes(c.filter.type));
  const form = h(
    "form",
    { className: "filters", role: "search", "aria-label": `Filter ${caption.toLowerCase()}` },
    controls.map((c) => c.wrapper),
    hasText ? h("div", { className: "field field-submit" }, h("button", { type: "submit" }, submitLabel)) : null,
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const changes = {};
    for (const c of controls) changes[c.filter.name] = c.read();
    setQuery(changes);
  });

  const body = h("tbody");
  const table = h(
    "table",
    {},
    h("caption", { className: "visually-hidden" }, caption),
    h("thead", {}, h("tr", {}, columns.map((c) => h("th", { scope: "col", className: c.nowrap ? "nowrap" : "" }, c.label)))),
    body,
  );
  const scroller = h("div", { className: "table-scroll", tabindex: "0", role: "region", "aria-label": `${caption} table` }, table);

  const previous = h("button", { type: "button" }, "Previous page");
  const next = h("button", { type: "button" }, "Next page");
  const showing = h("p", { className: "showing", "aria-live": "polite" });
  const sizeId = nextId("rows");
  const size = h("select", { id: sizeId }, PAGE_SIZES.map((n) => h("option", { value: String(n) }, String(n))));
  // Shown at once, before the first page arrives and says the size it used.
  size.value = String(DEFAULT_LIMIT);
  const pager = h(
    "div",
    { className: "pager" },
    previous,
    showing,
    next,
    h("div", { className: "field field-inline" }, h("label", { htmlFor: sizeId }, "Rows per page"), size),
  );

  let state = { offset: 0, limit: DEFAULT_LIMIT, count: 0, shown: 0 };
  previous.addEventListener("click", () => setQuery({ offset: Math.max(0, state.offset - state.limit) || "" }, { keepOffset: true }));
  next.addEventListener("click", () => setQuery({ offset: state.offset + state.shown }, { keepOffset: true }));
  size.addEventListener("change", () => setQuery({ limit: size.value === String(DEFAULT_LIMIT) ? "" : size.value }));

  const node = h("div", { className: "list" }, filters.length ? form : null, scroller, pager);

  async function refresh(query) {
    await Promise.all(controls.map((c) => c.ready.catch(() => {})));
    for (const c of controls) c.show(query);
    const limit = PAGE_SIZES.includes(Number(query.get("limit"))) ? Number(query.get("limit")) : DEFAULT_LIMIT;
    const offset = Math.max(0, Number.parseInt(query.get("offset") || "0", 10) || 0);
    size.value = String(limit);
    const apiQuery = { limit, offset };
    for (const c of controls) apiQuery[c.filter.name] = query.get(c.filter.name) || "";
    scroller.setAttribute("aria-busy", "true");
    let page;
    try {
      page = await load(apiQuery);
    } catch (error) {
      report(error);
      page = { count: 0, results: [] };
    } finally {
      scroller.removeAttribute("aria-busy");
    }
    // A page may hold fewer rows than asked (the event log keeps a page
    // within a size budget): the next page starts after the rows shown.
    state = { offset, limit, count: page.count, shown: page.results.length };
    const rows = page.results.map((item) =>
      h(
        "tr",
        {},
        columns.map((c) => {
          const value = c.cell(item);
          return h("td", { className: c.nowrap ? "nowrap" : c.wide ? "wide" : c.className || "", "data-label": c.label }, value === null || value === undefined || value === "" ? "—" : value);
        }),
      ),
    );
    if (rows.length === 0) {
      rows.push(h("tr", {}, h("td", { colspan: String(columns.length), className: "empty" }, empty)));
    }
    body.replaceChildren(...rows);
    showing.textContent = page.results.length
      ? `Showing ${offset + 1}–${offset + page.results.length} of ${page.count}`
      : `Showing 0 of ${page.count}`;
    const focusWasOn = document.activeElement;
    previous.disabled = offset === 0;
    next.disabled = offset + page.results.length >= page.count;
    // A button that just became disabled loses focus: keep it in the pager.
    if ((focusWasOn === next && next.disabled) || (focusWasOn === previous && previous.disabled)) {
      (next.disabled ? previous : next).focus();
    }
    return page;
  }

  return { node, refresh };
}
