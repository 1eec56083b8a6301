//! The API's routes, one module per resource. Paths are registered without a
//! trailing slash; the app trims one before routing.

pub mod accounts;
pub mod audit;
pub mod authors;
pub mod books;
pub mod campaigns;
pub mod events;
pub mod health;
pub mod identities;
pub mod imports;
pub mod inbound;
pub mod lending;
pub mod notifications;
pub mod settings;
pub mod sso;
pub mod webhooks;

use actix_web::web;

/// Registers every route under its path.
pub fn configure(cfg: &mut web::ServiceConfig) {
    health::configure(cfg);
    cfg.service(
        web::scope("/api")
            .configure(accounts::configure)
            .configure(identities::configure)
            .configure(sso::configure)
            .configure(authors::configure)
            // Fixed paths before `/books/{id}`.
            .configure(imports::configure)
            .configure(lending::configure)
            .configure(books::configure)
            .configure(audit::configure)
            .configure(events::configure)
            .configure(notifications::configure)
            // Fixed paths before `/campaigns/{id}`.
            .configure(campaigns::configure)
            .configure(settings::configure)
            // Fixed paths before `/webhooks/{id}`.
            .configure(inbound::configure)
            .configure(webhooks::configure),
    );
}

/// Deserializes a field that may be absent (outer `None`), `null`
/// (`Some(None)`) or a value, for PATCH bodies.
pub(crate) fn nullable<'de, T, D>(deserializer: D) -> Result<Option<Option<T>>, D::Error>
where
    T: serde::Deserialize<'de>,
    D: serde::Deserializer<'de>,
{
    serde::Deserialize::deserialize(deserializer).map(Some)
}

/// A field POST and PUT must carry.
pub(crate) fn required<T>(field: &str, value: Option<T>) -> Result<T, libris_domain::FieldError> {
    value.ok_or_else(|| libris_domain::FieldError::new(field, "this field is required"))
}
