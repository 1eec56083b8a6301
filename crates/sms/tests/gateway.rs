//! The channel against a real HTTP gateway on loopback
//! (`libris_testing::sms_gateway`): what the gateway gets, and how each way
//! it can answer (or not) becomes an outcome.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chrono::Utc;
use libris_application::engine::Channel;
use libris_domain::campaigns::Sms;
use libris_domain::delivery::{AttemptReport, Outcome};
use libris_sms::{Gateway, GatewayClient, GatewayFuture, GatewaySettings, SmsChannel};
use libris_testing::sms_gateway::{FakeSmsGateway, GatewayAnswer};

const TIMEOUT: Duration = Duration::from_secs(5);
const PATIENCE: Duration = Duration::from_secs(5);
const TOKEN: &str = "eyJhbGciOiJIUzI1NiJ9.test.token";
const RETRY: Outcome = Outcome::Retry { after: None };
/// How late a timed-out attempt may end on a busy machine; far below the
/// gateway's or the settings' own delay.
const SLACK: Duration = Duration::from_secs(2);

fn sms(id: i64) -> Sms {
    Sms {
        message_id: id,
        phone: "79161234567".into(),
        text: "Новые поступления: «Dune», \"Solaris\"\nЖдём вас!".into(),
    }
}

fn gateway(fake: &FakeSmsGateway) -> Gateway {
    Gateway {
        url: fake.url(),
        token: TOKEN.into(),
    }
}

fn client(timeout: Duration) -> GatewayClient {
    GatewayClient::new(timeout).expect("a valid timeout")
}

async fn send(fake: &FakeSmsGateway, id: i64) -> AttemptReport {
    client(TIMEOUT).send(&gateway(fake), &sms(id)).await
}

fn assert_retry(report: &AttemptReport, status: Option<u16>, reason: &str) {
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, status, "{report:?}");
    let error = report.error.as_deref().unwrap_or_default();
    assert!(error.contains(reason), "{reason:?} not in {error:?}");
    assert!(!error.contains(TOKEN), "the token leaked: {error}");
}

#[tokio::test]
async fn a_sent_message_arrives_as_the_contract_says() {
    let fake = FakeSmsGateway::start().await;
    let report = send(&fake, 42).await;

    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(report.status, Some(200));
    assert_eq!(report.error, None);
    assert_eq!(report.response_body, r#"{"code":0,"message":"OK"}"#);

    let requests = fake.wait_for(1, PATIENCE).await;
    let request = &requests[0];
    assert_eq!(request.method, "POST");
    assert_eq!(request.path, "/v1/send/42");
    assert_eq!(
        request.authorization.as_deref(),
        Some(format!("Bearer {TOKEN}").as_str())
    );
    assert_eq!(request.content_type.as_deref(), Some("application/json"));
    assert_eq!(
        request.json(),
        Some(serde_json::json!({
            "id": 42,
            "phone": 79_161_234_567_u64,
            "text": "Новые поступления: «Dune», \"Solaris\"\nЖдём вас!",
        })),
        "exactly these fields, the phone an integer"
    );
}

#[tokio::test]
async fn every_attempt_carries_the_same_id_in_path_and_body() {
    let fake = FakeSmsGateway::start().await;
    fake.answer_next(vec![GatewayAnswer::ServerError]);
    assert_eq!(send(&fake, 7).await.outcome, RETRY);
    assert_eq!(send(&fake, 7).await.outcome, Outcome::Delivered);
    let requests = fake.wait_for(2, PATIENCE).await;
    for request in &requests {
        assert_eq!(request.path_id(), Some(7));
        assert_eq!(request.body_id(), Some(7));
    }
    assert_eq!(requests[0].body, requests[1].body);
}

#[tokio::test]
async fn a_base_url_with_a_trailing_slash_gives_the_same_path() {
    let fake = FakeSmsGateway::start().await;
    let gateway = Gateway {
        url: format!("{}/", fake.url()),
        token: TOKEN.into(),
    };
    let report = client(TIMEOUT).send(&gateway, &sms(5)).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(fake.wait_for(1, PATIENCE).await[0].path, "/v1/send/5");
}

#[tokio::test]
async fn error_statuses_are_retried() {
    let fake = FakeSmsGateway::start().await;
    for (answer, status, reason) in [
        (
            GatewayAnswer::ServerError,
            500,
            "answered 500 Internal Server Error",
        ),
        (
            GatewayAnswer::Status(503),
            503,
            "answered 503 Service Unavailable",
        ),
        (GatewayAnswer::Status(401), 401, "answered 401 Unauthorized"),
        (GatewayAnswer::Status(404), 404, "answered 404 Not Found"),
        (
            GatewayAnswer::Status(429),
            429,
            "answered 429 Too Many Requests",
        ),
    ] {
        fake.set_answer(answer);
        let report = send(&fake, 1).await;
        assert_retry(&report, Some(status), reason);
    }
}

#[tokio::test]
async fn a_200_with_a_wrong_body_is_retried() {
    let fake = FakeSmsGateway::start().await;
    fake.set_answer(GatewayAnswer::WrongCode(1));
    let report = send(&fake, 1).await;
    assert_retry(&report, Some(200), "answered 200 with code 1: error");
    assert_eq!(report.response_body, r#"{"code":1,"message":"error"}"#);

    fake.set_answer(GatewayAnswer::NotJson);
    let report = send(&fake, 2).await;
    assert_retry(&report, Some(200), "a body that is not JSON");
    assert_eq!(report.response_body, "OK");
}

#[tokio::test]
async fn a_slow_gateway_within_the_timeout_is_waited_for() {
    let fake = FakeSmsGateway::start().await;
    let delay = Duration::from_millis(300);
    fake.set_answer(GatewayAnswer::AcceptAfter(delay));
    let report = client(Duration::from_secs(3))
        .send(&gateway(&fake), &sms(1))
        .await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert!(report.duration_ms >= 300, "{report:?}");
}

#[tokio::test]
async fn the_timeout_bounds_a_slow_and_a_hanging_gateway() {
    let fake = FakeSmsGateway::start().await;
    let timeout = Duration::from_millis(400);
    for answer in [
        GatewayAnswer::AcceptAfter(Duration::from_secs(10)),
        GatewayAnswer::Hang,
    ] {
        fake.set_answer(answer.clone());
        let started = Instant::now();
        let report = client(timeout).send(&gateway(&fake), &sms(1)).await;
        let elapsed = started.elapsed();
        assert_retry(&report, None, "timed out: no answer from the SMS gateway");
        assert!(report.error.as_deref().unwrap().contains("within 400 ms"));
        assert!(
            elapsed >= timeout && elapsed < timeout + SLACK,
            "{answer:?}: took {elapsed:?}"
        );
    }
    assert_eq!(fake.requests().len(), 2, "both requests did arrive");
}

#[tokio::test]
async fn a_gateway_that_is_down_is_retried_and_reached_once_back() {
    let mut fake = FakeSmsGateway::start().await;
    let client = client(TIMEOUT);
    fake.stop().await;
    let report = client.send(&gateway(&fake), &sms(9)).await;
    assert_retry(
        &report,
        None,
        &format!(
            "cannot connect to the SMS gateway at 127.0.0.1:{}",
            fake.port()
        ),
    );

    fake.restart().await;
    let report = client.send(&gateway(&fake), &sms(9)).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(fake.requests().len(), 1, "nothing arrived while down");
}

#[tokio::test]
async fn no_token_sends_no_authorization() {
    let fake = FakeSmsGateway::start().await;
    let gateway = Gateway {
        url: fake.url(),
        token: String::new(),
    };
    let report = client(TIMEOUT).send(&gateway, &sms(3)).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(fake.wait_for(1, PATIENCE).await[0].authorization, None);
}

#[tokio::test]
async fn concurrent_sends_each_arrive_once() {
    let fake = FakeSmsGateway::start().await;
    fake.set_answer(GatewayAnswer::AcceptAfter(Duration::from_millis(50)));
    let client = client(TIMEOUT);
    let gateway = gateway(&fake);
    let sends = (1..=20).map(|id| {
        let (client, gateway) = (client.clone(), gateway.clone());
        tokio::spawn(async move { client.send(&gateway, &sms(id)).await })
    });
    for send in sends.collect::<Vec<_>>() {
        let report = send.await.expect("send task");
        assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    }
    let mut ids: Vec<i64> = fake.requests().iter().filter_map(|r| r.path_id()).collect();
    ids.sort_unstable();
    assert_eq!(ids, (1..=20).collect::<Vec<_>>());
}

/// Settings an admin changes while the channel runs.
#[derive(Default)]
struct Settings(Mutex<Option<Result<Gateway, String>>>);

impl Settings {
    fn set(&self, value: Result<Gateway, String>) {
        *self.0.lock().unwrap() = Some(value);
    }
}

impl GatewaySettings for Settings {
    fn gateway(&self) -> GatewayFuture<'_> {
        let current = self.0.lock().unwrap().clone();
        Box::pin(async move {
            match current {
                Some(value) => value,
                // Plays settings that take forever to read.
                None => {
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                    Err("unreachable".into())
                }
            }
        })
    }
}

#[tokio::test]
async fn the_channel_reads_the_gateway_at_every_attempt() {
    let first = FakeSmsGateway::start().await;
    let second = FakeSmsGateway::start().await;
    let settings = Arc::new(Settings::default());
    settings.set(Ok(gateway(&first)));
    let channel = SmsChannel::new(Arc::clone(&settings), TIMEOUT).expect("channel");

    let report = Channel::send(&channel, &sms(1), Utc::now()).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");

    settings.set(Ok(Gateway {
        url: second.url(),
        token: "rotated".into(),
    }));
    let report = Channel::send(&channel, &sms(2), Utc::now()).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");

    let to_first = first.requests();
    let to_second = second.wait_for(1, PATIENCE).await;
    assert_eq!(to_first.len(), 1);
    assert_eq!(to_first[0].bearer(), Some(TOKEN));
    assert_eq!(to_second.len(), 1);
    assert_eq!(to_second[0].path_id(), Some(2));
    assert_eq!(to_second[0].bearer(), Some("rotated"));

    settings.set(Err("no SMS gateway URL is set".into()));
    let report = channel.send(&sms(3)).await;
    assert_retry(&report, None, "no SMS gateway URL is set");
}

#[tokio::test]
async fn the_timeout_bounds_the_settings_lookup_too() {
    let settings = Settings::default();
    let timeout = Duration::from_millis(300);
    let channel = SmsChannel::new(settings, timeout).expect("channel");
    let started = Instant::now();
    let report = channel.send(&sms(1)).await;
    assert_retry(&report, None, "timed out");
    assert!(
        started.elapsed() < timeout + SLACK,
        "{:?}",
        started.elapsed()
    );
}
