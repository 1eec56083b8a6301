//! Wiring: opens the store, creates the first admin, binds the listener and
//! builds the HTTP server. `main` and the end-to-end tests both start here.

use std::net::TcpListener;
use std::sync::Arc;

use actix_web::dev::Server;
use anyhow::Context;
use libris_application::accounts::{self, Registration};
use libris_application::campaigns::settings::{SettingDefaults, SettingsRules};
use libris_application::campaigns::{SmsQueue, SmsSender};
use libris_application::engine::consumers::register;
use libris_application::engine::{ChannelSettings, Consumer, Engine};
use libris_application::lending::LoanPolicy;
use libris_application::login_throttle::{LoginThrottle, ThrottleRules};
use libris_application::notifications::{EmailQueue, LoanMail};
use libris_application::webhooks::delivery::PingThrottle;
use libris_application::webhooks::{InboundVerifier, WebhookFanOut, WebhookQueue};
use libris_application::{Clock, Store};
use libris_auth::{Argon2Hasher, RandomTokens};
use libris_brokers::BrokerChannel;
use libris_domain::delivery::RetryPolicy;
use libris_domain::values::{Email, Password, Username};
use libris_domain::ValidationErrors;
use libris_email::SmtpChannel;
use libris_http::metrics::Metrics;
use libris_http::state::SingleSignOn;
use libris_http::{AppState, HttpSettings};
use libris_oidc::{OidcSettings, OpenIdProvider};
use libris_store::{DatabaseUrl, DieselStore};
use libris_webhooks::{EndpointRules, SenderConfig, ThreadRandom, WebhookSender};
use std::time::Duration;
use tokio::sync::Semaphore;

use crate::clock::SystemClock;
use crate::config::{
    AdminAccount, ChannelArgs, Config, DatabaseArgs, EmailArgs, OidcProvider, Schedule, ServeArgs,
    SmsArgs, WebhookArgs, SMS_RETRY_SCHEDULE,
};
use crate::destinations::{DestinationRules, Destinations};
use crate::sms::GatewayAdapter;
use crate::workers::{Wake, WorkerHandle, Workers};

pub struct Application {
    port: u16,
    server: Server,
    /// The delivery workers stop when the application is dropped.
    workers: WorkerHandle,
}

impl Application {
    pub async fn build(config: Config) -> anyhow::Result<Self> {
        // A partial single sign-on configuration stops the start before
        // anything is opened.
        let oidc = config.serve.oidc.provider().map_err(anyhow::Error::msg)?;
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
        let sso = oidc
            .map(|provider| single_sign_on(&config.serve, port, provider))
            .transpose()?;
        let pipeline = Pipeline::new(Arc::clone(&store) as Arc<dyn Store>, &config.channels)?;
        pipeline.register().await?;
        let metrics = Arc::new(Metrics::default());
        let workers = pipeline
            .workers(&config.channels.webhooks, wake, Arc::clone(&metrics))
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
            endpoints: Arc::new(DestinationRules(EndpointRules {
                allow_private: config.channels.webhooks.webhook_allow_private,
            })),
            webhooks: Arc::clone(&pipeline.webhooks),
            member_webhook_limit: config.serve.member_webhook_limit,
            pings: PingThrottle::new(MEMBER_PING_INTERVAL),
            inbound: config
                .serve
                .inbound_secret
                .clone()
                .map(|key| Arc::new(key) as Arc<dyn InboundVerifier>),
            metrics,
            metrics_token: config.serve.metrics_token.clone(),
            settings: SettingsRules {
                defaults: pipeline.campaign_settings.clone(),
                check_gateway_url: libris_sms::check_gateway_url,
            },
            sso,
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

/// The provider adapter. It contacts the provider on the first sign-in
/// only, so the server starts while the provider is down.
fn single_sign_on(
    serve: &ServeArgs,
    port: u16,
    provider: OidcProvider,
) -> anyhow::Result<SingleSignOn> {
    let redirect_url = serve.oidc.redirect_url(&serve.host, port);
    let issuer = provider.issuer.clone();
    let adapter = OpenIdProvider::new(OidcSettings {
        issuer: provider.issuer,
        client_id: provider.client_id,
        client_secret: provider.client_secret,
        redirect_url: redirect_url.clone(),
    })
    .context("LIBRIS_OIDC_ISSUER or LIBRIS_PUBLIC_URL")?;
    tracing::info!(issuer, redirect_url, "single sign-on enabled");
    Ok(SingleSignOn {
        provider: Arc::new(adapter),
        secure_cookie: serve.oidc.public_url_is_https(),
    })
}

/// A member may ping each of their webhooks once in this time.
const MEMBER_PING_INTERVAL: Duration = Duration::from_secs(10);

/// How long one SMTP attempt may take, connecting included.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);

/// The consumers of the event log and the channels of this process, from
/// the configuration.
pub struct Pipeline {
    store: Arc<dyn Store>,
    pub webhooks: Arc<Engine<WebhookQueue>>,
    /// `None` without `LIBRIS_SMTP_URL`: emails are queued, not sent.
    pub email: Option<Arc<Engine<EmailQueue>>>,
    /// Always runs: with no gateway URL set, its queue holds every message
    /// back until one is (`/api/settings/` or `LIBRIS_SMS_URL`).
    pub sms: Arc<Engine<SmsQueue>>,
    /// The campaign settings' environment defaults.
    pub campaign_settings: SettingDefaults,
    pub consumers: Vec<Arc<dyn Consumer>>,
}

/// The default schedule with the configured delays, if any.
fn retry_policy(schedule: Option<&Schedule>) -> RetryPolicy {
    let mut retry = RetryPolicy::default();
    if let Some(schedule) = schedule {
        retry.delays.clone_from(&schedule.0);
    }
    retry
}

impl Pipeline {
    pub fn new(store: Arc<dyn Store>, args: &ChannelArgs) -> anyhow::Result<Self> {
        let webhooks = webhook_engine(Arc::clone(&store), &args.webhooks)?;
        let email = args
            .email
            .smtp_url
            .as_deref()
            .map(|url| email_engine(Arc::clone(&store), url, &args.email))
            .transpose()?;
        let campaign_settings = SettingDefaults {
            sms_url: args.sms.sms_url.clone(),
            sms_token: args.sms.sms_token.clone(),
            stats_emails: args.sms.stats_emails.clone(),
            stats_email_time: args.sms.stats_email_time,
        };
        let sms = sms_engine(Arc::clone(&store), &args.sms, &campaign_settings)?;
        let loan_mail = LoanMail {
            reminder_before: chrono::Duration::days(i64::from(args.email.loan_reminder_days)),
        };
        Ok(Self {
            store,
            webhooks: Arc::new(webhooks),
            email: email.map(Arc::new),
            sms: Arc::new(sms),
            campaign_settings,
            consumers: vec![Arc::new(WebhookFanOut), Arc::new(loan_mail)],
        })
    }

    /// Registers every consumer of the event log, so the events appended
    /// from now on are marked for it; before anything is served.
    pub async fn register(&self) -> anyhow::Result<()> {
        let (store, consumers) = (Arc::clone(&self.store), self.consumers.clone());
        tokio::task::spawn_blocking(move || {
            consumers
                .iter()
                .try_for_each(|consumer| register(&*store, &**consumer))
        })
        .await??;
        Ok(())
    }

    /// The loops of every consumer, and of every channel that sends.
    pub fn workers(&self, args: &WebhookArgs, wake: Arc<Wake>, metrics: Arc<Metrics>) -> Workers {
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let mut workers = Workers::new(
            Arc::clone(&self.store),
            clock,
            wake,
            args.webhook_poll_interval,
            metrics,
        );
        for consumer in &self.consumers {
            workers = workers.consumer(Arc::clone(consumer));
        }
        if args.webhooks_enabled {
            workers = workers.channel(Arc::clone(&self.webhooks));
        } else {
            tracing::warn!("LIBRIS_WEBHOOKS_ENABLED=false: deliveries are recorded but not sent");
        }
        match &self.email {
            Some(email) => workers = workers.channel(Arc::clone(email)),
            None => tracing::warn!(
                "LIBRIS_SMTP_URL is not set: emails are recorded and logged, not sent"
            ),
        }
        workers
            .channel(Arc::clone(&self.sms))
            .campaigns(self.campaign_settings.clone())
    }
}

fn webhook_engine(
    store: Arc<dyn Store>,
    args: &WebhookArgs,
) -> anyhow::Result<Engine<WebhookQueue>> {
    let sender = |allow_private| {
        WebhookSender::new(SenderConfig {
            timeout: args.webhook_timeout,
            allow_private,
            user_agent: format!("libris/{}", env!("CARGO_PKG_VERSION")),
        })
    };
    let settings = ChannelSettings {
        retry: retry_policy(args.webhook_retry_schedule.as_ref()),
        lease: args
            .webhook_lease
            .unwrap_or(args.webhook_timeout + Duration::from_secs(5)),
        concurrency: args.webhook_concurrency.max(1),
        per_target: args.webhook_endpoint_concurrency.max(1),
    };
    let destinations = Destinations {
        http: sender(args.webhook_allow_private)?,
        public_http: sender(false)?,
        brokers: BrokerChannel::new(args.webhook_timeout),
    };
    Ok(Engine::new(
        store,
        Arc::new(SystemClock),
        Arc::new(ThreadRandom),
        WebhookQueue {
            disable_after: args.webhook_disable_after,
        },
        Arc::new(destinations),
        settings,
    ))
}

/// A relay is one server: a few connections at once, and one message at a
/// time to each mailbox.
fn email_engine(
    store: Arc<dyn Store>,
    url: &str,
    args: &EmailArgs,
) -> anyhow::Result<Engine<EmailQueue>> {
    let channel = SmtpChannel::new(url, &args.mail_from, SMTP_TIMEOUT)
        .context("LIBRIS_SMTP_URL / LIBRIS_MAIL_FROM")?;
    let settings = ChannelSettings {
        retry: retry_policy(args.email_retry_schedule.as_ref()),
        lease: SMTP_TIMEOUT + Duration::from_secs(15),
        concurrency: 4,
        per_target: 1,
    };
    Ok(Engine::new(
        store,
        Arc::new(SystemClock),
        Arc::new(ThreadRandom),
        EmailQueue,
        Arc::new(channel),
        settings,
    ))
}

/// The gateway is one server: a few messages in flight at once
/// (`LIBRIS_SMS_CONCURRENCY`), one at a time to each member. The lease
/// outlasts an attempt, so only a dead worker's messages are sent again.
fn sms_engine(
    store: Arc<dyn Store>,
    args: &SmsArgs,
    defaults: &SettingDefaults,
) -> anyhow::Result<Engine<SmsQueue>> {
    let client = libris_sms::GatewayClient::new(args.sms_timeout).context("LIBRIS_SMS_TIMEOUT")?;
    let retry = RetryPolicy {
        delays: args
            .sms_retry_schedule
            .as_ref()
            .map_or_else(|| SMS_RETRY_SCHEDULE.to_vec(), |s| s.0.clone()),
        ..RetryPolicy::default()
    };
    let settings = ChannelSettings {
        retry,
        lease: args.sms_timeout + Duration::from_secs(5),
        concurrency: args.sms_concurrency as usize,
        per_target: 1,
    };
    Ok(Engine::new(
        store,
        Arc::new(SystemClock),
        Arc::new(ThreadRandom),
        SmsQueue {
            clock: Arc::new(SystemClock),
            defaults: defaults.clone(),
        },
        Arc::new(SmsSender(GatewayAdapter::new(client, args.sms_rate))),
        settings,
    ))
}

/// `libris worker`: the workers alone, until SIGTERM or SIGINT.
pub async fn run_workers(database: &DatabaseArgs, settings: &ChannelArgs) -> anyhow::Result<()> {
    let wake = Arc::new(Wake::default());
    let store: Arc<dyn Store> =
        Arc::new(open_store(&database.database_url, database.pool_size(), &wake).await?);
    let pipeline = Pipeline::new(store, settings)?;
    pipeline.register().await?;
    // A lone worker serves no /metrics: its counts are not read by anyone.
    let metrics = Arc::new(Metrics::default());
    let _workers = pipeline
        .workers(&settings.webhooks, wake, metrics)
        .start()?;
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
