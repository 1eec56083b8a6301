//! Libris's use cases and the ports they need. One module per capability;
//! each use case is one public function taking the ports it uses, with its
//! own error enum. Nothing here knows diesel, actix or reqwest.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod authors;
pub mod books;
pub mod campaigns;
pub mod engine;
pub mod event_log;
pub mod events;
pub mod imports;
pub mod lending;
pub mod login_throttle;
pub mod members;
pub mod notifications;
pub mod pagination;
pub mod ports;
pub mod sso;
pub mod webhooks;

#[cfg(any(test, feature = "mock"))]
pub mod testing;

pub use pagination::{Page, Paged};
pub use ports::{Caller, Clock, PasswordHasher, Store, StoreError, StoreExt, TokenCodec, Tx};
