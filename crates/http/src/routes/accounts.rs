//! `/api/users/`, `/api/users/me/`, `/api/users/{id}/`, `/api/auth/token/`:
//! registration and tokens, the caller's own profile, and the admin's member
//! directory.

use std::net::IpAddr;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::access::Admin;
use libris_application::accounts::{self, LoginError, ProfileUpdate, Registration};
use libris_application::members::{self, MemberUpdate, NewMember};
use libris_application::Caller;
use libris_domain::accounts::Account;
use libris_domain::members::{Phone, Tags, TimeZoneName};
use libris_domain::values::{parse_bio, Email, Password, Username};
use libris_domain::{FieldError, ValidationErrors};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{nullable, required};
use crate::client::TrustedProxies;
use crate::errors::ApiError;
use crate::extract::{
    bearer_token, blocking, json_value, shape_error, AdminCaller, Authenticated, BearerToken,
    JsonBody, Pagination, RawBody,
};
use crate::openapi::{ErrorBody, Listed, PageParams};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users")
            .route(web::post().to(register))
            .route(web::get().to(list_users)),
    )
    // Before `/users/{id}`, which would take `me` for an id.
    .service(
        web::resource("/users/me")
            .route(web::get().to(me))
            .route(web::patch().to(update_me)),
    )
    .service(
        web::resource("/users/{id}")
            .route(web::get().to(get_user))
            .route(web::patch().to(update_user))
            .route(web::delete().to(delete_user)),
    )
    .service(
        web::resource("/auth/token")
            .route(web::post().to(issue_token))
            .route(web::delete().to(revoke_token)),
    );
}

/// A member: the user with the profile's fields at top level. Never a
/// password or its hash.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    id: i64,
    username: String,
    /// Empty when the member has none.
    email: String,
    is_admin: bool,
    /// Whether the member can sign in (an admin may create one without a
    /// password).
    has_password: bool,
    bio: String,
    /// `7XXXXXXXXXX`, empty, or a phone stored before that rule, kept as it
    /// was until changed.
    #[schema(example = "79161234567")]
    phone: String,
    /// Read-only: the three digits after the leading 7 of `phone`; `null`
    /// for no phone or one that does not fit the rule (no SMS then).
    #[schema(example = "916")]
    operator_code: Option<String>,
    /// Lowercase labels, alphabetical.
    #[schema(example = json!(["night_owl", "vip"]))]
    tags: Vec<String>,
    /// An IANA time zone name.
    #[schema(example = "Europe/Moscow")]
    timezone: String,
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
            has_password: user.has_password,
            bio: profile.bio,
            phone: profile.phone,
            operator_code: profile.operator_code,
            tags: profile.tags,
            timezone: profile.timezone,
            books_borrowed: profile.books_borrowed,
            books_returned: profile.books_returned,
            subscribed_to_notifications: profile.subscribed_to_notifications,
            created_at: user.created_at,
        }
    }
}

/// A well-formed JSON value read as `T`; the wrong shape is 422 naming the
/// field.
fn from_value<T: DeserializeOwned>(value: serde_json::Value) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(value).map_err(|e| ApiError::invalid(shape_error(&e).into()))
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

/// An empty or null email means none.
fn parse_email(raw: Option<String>) -> Result<Option<Email>, FieldError> {
    match raw.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(email) => Email::parse(email).map(Some),
    }
}

/// A member's attributes as an admin sends them. POST: `username` is
/// required, the rest has defaults (no email, no password: the member
/// cannot sign in). PATCH: what is given changes. `operator_code` is
/// derived from `phone` and never read.
#[derive(Debug, Deserialize, ToSchema)]
struct MemberBody {
    username: Option<String>,
    /// `null` or `""`: none.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    email: Option<Option<String>>,
    /// At least 8 characters; `null`: none (PATCH: removes it and revokes
    /// the member's tokens; a new one revokes them too).
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    password: Option<Option<String>>,
    is_admin: Option<bool>,
    bio: Option<String>,
    /// Spaces, hyphens, parentheses and one leading `+` are dropped; then
    /// 11 digits starting with 7, or empty.
    #[schema(example = "+7 (916) 123-45-67")]
    phone: Option<String>,
    subscribed_to_notifications: Option<bool>,
    /// `[a-z0-9_-]{1,32}` after lowering the case, at most 20; duplicates
    /// collapse. Replaces the member's tags.
    tags: Option<Vec<String>>,
    /// An IANA name; `UTC` by default.
    timezone: Option<String>,
}

impl MemberBody {
    /// The profile fields, checked, into `update`.
    fn parse_profile(
        bio: Option<String>,
        phone: Option<String>,
        subscribed_to_notifications: Option<bool>,
        tags: Option<Vec<String>>,
        timezone: Option<String>,
        errors: &mut ValidationErrors,
    ) -> ProfileUpdate {
        ProfileUpdate {
            bio: bio.and_then(|bio| errors.check(parse_bio(&bio))),
            phone: phone.and_then(|phone| errors.check(Phone::parse(&phone))),
            subscribed_to_notifications,
            tags: tags.and_then(|tags| errors.check(Tags::parse(&tags))),
            timezone: timezone.and_then(|tz| errors.check(TimeZoneName::parse(&tz))),
        }
    }

    fn parse_new(self) -> Result<NewMember, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let username =
            errors.check(required("username", self.username).and_then(|u| Username::parse(&u)));
        let email = errors.check(parse_email(self.email.flatten()));
        let password = errors.check(
            self.password
                .flatten()
                .map(|p| Password::parse(&p))
                .transpose(),
        );
        let profile = Self::parse_profile(
            self.bio,
            self.phone,
            self.subscribed_to_notifications,
            self.tags,
            self.timezone,
            &mut errors,
        );
        match (username, email, password, errors.is_empty()) {
            (Some(username), Some(email), Some(password), true) => Ok(NewMember {
                username,
                email,
                password,
                is_admin: self.is_admin.unwrap_or(false),
                bio: profile.bio.unwrap_or_default(),
                phone: profile.phone.unwrap_or_default(),
                subscribed_to_notifications: profile.subscribed_to_notifications.unwrap_or(true),
                tags: profile.tags.unwrap_or_default(),
                timezone: profile.timezone.unwrap_or_default(),
            }),
            _ => Err(errors),
        }
    }

    fn parse_update(self) -> Result<MemberUpdate, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let update = MemberUpdate {
            username: self
                .username
                .and_then(|u| errors.check(Username::parse(&u))),
            email: self.email.and_then(|e| errors.check(parse_email(e))),
            password: self
                .password
                .and_then(|p| errors.check(p.map(|p| Password::parse(&p)).transpose())),
            is_admin: self.is_admin,
            profile: Self::parse_profile(
                self.bio,
                self.phone,
                self.subscribed_to_notifications,
                self.tags,
                self.timezone,
                &mut errors,
            ),
        };
        errors.into_result().map(|()| update)
    }
}

/// The admin behind the request's bearer token, if it has one: `None` for
/// no token and for a member's; 401 for a token that is not live.
async fn optional_admin(
    state: &web::Data<AppState>,
    request: &HttpRequest,
) -> Result<Option<Admin>, ApiError> {
    let Some(token) = bearer_token(request) else {
        return Ok(None);
    };
    let state = state.clone();
    let account =
        blocking(move || accounts::authenticate(&*state.store, &*state.tokens, &token)).await?;
    let account = account.ok_or_else(ApiError::unauthorized)?;
    Ok(Admin::check(Caller::from(&account.user)).ok())
}

/// Registers a member (anyone), or creates one with every attribute (an
/// admin's token).
///
/// Without a token, or with a member's, this is registration: only
/// `username`, `email` and `password` are read (all three required) and the
/// member is never an admin. With an admin's token every attribute of the
/// member is read, `is_admin` included; only `username` is required, and a
/// member created without a password cannot sign in. Either way the profile
/// is created in the same transaction and `user.created` is recorded.
#[utoipa::path(
    post,
    path = "/api/users/",
    operation_id = "register",
    tag = "accounts",
    request_body(content = MemberBody, description = "Registration: `{username, email, password}`; \
        with an admin's bearer token, any attribute of the member"),
    responses(
        (status = 201, description = "The new member", body = UserResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "A bearer token was sent and is not live", body = ErrorBody),
        (status = 409, description = "The username, or the email (case-insensitively), is another \
            member's", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn register(
    request: HttpRequest,
    state: web::Data<AppState>,
    RawBody(bytes): RawBody,
) -> Result<HttpResponse, ApiError> {
    let body = json_value(&bytes)?;
    if let Some(admin) = optional_admin(&state, &request).await? {
        return create_member(state, admin, from_value(body)?).await;
    }
    let registration = from_value::<RegisterBody>(body)?.parse()?;
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

async fn create_member(
    state: web::Data<AppState>,
    admin: Admin,
    body: MemberBody,
) -> Result<HttpResponse, ApiError> {
    let new = body.parse_new()?;
    let hashes = new.password.is_some();
    let work = {
        let state = state.clone();
        move || members::create_member(&*state.store, &*state.clock, &*state.hasher, &admin, new)
    };
    // Only a password takes one of the few slots for hashing: members
    // created without one (a bulk load) need none.
    let account = if hashes {
        with_password_work(&state, work).await?
    } else {
        blocking(work).await?
    };
    tracing::info!(user_id = account.user.id, "member created");
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

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
struct UserQuery {
    /// Only members with this tag (its case is ignored).
    tag: Option<String>,
    /// Only members with this operator code.
    operator_code: Option<String>,
    /// Only members whose username or email contains this text, ignoring
    /// case.
    q: Option<String>,
}

/// Lists members with every attribute, newest first (admin).
#[utoipa::path(
    get,
    path = "/api/users/",
    operation_id = "list_users",
    tag = "accounts",
    params(UserQuery, PageParams),
    security(("bearer" = [])),
    responses(
        (status = 200, description = "A page of members", body = Listed<UserResponse>),
        (status = 400, description = "Invalid query", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
async fn list_users(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    query: web::Query<UserQuery>,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let query = query.into_inner();
    let filter = members::member_filter(query.tag, query.operator_code, query.q);
    let users =
        blocking(move || members::list_members(&*state.store, &admin, &filter, page)).await?;
    Ok(HttpResponse::Ok().json(users.map(UserResponse::from)))
}

/// One member with every attribute (admin).
#[utoipa::path(
    get,
    path = "/api/users/{id}/",
    operation_id = "get_user",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The member", body = UserResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
    )
)]
async fn get_user(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let account = blocking(move || members::get_member(&*state.store, &admin, id)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(account)))
}

/// Changes any attribute of a member, `is_admin` included (admin), and
/// records `user.updated` (`{id, username, email, is_admin, changes}`, about
/// the member). A new or removed password revokes the member's tokens.
#[utoipa::path(
    patch,
    path = "/api/users/{id}/",
    operation_id = "update_user",
    tag = "accounts",
    request_body = MemberBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The changed member", body = UserResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "The username or email is another member's, or this would \
            demote the last admin", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
async fn update_user(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<MemberBody>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let update = body.parse_update()?;
    let hashes = matches!(update.password, Some(Some(_)));
    let work = {
        let state = state.clone();
        move || {
            members::update_member(
                &*state.store,
                &*state.clock,
                &*state.hasher,
                &admin,
                id,
                update,
            )
        }
    };
    let account = if hashes {
        with_password_work(&state, work).await?
    } else {
        blocking(work).await?
    };
    tracing::info!(user_id = id, "member updated");
    Ok(HttpResponse::Ok().json(UserResponse::from(account)))
}

/// Deletes a member (admin) and records `user.deleted` (`{id, username}`).
/// Their profile, tags, tokens and webhooks go with them; their returned
/// loans, audit entries, events and attempt logs stay, with their id and
/// username.
#[utoipa::path(
    delete,
    path = "/api/users/{id}/",
    operation_id = "delete_user",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "The member has a book on loan, or is the last admin",
            body = ErrorBody),
    )
)]
async fn delete_user(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    blocking(move || members::delete_member(&*state.store, &*state.clock, &admin, id)).await?;
    tracing::info!(user_id = id, "member deleted");
    Ok(HttpResponse::NoContent().finish())
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

/// The fields a member may change; absent ones are kept, and any other
/// field (`is_admin`, `email`, ...) is ignored.
#[derive(Debug, Deserialize, ToSchema)]
struct ProfileBody {
    bio: Option<String>,
    /// Spaces, hyphens, parentheses and one leading `+` are dropped; then
    /// 11 digits starting with 7, or empty.
    #[schema(example = "+7 (916) 123-45-67")]
    phone: Option<String>,
    subscribed_to_notifications: Option<bool>,
    /// `[a-z0-9_-]{1,32}` after lowering the case, at most 20; duplicates
    /// collapse. Replaces the caller's tags.
    tags: Option<Vec<String>>,
    /// An IANA name such as `Europe/Moscow`.
    timezone: Option<String>,
}

impl ProfileBody {
    fn parse(self) -> Result<ProfileUpdate, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let update = MemberBody::parse_profile(
            self.bio,
            self.phone,
            self.subscribed_to_notifications,
            self.tags,
            self.timezone,
            &mut errors,
        );
        errors.into_result().map(|()| update)
    }
}

/// Changes the caller's `bio`, `phone`, `subscribed_to_notifications`,
/// `tags` or `timezone` (never `is_admin`), and records `user.updated` about
/// them.
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
        blocking(move || accounts::update_profile(&*state.store, &*state.clock, &caller, update))
            .await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(account)))
}

#[derive(Debug, Deserialize, ToSchema)]
struct TokenBody {
    username: String,
    password: String,
}

/// A bearer token and its user: a password sign-in's answer, and a single
/// sign-on's (`routes::sso`).
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct TokenResponse {
    token: String,
    user: UserResponse,
}

impl TokenResponse {
    pub(crate) fn new(token: String, account: Account) -> Self {
        Self {
            token,
            user: account.into(),
        }
    }
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
    Ok(HttpResponse::Ok().json(TokenResponse::new(token, account)))
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
