//! The SMS gateway adapter (`libris_sms::GatewayClient`) behind the
//! application's `SmsGateway` port. Each message carries the gateway's URL
//! and token as the settings named them when it was leased
//! (`/api/settings/` over the environment), so a change applies to the next
//! claim on every instance without a settings read per send.
//!
//! `LIBRIS_SMS_RATE` paces the attempts of this process: a campaign of
//! 100,000 members is worked off at that rate rather than as fast as a
//! gateway on loopback answers, which on a small machine would take the
//! cores the API needs (docs/campaigns.md has the figures).

use std::sync::Mutex;
use std::time::Duration;

use libris_application::campaigns::settings::Gateway;
use libris_application::campaigns::SmsGateway;
use libris_application::engine::SendFuture;
use libris_domain::campaigns::Sms;
use libris_sms::GatewayClient;
use tokio::time::Instant;

pub struct GatewayAdapter {
    client: GatewayClient,
    pacer: Option<Pacer>,
}

impl GatewayAdapter {
    /// `rate`: attempts per second at most (0: no bound).
    pub fn new(client: GatewayClient, rate: u32) -> Self {
        Self {
            client,
            pacer: (rate > 0).then(|| Pacer {
                interval: Duration::from_secs(1) / rate,
                next: Mutex::new(None),
            }),
        }
    }
}

/// Hands out evenly spaced start times, one per attempt.
struct Pacer {
    interval: Duration,
    next: Mutex<Option<Instant>>,
}

impl Pacer {
    async fn wait_turn(&self) {
        let turn = {
            let mut next = self
                .next
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let now = Instant::now();
            // Idle time is not saved up for a burst.
            let turn = next.map_or(now, |at| at.max(now));
            *next = Some(turn + self.interval);
            turn
        };
        tokio::time::sleep_until(turn).await;
    }
}

impl SmsGateway for GatewayAdapter {
    fn send<'a>(&'a self, gateway: &'a Gateway, sms: &'a Sms) -> SendFuture<'a> {
        Box::pin(async move {
            if let Some(pacer) = &self.pacer {
                pacer.wait_turn().await;
            }
            let gateway = libris_sms::Gateway {
                url: gateway.url.clone(),
                token: gateway.token.clone().unwrap_or_default(),
            };
            self.client.send(&gateway, sms).await
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn paced_attempts_start_evenly_spaced_and_idle_time_is_not_saved_up() {
        let pacer = Pacer {
            interval: Duration::from_millis(50),
            next: Mutex::new(None),
        };
        let start = Instant::now();
        for _ in 0..3 {
            pacer.wait_turn().await;
        }
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(100), "{took:?}");
        tokio::time::sleep(Duration::from_millis(300)).await;
        let idle = Instant::now();
        pacer.wait_turn().await;
        pacer.wait_turn().await;
        let took = idle.elapsed();
        assert!(
            took >= Duration::from_millis(50),
            "no burst after idling: {took:?}"
        );
    }
}
