// The console: who is signed in, the sections they may open, and the screen
// the hash names. Admins get every section; a member gets their own account.

import { api, describe, onSessionEnd, session } from "./api.js";
import { exchangeSsoCode, signInScreen, ssoErrorMessage, takeSsoResult } from "./auth.js";
import { h } from "./dom.js";
import { clear, report, warn } from "./feedback.js";
import { current, go } from "./router.js";
import { SCREENS, ADMIN_SECTIONS, MEMBER_SECTIONS } from "./screens/index.js";

const $ = (id) => document.getElementById(id);

let user = null;
// The mounted screen: its route path and, for lists, how to re-read the
// hash query without rebuilding the page (focus stays where it was).
let mounted = null;

function sectionsFor(someone) {
  return someone.is_admin ? ADMIN_SECTIONS : MEMBER_SECTIONS;
}

function renderShell() {
  $("who").textContent = `Signed in as ${user.username}`;
  $("session").hidden = false;
  const nav = $("sections");
  nav.replaceChildren(
    h(
      "ul",
      {},
      sectionsFor(user).map(([path, label]) => h("li", {}, h("a", { href: "#" + path, "data-path": path }, label))),
    ),
  );
  nav.hidden = false;
}

function markCurrentSection(path) {
  for (const a of $("sections").querySelectorAll("a")) {
    const section = a.getAttribute("data-path");
    if (path === section || path.startsWith(section + "/")) a.setAttribute("aria-current", "page");
    else a.removeAttribute("aria-current");
  }
}

// Finds the screen for a path: "/webhooks/3f…" is the webhook screen's
// detail with its id.
function screenFor(segments) {
  const allowed = new Set(sectionsFor(user).map(([path]) => path.slice(1)));
  const [section, id] = segments;
  const screen = SCREENS[section];
  if (!screen) return null;
  if (!allowed.has(section) && !screen.anyone && !(user.is_admin && screen.adminOnly)) return null;
  if (id !== undefined) return screen.detail ? { mount: (c, r) => screen.detail(c, r, id) } : null;
  return screen;
}

async function route() {
  if (!user) return;
  const where = current();
  if (where.segments.length === 0) {
    go(user.is_admin ? "/dashboard" : "/me");
    return;
  }
  // Same screen, other query: the list re-reads its filters and page.
  if (mounted && mounted.path === where.path && mounted.update) {
    await mounted.update(where);
    return;
  }
  const screen = screenFor(where.segments);
  if (!screen) {
    go(user.is_admin ? "/dashboard" : "/me");
    return;
  }
  clear();
  markCurrentSection(where.path);
  const main = $("screen");
  main.replaceChildren();
  mounted = { path: where.path, update: null };
  try {
    const update = await screen.mount(main, where, { user });
    if (mounted && mounted.path === where.path) mounted.update = typeof update === "function" ? update : null;
  } catch (error) {
    report(error);
  }
  // A new screen: its heading takes focus, so a screen reader starts there.
  const title = main.querySelector("h2");
  if (title) {
    title.setAttribute("tabindex", "-1");
    title.focus({ preventScroll: true });
    document.title = `${title.textContent} · Libris console`;
  }
}

async function enter(someone) {
  user = someone;
  mounted = null;
  renderShell();
  if (current().segments.length === 0) go(someone.is_admin ? "/dashboard" : "/me");
  else await route();
}

function showSignIn(message = "") {
  user = null;
  mounted = null;
  $("session").hidden = true;
  $("sections").hidden = true;
  $("sections").replaceChildren();
  document.title = "Sign in · Libris console";
  signInScreen($("screen"), enter);
  warn(message);
}

async function signOut() {
  try {
    await api("DELETE", "/api/auth/token/");
  } catch {
    // 401: the server no longer knows the token, which is what we wanted.
  }
  session.forget();
  showSignIn();
  $("status").textContent = "Signed out.";
  $("status").hidden = false;
}

export async function start() {
  // Before anything else: the one-time code leaves the address bar.
  const sso = takeSsoResult();
  // A keyboard user's first Tab offers to skip the header and navigation.
  const skip = h("a", { className: "skip-link", href: "#" }, "Skip to content");
  skip.addEventListener("click", (event) => {
    event.preventDefault();
    $("screen").focus();
  });
  document.body.prepend(skip);
  $("sign-out").addEventListener("click", signOut);
  window.addEventListener("hashchange", () => route());
  onSessionEnd(() => showSignIn("Your session has ended. Please sign in again."));

  if (sso && sso.code) {
    try {
      return await enter(await exchangeSsoCode(sso.code));
    } catch (error) {
      return showSignIn("Single sign-on did not complete: " + describe(error));
    }
  }
  if (sso && sso.error) return showSignIn(ssoErrorMessage(sso.error));
  if (session.token()) {
    try {
      // A token left from earlier in this tab is checked before it is trusted.
      return await enter(await api("GET", "/api/users/me/"));
    } catch {
      session.forget();
    }
  }
  showSignIn();
}
