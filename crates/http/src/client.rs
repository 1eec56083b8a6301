//! Who is asking. The address a request came from is the peer's, unless the
//! peer is a proxy the operator named in `LIBRIS_TRUSTED_PROXIES`: then it is
//! the address that proxy reports. Anyone can send `X-Forwarded-For`, so the
//! header is believed only from a configured proxy, and only as far back as
//! the chain stays inside configured proxies; otherwise a client could name
//! any address it likes and escape the login throttle, or forge the logs.

use std::net::{IpAddr, SocketAddr};

use actix_web::http::header::HeaderMap;
use actix_web::HttpRequest;
use ipnet::IpNet;

/// The header the trusted proxies write the client's address in. Only that
/// one is read: a proxy appends to its own header and passes any other
/// through untouched, so a client could fill the other with whatever it
/// likes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For: client, proxy1, …` (nginx, HAProxy, most balancers).
    #[default]
    XForwardedFor,
    /// `Forwarded: for=client, for=proxy1` (RFC 7239).
    Forwarded,
}

impl ForwardedHeader {
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw.trim().to_ascii_lowercase().as_str() {
            "x-forwarded-for" => Ok(Self::XForwardedFor),
            "forwarded" => Ok(Self::Forwarded),
            other => Err(format!(
                "`{other}` is neither x-forwarded-for nor forwarded"
            )),
        }
    }
}

/// The proxies whose forwarding header is believed, and which header that is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies {
    networks: Vec<IpNet>,
    header: ForwardedHeader,
}

impl TrustedProxies {
    /// A comma-separated list of addresses and networks:
    /// `10.0.0.0/8, 127.0.0.1, ::1`. Empty trusts no one.
    pub fn parse(raw: &str) -> Result<Self, String> {
        raw.split(',')
            .map(str::trim)
            .filter(|item| !item.is_empty())
            .map(|item| {
                item.parse::<IpNet>()
                    .or_else(|_| item.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| format!("`{item}` is not an IP address or network"))
            })
            .collect::<Result<_, _>>()
            .map(|networks| Self {
                networks,
                header: ForwardedHeader::default(),
            })
    }

    /// The same proxies, believed in `header` only.
    pub fn reading(self, header: ForwardedHeader) -> Self {
        Self { header, ..self }
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.networks.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: walking the forwarding chain from the nearest
    /// hop back, the first address that is not a trusted proxy.
    pub fn client_ip(&self, peer: Option<SocketAddr>, headers: &HeaderMap) -> Option<IpAddr> {
        let peer = peer?.ip();
        if !self.trusts(peer) {
            return Some(peer);
        }
        let mut client = peer;
        for hop in forwarded_for(headers, self.header).into_iter().rev() {
            client = hop;
            if !self.trusts(hop) {
                break;
            }
        }
        Some(client)
    }

    /// [`Self::client_ip`] of a request, with the proxies the app was given.
    pub fn client_of(request: &HttpRequest) -> Option<IpAddr> {
        let proxies = request.app_data::<actix_web::web::Data<TrustedProxies>>()?;
        proxies.client_ip(request.peer_addr(), request.headers())
    }
}

/// The addresses a request passed through, farthest first, from `header`.
/// An entry that is not an address (`unknown`, an obfuscated name) ends the
/// chain there, as nothing before it can be placed.
fn forwarded_for(headers: &HeaderMap, header: ForwardedHeader) -> Vec<IpAddr> {
    let values = |name: &str| -> Vec<&str> {
        headers
            .get_all(name)
            .filter_map(|value| value.to_str().ok())
            .flat_map(|value| value.split(','))
            .collect()
    };
    let hops: Vec<&str> = match header {
        ForwardedHeader::XForwardedFor => values("x-forwarded-for"),
        ForwardedHeader::Forwarded => values("forwarded")
            .into_iter()
            .filter_map(|element| {
                element.split(';').find_map(|pair| {
                    let (key, value) = pair.trim().split_once('=')?;
                    key.eq_ignore_ascii_case("for").then_some(value)
                })
            })
            .collect(),
    };
    let parsed: Vec<Option<IpAddr>> = hops.iter().map(|hop| parse_hop(hop)).collect();
    // Keep only the unbroken run of addresses nearest to us.
    let unbroken = parsed.iter().rev().take_while(|hop| hop.is_some()).count();
    parsed[parsed.len() - unbroken..]
        .iter()
        .flatten()
        .copied()
        .collect()
}

/// `192.0.2.1`, `192.0.2.1:4711`, `"[2001:db8::1]:4711"`, `2001:db8::1`.
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim().trim_matches('"');
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip);
    }
    if let Ok(socket) = hop.parse::<SocketAddr>() {
        return Some(socket.ip());
    }
    hop.strip_prefix('[')
        .and_then(|rest| rest.split_once(']'))
        .and_then(|(ip, _)| ip.parse().ok())
}

#[cfg(test)]
mod tests {
    use actix_web::http::header::{HeaderName, HeaderValue};

    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    fn peer(ip: &str) -> Option<SocketAddr> {
        Some(SocketAddr::new(ip.parse().unwrap(), 40_000))
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn without_configured_proxies_the_headers_are_ignored() {
        let proxies = TrustedProxies::default();
        let forged = headers(&[("x-forwarded-for", "1.2.3.4"), ("forwarded", "for=5.6.7.8")]);
        assert_eq!(
            proxies.client_ip(peer("203.0.113.5"), &forged),
            ip("203.0.113.5")
        );
    }

    #[test]
    fn a_trusted_proxy_is_believed_as_far_as_the_chain_stays_trusted() {
        let proxies = TrustedProxies::parse("10.0.0.0/8, 127.0.0.1").unwrap();
        // The client put a forged address first; the proxies appended the rest.
        let chain = headers(&[("x-forwarded-for", "6.6.6.6, 198.51.100.20, 10.1.2.3")]);
        assert_eq!(
            proxies.client_ip(peer("127.0.0.1"), &chain),
            ip("198.51.100.20")
        );
        // From an untrusted peer, nothing in the header counts.
        assert_eq!(
            proxies.client_ip(peer("198.51.100.99"), &chain),
            ip("198.51.100.99")
        );
    }

    #[test]
    fn the_standard_forwarded_header_is_read_with_ports_and_brackets() {
        let proxies = TrustedProxies::parse("::1")
            .unwrap()
            .reading(ForwardedHeader::Forwarded);
        let chain = headers(&[(
            "forwarded",
            r#"for="[2001:db8:cafe::17]:4711";proto=https, for=192.0.2.60"#,
        )]);
        assert_eq!(proxies.client_ip(peer("::1"), &chain), ip("192.0.2.60"));
        let chain = headers(&[("forwarded", "for=192.0.2.61:8080")]);
        assert_eq!(proxies.client_ip(peer("::1"), &chain), ip("192.0.2.61"));
    }

    #[test]
    fn only_the_configured_header_is_believed() {
        // The proxy appends to X-Forwarded-For; the client's own Forwarded
        // header went through untouched and must not count.
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let forged = headers(&[
            ("forwarded", "for=6.6.6.6"),
            ("x-forwarded-for", "198.51.100.20"),
        ]);
        assert_eq!(
            proxies.client_ip(peer("127.0.0.1"), &forged),
            ip("198.51.100.20")
        );
        let reading_forwarded = proxies.reading(ForwardedHeader::Forwarded);
        let forged = headers(&[
            ("x-forwarded-for", "6.6.6.6"),
            ("forwarded", "for=198.51.100.21"),
        ]);
        assert_eq!(
            reading_forwarded.client_ip(peer("127.0.0.1"), &forged),
            ip("198.51.100.21")
        );
        assert!(ForwardedHeader::parse("X-Real-IP").is_err());
    }

    #[test]
    fn an_entry_that_is_not_an_address_ends_the_chain() {
        let proxies = TrustedProxies::parse("127.0.0.1").unwrap();
        let chain = headers(&[("x-forwarded-for", "192.0.2.1, unknown")]);
        assert_eq!(
            proxies.client_ip(peer("127.0.0.1"), &chain),
            ip("127.0.0.1")
        );
        let all_trusted = headers(&[("x-forwarded-for", "127.0.0.1")]);
        assert_eq!(
            proxies.client_ip(peer("127.0.0.1"), &all_trusted),
            ip("127.0.0.1")
        );
    }

    #[test]
    fn the_list_is_checked_item_by_item() {
        assert_eq!(TrustedProxies::parse(""), Ok(TrustedProxies::default()));
        let err = TrustedProxies::parse("10.0.0.0/8, proxy.local").unwrap_err();
        assert!(err.contains("proxy.local"), "{err}");
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
    }
}
