//! The gateway's URL: what a valid one is (checked when the setting is saved
//! and again at each attempt, since it can change at runtime) and the
//! address of one message under it, `{url}/send/{id}`.

use reqwest::Url;

/// Why a gateway URL is refused, worded to follow the setting's name
/// (`sms_url: must be an http or https URL`).
pub fn check_gateway_url(raw: &str) -> Result<(), String> {
    parse(raw).map(drop)
}

fn parse(raw: &str) -> Result<Url, String> {
    let url = Url::parse(raw.trim()).map_err(|e| format!("is not a valid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err("must be an http or https URL".to_owned());
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err("must have a host".to_owned());
    }
    // The token goes in its own setting and header; credentials in the URL
    // would be sent as well, and shown wherever the URL is.
    if !url.username().is_empty() || url.password().is_some() {
        return Err("must not contain a user name or password (the token is sms_token)".to_owned());
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err("must not have a query or fragment".to_owned());
    }
    Ok(url)
}

/// `{base}/send/{id}`, with exactly one slash between the base's path and
/// `send` whether or not the base ends with one.
pub(crate) fn message_url(base: &str, id: i64) -> Result<Url, String> {
    let mut url = parse(base).map_err(|reason| format!("the SMS gateway URL {reason}"))?;
    url.path_segments_mut()
        .map_err(|()| "the SMS gateway URL cannot have a path".to_owned())?
        .pop_if_empty()
        .push("send")
        .push(&id.to_string());
    Ok(url)
}

/// `host:port` of a URL, for error messages: never the path or anything
/// else a URL may carry.
pub(crate) fn address(url: &Url) -> String {
    let host = url.host_str().unwrap_or("?");
    match url.port_or_known_default() {
        Some(port) => format!("{host}:{port}"),
        None => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_goes_under_the_base_path() {
        for (base, expected) in [
            (
                "https://probe.example/v1",
                "https://probe.example/v1/send/42",
            ),
            (
                "https://probe.example/v1/",
                "https://probe.example/v1/send/42",
            ),
            ("http://127.0.0.1:8080", "http://127.0.0.1:8080/send/42"),
            ("http://127.0.0.1:8080/", "http://127.0.0.1:8080/send/42"),
            (" http://gw.test/a/b ", "http://gw.test/a/b/send/42"),
        ] {
            assert_eq!(message_url(base, 42).unwrap().as_str(), expected, "{base}");
        }
    }

    #[test]
    fn refuses_what_is_not_a_gateway_url() {
        for (raw, expected) in [
            ("ftp://gw.test/", "must be an http or https URL"),
            ("mailto:a@b.test", "must be an http or https URL"),
            (
                "https://user:pw@gw.test/",
                "must not contain a user name or password (the token is sms_token)",
            ),
            (
                "https://gw.test/?key=1",
                "must not have a query or fragment",
            ),
            ("https://gw.test/#x", "must not have a query or fragment"),
        ] {
            assert_eq!(check_gateway_url(raw), Err(expected.to_owned()), "{raw}");
        }
        for raw in ["", "gw.test/v1", "http://", "http://[::1"] {
            let reason = check_gateway_url(raw).expect_err(raw);
            assert!(
                reason.starts_with("is not a valid URL") || reason == "must have a host",
                "{raw}: {reason}"
            );
        }
        assert_eq!(check_gateway_url("https://probe.example/v1"), Ok(()));
        assert_eq!(
            message_url("ftp://gw.test", 1).unwrap_err(),
            "the SMS gateway URL must be an http or https URL"
        );
    }

    #[test]
    fn an_address_is_host_and_port_only() {
        let url = message_url("https://probe.example/v1", 7).unwrap();
        assert_eq!(address(&url), "probe.example:443");
        let url = message_url("http://127.0.0.1:9000/v1", 7).unwrap();
        assert_eq!(address(&url), "127.0.0.1:9000");
    }
}
