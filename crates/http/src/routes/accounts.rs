//! `/api/users/`, `/api/users/me/`, `/api/auth/token/`.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::accounts::{self, ProfileUpdate, Registration};
use libris_domain::accounts::Account;
use libris_domain::values::{parse_bio, Email, Password, Phone, Username};
use libris_domain::ValidationErrors;
use serde::{Deserialize, Serialize};

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, Authenticated, BearerToken, JsonBody, Pagination};
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
#[derive(Debug, Serialize)]
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

#[derive(Debug, Deserialize)]
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

async fn register(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<RegisterBody>,
) -> Result<HttpResponse, ApiError> {
    let registration = body.parse()?;
    let account = blocking(move || {
        accounts::register(
            &*state.store,
            &*state.clock,
            &*state.hasher,
            registration,
            false,
        )
    })
    .await?;
    tracing::info!(user_id = account.user.id, "user registered");
    Ok(HttpResponse::Created().json(UserResponse::from(account)))
}

async fn list_users(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    Pagination(page): Pagination,
) -> Result<HttpResponse, ApiError> {
    let users = blocking(move || accounts::list_users(&*state.store, &admin, page)).await?;
    Ok(HttpResponse::Ok().json(users.map(UserResponse::from)))
}

async fn me(
    state: web::Data<AppState>,
    Authenticated(caller): Authenticated,
) -> Result<HttpResponse, ApiError> {
    let account = blocking(move || accounts::me(&*state.store, &caller)).await?;
    Ok(HttpResponse::Ok().json(UserResponse::from(account)))
}

#[derive(Debug, Deserialize)]
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

#[derive(Debug, Deserialize)]
struct TokenBody {
    username: String,
    password: String,
}

#[derive(Debug, Serialize)]
struct TokenResponse {
    token: String,
    user: UserResponse,
}

async fn issue_token(
    state: web::Data<AppState>,
    JsonBody(body): JsonBody<TokenBody>,
) -> Result<HttpResponse, ApiError> {
    let (token, account) = blocking(move || {
        accounts::issue_token(
            &*state.store,
            &*state.clock,
            &*state.hasher,
            &*state.tokens,
            &body.username,
            &body.password,
        )
    })
    .await?;
    tracing::info!(user_id = account.user.id, "token issued");
    Ok(HttpResponse::Ok().json(TokenResponse {
        token,
        user: account.into(),
    }))
}

/// Revokes the token the request is authenticated with (logout).
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
