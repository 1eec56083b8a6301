// Authors: create, change, delete (one with books cannot be deleted).

import { api } from "../api.js";
import { actionButton, button, when } from "../dom.js";
import { confirmDialog, formDialog } from "../dialog.js";
import { announce, report } from "../feedback.js";
import { listScreen, rowActions } from "../screen.js";

const FIELDS = [
  { name: "name", label: "Name", required: true },
  { name: "bio", label: "Bio", type: "textarea" },
];

export const authors = listScreen("Authors", (reload) => {
  async function create() {
    const saved = await formDialog({
      title: "New author",
      fields: FIELDS,
      submit: (values) => api("POST", "/api/authors/", { body: values }),
    });
    if (saved) {
      announce(`Author “${saved.name}” created.`);
      await reload();
    }
  }
  async function edit(author) {
    const saved = await formDialog({
      title: `Edit author ${author.name}`,
      fields: FIELDS,
      values: author,
      submit: (values) => api("PATCH", "/api/authors/{id}/", { params: { id: author.id }, body: values }),
    });
    if (saved) {
      announce(`Author “${saved.name}” saved.`);
      await reload();
    }
  }
  async function remove(author) {
    const sure = await confirmDialog({
      title: `Delete author ${author.name}?`,
      message: "This cannot be undone. An author who has books cannot be deleted.",
      confirmLabel: "Delete",
    });
    if (!sure) return;
    try {
      await api("DELETE", "/api/authors/{id}/", { params: { id: author.id } });
      announce(`Author “${author.name}” deleted.`);
      await reload();
    } catch (error) {
      report(error);
    }
  }
  return {
    actions: [button("New author", create, { kind: "primary" })],
    list: {
      caption: "Authors",
      load: (query) => api("GET", "/api/authors/", { query }),
      columns: [
        { label: "Name", cell: (a) => a.name },
        { label: "Bio", cell: (a) => a.bio },
        { label: "Books", cell: (a) => String(a.total_books), nowrap: true },
        { label: "Available", cell: (a) => String(a.available_books), nowrap: true },
        { label: "Created", cell: (a) => when(a.created_at), nowrap: true },
        { label: "Actions", cell: (a) => rowActions(actionButton("Edit", () => edit(a)), actionButton("Delete", () => remove(a))), className: "actions-cell" },
      ],
    },
  };
});
