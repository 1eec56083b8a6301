//! `/api/users/`, `/api/users/me/`, `/api/auth/token/`.

use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::accounts::{self, LoginError, ProfileUpdate, Registration};
use libris_domain::accounts::Account;
use libris_domain::values::{parse_bio, Email, Password, Phone, Username};
use libris_domain::ValidationErrors;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::client::TrustedProxies;
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Authenticated, BearerToken, JsonBody, Pagination};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::post().to(register))
            .route(web::get().to(list_users)),
    )
    .service(
        web::resource("/users/me")
            .route(web::get().to(me))
            .route(web::patch().to(update_me)),
    )
    .service(
        web::resource("/auth/token")
            .route(web::post().to(issue_token))
            .route(web::delete().to(revoke_token)),
    );
}

/// A user with the profile's fields at top level.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    id: i64,
    username: String,
    email: String,
    is_admin: bool,
    bio: String,
    phone: String,
    books_borrowed: i64,
    books_returned: i64,
    subscribed_to_notifications: bool,
    created_at: DateTime<Utc>,
}

impl From<Account> for UserResponse {
    fn from(Account { user, profile }: Account) -> Self {
        Self {
            id: user.id,
            username: user.username,
            email: user.email,
            is_admin: user.is_admin,
            bio: profile.bio,
            phone: profile.phone,
            books_borrowed: profile.books_borrowed,
            books_returned: profile.books_returned,
            subscribed_to_notifications: profile.subscribed_to_notifications,
            created_at: user.created_at,
        }
    }
}

#[derive(Debug, Deserialize, ToSchema)]
struct RegisterBody {
    username: String,
    email: String,
    password: String,
}

impl RegisterBody {
    fn parse(self) -> Result<Registration, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let username = errors.check(Username::parse(&self.username));
        let email = errors.check(Email::parse(&self.email));
        let password = errors.check(Password::parse(&self.password));
        match (username, email, password) {
            (Some(username), Some(email), Some(password)) => Ok(Registration {
                username,
                email,
                password,
            }),
            _ => Err(errors),
        }
    }
}

/// Registers a member; the profile is created in the same transaction.
#[utoipa::path(
    post,
    path = "/api/users/",
    operation_id = "register",
    tag = "accounts",
    request_body = RegisterBody,
    responses(
        (status = 201, description = "The new user", body = UserResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 409, description = "The username is taken", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn register(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let registration = body.parse()?;
    let account = with_password_work(&state, {
        let state = state.clone();
        move || {
            accounts::register(
                &*state.store,
                &*state.clock,
                &*state.hasher,
                registration,
                false,
            )
        }
    })
    .await?;
    tracing::info!(user_id = account.user.id, "user registered");
    Ok(HttpResponse::Created().json(UserResponse::from(account)))
}

/// Runs work that hashes a password once one of the few slots for it is
/// free. Waiting happens here, on the async side, holding no blocking thread.
async fn with_password_work<T, E>(
    state: &AppState,
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    // The semaphore is never closed, so acquiring fails only in theory.
    let _slot = state
        .password_work
        .acquire()
        .await
        .map_err(|e| ApiError::internal(&e))?;
    blocking(work).await
}

/// Lists users with their profiles (admin).
#[utoipa::path(
    get,
    path = "/api/users/",
    operation_id = "list_users",
    tag = "accounts",
    params(PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of users", body = Listed<UserResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list_users(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let users = blocking(move || accounts::list_users(&*state.store, &admin, page)).await?;
    Ok(HttpResponse::Ok().json(users.map(UserResponse::from)))
}

/// The caller, with the profile's fields at top level.
#[utoipa::path(
    get,
    path = "/api/users/me/",
    operation_id = "get_me",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The caller", body = UserResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
    )
)]
async fn me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let account = blocking(move || accounts::me(&*state.store, &caller)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(account)))
}

/// The fields a member may change; absent ones are kept.
#[derive(Debug, Deserialize, ToSchema)]
struct ProfileBody {
    bio: Option<String>,
    phone: Option<String>,
    subscribed_to_notifications: Option<bool>,
}

impl ProfileBody {
    fn parse(self) -> Result<ProfileUpdate, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let update = ProfileUpdate {
            bio: self.bio.and_then(|bio| errors.check(parse_bio(&bio))),
            phone: self
                .phone
                .and_then(|phone| errors.check(Phone::parse(&phone))),
            subscribed_to_notifications: self.subscribed_to_notifications,
        };
        errors.into_result().map(|()| update)
    }
}

/// Changes the caller's `bio`, `phone` or `subscribed_to_notifications`.
#[utoipa::path(
    patch,
    path = "/api/users/me/",
    operation_id = "update_me",
    tag = "accounts",
    request_body = ProfileBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The updated caller", body = UserResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn update_me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
    JsonBody(body): JsonBody<ProfileBody>,
) -> Result<HttpResponse, ApiError> {
    let update = body.parse()?;
    let account =
        blocking(move || accounts::update_profile(&*state.store, &caller, update)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(account)))
}

#[derive(Debug, Deserialize, ToSchema)]
struct TokenBody {
    username: String,
    password: String,
}

#[derive(Debug, Serialize, ToSchema)]
struct TokenResponse {
    token: String,
    user: UserResponse,
}

/// Logs in: a bearer token for the user.
#[utoipa::path(
    post,
    path = "/api/auth/token/",
    operation_id = "issue_token",
    tag = "accounts",
    request_body = TokenBody,
    responses(
        (status = 200, description = "A token and its user", body = TokenResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "Unknown username or wrong password", body = ErrorBody),
        (status = 422, description = "A field is missing or mistyped", body = ErrorBody),
        (status = 429, description = "Too many failed logins from this address (for this account or \
            in all): wait the `Retry-After` seconds. It slows guessing down and never locks an \
            account: other addresses are not affected.", body = ErrorBody,
            headers(("Retry-After" = u64, description = "Seconds to wait before trying again"))),
    )
)]
async fn issue_token(
    request: HttpRequest,
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let source = TrustedProxies::client_of(&request);
    // A throttled login is refused before it queues for a password slot.
    if let Some(source) = source {
        state
            .logins
            .admit(source, &body.username, state.clock.now())?;
    }
    let (token, account) = with_password_work(&state, {
        let state = state.clone();
        move || checked_login(&state, source, &body.username, &body.password)
    })
    .await?;
    tracing::info!(user_id = account.user.id, "token issued");
    Ok(HttpResponse::Ok().json(TokenResponse {
        token,
        user: account.into(),
    }))
}

/// A login under the throttle, run once a password slot is held. The
/// throttle is asked again here: guesses sent at once all passed the check
/// made before queueing while earlier ones were still being verified. The
/// outcome is counted before the slot is given back, so the next guess in
/// line sees it.
fn checked_login(
    state: &AppState,
    source: Option<IpAddr>,
    username: &str,
    password: &str,
) -> Result<(String, Account), ApiError> {
    let now = state.clock.now();
    if let Some(source) = source {
        state.logins.admit(source, username, now)?;
    }
    let outcome = accounts::issue_token(
        &*state.store,
        &*state.clock,
        &*state.hasher,
        &*state.tokens,
        username,
        password,
    );
    match (&outcome, source) {
        (Ok(_), Some(source)) => state.logins.record_success(source, username),
        (Err(LoginError::InvalidCredentials), Some(source)) => {
            state.logins.record_failure(source, username, now);
        }
        _ => {}
    }
    Ok(outcome?)
}

/// Revokes the token the request is authenticated with (logout).
#[utoipa::path(
    delete,
    path = "/api/auth/token/",
    operation_id = "revoke_token",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "The token no longer works"),
        (status = 401, description = "No live bearer token", body = ErrorBody),
    )
)]
async fn revoke_token(
    state: web::Data<AppState>,
    BearerToken(token): BearerToken,
) -> Result<HttpResponse, ApiError> {
    // Revoking is the lookup: a token that revokes nothing was not live.
    let revoked =
        blocking(move || accounts::revoke_token(&*state.store, &*state.tokens, &token)).await?;
    if !revoked {
        return Err(ApiError::unauthorized());
    }
    Ok(HttpResponse::NoContent().finish())
}
