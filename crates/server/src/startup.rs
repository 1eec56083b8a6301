//! Wiring: opens the store, creates the first admin, binds the listener and
//! builds the HTTP server. `main` and the end-to-end tests both start here.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use anyhow::Context;
use libris_application::accounts::{self, Registration};
use libris_application::lending::LoanPolicy;
use libris_application::login_throttle::{LoginThrottle, ThrottleRules};
use libris_application::webhooks::{
    DeliverySettings, InboundVerifier, RetryPolicy, WebhookTransport,
};
use libris_application::Store;
use libris_auth::{Argon2Hasher, RandomTokens};
use libris_domain::values::{Email, Password, Username};
use libris_domain::ValidationErrors;
use libris_http::metrics::Metrics;
use libris_http::{AppState, HttpSettings};
use libris_store::{DatabaseUrl, DieselStore};
use libris_webhooks::{EndpointRules, SenderConfig, ThreadRandom, WebhookSender};
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::clock::SystemClock;
use crate::config::{AdminAccount, Config, DatabaseArgs, WebhookArgs};
use crate::workers::{DeliveryWorkers, Limits, Wake, WorkerHandle};

pub struct Application {
    port: u16,
    server: Server,
    /// The delivery workers stop when the application is dropped.
    workers: WorkerHandle,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        let wake = Arc::new(Wake::default());
        let store = Arc::new(open_store(&config.database_url, config.db_pool_size, &wake).await?);
        if let Some(admin) = config.bootstrap_admin() {
            let store = Arc::clone(&store);
            let username = admin.username.clone();
            let created =
                tokio::task::spawn_blocking(move || create_admin(&store, admin)).await??;
            if created {
                tracing::info!(username, "admin created");
            }
        }
        let address = format!("{}:{}", config.serve.host, config.serve.port);
        let listener =
            TcpListener::bind(&address).with_context(|| format!("cannot listen on {address}"))?;
        let port = listener.local_addr()?.port();
        let pipeline = Pipeline::new(&config.webhooks)?;
        let metrics = Arc::new(Metrics::default());
        let workers = pipeline
            .workers(
                Arc::clone(&store) as Arc<dyn Store>,
                &config.webhooks,
                wake,
                Arc::clone(&metrics),
            )
            .start()?;
        let state = AppState {
            store,
            clock: Arc::new(SystemClock),
            hasher: Arc::new(Argon2Hasher),
            password_work: Semaphore::new(password_workers(config.serve.password_workers)),
            logins: LoginThrottle::new(ThrottleRules::default()),
            tokens: Arc::new(RandomTokens),
            loans: LoanPolicy {
                loan_period: chrono::Duration::days(i64::from(config.serve.loan_days)),
            },
            import_limit: config.serve.import_max_items,
            endpoints: Arc::new(EndpointRules {
                allow_private: config.webhooks.webhook_allow_private,
            }),
            transport: pipeline.transport,
            random: Arc::new(ThreadRandom),
            delivery: pipeline.settings,
            inbound: config
                .serve
                .inbound_secret
                .clone()
                .map(|key| Arc::new(key) as Arc<dyn InboundVerifier>),
            metrics,
            metrics_token: config.serve.metrics_token.clone(),
        };
        let settings = HttpSettings {
            max_body_bytes: config.serve.max_body_bytes,
            workers: config.serve.http_workers,
            blocking_threads: config.db_pool_size as usize,
            trusted_proxies: config
                .serve
                .trusted_proxies
                .clone()
                .reading(config.serve.forwarded_header),
        };
        let server = libris_http::server(listener, state, settings)?;
        let base = format!("http://{}:{port}", config.serve.host);
        tracing::info!(address = %base, "libris listening");
        match &config.serve.admin_username {
            // The password is the operator's to know; it is never logged.
            Some(username) => tracing::info!(
                "admin token: curl -s -X POST {base}/api/auth/token/ -d '{{\"username\": \"{username}\", \"password\": \"<LIBRIS_ADMIN_PASSWORD>\"}}'"
            ),
            None => tracing::info!(
                "no admin configured: set LIBRIS_ADMIN_USERNAME and LIBRIS_ADMIN_PASSWORD, or run `libris users create`; then POST {base}/api/auth/token/"
            ),
        }
        Ok(Self {
            port,
            server,
            workers,
        })
    }

    /// The bound port (useful when the configuration asked for port 0).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGTERM or SIGINT, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }

    /// The HTTP server and the delivery workers, for a harness that stops
    /// them itself (before it drops the database they use).
    pub fn into_parts(self) -> (Server, WorkerHandle) {
        (self.server, self.workers)
    }
}

/// Opens the store off the executor (it connects and migrates); commits that
/// queue delivery work wake the workers.
pub async fn open_store(
    url: &DatabaseUrl,
    pool_size: u32,
    wake: &Arc<Wake>,
) -> anyhow::Result<DieselStore> {
    let url = url.clone();
    tracing::info!(database = %url.redacted(), "opening the database");
    let store = tokio::task::spawn_blocking(move || DieselStore::open(&url, pool_size)).await??;
    let wake = Arc::clone(wake);
    Ok(store.with_commit_hook(Arc::new(move |queued| wake.work_queued(queued))))
}

/// The sender and the delivery rules, from the configuration.
pub struct Pipeline {
    pub transport: Arc<dyn WebhookTransport>,
    pub settings: DeliverySettings,
}

impl Pipeline {
    pub fn new(args: &WebhookArgs) -> anyhow::Result<Self> {
        let sender = WebhookSender::new(SenderConfig {
            timeout: args.webhook_timeout,
            allow_private: args.webhook_allow_private,
            user_agent: format!("libris/{}", env!("CARGO_PKG_VERSION")),
        })?;
        let mut retry = RetryPolicy::default();
        if let Some(schedule) = &args.webhook_retry_schedule {
            retry.delays.clone_from(&schedule.0);
        }
        let settings = DeliverySettings {
            retry,
            lease: args
                .webhook_lease
                .unwrap_or(args.webhook_timeout + Duration::from_secs(5)),
            disable_after: args.webhook_disable_after,
        };
        Ok(Self {
            transport: Arc::new(sender),
            settings,
        })
    }

    pub fn workers(
        &self,
        store: Arc<dyn Store>,
        args: &WebhookArgs,
        wake: Arc<Wake>,
        metrics: Arc<Metrics>,
    ) -> DeliveryWorkers {
        if !args.webhooks_enabled {
            tracing::warn!("LIBRIS_WEBHOOKS_ENABLED=false: deliveries are recorded but not sent");
        }
        DeliveryWorkers {
            store,
            clock: Arc::new(SystemClock),
            transport: Arc::clone(&self.transport),
            random: Arc::new(ThreadRandom),
            settings: self.settings.clone(),
            limits: Limits {
                in_flight: args.webhook_concurrency.max(1),
                per_endpoint: args.webhook_endpoint_concurrency.max(1),
                poll: args.webhook_poll_interval,
            },
            wake,
            send: args.webhooks_enabled,
            metrics,
        }
    }
}

/// `libris worker`: the delivery workers alone, until SIGTERM or SIGINT.
pub async fn run_workers(database: &DatabaseArgs, settings: &WebhookArgs) -> anyhow::Result<()> {
    let wake = Arc::new(Wake::default());
    let store: Arc<dyn Store> =
        Arc::new(open_store(&database.database_url, database.pool_size(), &wake).await?);
    let pipeline = Pipeline::new(settings)?;
    // A lone worker serves no /metrics: its counts are not read by anyone.
    let metrics = Arc::new(Metrics::default());
    let _workers = pipeline.workers(store, settings, wake, metrics).start()?;
    tracing::info!("delivery workers running");
    shutdown_signal().await;
    tracing::info!("stopping the delivery workers");
    Ok(())
}

async fn shutdown_signal() {
    let mut terminate =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        Some(()) = async { match terminate.as_mut() { Some(t) => t.recv().await, None => None } } => {}
    }
}

/// Creates an admin unless the username exists; answers whether it did.
pub fn create_admin(store: &DieselStore, admin: AdminAccount) -> anyhow::Result<bool> {
    let email = admin
        .email
        .unwrap_or_else(|| format!("{}@localhost.localdomain", admin.username));
    let mut errors = ValidationErrors::default();
    let username = errors.check(Username::parse(&admin.username));
    let email = errors.check(Email::parse(&email));
    let password = errors.check(Password::parse(&admin.password));
    let (Some(username), Some(email), Some(password)) = (username, email, password) else {
        anyhow::bail!("invalid admin account: {errors}");
    };
    let registration = Registration {
        username,
        email,
        password,
    };
    Ok(accounts::ensure_admin(
        store,
        &SystemClock,
        &Argon2Hasher,
        registration,
    )?)
}

/// Half the cores, at least one: argon2 keeps a core busy for tens of
/// milliseconds per hash, and the other half stays free for everything else.
fn password_workers(configured: Option<u32>) -> usize {
    configured.map_or_else(
        || std::thread::available_parallelism().map_or(1, |cores| (cores.get() / 2).max(1)),
        |n| n as usize,
    )
}
