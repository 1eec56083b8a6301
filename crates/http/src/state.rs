//! What every handler shares: the ports the use cases need.

use std::sync::Arc;

use libris_application::campaigns::settings::SettingsRules;
use libris_application::engine::Engine;
use libris_application::lending::LoanPolicy;
use libris_application::login_throttle::LoginThrottle;
use libris_application::sso::IdentityProvider;
use libris_application::webhooks::delivery::PingThrottle;
use libris_application::webhooks::{EndpointPolicy, InboundVerifier, WebhookQueue};
use libris_application::{Clock, PasswordHasher, Store, TokenCodec};

use crate::metrics::Metrics;

pub struct AppState {
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub hasher: Arc<dyn PasswordHasher>,
    /// Password hashes computed at once (logins, registrations). Each takes
    /// tens of milliseconds of a core; bounding them keeps a burst of logins
    /// from taking every core and blocking thread the other requests need.
    pub password_work: tokio::sync::Semaphore,
    pub logins: LoginThrottle,
    pub tokens: Arc<dyn TokenCodec>,
    pub loans: LoanPolicy,
    /// Most items one bulk import may hold.
    pub import_limit: usize,
    pub endpoints: Arc<dyn EndpointPolicy>,
    /// The webhook channel: the test ping is the one delivery sent inside a
    /// request.
    pub webhooks: Arc<Engine<WebhookQueue>>,
    /// Most webhooks one member may hold.
    pub member_webhook_limit: usize,
    /// Members' test pings, one per webhook per 10 seconds.
    pub pings: PingThrottle,
    /// Checks inbound webhooks; `None` when no inbound secret is configured.
    pub inbound: Option<Arc<dyn InboundVerifier>>,
    /// Shared with the delivery workers, which count their attempts in it.
    pub metrics: Arc<Metrics>,
    /// The bearer token a scraper may read `/metrics` with (admins always
    /// may).
    pub metrics_token: Option<String>,
    /// `/api/settings/`: the environment's defaults and the SMS gateway
    /// adapter's check of a URL.
    pub settings: SettingsRules,
    /// Single sign-on to the console; `None` when no provider is configured.
    pub sso: Option<SingleSignOn>,
}

/// The identity provider and how its sign-ins are carried.
pub struct SingleSignOn {
    pub provider: Arc<dyn IdentityProvider>,
    /// The public URL is `https`: the state cookie is `Secure`.
    pub secure_cookie: bool,
}
