//! The SMTP URL: `smtp://[user:pass@]host[:port]` or `smtps://...`.
//!
//! Parsed by hand rather than with a URL library: the grammar is small, and
//! owning it means no error can ever echo the password (see `error.rs`).

use std::fmt;
use std::net::Ipv6Addr;

use crate::SmtpConfigError;

/// How the connection is protected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    /// `smtp://`: STARTTLS when the server offers it, plain text otherwise,
    /// which is what most relays on port 25 expect.
    Opportunistic,
    /// `smtps://`: TLS from the first byte (port 465).
    Implicit,
}

impl Security {
    fn scheme(self) -> &'static str {
        match self {
            Self::Opportunistic => "smtp",
            Self::Implicit => "smtps",
        }
    }

    fn default_port(self) -> u16 {
        match self {
            Self::Opportunistic => 25,
            Self::Implicit => 465,
        }
    }
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct SmtpUrl {
    pub(crate) security: Security,
    /// Lowercased; an IPv6 address without its brackets.
    pub(crate) host: String,
    pub(crate) port: u16,
    pub(crate) credentials: Option<Credentials>,
}

#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    pub(crate) user: String,
    pub(crate) password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

/// The URL with the password masked, for logs and `Debug`.
impl fmt::Display for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.security.scheme())?;
        if let Some(credentials) = &self.credentials {
            write!(f, "{}:***@", credentials.user)?;
        }
        write!(f, "{}", self.address())
    }
}

impl fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.to_string())
    }
}

impl SmtpUrl {
    /// `host:port`, with brackets around an IPv6 address.
    pub(crate) fn address(&self) -> String {
        if self.host.contains(':') {
            format!("[{}]:{}", self.host, self.port)
        } else {
            format!("{}:{}", self.host, self.port)
        }
    }
}

pub(crate) fn parse(url: &str) -> Result<SmtpUrl, SmtpConfigError> {
    let (scheme, rest) = url
        .trim()
        .split_once("://")
        .ok_or(SmtpConfigError::UnknownScheme)?;
    let security = if scheme.eq_ignore_ascii_case("smtp") {
        Security::Opportunistic
    } else if scheme.eq_ignore_ascii_case("smtps") {
        Security::Implicit
    } else {
        return Err(SmtpConfigError::UnknownScheme);
    };
    // The authority ends at the first of these (RFC 3986 §3.2); a password
    // containing one must percent-encode it.
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest
        .split_at_checked(authority_end)
        .ok_or(SmtpConfigError::UnexpectedPath)?;
    if !tail.is_empty() && tail != "/" {
        return Err(SmtpConfigError::UnexpectedPath);
    }
    let (userinfo, host_port) = match authority.rsplit_once('@') {
        Some((userinfo, host_port)) => (Some(userinfo), host_port),
        None => (None, authority),
    };
    let credentials = userinfo.map(parse_credentials).transpose()?.flatten();
    let (host, port) = split_host_port(host_port)?;
    let port = match port {
        None => security.default_port(),
        Some(port) => parse_port(port)?,
    };
    Ok(SmtpUrl {
        security,
        host: parse_host(host)?,
        port,
        credentials,
    })
}

/// `None` for an empty userinfo (`smtp://@host`).
fn parse_credentials(userinfo: &str) -> Result<Option<Credentials>, SmtpConfigError> {
    let (user, password) = userinfo.split_once(':').unwrap_or((userinfo, ""));
    let user = percent_decode(user).ok_or(SmtpConfigError::InvalidCredentials)?;
    let password = percent_decode(password).ok_or(SmtpConfigError::InvalidCredentials)?;
    match (user.is_empty(), password.is_empty()) {
        (true, true) => Ok(None),
        (true, false) => Err(SmtpConfigError::PasswordWithoutUser),
        (false, _) => Ok(Some(Credentials { user, password })),
    }
}

fn split_host_port(host_port: &str) -> Result<(&str, Option<&str>), SmtpConfigError> {
    let (host, port) = if host_port.starts_with('[') {
        match host_port.split_once(']') {
            Some((host, "")) => (host, None),
            Some((host, after)) => {
                let port = after
                    .strip_prefix(':')
                    .ok_or(SmtpConfigError::InvalidHost)?;
                (host, Some(port))
            }
            None => return Err(SmtpConfigError::InvalidHost),
        }
    } else {
        match host_port.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (host_port, None),
        }
    };
    if host.is_empty() {
        return Err(SmtpConfigError::MissingHost);
    }
    // `smtp://host:` means the default port, as in other URLs.
    Ok((host, port.filter(|p| !p.is_empty())))
}

fn parse_port(port: &str) -> Result<u16, SmtpConfigError> {
    // `u16::from_str` would take a leading `+`.
    if !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(SmtpConfigError::InvalidPort);
    }
    match port.parse() {
        Ok(0) | Err(_) => Err(SmtpConfigError::InvalidPort),
        Ok(port) => Ok(port),
    }
}

/// A DNS name, an IPv4 address, or a bracketed IPv6 address. Underscores are
/// let through: container and internal host names use them, and the TLS
/// layer has the last word on what it can verify.
fn parse_host(host: &str) -> Result<String, SmtpConfigError> {
    if let Some(inner) = host.strip_prefix('[') {
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| SmtpConfigError::InvalidHost)?;
        return Ok(inner.to_ascii_lowercase());
    }
    let label_ok = |label: &str| {
        !label.is_empty()
            && label.len() <= 63
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    };
    if host.len() > 253 || !host.split('.').all(label_ok) {
        return Err(SmtpConfigError::InvalidHost);
    }
    Ok(host.to_ascii_lowercase())
}

/// `%XX` decoded, the result read as UTF-8; `None` for a malformed escape or
/// bytes that are not UTF-8.
fn percent_decode(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&byte) = bytes.get(i) {
        if byte == b'%' {
            let high = bytes.get(i + 1).copied().and_then(hex_value)?;
            let low = bytes.get(i + 2).copied().and_then(hex_value)?;
            out.push(high << 4 | low);
            i += 3;
        } else {
            out.push(byte);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn hex_value(digit: u8) -> Option<u8> {
    char::from(digit)
        .to_digit(16)
        .and_then(|d| u8::try_from(d).ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> SmtpUrl {
        parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn credentials(user: &str, password: &str) -> Option<Credentials> {
        Some(Credentials {
            user: user.into(),
            password: password.into(),
        })
    }

    #[test]
    fn parses_both_schemes_with_their_default_ports() {
        let plain = url("smtp://Mail.Example.COM");
        assert_eq!(plain.security, Security::Opportunistic);
        assert_eq!((plain.host.as_str(), plain.port), ("mail.example.com", 25));
        assert!(plain.credentials.is_none());

        let implicit = url("SMTPS://relay.example/");
        assert_eq!(implicit.security, Security::Implicit);
        assert_eq!(implicit.port, 465);

        assert_eq!(url("smtp://127.0.0.1:2525").port, 2525);
        assert_eq!(url("smtp://relay:").port, 25);
        assert_eq!(
            url(" smtp://relay_1.internal:587 \n").host,
            "relay_1.internal"
        );
    }

    #[test]
    fn parses_ipv6_hosts() {
        let v6 = url("smtp://[::1]:2525");
        assert_eq!((v6.host.as_str(), v6.port), ("::1", 2525));
        assert_eq!(v6.address(), "[::1]:2525");
        assert_eq!(url("smtps://[2001:DB8::1]").port, 465);
    }

    #[test]
    fn decodes_credentials() {
        assert_eq!(
            url("smtp://alice:s3cret@host").credentials,
            credentials("alice", "s3cret")
        );
        assert_eq!(
            url("smtp://al%40ice:p%40ss%3Aw%C3%B6rd@host:25").credentials,
            credentials("al@ice", "p@ss:wörd")
        );
        // The last `@` ends the userinfo, so an unencoded one in the
        // password still works.
        assert_eq!(
            url("smtp://alice:p@ss@host").credentials,
            credentials("alice", "p@ss")
        );
        assert_eq!(
            url("smtp://alice@host").credentials,
            credentials("alice", "")
        );
        assert_eq!(url("smtp://@host").credentials, None);
    }

    #[test]
    fn refuses_bad_urls_with_the_part_that_is_wrong() {
        use SmtpConfigError::*;
        let cases = [
            ("", UnknownScheme),
            ("mail.example.com:25", UnknownScheme),
            ("http://host", UnknownScheme),
            ("smtp://", MissingHost),
            ("smtp://user:pw@", MissingHost),
            ("smtp://:25", MissingHost),
            ("smtp://host:port", InvalidPort),
            ("smtp://host:0", InvalidPort),
            ("smtp://host:65536", InvalidPort),
            ("smtp://host:+25", InvalidPort),
            ("smtp://host:25:26", InvalidPort),
            ("smtp://ho st", InvalidHost),
            ("smtp://-host", InvalidHost),
            ("smtp://host..example", InvalidHost),
            ("smtp://hôst", InvalidHost),
            ("smtp://[::1", InvalidHost),
            ("smtp://[nope]:25", InvalidHost),
            ("smtp://[::1]x", InvalidHost),
            ("smtp://host/path", UnexpectedPath),
            ("smtp://host?tls=required", UnexpectedPath),
            ("smtp://host#x", UnexpectedPath),
            ("smtp://al%ZZ:pw@host", InvalidCredentials),
            ("smtp://alice:%FF@host", InvalidCredentials),
            ("smtp://:pw@host", PasswordWithoutUser),
        ];
        for (text, expected) in cases {
            assert_eq!(parse(text), Err(expected), "{text:?}");
        }
    }

    #[test]
    fn never_panics_on_odd_text() {
        for text in [
            "smtp://«»:«»@«»:«»",
            "smtp://%",
            "smtp://a:%C3@h",
            "smtp://[",
            "smtp://]",
            "smtp://@@@",
            "smtp:///",
            "smtp://é/é?é#é",
        ] {
            let _ = parse(text);
        }
    }

    #[test]
    fn display_and_debug_mask_the_password() {
        let parsed = url("smtps://alice:hunter2@mail.example:465");
        assert_eq!(parsed.to_string(), "smtps://alice:***@mail.example:465");
        assert!(!format!("{parsed:?}").contains("hunter2"));
        assert_eq!(url("smtp://relay").to_string(), "smtp://relay:25");
    }
}
