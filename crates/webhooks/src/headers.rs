//! The headers of a delivery: the ones Libris always sends, and the rules for
//! the custom headers an admin adds to a subscription. Custom headers are
//! checked when the subscription is saved, so a bad one is reported to the
//! admin instead of failing every delivery later.

/// Headers Libris sets itself, or that describe the message framing. A custom
/// header with one of these names could forge the signature or the event type
/// a receiver trusts, or corrupt the request, so none may be overridden.
pub const RESERVED_HEADERS: [&str; 11] = [
    "content-type",
    "user-agent",
    "x-event-type",
    "x-webhook-signature",
    "webhook-id",
    "webhook-timestamp",
    "webhook-signature",
    "host",
    "content-length",
    "transfer-encoding",
    "connection",
];

/// Enough for any integration we know of; a bound keeps requests small.
pub const MAX_CUSTOM_HEADERS: usize = 20;

/// A custom header that cannot be sent, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("header {name:?}: {message}")]
pub struct HeaderError {
    pub name: String,
    pub message: String,
}

/// Checks a subscription's custom headers. Names must be HTTP tokens and
/// values visible ASCII (with spaces and tabs): anything else is either
/// illegal on the wire or read differently by different receivers, and CR or
/// LF would let a value inject headers of its own.
pub fn validate_custom_headers(headers: &[(String, String)]) -> Result<(), HeaderError> {
    if let Some((name, _)) = headers.get(MAX_CUSTOM_HEADERS) {
        return Err(HeaderError {
            name: name.clone(),
            message: format!("at most {MAX_CUSTOM_HEADERS} custom headers are allowed"),
        });
    }
    for (index, (name, value)) in headers.iter().enumerate() {
        let error = |message: &str| HeaderError {
            name: name.clone(),
            message: message.to_owned(),
        };
        if let Some(message) = problem(name, value) {
            return Err(error(message));
        }
        let repeated = headers[..index]
            .iter()
            .any(|(earlier, _)| earlier.eq_ignore_ascii_case(name));
        if repeated {
            return Err(error("is given more than once"));
        }
    }
    Ok(())
}

/// Whether the sender may put this custom header on a request. The sender
/// checks again because it cannot know every caller validated first.
pub(crate) fn is_sendable(name: &str, value: &str) -> bool {
    problem(name, value).is_none()
}

fn problem(name: &str, value: &str) -> Option<&'static str> {
    if name.is_empty() {
        return Some("the name must not be empty");
    }
    if !name.bytes().all(is_token_byte) {
        return Some("the name may only contain letters, digits and !#$%&'*+-.^_`|~");
    }
    if is_reserved(name) {
        return Some("is set by Libris and cannot be replaced");
    }
    if !value
        .bytes()
        .all(|b| b == b'\t' || (b' '..=b'~').contains(&b))
    {
        return Some("the value may only contain visible ASCII characters, spaces and tabs");
    }
    None
}

fn is_reserved(name: &str) -> bool {
    RESERVED_HEADERS
        .iter()
        .any(|reserved| reserved.eq_ignore_ascii_case(name))
}

/// `tchar` of RFC 9110 §5.6.2.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn error_for(items: &[(&str, &str)]) -> HeaderError {
        validate_custom_headers(&pairs(items)).expect_err("should be refused")
    }

    #[test]
    fn ordinary_headers_pass() {
        let headers = pairs(&[
            ("Authorization", "Bearer abc.def"),
            ("X-Tenant", "42"),
            ("x-odd_but~legal!", "a value\twith tab and \"quotes\""),
            ("X-Empty", ""),
        ]);
        assert_eq!(validate_custom_headers(&headers), Ok(()));
        assert_eq!(validate_custom_headers(&[]), Ok(()));
    }

    #[test]
    fn reserved_names_are_refused_in_any_case() {
        for name in RESERVED_HEADERS {
            let upper = name.to_ascii_uppercase();
            for candidate in [name, upper.as_str()] {
                let error = error_for(&[(candidate, "x")]);
                assert_eq!(error.name, candidate);
                assert!(error.message.contains("set by Libris"), "{error}");
            }
        }
        assert_eq!(
            error_for(&[("Webhook-Signature", "v1,forged")]).name,
            "Webhook-Signature"
        );
    }

    #[test]
    fn illegal_names_are_refused() {
        for name in [
            "",
            "X Tenant",
            "X-Tenant:",
            "X(Tenant)",
            "Zürich",
            "X-A\r\nX-B",
        ] {
            let error = error_for(&[(name, "x")]);
            assert_eq!(error.name, name);
        }
    }

    #[test]
    fn control_characters_in_values_are_refused() {
        for value in [
            "a\r\nX-Injected: 1",
            "a\nb",
            "a\rb",
            "nul\0",
            "del\u{7f}",
            "é",
        ] {
            let error = error_for(&[("X-Tenant", value)]);
            assert_eq!(error.name, "X-Tenant");
            assert!(error.message.contains("visible ASCII"), "{error}");
        }
    }

    #[test]
    fn repeated_names_are_refused() {
        let error = error_for(&[("X-Tenant", "1"), ("x-tenant", "2")]);
        assert_eq!(error.name, "x-tenant");
    }

    #[test]
    fn at_most_twenty_headers() {
        let twenty: Vec<(String, String)> =
            (0..20).map(|i| (format!("X-H{i}"), "v".into())).collect();
        assert_eq!(validate_custom_headers(&twenty), Ok(()));
        let mut twenty_one = twenty;
        twenty_one.push(("X-H20".into(), "v".into()));
        let error = validate_custom_headers(&twenty_one).expect_err("too many");
        assert_eq!(error.name, "X-H20");
        assert!(error.message.contains("at most 20"), "{error}");
    }

    #[test]
    fn sendable_matches_validation() {
        assert!(is_sendable("X-Tenant", "42"));
        assert!(!is_sendable("Content-Type", "text/plain"));
        assert!(!is_sendable("X-Tenant", "a\r\nb"));
    }
}
