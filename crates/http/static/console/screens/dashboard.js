// The dashboard: deliveries over the last hours and the numbers a librarian
// and an operator look at first.

import { api } from "../api.js";
import { h, formatInstant, link } from "../dom.js";
import { deliveryChart, STATUSES } from "../chart.js";
import { report } from "../feedback.js";
import { setQuery } from "../router.js";
import { header, subsection } from "../screen.js";
import { nextId } from "../table.js";

const PERIODS = [
  ["6", "6 hours"],
  ["24", "24 hours"],
  ["72", "3 days"],
  ["168", "7 days"],
];

// The count of a list, read as a page of one row.
const countOf = (promise) => promise.then((page) => page.count).catch(() => null);

function counters() {
  const one = { limit: 1 };
  return [
    ["Books", "#/books", countOf(api("GET", "/api/books/", { query: one }))],
    ["Books available", "#/books?available=true", countOf(api("GET", "/api/books/", { query: { ...one, available: "true" } }))],
    ["Members", "#/members", countOf(api("GET", "/api/users/", { query: one }))],
    ["Open loans", "#/loans?open=true", countOf(api("GET", "/api/loans/", { query: { ...one, open: "true" } }))],
    ["Overdue loans", "#/loans?overdue=true", countOf(api("GET", "/api/loans/", { query: { ...one, overdue: "true" } }))],
    ["Webhooks", "#/webhooks", countOf(api("GET", "/api/webhooks/", { query: one }))],
    ["Pending deliveries", "#/deliveries?status=pending", countOf(api("GET", "/api/webhooks/deliveries/", { query: { ...one, status: "pending" } }))],
    ["Dead deliveries", "#/deliveries?status=dead", countOf(api("GET", "/api/webhooks/deliveries/", { query: { ...one, status: "dead" } }))],
  ];
}

async function render(container, route) {
  const hours = PERIODS.some(([value]) => value === route.query.get("hours")) ? route.query.get("hours") : "24";
  const periodId = nextId("period");
  const period = h("select", { id: periodId }, PERIODS.map(([value, label]) => h("option", { value }, label)));
  period.value = hours;
  period.addEventListener("change", () => setQuery({ hours: period.value === "24" ? "" : period.value }));

  const chartBox = h("div", { className: "chart-box", "aria-busy": "true" });
  const totals = h("dl", { className: "counts" });
  const cards = counters();
  const numbers = h(
    "dl",
    { className: "counts" },
    cards.map(([label, href]) => h("div", { className: "count" }, h("dt", {}, label), h("dd", {}, link(href, "…")))),
  );
  container.replaceChildren(
    header("Dashboard"),
    subsection(
      "Deliveries",
      h("div", { className: "field field-inline" }, h("label", { htmlFor: periodId }, "Period"), period),
      chartBox,
      totals,
    ),
    subsection("At a glance", numbers),
  );
  const figures = await Promise.all(cards.map(([, , count]) => count));
  numbers.querySelectorAll("dd a").forEach((a, i) => {
    a.textContent = figures[i] === null ? "—" : String(figures[i]);
  });
  try {
    const timeline = await api("GET", "/api/webhooks/deliveries/timeline/", { query: { hours } });
    const label = `Deliveries by status over the last ${hours} hours`;
    chartBox.replaceChildren(
      h("p", { className: "muted" }, `From ${formatInstant(timeline.from)} to ${formatInstant(timeline.to)}, by the hour each delivery was made; status as it is now.`),
      deliveryChart(timeline, label),
    );
    totals.replaceChildren(
      ...STATUSES.map((status) => {
        const sum = timeline.buckets.reduce((n, b) => n + b[status], 0);
        return h("div", { className: `count count-${status}` }, h("dt", {}, status), h("dd", {}, link(`#/deliveries?status=${status}`, String(sum))));
      }),
    );
  } catch (error) {
    report(error);
  } finally {
    chartBox.removeAttribute("aria-busy");
  }
}

async function mount(container, route) {
  await render(container, route);
  return (next) => render(container, next);
}

export const dashboard = { mount };
