// Forms and confirmations in a modal <dialog>: the browser keeps focus
// inside and closes it on Escape; focus goes back to what opened it.

import { describe, ApiError } from "./api.js";
import { h } from "./dom.js";
import { nextId } from "./table.js";

function modal(title, ...content) {
  const headingId = nextId("dialog-title");
  const dialog = h("dialog", { "aria-labelledby": headingId }, h("h3", { id: headingId }, title), ...content);
  const opener = document.activeElement;
  dialog.addEventListener("close", () => {
    dialog.remove();
    if (opener && opener.isConnected) opener.focus();
  });
  document.body.append(dialog);
  dialog.showModal();
  return dialog;
}

function control(field, id, value) {
  const describedBy = field.hint ? `${id}-hint` : undefined;
  const common = { id, name: field.name, "aria-describedby": describedBy, required: field.required, autocomplete: field.autocomplete || "off" };
  switch (field.type) {
    case "textarea":
      return h("textarea", { ...common, rows: String(field.rows || 4), spellcheck: "false" }, value ?? "");
    case "select": {
      const select = h("select", common, field.options.map(([v, label]) => h("option", { value: v }, label)));
      select.value = value === undefined || value === null ? field.options[0]?.[0] ?? "" : String(value);
      return select;
    }
    case "checkbox":
      return h("input", { ...common, type: "checkbox", checked: Boolean(value) });
    default:
      return h("input", {
        ...common,
        type: field.type || "text",
        value: value ?? "",
        inputmode: field.inputmode,
        placeholder: field.placeholder,
      });
  }
}

// Opens a form. `fields`: {name, label, type, options, hint, required};
// `submit(values)` runs on Save; its API error is shown in the form, with
// each field the API named marked invalid, and the form stays open.
// Answers what `submit` answered, or null when cancelled.
export function formDialog({ title, fields, values = {}, submit, submitLabel = "Save" }) {
  return new Promise((resolve) => {
    const error = h("p", { className: "form-error", role: "alert", hidden: true });
    const inputs = new Map();
    const hints = new Map();
    const rows = fields.map((field) => {
      const id = nextId("field");
      const input = control(field, id, values[field.name]);
      inputs.set(field.name, input);
      const hint = h("p", { id: `${id}-hint`, className: "hint", hidden: !field.hint }, field.hint || "");
      hints.set(field.name, { hint, text: field.hint || "" });
      const label = h("label", { htmlFor: id }, field.label);
      return field.type === "checkbox"
        ? h("div", { className: "field field-check" }, input, label, hint)
        : h("div", { className: "field" }, label, input, hint);
    });
    let result = null;
    const cancel = h("button", { type: "button", className: "secondary" }, "Cancel");
    const save = h("button", { type: "submit", className: "primary" }, submitLabel);
    const form = h("form", { className: "dialog-form", novalidate: true }, rows, error, h("div", { className: "dialog-actions" }, save, cancel));
    const dialog = modal(title, form);
    cancel.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => resolve(result));
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const read = {};
      for (const field of fields) {
        const input = inputs.get(field.name);
        read[field.name] = field.type === "checkbox" ? input.checked : input.value;
      }
      for (const [name, input] of inputs) {
        input.removeAttribute("aria-invalid");
        const { hint, text } = hints.get(name);
        hint.textContent = text;
        hint.hidden = !text;
        hint.classList.remove("invalid");
      }
      save.disabled = true;
      try {
        result = (await submit(read)) ?? true;
        dialog.close();
      } catch (problem) {
        error.textContent = describe(problem);
        error.hidden = false;
        const named = problem instanceof ApiError ? problem.details.filter((d) => inputs.has(d.field)) : [];
        for (const detail of named) {
          const input = inputs.get(detail.field);
          input.setAttribute("aria-invalid", "true");
          const { hint, text } = hints.get(detail.field);
          hint.textContent = text ? `${detail.message}. ${text}` : detail.message;
          hint.hidden = false;
          hint.classList.add("invalid");
        }
        (named.length ? inputs.get(named[0].field) : inputs.values().next().value)?.focus();
      } finally {
        save.disabled = false;
      }
    });
  });
}

// Asks again before something that cannot be undone. Answers true when
// confirmed; the confirm button repeats the action's name ("Delete").
export function confirmDialog({ title, message, confirmLabel }) {
  return new Promise((resolve) => {
    let confirmed = false;
    const yes = h("button", { type: "button", className: "danger" }, confirmLabel);
    const no = h("button", { type: "button", className: "secondary" }, "Cancel");
    const dialog = modal(title, h("p", {}, message), h("div", { className: "dialog-actions" }, yes, no));
    no.focus();
    yes.addEventListener("click", () => {
      confirmed = true;
      dialog.close();
    });
    no.addEventListener("click", () => dialog.close());
    dialog.addEventListener("close", () => resolve(confirmed));
  });
}

// Shows something to read (a secret), with a Close button.
export function infoDialog(title, ...content) {
  const close = h("button", { type: "button" }, "Close");
  const dialog = modal(title, ...content, h("div", { className: "dialog-actions" }, close));
  close.addEventListener("click", () => dialog.close());
  close.focus();
}
