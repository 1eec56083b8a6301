//! Where webhooks may go. A subscription URL is user input that makes the
//! service send requests, so it must not reach the service's own network or
//! any other special-purpose address. One table, [`SPECIAL_RANGES`], is the
//! rule: private, loopback and link-local ranges are refused unless the
//! operator allows them, the others always (`docs/webhook-targets.md` lists
//! them). IPv6 forms that carry an IPv4 address are judged by that address.
//! Names are checked at connect time, inside the resolver the HTTP client
//! uses, so the address checked is the address connected to and DNS
//! rebinding (a name that resolves to a public address at save time and a
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
    #[error("target is a private, loopback or link-local address, or another special-purpose one")]
    ForbiddenAddress,
    #[error(
        "target resolves to a private, loopback or link-local address, or another special-purpose one"
    )]
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

/// Refuses a URL whose host is an IP literal the rule refuses under the
/// operator's setting. The HTTP client never asks the resolver about literal
/// addresses, so this is their only check.
pub fn check_ip_literal(url: &Url, allow_private: bool) -> Result<(), TargetError> {
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
    if is_refused(ip, allow_private) {
        return Err(TargetError::ForbiddenAddress);
    }
    Ok(())
}

/// How the rule treats a special-purpose range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    /// The service's own surroundings (private use, loopback, link-local,
    /// unique local…): refused unless `LIBRIS_WEBHOOK_ALLOW_PRIVATE=true`,
    /// which an operator sets when the receivers run beside the service.
    UnlessPrivateAllowed,
    /// Addresses no webhook receiver can have (unspecified, documentation,
    /// multicast, reserved, protocol anycast…): refused whatever the
    /// configuration, since allowing private targets must not make them valid.
    Always,
}

/// One row of the rule: a range from the IANA IPv4 and IPv6 Special-Purpose
/// Address Registries (RFC 6890 and later), or a block IANA keeps out of
/// unicast use. `docs/webhook-targets.md` explains every row in prose.
#[derive(Debug)]
pub struct SpecialRange {
    pub network: IpAddr,
    pub prefix_len: u8,
    pub refused: Refused,
    pub name: &'static str,
    pub why: &'static str,
}

impl SpecialRange {
    fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => same_prefix(
                network.to_bits().into(),
                ip.to_bits().into(),
                32 - self.prefix_len,
            ),
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                same_prefix(network.to_bits(), ip.to_bits(), 128 - self.prefix_len)
            }
            _ => false,
        }
    }
}

/// True when `a` and `b` differ only in their lowest `host_bits` bits.
fn same_prefix(a: u128, b: u128, host_bits: u8) -> bool {
    // A shift by the full width (a /0) overflows; all bits are host bits then.
    (a ^ b).checked_shr(u32::from(host_bits)).unwrap_or(0) == 0
}

const fn v4(a: u8, b: u8, c: u8, d: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(a, b, c, d))
}

const fn v6(first: u16, second: u16, third: u16) -> IpAddr {
    IpAddr::V6(Ipv6Addr::new(first, second, third, 0, 0, 0, 0, 0))
}

/// Every address range a webhook may not reach. Ranges may nest: the most
/// specific row containing an address decides (`::1` is loopback although
/// `::/96` is refused outright).
pub const SPECIAL_RANGES: &[SpecialRange] = &[
    SpecialRange {
        network: v4(0, 0, 0, 0),
        prefix_len: 8,
        refused: Refused::Always,
        name: "this network",
        why: "not a destination; 0.0.0.0 connects to the local host",
    },
    SpecialRange {
        network: v4(10, 0, 0, 0),
        prefix_len: 8,
        refused: Refused::UnlessPrivateAllowed,
        name: "private use",
        why: "internal networks",
    },
    SpecialRange {
        network: v4(100, 64, 0, 0),
        prefix_len: 10,
        refused: Refused::UnlessPrivateAllowed,
        name: "shared address space (carrier-grade NAT)",
        why: "a provider's or an overlay's internal network",
    },
    SpecialRange {
        network: v4(127, 0, 0, 0),
        prefix_len: 8,
        refused: Refused::UnlessPrivateAllowed,
        name: "loopback",
        why: "the service's own host",
    },
    SpecialRange {
        network: v4(169, 254, 0, 0),
        prefix_len: 16,
        refused: Refused::UnlessPrivateAllowed,
        name: "link-local",
        why: "the local link, where cloud metadata services answer",
    },
    SpecialRange {
        network: v4(172, 16, 0, 0),
        prefix_len: 12,
        refused: Refused::UnlessPrivateAllowed,
        name: "private use",
        why: "internal networks",
    },
    SpecialRange {
        network: v4(192, 0, 0, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "IETF protocol assignments",
        why: "DS-Lite, the dummy address, PCP and TURN anycast, NAT64 discovery",
    },
    SpecialRange {
        network: v4(192, 0, 2, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "documentation (TEST-NET-1)",
        why: "for examples only",
    },
    SpecialRange {
        network: v4(192, 31, 196, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "AS112",
        why: "anycast DNS sinks run by unrelated parties",
    },
    SpecialRange {
        network: v4(192, 52, 193, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "AMT",
        why: "anycast relays for multicast tunnelling",
    },
    SpecialRange {
        network: v4(192, 88, 99, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "6to4 relay anycast (deprecated)",
        why: "anycast relays of a retired tunnelling scheme",
    },
    SpecialRange {
        network: v4(192, 168, 0, 0),
        prefix_len: 16,
        refused: Refused::UnlessPrivateAllowed,
        name: "private use",
        why: "internal networks",
    },
    SpecialRange {
        network: v4(192, 175, 48, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "AS112 direct delegation",
        why: "anycast DNS sinks run by unrelated parties",
    },
    SpecialRange {
        network: v4(198, 18, 0, 0),
        prefix_len: 15,
        refused: Refused::UnlessPrivateAllowed,
        name: "benchmarking",
        why: "isolated lab networks, local like private use",
    },
    SpecialRange {
        network: v4(198, 51, 100, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "documentation (TEST-NET-2)",
        why: "for examples only",
    },
    SpecialRange {
        network: v4(203, 0, 113, 0),
        prefix_len: 24,
        refused: Refused::Always,
        name: "documentation (TEST-NET-3)",
        why: "for examples only",
    },
    SpecialRange {
        network: v4(224, 0, 0, 0),
        prefix_len: 4,
        refused: Refused::Always,
        name: "multicast",
        why: "groups, not hosts; HTTP needs one peer",
    },
    SpecialRange {
        network: v4(240, 0, 0, 0),
        prefix_len: 4,
        refused: Refused::Always,
        name: "reserved",
        why: "never assigned, never routed",
    },
    SpecialRange {
        network: v4(255, 255, 255, 255),
        prefix_len: 32,
        refused: Refused::Always,
        name: "limited broadcast",
        why: "every host on the local link",
    },
    SpecialRange {
        network: v6(0, 0, 0),
        prefix_len: 128,
        refused: Refused::Always,
        name: "unspecified",
        why: "not a destination; :: connects to the local host",
    },
    SpecialRange {
        network: IpAddr::V6(Ipv6Addr::LOCALHOST),
        prefix_len: 128,
        refused: Refused::UnlessPrivateAllowed,
        name: "loopback",
        why: "the service's own host",
    },
    SpecialRange {
        network: v6(0, 0, 0),
        prefix_len: 96,
        refused: Refused::Always,
        name: "IPv4-compatible (deprecated)",
        why: "retired since 2006; no receiver uses it",
    },
    SpecialRange {
        network: v6(0x64, 0xff9b, 1),
        prefix_len: 48,
        refused: Refused::UnlessPrivateAllowed,
        name: "local-use NAT64",
        why: "a network's own translator; where the IPv4 sits is that network's choice",
    },
    SpecialRange {
        network: v6(0x100, 0, 0),
        prefix_len: 64,
        refused: Refused::Always,
        name: "discard-only",
        why: "traffic to it is dropped on purpose",
    },
    SpecialRange {
        network: v6(0x2001, 0, 0),
        prefix_len: 23,
        refused: Refused::Always,
        name: "IETF protocol assignments",
        why: "protocol anycast, AMT, AS112, overlay identifiers",
    },
    SpecialRange {
        network: v6(0x2001, 0, 0),
        prefix_len: 32,
        refused: Refused::Always,
        name: "Teredo",
        why: "tunnels to an IPv4 host hidden (inverted) in the address",
    },
    SpecialRange {
        network: v6(0x2001, 2, 0),
        prefix_len: 48,
        refused: Refused::UnlessPrivateAllowed,
        name: "benchmarking",
        why: "isolated lab networks, local like private use",
    },
    SpecialRange {
        network: v6(0x2001, 0xdb8, 0),
        prefix_len: 32,
        refused: Refused::Always,
        name: "documentation",
        why: "for examples only",
    },
    SpecialRange {
        network: v6(0x2002, 0, 0),
        prefix_len: 16,
        refused: Refused::Always,
        name: "6to4",
        why: "retired tunnelling to the IPv4 address in bits 16-48",
    },
    SpecialRange {
        network: v6(0x2620, 0x4f, 0x8000),
        prefix_len: 48,
        refused: Refused::Always,
        name: "AS112 direct delegation",
        why: "anycast DNS sinks run by unrelated parties",
    },
    SpecialRange {
        network: v6(0x3fff, 0, 0),
        prefix_len: 20,
        refused: Refused::Always,
        name: "documentation",
        why: "for examples only",
    },
    SpecialRange {
        network: v6(0x5f00, 0, 0),
        prefix_len: 16,
        refused: Refused::Always,
        name: "SRv6 SIDs",
        why: "segment routing instructions inside an operator's network",
    },
    SpecialRange {
        network: v6(0xfc00, 0, 0),
        prefix_len: 7,
        refused: Refused::UnlessPrivateAllowed,
        name: "unique local",
        why: "internal networks",
    },
    SpecialRange {
        network: v6(0xfe80, 0, 0),
        prefix_len: 10,
        refused: Refused::UnlessPrivateAllowed,
        name: "link-local",
        why: "the local link",
    },
    SpecialRange {
        network: v6(0xfec0, 0, 0),
        prefix_len: 10,
        refused: Refused::UnlessPrivateAllowed,
        name: "site-local (deprecated)",
        why: "internal networks where it is still used",
    },
    SpecialRange {
        network: v6(0xff00, 0, 0),
        prefix_len: 8,
        refused: Refused::Always,
        name: "multicast",
        why: "groups, not hosts; HTTP needs one peer",
    },
    // IANA assigns unicast addresses only from 2000::/3; these three rows are
    // the rest of the space, reserved like 240.0.0.0/4. They also cover the
    // special ranges that sit there without a row of their own.
    SpecialRange {
        network: v6(0, 0, 0),
        prefix_len: 3,
        refused: Refused::Always,
        name: "reserved (outside 2000::/3)",
        why: "never assigned for unicast",
    },
    SpecialRange {
        network: v6(0x4000, 0, 0),
        prefix_len: 2,
        refused: Refused::Always,
        name: "reserved (outside 2000::/3)",
        why: "never assigned for unicast",
    },
    SpecialRange {
        network: v6(0x8000, 0, 0),
        prefix_len: 1,
        refused: Refused::Always,
        name: "reserved (outside 2000::/3)",
        why: "never assigned for unicast",
    },
];

/// The row of [`SPECIAL_RANGES`] that decides about an address, if any. An
/// IPv6 address that carries an IPv4 one is judged by that IPv4 address.
pub fn special_range(ip: IpAddr) -> Option<&'static SpecialRange> {
    let judged = match ip {
        IpAddr::V6(v6) => embedded_v4(v6).map_or(ip, IpAddr::V4),
        IpAddr::V4(_) => ip,
    };
    SPECIAL_RANGES
        .iter()
        .filter(|range| range.contains(judged))
        .max_by_key(|range| range.prefix_len)
}

/// True when a webhook must not reach `ip` under the operator's setting.
pub fn is_refused(ip: IpAddr, allow_private: bool) -> bool {
    special_range(ip).is_some_and(|range| match range.refused {
        Refused::Always => true,
        Refused::UnlessPrivateAllowed => !allow_private,
    })
}

/// IPv6 prefixes (all /96) whose addresses reach the IPv4 host in their last
/// 32 bits: IPv4-mapped (`::ffff:a.b.c.d`, what dual-stack sockets use) and
/// the NAT64 well-known prefix (`64:ff9b::a.b.c.d`). The second is unwrapped
/// rather than refused because DNS64 hands it out for every IPv4-only host on
/// an IPv6-only network: refusing it would cut such a deployment off from
/// every IPv4 receiver.
const IPV4_CARRIERS: [Ipv6Addr; 2] = [
    Ipv6Addr::new(0, 0, 0, 0, 0, 0xffff, 0, 0),
    Ipv6Addr::new(0x64, 0xff9b, 0, 0, 0, 0, 0, 0),
];

fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let carried = IPV4_CARRIERS
        .iter()
        .any(|carrier| same_prefix(carrier.to_bits(), ip.to_bits(), 32));
    let [.., a, b, c, d] = ip.octets();
    carried.then(|| Ipv4Addr::new(a, b, c, d))
}

/// Keeps the addresses a webhook may connect to. Fails only when the name
/// resolved to addresses and every one of them is refused; no address at all
/// is left for the client to report in its own words.
pub fn filter_addresses(
    resolved: Vec<SocketAddr>,
    allow_private: bool,
) -> Result<Vec<SocketAddr>, TargetError> {
    if resolved.is_empty() {
        return Ok(resolved);
    }
    let allowed: Vec<SocketAddr> = resolved
        .into_iter()
        .filter(|addr| !is_refused(addr.ip(), allow_private))
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
                check_ip_literal(&parsed, false),
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
            assert_eq!(check_ip_literal(&parsed, false), Ok(()), "{url}");
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
            assert!(is_refused(ip(text), false), "{text} should be forbidden");
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
            assert!(!is_refused(ip(text), false), "{text} should be allowed");
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
            assert!(is_refused(ip(text), false), "{text} should be forbidden");
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
            assert!(!is_refused(ip(text), false), "{text} should be allowed");
        }
    }

    /// The first and last address of a row, computed from its mask rather
    /// than through `contains`, so a wrong matcher cannot agree with itself.
    fn first_and_last(range: &SpecialRange) -> (IpAddr, IpAddr) {
        let prefix_len = u32::from(range.prefix_len);
        match range.network {
            IpAddr::V4(network) => {
                let host = u32::MAX.checked_shr(prefix_len).unwrap_or(0);
                let last = Ipv4Addr::from_bits(network.to_bits() | host);
                (range.network, IpAddr::V4(last))
            }
            IpAddr::V6(network) => {
                let host = u128::MAX.checked_shr(prefix_len).unwrap_or(0);
                let last = Ipv6Addr::from_bits(network.to_bits() | host);
                (range.network, IpAddr::V6(last))
            }
        }
    }

    fn label(range: &SpecialRange) -> String {
        format!("{}/{} ({})", range.network, range.prefix_len, range.name)
    }

    #[test]
    fn every_row_is_a_network_with_a_reason() {
        for range in SPECIAL_RANGES {
            let width = if range.network.is_ipv4() { 32 } else { 128 };
            assert!((1..=width).contains(&range.prefix_len), "{}", label(range));
            // Shifting the prefix out leaves the host bits, which must be 0.
            let prefix_len = u32::from(range.prefix_len);
            let host_bits = match range.network {
                IpAddr::V4(network) => network.to_bits().checked_shl(prefix_len).map(u128::from),
                IpAddr::V6(network) => network.to_bits().checked_shl(prefix_len),
            };
            assert_eq!(
                host_bits.unwrap_or(0),
                0,
                "{} has host bits set",
                label(range)
            );
            assert!(
                !range.name.is_empty() && !range.why.is_empty(),
                "{}",
                label(range)
            );
            let twins = SPECIAL_RANGES
                .iter()
                .filter(|other| {
                    (other.network, other.prefix_len) == (range.network, range.prefix_len)
                })
                .count();
            assert_eq!(twins, 1, "{} is listed twice", label(range));
        }
    }

    #[test]
    fn first_and_last_address_of_every_row_are_refused() {
        for range in SPECIAL_RANGES {
            let (first, last) = first_and_last(range);
            let refused_when_allowed = range.refused == Refused::Always;
            for address in [first, last] {
                assert!(is_refused(address, false), "{address} in {}", label(range));
                assert_eq!(
                    is_refused(address, true),
                    refused_when_allowed,
                    "{address} in {} with private targets allowed",
                    label(range)
                );
            }
        }
    }

    #[test]
    fn ipv4_carried_in_ipv6_is_judged_like_the_ipv4() {
        for range in SPECIAL_RANGES
            .iter()
            .filter(|range| range.network.is_ipv4())
        {
            let (first, last) = first_and_last(range);
            for address in [first, last] {
                let IpAddr::V4(v4) = address else {
                    unreachable!("filtered to IPv4 rows")
                };
                let mapped = IpAddr::V6(v4.to_ipv6_mapped());
                let nat64_bits = (0x64_ff9b_u128 << 96) | u128::from(v4.to_bits());
                let nat64 = IpAddr::V6(Ipv6Addr::from_bits(nat64_bits));
                for carried in [mapped, nat64] {
                    for allow_private in [false, true] {
                        assert_eq!(
                            is_refused(carried, allow_private),
                            is_refused(address, allow_private),
                            "{carried} vs {address}, allow_private={allow_private}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn addresses_just_outside_refused_ranges_are_allowed() {
        for text in [
            "1.0.0.0",
            "9.255.255.255",
            "11.0.0.0",
            "100.63.255.255",
            "100.128.0.0",
            "126.255.255.255",
            "128.0.0.0",
            "169.253.255.255",
            "169.255.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "191.255.255.255",
            "192.0.1.255",
            "192.0.3.0",
            "192.31.195.255",
            "192.31.197.0",
            "192.52.192.255",
            "192.52.194.0",
            "192.88.98.255",
            "192.88.100.0",
            "192.167.255.255",
            "192.169.0.0",
            "192.175.47.255",
            "192.175.49.0",
            "198.17.255.255",
            "198.20.0.0",
            "198.51.99.255",
            "198.51.101.0",
            "203.0.112.255",
            "203.0.114.0",
            "223.255.255.255",
            "::ffff:11.0.0.0",
            "64:ff9b::100.128.0.0",
            "2000::",
            "2001:200::",
            "2001:db7:ffff:ffff:ffff:ffff:ffff:ffff",
            "2001:db9::",
            "2001:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "2003::",
            "2620:4f:7fff:ffff:ffff:ffff:ffff:ffff",
            "2620:4f:8001::",
            "3ffe:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "3fff:1000::",
        ] {
            assert!(!is_refused(ip(text), false), "{text} should be allowed");
        }
    }

    #[test]
    fn special_purpose_addresses_named_in_the_issue_are_refused() {
        for text in [
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "64:ff9b::7f00:1",
            "2002:7f00:1::",
            // Teredo: server 65.54.227.120, client hidden in the last 32 bits.
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.0.9",
            "192.0.0.170",
            "192.31.196.1",
            "192.52.193.1",
            "192.88.99.1",
            "192.175.48.1",
            "198.19.255.255",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "64:ff9b:1::a00:1",
            "100::1",
            "2001:2::1",
            "2001:db8::1",
            "3fff::1",
            "5f00::1",
            "2620:4f:8000::1",
            "1fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff",
            "4000::",
        ] {
            assert!(is_refused(ip(text), false), "{text} should be refused");
        }
    }

    #[test]
    fn transition_forms_are_refused_even_around_public_ipv4() {
        // 6to4, IPv4-compatible and Teredo are refused outright: each names a
        // public IPv4 address here and is still refused.
        for text in ["2002:808:808::1", "::8.8.8.8", "2001:0:808:808::1"] {
            assert!(is_refused(ip(text), false), "{text} should be refused");
        }
    }

    #[test]
    fn public_addresses_stay_allowed() {
        for text in [
            "8.8.8.8",
            "1.1.1.1",
            "93.184.216.34",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::93.184.216.34",
        ] {
            for allow_private in [false, true] {
                assert!(!is_refused(ip(text), allow_private), "{text}");
            }
        }
    }

    #[test]
    fn allowing_private_targets_lifts_local_networks_only() {
        for text in [
            "127.0.0.1",
            "::1",
            "10.0.0.1",
            "172.16.0.1",
            "192.168.1.1",
            "100.64.0.1",
            "169.254.169.254",
            "198.18.0.1",
            "fd00::1",
            "fe80::1",
            "fec0::1",
            "::ffff:127.0.0.1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::a00:1",
        ] {
            assert!(is_refused(ip(text), false), "{text} refused by default");
            assert!(!is_refused(ip(text), true), "{text} allowed by the flag");
        }
        for text in [
            "0.0.0.0",
            "::",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.2.1",
            "192.0.0.8",
            "ff02::1",
            "2001:db8::1",
            "2002:7f00:1::",
            "2001:0:4136:e378:8000:63bf:3fff:fdd2",
            "::ffff:0.0.0.0",
            "64:ff9b::e000:1",
        ] {
            assert!(
                is_refused(ip(text), true),
                "{text} refused even with the flag"
            );
        }
    }

    #[test]
    fn the_documented_table_matches_the_rule() {
        let docs = include_str!(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../docs/webhook-targets.md"
        ));
        let rows: Vec<&str> = docs
            .lines()
            .filter(|line| line.starts_with("| `"))
            .collect();
        assert_eq!(
            rows.len(),
            SPECIAL_RANGES.len(),
            "one documented row per range"
        );
        for range in SPECIAL_RANGES {
            let start = format!("| `{}/{}` |", range.network, range.prefix_len);
            let row = rows
                .iter()
                .find(|row| row.starts_with(&start))
                .unwrap_or_else(|| panic!("{} is not documented", label(range)));
            let lifted = row.trim_end_matches('|').rsplit('|').next().map(str::trim);
            let expected = match range.refused {
                Refused::Always => "no",
                Refused::UnlessPrivateAllowed => "yes",
            };
            assert_eq!(lifted, Some(expected), "{row}");
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

    #[test]
    fn filter_with_private_allowed_still_drops_addresses_that_are_never_receivers() {
        let mixed = vec![socket("0.0.0.0"), socket("127.0.0.1"), socket("ff02::1")];
        assert_eq!(filter_addresses(mixed, true), Ok(vec![socket("127.0.0.1")]));
        let never = vec![socket("0.0.0.0"), socket("192.0.2.1")];
        assert_eq!(
            filter_addresses(never, true),
            Err(TargetError::ResolvesToForbidden)
        );
        assert_eq!(filter_addresses(Vec::new(), false), Ok(Vec::new()));
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
