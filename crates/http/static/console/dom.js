// Building the page with DOM APIs only: every value from the API is set as
// text (textContent, attributes), never parsed as markup, since URLs, errors
// and event data come from receivers and users and may be hostile.

const PROPERTIES = new Set(["className", "value", "checked", "disabled", "hidden", "selected", "type", "htmlFor", "tabIndex"]);

function append(parent, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    parent.append(child instanceof Node ? child : String(child));
  }
}

// h("a", {href: "#/books", onclick: f}, "Books"): an element with its
// attributes, listeners (on…) and children (text or nodes).
export function h(tag, attributes = {}, ...children) {
  const element = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith("on") && typeof value === "function") {
      element.addEventListener(name.slice(2), value);
    } else if (PROPERTIES.has(name)) {
      element[name] = value;
    } else {
      element.setAttribute(name, value === true ? "" : String(value));
    }
  }
  append(element, children);
  return element;
}

const SVG_NS = "http://www.w3.org/2000/svg";

// An SVG element; attributes only (no inline style, which the CSP refuses).
export function svg(tag, attributes = {}, ...children) {
  const element = document.createElementNS(SVG_NS, tag);
  for (const [name, value] of Object.entries(attributes)) element.setAttribute(name, String(value));
  append(element, children);
  return element;
}

const pad = (n) => String(n).padStart(2, "0");

// "2026-12-07 14:38:25 UTC": the API's instants are UTC, and saying so
// keeps a librarian in Moscow and an operator in Lisbon reading the same.
export function formatInstant(iso) {
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return String(iso);
  return (
    `${date.getUTCFullYear()}-${pad(date.getUTCMonth() + 1)}-${pad(date.getUTCDate())} ` +
    `${pad(date.getUTCHours())}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())} UTC`
  );
}

// A <time> for an instant, or a dash for none.
export function when(iso, none = "—") {
  if (!iso) return h("span", { className: "muted" }, none);
  return h("time", { datetime: iso }, formatInstant(iso));
}

// JSON in full, indented, in a <pre> that scrolls rather than truncates.
export function json(value) {
  const text = typeof value === "string" ? value : JSON.stringify(value, null, 2);
  return h("pre", { className: "code", tabindex: "0" }, text ?? "");
}

// A status word with its colour; the word itself carries the meaning.
export function badge(status) {
  return h("span", { className: `badge badge-${String(status).replace(/[^a-z_]/g, "")}` }, String(status));
}

export function yesNo(value) {
  return value ? "yes" : "no";
}

// A definition list of [term, value] pairs; values are text or nodes.
export function details(pairs) {
  return h(
    "dl",
    { className: "details" },
    pairs.map(([term, value]) =>
      h("div", {}, h("dt", {}, term), h("dd", {}, value === "" || value === null || value === undefined ? "—" : value)),
    ),
  );
}

export function button(label, onclick, { kind = "", type = "button" } = {}) {
  return h("button", { type, className: kind, onclick }, label);
}

// A button that is disabled while its action runs.
export function actionButton(label, action, options) {
  const element = button(label, async () => {
    element.disabled = true;
    try {
      await action();
    } finally {
      element.disabled = false;
    }
  }, options);
  return element;
}

export function link(href, text) {
  return h("a", { href }, text);
}

export function csv(text) {
  return String(text || "")
    .split(",")
    .map((part) => part.trim())
    .filter(Boolean);
}
