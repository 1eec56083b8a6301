//! SMS campaigns between processes: the real `libris` binary, its JSON log,
//! a SIGKILL while a message is at the gateway, and two processes sharing
//! one PostgreSQL database racing to start the same campaign. The fake SMS
//! gateway runs on loopback in this test.

// Shared with processes.rs; this file uses only part of it.
#[allow(dead_code)]
mod support;

use std::collections::BTreeSet;
use std::time::Duration;

use chrono::{SecondsFormat, Utc};
use libris_testing::database::TestDatabase;
use libris_testing::sms_gateway::{FakeSmsGateway, GatewayAnswer};
use serde_json::{json, Value};
use support::{Launch, Server, ADMIN};
use tokio::time::Instant;

const WAIT: Duration = Duration::from_secs(30);
const TOKEN: &str = "process-gateway-token";

/// The admin's API on one server.
struct Admin {
    client: reqwest::Client,
    address: String,
    token: String,
}

impl Admin {
    async fn login(server: &Server) -> Self {
        let client = reqwest::Client::new();
        let reply: Value = client
            .post(format!("{}/api/auth/token/", server.address))
            .json(&json!({"username": ADMIN.0, "password": ADMIN.1}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        Self {
            client,
            address: server.address.clone(),
            token: reply["token"].as_str().expect("a token").to_owned(),
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut request = self
            .client
            .request(method.clone(), format!("{}{path}", self.address))
            .bearer_auth(&self.token);
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        let body: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{method} {path}: {status} {body}");
        body
    }

    async fn member(&self, n: usize) -> i64 {
        let body = json!({
            "username": format!("member{n}"),
            "email": format!("member{n}@example.com"),
            "phone": format!("7916{n:07}"),
            "timezone": "Europe/Moscow",
        });
        self.call(reqwest::Method::POST, "/api/users/", Some(body))
            .await["id"]
            .as_i64()
            .unwrap()
    }

    async fn campaign(&self, start_in: chrono::Duration) -> i64 {
        let at =
            |d: chrono::Duration| (Utc::now() + d).to_rfc3339_opts(SecondsFormat::Micros, true);
        let body = json!({
            "text": "The library is closed on Monday",
            "start_at": at(start_in),
            "end_at": at(chrono::Duration::hours(1)),
        });
        self.call(reqwest::Method::POST, "/api/campaigns/", Some(body))
            .await["id"]
            .as_i64()
            .unwrap()
    }

    /// Polls the campaign until `done` accepts it.
    async fn campaign_until(&self, id: i64, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let campaign = self
                .call(reqwest::Method::GET, &format!("/api/campaigns/{id}/"), None)
                .await;
            if done(&campaign) {
                return campaign;
            }
            assert!(Instant::now() < deadline, "never matched: {campaign}");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

fn launch(database: &TestDatabase, gateway: &FakeSmsGateway) -> Launch {
    Launch::new(database.url())
        .env("LIBRIS_SMS_URL", &gateway.url())
        .env("LIBRIS_SMS_TOKEN", TOKEN)
        .env("LIBRIS_SMS_RETRY_SCHEDULE", "200ms,200ms,200ms")
}

/// A JSON log line's fields: its own, then those of its spans (innermost
/// first), as a reader following one id would see them.
fn field<'a>(line: &'a Value, name: &str) -> Option<&'a Value> {
    line.get(name)
        .or_else(|| line.get("span").and_then(|s| s.get(name)))
        .or_else(|| {
            line.get("spans")
                .and_then(Value::as_array)
                .and_then(|spans| spans.iter().rev().find_map(|s| s.get(name)))
        })
}

#[tokio::test]
async fn one_message_is_followed_through_the_json_log_by_its_ids() {
    let database = TestDatabase::sqlite();
    let gateway = FakeSmsGateway::start().await;
    let server = launch(&database, &gateway).serve().await;
    let admin = Admin::login(&server).await;
    let user = admin.member(1).await;
    let campaign = admin.campaign(chrono::Duration::minutes(-1)).await;
    admin
        .campaign_until(campaign, |c| c["status"] == "finished")
        .await;
    let request = &gateway.wait_for(1, WAIT).await[0];
    let message = request.path_id().expect("a message id");

    let log: Vec<Value> = server
        .process
        .stdout()
        .lines()
        .filter_map(|line| serde_json::from_str(line).ok())
        .collect();
    let about_message: Vec<&Value> = log
        .iter()
        .filter(|line| field(line, "message_id") == Some(&json!(message)))
        .collect();
    let said: Vec<&str> = about_message
        .iter()
        .filter_map(|line| line["message"].as_str())
        .collect();
    assert!(
        said.contains(&"attempt") && said.contains(&"sms attempt recorded"),
        "the engine's attempt and the queue's record, by message id: {said:?}"
    );
    for line in &about_message {
        assert_eq!(field(line, "campaign_id"), Some(&json!(campaign)), "{line}");
        assert_eq!(field(line, "user_id"), Some(&json!(user)), "{line}");
    }
    for text in ["campaign created and started", "campaign finished"] {
        let line = log
            .iter()
            .find(|line| line["message"] == text)
            .unwrap_or_else(|| panic!("no `{text}` line"));
        assert_eq!(field(line, "campaign_id"), Some(&json!(campaign)), "{line}");
    }
    assert!(
        !server.process.stdout().contains(TOKEN),
        "the gateway's token is never logged"
    );
}

#[tokio::test]
async fn a_server_killed_while_a_message_is_at_the_gateway_sends_it_once_more_with_the_same_id() {
    let database = TestDatabase::sqlite();
    let gateway = FakeSmsGateway::start().await;
    // The gateway takes the message and has not answered when the server
    // dies: whether it sent the SMS, the server cannot know.
    gateway.answer_next(vec![GatewayAnswer::Hang]);
    let launch = launch(&database, &gateway).env("LIBRIS_SMS_TIMEOUT", "1s");
    let mut first = launch.serve().await;
    let admin = Admin::login(&first).await;
    admin.member(1).await;
    let campaign = admin.campaign(chrono::Duration::minutes(-1)).await;
    gateway.wait_for(1, WAIT).await;
    first.process.kill();

    let second = launch.serve().await;
    let admin = Admin::login(&second).await;
    // Once the dead server's lease (timeout + 5 s) runs out.
    let finished = admin
        .campaign_until(campaign, |c| c["status"] == "finished")
        .await;
    assert_eq!(finished["counts"]["sent"], 1, "{finished}");
    tokio::time::sleep(Duration::from_millis(500)).await;
    let requests = gateway.requests();
    assert_eq!(
        requests.len(),
        2,
        "at most one duplicate per message in flight"
    );
    assert_eq!(requests[0].path_id(), requests[1].path_id());
    assert_eq!(requests[0].body_id(), requests[1].body_id());
    assert_eq!(requests[1].path_id(), requests[1].body_id());
}

#[tokio::test]
async fn two_processes_on_one_postgresql_database_start_a_campaign_once_and_send_each_message_once()
{
    const MEMBERS: usize = 40;
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let gateway = FakeSmsGateway::start().await;
    let launch = launch(&database, &gateway);
    let server = launch.serve().await;
    let _worker = launch.worker().await;
    let admin = Admin::login(&server).await;
    for n in 0..MEMBERS {
        admin.member(n).await;
    }
    // Both processes' schedulers find it due at about the same moment.
    let campaign = admin.campaign(chrono::Duration::seconds(2)).await;
    let finished = admin
        .campaign_until(campaign, |c| c["status"] == "finished")
        .await;
    assert_eq!(finished["counts"]["sent"], MEMBERS, "{finished}");
    tokio::time::sleep(Duration::from_secs(1)).await;
    let requests = gateway.requests();
    let ids: BTreeSet<i64> = requests.iter().filter_map(|r| r.path_id()).collect();
    assert_eq!(requests.len(), MEMBERS, "each message sent once");
    assert_eq!(ids.len(), MEMBERS);
    let started = admin
        .call(
            reqwest::Method::GET,
            "/api/events/?event=campaign.started",
            None,
        )
        .await;
    assert_eq!(started["count"], 1, "started once: {started}");
}
