//! Broker URLs: which broker, where, as whom, and where in it a delivery
//! goes. Parsing is strict (an unknown parameter is refused rather than
//! ignored) because a typo in a subscription's URL would otherwise send every
//! delivery somewhere nobody reads.

use std::fmt;

use percent_encoding::percent_decode_str;
use url::{Host, Url};

/// The placeholder a routing key or subject may contain: the event's name.
pub(crate) const EVENT_PLACEHOLDER: &str = "{event}";

pub(crate) const DEFAULT_AMQP_PORT: u16 = 5672;
pub(crate) const DEFAULT_NATS_PORT: u16 = 4222;
pub(crate) const DEFAULT_EXCHANGE: &str = "libris";
pub(crate) const DEFAULT_ROUTING_KEY: &str = "{event}";
pub(crate) const DEFAULT_SUBJECT: &str = "libris.{event}";
/// RabbitMQ's defaults when a URL names no user, as in its own URI spec.
const DEFAULT_AMQP_USER: &str = "guest";
const DEFAULT_AMQP_PASSWORD: &str = "guest";
/// AMQP short strings (exchange names, routing keys) hold at most 255 bytes.
const AMQP_SHORT_STRING_MAX: usize = 255;

/// The broker kinds a URL can name, by scheme.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Scheme {
    Amqp,
    Nats,
}

impl Scheme {
    fn from_url(url: &str) -> Option<Self> {
        let head = url.get(..7)?;
        if head.eq_ignore_ascii_case("amqp://") {
            Some(Self::Amqp)
        } else if head.eq_ignore_ascii_case("nats://") {
            Some(Self::Nats)
        } else {
            None
        }
    }
}

/// Whether `url` is meant for the broker channel (`amqp://` or `nats://`),
/// whether or not it is otherwise valid: the pipeline routes on this, and a
/// broker URL that does not parse is then refused by the broker channel
/// with the reason, rather than by the HTTP sender as "not http".
pub fn is_broker_url(url: &str) -> bool {
    Scheme::from_url(url).is_some()
}

/// Checks a broker URL as the broker channel will read it, for the admin's
/// sake when a subscription is saved. The error is a sentence about the URL
/// that never contains its password.
pub fn check_broker_url(url: &str) -> Result<(), String> {
    Target::parse(url).map(drop)
}

/// Where a connection goes and as whom: the key of the connection cache.
/// `vhost` is empty for NATS.
#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) struct Endpoint {
    pub scheme: Scheme,
    pub user: String,
    pub password: String,
    pub host: String,
    pub port: u16,
    pub vhost: String,
}

/// Endpoints end up in logs and panic messages; the password must not.
impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("scheme", &self.scheme)
            .field("user", &self.user)
            .field("password", &"***")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("vhost", &self.vhost)
            .finish()
    }
}

impl Endpoint {
    /// `host:port`, bracketing an IPv6 address.
    pub fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }

    /// Who an error is about, without credentials: `RabbitMQ at
    /// 127.0.0.1:5672 (vhost "/")`, `NATS at 127.0.0.1:4222`.
    pub fn describe(&self) -> String {
        match self.scheme {
            Scheme::Amqp => format!("RabbitMQ at {} (vhost {:?})", self.address(), self.vhost),
            Scheme::Nats => format!("NATS at {}", self.address()),
        }
    }

    /// `text` with every occurrence of the password (as given and as it
    /// would appear percent-encoded) replaced by `***`: broker and library
    /// errors are not ours to word, so nothing they say is trusted to leave
    /// it out. Passwords shorter than four characters are left alone, or
    /// every such letter in the text would go.
    pub fn scrub(&self, text: &str) -> String {
        if self.password.chars().count() < 4 {
            return text.to_owned();
        }
        let encoded = percent_encoding::utf8_percent_encode(
            &self.password,
            percent_encoding::NON_ALPHANUMERIC,
        )
        .to_string();
        text.replace(&self.password, "***").replace(&encoded, "***")
    }
}

/// A parsed broker URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Target {
    Amqp(AmqpTarget),
    Nats(NatsTarget),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AmqpTarget {
    pub endpoint: Endpoint,
    /// Empty for the default exchange, which is never declared.
    pub exchange: String,
    /// May contain `{event}`.
    pub routing_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NatsTarget {
    pub endpoint: Endpoint,
    /// May contain `{event}`.
    pub subject: String,
}

impl AmqpTarget {
    /// The routing key for `event`; refused when too long for AMQP.
    pub fn routing_key_for(&self, event: &str) -> Result<String, String> {
        let key = self.routing_key.replace(EVENT_PLACEHOLDER, event);
        if key.len() > AMQP_SHORT_STRING_MAX {
            return Err(format!(
                "routing key for event {event:?} is longer than {AMQP_SHORT_STRING_MAX} bytes"
            ));
        }
        Ok(key)
    }
}

impl NatsTarget {
    /// The subject for `event`; refused when the event's name makes it an
    /// invalid publish subject.
    pub fn subject_for(&self, event: &str) -> Result<String, String> {
        let subject = self.subject.replace(EVENT_PLACEHOLDER, event);
        check_subject(&subject)
            .map_err(|reason| format!("subject {subject:?} for event {event:?} {reason}"))?;
        Ok(subject)
    }
}

impl Target {
    /// Reads a broker URL. Errors are sentences about the URL, for the
    /// admin, without its password.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let Some(scheme) = Scheme::from_url(raw) else {
            return Err("must be an amqp:// or nats:// URL".to_owned());
        };
        let url = Url::parse(raw).map_err(|e| format!("is not a valid URL: {e}"))?;
        if url.fragment().is_some() {
            return Err("must not have a #fragment".to_owned());
        }
        let host = match url.host() {
            Some(Host::Domain("")) | None => return Err("must have a host".to_owned()),
            Some(Host::Domain(name)) => name.to_ascii_lowercase(),
            Some(Host::Ipv4(ip)) => ip.to_string(),
            Some(Host::Ipv6(ip)) => ip.to_string(),
        };
        let user = decode(url.username(), "user name")?;
        let password = url.password().map(|p| decode(p, "password")).transpose()?;
        let params = Params::read(&url)?;
        match scheme {
            Scheme::Amqp => {
                let (user, password) = if user.is_empty() && password.is_none() {
                    (
                        DEFAULT_AMQP_USER.to_owned(),
                        DEFAULT_AMQP_PASSWORD.to_owned(),
                    )
                } else {
                    (user, password.unwrap_or_default())
                };
                let endpoint = Endpoint {
                    scheme,
                    user,
                    password,
                    host,
                    port: url.port().unwrap_or(DEFAULT_AMQP_PORT),
                    vhost: vhost(url.path())?,
                };
                let exchange = params
                    .take("exchange")
                    .unwrap_or_else(|| DEFAULT_EXCHANGE.to_owned());
                let routing_key = params
                    .take("routing_key")
                    .unwrap_or_else(|| DEFAULT_ROUTING_KEY.to_owned());
                params.finish(&["exchange", "routing_key"])?;
                check_exchange(&exchange)?;
                if routing_key.len() > AMQP_SHORT_STRING_MAX {
                    return Err(format!(
                        "routing_key must be at most {AMQP_SHORT_STRING_MAX} bytes"
                    ));
                }
                Ok(Self::Amqp(AmqpTarget {
                    endpoint,
                    exchange,
                    routing_key,
                }))
            }
            Scheme::Nats => {
                if !matches!(url.path(), "" | "/") {
                    return Err("must have no path: the subject goes in ?subject=".to_owned());
                }
                // NATS tokens and nkeys would be secrets in the user name,
                // which nothing masks; only user and password are taken.
                if user.is_empty() != password.is_none() {
                    return Err(
                        "must name both a user and a password (user:password@), or neither"
                            .to_owned(),
                    );
                }
                let endpoint = Endpoint {
                    scheme,
                    user,
                    password: password.unwrap_or_default(),
                    host,
                    port: url.port().unwrap_or(DEFAULT_NATS_PORT),
                    vhost: String::new(),
                };
                let subject = params
                    .take("subject")
                    .unwrap_or_else(|| DEFAULT_SUBJECT.to_owned());
                params.finish(&["subject"])?;
                // Checked with a stand-in event name; the real one is checked
                // again when it is known.
                let sample = subject.replace(EVENT_PLACEHOLDER, "event");
                check_subject(&sample).map_err(|reason| format!("subject {subject:?} {reason}"))?;
                Ok(Self::Nats(NatsTarget { endpoint, subject }))
            }
        }
    }
}

fn decode(raw: &str, what: &str) -> Result<String, String> {
    percent_decode_str(raw)
        .decode_utf8()
        .map(|s| s.into_owned())
        .map_err(|_| format!("has a {what} that is not UTF-8 once decoded"))
}

/// The vhost is the path with its slash taken off and percent-decoded
/// (`/%2f` is `/`). No path, or `/` alone, means the default vhost `/`
/// rather than the empty name the AMQP URI spec reads there: no broker has
/// an empty vhost, and `amqp://host/` is what people write for the default.
fn vhost(path: &str) -> Result<String, String> {
    let raw = path.strip_prefix('/').unwrap_or(path);
    if raw.is_empty() {
        return Ok("/".to_owned());
    }
    if raw.contains('/') {
        return Err("has a vhost with a `/` in it: write it as %2F".to_owned());
    }
    decode(raw, "vhost")
}

fn check_exchange(exchange: &str) -> Result<(), String> {
    if exchange.len() > AMQP_SHORT_STRING_MAX {
        return Err(format!(
            "exchange must be at most {AMQP_SHORT_STRING_MAX} bytes"
        ));
    }
    if exchange.chars().any(char::is_control) {
        return Err("exchange must not contain control characters".to_owned());
    }
    Ok(())
}

/// A subject a message can be published to: dot-separated non-empty tokens,
/// no whitespace, no wildcard tokens.
fn check_subject(subject: &str) -> Result<(), &'static str> {
    if subject.is_empty() {
        return Err("is empty");
    }
    if subject.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err("must not contain whitespace");
    }
    for token in subject.split('.') {
        match token {
            "" => return Err("must not have an empty token (a leading, trailing or double dot)"),
            "*" | ">" => return Err("must not contain wildcards"),
            _ => {}
        }
    }
    Ok(())
}

/// The query's parameters, each taken at most once.
struct Params(std::cell::RefCell<Vec<(String, String)>>);

impl Params {
    fn read(url: &Url) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in url.query_pairs() {
            if pairs.iter().any(|(seen, _)| *seen == name) {
                return Err(format!("has the parameter `{name}` more than once"));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(std::cell::RefCell::new(pairs)))
    }

    fn take(&self, name: &str) -> Option<String> {
        let mut pairs = self.0.borrow_mut();
        let index = pairs.iter().position(|(n, _)| n == name)?;
        Some(pairs.remove(index).1)
    }

    /// Refuses whatever was not taken.
    fn finish(self, known: &[&str]) -> Result<(), String> {
        match self.0.into_inner().first() {
            None => Ok(()),
            Some((name, _)) => Err(format!(
                "has an unknown parameter `{name}` (known: {})",
                known.join(", ")
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amqp(url: &str) -> AmqpTarget {
        match Target::parse(url) {
            Ok(Target::Amqp(target)) => target,
            other => panic!("{url}: {other:?}"),
        }
    }

    fn nats(url: &str) -> NatsTarget {
        match Target::parse(url) {
            Ok(Target::Nats(target)) => target,
            other => panic!("{url}: {other:?}"),
        }
    }

    #[test]
    fn broker_urls_are_told_by_scheme() {
        assert!(is_broker_url("amqp://guest:guest@localhost:5672/%2f"));
        assert!(is_broker_url("AMQP://h"));
        assert!(is_broker_url("nats://localhost:4222?subject=s"));
        assert!(is_broker_url("nats://"));
        assert!(!is_broker_url("https://example.com/hook"));
        assert!(!is_broker_url("amqps://h"));
        assert!(!is_broker_url("amqp:"));
        assert!(!is_broker_url("natsx://h"));
        assert!(!is_broker_url(""));
    }

    #[test]
    fn amqp_urls_read_every_part() {
        let target =
            amqp("amqp://app:p%40ss@Rabbit.Example:5673/orders?exchange=ex&routing_key=k.{event}");
        assert_eq!(target.endpoint.scheme, Scheme::Amqp);
        assert_eq!(target.endpoint.user, "app");
        assert_eq!(target.endpoint.password, "p@ss");
        assert_eq!(target.endpoint.host, "rabbit.example");
        assert_eq!(target.endpoint.port, 5673);
        assert_eq!(target.endpoint.vhost, "orders");
        assert_eq!(target.exchange, "ex");
        assert_eq!(
            target.routing_key_for("book.created").unwrap(),
            "k.book.created"
        );
    }

    #[test]
    fn amqp_defaults() {
        let target = amqp("amqp://127.0.0.1");
        assert_eq!(target.endpoint.user, "guest");
        assert_eq!(target.endpoint.password, "guest");
        assert_eq!(target.endpoint.port, 5672);
        assert_eq!(target.endpoint.vhost, "/");
        assert_eq!(target.exchange, "libris");
        assert_eq!(
            target.routing_key_for("book.created").unwrap(),
            "book.created"
        );
        assert_eq!(amqp("amqp://h/").endpoint.vhost, "/");
        assert_eq!(amqp("amqp://h/%2f").endpoint.vhost, "/");
        assert_eq!(amqp("amqp://h/%2Fprod").endpoint.vhost, "/prod");
        assert_eq!(amqp("amqp://u:p@[::1]/").endpoint.address(), "[::1]:5672");
        assert_eq!(amqp("amqp://h?exchange=").exchange, "");
    }

    #[test]
    fn nats_urls_read_every_part() {
        let target = nats("nats://app:pw@127.0.0.1:4333?subject=orders.{event}");
        assert_eq!(target.endpoint.scheme, Scheme::Nats);
        assert_eq!(target.endpoint.user, "app");
        assert_eq!(target.endpoint.password, "pw");
        assert_eq!(target.endpoint.address(), "127.0.0.1:4333");
        assert_eq!(
            target.subject_for("book.created").unwrap(),
            "orders.book.created"
        );
        let target = nats("nats://localhost");
        assert_eq!(target.endpoint.port, 4222);
        assert_eq!(target.endpoint.user, "");
        assert_eq!(target.subject_for("loan.due").unwrap(), "libris.loan.due");
    }

    #[test]
    fn bad_urls_are_refused_with_a_reason() {
        for (url, expected) in [
            ("https://example.com", "must be an amqp:// or nats:// URL"),
            ("amqp://", "must have a host"),
            ("amqp://h:99999/v", "is not a valid URL"),
            ("amqp://h/a/b", "%2F"),
            ("amqp://h/v?exchange=e&exchange=f", "more than once"),
            ("amqp://h/v?routingkey=k", "unknown parameter `routingkey`"),
            ("amqp://h/v#frag", "fragment"),
            ("nats://h/path", "no path"),
            ("nats://h?subject=a..b", "empty token"),
            ("nats://h?subject=a.*", "wildcards"),
            ("nats://h?subject=a.>", "wildcards"),
            ("nats://h?subject=", "is empty"),
            ("nats://token@h", "both a user and a password"),
            ("nats://h?exchange=x", "unknown parameter"),
        ] {
            let error = Target::parse(url).expect_err(url);
            assert!(error.contains(expected), "{url}: {error}");
        }
    }

    #[test]
    fn parse_errors_never_show_the_password() {
        for url in [
            "amqp://u:hunter22@h/v?nope=1",
            "amqp://u:hunter22@h:99999/v",
            "nats://u:hunter22@h?subject=a..b",
        ] {
            let error = check_broker_url(url).expect_err(url);
            assert!(!error.contains("hunter22"), "{error}");
        }
    }

    #[test]
    fn subjects_are_checked_again_with_the_event_name() {
        let target = nats("nats://h?subject=x.{event}");
        assert!(target.subject_for("book created").is_err());
        assert!(target.subject_for("book.").is_err());
        assert_eq!(target.subject_for("book").unwrap(), "x.book");
    }

    #[test]
    fn long_routing_keys_are_refused() {
        let target = amqp("amqp://h?routing_key=a.{event}");
        assert!(target.routing_key_for(&"e".repeat(300)).is_err());
    }

    #[test]
    fn scrub_removes_the_password_in_either_form() {
        let endpoint = amqp("amqp://u:p%40ssword@h/").endpoint;
        assert_eq!(
            endpoint.scrub("bad p@ssword or p%40ssword"),
            "bad *** or ***"
        );
        let short = amqp("amqp://u:pw@h/").endpoint;
        assert_eq!(short.scrub("pw"), "pw");
        let shown = format!("{:?}", endpoint);
        assert!(!shown.contains("p@ssword"), "{shown}");
    }
}
