//! What the admin console reads beside the lists: the dashboard's delivery
//! timeline and a delivery's detail with its attempts.

use std::time::Duration;

use chrono::{DateTime, DurationRound, Timelike, Utc};
use libris_e2e::TestApp;
use libris_testing::receiver::{Receiver, Reply};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);

fn results(page: &Value) -> &Vec<Value> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {page}"))
}

/// The sum of one status over every bucket.
fn total(timeline: &Value, status: &str) -> i64 {
    timeline["buckets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b[status].as_i64().unwrap())
        .sum()
}

fn instant(value: &Value) -> DateTime<Utc> {
    value.as_str().unwrap().parse().unwrap()
}

#[actix_web::test]
async fn the_timeline_has_every_hour_and_counts_deliveries_by_their_status_now() {
    let app = TestApp::spawn().await;
    let ok = Receiver::start().await;
    // 400: failed at once, no retries, and the webhook stays active (a 410
    // would switch it off and leave the second delivery pending); one reply
    // per author.
    let refusing = Receiver::with_responses(vec![Reply::status(400), Reply::status(400)]).await;
    app.subscribe(&ok.url(), &["author.created"], "ok-secret-key")
        .await;
    app.subscribe(&refusing.url(), &["author.created"], "refusing-secret-key")
        .await;
    app.author("Ursula K. Le Guin").await;
    app.author("Octavia E. Butler").await;
    // Fan-out is asynchronous: wait for all four deliveries to exist and be
    // settled (no pending one could also mean none made yet).
    app.eventually("/api/webhooks/deliveries/", WAIT, |page| {
        page["count"] == 4 && results(page).iter().all(|d| d["status"] != "pending")
    })
    .await;

    let timeline = app.admin_get("/api/webhooks/deliveries/timeline/").await;
    let buckets = timeline["buckets"].as_array().unwrap();
    assert_eq!(buckets.len(), 24, "a day by default: {timeline}");
    assert_eq!(timeline["bucket_seconds"], 3600);
    let from = instant(&timeline["from"]);
    assert_eq!((from.minute(), from.second()), (0, 0), "a whole hour");
    assert_eq!(instant(&buckets[0]["start"]), from);
    assert_eq!(
        instant(&buckets[23]["start"]) - from,
        chrono::Duration::hours(23)
    );
    assert!(instant(&timeline["to"]) >= instant(&buckets[23]["start"]));
    assert_eq!(total(&timeline, "delivered"), 2, "{timeline}");
    assert_eq!(total(&timeline, "failed"), 2, "{timeline}");
    assert_eq!(total(&timeline, "pending") + total(&timeline, "dead"), 0);
    // Each delivery is counted in the hour it was made in.
    let listed = app.admin_get("/api/webhooks/deliveries/").await;
    for delivery in results(&listed) {
        let made = instant(&delivery["created_at"]);
        let hour = made.duration_trunc(chrono::TimeDelta::hours(1)).unwrap();
        let bucket = buckets
            .iter()
            .find(|b| instant(&b["start"]) == hour)
            .unwrap_or_else(|| panic!("no bucket for {made}: {timeline}"));
        let status = delivery["status"].as_str().unwrap();
        assert!(
            bucket[status].as_i64().unwrap() >= 1,
            "{delivery} in {bucket}"
        );
    }

    let week = app
        .admin_get("/api/webhooks/deliveries/timeline/?hours=168")
        .await;
    assert_eq!(week["buckets"].as_array().unwrap().len(), 168);
    for wrong in ["0", "169", "day"] {
        let error = app
            .admin(
                Method::GET,
                &format!("/api/webhooks/deliveries/timeline/?hours={wrong}"),
                None,
            )
            .await
            .expect(422);
        assert_eq!(error["details"][0]["field"], "hours", "{wrong}: {error}");
    }

    // A member counts only their own webhooks' deliveries: none.
    let member = app.member("reader").await;
    let theirs = app
        .get("/api/webhooks/deliveries/timeline/?hours=2", Some(&member))
        .await
        .expect(200);
    assert_eq!(theirs["buckets"].as_array().unwrap().len(), 2);
    assert_eq!(total(&theirs, "delivered") + total(&theirs, "failed"), 0);
    app.get("/api/webhooks/deliveries/timeline/", None)
        .await
        .expect(401);
}

#[actix_web::test]
async fn a_delivery_is_read_by_id_with_its_attempts_and_only_by_who_manages_its_webhook() {
    let app = TestApp::spawn().await;
    let gone = Receiver::with_responses(vec![Reply::status(410).body("gone for good")]).await;
    app.subscribe(&gone.url(), &["author.created"], "gone-secret-key")
        .await;
    app.author("Stanisław Lem").await;
    let page = app
        .eventually("/api/webhooks/deliveries/?status=failed", WAIT, |page| {
            page["count"] == 1
        })
        .await;
    let listed = &results(&page)[0];
    let id = listed["id"].as_i64().unwrap();

    let delivery = app
        .admin_get(&format!("/api/webhooks/deliveries/{id}/"))
        .await;
    assert_eq!(&delivery, listed);
    assert_eq!(delivery["status"], "failed");

    let attempts = app
        .admin_get(&format!("/api/webhooks/logs/?delivery={id}"))
        .await;
    assert_eq!(attempts["count"], 1, "{attempts}");
    let attempt = &results(&attempts)[0];
    assert_eq!(attempt["delivery_id"], id);
    assert_eq!(attempt["response_status"], 410);
    assert_eq!(attempt["response_body"], "gone for good");
    assert_eq!(attempt["payload"]["data"]["name"], "Stanisław Lem");
    let none = app
        .admin_get(&format!("/api/webhooks/logs/?delivery={}", id + 1000))
        .await;
    assert_eq!(none["count"], 0);

    app.admin(
        Method::GET,
        &format!("/api/webhooks/deliveries/{}/", id + 1000),
        None,
    )
    .await
    .expect(404);
    // An admin's webhook is not the member's: not found, as if absent.
    let member = app.member("reader").await;
    let path = format!("/api/webhooks/deliveries/{id}/");
    let error = app.get(&path, Some(&member)).await.expect(404);
    assert_eq!(error["code"], "not_found");
    let theirs = app
        .get(&format!("/api/webhooks/logs/?delivery={id}"), Some(&member))
        .await
        .expect(200);
    assert_eq!(theirs["count"], 0);
    app.call(Method::GET, &path, None, Some(json!({})))
        .await
        .expect(401);
}
