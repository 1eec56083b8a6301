//! Where webhooks may go. A subscription URL is user input that makes the
//! service send requests, so it must not reach the service's own network:
//! private, loopback and link-local addresses are refused unless the operator
//! allows them. Names are checked at connect time, inside the resolver the
//! HTTP client uses, so the address checked is the address connected to and
//! DNS rebinding (a name that resolves to a public address at save time and a
//! private one at send time) gets nowhere.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use reqwest::Url;

/// Why a target is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TargetError {
    #[error("not a valid URL: {0}")]
    Invalid(String),
    #[error("only http and https URLs are allowed")]
    Scheme,
    #[error("the URL must have a host")]
    NoHost,
    #[error("the URL must not contain a user name or password")]
    Userinfo,
    #[error("target is a private, loopback or link-local address")]
    ForbiddenAddress,
    #[error("target resolves to a private, loopback or link-local address")]
    ResolvesToForbidden,
}

/// Checks the shape of a target URL: http or https, a host, no credentials
/// (they would be sent to the receiver and shown in every log of the URL).
/// Addresses are checked separately, because whether private ones are allowed
/// is configuration.
pub fn check_url(url: &str) -> Result<Url, TargetError> {
    let parsed = Url::parse(url).map_err(|e| TargetError::Invalid(e.to_string()))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(TargetError::Scheme);
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err(TargetError::NoHost);
    }
    if !parsed.username().is_empty() || parsed.password().is_some() {
        return Err(TargetError::Userinfo);
    }
    Ok(parsed)
}

/// Refuses a URL whose host is a forbidden IP literal. The HTTP client never
/// asks the resolver about literal addresses, so this is their only check.
pub fn check_ip_literal(url: &Url) -> Result<(), TargetError> {
    // `Url` has already normalised every IPv4 spelling (`127.1`, `0x7f000001`)
    // to dotted decimal and wraps IPv6 in brackets.
    let host = url.host_str().unwrap_or_default();
    let literal = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    let Ok(ip) = literal.parse::<IpAddr>() else {
        return Ok(());
    };
    if is_forbidden_ip(ip) {
        return Err(TargetError::ForbiddenAddress);
    }
    Ok(())
}

/// True for addresses a webhook must not reach: private, loopback,
/// link-local, unspecified, carrier-grade NAT, multicast, broadcast and
/// reserved, in IPv4 or any IPv6 form that carries an IPv4 address.
pub fn is_forbidden_ip(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_forbidden_v4(v4),
        IpAddr::V6(v6) => is_forbidden_v6(v6),
    }
}

fn is_forbidden_v4(ip: Ipv4Addr) -> bool {
    let [first, second, ..] = ip.octets();
    ip.is_private()
        || ip.is_loopback()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        // 0.0.0.0/8 is "this network"; Linux connects 0.0.0.0 to the local host.
        || first == 0
        // 100.64.0.0/10, carrier-grade NAT: private to the provider's network.
        || (first == 100 && second & 0b1100_0000 == 64)
        // 240.0.0.0/4 is reserved and never routed on the internet.
        || first >= 240
}

fn is_forbidden_v6(ip: Ipv6Addr) -> bool {
    if ip.is_unspecified() || ip.is_loopback() || ip.is_multicast() {
        return true;
    }
    if let Some(v4) = embedded_v4(ip) {
        return is_forbidden_v4(v4);
    }
    let first = ip.segments()[0];
    // fc00::/7 unique local
    first & 0xfe00 == 0xfc00
        // fe80::/10 link-local
        || first & 0xffc0 == 0xfe80
        // fec0::/10, deprecated site-local, still private where it is used
        || first & 0xffc0 == 0xfec0
}

/// The IPv4 address an IPv6 address stands for, when connecting to it can
/// reach that IPv4 host: IPv4-mapped (`::ffff:a.b.c.d`, what dual-stack
/// sockets use), the deprecated IPv4-compatible form (`::a.b.c.d`) and the
/// NAT64 well-known prefix (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4() {
        return Some(v4);
    }
    match ip.segments() {
        [0x64, 0xff9b, 0, 0, 0, 0, high, low] => {
            let [a, b] = high.to_be_bytes();
            let [c, d] = low.to_be_bytes();
            Some(Ipv4Addr::new(a, b, c, d))
        }
        _ => None,
    }
}

/// Keeps the addresses a webhook may connect to. Fails only when the name
/// resolved to addresses and every one of them is forbidden.
pub fn filter_addresses(
    resolved: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetError> {
    if allow_private || resolved.is_empty() {
        return Ok(resolved);
    }
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| !is_forbidden_ip(addr.ip()))
        .collect();
    if allowed.is_empty() {
        return Err(TargetError::ResolvesToForbidden);
    }
    Ok(allowed)
}

/// A resolver for the HTTP client that drops forbidden addresses, so the
/// check applies to the very addresses the client then connects to.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    allow_private: bool,
}

impl GuardedResolver {
    pub fn new(allow_private: bool) -> Self {
        Self { allow_private }
    }
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            // Port 0: the client puts the URL's port on every address.
            let resolved = tokio::net::lookup_host((name.as_str(), 0)).await?.collect();
            let allowed = filter_addresses(resolved, allow_private)?;
            Ok(Box::new(allowed.into_iter()) as Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("test address parses")
    }

    #[test]
    fn accepts_http_and_https_urls() {
        let url = check_url("https://hooks.example.com:8443/in?x=1").expect("valid");
        assert_eq!(url.host_str(), Some("hooks.example.com"));
        assert!(check_url("http://example.com").is_ok());
        assert!(
            check_url("http://10.0.0.1/hook").is_ok(),
            "addresses are checked separately"
        );
    }

    #[test]
    fn refuses_other_schemes() {
        for url in [
            "ftp://example.com/",
            "file:///etc/passwd",
            "gopher://x/",
            "javascript:alert(1)",
        ] {
            assert_eq!(check_url(url), Err(TargetError::Scheme), "{url}");
        }
    }

    #[test]
    fn refuses_unparsable_urls() {
        for url in [
            "",
            "example.com/hook",
            "http://",
            "http://exa mple.com/",
            "http://[::1/",
        ] {
            assert!(
                matches!(check_url(url), Err(TargetError::Invalid(_))),
                "{url}"
            );
        }
    }

    #[test]
    fn refuses_credentials_in_the_url() {
        assert_eq!(
            check_url("https://user@example.com/"),
            Err(TargetError::Userinfo)
        );
        assert_eq!(
            check_url("https://user:pw@example.com/"),
            Err(TargetError::Userinfo)
        );
        assert_eq!(
            check_url("https://:pw@example.com/"),
            Err(TargetError::Userinfo)
        );
    }

    #[test]
    fn ip_literals_are_checked_in_every_spelling() {
        for url in [
            "http://127.0.0.1/",
            "http://127.1/",
            "http://0x7f000001/",
            "http://2130706433/",
            "http://0.0.0.0:8080/",
            "http://[::1]/",
            "http://[::ffff:10.0.0.1]/",
            "http://169.254.169.254/latest/meta-data/",
        ] {
            let parsed = check_url(url).expect("valid shape");
            assert_eq!(
                check_ip_literal(&parsed),
                Err(TargetError::ForbiddenAddress),
                "{url}"
            );
        }
        for url in [
            "http://93.184.215.14/",
            "http://[2606:4700::1111]/",
            "http://localhost/",
        ] {
            let parsed = check_url(url).expect("valid shape");
            assert_eq!(check_ip_literal(&parsed), Ok(()), "{url}");
        }
    }

    #[test]
    fn forbidden_ipv4_ranges() {
        for text in [
            "10.0.0.1",
            "10.255.255.255",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "127.0.0.1",
            "127.255.0.1",
            "169.254.169.254",
            "0.0.0.0",
            "0.1.2.3",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "255.255.255.255",
            "240.0.0.1",
        ] {
            assert!(is_forbidden_ip(ip(text)), "{text} should be forbidden");
        }
    }

    #[test]
    fn public_ipv4_addresses_are_allowed() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.215.14",
            "172.15.255.255",
            "172.32.0.1",
            "100.63.255.255",
            "100.128.0.1",
            "192.169.0.1",
            "169.255.0.1",
            "223.255.255.255",
        ] {
            assert!(!is_forbidden_ip(ip(text)), "{text} should be allowed");
        }
    }

    #[test]
    fn forbidden_ipv6_ranges() {
        for text in [
            "::",
            "::1",
            "fc00::1",
            "fd12:3456:789a::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "::ffff:127.0.0.1",
            "::ffff:10.1.2.3",
            "::ffff:169.254.169.254",
            "::ffff:0.0.0.0",
            "::ffff:100.64.0.1",
            "::127.0.0.1",
            "64:ff9b::10.0.0.1",
            "64:ff9b::127.0.0.1",
        ] {
            assert!(is_forbidden_ip(ip(text)), "{text} should be forbidden");
        }
    }

    #[test]
    fn public_ipv6_addresses_are_allowed() {
        for text in [
            "2606:4700:4700::1111",
            "2001:4860:4860::8888",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
            "2a00:1450:4001::1",
        ] {
            assert!(!is_forbidden_ip(ip(text)), "{text} should be allowed");
        }
    }

    fn socket(text: &str) -> SocketAddr {
        SocketAddr::new(ip(text), 0)
    }

    #[test]
    fn filter_keeps_only_public_addresses() {
        let mixed = vec![socket("10.0.0.1"), socket("8.8.8.8"), socket("::1")];
        assert_eq!(filter_addresses(mixed, false), Ok(vec![socket("8.8.8.8")]));
    }

    #[test]
    fn filter_fails_when_only_forbidden_addresses_remain() {
        let private = vec![socket("127.0.0.1"), socket("::1")];
        assert_eq!(
            filter_addresses(private.clone(), false),
            Err(TargetError::ResolvesToForbidden)
        );
        assert_eq!(filter_addresses(private.clone(), true), Ok(private));
    }

    #[tokio::test]
    async fn resolver_refuses_names_of_private_addresses() {
        let name: Name = "localhost".parse().expect("valid name");
        let error = match GuardedResolver::new(false).resolve(name).await {
            Ok(addrs) => panic!("localhost resolved to {:?}", addrs.collect::<Vec<_>>()),
            Err(error) => error,
        };
        assert_eq!(
            error.downcast_ref::<TargetError>(),
            Some(&TargetError::ResolvesToForbidden)
        );
    }

    #[tokio::test]
    async fn resolver_allows_private_names_when_configured() {
        let name: Name = "localhost".parse().expect("valid name");
        let addrs: Vec<SocketAddr> = GuardedResolver::new(true)
            .resolve(name)
            .await
            .expect("localhost resolves")
            .collect();
        assert!(!addrs.is_empty());
        assert!(
            addrs.iter().all(|addr| addr.ip().is_loopback()),
            "{addrs:?}"
        );
    }
}
