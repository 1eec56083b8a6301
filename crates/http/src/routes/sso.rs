//! Single sign-on to the console (docs/sso.md): the browser's round trip
//! through the provider (`/admin/oidc/login`, `/admin/oidc/callback`), the
//! console's trade of its one-time code for a token
//! (`/api/auth/oidc/exchange/`), and whether SSO is on (`/api/auth/oidc/`).
//!
//! The callback never puts a token in a URL: it hands the console a
//! one-time code in the fragment (`/admin/#oidc_code=…`), which browsers
//! send to no server, and the console trades it with a POST.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use libris_application::sso::exchange::exchange_code;
use libris_application::sso::login::{remember_login, take_pending_login};
use libris_application::sso::sign_in::sign_in;
use serde::{Deserialize, Serialize};
use tracing::Instrument;
use utoipa::ToSchema;

use super::accounts::TokenResponse;
use crate::errors::{ApiError, SignInFailure};
use crate::extract::{blocking, JsonBody};
use crate::openapi::ErrorBody;
use crate::state::{AppState, SingleSignOn};

/// The cookie that ties a callback to the browser that started the sign-in.
const STATE_COOKIE: &str = "libris_oidc_state";
/// The cookie's path: sent to the callback only.
const COOKIE_PATH: &str = "/admin/oidc";
/// As long as a pending login lives.
const COOKIE_MAX_AGE: i64 = libris_application::sso::PENDING_LOGIN_LIFETIME.num_seconds();
/// Where the console reads the outcome.
const CONSOLE: &str = "/admin/";

/// The browser's round trip; outside `/api`, before the console's scope.
pub fn configure_console(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::scope(COOKIE_PATH)
            .route("/login", web::get().to(login))
            .route("/callback", web::get().to(callback)),
    );
}

/// Under `/api`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/auth/oidc").route(web::get().to(status)))
        .service(web::resource("/auth/oidc/exchange").route(web::post().to(exchange)));
}

/// `libris_oidc_state`: `HttpOnly` (no script reads it), `SameSite=Lax` (the
/// provider's redirect back is a cross-site top-level GET: `Strict` would
/// leave the cookie behind and fail every sign-in; `Lax` still keeps it off
/// cross-site subrequests and POSTs), `Secure` when served over https.
fn state_cookie(value: &str, max_age: i64, sso: &SingleSignOn) -> String {
    let secure = if sso.secure_cookie { "; Secure" } else { "" };
    format!(
        "{STATE_COOKIE}={value}; Path={COOKIE_PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    )
}

/// The state cookie the request carries, if any.
fn cookie_state(request: &HttpRequest) -> Option<String> {
    request
        .headers()
        .get_all(header::COOKIE)
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == STATE_COOKIE)
        .map(|(_, value)| value.to_owned())
}

/// A 303 to `location` that no cache keeps.
fn see_other(location: &str) -> actix_web::HttpResponseBuilder {
    let mut response = HttpResponse::SeeOther();
    response
        .insert_header((header::LOCATION, location))
        .insert_header((header::CACHE_CONTROL, "no-store"));
    response
}

/// Back to the console with the reason it shows (console-spec).
fn back_with_error(reason: &str) -> actix_web::HttpResponseBuilder {
    see_other(&format!("{CONSOLE}#oidc_error={reason}"))
}

/// Starts a sign-in: stores its secrets, sets the state cookie and sends the
/// browser to the provider. Without a provider, or with one that cannot be
/// reached, back to the console with `not_configured` or `provider_error`.
async fn login(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let Some(sso) = &state.sso else {
        return Ok(back_with_error(SignInFailure::NotConfigured.reason()).finish());
    };
    let (url, pending) = match sso.provider.authorization_url().await {
        Ok(started) => started,
        Err(e) => return Ok(back_with_error(SignInFailure::from(e).reason()).finish()),
    };
    let cookie = state_cookie(&pending.state, COOKIE_MAX_AGE, sso);
    let shared = state.clone();
    blocking(move || remember_login(&*shared.store, &*shared.clock, &pending)).await?;
    Ok(see_other(&url)
        .insert_header((header::SET_COOKIE, cookie))
        .finish())
}

#[derive(Debug, Deserialize)]
struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    /// The provider's refusal (`access_denied`, …).
    error: Option<String>,
}

/// The provider sends the browser back here. A provider's `error` is
/// `provider_error`. Otherwise the state must be this
/// browser's cookie and a pending login stored less than ten minutes ago;
/// then the code is redeemed and the ID token verified, and the identity
/// must be linked to a user (or carry a verified email of one). Success
/// sends the console a one-time code; the cookie is cleared either way.
async fn callback(
    request: HttpRequest,
    state: web::Data<AppState>,
    query: web::Query<CallbackQuery>,
) -> Result<HttpResponse, ApiError> {
    let Some(sso) = &state.sso else {
        return Ok(back_with_error(SignInFailure::NotConfigured.reason()).finish());
    };
    let clear = state_cookie("", 0, sso);
    // The request's span records its target, whose query holds the
    // provider's code and the state: the sign-in logs under a span of its
    // own, outside it.
    let outcome = finish_sign_in(&state, sso, cookie_state(&request), query.into_inner())
        .instrument(tracing::info_span!(parent: None, "single sign-on callback"))
        .await;
    let mut response = match outcome {
        Ok(code) => see_other(&format!("{CONSOLE}#oidc_code={code}")).finish(),
        // A 500 clears the state cookie too: that sign-in is over either way.
        Err(SignInFailure::Unexpected(e)) => actix_web::ResponseError::error_response(&e),
        Err(failure) => back_with_error(failure.reason()).finish(),
    };
    response.headers_mut().insert(
        header::SET_COOKIE,
        header::HeaderValue::from_str(&clear).map_err(|e| ApiError::internal(&e))?,
    );
    Ok(response)
}

/// The one-time code for the signed-in user, or why there is none.
async fn finish_sign_in(
    state: &web::Data<AppState>,
    sso: &SingleSignOn,
    cookie: Option<String>,
    query: CallbackQuery,
) -> Result<String, SignInFailure> {
    // A refusal signs no one in, so it needs no state; some providers send
    // none with it. The pending login it leaves is swept later.
    if let Some(error) = query.error {
        tracing::warn!(error = %error, "the identity provider refused the sign-in");
        return Err(SignInFailure::ProviderRefused);
    }
    let pending = {
        let state = state.clone();
        let param = query.state.clone();
        blocking(move || {
            Ok::<_, ApiError>(take_pending_login(
                &*state.store,
                &*state.clock,
                param.as_deref(),
                cookie.as_deref(),
            ))
        })
        .await??
    };
    let Some(code) = query.code else {
        tracing::warn!("the identity provider sent no code");
        return Err(SignInFailure::ProviderRefused);
    };
    let identity = sso.provider.finish(code, pending).await?;
    let state = state.clone();
    Ok(blocking(move || {
        Ok::<_, ApiError>(sign_in(
            &*state.store,
            &*state.clock,
            &*state.tokens,
            &identity,
        ))
    })
    .await??)
}

#[derive(Debug, Serialize, ToSchema)]
struct SsoStatus {
    /// Whether an identity provider is configured: the console shows "Sign
    /// in with single sign-on" only then.
    enabled: bool,
}

/// Whether single sign-on is configured.
#[utoipa::path(
    get,
    path = "/api/auth/oidc/",
    operation_id = "sso_status",
    tag = "accounts",
    responses((status = 200, description = "Whether SSO is on", body = SsoStatus))
)]
async fn status(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(SsoStatus {
        enabled: state.sso.is_some(),
    })
}

#[derive(Debug, Deserialize, ToSchema)]
struct ExchangeBody {
    /// The one-time code from `/admin/#oidc_code=…`.
    code: String,
}

/// Trades the one-time code a single sign-on gave the console for a bearer
/// token, as `POST /api/auth/token/` answers. A code works once, within 60
/// seconds of the sign-in.
#[utoipa::path(
    post,
    path = "/api/auth/oidc/exchange/",
    operation_id = "sso_exchange",
    tag = "accounts",
    request_body = ExchangeBody,
    responses(
        (status = 200, description = "A token and its user", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "The code is unknown, used or expired", body = ErrorBody),
        (status = 422, description = "A field is missing or mistyped", body = ErrorBody),
    )
)]
async fn exchange(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<ExchangeBody>,
) -> Result<HttpResponse, ApiError> {
    let (token, account) =
        blocking(move || exchange_code(&*state.store, &*state.clock, &*state.tokens, &body.code))
            .await?;
    Ok(HttpResponse::Ok().json(TokenResponse::new(token, account)))
}
