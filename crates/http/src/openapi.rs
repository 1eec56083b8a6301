//! The API's OpenAPI document (`GET /api/openapi.json`) and the Swagger UI
//! that renders it (`/docs`).
//!
//! Each operation is described by `#[utoipa::path]` on its handler, next to
//! the code it describes, and listed in [`ApiDoc`]. Schemas are derived from
//! the types the handlers serialize. Where a handler serializes an inner
//! crate's type as it is (a page of results, a field error, an event, an
//! enum), this module mirrors it: the domain and application crates stay free
//! of framework crates. The tests below hold each mirror to the real type's
//! JSON.

use std::sync::Arc;

use actix_web::{web, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::Value;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{IntoParams, Modify, OpenApi, ToSchema};
use utoipa_swagger_ui::SwaggerUi;
use uuid::Uuid;

use crate::errors::ApiError;
use crate::page_headers::page_headers;
use crate::routes::{
    accounts, audit, authors, books, campaigns, events, health, identities, imports, inbound,
    lending, notifications, settings, sso, webhooks,
};

/// Where the document is served.
pub const DOCUMENT_PATH: &str = "/api/openapi.json";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "Libris",
        description = "A book-lending library: accounts, catalog, loans, bulk imports, \
            the audit and event logs, webhooks and email notifications. Protected routes take \
            `Authorization: Bearer <token>` (from `POST /api/auth/token/`); anonymous \
            requests get 401, members on admin routes 403. Every route answers with and \
            without a trailing slash. Lists take `?limit=&offset=` (default 50, at most \
            500). Every error is `{code, message, details}`."
    ),
    modifiers(&BearerToken, &UniqueOperationIds),
    // Every handler the routes register; a new route adds its handler here.
    paths(
        health::healthz,
        health::readyz,
        accounts::register,
        accounts::list_users,
        accounts::get_user,
        accounts::update_user,
        accounts::delete_user,
        accounts::me,
        accounts::update_me,
        accounts::issue_token,
        accounts::revoke_token,
        sso::status,
        sso::exchange,
        identities::list,
        identities::create,
        identities::delete,
        authors::list,
        authors::create,
        authors::get,
        authors::update,
        authors::delete,
        books::list,
        books::create,
        books::get,
        books::update,
        books::delete,
        lending::borrow,
        lending::give_back,
        lending::my_loans,
        lending::list,
        imports::bulk_import,
        imports::list,
        audit::list,
        events::list,
        events::publish,
        webhooks::list,
        webhooks::create,
        webhooks::get,
        webhooks::update,
        webhooks::delete,
        webhooks::activate,
        webhooks::deactivate,
        webhooks::secret,
        webhooks::test,
        webhooks::logs,
        webhooks::deliveries,
        webhooks::get_delivery,
        webhooks::timeline,
        webhooks::redeliver,
        inbound::receive,
        inbound::list,
        notifications::list,
        campaigns::list,
        campaigns::create,
        campaigns::statistics,
        campaigns::get,
        campaigns::update,
        campaigns::delete,
        campaigns::cancel,
        campaigns::campaign_statistics,
        campaigns::messages,
        settings::get,
        settings::update,
    ),
    tags(
        (name = "accounts", description = "Registration, tokens, the caller's profile and the \
            admins' member directory"),
        (name = "catalog", description = "Authors and books"),
        (name = "lending", description = "Borrowing, returning and loans"),
        (name = "imports", description = "Bulk imports of books"),
        (name = "audit", description = "The books' audit log"),
        (name = "events", description = "The event log and custom events"),
        (name = "webhooks", description = "Subscriptions, deliveries and attempts"),
        (name = "notifications", description = "Emails to admins and members"),
        (name = "campaigns", description = "SMS campaigns to members, their statistics, and the runtime settings"),
        (name = "operations", description = "Health probes"),
    )
)]
pub struct ApiDoc;

/// The `bearer` security scheme the protected operations name.
struct BearerToken;

impl Modify for BearerToken {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let scheme = HttpBuilder::new()
            .scheme(HttpAuthScheme::Bearer)
            .description(Some("A token from `POST /api/auth/token/`"))
            .build();
        openapi
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme("bearer", SecurityScheme::Http(scheme));
    }
}

/// PUT and PATCH share a handler, and utoipa gives both the handler's
/// operation id; OpenAPI wants ids unique (Swagger UI links operations by
/// them), so each gets its method as a suffix.
struct UniqueOperationIds;

impl Modify for UniqueOperationIds {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let (Some(put), Some(patch)) = (item.put.as_mut(), item.patch.as_mut()) else {
                continue;
            };
            if put.operation_id == patch.operation_id {
                if let Some(id) = put.operation_id.take() {
                    put.operation_id = Some(format!("{id}_put"));
                    patch.operation_id = Some(format!("{id}_patch"));
                }
            }
        }
    }
}

/// What Swagger UI needs, checked against the page and bundle it ships and in
/// a browser: its own scripts (the page has no inline script: the
/// initializer is a file of its own), its own stylesheets, `data:` images
/// (the stylesheet's icons), the document and "Try it out" calls to this
/// origin, and our `<base>` (see [`swagger_index`]). Its forms are handled by
/// script, never submitted; framing stays refused (clickjacking). Everything
/// else, such as the online validator's badge from another origin, is
/// refused.
///
/// One inline `<style>` is admitted by its hash: the top bar's logo, an SVG
/// whose colours the standalone preset writes in a `<style>` element. A
/// hash admits that exact text and nothing else, where `'unsafe-inline'`
/// would admit any style injected into the page. Swagger UI's other styling
/// from script sets properties through the DOM, which CSP does not restrict.
/// The e2e suite recomputes the hash from the served preset.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; \
    style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; \
    img-src 'self' data:; connect-src 'self'; base-uri 'self'; form-action 'none'; \
    frame-ancestors 'none'";

/// Serves the document and Swagger UI. Registered before the `/api` scope,
/// which would otherwise claim `/api/openapi.json`.
///
/// Swagger UI lives in a scope so that the page headers cover every
/// response under `/docs`, its assets included. The document is served
/// here rather than by `SwaggerUi`, which would register it inside the
/// scope, under `/docs`.
pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource(DOCUMENT_PATH)
            .app_data(web::Data::new(ApiDoc::openapi()))
            .get(document),
    )
    .service(
        web::scope("/docs")
            .wrap(page_headers(CONTENT_SECURITY_POLICY))
            .route("", web::get().to(swagger_index))
            .service(
                SwaggerUi::new("/{_:.*}").config(utoipa_swagger_ui::Config::new([DOCUMENT_PATH])),
            ),
    );
}

async fn document(document: web::Data<utoipa::openapi::OpenApi>) -> HttpResponse {
    HttpResponse::Ok().json(document.as_ref())
}

/// Swagger UI's index page with `<base href="/docs/">`. The app trims a
/// trailing slash before routing, so `/docs/` arrives here as `/docs`, from
/// where the page's relative asset links (`./swagger-ui.css`) would point at
/// the site root; the usual redirect to `/docs/` would loop.
async fn swagger_index() -> Result<HttpResponse, ApiError> {
    let index =
        utoipa_swagger_ui::serve("index.html", Arc::new(utoipa_swagger_ui::Config::default()))
            .map_err(|e| ApiError::internal(&e))?
            .ok_or_else(|| ApiError::internal(&"the Swagger UI build has no index.html"))?;
    let html = String::from_utf8_lossy(&index.bytes).replacen(
        "<head>",
        "<head>\n    <base href=\"/docs/\">",
        1,
    );
    Ok(HttpResponse::Ok()
        .content_type(index.content_type)
        .body(html))
}

/// The body of every error. `details` has one entry per problem (for 422,
/// one per invalid field or bulk item); it is empty otherwise.
#[derive(ToSchema)]
pub struct ErrorBody {
    /// Stable and machine-readable: `bad_request`, `unauthorized`,
    /// `invalid_credentials`, `forbidden`, `not_found`, `method_not_allowed`,
    /// `conflict`, `payload_too_large`, `validation_error`,
    /// `too_many_requests`, `internal_error`; `webhook_limit` (a member holds
    /// as many webhooks as they may);
    /// for inbound webhooks `missing_signature`, `invalid_signature`,
    /// `inbound_not_configured`, `stale_timestamp`, `invalid_timestamp`,
    /// `invalid_body`, `missing_message_id`, `invalid_event_type`.
    #[schema(example = "not_found")]
    pub code: String,
    pub message: String,
    pub details: Vec<FieldError>,
}

/// One problem with a request.
// Mirrors `libris_domain::FieldError`.
#[derive(ToSchema)]
pub struct FieldError {
    /// The field, e.g. `isbn`; a nested field is dotted.
    pub field: String,
    pub message: String,
    /// The item's position in a bulk request; absent for single resources.
    #[schema(nullable = false)]
    pub index: Option<usize>,
}

/// One page of a list.
// Mirrors `libris_application::Paged`.
#[derive(ToSchema)]
pub struct Listed<T> {
    /// How many items match, over all pages.
    pub count: i64,
    pub results: Vec<T>,
}

/// `?limit=&offset=` of every list.
#[derive(IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageParams {
    /// Items per page: 50 by default, at most 500.
    pub limit: Option<i64>,
    /// Items to skip.
    pub offset: Option<i64>,
}

/// An event of the log.
// Mirrors `libris_domain::events::RecordedEvent`.
#[derive(ToSchema)]
pub struct Event {
    pub id: Uuid,
    /// `book.created`, …, or a custom `family.action`.
    #[schema(example = "book.created")]
    pub event: String,
    pub timestamp: DateTime<Utc>,
    /// The event's data; its shape depends on the event's name.
    pub data: Value,
    /// The acting user, where there is one.
    pub user: Option<UserRef>,
}

/// Who did something.
// Mirrors `libris_domain::accounts::UserRef`.
#[derive(ToSchema)]
pub struct UserRef {
    pub id: i64,
    pub username: String,
}

/// What an audit entry records.
// Mirrors `libris_domain::audit::AuditAction`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum AuditAction {
    Created,
    Updated,
    Deleted,
    Borrowed,
    Returned,
    Imported,
}

/// Where a delivery stands.
// Mirrors `libris_domain::webhooks::DeliveryStatus`.
#[derive(ToSchema)]
#[schema(rename_all = "snake_case")]
pub enum DeliveryStatus {
    /// Due, or waiting for its next attempt.
    Pending,
    Delivered,
    /// Terminal without retries.
    Failed,
    /// Every attempt of the schedule used.
    Dead,
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use actix_web::body::to_bytes;
    use actix_web::ResponseError;
    use libris_application::Paged;
    use libris_domain::accounts::UserRef as DomainUserRef;
    use libris_domain::audit::AuditAction as DomainAuditAction;
    use libris_domain::events::RecordedEvent;
    use libris_domain::webhooks::DeliveryStatus as DomainDeliveryStatus;
    use serde::Serialize;
    use serde_json::json;
    use utoipa::PartialSchema;

    use super::*;

    fn document() -> Value {
        serde_json::to_value(ApiDoc::openapi()).expect("the document serializes")
    }

    fn keys(value: &Value) -> BTreeSet<String> {
        value
            .as_object()
            .map(|object| object.keys().cloned().collect())
            .unwrap_or_default()
    }

    /// Asserts that `real` serializes to an object with exactly the mirror's
    /// properties (optional ones may be left out).
    #[track_caller]
    fn assert_mirrors<T: PartialSchema>(real: impl Serialize) {
        let schema = serde_json::to_value(T::schema()).unwrap();
        let real = serde_json::to_value(real).unwrap();
        let properties = keys(&schema["properties"]);
        let required: BTreeSet<String> = schema["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|name| name.as_str().map(str::to_owned))
            .collect();
        let present = keys(&real);
        assert!(
            present.is_subset(&properties),
            "{real} has fields the schema lacks: {schema}"
        );
        assert!(
            required.is_subset(&present),
            "{real} lacks required fields: {schema}"
        );
    }

    #[track_caller]
    fn assert_same_values<T: PartialSchema>(real: impl IntoIterator<Item = impl Serialize>) {
        let schema = serde_json::to_value(T::schema()).unwrap();
        let documented: BTreeSet<String> = schema["enum"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_owned())
            .collect();
        let real: BTreeSet<String> = real
            .into_iter()
            .map(|v| {
                serde_json::to_value(v)
                    .unwrap()
                    .as_str()
                    .unwrap()
                    .to_owned()
            })
            .collect();
        assert_eq!(documented, real);
    }

    #[test]
    fn api_paths_end_with_a_slash_as_the_reference_writes_them() {
        let document = document();
        for path in keys(&document["paths"]) {
            // docs/api.md writes the probes without one.
            let probe = path == "/healthz" || path == "/readyz";
            assert!(
                probe || (path.starts_with("/api/") && path.ends_with('/')),
                "{path}"
            );
        }
    }

    #[test]
    fn operation_ids_are_unique_and_protected_operations_name_the_bearer_scheme() {
        let document = document();
        let mut ids = BTreeSet::new();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let id = operation["operationId"].as_str().unwrap();
                assert!(ids.insert(id.to_owned()), "{id} repeats ({method} {path})");
                if let Some(security) = operation["security"].as_array() {
                    assert_eq!(security, &[json!({"bearer": []})], "{method} {path}");
                    assert!(operation["responses"]["401"].is_object(), "{method} {path}");
                }
            }
        }
        assert_eq!(
            document["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }

    #[test]
    fn mirrors_match_what_the_inner_crates_serialize() {
        let user = DomainUserRef {
            id: 1,
            username: "ada".into(),
        };
        assert_mirrors::<UserRef>(&user);
        let event = RecordedEvent {
            id: Uuid::nil(),
            event: "book.created".into(),
            timestamp: Utc::now(),
            data: json!({}),
            user: Some(user),
            about: None,
        };
        assert_mirrors::<Event>(&event);
        assert_mirrors::<Listed<Event>>(Paged {
            count: 1,
            results: vec![event],
        });
        assert_mirrors::<FieldError>(libris_domain::FieldError::new("isbn", "bad").at(3));
        assert_same_values::<AuditAction>(DomainAuditAction::ALL);
        assert_same_values::<DeliveryStatus>(DomainDeliveryStatus::ALL);
    }

    #[actix_web::test]
    async fn the_error_schema_matches_the_error_body() {
        let error = ApiError::invalid(libris_domain::FieldError::new("isbn", "bad").into());
        let body = to_bytes(error.error_response().into_body()).await.unwrap();
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_mirrors::<ErrorBody>(&body);
        assert_mirrors::<FieldError>(&body["details"][0]);
    }

    #[actix_web::test]
    async fn the_swagger_index_resolves_its_assets_under_docs() {
        let response = swagger_index().await.unwrap();
        let body = to_bytes(response.into_body()).await.unwrap();
        let html = std::str::from_utf8(&body).unwrap();
        assert!(html.contains("<base href=\"/docs/\">"), "{html}");
        assert!(html.contains("swagger-ui-bundle.js"), "{html}");
    }
}
