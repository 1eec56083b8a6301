//! Configuration: one typed struct from the environment and the command line,
//! validated at start. Every setting has a default, so `libris` alone runs.

use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use libris_domain::webhooks::DeliveryStatus;
use libris_http::client::{ForwardedHeader, TrustedProxies};
use libris_store::{Backend, DatabaseUrl};
use libris_webhooks::SigningKey;

#[derive(Debug, Parser)]
#[command(
    name = "libris",
    version,
    about = "A book-lending library whose every change is a signed webhook"
)]
pub struct Cli {
    #[command(flatten)]
    pub database: DatabaseArgs,

    /// Log format: `text` or `json`.
    #[arg(long, env = "LIBRIS_LOG_FORMAT", default_value = "text", global = true)]
    pub log_format: LogFormat,

    /// The server's settings when no subcommand is given (`libris` serves).
    #[command(flatten)]
    pub server: ServerArgs,

    #[command(subcommand)]
    pub command: Option<Command>,
}

impl Cli {
    /// Parses the command line like [`Parser::try_parse_from`], and refuses
    /// a server option written before a command (`libris --port 9000
    /// worker`, `libris --port 9000 serve`): it would be ignored, and an
    /// ignored flag misleads. Without a command, the options serve.
    pub fn try_parse_checked_from<I, T>(argv: I) -> Result<Self, clap::Error>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        use clap::{CommandFactory, FromArgMatches};
        let mut command = Self::command();
        let matches = command.try_get_matches_from_mut(argv)?;
        if let Some((name, _)) = matches.subcommand() {
            let server_options = ServerArgs::augment_args(clap::Command::new("server"));
            let misplaced = server_options.get_arguments().find(|arg| {
                matches.value_source(arg.get_id().as_str())
                    == Some(clap::parser::ValueSource::CommandLine)
            });
            if let Some(arg) = misplaced {
                let flag = arg.get_long().unwrap_or_default();
                return Err(command.error(
                    clap::error::ErrorKind::ArgumentConflict,
                    format!("--{flag} is a `libris serve` option: write it after `serve`, or give no command (not before `{name}`)"),
                ));
            }
        }
        Self::from_arg_matches(&matches).map_err(|e| e.format(&mut command))
    }
}

/// Where the database is: every command needs it.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// `postgres://…` / `postgresql://…`, or `sqlite://PATH` / a plain path.
    #[arg(
        long,
        env = "DATABASE_URL",
        default_value = "sqlite://libris.db",
        global = true,
        hide_env_values = true,
        value_parser = parse_database_url
    )]
    pub database_url: DatabaseUrl,

    /// Database connections in the pool (default: 4 on SQLite, 8 on
    /// PostgreSQL).
    #[arg(long, env = "LIBRIS_DB_POOL_SIZE", global = true, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub db_pool_size: Option<u32>,
}

fn parse_database_url(raw: &str) -> Result<DatabaseUrl, String> {
    DatabaseUrl::parse(raw).map_err(|e| e.to_string())
}

/// SQLite takes one writer at a time, so connections beyond a few only add
/// threads and page caches: on this 2-core machine 4 gave more creations per
/// second than 8 and 6 MiB less memory (`make bench`). PostgreSQL writes in
/// parallel and may serve several processes.
const SQLITE_POOL_SIZE: u32 = 4;
const POSTGRES_POOL_SIZE: u32 = 8;

impl DatabaseArgs {
    pub fn pool_size(&self) -> u32 {
        self.db_pool_size
            .unwrap_or(match self.database_url.backend {
                Backend::Sqlite => SQLITE_POOL_SIZE,
                Backend::Postgres => POSTGRES_POOL_SIZE,
            })
    }
}

/// What `libris serve` takes: the API's settings and the delivery workers'.
#[derive(Debug, Clone, Args)]
pub struct ServerArgs {
    #[command(flatten)]
    pub serve: ServeArgs,

    #[command(flatten)]
    pub channels: ChannelArgs,
}

/// What the workers take: every channel's settings.
#[derive(Debug, Clone, Args)]
pub struct ChannelArgs {
    #[command(flatten)]
    pub webhooks: WebhookArgs,

    #[command(flatten)]
    pub email: EmailArgs,

    #[command(flatten)]
    pub sms: SmsArgs,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    Text,
    Json,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the API and the delivery workers (the default).
    Serve(Box<ServerArgs>),
    /// Apply pending database migrations and exit.
    Migrate,
    /// Run the delivery workers only (fan-out and send), no API.
    /// Boxed: the other commands are small.
    Worker(Box<ChannelArgs>),
    /// Manage users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Operate on webhook deliveries.
    #[command(subcommand)]
    Deliveries(DeliveriesCommand),
}

#[derive(Debug, Subcommand)]
pub enum DeliveriesCommand {
    /// Send due deliveries now, once, and exit: the given ones (queued again
    /// whatever their state), or the pending ones of a webhook, or all pending.
    Send {
        /// Only the pending deliveries of this webhook.
        #[arg(long)]
        webhook: Option<uuid::Uuid>,
        /// These deliveries, whatever their state (repeatable).
        #[arg(long = "delivery", num_args = 1..)]
        deliveries: Vec<i64>,
        /// Boxed: the other commands are small.
        #[command(flatten)]
        settings: Box<ChannelArgs>,
    },
    /// Count deliveries that reached a status recently; exit 1 over the limit.
    Monitor {
        /// pending, delivered, failed or dead.
        #[arg(long, default_value = "failed", value_parser = parse_status)]
        status: DeliveryStatus,
        /// The most deliveries of that status that are still fine.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        /// How far back to count.
        #[arg(long, default_value_t = 10)]
        minutes: u64,
    },
    /// Delete finished deliveries and attempt logs older than this.
    Prune {
        /// An age like 30d, 12h.
        #[arg(long, default_value = "30d", value_parser = parse_duration)]
        older_than: Duration,
    },
}

fn parse_status(raw: &str) -> Result<DeliveryStatus, String> {
    DeliveryStatus::parse(raw)
        .ok_or_else(|| format!("`{raw}` is not one of pending, delivered, failed, dead"))
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address the API listens on (`0.0.0.0` for every interface).
    #[arg(long, env = "LIBRIS_HOST", default_value = "127.0.0.1")]
    pub host: String,

    /// Port the API listens on (`0`: any free port, printed at start).
    #[arg(long, env = "LIBRIS_PORT", default_value_t = 8000)]
    pub port: u16,

    /// Largest request body accepted, in bytes.
    #[arg(long, env = "LIBRIS_MAX_BODY_BYTES", default_value_t = 16 * 1024 * 1024)]
    pub max_body_bytes: usize,

    /// How many days a loan lasts.
    #[arg(long, env = "LIBRIS_LOAN_DAYS", default_value_t = 14, value_parser = clap::value_parser!(u32).range(1..=3650))]
    pub loan_days: u32,

    /// Most items one bulk import may hold.
    #[arg(long, env = "LIBRIS_IMPORT_MAX_ITEMS", default_value_t = 10_000)]
    pub import_max_items: usize,

    /// HTTP worker threads (default: one per core).
    #[arg(long, env = "LIBRIS_HTTP_WORKERS")]
    pub http_workers: Option<usize>,

    /// Proxies whose `Forwarded` / `X-Forwarded-For` are believed, as
    /// addresses or networks: `10.0.0.0/8,::1`. Default: none.
    #[arg(long, env = "LIBRIS_TRUSTED_PROXIES", default_value = "", value_parser = TrustedProxies::parse)]
    pub trusted_proxies: TrustedProxies,

    /// The header those proxies write the client's address in:
    /// `x-forwarded-for` or `forwarded`; only that one is read.
    #[arg(long, env = "LIBRIS_FORWARDED_HEADER", default_value = "x-forwarded-for", value_parser = ForwardedHeader::parse)]
    pub forwarded_header: ForwardedHeader,

    /// Bearer token a Prometheus scraper reads `/metrics` with (admins'
    /// tokens work too). Default: none, admins only.
    #[arg(long, env = "LIBRIS_METRICS_TOKEN", hide_env_values = true, value_parser = parse_metrics_token)]
    pub metrics_token: Option<String>,

    /// Most webhooks one member may hold.
    #[arg(long, env = "LIBRIS_MEMBER_WEBHOOK_LIMIT", default_value_t = 10)]
    pub member_webhook_limit: usize,

    /// Password hashes computed at once (default: half the cores, at least 1).
    #[arg(long, env = "LIBRIS_PASSWORD_WORKERS", value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub password_workers: Option<u32>,

    /// Admin created at start unless a user of that name exists.
    #[arg(long, env = "LIBRIS_ADMIN_USERNAME")]
    pub admin_username: Option<String>,

    /// Password of that admin (at least 8 characters); never logged.
    #[arg(long, env = "LIBRIS_ADMIN_PASSWORD", hide_env_values = true)]
    pub admin_password: Option<String>,

    /// E-mail address of that admin (default: `<name>@localhost.localdomain`).
    #[arg(long, env = "LIBRIS_ADMIN_EMAIL")]
    pub admin_email: Option<String>,

    /// Secret inbound webhooks are signed with (`whsec_…` or at least 8
    /// characters); without it `/api/webhooks/receive/` accepts nothing.
    #[arg(
        long,
        env = "LIBRIS_INBOUND_SECRET",
        hide_env_values = true,
        value_parser = parse_inbound_secret
    )]
    pub inbound_secret: Option<SigningKey>,

    #[command(flatten)]
    pub oidc: OidcArgs,
}

/// Single sign-on to the console (docs/sso.md): the three `LIBRIS_OIDC_*`
/// together, or none.
#[derive(Debug, Clone, Args)]
pub struct OidcArgs {
    /// The OpenID Connect provider's issuer URL (discovered on the first
    /// sign-in, not at start). Default: none, no single sign-on.
    #[arg(long, env = "LIBRIS_OIDC_ISSUER")]
    pub oidc_issuer: Option<String>,

    /// This server's client id at the provider.
    #[arg(long, env = "LIBRIS_OIDC_CLIENT_ID")]
    pub oidc_client_id: Option<String>,

    /// This server's client secret at the provider; never logged.
    #[arg(long, env = "LIBRIS_OIDC_CLIENT_SECRET", hide_env_values = true)]
    pub oidc_client_secret: Option<String>,

    /// The URL browsers reach this server at; the provider sends them back
    /// to it + `/admin/oidc/callback` (default: `http://{host}:{port}`).
    #[arg(long, env = "LIBRIS_PUBLIC_URL", value_parser = parse_public_url)]
    pub public_url: Option<String>,
}

/// The provider a configuration names, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcProvider {
    pub issuer: String,
    pub client_id: String,
    pub client_secret: String,
}

impl OidcArgs {
    /// `None` when none of the three is set; an error naming each missing
    /// one when only some are. An empty value counts as not set.
    pub fn provider(&self) -> Result<Option<OidcProvider>, String> {
        let given = |value: &Option<String>| {
            value
                .as_deref()
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
        };
        let settings = [
            ("LIBRIS_OIDC_ISSUER", given(&self.oidc_issuer)),
            ("LIBRIS_OIDC_CLIENT_ID", given(&self.oidc_client_id)),
            ("LIBRIS_OIDC_CLIENT_SECRET", given(&self.oidc_client_secret)),
        ];
        match settings {
            [(_, Some(issuer)), (_, Some(client_id)), (_, Some(client_secret))] => {
                Ok(Some(OidcProvider {
                    issuer,
                    client_id,
                    client_secret,
                }))
            }
            [(_, None), (_, None), (_, None)] => Ok(None),
            _ => {
                let missing: Vec<&str> = settings
                    .iter()
                    .filter(|(_, value)| value.is_none())
                    .map(|(name, _)| *name)
                    .collect();
                Err(format!(
                    "single sign-on needs LIBRIS_OIDC_ISSUER, LIBRIS_OIDC_CLIENT_ID and \
                     LIBRIS_OIDC_CLIENT_SECRET together: {} not set",
                    missing.join(" and ")
                ))
            }
        }
    }

    /// Where the provider sends browsers back.
    pub fn redirect_url(&self, host: &str, port: u16) -> String {
        let base = match &self.public_url {
            Some(url) => url.clone(),
            None => format!("http://{host}:{port}"),
        };
        format!("{base}/admin/oidc/callback")
    }

    /// Whether browsers reach this server over https (the state cookie is
    /// then `Secure`).
    pub fn public_url_is_https(&self) -> bool {
        self.public_url
            .as_deref()
            .is_some_and(|url| url.starts_with("https://"))
    }
}

/// `http://` or `https://` and a host, without a trailing slash.
fn parse_public_url(raw: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .ok_or_else(|| format!("`{raw}` is not an http:// or https:// URL"))?;
    if host.is_empty() || host.starts_with('/') || url.contains(['?', '#']) {
        return Err(format!(
            "`{raw}` must be a base URL like https://libris.example.org"
        ));
    }
    Ok(url.to_owned())
}

/// Delivery settings (docs/api.md, docs/operations.md).
#[derive(Debug, Clone, Args)]
pub struct WebhookArgs {
    /// Delays between attempts, e.g. `1s,2s,4s`; attempts = 1 + delays.
    #[arg(long, env = "LIBRIS_WEBHOOK_RETRY_SCHEDULE", value_parser = parse_schedule)]
    pub webhook_retry_schedule: Option<Schedule>,

    /// Request timeout per attempt.
    #[arg(long, env = "LIBRIS_WEBHOOK_TIMEOUT", default_value = "10s", value_parser = parse_nonzero_duration)]
    pub webhook_timeout: Duration,

    /// How long a claimed delivery stays claimed (default: timeout + 5s).
    #[arg(long, env = "LIBRIS_WEBHOOK_LEASE", value_parser = parse_nonzero_duration)]
    pub webhook_lease: Option<Duration>,

    /// An endpoint whose attempts have all failed for this long is disabled.
    #[arg(long, env = "LIBRIS_WEBHOOK_DISABLE_AFTER", default_value = "5d", value_parser = parse_duration)]
    pub webhook_disable_after: Duration,

    /// Allow private, loopback and link-local targets.
    #[arg(long, env = "LIBRIS_WEBHOOK_ALLOW_PRIVATE", default_value_t = false, action = clap::ArgAction::Set)]
    pub webhook_allow_private: bool,

    /// `false`: record events and deliveries, send nothing.
    #[arg(long, env = "LIBRIS_WEBHOOKS_ENABLED", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhooks_enabled: bool,

    /// Attempts in flight at once, over all endpoints.
    #[arg(long, env = "LIBRIS_WEBHOOK_CONCURRENCY", default_value_t = 64)]
    pub webhook_concurrency: usize,

    /// Attempts in flight at once to one endpoint.
    #[arg(long, env = "LIBRIS_WEBHOOK_ENDPOINT_CONCURRENCY", default_value_t = 8)]
    pub webhook_endpoint_concurrency: usize,

    /// How often workers look for due work when nothing woke them.
    #[arg(long, env = "LIBRIS_WEBHOOK_POLL_INTERVAL", default_value = "1s", value_parser = parse_nonzero_duration)]
    pub webhook_poll_interval: Duration,
}

/// Email settings (docs/email.md).
#[derive(Debug, Clone, Args)]
pub struct EmailArgs {
    /// `smtp://[user:pass@]host:port` (STARTTLS when offered) or
    /// `smtps://…` (TLS). Default: none, emails are recorded and logged, not
    /// sent, and go out once it is set.
    #[arg(long, env = "LIBRIS_SMTP_URL", hide_env_values = true)]
    pub smtp_url: Option<String>,

    /// The sender address of every email.
    #[arg(long, env = "LIBRIS_MAIL_FROM", default_value = "libris@localhost")]
    pub mail_from: String,

    /// Days before a loan's due date that its reminder goes out.
    #[arg(long, env = "LIBRIS_LOAN_REMINDER_DAYS", default_value_t = 2, value_parser = clap::value_parser!(u32).range(0..=3650))]
    pub loan_reminder_days: u32,

    /// Delays between attempts of one email, as the webhook schedule
    /// (default: the webhook default).
    #[arg(long, env = "LIBRIS_EMAIL_RETRY_SCHEDULE", value_parser = parse_schedule)]
    pub email_retry_schedule: Option<Schedule>,
}

/// SMS campaign settings (docs/campaigns.md). The gateway and the daily
/// statistics are settable at runtime in `/api/settings/`; these are the
/// values until an admin sets them.
#[derive(Debug, Clone, Args)]
pub struct SmsArgs {
    /// The SMS gateway's API base: messages go to `{url}/send/{id}`.
    /// Default: none, messages wait (or `sms_url` in `/api/settings/`).
    #[arg(long, env = "LIBRIS_SMS_URL", value_parser = parse_gateway_url)]
    pub sms_url: Option<String>,

    /// The gateway's bearer token; never logged or shown.
    #[arg(long, env = "LIBRIS_SMS_TOKEN", hide_env_values = true)]
    pub sms_token: Option<String>,

    /// Delays between attempts of one message, e.g. `6m,6m`; attempts = 1 +
    /// delays (default: nine delays of 6m).
    #[arg(long, env = "LIBRIS_SMS_RETRY_SCHEDULE", value_parser = parse_schedule)]
    pub sms_retry_schedule: Option<Schedule>,

    /// How long one attempt at the gateway may take.
    #[arg(long, env = "LIBRIS_SMS_TIMEOUT", default_value = "10s", value_parser = parse_nonzero_duration)]
    pub sms_timeout: Duration,

    /// Messages in flight to the gateway at once, in this process.
    #[arg(long, env = "LIBRIS_SMS_CONCURRENCY", default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    pub sms_concurrency: u32,

    /// SMS attempts started per second at most, in this process (0: as
    /// fast as the gateway and the concurrency allow).
    #[arg(long, env = "LIBRIS_SMS_RATE", default_value_t = 400)]
    pub sms_rate: u32,

    /// Who gets the daily campaign statistics email, comma-separated.
    #[arg(long, env = "LIBRIS_STATS_EMAILS", value_delimiter = ',', value_parser = parse_email)]
    pub stats_emails: Vec<String>,

    /// When the daily statistics email goes out, `HH:MM` UTC (default 09:00).
    #[arg(long, env = "LIBRIS_STATS_EMAIL_TIME", value_parser = parse_time_of_day)]
    pub stats_email_time: Option<chrono::NaiveTime>,
}

/// The seed's service: ten attempts, six minutes apart.
pub const SMS_RETRY_SCHEDULE: [Duration; 9] = [Duration::from_secs(6 * 60); 9];

fn parse_gateway_url(raw: &str) -> Result<String, String> {
    libris_sms::check_gateway_url(raw).map(|()| raw.trim().to_owned())
}

fn parse_email(raw: &str) -> Result<String, String> {
    libris_domain::values::Email::parse(raw)
        .map(libris_domain::values::Email::into_inner)
        .map_err(|e| e.message)
}

fn parse_time_of_day(raw: &str) -> Result<chrono::NaiveTime, String> {
    libris_domain::campaigns::TimeOfDay::parse(raw)
        .map(libris_domain::campaigns::TimeOfDay::as_naive)
        .map_err(str::to_owned)
}

/// A parsed retry schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule(pub Vec<Duration>);

/// The longest duration any setting takes. Every one of them is added to a
/// point in time somewhere (a lease's end, a retry's due time), and
/// `chrono` refuses sums beyond about 292,000 years: a cap far below that,
/// far above any sensible setting, turns an absurd value into a
/// configuration error rather than a panic at the first delivery.
const MAX_DURATION: Duration = Duration::from_secs(10 * 365 * 86_400);

/// `500ms`, `10s`, `5m`, `2h`, `5d`; at most ten years.
pub fn parse_duration(raw: &str) -> Result<Duration, String> {
    let raw = raw.trim();
    let split = raw.find(|c: char| !c.is_ascii_digit()).unwrap_or(raw.len());
    let (number, unit) = raw.split_at(split);
    let number: u64 = number
        .parse()
        .map_err(|_| format!("`{raw}` is not a duration like 500ms, 10s, 5m, 2h or 5d"))?;
    let unit = match unit {
        "ms" => Duration::from_millis(1),
        "s" => Duration::from_secs(1),
        "m" => Duration::from_secs(60),
        "h" => Duration::from_secs(3600),
        "d" => Duration::from_secs(86_400),
        _ => return Err(format!("`{raw}` has no unit: use ms, s, m, h or d")),
    };
    u32::try_from(number)
        .ok()
        .and_then(|n| unit.checked_mul(n))
        .filter(|duration| *duration <= MAX_DURATION)
        .ok_or_else(|| format!("`{raw}` is longer than the ten years a setting may last"))
}

/// A duration that must not be zero: a zero timeout fails every attempt and
/// a zero poll interval spins.
pub fn parse_nonzero_duration(raw: &str) -> Result<Duration, String> {
    match parse_duration(raw)? {
        Duration::ZERO => Err(format!("`{raw}` must be longer than zero")),
        duration => Ok(duration),
    }
}

/// A scraper token must be worth guessing: an empty one would match a
/// request that sends none.
fn parse_metrics_token(raw: &str) -> Result<String, String> {
    if raw.trim().chars().count() < 16 {
        return Err("must be at least 16 characters".to_owned());
    }
    Ok(raw.trim().to_owned())
}

/// A bad secret stops the start, rather than every inbound request failing.
fn parse_inbound_secret(raw: &str) -> Result<SigningKey, String> {
    SigningKey::from_secret(raw).map_err(|e| e.to_string())
}

/// `1s,2s,4s`.
pub fn parse_schedule(raw: &str) -> Result<Schedule, String> {
    raw.split(',')
        .map(parse_duration)
        .collect::<Result<_, _>>()
        .map(Schedule)
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Create an admin (does nothing if the username exists).
    Create {
        /// The new admin's username.
        #[arg(long)]
        username: String,
        /// Read from LIBRIS_ADMIN_PASSWORD when not given, to keep it out of
        /// shell history.
        #[arg(long, env = "LIBRIS_ADMIN_PASSWORD", hide_env_values = true)]
        password: String,
        /// E-mail address (default: `<username>@localhost.localdomain`).
        #[arg(long)]
        email: Option<String>,
    },
}

/// Everything `Application::build` needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub database_url: DatabaseUrl,
    pub db_pool_size: u32,
    pub serve: ServeArgs,
    pub channels: ChannelArgs,
}

impl Config {
    /// The server's configuration: from `libris serve …`, or from the flags
    /// given without a subcommand.
    pub fn from_cli(cli: &Cli) -> Self {
        let server = match &cli.command {
            Some(Command::Serve(server)) => server,
            _ => &cli.server,
        };
        Self {
            database_url: cli.database.database_url.clone(),
            db_pool_size: cli.database.pool_size(),
            serve: server.serve.clone(),
            channels: server.channels.clone(),
        }
    }

    /// An admin to create at start, when both its name and password are set.
    pub fn bootstrap_admin(&self) -> Option<AdminAccount> {
        match (&self.serve.admin_username, &self.serve.admin_password) {
            (Some(username), Some(password)) => Some(AdminAccount {
                username: username.clone(),
                password: password.clone(),
                email: self.serve.admin_email.clone(),
            }),
            _ => None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct AdminAccount {
    pub username: String,
    pub password: String,
    pub email: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_arguments_serve_on_the_embedded_default() {
        let cli = Cli::try_parse_from(["libris"]).unwrap();
        assert!(cli.command.is_none());
        let cli = Cli::try_parse_from(["libris", "serve", "--port", "9000", "--host", "0.0.0.0"])
            .unwrap();
        assert!(matches!(cli.command, Some(Command::Serve(_))));
        let config = Config::from_cli(&cli);
        assert_eq!(
            (config.serve.host.as_str(), config.serve.port),
            ("0.0.0.0", 9000)
        );
        let config = Config::from_cli(&Cli::try_parse_from(["libris", "--port", "9001"]).unwrap());
        assert_eq!(config.serve.port, 9001, "flags without a subcommand serve");
    }

    #[test]
    fn each_command_takes_only_its_own_options() {
        // Server options belong to serving, not to operating on the queue.
        let misplaced: [&[&str]; 5] = [
            &["libris", "--port", "9000", "serve"],
            &["libris", "deliveries", "monitor", "--port", "9000"],
            &["libris", "migrate", "--webhook-timeout", "5s"],
            &["libris", "--port", "9000", "migrate"],
            &["libris", "--webhook-timeout", "5s", "worker"],
        ];
        for argv in misplaced {
            assert!(Cli::try_parse_checked_from(argv).is_err(), "{argv:?}");
        }
        // Options every command takes may come before the command.
        let global: [&[&str]; 3] = [
            &["libris", "--database-url", "/tmp/x.db", "migrate"],
            &["libris", "--log-format", "json", "deliveries", "monitor"],
            &["libris", "--db-pool-size", "2", "serve", "--port", "9000"],
        ];
        for argv in global {
            assert!(Cli::try_parse_checked_from(argv).is_ok(), "{argv:?}");
        }
        let help = Cli::try_parse_from(["libris", "deliveries", "monitor", "--help"]).unwrap_err();
        let help = help.to_string();
        assert!(
            help.contains("--status") && help.contains("--database-url"),
            "{help}"
        );
        assert!(
            !help.contains("--port") && !help.contains("--webhook-timeout"),
            "{help}"
        );
        // The workers and `deliveries send` send, so they take the delivery settings.
        assert!(Cli::try_parse_from(["libris", "worker", "--webhook-timeout", "5s"]).is_ok());
        let send = ["libris", "deliveries", "send", "--webhook-timeout", "5s"];
        assert!(Cli::try_parse_from(send).is_ok());
    }

    /// Every setting the binary reads from its environment, in any command.
    fn settings(command: &clap::Command) -> Vec<String> {
        let own = command
            .get_arguments()
            .filter_map(|arg| arg.get_env())
            .map(|env| env.to_string_lossy().into_owned());
        let nested = command.get_subcommands().flat_map(settings);
        own.chain(nested).collect()
    }

    #[test]
    fn every_setting_is_in_the_operations_guide() {
        use clap::CommandFactory;
        let guide = include_str!("../../../docs/operations.md");
        let settings = settings(&Cli::command());
        assert!(settings.len() > 20, "{settings:?}");
        let undocumented: Vec<&String> = settings
            .iter()
            .filter(|name| !guide.contains(&format!("`{name}`")))
            .collect();
        assert!(
            undocumented.is_empty(),
            "docs/operations.md lacks {undocumented:?}"
        );
    }

    /// Every option of every command, with the path of commands to it.
    fn options(command: &clap::Command, path: &str) -> Vec<(String, clap::Arg)> {
        let path = format!("{path} {}", command.get_name());
        let own = command
            .get_arguments()
            .filter(|arg| !matches!(arg.get_id().as_str(), "help" | "version"))
            .map(|arg| (path.clone(), arg.clone()));
        let nested = command
            .get_subcommands()
            .flat_map(|sub| options(sub, &path));
        own.chain(nested).collect()
    }

    #[test]
    fn every_option_of_every_command_says_what_it_is() {
        use clap::CommandFactory;
        let silent: Vec<String> = options(&Cli::command(), "")
            .into_iter()
            .filter(|(_, arg)| arg.get_help().is_none())
            .map(|(path, arg)| format!("{path} --{}", arg.get_id()))
            .collect();
        assert!(silent.is_empty(), "options without help: {silent:?}");
    }

    #[test]
    fn a_metrics_token_too_short_to_be_a_secret_stops_the_start() {
        for weak in ["", "   ", "short"] {
            assert!(
                Cli::try_parse_from(["libris", "--metrics-token", weak]).is_err(),
                "{weak:?}"
            );
        }
        let cli = Cli::try_parse_from(["libris", "--metrics-token", "a-scraper-secret-1"]).unwrap();
        assert!(Config::from_cli(&cli).serve.metrics_token.is_some());
    }

    #[test]
    fn a_database_url_of_another_scheme_is_refused_by_name() {
        let err = Cli::try_parse_from(["libris", "--database-url", "mysql://x/y"]).unwrap_err();
        let err = err.to_string();
        assert!(
            err.contains("`mysql://`") && err.contains("postgres://"),
            "{err}"
        );
    }

    #[test]
    fn durations_and_schedules_parse_with_units() {
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(parse_duration("5d"), Ok(Duration::from_secs(5 * 86_400)));
        assert!(parse_duration("10").is_err());
        assert!(parse_duration("ten s").is_err());
        let schedule = parse_schedule("1s,2s,4s").unwrap();
        assert_eq!(schedule.0, [1, 2, 4].map(Duration::from_secs));
        let err = Cli::try_parse_from(["libris", "--webhook-timeout", "soon"]).unwrap_err();
        assert!(err.to_string().contains("--webhook-timeout"), "{err}");
    }

    #[test]
    fn absurd_durations_are_configuration_errors() {
        for absurd in [
            "99999999999999999999s",
            "18446744073709551615d",
            "3651d",
            "0s",
        ] {
            let err = Cli::try_parse_from(["libris", "--webhook-timeout", absurd]).unwrap_err();
            assert!(
                err.to_string().contains("--webhook-timeout"),
                "{absurd}: {err}"
            );
        }
        assert_eq!(parse_duration("3650d"), Ok(MAX_DURATION));
        assert!(
            parse_duration("0s").is_ok(),
            "zero is fine where it means none"
        );
    }

    #[test]
    fn the_pool_size_defaults_by_backend_unless_given() {
        let sqlite = Config::from_cli(&Cli::try_parse_from(["libris"]).unwrap());
        assert_eq!(sqlite.db_pool_size, SQLITE_POOL_SIZE);
        let postgres = Cli::try_parse_from(["libris", "--database-url", "postgres://db/libris"]);
        assert_eq!(
            Config::from_cli(&postgres.unwrap()).db_pool_size,
            POSTGRES_POOL_SIZE
        );
        let given = Cli::try_parse_from(["libris", "--db-pool-size", "2"]).unwrap();
        assert_eq!(Config::from_cli(&given).db_pool_size, 2);
        assert!(Cli::try_parse_from(["libris", "--db-pool-size", "0"]).is_err());
    }

    #[test]
    fn an_inbound_secret_that_cannot_key_signatures_stops_the_start() {
        let err = Cli::try_parse_from(["libris", "--inbound-secret", "short"]).unwrap_err();
        assert!(err.to_string().contains("at least 8 characters"), "{err}");
        let cli = Cli::try_parse_from(["libris", "--inbound-secret", "whsec_c2VjcmV0"]).unwrap();
        assert!(Config::from_cli(&cli).serve.inbound_secret.is_some());
    }

    #[test]
    fn delivery_commands_parse_with_their_defaults() {
        let cli = Cli::try_parse_from(["libris", "deliveries", "monitor"]).unwrap();
        let Some(Command::Deliveries(DeliveriesCommand::Monitor {
            status,
            limit,
            minutes,
        })) = cli.command
        else {
            panic!("monitor")
        };
        assert_eq!((status, limit, minutes), (DeliveryStatus::Failed, 50, 10));
        let cli =
            Cli::try_parse_from(["libris", "deliveries", "send", "--delivery", "3", "4"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Deliveries(DeliveriesCommand::Send { deliveries, .. })) if deliveries == [3, 4])
        );
        assert!(
            Cli::try_parse_from(["libris", "deliveries", "monitor", "--status", "lost"]).is_err()
        );
        let cli =
            Cli::try_parse_from(["libris", "deliveries", "prune", "--older-than", "7d"]).unwrap();
        assert!(
            matches!(cli.command, Some(Command::Deliveries(DeliveriesCommand::Prune { older_than })) if older_than == Duration::from_secs(7 * 86_400))
        );
    }

    fn oidc(argv: &[&str]) -> OidcArgs {
        let mut full = vec!["libris"];
        full.extend_from_slice(argv);
        Config::from_cli(&Cli::try_parse_from(full).unwrap())
            .serve
            .oidc
    }

    #[test]
    fn single_sign_on_takes_its_three_settings_together_or_none() {
        assert_eq!(oidc(&[]).provider(), Ok(None));
        let all = oidc(&[
            "--oidc-issuer",
            "https://id.example",
            "--oidc-client-id",
            "libris",
            "--oidc-client-secret",
            "s3cret",
        ]);
        assert_eq!(
            all.provider().unwrap().map(|p| p.client_id),
            Some("libris".into())
        );
        let partial = oidc(&[
            "--oidc-issuer",
            "https://id.example",
            "--oidc-client-id",
            "",
        ]);
        let err = partial.provider().unwrap_err();
        assert!(
            err.contains("LIBRIS_OIDC_CLIENT_ID and LIBRIS_OIDC_CLIENT_SECRET not set"),
            "{err}"
        );
        assert!(!err.contains("LIBRIS_OIDC_ISSUER not set"), "{err}");
    }

    #[test]
    fn the_redirect_url_follows_the_public_url_or_the_listener() {
        let default = oidc(&[]);
        assert_eq!(
            default.redirect_url("127.0.0.1", 8000),
            "http://127.0.0.1:8000/admin/oidc/callback"
        );
        assert!(!default.public_url_is_https());
        let public = oidc(&["--public-url", "https://libris.example/"]);
        assert_eq!(
            public.redirect_url("0.0.0.0", 8000),
            "https://libris.example/admin/oidc/callback"
        );
        assert!(public.public_url_is_https());
        for bad in ["libris.example", "ftp://x", "https://", "https://x/?a"] {
            assert!(
                Cli::try_parse_from(["libris", "--public-url", bad]).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_bad_port_is_refused_with_the_flag_named() {
        let err = Cli::try_parse_from(["libris", "serve", "--port", "eighty"]).unwrap_err();
        assert!(err.to_string().contains("--port"), "{err}");
    }
}
