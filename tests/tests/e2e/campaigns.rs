//! SMS campaigns end to end: the real server, a fake SMS gateway on loopback
//! that can be slow, answer 500 or a wrong body, hang or be down, and what
//! the gateway got (path, bearer, body), what admins read back, and which
//! events were recorded.

use std::time::Duration;

use chrono::{SecondsFormat, Timelike, Utc};
use libris_e2e::{default_database, TestApp};
use libris_testing::sms_gateway::{FakeSmsGateway, GatewayAnswer, GatewayRequest};
use libris_testing::smtp::SmtpServer;
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(15);
const TOKEN: &str = "t0k3n-for-the-gateway";

fn time(offset: chrono::Duration) -> String {
    (Utc::now() + offset).to_rfc3339_opts(SecondsFormat::Micros, true)
}

/// An app sending to `gateway` with a fast retry schedule; `extra` flags win.
async fn app_sending(gateway: &FakeSmsGateway, extra: &[&str]) -> TestApp {
    TestApp::spawn_on(default_database(), &args(gateway, extra)).await
}

fn args<'a>(gateway: &'a FakeSmsGateway, extra: &[&'a str]) -> Vec<&'a str> {
    // `url()` is owned; leak it for the borrowed argument list a test keeps.
    let url: &'a str = Box::leak(gateway.url().into_boxed_str());
    let mut args = extra.to_vec();
    let defaults = [
        ("--sms-url", url),
        ("--sms-token", TOKEN),
        ("--sms-retry-schedule", "100ms,100ms,100ms,100ms,100ms"),
        ("--sms-timeout", "2s"),
    ];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    args
}

/// A member created by the admin with the campaign attributes; answers the id.
async fn member(app: &TestApp, username: &str, phone: &str, tags: &[&str], timezone: &str) -> i64 {
    let body = json!({
        "username": username,
        "email": format!("{username}@example.com"),
        "phone": phone,
        "tags": tags,
        "timezone": timezone,
    });
    app.admin(Method::POST, "/api/users/", Some(body))
        .await
        .expect(201)["id"]
        .as_i64()
        .expect("an id")
}

async fn create(app: &TestApp, body: Value) -> Value {
    app.admin(Method::POST, "/api/campaigns/", Some(body))
        .await
        .expect(201)
}

/// A campaign running now until an hour from now.
fn now_body(text: &str, filter: Value) -> Value {
    json!({
        "text": text,
        "start_at": time(chrono::Duration::minutes(-1)),
        "end_at": time(chrono::Duration::hours(1)),
        "filter": filter,
    })
}

async fn campaign_until(app: &TestApp, id: i64, done: impl Fn(&Value) -> bool) -> Value {
    app.eventually(&format!("/api/campaigns/{id}/"), WAIT, done)
        .await
}

async fn messages(app: &TestApp, id: i64) -> Vec<Value> {
    app.admin_get(&format!("/api/campaigns/{id}/messages/?limit=500"))
        .await["results"]
        .as_array()
        .expect("a list")
        .clone()
}

/// The `campaign.*` events about one campaign, oldest first.
fn events_named(events: &Value, campaign: i64) -> Vec<String> {
    let mut names: Vec<String> = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["data"]["id"] == campaign
                && e["event"]
                    .as_str()
                    .is_some_and(|n| n.starts_with("campaign."))
        })
        .map(|e| e["event"].as_str().unwrap().to_owned())
        .collect();
    names.reverse();
    names
}

#[track_caller]
fn assert_well_formed(request: &GatewayRequest) {
    assert_eq!(request.method, "POST");
    assert_eq!(request.bearer(), Some(TOKEN), "{request:?}");
    let id = request.path_id().expect("POST /v1/send/{id}");
    assert_eq!(request.body_id(), Some(id), "the same id in path and body");
}

#[actix_web::test]
async fn a_campaign_created_inside_its_period_goes_to_the_members_it_selects() {
    let gateway = FakeSmsGateway::start().await;
    let app = app_sending(&gateway, &[]).await;
    let ann = member(
        &app,
        "ann",
        "+7 (916) 123-45-67",
        &["News"],
        "Europe/Moscow",
    )
    .await;
    let bob = member(&app, "bob", "79031112233", &["vip"], "UTC").await;
    member(&app, "cat", "79161112233", &["other"], "UTC").await;
    member(&app, "dan", "", &["news"], "UTC").await;
    let eve = member(&app, "eve", "79161112244", &["news"], "UTC").await;
    app.admin(
        Method::PATCH,
        &format!("/api/users/{eve}/"),
        Some(json!({"subscribed_to_notifications": false})),
    )
    .await
    .expect(200);

    let text = "The library is closed on Monday «ремонт»";
    let created = create(
        &app,
        now_body(
            text,
            json!({"tags": ["news", "vip"], "operator_codes": ["916", "903"]}),
        ),
    )
    .await;
    assert_eq!(created["status"], "running", "{created}");
    assert_eq!(created["counts"]["pending"], 2, "chosen before the answer");
    assert_eq!(created["filter"]["tags"], json!(["news", "vip"]));
    assert!(created["send_window"].is_null());
    let id = created["id"].as_i64().unwrap();

    let requests = gateway.wait_for(2, WAIT).await;
    let mut phones: Vec<u64> = requests.iter().filter_map(GatewayRequest::phone).collect();
    phones.sort_unstable();
    assert_eq!(phones, [79_031_112_233, 79_161_234_567]);
    for request in &requests {
        assert_well_formed(request);
        assert_eq!(request.text().as_deref(), Some(text));
        assert_eq!(
            request.path,
            format!("/v1/send/{}", request.path_id().unwrap())
        );
    }

    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(finished["counts"]["sent"], 2, "{finished}");
    let listed = messages(&app, id).await;
    let users: Vec<i64> = listed.iter().map(|m| m["user"].as_i64().unwrap()).collect();
    assert!(users.contains(&ann) && users.contains(&bob), "{listed:?}");
    for message in &listed {
        assert_eq!(message["status"], "sent");
        assert_eq!(message["attempts"], 1);
        assert_eq!(message["campaign"], id);
        assert!(message["sent_at"].is_string() && message["last_error"].is_null());
    }
    let sent_ids: Vec<i64> = listed.iter().map(|m| m["id"].as_i64().unwrap()).collect();
    for request in &requests {
        assert!(sent_ids.contains(&request.path_id().unwrap()));
    }

    let events = app.admin_get("/api/events/?limit=500").await;
    assert_eq!(
        events_named(&events, id),
        ["campaign.created", "campaign.started", "campaign.finished"]
    );
    let finished_event = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["event"] == "campaign.finished")
        .unwrap();
    assert_eq!(
        finished_event["data"], finished,
        "the event carries the resource"
    );
}

#[actix_web::test]
async fn a_campaign_for_later_is_started_by_the_scheduler_even_across_a_restart() {
    let gateway = FakeSmsGateway::start().await;
    let app = app_sending(&gateway, &[]).await;
    member(&app, "ann", "79161234567", &[], "UTC").await;
    let created = create(
        &app,
        json!({
            "text": "New arrivals this week",
            "start_at": time(chrono::Duration::seconds(2)),
            "end_at": time(chrono::Duration::hours(1)),
        }),
    )
    .await;
    assert_eq!(created["status"], "scheduled");
    assert_eq!(
        created["counts"]["pending"], 0,
        "chosen at the start, not before"
    );
    let id = created["id"].as_i64().unwrap();

    let app = app.restart(&args(&gateway, &[])).await;
    let requests = gateway.wait_for(1, WAIT).await;
    assert_well_formed(&requests[0]);
    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(finished["counts"]["sent"], 1);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(gateway.requests().len(), 1, "started and sent once");
    let events = app.admin_get("/api/events/?event=campaign.started").await;
    assert_eq!(events["count"], 1, "{events}");
}

#[actix_web::test]
async fn a_500_or_a_wrong_answer_is_retried_with_the_same_id_until_the_gateway_takes_it() {
    let gateway = FakeSmsGateway::start().await;
    gateway.answer_next(vec![
        GatewayAnswer::ServerError,
        GatewayAnswer::WrongCode(7),
        GatewayAnswer::NotJson,
    ]);
    let app = app_sending(&gateway, &[]).await;
    member(&app, "ann", "79161234567", &[], "UTC").await;
    let id = create(&app, now_body("Hi", json!({}))).await["id"]
        .as_i64()
        .unwrap();
    let requests = gateway.wait_for(4, WAIT).await;
    let ids: Vec<i64> = requests.iter().map(|r| r.path_id().unwrap()).collect();
    assert!(ids.iter().all(|i| *i == ids[0]), "{ids:?}");
    requests.iter().for_each(assert_well_formed);
    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(finished["counts"]["sent"], 1);
    assert_eq!(messages(&app, id).await[0]["attempts"], 4);
}

#[actix_web::test]
async fn a_used_up_schedule_fails_the_message_and_statistics_count_by_status() {
    let gateway = FakeSmsGateway::start().await;
    gateway.answer_next(vec![GatewayAnswer::Accept]);
    gateway.set_answer(GatewayAnswer::Status(503));
    let app = app_sending(
        &gateway,
        &["--sms-retry-schedule", "50ms", "--sms-concurrency", "1"],
    )
    .await;
    member(&app, "ann", "79161234567", &[], "UTC").await;
    member(&app, "bob", "79161234568", &[], "UTC").await;
    let id = create(&app, now_body("Hi", json!({}))).await["id"]
        .as_i64()
        .unwrap();
    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(
        (&finished["counts"]["sent"], &finished["counts"]["failed"]),
        (&json!(1), &json!(1)),
        "{finished}"
    );
    let failed = app
        .admin_get(&format!("/api/campaigns/{id}/messages/?status=failed"))
        .await;
    assert_eq!(failed["count"], 1);
    assert_eq!(
        failed["results"][0]["attempts"], 2,
        "1 + the schedule's delays"
    );
    assert!(failed["results"][0]["last_error"]
        .as_str()
        .is_some_and(|e| e.contains("503")));

    let stats = app.admin_get("/api/campaigns/statistics/").await;
    assert_eq!(stats["count"], 1);
    assert_eq!(stats["results"][0]["campaign"], id);
    assert_eq!(stats["results"][0]["total"], 2);
    assert_eq!(stats["totals"]["sent"], 1);
    assert_eq!(stats["totals"]["failed"], 1);
    let one = app
        .admin_get(&format!("/api/campaigns/{id}/statistics/?limit=1"))
        .await;
    assert_eq!(one["campaign"]["id"], id);
    assert_eq!(one["total"], 2);
    assert_eq!(one["counts"]["failed"], 1);
    assert_eq!(one["messages"]["count"], 2);
    assert_eq!(one["messages"]["results"].as_array().unwrap().len(), 1);
    let bad = app
        .admin(
            Method::GET,
            &format!("/api/campaigns/{id}/messages/?status=dead"),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
}

#[actix_web::test]
async fn a_gateway_that_is_down_keeps_the_message_pending_until_it_is_back() {
    let mut gateway = FakeSmsGateway::start().await;
    gateway.stop().await;
    let app = app_sending(
        &gateway,
        &["--sms-retry-schedule", "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms"],
    )
    .await;
    member(&app, "ann", "79161234567", &[], "UTC").await;
    let id = create(&app, now_body("Hi", json!({}))).await["id"]
        .as_i64()
        .unwrap();
    app.eventually(&format!("/api/campaigns/{id}/messages/"), WAIT, |body| {
        let message = &body["results"][0];
        message["status"] == "pending"
            && message["attempts"].as_i64() >= Some(1)
            && message["last_error"]
                .as_str()
                .is_some_and(|e| e.contains("cannot connect"))
    })
    .await;
    gateway.restart().await;
    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(finished["counts"]["sent"], 1);
    assert_eq!(gateway.requests().len(), 1);
}

#[actix_web::test]
async fn a_hanging_gateway_times_out_and_the_message_is_sent_again() {
    let gateway = FakeSmsGateway::start().await;
    gateway.answer_next(vec![GatewayAnswer::Hang]);
    let app = app_sending(&gateway, &["--sms-timeout", "500ms"]).await;
    member(&app, "ann", "79161234567", &[], "UTC").await;
    let id = create(&app, now_body("Hi", json!({}))).await["id"]
        .as_i64()
        .unwrap();
    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(finished["counts"]["sent"], 1);
    let requests = gateway.requests();
    assert_eq!(requests.len(), 2, "the hung attempt and its retry");
    assert_eq!(requests[0].path_id(), requests[1].path_id());
    assert_eq!(messages(&app, id).await[0]["attempts"], 2);
}

#[actix_web::test]
async fn without_a_gateway_messages_wait_and_past_end_at_they_expire_unsent() {
    let gateway = FakeSmsGateway::start().await;
    // No LIBRIS_SMS_URL: nothing is claimed, no attempt is counted.
    let app = TestApp::spawn().await;
    member(&app, "ann", "79161234567", &[], "UTC").await;
    let created = create(
        &app,
        json!({
            "text": "Hi",
            "start_at": time(chrono::Duration::minutes(-1)),
            "end_at": time(chrono::Duration::seconds(2)),
        }),
    )
    .await;
    let id = created["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let waiting = &messages(&app, id).await[0];
    assert_eq!(
        (&waiting["status"], &waiting["attempts"]),
        (&json!("pending"), &json!(0))
    );

    let finished = campaign_until(&app, id, |c| c["status"] == "finished").await;
    assert_eq!(finished["counts"]["expired"], 1, "{finished}");
    assert_eq!(messages(&app, id).await[0]["status"], "expired");
    // A gateway set now sends nothing: the message is past its end.
    app.admin(
        Method::PATCH,
        "/api/settings/",
        Some(json!({"sms_url": gateway.url(), "sms_token": TOKEN})),
    )
    .await
    .expect(200);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(gateway.requests().is_empty());
    let events = app.admin_get("/api/events/?limit=500").await;
    assert_eq!(
        events_named(&events, id),
        ["campaign.created", "campaign.started", "campaign.finished"]
    );
}

/// `HH:MM` of the member's local time `hours` from now, in Tokyo (UTC+9, no
/// daylight saving).
fn tokyo(hours: i64) -> String {
    let local = Utc::now() + chrono::Duration::hours(9 + hours);
    format!("{:02}:{:02}", local.hour(), local.minute())
}

#[actix_web::test]
async fn outside_the_members_window_a_message_waits_and_goes_once_the_window_includes_now() {
    let gateway = FakeSmsGateway::start().await;
    let app = app_sending(&gateway, &[]).await;
    member(&app, "ann", "79161234567", &[], "Asia/Tokyo").await;
    let mut body = now_body("Hi", json!({}));
    body["send_window"] = json!({"from": tokyo(2), "to": tokyo(3)});
    let created = create(&app, body).await;
    let id = created["id"].as_i64().unwrap();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        gateway.requests().is_empty(),
        "the window is closed in Tokyo"
    );
    let waiting = &messages(&app, id).await[0];
    assert_eq!(
        (&waiting["status"], &waiting["attempts"]),
        (&json!("pending"), &json!(0)),
        "waiting is no attempt"
    );

    // The window now holds the member's present: it goes at once.
    let changed = app
        .admin(
            Method::PATCH,
            &format!("/api/campaigns/{id}/"),
            Some(json!({"send_window": {"from": tokyo(-1), "to": tokyo(1)}})),
        )
        .await
        .expect(200);
    assert_eq!(changed["send_window"]["from"], tokyo(-1));
    gateway.wait_for(1, WAIT).await;
    campaign_until(&app, id, |c| c["counts"]["sent"] == 1).await;
}

#[actix_web::test]
async fn cancelling_mid_send_stops_every_message_not_already_in_flight() {
    let gateway = FakeSmsGateway::start().await;
    gateway.set_answer(GatewayAnswer::AcceptAfter(Duration::from_millis(1500)));
    let app = app_sending(&gateway, &["--sms-concurrency", "1"]).await;
    for n in 0..5 {
        member(
            &app,
            &format!("member{n}"),
            &format!("7916123456{n}"),
            &[],
            "UTC",
        )
        .await;
    }
    let id = create(&app, now_body("Hi", json!({}))).await["id"]
        .as_i64()
        .unwrap();
    gateway.wait_for(1, WAIT).await;
    let cancelled = app
        .admin(Method::POST, &format!("/api/campaigns/{id}/cancel/"), None)
        .await
        .expect(200);
    assert_eq!(cancelled["status"], "cancelled");
    assert_eq!(cancelled["counts"]["cancelled"], 4, "{cancelled}");
    // The one in flight completes; nothing else is sent.
    let done = campaign_until(&app, id, |c| c["counts"]["pending"] == 0).await;
    assert_eq!(
        (&done["counts"]["sent"], &done["counts"]["cancelled"]),
        (&json!(1), &json!(4)),
        "{done}"
    );
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(gateway.requests().len(), 1);
    assert_eq!(done["status"], "cancelled", "a cancelled campaign stays so");
    // Again: no change; and a finished campaign cannot be cancelled.
    app.admin(Method::POST, &format!("/api/campaigns/{id}/cancel"), None)
        .await
        .expect(200);
    let events = app.admin_get("/api/events/?event=campaign.cancelled").await;
    assert_eq!(events["count"], 1);
}

#[actix_web::test]
async fn campaigns_are_validated_field_by_field_and_locked_fields_are_409() {
    let app = TestApp::spawn().await;
    let member_token = app.member("ann").await;
    assert_eq!(
        app.get("/api/campaigns/", Some(&member_token)).await.status,
        403
    );
    assert_eq!(app.get("/api/campaigns/", None).await.status, 401);
    assert_eq!(
        app.get("/api/settings/", Some(&member_token)).await.status,
        403
    );

    let invalid = app
        .admin(
            Method::POST,
            "/api/campaigns/",
            Some(json!({
                "text": "x".repeat(1001),
                "start_at": time(chrono::Duration::hours(2)),
                "end_at": time(chrono::Duration::hours(1)),
                "send_window": {"from": "10:00", "to": "10:00"},
            })),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    let fields: Vec<&str> = invalid.body["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["text", "end_at", "send_window"]);
    let missing = app
        .admin(Method::POST, "/api/campaigns/", Some(json!({"text": "Hi"})))
        .await;
    assert_eq!(missing.status, 422);
    let bad_time = app
        .admin(
            Method::POST,
            "/api/campaigns/",
            Some(json!({"text": "Hi", "start_at": "tomorrow", "end_at": time(chrono::Duration::hours(1))})),
        )
        .await;
    assert_eq!(bad_time.status, 422, "{}", bad_time.body);
    assert_eq!(bad_time.body["details"][0]["field"], "start_at");

    // Scheduled: everything may change.
    let later = create(
        &app,
        json!({
            "text": "Later",
            "start_at": time(chrono::Duration::hours(1)),
            "end_at": time(chrono::Duration::hours(2)),
            "filter": {"tags": ["news"]},
            "send_window": {"from": "21:00", "to": "09:00"},
        }),
    )
    .await;
    let later_id = later["id"].as_i64().unwrap();
    assert_eq!(
        later["send_window"],
        json!({"from": "21:00", "to": "09:00"})
    );
    assert_eq!(
        later["filter"],
        json!({"tags": ["news"], "operator_codes": []})
    );
    let changed = app
        .admin(
            Method::PATCH,
            &format!("/api/campaigns/{later_id}/"),
            Some(json!({"filter": {"operator_codes": ["916"]}, "start_at": time(chrono::Duration::minutes(90))})),
        )
        .await
        .expect(200);
    assert_eq!(changed["filter"]["operator_codes"], json!(["916"]));

    // Running: filter and start_at are 409, text, end_at and window are not.
    let running = create(&app, now_body("Now", json!({}))).await;
    let id = running["id"].as_i64().unwrap();
    let locked = app
        .admin(
            Method::PATCH,
            &format!("/api/campaigns/{id}/"),
            Some(json!({"filter": {"tags": ["vip"]}})),
        )
        .await;
    assert_eq!(locked.status, 409, "{}", locked.body);
    let locked = app
        .admin(
            Method::PATCH,
            &format!("/api/campaigns/{id}"),
            Some(json!({"start_at": time(chrono::Duration::minutes(-5))})),
        )
        .await;
    assert_eq!(locked.status, 409);
    let put_back = app
        .admin(
            Method::PUT,
            &format!("/api/campaigns/{id}/"),
            Some(json!({
                "text": "Now, changed",
                "start_at": running["start_at"],
                "end_at": time(chrono::Duration::hours(3)),
            })),
        )
        .await
        .expect(200);
    assert_eq!(put_back["text"], "Now, changed");

    let listed = app.admin_get("/api/campaigns/").await;
    assert_eq!(listed["count"], 2);
    assert_eq!(listed["results"][0]["id"], id, "newest first");
    assert_eq!(
        app.admin(Method::GET, "/api/campaigns/999999/", None)
            .await
            .status,
        404
    );
    app.admin(Method::DELETE, &format!("/api/campaigns/{later_id}/"), None)
        .await
        .expect(204);
    assert_eq!(
        app.admin(Method::GET, &format!("/api/campaigns/{later_id}/"), None)
            .await
            .status,
        404
    );
    let events = app.admin_get("/api/events/?limit=500").await;
    assert_eq!(
        events_named(&events, later_id),
        ["campaign.created", "campaign.updated", "campaign.deleted"]
    );
    let refused = app
        .admin(
            Method::POST,
            "/api/events/",
            Some(json!({"event": "campaign.started", "data": {}})),
        )
        .await;
    assert_eq!(refused.status, 422, "a built-in name: {}", refused.body);
}

#[actix_web::test]
async fn settings_mask_the_token_and_a_new_url_without_a_token_clears_it() {
    let gateway = FakeSmsGateway::start().await;
    let app = app_sending(&gateway, &[]).await;
    let settings = app.admin_get("/api/settings/").await;
    assert_eq!(settings["sms_url"], gateway.url(), "the environment's");
    assert_eq!(settings["sms_token"], "***");
    assert_eq!(settings["stats_emails"], json!([]));
    assert_eq!(settings["stats_email_time"], "09:00");
    assert!(!settings.to_string().contains(TOKEN));

    let other = "https://sms.example.org/v1";
    let moved = app
        .admin(
            Method::PATCH,
            "/api/settings/",
            Some(json!({"sms_url": other})),
        )
        .await
        .expect(200);
    assert_eq!(moved["sms_url"], other);
    assert!(
        moved["sms_token"].is_null(),
        "cleared with the new host: {moved}"
    );

    let both = app
        .admin(
            Method::PATCH,
            "/api/settings/",
            Some(json!({"sms_url": gateway.url(), "sms_token": "second-token", "stats_emails": ["ops@example.org"], "stats_email_time": "07:30"})),
        )
        .await
        .expect(200);
    assert_eq!(both["sms_token"], "***");
    assert_eq!(both["stats_emails"], json!(["ops@example.org"]));
    assert_eq!(both["stats_email_time"], "07:30");
    // The masked token sent back keeps it.
    let kept = app
        .admin(
            Method::PATCH,
            "/api/settings/",
            Some(json!({"sms_token": "***"})),
        )
        .await
        .expect(200);
    assert_eq!(kept["sms_token"], "***");

    // The stored token is the one the gateway gets.
    member(&app, "ann", "79161234567", &[], "UTC").await;
    create(&app, now_body("Hi", json!({}))).await;
    let requests = gateway.wait_for(1, WAIT).await;
    assert_eq!(requests[0].bearer(), Some("second-token"));

    let invalid = app
        .admin(
            Method::PATCH,
            "/api/settings/",
            Some(json!({"sms_url": "ftp://x", "stats_emails": ["nobody"], "stats_email_time": "25:00"})),
        )
        .await;
    assert_eq!(invalid.status, 422, "{}", invalid.body);
    assert_eq!(invalid.body["details"].as_array().unwrap().len(), 3);
}

#[actix_web::test]
async fn the_daily_statistics_go_to_each_address_once_across_a_restart() {
    let smtp = SmtpServer::start().await;
    let gateway = FakeSmsGateway::start().await;
    let smtp_url = smtp.url();
    // Due a minute ago (UTC), so the first round of the scheduler sends it.
    let now = Utc::now();
    let due = (now - chrono::Duration::minutes(1))
        .max(now.date_naive().and_hms_opt(0, 0, 0).unwrap().and_utc());
    let at = format!("{:02}:{:02}", due.hour(), due.minute());
    let extra = [
        "--smtp-url",
        smtp_url.as_str(),
        "--email-retry-schedule",
        "100ms",
        "--stats-emails",
        "ops@example.org,boss@example.org",
        "--stats-email-time",
        at.as_str(),
    ];
    let app = app_sending(&gateway, &extra).await;
    let mails = smtp.wait_for(2, WAIT).await;
    let mut to: Vec<String> = mails.iter().flat_map(|m| m.to.clone()).collect();
    to.sort();
    assert_eq!(to, ["boss@example.org", "ops@example.org"]);
    assert!(mails[0]
        .subject()
        .is_some_and(|s| s.starts_with("Campaign statistics for ")));
    // Recorded as sent (a restart before that would send them again once
    // their lease ran out: email is at-least-once).
    app.eventually("/api/notifications/?status=sent", WAIT, |n| n["count"] == 2)
        .await;
    let app = app.restart(&args(&gateway, &extra)).await;
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(smtp.received().len(), 2, "once a day, restart or not");
    let listed = app.admin_get("/api/notifications/").await;
    assert_eq!(listed["count"], 2, "{listed}");
}
