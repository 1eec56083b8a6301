// The page's two live regions: one role="status" for what an action did,
// one role="alert" for what went wrong. One of each for the whole page, so
// a screen reader hears each message once.

import { describe } from "./api.js";

const status = () => document.getElementById("status");
const alert = () => document.getElementById("alert");

export function announce(text) {
  const element = status();
  if (text) alert().textContent = "";
  element.textContent = text;
  element.hidden = !text;
}

export function warn(text) {
  const element = alert();
  element.textContent = text;
  element.hidden = !text;
  if (text) status().hidden = true;
}

export function report(error) {
  warn(describe(error));
}

// What was just announced, kept through the next clear(): an action that
// leaves its screen (a delete on a detail screen) still says what it did on
// the screen it leads to.
let carried = "";

export function carryAnnouncement() {
  carried = status().hidden ? "" : status().textContent;
}

export function clear() {
  const kept = carried;
  carried = "";
  warn("");
  announce(kept);
}
