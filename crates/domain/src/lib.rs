//! Libris's domain: the library's entities, the values that can be wrong
//! parsed once into types that cannot be, and the domain events every change
//! produces. Nothing here performs I/O.

// Parsers here take any text a client sends: slicing a string by byte index
// panics inside a multi-byte character, so it is refused outright.
#![deny(clippy::string_slice)]

pub mod accounts;
pub mod audit;
pub mod campaigns;
pub mod catalog;
pub mod delivery;
pub mod events;
pub mod inbound;
pub mod lending;
pub mod members;
pub mod notifications;
pub mod payload;
pub mod search;
pub mod secret_url;
pub mod validation;
pub mod values;
pub mod webhooks;

pub use validation::{FieldError, ValidationErrors};
