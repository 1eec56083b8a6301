// The admin console's script: a client of the JSON API like any other.
//
// Every request goes through api() with its path written as the OpenAPI
// document writes it ("{id}" included), so the end-to-end suite can find
// each call and check it against the document. Every value shown is set as
// text (textContent, never innerHTML): URLs, errors and event data come from
// receivers and users and may be hostile.
"use strict";

// sessionStorage: the token lives as long as this tab, is never sent unasked
// (unlike a cookie) and never appears in a URL.
const TOKEN_KEY = "libris.admin.token";
// Rows per table: the newest, as every list is ordered.
const LIMIT = 50;

const $ = (id) => document.getElementById(id);

class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// Calls the API. `path` is a template whose {names} `params` fill; `query`
// entries that are empty are left out. Answers the parsed JSON (null for
// 204) or throws an ApiError carrying the API's `message`.
async function api(method, path, { params = {}, query = {}, body } = {}) {
  let url = path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== "" && value !== undefined) search.set(name, value);
  }
  if (search.toString()) url += "?" + search;
  const headers = { Accept: "application/json" };
  const token = sessionStorage.getItem(TOKEN_KEY);
  if (token) headers.Authorization = "Bearer " + token;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, "the server cannot be reached: " + error.message);
  }
  const text = await response.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    // Not JSON (a proxy's error page): the status line says enough.
  }
  if (!response.ok) {
    const message =
      data && typeof data.message === "string" ? data.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, message);
  }
  return data;
}

function show(text, kind = "info") {
  const message = $("message");
  message.textContent = text;
  message.className = kind;
  message.hidden = !text;
}

function showLogin(text = "", kind = "info") {
  $("session").hidden = true;
  $("console").hidden = true;
  $("login").hidden = false;
  show(text, kind);
}

// Runs an action, turning its failure into a message: an expired or revoked
// token sends the operator back to the login form, a 403 says why.
async function run(action) {
  try {
    await action();
  } catch (error) {
    if (!(error instanceof ApiError)) {
      show("Unexpected error in this page: " + error.message, "error");
    } else if (error.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      showLogin("Your session has ended: " + error.message, "error");
    } else if (error.status === 403) {
      show("This page needs an admin account: " + error.message, "error");
    } else {
      show(error.message, "error");
    }
  }
}

// Shows who is logged in; only an admin gets the tables, since every list
// here is admin-only.
async function enter(user) {
  $("login").hidden = true;
  $("session").hidden = false;
  $("who").textContent = user.username;
  if (!user.is_admin) {
    $("console").hidden = true;
    show(`${user.username} is not an admin: this page needs an admin account. Log out and log in as an admin.`, "error");
    return;
  }
  $("console").hidden = false;
  show("");
  await run(loadAll);
}

async function logIn(event) {
  event.preventDefault();
  const credentials = { username: $("username").value, password: $("password").value };
  let answer;
  try {
    answer = await api("POST", "/api/auth/token/", { body: credentials });
  } catch (error) {
    // Here a 401 means wrong credentials, not an ended session.
    show(error.message, "error");
    return;
  }
  $("password").value = "";
  sessionStorage.setItem(TOKEN_KEY, answer.token);
  await enter(answer.user);
}

async function logOut() {
  let problem = "";
  try {
    await api("DELETE", "/api/auth/token/");
  } catch (error) {
    // 401: the server no longer knows the token, which is what we wanted.
    if (!(error instanceof ApiError) || error.status !== 401) problem = error.message;
  }
  sessionStorage.removeItem(TOKEN_KEY);
  if (problem) {
    showLogin("Logged out of this page, but the server did not revoke the token: " + problem, "error");
  } else {
    showLogin("Logged out.");
  }
}

// --- Tables ----------------------------------------------------------------

function when(timestamp) {
  return timestamp ? new Date(timestamp).toLocaleString() : "";
}

function button(label, action) {
  const element = document.createElement("button");
  element.type = "button";
  element.textContent = label;
  element.addEventListener("click", async () => {
    element.disabled = true;
    await run(action);
    element.disabled = false;
  });
  return element;
}

// Replaces a table's rows: one per item, one cell per column. A column
// answers text (set as text) or an element (a button).
function fill(tableId, page, columns) {
  const rows = page.results.map((item) => {
    const row = document.createElement("tr");
    for (const column of columns) {
      const cell = document.createElement("td");
      const value = column(item);
      if (value instanceof Node) cell.append(value);
      else cell.textContent = value === null || value === undefined ? "" : String(value);
      row.append(cell);
    }
    return row;
  });
  if (rows.length === 0) {
    const row = document.createElement("tr");
    const cell = document.createElement("td");
    cell.colSpan = columns.length;
    cell.className = "empty";
    cell.textContent = "Nothing here.";
    row.append(cell);
    rows.push(row);
  }
  $(tableId).tBodies[0].replaceChildren(...rows);
  $(tableId + "-count").textContent = `(${page.results.length} of ${page.count})`;
}

function actions(...buttons) {
  const span = document.createElement("span");
  span.className = "actions";
  span.append(...buttons);
  return span;
}

// Webhook ids are UUIDs; the other tables show the URL where it is known.
const webhookUrls = new Map();

function webhookName(id) {
  return webhookUrls.get(id) || id;
}

async function loadWebhooks() {
  const page = await api("GET", "/api/webhooks/", { query: { limit: LIMIT } });
  for (const webhook of page.results) webhookUrls.set(webhook.id, webhook.url);
  fill("webhooks", page, [
    (w) => w.url,
    (w) => w.events.join(", "),
    (w) => `${w.method} ${w.content_type}, ${w.payload_format}`,
    (w) => (w.filter ? JSON.stringify(w.filter) : ""),
    (w) => (w.owner === null ? "admin" : `member ${w.owner}`),
    (w) => (w.is_active ? "yes" : "no"),
    (w) => w.failure_count,
    (w) => w.disabled_reason,
    (w) =>
      actions(
        w.is_active
          ? button("Deactivate", () => setActive(w, false))
          : button("Activate", () => setActive(w, true)),
        button("Send test", () => sendTest(w)),
      ),
  ]);
}

async function setActive(webhook, active) {
  const options = { params: { id: webhook.id } };
  if (active) await api("POST", "/api/webhooks/{id}/activate/", options);
  else await api("POST", "/api/webhooks/{id}/deactivate/", options);
  show(`${webhook.url} is now ${active ? "active" : "inactive"}.`);
  await loadWebhooks();
}

async function sendTest(webhook) {
  const attempt = await api("POST", "/api/webhooks/{id}/test/", { params: { id: webhook.id } });
  const status = attempt.response_status === null ? "no response" : `HTTP ${attempt.response_status}`;
  let text = `Test ping to ${webhook.url}: ${attempt.success ? "delivered" : "failed"}, ${status}, ${attempt.duration_ms} ms`;
  if (attempt.error_message) text += ` (${attempt.error_message})`;
  const result = $("test-result");
  result.textContent = text;
  result.className = attempt.success ? "info" : "error";
  result.hidden = false;
  await Promise.all([loadWebhooks(), loadLogs(), loadEvents()]);
}

async function loadDeliveries() {
  const query = { status: $("delivery-status").value, limit: LIMIT };
  const page = await api("GET", "/api/webhooks/deliveries/", { query });
  fill("deliveries", page, [
    (d) => d.id,
    (d) => d.event,
    (d) => webhookName(d.webhook),
    (d) => d.status,
    (d) => d.attempts,
    (d) => (d.status === "pending" ? when(d.next_attempt_at) : ""),
    (d) => d.last_error,
    (d) => when(d.created_at),
    (d) => actions(button("Redeliver", () => redeliver(d))),
  ]);
}

async function redeliver(delivery) {
  await api("POST", "/api/webhooks/deliveries/{id}/redeliver/", { params: { id: delivery.id } });
  show(`Delivery ${delivery.id} is queued again.`);
  await loadDeliveries();
}

async function loadLogs() {
  const query = { success: $("failed-only").checked ? "false" : "", limit: LIMIT };
  const page = await api("GET", "/api/webhooks/logs/", { query });
  fill("logs", page, [
    (a) => when(a.created_at),
    (a) => a.event,
    (a) => webhookName(a.webhook),
    (a) => a.delivery_id,
    (a) => a.attempt,
    (a) => a.response_status,
    (a) => a.error_message,
    (a) => a.duration_ms,
  ]);
}

// Event data can be large: the table shows its start.
function excerpt(value, length = 200) {
  const text = JSON.stringify(value);
  return text.length > length ? text.slice(0, length) + "…" : text;
}

async function loadEvents() {
  const page = await api("GET", "/api/events/", { query: { limit: LIMIT } });
  fill("events", page, [
    (e) => when(e.timestamp),
    (e) => e.event,
    (e) => (e.user ? e.user.username : ""),
    (e) => e.id,
    (e) => excerpt(e.data),
  ]);
}

async function loadInbound() {
  const page = await api("GET", "/api/webhooks/inbound/", { query: { limit: LIMIT } });
  fill("inbound", page, [
    (i) => when(i.received_at),
    (i) => i.event,
    (i) => i.message_id,
    (i) => i.scheme,
    (i) => i.status,
  ]);
}

// Webhooks first: the other tables name webhooks by their URL.
async function loadAll() {
  await loadWebhooks();
  await Promise.all([loadDeliveries(), loadLogs(), loadEvents(), loadInbound()]);
}

// --- Start -------------------------------------------------------------------

$("login").addEventListener("submit", logIn);
$("logout").addEventListener("click", logOut);
$("refresh").addEventListener("click", () => run(loadAll));
$("delivery-status").addEventListener("change", () => run(loadDeliveries));
$("failed-only").addEventListener("change", () => run(loadLogs));

// A token left from earlier in this tab is checked before it is trusted.
if (sessionStorage.getItem(TOKEN_KEY)) {
  run(async () => enter(await api("GET", "/api/users/me/")));
} else {
  showLogin();
}
