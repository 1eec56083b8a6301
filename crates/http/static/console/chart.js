// The dashboard's chart: deliveries per hour, stacked by status, drawn as
// inline SVG with DOM APIs (attributes and classes; no inline style, which
// the CSP refuses). Colours come from the stylesheet; a table beside it
// carries the same numbers for whoever cannot see the bars.

import { h, svg } from "./dom.js";

export const STATUSES = ["delivered", "pending", "failed", "dead"];

const WIDTH = 720;
const HEIGHT = 240;
const MARGIN = { top: 12, right: 8, bottom: 28, left: 40 };

// A round number of deliveries for the top of the scale.
function niceMax(value) {
  if (value <= 4) return 4;
  const magnitude = 10 ** Math.floor(Math.log10(value));
  for (const step of [1, 2, 2.5, 5, 10]) {
    if (step * magnitude >= value) return step * magnitude;
  }
  return 10 * magnitude;
}

const hourLabel = (iso) => `${new Date(iso).getUTCHours().toString().padStart(2, "0")}:00`;

export function deliveryChart(timeline, name) {
  const buckets = timeline.buckets;
  const totals = buckets.map((b) => STATUSES.reduce((sum, s) => sum + b[s], 0));
  const top = niceMax(Math.max(0, ...totals));
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const slot = plotWidth / Math.max(1, buckets.length);
  const barWidth = Math.max(1, slot * 0.7);
  const y = (value) => MARGIN.top + plotHeight - (value / top) * plotHeight;

  const grid = [0, 0.25, 0.5, 0.75, 1].map((fraction) => {
    const value = top * fraction;
    return svg(
      "g",
      { class: "chart-grid" },
      svg("line", { x1: MARGIN.left, x2: WIDTH - MARGIN.right, y1: y(value), y2: y(value) }),
      svg("text", { x: MARGIN.left - 6, y: y(value) + 4, "text-anchor": "end" }, String(Math.round(value * 10) / 10)),
    );
  });
  // An hour label every few bars, so they never overlap.
  const every = Math.ceil(buckets.length / 8);
  const bars = buckets.map((bucket, i) => {
    const x = MARGIN.left + i * slot + (slot - barWidth) / 2;
    let base = 0;
    const parts = STATUSES.filter((s) => bucket[s] > 0).map((status) => {
      const rect = svg("rect", {
        class: `bar bar-${status}`,
        x,
        width: barWidth,
        y: y(base + bucket[status]),
        height: Math.max(0, y(base) - y(base + bucket[status])),
      });
      base += bucket[status];
      return rect;
    });
    const label = i % every === 0 ? svg("text", { class: "chart-axis", x: x + barWidth / 2, y: HEIGHT - 8, "text-anchor": "middle" }, hourLabel(bucket.start)) : null;
    return svg("g", {}, ...parts, label);
  });
  const chart = svg(
    "svg",
    { viewBox: `0 0 ${WIDTH} ${HEIGHT}`, role: "img", "aria-label": name, class: "chart", preserveAspectRatio: "xMidYMid meet", focusable: "false" },
    ...grid,
    ...bars,
  );
  const legend = h(
    "ul",
    { className: "legend" },
    STATUSES.map((s) => h("li", {}, h("span", { className: `swatch swatch-${s}`, "aria-hidden": "true" }), s)),
  );
  return h("figure", { className: "chart-figure" }, chart, legend, dataTable(buckets));
}

function dataTable(buckets) {
  return h(
    "details",
    { className: "chart-data" },
    h("summary", {}, "The chart's numbers"),
    h(
      "div",
      { className: "table-scroll", tabindex: "0", role: "region", "aria-label": "Deliveries per hour table" },
      h(
        "table",
        {},
        h("caption", { className: "visually-hidden" }, "Deliveries per hour"),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Hour (UTC)"), STATUSES.map((s) => h("th", { scope: "col" }, s)))),
        h(
          "tbody",
          {},
          buckets.map((b) =>
            h("tr", {}, h("th", { scope: "row", className: "nowrap" }, h("time", { datetime: b.start }, b.start.slice(0, 13).replace("T", " ") + ":00")), STATUSES.map((s) => h("td", {}, String(b[s])))),
          ),
        ),
      ),
    ),
  );
}
