//! URLs that carry a password (a broker's `amqp://user:password@host/`):
//! the password is kept apart from the URL, and the URL anyone sees has
//! [`MASK`] in its place.

/// What a stored URL shows where its password was.
pub const MASK: &str = "***";

/// `scheme://user:`, the password, and `@host…` of a URL with a password.
fn password_parts(url: &str) -> Option<(String, &str, String)> {
    let (scheme, rest) = url.split_once("://")?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (userinfo, host) = authority.rsplit_once('@')?;
    let (user, password) = userinfo.split_once(':')?;
    Some((
        format!("{scheme}://{user}:"),
        password,
        format!("@{host}{tail}"),
    ))
}

/// Whether two URLs would present their password to the same party: the
/// same scheme, user and host (with port). A masked URL keeps the stored
/// password only then, so nobody can send it to a host of their choosing.
pub fn same_credentials_scope(a: &str, b: &str) -> bool {
    let scope = |url: &str| {
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        let (authority, _) = rest.split_at(end);
        let (userinfo, host) = authority.rsplit_once('@')?;
        let user = userinfo.split_once(':').map_or(userinfo, |(user, _)| user);
        Some((
            scheme.to_ascii_lowercase(),
            user.to_owned(),
            host.to_ascii_lowercase(),
        ))
    };
    matches!((scope(a), scope(b)), (Some(a), Some(b)) if a == b)
}

/// The URL with its password masked, and the password (as written, still
/// percent-encoded); a URL without one is answered as it is.
pub fn split_password(url: &str) -> (String, Option<String>) {
    match password_parts(url) {
        Some((before, password, after)) => {
            (format!("{before}{MASK}{after}"), Some(password.to_owned()))
        }
        None => (url.to_owned(), None),
    }
}

/// The URL to connect to: `url` (as stored, masked) with `password` put back
/// in place of the mask. Only the sending side calls this.
pub fn with_password(url: &str, password: Option<&str>) -> String {
    match (password_parts(url), password) {
        (Some((before, MASK, after)), Some(password)) => format!("{before}{password}{after}"),
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_brokers_password_is_kept_apart_and_put_back_for_sending() {
        let raw = "amqp://libris:s3cr%40t@rabbit.example:5672/prod?exchange=e&routing_key=k";
        let (shown, password) = split_password(raw);
        assert_eq!(
            shown,
            "amqp://libris:***@rabbit.example:5672/prod?exchange=e&routing_key=k"
        );
        assert_eq!(password.as_deref(), Some("s3cr%40t"));
        assert_eq!(with_password(&shown, password.as_deref()), raw);
    }

    #[test]
    fn a_password_stays_with_its_scheme_user_and_host() {
        let stored = "amqp://libris:***@rabbit.example:5672/prod?exchange=e";
        assert!(same_credentials_scope(
            stored,
            "amqp://libris:***@RABBIT.example:5672/other?exchange=f"
        ));
        for elsewhere in [
            "amqp://libris:***@attacker.example:5672/prod",
            "amqp://libris:***@rabbit.example:5673/prod",
            "amqp://other:***@rabbit.example:5672/prod",
            "nats://libris:***@rabbit.example:5672/prod",
            "amqp://rabbit.example:5672/prod",
        ] {
            assert!(!same_credentials_scope(stored, elsewhere), "{elsewhere}");
        }
    }

    #[test]
    fn urls_without_a_password_are_left_alone() {
        for url in [
            "https://example.com/hook?token=a:b@c",
            "nats://nats.example:4222?subject=libris.x",
            "amqp://guest@rabbit.example/",
            "not a url",
            "",
        ] {
            assert_eq!(split_password(url), (url.to_owned(), None), "{url}");
            assert_eq!(with_password(url, Some("pw")), url);
        }
    }

    #[test]
    fn the_last_at_sign_ends_the_user_info_and_a_path_at_sign_is_not_it() {
        let (shown, password) = split_password("nats://u:p@ss@host:4222/x@y");
        assert_eq!(shown, "nats://u:***@host:4222/x@y");
        assert_eq!(password.as_deref(), Some("p@ss"));
    }
}
