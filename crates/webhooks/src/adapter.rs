//! This crate as the adapter behind the application's webhook ports: the
//! sender is the engine's `Channel` of webhook requests, [`EndpointRules`]
//! the `EndpointPolicy`, [`ThreadRandom`] the engine's `Randomness`, and a
//! [`SigningKey`] made from the
//! inbound secret the `InboundVerifier`. The crate keeps its own report and
//! outcome types, so it stays usable without the application; they are
//! converted here, at the boundary.

use chrono::{DateTime, Utc};
use libris_application::engine::{Channel, Randomness, SendFuture};
use libris_application::webhooks::{EndpointPolicy, InboundVerifier, OutgoingDelivery};
use libris_domain::delivery as app;
use rand::Rng;

use crate::headers::validate_custom_headers;
use crate::outcome::Outcome;
use crate::sender::{AttemptReport, OutgoingRequest, WebhookSender};
use crate::signing::{generate_secret, SecretError, SigningKey, MIN_PLAIN_SECRET_CHARS};
use crate::target::{check_url, is_refused, TargetError};

impl From<Outcome> for app::Outcome {
    fn from(outcome: Outcome) -> Self {
        match outcome {
            Outcome::Delivered => Self::Delivered,
            Outcome::Gone => Self::Gone,
            Outcome::Rejected => Self::Rejected,
            Outcome::Refused => Self::Refused,
            Outcome::Retry { after } => Self::Retry { after },
        }
    }
}

impl From<AttemptReport> for app::AttemptReport {
    fn from(report: AttemptReport) -> Self {
        Self {
            status: report.status,
            response_body: report.response_body,
            error: report.error,
            duration_ms: report.duration_ms,
            outcome: report.outcome.into(),
        }
    }
}

impl Channel<OutgoingDelivery> for WebhookSender {
    fn send<'a>(
        &'a self,
        delivery: &'a OutgoingDelivery,
        attempt_at: DateTime<Utc>,
    ) -> SendFuture<'a> {
        let timestamp = attempt_at.timestamp();
        Box::pin(async move {
            let key = match SigningKey::from_secret(&delivery.secret) {
                Ok(key) => key,
                // Secrets are checked when saved, so this is a stored secret
                // that escaped the check; it will not fix itself, so the
                // attempt is refused rather than retried.
                Err(error) => {
                    return app::AttemptReport {
                        status: None,
                        response_body: String::new(),
                        error: Some(format!("invalid subscription secret: {error}")),
                        duration_ms: 0,
                        outcome: app::Outcome::Refused,
                    }
                }
            };
            let webhook_id = delivery.event_id.hyphenated().to_string();
            let request = OutgoingRequest {
                url: &delivery.url,
                key: &key,
                webhook_id: &webhook_id,
                event_type: &delivery.event,
                body: &delivery.body,
                method: delivery.method.as_str(),
                content_type: &delivery.content_type,
                timestamp,
                custom_headers: &delivery.headers,
            };
            // The inherent `send`, which this trait method shares a name with.
            WebhookSender::send(self, &request).await.into()
        })
    }
}

/// The checks a subscription's endpoint gets when it is saved, so the admin
/// hears about a bad one at once rather than from failed deliveries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EndpointRules {
    /// Lets targets resolve to private, loopback and link-local addresses;
    /// the same setting as the sender's.
    pub allow_private: bool,
}

impl EndpointPolicy for EndpointRules {
    /// Private addresses are refused whatever the setting: the setting is
    /// the operator's, for the operator's own receivers.
    fn check_member_target(&self, url: &str) -> Result<(), String> {
        EndpointRules {
            allow_private: false,
        }
        .check_target(url)
    }

    /// Resolves the host with the blocking system resolver. The sender checks
    /// the addresses again at connect time, so this check is for the admin's
    /// sake, not the only defence against DNS rebinding.
    fn check_target(&self, url: &str) -> Result<(), String> {
        let url = check_url(url).map_err(target_message)?;
        // The port only completes the socket addresses; it has no bearing on
        // which addresses the name resolves to.
        let addresses = match url.socket_addrs(|| None) {
            Ok(addresses) if !addresses.is_empty() => addresses,
            // Where private targets are allowed (a development or internal
            // setup), a name that does not resolve yet may well resolve by
            // the time of sending, when the sender checks it anyway.
            _ if self.allow_private => return Ok(()),
            Ok(_) => return Err("cannot be resolved: the host has no addresses".to_owned()),
            Err(error) => return Err(format!("cannot be resolved: {error}")),
        };
        // Stricter than the sender, which skips forbidden addresses and uses
        // the rest: one private address among public ones is a misconfigured
        // or probing name, and deliveries would depend on which address won.
        if addresses
            .iter()
            .any(|address| is_refused(address.ip(), self.allow_private))
        {
            return Err(target_message(TargetError::ResolvesToForbidden));
        }
        Ok(())
    }

    fn check_secret(&self, secret: &str) -> Result<(), String> {
        SigningKey::from_secret(secret)
            .map(drop)
            .map_err(secret_message)
    }

    fn generate_secret(&self) -> String {
        generate_secret()
    }

    fn check_headers(&self, headers: &[(String, String)]) -> Result<(), String> {
        validate_custom_headers(headers).map_err(|error| error.to_string())
    }
}

/// Worded for the `secret` field; a `whsec_` prefix shows the admin meant
/// the standard form, so only that form's rule is named then.
fn secret_message(error: SecretError) -> String {
    match error {
        SecretError::InvalidBase64 => "must be base64 after `whsec_`".to_owned(),
        SecretError::EmptyKey => "must have a key after `whsec_`".to_owned(),
        SecretError::TooShort => format!(
            "must be `whsec_` followed by base64, or at least {MIN_PLAIN_SECRET_CHARS} characters"
        ),
    }
}

/// The crate's target errors read as sentences about a URL; the application
/// shows messages under the field's name, so they are worded for that.
fn target_message(error: TargetError) -> String {
    match error {
        TargetError::Invalid(reason) => format!("is not a valid URL: {reason}"),
        TargetError::Scheme => "must be an http or https URL".to_owned(),
        TargetError::NoHost => "must have a host".to_owned(),
        TargetError::Userinfo => "must not contain a user name or password".to_owned(),
        TargetError::ForbiddenAddress | TargetError::ResolvesToForbidden => {
            "resolves to a special-purpose address (private, loopback, reserved, \
             documentation…); private ones are allowed with \
             LIBRIS_WEBHOOK_ALLOW_PRIVATE=true"
                .to_owned()
        }
    }
}

/// Retry jitter from the thread-local generator: it only has to spread
/// retries apart, not be unpredictable.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadRandom;

impl Randomness for ThreadRandom {
    fn symmetric_unit(&self) -> f64 {
        rand::thread_rng().gen_range(-1.0..=1.0)
    }
}

impl InboundVerifier for SigningKey {
    fn verify_hex(&self, body: &[u8], signature: &str) -> bool {
        SigningKey::verify_hex(self, body, signature)
    }

    fn verify_standard(
        &self,
        message_id: &str,
        timestamp: i64,
        body: &[u8],
        signature: &str,
    ) -> bool {
        SigningKey::verify_standard(self, message_id, timestamp, body, signature)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    const STRICT: EndpointRules = EndpointRules {
        allow_private: false,
    };
    const LENIENT: EndpointRules = EndpointRules {
        allow_private: true,
    };

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(name, value)| ((*name).to_owned(), (*value).to_owned()))
            .collect()
    }

    #[test]
    fn private_ip_literals_are_refused_unless_allowed() {
        for url in [
            "http://10.0.0.1/hook",
            "https://192.168.1.20:8443/",
            "http://127.1/",
            "http://169.254.169.254/latest/meta-data",
            "http://[::1]:8080/hook",
            "http://[::ffff:10.0.0.1]/",
        ] {
            let message = STRICT.check_target(url).expect_err(url);
            assert!(
                message.contains("special-purpose")
                    && message.contains("LIBRIS_WEBHOOK_ALLOW_PRIVATE=true"),
                "{url}: {message}"
            );
            assert_eq!(LENIENT.check_target(url), Ok(()), "{url}");
        }
    }

    #[test]
    fn ranges_that_are_never_targets_stay_refused_when_private_ones_are_allowed() {
        for url in [
            "http://0.0.0.0/",
            "http://192.0.2.1/hook",
            "http://240.0.0.1/",
            "http://[ff02::1]/",
            "http://[2002:7f00:1::]/",
        ] {
            assert!(LENIENT.check_target(url).is_err(), "{url}");
        }
    }

    #[test]
    fn public_ip_literals_are_accepted() {
        assert_eq!(STRICT.check_target("https://93.184.215.14/hook"), Ok(()));
        assert_eq!(STRICT.check_target("http://[2606:4700::1111]/"), Ok(()));
    }

    #[test]
    fn names_resolving_to_loopback_are_refused_unless_allowed() {
        let message = STRICT
            .check_target("http://localhost:9000/hook")
            .expect_err("localhost is loopback");
        assert!(
            message.contains("LIBRIS_WEBHOOK_ALLOW_PRIVATE"),
            "{message}"
        );
        assert_eq!(LENIENT.check_target("http://localhost:9000/hook"), Ok(()));
    }

    #[test]
    fn names_that_do_not_resolve_are_refused() {
        // `.invalid` never resolves (RFC 6761).
        let message = STRICT
            .check_target("https://hooks.example.invalid/")
            .expect_err("unresolvable");
        assert!(message.starts_with("cannot be resolved: "), "{message}");
        assert_eq!(
            LENIENT.check_target("https://hooks.example.invalid/"),
            Ok(())
        );
    }

    #[test]
    fn malformed_urls_are_refused_even_when_private_targets_are_allowed() {
        for rules in [STRICT, LENIENT] {
            assert_eq!(
                rules.check_target("ftp://example.com/hook"),
                Err("must be an http or https URL".to_owned())
            );
            assert_eq!(
                rules.check_target("https://user:pass@example.com/"),
                Err("must not contain a user name or password".to_owned())
            );
            let message = rules
                .check_target("example.com/hook")
                .expect_err("relative");
            assert!(message.starts_with("is not a valid URL: "), "{message}");
        }
    }

    #[test]
    fn secrets_are_checked_as_the_signer_reads_them() {
        assert_eq!(STRICT.check_secret("whsec_c2VjcmV0LWtleQ=="), Ok(()));
        assert_eq!(STRICT.check_secret("12345678"), Ok(()));
        assert_eq!(
            STRICT.check_secret("1234567"),
            Err("must be `whsec_` followed by base64, or at least 8 characters".to_owned())
        );
        assert_eq!(
            STRICT.check_secret("whsec_not base64!"),
            Err("must be base64 after `whsec_`".to_owned())
        );
        assert_eq!(
            STRICT.check_secret("whsec_"),
            Err("must have a key after `whsec_`".to_owned())
        );
    }

    #[test]
    fn generated_secrets_pass_the_check() {
        let secret = STRICT.generate_secret();
        assert!(secret.starts_with("whsec_"), "{secret}");
        assert_eq!(STRICT.check_secret(&secret), Ok(()));
        assert_ne!(secret, STRICT.generate_secret());
    }

    #[test]
    fn header_errors_name_the_header() {
        assert_eq!(
            STRICT.check_headers(&pairs(&[("X-Tenant", "42"), ("Authorization", "Bearer t")])),
            Ok(())
        );
        let message = STRICT
            .check_headers(&pairs(&[
                ("X-Tenant", "42"),
                ("Content-Type", "text/plain"),
            ]))
            .expect_err("reserved");
        assert!(
            message.contains("\"Content-Type\"") && message.contains("set by Libris"),
            "{message}"
        );
        let message = STRICT
            .check_headers(&pairs(&[("X-Tenant", "a\r\nX-Injected: 1")]))
            .expect_err("control characters");
        assert!(message.contains("\"X-Tenant\""), "{message}");
    }

    #[test]
    fn thread_random_stays_within_minus_one_and_one() {
        let samples: Vec<f64> = (0..10_000).map(|_| ThreadRandom.symmetric_unit()).collect();
        assert!(
            samples.iter().all(|x| (-1.0..=1.0).contains(x)),
            "out of range"
        );
        // Both halves of the range are used, or jitter would only ever delay.
        assert!(samples.iter().any(|x| *x < -0.5));
        assert!(samples.iter().any(|x| *x > 0.5));
    }

    #[test]
    fn outcomes_convert_variant_for_variant() {
        let after = Some(Duration::from_secs(7));
        for (ours, theirs) in [
            (Outcome::Delivered, app::Outcome::Delivered),
            (Outcome::Gone, app::Outcome::Gone),
            (Outcome::Rejected, app::Outcome::Rejected),
            (Outcome::Refused, app::Outcome::Refused),
            (Outcome::Retry { after }, app::Outcome::Retry { after }),
            (
                Outcome::Retry { after: None },
                app::Outcome::Retry { after: None },
            ),
        ] {
            assert_eq!(app::Outcome::from(ours), theirs);
        }
    }

    #[test]
    fn reports_convert_field_for_field() {
        let report = AttemptReport {
            status: Some(503),
            response_body: "busy".to_owned(),
            error: Some("receiver answered 503 Service Unavailable".to_owned()),
            duration_ms: 42,
            outcome: Outcome::Retry { after: None },
        };
        assert_eq!(
            app::AttemptReport::from(report),
            app::AttemptReport {
                status: Some(503),
                response_body: "busy".to_owned(),
                error: Some("receiver answered 503 Service Unavailable".to_owned()),
                duration_ms: 42,
                outcome: app::Outcome::Retry { after: None },
            }
        );
    }
}
