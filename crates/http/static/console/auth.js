// Signing in: with a password, or with single sign-on (OpenID Connect),
// whose callback hands the console a one-time code in the hash.

import { api, ApiError, describe, session } from "./api.js";
import { h } from "./dom.js";
import { warn } from "./feedback.js";

const SSO_MESSAGES = {
  unknown_identity: "This single sign-on account is not linked to a Libris user. Ask an administrator to link it.",
  state_mismatch: "The sign-in could not be verified (the request did not start here or has expired). Please try again.",
  token_invalid: "The identity provider's answer could not be verified (it may have expired). Please try again.",
  provider_error: "The identity provider refused or failed the sign-in. Please try again, or sign in with your password.",
  not_configured: "Single sign-on is not configured on this Libris. Sign in with your password.",
};

// Takes `oidc_code` or `oidc_error` out of the hash before anything else
// runs: a one-time code must not stay in the address bar, the history or
// a bookmark. Answers what was there.
export function takeSsoResult() {
  const params = new URLSearchParams(location.hash.replace(/^#/, ""));
  const code = params.get("oidc_code");
  const error = params.get("oidc_error");
  if (code === null && error === null) return null;
  history.replaceState(null, "", location.pathname + location.search);
  return { code, error };
}

export function ssoErrorMessage(reason) {
  return SSO_MESSAGES[reason] || `Single sign-on failed (${reason}). Please try again.`;
}

// Exchanges the one-time code for a session; answers the user.
export async function exchangeSsoCode(code) {
  const answer = await api("POST", "/api/auth/oidc/exchange/", { body: { code }, signInCall: true });
  session.keep(answer.token);
  return answer.user;
}

async function ssoEnabled() {
  try {
    const answer = await api("GET", "/api/auth/oidc/", { signInCall: true });
    return Boolean(answer && answer.enabled);
  } catch {
    // A Libris without single sign-on: the password form alone.
    return false;
  }
}

// The sign-in screen; `signedIn(user)` runs after a password sign-in.
export function signInScreen(container, signedIn) {
  const username = h("input", { id: "sign-in-username", name: "username", autocomplete: "username", required: true });
  const password = h("input", { id: "sign-in-password", name: "password", type: "password", autocomplete: "current-password", required: true });
  const submit = h("button", { type: "submit", className: "primary" }, "Sign in");
  // method="post": should the script fail, the password stays out of the URL.
  const form = h(
    "form",
    { className: "sign-in", method: "post" },
    h("div", { className: "field" }, h("label", { htmlFor: "sign-in-username" }, "Username"), username),
    h("div", { className: "field" }, h("label", { htmlFor: "sign-in-password" }, "Password"), password),
    h("div", { className: "dialog-actions" }, submit),
  );
  const sso = h("p", { className: "sso", hidden: true }, h("a", { href: "/admin/oidc/login", className: "button-link" }, "Sign in with single sign-on"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    submit.disabled = true;
    try {
      const answer = await api("POST", "/api/auth/token/", {
        body: { username: username.value, password: password.value },
        signInCall: true,
      });
      password.value = "";
      session.keep(answer.token);
      warn("");
      await signedIn(answer.user);
    } catch (error) {
      warn(error instanceof ApiError && error.status === 401 ? "Wrong username or password." : describe(error));
      password.focus();
    } finally {
      submit.disabled = false;
    }
  });
  const title = h("h2", { tabindex: "-1" }, "Sign in");
  container.replaceChildren(h("section", { className: "sign-in-screen" }, title, form, sso));
  ssoEnabled().then((enabled) => {
    sso.hidden = !enabled;
  });
  username.focus();
}
