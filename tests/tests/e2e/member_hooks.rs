//! Members' own webhooks: what they receive, who may see and change them,
//! and the limits on them. Member targets must be public, which a test
//! cannot reach, so the app runs with sending off: deliveries are recorded
//! and read back through the API.

use std::collections::BTreeMap;
use std::time::Duration;

use libris_e2e::{default_database, header, TestApp};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
/// A public address given as an IP literal: no DNS needed, never reached.
const PUBLIC: &str = "https://93.184.216.34/hook";

async fn spawn_without_sending(extra: &[&str]) -> TestApp {
    let mut args = vec!["--webhooks-enabled", "false", "--webhook-timeout", "1s"];
    args.extend_from_slice(extra);
    TestApp::spawn_on(default_database(), &args).await
}

async fn user_id(app: &TestApp, token: &str) -> i64 {
    app.get("/api/users/me/", Some(token)).await.expect(200)["id"]
        .as_i64()
        .expect("a user id")
}

/// Creates a webhook as `token`'s user, subscribed to everything.
async fn own_hook(app: &TestApp, token: &str, description: &str) -> Value {
    let body = json!({"url": PUBLIC, "events": ["*"], "description": description});
    app.call(Method::POST, "/api/webhooks/", Some(token), Some(body))
        .await
        .expect(201)
}

fn id_of(hook: &Value) -> String {
    hook["id"].as_str().expect("a webhook id").to_owned()
}

/// The fields named in a 422's details, in order.
fn fields(error: &Value) -> Vec<String> {
    error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {error}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn results(page: &Value) -> &Vec<Value> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {page}"))
}

/// A webhook's deliveries as the admin reads them: (event name, event id),
/// sorted.
async fn deliveries_of(app: &TestApp, hook: &str) -> Vec<(String, String)> {
    let page = app
        .admin_get(&format!(
            "/api/webhooks/deliveries/?webhook={hook}&limit=500"
        ))
        .await;
    let mut found: Vec<(String, String)> = results(&page)
        .iter()
        .map(|d| {
            assert_eq!(d["webhook"], hook, "only this webhook's: {d}");
            (
                d["event"].as_str().unwrap().to_owned(),
                d["event_id"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    found.sort();
    found
}

#[actix_web::test]
async fn a_members_webhook_gets_only_events_about_that_member_and_the_admins_gets_all() {
    let app = spawn_without_sending(&[]).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    let ann_id = user_id(&app, &ann).await;
    let bob_id = user_id(&app, &bob).await;
    let before = app.admin_get("/api/events/?limit=500").await["count"]
        .as_i64()
        .unwrap();
    let ann_hook = own_hook(&app, &ann, "ann's").await;
    let bob_hook = own_hook(&app, &bob, "bob's").await;
    assert_eq!(ann_hook["owner"], ann_id);
    assert_eq!(bob_hook["owner"], bob_id);
    let admin_hook = app
        .subscribe("http://127.0.0.1:9/hook", &["*"], "admin-secret")
        .await;
    assert_eq!(admin_hook["owner"], Value::Null);

    let author = app.author("Frank Herbert").await;
    let dune = app.book("Dune", author).await;
    let messiah = app.book("Dune Messiah", author).await;
    app.borrow(dune, &ann).await.expect(200);
    app.borrow(messiah, &bob).await.expect(200);
    app.give_back(dune, &ann).await.expect(200);
    app.give_back(messiah, &bob).await.expect(200);
    let greeting = json!({"event": "member.greeted", "data": {"note": "hello"}, "user_id": ann_id});
    app.admin(Method::POST, "/api/events/", Some(greeting))
        .await
        .expect(201);
    let broadcast = json!({"event": "library.closed", "data": {"until": "monday"}});
    app.admin(Method::POST, "/api/events/", Some(broadcast))
        .await
        .expect(201);
    let nobody = json!({"event": "member.greeted", "data": {}, "user_id": 999_999});
    let err = app
        .admin(Method::POST, "/api/events/", Some(nobody))
        .await
        .expect(422);
    assert_eq!(fields(&err), ["user_id"], "{err}");

    let events = app.admin_get("/api/events/?limit=500").await;
    let total = events["count"].as_i64().unwrap();
    let by_id: BTreeMap<String, Value> = results(&events)
        .iter()
        .map(|e| (e["id"].as_str().unwrap().to_owned(), e.clone()))
        .collect();
    let admin_path = format!(
        "/api/webhooks/deliveries/?webhook={}&limit=500",
        id_of(&admin_hook)
    );
    app.eventually(&admin_path, WAIT, |b| b["count"] == total - before)
        .await;

    let names = |found: &[(String, String)]| {
        let mut names: Vec<String> = found.iter().map(|(n, _)| n.clone()).collect();
        names.sort();
        names
    };
    let admin_got = deliveries_of(&app, &id_of(&admin_hook)).await;
    assert_eq!(
        names(&admin_got),
        [
            "author.created",
            "book.borrowed",
            "book.borrowed",
            "book.created",
            "book.created",
            "book.returned",
            "book.returned",
            "library.closed",
            "member.greeted",
        ],
        "the admin's webhook gets every event"
    );

    for (token, hook, username, id) in [
        (&ann, &ann_hook, "ann", ann_id),
        (&bob, &bob_hook, "bob", bob_id),
    ] {
        let got = deliveries_of(&app, &id_of(hook)).await;
        let expected: &[&str] = if username == "ann" {
            &["book.borrowed", "book.returned", "member.greeted"]
        } else {
            &["book.borrowed", "book.returned"]
        };
        assert_eq!(names(&got), expected, "{username}'s webhook");
        for (name, event_id) in &got {
            let event = &by_id[event_id];
            if name == "member.greeted" {
                assert_eq!(event["data"], json!({"note": "hello"}));
            } else {
                assert_eq!(
                    event["data"]["user"]["id"], id,
                    "{username}'s webhook got {event}"
                );
                assert_eq!(event["data"]["user"]["username"], username);
            }
        }
        // The member reads the same deliveries for themselves.
        let own = app
            .get(
                &format!(
                    "/api/webhooks/deliveries/?webhook={}&limit=500",
                    id_of(hook)
                ),
                Some(token),
            )
            .await
            .expect(200);
        assert_eq!(own["count"], json!(got.len()), "{username}: {own}");
        let all_own = app
            .get("/api/webhooks/deliveries/?limit=500", Some(token))
            .await
            .expect(200);
        assert_eq!(all_own["count"], json!(got.len()), "{username}: {all_own}");
    }
}

#[actix_web::test]
async fn members_see_and_manage_only_their_own_webhooks() {
    let app = spawn_without_sending(&[]).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    let ann_id = user_id(&app, &ann).await;
    let bob_id = user_id(&app, &bob).await;
    let ann_hook = own_hook(&app, &ann, "ann's").await;
    let bob_hook = own_hook(&app, &bob, "bob's").await;
    let admin_hook = app
        .subscribe("http://127.0.0.1:9/hook", &["*"], "admin-secret")
        .await;
    let ann_path = format!("/api/webhooks/{}/", id_of(&ann_hook));
    let admin_path = format!("/api/webhooks/{}/", id_of(&admin_hook));

    // One delivery and one logged attempt of ann's webhook.
    let author = app.author("Frank Herbert").await;
    let dune = app.book("Dune", author).await;
    app.borrow(dune, &ann).await.expect(200);
    let ann_deliveries = format!(
        "/api/webhooks/deliveries/?webhook={}&event=book.borrowed",
        id_of(&ann_hook)
    );
    let delivered = app
        .eventually(&ann_deliveries, WAIT, |b| b["count"] == 1)
        .await;
    let delivery = delivered["results"][0]["id"].as_i64().unwrap();
    app.call(Method::POST, &format!("{ann_path}test/"), Some(&ann), None)
        .await
        .expect(200);
    // And of bob's, so that his lists are not empty.
    let messiah = app.book("Dune Messiah", author).await;
    app.borrow(messiah, &bob).await.expect(200);
    let bob_path = format!("/api/webhooks/{}/", id_of(&bob_hook));
    app.eventually(
        &format!("/api/webhooks/deliveries/?webhook={}", id_of(&bob_hook)),
        WAIT,
        |b| b["count"] == 1,
    )
    .await;
    app.call(Method::POST, &format!("{bob_path}test/"), Some(&bob), None)
        .await
        .expect(200);

    // Bob: ann's webhook does not exist for him.
    let attempts: Vec<(Method, String, Option<Value>)> = vec![
        (Method::GET, ann_path.clone(), None),
        (
            Method::PATCH,
            ann_path.clone(),
            Some(json!({"description": "bob was here"})),
        ),
        (
            Method::PUT,
            ann_path.clone(),
            Some(json!({"url": PUBLIC, "events": ["book.*"]})),
        ),
        (Method::DELETE, ann_path.clone(), None),
        (Method::GET, format!("{ann_path}secret/"), None),
        (Method::POST, format!("{ann_path}test/"), None),
        (Method::POST, format!("{ann_path}activate/"), None),
        (Method::POST, format!("{ann_path}deactivate/"), None),
        (
            Method::POST,
            format!("/api/webhooks/deliveries/{delivery}/redeliver/"),
            None,
        ),
        // Nor does the admin's.
        (Method::GET, admin_path.clone(), None),
        (Method::POST, format!("{admin_path}deactivate/"), None),
    ];
    for (method, path, body) in attempts {
        let reply = app.call(method.clone(), &path, Some(&bob), body).await;
        assert_eq!(
            reply.status.as_u16(),
            404,
            "bob: {method} {path}: {}",
            reply.body
        );
    }
    app.get(&admin_path, Some(&ann)).await.expect(404);
    let unchanged = app.get(&ann_path, Some(&ann)).await.expect(200);
    assert_eq!(
        (
            unchanged["description"].as_str(),
            unchanged["events"].clone()
        ),
        (Some("ann's"), json!(["*"]))
    );
    assert_eq!(unchanged["owner"], ann_id);
    assert_eq!(unchanged["is_active"], true);
    assert!(app.admin_get(&admin_path).await["is_active"] == true);

    // Bob's lists hold nothing of ann's.
    let listed = app.get("/api/webhooks/", Some(&bob)).await.expect(200);
    let ids: Vec<&str> = results(&listed)
        .iter()
        .map(|w| w["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [id_of(&bob_hook)]);
    assert_eq!(results(&listed)[0]["owner"], bob_id);
    for (path, expected) in [
        ("/api/webhooks/deliveries/".to_owned(), 2),
        (
            format!("/api/webhooks/deliveries/?webhook={}", id_of(&ann_hook)),
            0,
        ),
        ("/api/webhooks/logs/".to_owned(), 1),
        (
            format!("/api/webhooks/logs/?webhook={}", id_of(&ann_hook)),
            0,
        ),
    ] {
        let page = app.get(&path, Some(&bob)).await.expect(200);
        assert_eq!(page["count"], expected, "bob: {path}: {page}");
        assert!(
            results(&page)
                .iter()
                .all(|item| item["webhook"] == bob_hook["id"]),
            "bob: {path}: {page}"
        );
    }

    // Ann sees hers, owned by her, and manages it.
    let listed = app.get("/api/webhooks/", Some(&ann)).await.expect(200);
    assert_eq!(listed["count"], 1, "{listed}");
    assert_eq!(results(&listed)[0]["id"], ann_hook["id"]);
    assert_eq!(results(&listed)[0]["owner"], ann_id);
    let logs = app.get("/api/webhooks/logs/", Some(&ann)).await.expect(200);
    assert_eq!(logs["count"], 1, "her test ping: {logs}");
    assert_eq!(results(&logs)[0]["webhook"], ann_hook["id"]);
    assert_eq!(results(&logs)[0]["event"], "webhook.test");
    let own = app
        .get("/api/webhooks/deliveries/", Some(&ann))
        .await
        .expect(200);
    assert!(
        results(&own).iter().all(|d| d["webhook"] == ann_hook["id"]),
        "{own}"
    );
    assert_eq!(
        app.get(&format!("{ann_path}secret/"), Some(&ann))
            .await
            .expect(200)["secret"],
        ann_hook["secret"]
    );
    let patched = app
        .call(
            Method::PATCH,
            &ann_path,
            Some(&ann),
            Some(json!({"description": "mine"})),
        )
        .await
        .expect(200);
    assert_eq!(
        (patched["description"].as_str(), patched["owner"].as_i64()),
        (Some("mine"), Some(ann_id))
    );
    let off = app
        .call(
            Method::POST,
            &format!("{ann_path}deactivate/"),
            Some(&ann),
            None,
        )
        .await
        .expect(200);
    assert_eq!(off["is_active"], false);
    let on = app
        .call(
            Method::POST,
            &format!("{ann_path}activate/"),
            Some(&ann),
            None,
        )
        .await
        .expect(200);
    assert_eq!(on["is_active"], true);
    let queued = app
        .call(
            Method::POST,
            &format!("/api/webhooks/deliveries/{delivery}/redeliver/"),
            Some(&ann),
            None,
        )
        .await
        .expect(200);
    assert_eq!(queued["status"], "pending");

    // The admin sees all three with their owners.
    let all = app.admin_get("/api/webhooks/?limit=500").await;
    let owners: BTreeMap<String, Value> = results(&all)
        .iter()
        .map(|w| (w["id"].as_str().unwrap().to_owned(), w["owner"].clone()))
        .collect();
    assert_eq!(
        owners,
        BTreeMap::from([
            (id_of(&ann_hook), json!(ann_id)),
            (id_of(&bob_hook), json!(bob_id)),
            (id_of(&admin_hook), Value::Null),
        ])
    );
    assert_eq!(app.admin_get(&ann_path).await["owner"], ann_id);

    // Ann deletes hers; it is gone for everyone.
    app.call(Method::DELETE, &ann_path, Some(&ann), None)
        .await
        .expect(204);
    app.get(&ann_path, Some(&ann)).await.expect(404);
    app.get(&ann_path, Some(&app.admin_token)).await.expect(404);
}

#[actix_web::test]
async fn members_are_held_to_their_limit_public_targets_and_one_ping_per_10_seconds() {
    let app = spawn_without_sending(&["--member-webhook-limit", "2"]).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;

    let first = own_hook(&app, &ann, "one").await;
    let second = own_hook(&app, &ann, "two").await;
    let body = json!({"url": PUBLIC, "events": ["*"]});
    let err = app
        .call(Method::POST, "/api/webhooks/", Some(&ann), Some(body))
        .await
        .expect(409);
    assert_eq!(err["code"], "webhook_limit", "{err}");
    assert_eq!(
        app.get("/api/webhooks/", Some(&ann)).await.expect(200)["count"],
        2
    );
    own_hook(&app, &bob, "bob's own count").await;
    for i in 0..3 {
        app.subscribe(
            &format!("http://127.0.0.1:9/admin-{i}"),
            &["*"],
            "admin-secret",
        )
        .await;
    }

    // Targets: public http(s) only, whatever the server allows admins.
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.0.0.5/hook",
        "http://192.168.1.1/hook",
        "amqp://guest:guest@127.0.0.1:5672/",
    ] {
        let body = json!({"url": url, "events": ["*"]});
        let reply = app
            .call(Method::POST, "/api/webhooks/", Some(&bob), Some(body))
            .await;
        assert_eq!(reply.status.as_u16(), 422, "{url}: {}", reply.body);
        assert_eq!(fields(&reply.body), ["url"], "{url}: {}", reply.body);
    }
    let first_path = format!("/api/webhooks/{}/", id_of(&first));
    let err = app
        .call(
            Method::PATCH,
            &first_path,
            Some(&ann),
            Some(json!({"url": "http://127.0.0.1:9/hook"})),
        )
        .await
        .expect(422);
    assert_eq!(fields(&err), ["url"], "{err}");
    assert_eq!(
        app.get(&first_path, Some(&ann)).await.expect(200)["url"],
        PUBLIC
    );

    // One test ping per webhook per 10 s for a member.
    let ping = |path: String| {
        let request = app.client.post(app.url(&path)).bearer_auth(&ann).send();
        async move { request.await.expect("the request is sent") }
    };
    let response = ping(format!("{first_path}test/")).await;
    assert_eq!(response.status().as_u16(), 200);
    let attempt: Value = response.json().await.unwrap();
    assert_eq!(attempt["event"], "webhook.test");
    let response = ping(format!("{first_path}test/")).await;
    assert_eq!(response.status().as_u16(), 429);
    let retry_after: u64 = header(response.headers(), "retry-after")
        .parse()
        .expect("Retry-After in seconds");
    assert!(
        (1..=10).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    let response = ping(format!("/api/webhooks/{}/test/", id_of(&second))).await;
    assert_eq!(response.status().as_u16(), 200, "the limit is per webhook");

    // Deleting one makes room for another.
    app.call(Method::DELETE, &first_path, Some(&ann), None)
        .await
        .expect(204);
    own_hook(&app, &ann, "three").await;
}
