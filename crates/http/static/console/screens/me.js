// A member's own account and loans: all a member may see here.

import { api } from "../api.js";
import { details, h, when, yesNo } from "../dom.js";
import { header, subsection } from "../screen.js";
import { listView } from "../table.js";
import { memberLoanColumns } from "./loans.js";

async function mount(container, route) {
  const me = await api("GET", "/api/users/me/");
  const loans = listView({
    caption: "Your loans",
    load: (query) => api("GET", "/api/users/me/loans/", { query }),
    columns: memberLoanColumns,
  });
  container.replaceChildren(
    header("My account"),
    h("p", { className: "intro" }, "Your account and your loans. The rest of the console is for librarians; ask one if something here looks wrong."),
    details([
      ["Username", me.username],
      ["Email", me.email],
      ["Phone", me.phone],
      ["Tags", (me.tags || []).join(", ")],
      ["Time zone", me.timezone],
      ["Books borrowed", String(me.books_borrowed)],
      ["Books returned", String(me.books_returned)],
      ["Subscribed to notifications", yesNo(me.subscribed_to_notifications)],
      ["Bio", me.bio],
      ["Member since", when(me.created_at)],
    ]),
    subsection("Loans", loans.node),
  );
  await loans.refresh(route.query);
  return (next) => loans.refresh(next.query);
}

export const me = { mount };
