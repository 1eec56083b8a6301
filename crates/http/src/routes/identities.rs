//! `/api/users/{id}/identities/`: the provider accounts that sign in as a
//! member (admin). See docs/sso.md for when a sign-in links one by itself.

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use libris_application::sso::identities::{
    link_identity, list_identities, unlink_identity, IdentityKey,
};
use libris_application::sso::Identity;
use libris_application::Paged;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, JsonBody};
use crate::openapi::{ErrorBody, Listed};
use crate::state::AppState;

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/users/{id}/identities")
            .route(web::get().to(list))
            .route(web::post().to(create)),
    )
    .service(web::resource("/users/{id}/identities/{identity_id}").route(web::delete().to(delete)));
}

/// A provider account linked to a member.
#[derive(Debug, Serialize, ToSchema)]
pub struct IdentityResponse {
    id: i64,
    /// The provider's issuer URL.
    #[schema(example = "https://accounts.google.com")]
    issuer: String,
    /// The provider's id of the person (`sub`).
    subject: String,
    /// The email the provider gave when it linked by email; empty for a
    /// link an admin made.
    email: String,
    created_at: DateTime<Utc>,
}

impl From<Identity> for IdentityResponse {
    fn from(identity: Identity) -> Self {
        Self {
            id: identity.id,
            issuer: identity.issuer,
            subject: identity.subject,
            email: identity.email,
            created_at: identity.created_at,
        }
    }
}

/// The member's linked identities, oldest first (admin).
#[utoipa::path(
    get,
    path = "/api/users/{id}/identities/",
    operation_id = "list_identities",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Every link of the member", body = Listed<IdentityResponse>),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
    )
)]
async fn list(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
) -> Result<HttpResponse, ApiError> {
    let user_id = id.into_inner();
    let identities = blocking(move || list_identities(&*state.store, &admin, user_id)).await?;
    let results: Vec<IdentityResponse> = identities.into_iter().map(Into::into).collect();
    Ok(HttpResponse::Ok().json(Paged {
        count: results.len() as i64,
        results,
    }))
}

#[derive(Debug, Deserialize, ToSchema)]
struct IdentityBody {
    /// The provider's id of the person (`sub` in its ID tokens).
    subject: String,
    /// Default: the configured `LIBRIS_OIDC_ISSUER`.
    issuer: Option<String>,
}

/// Links a provider account to the member: it then signs in as them
/// (admin).
#[utoipa::path(
    post,
    path = "/api/users/{id}/identities/",
    operation_id = "create_identity",
    tag = "accounts",
    request_body = IdentityBody,
    security(("bearer" = [])),
    responses(
        (status = 201, description = "The link", body = IdentityResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such member", body = ErrorBody),
        (status = 409, description = "This (issuer, subject) is linked already", body = ErrorBody),
        (status = 422, description = "An empty subject, or no issuer given and none configured",
            body = ErrorBody),
    )
)]
async fn create(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    id: web::Path<i64>,
    JsonBody(body): JsonBody<IdentityBody>,
) -> Result<HttpResponse, ApiError> {
    let user_id = id.into_inner();
    let issuer = body
        .issuer
        .or_else(|| state.sso.as_ref().map(|sso| sso.provider.issuer()))
        .unwrap_or_default();
    let key = IdentityKey::parse(&issuer, &body.subject)?;
    let identity =
        blocking(move || link_identity(&*state.store, &*state.clock, &admin, user_id, key)).await?;
    Ok(HttpResponse::Created().json(IdentityResponse::from(identity)))
}

/// Removes a link (admin): that account no longer signs in as the member.
#[utoipa::path(
    delete,
    path = "/api/users/{id}/identities/{identity_id}/",
    operation_id = "delete_identity",
    tag = "accounts",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 404, description = "No such member, or no such link of theirs", body = ErrorBody),
    )
)]
async fn delete(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, ApiError> {
    let (user_id, identity_id) = path.into_inner();
    blocking(move || unlink_identity(&*state.store, &admin, user_id, identity_id)).await?;
    Ok(HttpResponse::NoContent().finish())
}
