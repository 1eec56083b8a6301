//! Libris's outbound webhooks: signing, target checks, sending one attempt
//! and classifying its outcome. It knows HTTP and, in `adapter`, only the
//! application's webhook ports, so the delivery pipeline decides what an
//! outcome means for storage.

pub mod adapter;
pub mod headers;
pub mod outcome;
pub mod sender;
pub mod signing;
pub mod target;

pub use adapter::{EndpointRules, ThreadRandom};
pub use headers::{validate_custom_headers, HeaderError, MAX_CUSTOM_HEADERS, RESERVED_HEADERS};
pub use outcome::{classify, Outcome};
pub use reqwest::Url;
pub use sender::{
    AttemptReport, BuildError, OutgoingRequest, SenderConfig, WebhookSender, MAX_RESPONSE_BODY,
};
pub use signing::{generate_secret, SecretError, SigningKey};
pub use target::{check_ip_literal, check_url, is_refused, GuardedResolver, TargetError};
