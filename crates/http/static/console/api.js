// The console's one way to the JSON API, and the session token.
//
// Every request goes through api() with its path written as the OpenAPI
// document writes it ("{id}" included): the end-to-end suite finds each call
// by that literal and checks it against the document.

// sessionStorage: the token lives as long as this tab, is never sent unasked
// (unlike a cookie) and never appears in a URL.
const TOKEN_KEY = "libris.console.token";

export const session = {
  token: () => sessionStorage.getItem(TOKEN_KEY),
  keep: (token) => sessionStorage.setItem(TOKEN_KEY, token),
  forget: () => sessionStorage.removeItem(TOKEN_KEY),
};

export class ApiError extends Error {
  constructor(status, message, details = []) {
    super(message);
    this.status = status;
    this.details = Array.isArray(details) ? details : [];
  }
}

// Listeners told when the server no longer accepts the token (a 401 on any
// call but sign-in's), so the app can go back to the sign-in screen.
const sessionEndListeners = [];
export function onSessionEnd(listener) {
  sessionEndListeners.push(listener);
}

// Calls the API. `path` is a template whose {names} `params` fill; `query`
// entries that are empty are left out. Answers the parsed JSON (null for
// 204) or throws an ApiError carrying the API's message and details.
export async function api(method, path, { params = {}, query = {}, body, signInCall = false } = {}) {
  let url = path.replace(/\{(\w+)\}/g, (_, name) => encodeURIComponent(params[name]));
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(query)) {
    if (value !== "" && value !== undefined && value !== null) search.set(name, value);
  }
  if (search.toString()) url += "?" + search;
  const headers = { Accept: "application/json" };
  const token = session.token();
  if (token && !signInCall) headers.Authorization = "Bearer " + token;
  const init = { method, headers, cache: "no-store" };
  if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, "The server cannot be reached: " + error.message);
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
    const error = new ApiError(response.status, message, data && data.details);
    if (response.status === 401 && !signInCall && token) {
      session.forget();
      for (const listener of sessionEndListeners) listener(error);
    }
    throw error;
  }
  return data;
}

// A message for a person, with the fields the API named.
export function describe(error) {
  if (!(error instanceof ApiError)) return "Something went wrong in this page: " + error.message;
  if (error.status === 403) return "Your account may not do this: " + error.message;
  const fields = error.details
    .map((d) => (d.field ? `${d.index !== undefined ? `item ${d.index + 1}, ` : ""}${d.field}: ${d.message}` : d.message))
    .filter(Boolean);
  return fields.length ? `${error.message} (${fields.join("; ")})` : error.message;
}
