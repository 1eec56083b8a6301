//! Why a channel could not be configured. The SMTP URL usually carries a
//! password, so no message here ever quotes the URL or any part of it that
//! could be the password (a misplaced `@` or `:` can turn it into a "host" or
//! a "port"): each names the part that is wrong instead.

/// A configuration the channel refuses, found at start-up rather than at the
/// first send.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SmtpConfigError {
    #[error("the SMTP URL must start with smtp:// or smtps://")]
    UnknownScheme,
    #[error("the SMTP URL has no host")]
    MissingHost,
    #[error("the SMTP URL's host is not a valid host name or IP address")]
    InvalidHost,
    #[error("the SMTP URL's port is not a number from 1 to 65535")]
    InvalidPort,
    #[error("the SMTP URL's user name or password is not valid percent-encoded UTF-8")]
    InvalidCredentials,
    #[error("the SMTP URL has a password but no user name")]
    PasswordWithoutUser,
    #[error("the SMTP URL must not have a path, query or fragment")]
    UnexpectedPath,
    /// The sender is configuration, not a secret: quoting it helps fix it.
    #[error("the from address {from:?} is not a mailbox: {reason}")]
    InvalidFrom { from: String, reason: String },
    #[error("the SMTP timeout must be above zero")]
    ZeroTimeout,
    #[error("cannot set up TLS for {host}: {reason}")]
    Tls { host: String, reason: String },
}
