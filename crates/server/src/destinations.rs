//! Where a webhook goes depends on its URL: `http(s)://` to a receiver,
//! `amqp://` to RabbitMQ, `nats://` to NATS JetStream. One delivery queue
//! serves them all; these two adapters pick the sender and the save-time
//! checks by scheme, so the rest of the system never asks.

use chrono::{DateTime, Utc};
use libris_application::engine::{Channel, SendFuture};
use libris_application::webhooks::{EndpointPolicy, OutgoingDelivery};
use libris_brokers::{check_broker_url, is_broker_url, BrokerChannel};
use libris_domain::delivery::{AttemptReport, Outcome};
use libris_webhooks::{EndpointRules, WebhookSender};

/// The webhook channel's adapter: HTTP, or a broker.
pub struct Destinations {
    pub http: WebhookSender,
    /// For members' webhooks: refuses private addresses at connect time
    /// whatever `http` allows, so a name that resolves elsewhere after it was
    /// saved still cannot reach inside.
    pub public_http: WebhookSender,
    pub brokers: BrokerChannel,
}

impl Channel<OutgoingDelivery> for Destinations {
    fn send<'a>(
        &'a self,
        message: &'a OutgoingDelivery,
        attempt_at: DateTime<Utc>,
    ) -> SendFuture<'a> {
        if let Some(reason) = &message.unsendable {
            let report = AttemptReport {
                status: None,
                response_body: String::new(),
                error: Some(reason.clone()),
                duration_ms: 0,
                outcome: Outcome::Refused,
            };
            return Box::pin(std::future::ready(report));
        }
        let channel: &dyn Channel<OutgoingDelivery> = if is_broker_url(&message.url) {
            &self.brokers
        } else if message.public_only {
            &self.public_http
        } else {
            &self.http
        };
        channel.send(message, attempt_at)
    }
}

/// The checks a subscription gets when saved. Broker targets are not subject
/// to the private-address rule: a broker is infrastructure the operator
/// runs, not a receiver someone registered.
pub struct DestinationRules(pub EndpointRules);

impl EndpointPolicy for DestinationRules {
    fn check_target(&self, url: &str) -> Result<(), String> {
        if is_broker_url(url) {
            check_broker_url(url)
        } else {
            self.0.check_target(url)
        }
    }

    fn check_member_target(&self, url: &str) -> Result<(), String> {
        if is_broker_url(url) {
            return Err("a member's webhook must be an http or https URL".to_owned());
        }
        self.0.check_member_target(url)
    }

    fn check_secret(&self, secret: &str) -> Result<(), String> {
        self.0.check_secret(secret)
    }

    fn generate_secret(&self) -> String {
        self.0.generate_secret()
    }

    fn check_headers(&self, headers: &[(String, String)]) -> Result<(), String> {
        self.0.check_headers(headers)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn brokers_are_checked_as_brokers_and_http_as_http() {
        let rules = DestinationRules(EndpointRules {
            allow_private: false,
        });
        assert_eq!(
            rules.check_target("amqp://guest:guest@127.0.0.1:5672/%2f?exchange=e"),
            Ok(()),
            "a broker on loopback is fine"
        );
        assert!(rules.check_target("http://127.0.0.1/hook").is_err());
        assert!(rules.check_target("amqp://127.0.0.1?bogus=1").is_err());
        assert!(rules.check_target("ftp://example.com/").is_err());
    }
}
