//! The member directory over HTTP: members' client attributes (phone,
//! operator code, tags, time zone), the admin's create / read / change /
//! delete, the filters, and the member lifecycle (`user.updated`,
//! `user.deleted`, the last admin, what a delete keeps).

use std::time::Duration;

use libris_e2e::{default_database, Reply, TestApp, ADMIN};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
/// A public address given as an IP literal: members' webhooks must be
/// public; with sending off it is never reached.
const PUBLIC: &str = "https://93.184.216.34/hook";

/// The fields named in an error's details, in order.
fn fields(error: &Value) -> Vec<String> {
    error["details"]
        .as_array()
        .unwrap_or_else(|| panic!("no details: {error}"))
        .iter()
        .map(|d| d["field"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn usernames(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .unwrap_or_else(|| panic!("no results: {page}"))
        .iter()
        .map(|u| u["username"].as_str().unwrap().to_owned())
        .collect()
}

fn id_of(value: &Value) -> i64 {
    value["id"]
        .as_i64()
        .unwrap_or_else(|| panic!("no id: {value}"))
}

async fn create(app: &TestApp, body: Value) -> Value {
    app.admin(Method::POST, "/api/users/", Some(body))
        .await
        .expect(201)
}

async fn patch(app: &TestApp, id: i64, body: Value) -> Reply {
    app.admin(Method::PATCH, &format!("/api/users/{id}/"), Some(body))
        .await
}

/// The events named `name`, newest first.
async fn events(app: &TestApp, name: &str) -> Vec<Value> {
    let page = app
        .admin_get(&format!("/api/events/?event={name}&limit=500"))
        .await;
    page["results"].as_array().unwrap().clone()
}

async fn my_id(app: &TestApp, token: &str) -> i64 {
    id_of(&app.get("/api/users/me/", Some(token)).await.expect(200))
}

#[actix_web::test]
async fn an_admin_creates_a_member_with_every_attribute() {
    let app = TestApp::spawn().await;
    let body = json!({
        "username": "ann",
        "email": "ann@example.com",
        "password": "member-password",
        "is_admin": true,
        "bio": "reads at night",
        "phone": "+7 (916) 123-45-67",
        "subscribed_to_notifications": false,
        "tags": ["VIP", "vip", "night_owl"],
        "timezone": "Europe/Moscow",
        "operator_code": "000",
    });
    let ann = create(&app, body).await;
    let expected = json!({
        "username": "ann",
        "email": "ann@example.com",
        "is_admin": true,
        "has_password": true,
        "bio": "reads at night",
        "phone": "79161234567",
        "operator_code": "916",
        "tags": ["night_owl", "vip"],
        "timezone": "Europe/Moscow",
        "subscribed_to_notifications": false,
        "books_borrowed": 0,
        "books_returned": 0,
    });
    for (field, value) in expected.as_object().unwrap() {
        assert_eq!(&ann[field], value, "{field}: {ann}");
    }
    assert!(ann.get("password").is_none() && ann.get("password_hash").is_none());
    let id = id_of(&ann);
    let read = app.admin_get(&format!("/api/users/{id}/")).await;
    assert_eq!(read, ann, "GET answers what POST did");

    // An admin indeed: the member signs in and reaches an admin route.
    let token = app.login("ann", "member-password").await;
    app.get("/api/events/", Some(&token)).await.expect(200);
    let me = app.get("/api/users/me/", Some(&token)).await.expect(200);
    assert_eq!(me, ann, "the member sees the same attributes");

    let created = events(&app, "user.created").await;
    let created = created
        .iter()
        .find(|e| e["data"]["id"] == id)
        .expect("user.created for ann");
    assert_eq!(
        created["data"],
        json!({"id": id, "username": "ann", "email": "ann@example.com", "is_admin": true})
    );
    assert_eq!(created["user"]["username"], ADMIN.0, "the admin acted");
}

#[actix_web::test]
async fn anonymous_registration_reads_only_username_email_and_password() {
    let app = TestApp::spawn().await;
    let body = json!({
        "username": "eve",
        "email": "eve@example.com",
        "password": "member-password",
        "is_admin": true,
        "tags": ["not a tag!"],
        "phone": "not a phone",
        "timezone": "Mars/Olympus",
    });
    let eve = app
        .call(Method::POST, "/api/users/", None, Some(body.clone()))
        .await
        .expect(201);
    assert_eq!(
        eve["is_admin"], false,
        "never taken from an anonymous request"
    );
    assert_eq!(
        (&eve["tags"], &eve["phone"], &eve["timezone"]),
        (&json!([]), &json!(""), &json!("UTC"))
    );
    assert_eq!(eve["operator_code"], Value::Null);

    // A member's token registers too, as anyone would.
    let token = app.login("eve", "member-password").await;
    let body = json!({"username": "mallory", "email": "m@example.com",
                      "password": "member-password", "is_admin": true});
    let mallory = app
        .call(Method::POST, "/api/users/", Some(&token), Some(body))
        .await
        .expect(201);
    assert_eq!(mallory["is_admin"], false);
    // A token that is not live is refused rather than ignored.
    let body =
        json!({"username": "trent", "email": "t@example.com", "password": "member-password"});
    app.call(Method::POST, "/api/users/", Some("stale"), Some(body))
        .await
        .expect(401);
    // Registration still requires all three.
    let err = app
        .call(
            Method::POST,
            "/api/users/",
            None,
            Some(json!({"username": "x1x"})),
        )
        .await
        .expect(422);
    assert_eq!(fields(&err), ["email"], "{err}");
}

#[actix_web::test]
async fn a_member_created_without_a_password_cannot_sign_in() {
    let app = TestApp::spawn().await;
    let ghost = create(&app, json!({"username": "ghost"})).await;
    assert_eq!(ghost["has_password"], false);
    assert_eq!(
        (&ghost["email"], &ghost["is_admin"]),
        (&json!(""), &json!(false))
    );
    assert_eq!(ghost["subscribed_to_notifications"], true);
    for password in ["", "member-password", "anything at all"] {
        let err = app.post_token("ghost", password).await.expect(401);
        assert_eq!(err["code"], "invalid_credentials");
    }
    // Given a password later, the member signs in; removed, they cannot,
    // and the tokens they had stop working.
    let id = id_of(&ghost);
    let with = patch(&app, id, json!({"password": "member-password"}))
        .await
        .expect(200);
    assert_eq!(with["has_password"], true);
    let token = app.login("ghost", "member-password").await;
    app.get("/api/users/me/", Some(&token)).await.expect(200);
    let without = patch(&app, id, json!({"password": null})).await.expect(200);
    assert_eq!(without["has_password"], false);
    app.get("/api/users/me/", Some(&token)).await.expect(401);
    app.post_token("ghost", "member-password").await.expect(401);
    let changed = events(&app, "user.updated").await;
    assert_eq!(
        changed[0]["data"]["changes"],
        json!({"password": ["***", null]})
    );
    assert_eq!(
        changed[1]["data"]["changes"],
        json!({"password": [null, "***"]})
    );
    assert!(!changed[1].to_string().contains("member-password"));
}

#[actix_web::test]
async fn every_attribute_is_checked_and_a_refusal_changes_nothing() {
    let app = TestApp::spawn().await;
    let member = app.member("ann").await;
    let ann = my_id(&app, &member).await;
    let twenty_one: Vec<String> = (0..21).map(|i| format!("t{i}")).collect();
    let cases = [
        (json!({"phone": "89161234567"}), "phone"),
        (json!({"phone": "+7 916 123 45 6"}), "phone"),
        (json!({"phone": "++79161234567"}), "phone"),
        (json!({"tags": ["ok", "not ok"]}), "tags"),
        (json!({"tags": ["x".repeat(33)]}), "tags"),
        (json!({"tags": twenty_one}), "tags"),
        (json!({"tags": "vip"}), "tags"),
        (json!({"timezone": "Mars/Olympus"}), "timezone"),
        (json!({"timezone": "europe/moscow"}), "timezone"),
        (json!({"bio": "nul \u{0} byte"}), "bio"),
    ];
    let before = app.get("/api/users/me/", Some(&member)).await.expect(200);
    for (body, field) in &cases {
        let mut body = body.clone();
        body["bio"] = body.get("bio").cloned().unwrap_or(json!("changed"));
        let err = app
            .call(
                Method::PATCH,
                "/api/users/me/",
                Some(&member),
                Some(body.clone()),
            )
            .await
            .expect(422);
        assert_eq!(fields(&err), [*field], "me {body}: {err}");
        let err = patch(&app, ann, body.clone()).await.expect(422);
        assert_eq!(fields(&err), [*field], "admin {body}: {err}");
        let mut new = body.clone();
        new["username"] = json!("newbie");
        let err = app
            .admin(Method::POST, "/api/users/", Some(new.clone()))
            .await
            .expect(422);
        assert_eq!(fields(&err), [*field], "create {new}: {err}");
    }
    let after = app.get("/api/users/me/", Some(&member)).await.expect(200);
    assert_eq!(before, after, "a refused change changes nothing");

    // The admin's own fields, every problem at once.
    let bad = json!({"username": "x", "email": "nope", "password": "short", "timezone": "Nowhere"});
    let err = app
        .admin(Method::POST, "/api/users/", Some(bad.clone()))
        .await
        .expect(422);
    assert_eq!(fields(&err), ["username", "email", "password", "timezone"]);
    let err = patch(&app, ann, bad).await.expect(422);
    assert_eq!(fields(&err), ["username", "email", "password", "timezone"]);
    let err = app
        .admin(
            Method::POST,
            "/api/users/",
            Some(json!({"email": "a@b.cd"})),
        )
        .await
        .expect(422);
    assert_eq!(fields(&err), ["username"]);
    assert!(events(&app, "user.updated").await.is_empty());
}

#[actix_web::test]
async fn a_member_sets_their_phone_tags_and_time_zone_but_never_is_admin() {
    let app = TestApp::spawn().await;
    let member = app.member("ann").await;
    let body = json!({"phone": "+7 (903) 111-22-33", "tags": ["Night", "night", "a-1"],
                      "timezone": "Asia/Tokyo", "is_admin": true, "email": "x@example.com",
                      "operator_code": "999", "bio": "hi", "subscribed_to_notifications": false});
    let me = app
        .call(Method::PATCH, "/api/users/me/", Some(&member), Some(body))
        .await
        .expect(200);
    assert_eq!(
        (
            &me["phone"],
            &me["operator_code"],
            &me["tags"],
            &me["timezone"]
        ),
        (
            &json!("79031112233"),
            &json!("903"),
            &json!(["a-1", "night"]),
            &json!("Asia/Tokyo")
        )
    );
    assert_eq!(
        (&me["bio"], &me["subscribed_to_notifications"]),
        (&json!("hi"), &json!(false))
    );
    assert_eq!(me["is_admin"], false);
    assert_eq!(
        me["email"], "ann@example.com",
        "not a member's to change here"
    );
    app.get("/api/events/", Some(&member)).await.expect(403);

    let cleared = app
        .call(
            Method::PATCH,
            "/api/users/me/",
            Some(&member),
            Some(json!({"phone": "", "tags": []})),
        )
        .await
        .expect(200);
    assert_eq!(
        (
            &cleared["phone"],
            &cleared["operator_code"],
            &cleared["tags"]
        ),
        (&json!(""), &Value::Null, &json!([]))
    );
    // Every change is recorded, by the member, about the member.
    let updated = events(&app, "user.updated").await;
    assert_eq!(updated.len(), 2);
    assert_eq!(updated[0]["user"]["username"], "ann");
    assert_eq!(
        updated[0]["data"]["changes"],
        json!({"phone": ["79031112233", ""], "tags": [["a-1", "night"], []]})
    );
    assert_eq!(
        updated[1]["data"]["changes"]["timezone"],
        json!(["UTC", "Asia/Tokyo"])
    );
    assert_eq!(
        updated[1]["data"]["changes"]["phone"],
        json!(["", "79031112233"])
    );
}

#[actix_web::test]
async fn the_directory_lists_and_filters_members_for_admins_only() {
    let app = TestApp::spawn().await;
    let member = app.member("reader").await;
    create(
        &app,
        json!({"username": "ann", "email": "Ann@Example.com",
                        "phone": "79161234567", "tags": ["vip", "night"]}),
    )
    .await;
    create(
        &app,
        json!({"username": "bob", "phone": "79031112233", "tags": ["VIP"]}),
    )
    .await;
    create(&app, json!({"username": "carol", "phone": "79169998877"})).await;
    let list = |query: &str| {
        let app = &app;
        let query = query.to_owned();
        async move { app.admin_get(&format!("/api/users/{query}")).await }
    };
    let all = list("").await;
    assert_eq!(all["count"], 5);
    assert_eq!(
        usernames(&all),
        ["carol", "bob", "ann", "reader", ADMIN.0],
        "newest first"
    );
    assert!(all["results"][0]["tags"].is_array() && all["results"][0]["timezone"] == "UTC");
    assert_eq!(usernames(&list("?tag=vip").await), ["bob", "ann"]);
    assert_eq!(usernames(&list("?tag=Night").await), ["ann"]);
    assert_eq!(
        usernames(&list("?operator_code=916").await),
        ["carol", "ann"]
    );
    assert_eq!(
        usernames(&list("?tag=vip&operator_code=916").await),
        ["ann"]
    );
    assert_eq!(usernames(&list("?q=ANN").await), ["ann"]);
    assert_eq!(usernames(&list("?q=EXAMPLE.com").await), ["ann", "reader"]);
    assert_eq!(usernames(&list("?q=bo&tag=vip").await), ["bob"]);
    assert_eq!(list("?tag=nobody").await["count"], 0);
    assert_eq!(list("?operator_code=12").await["count"], 0);
    let page = list("?limit=2&offset=1").await;
    assert_eq!(
        (page["count"].as_i64(), usernames(&page)),
        (Some(5), vec!["bob".to_owned(), "ann".to_owned()])
    );

    for path in ["/api/users/", "/api/users/1/"] {
        app.get(path, Some(&member)).await.expect(403);
        app.get(path, None).await.expect(401);
    }
    for method in [Method::PATCH, Method::DELETE] {
        app.call(
            method.clone(),
            "/api/users/1/",
            Some(&member),
            Some(json!({})),
        )
        .await
        .expect(403);
    }
}

#[actix_web::test]
async fn unknown_members_are_404() {
    let app = TestApp::spawn().await;
    for (method, body) in [
        (Method::GET, None),
        (Method::PATCH, Some(json!({"bio": "x"}))),
        (Method::DELETE, None),
    ] {
        let err = app
            .admin(method.clone(), "/api/users/999999/", body)
            .await
            .expect(404);
        assert_eq!(err["code"], "not_found", "{method}");
    }
}

#[actix_web::test]
async fn emails_are_unique_whatever_their_case_among_members_who_have_one() {
    let app = TestApp::spawn().await;
    app.register("ann", "member-password").await.expect(201);
    let body =
        json!({"username": "ann2", "email": "ANN@EXAMPLE.COM", "password": "member-password"});
    let err = app
        .call(Method::POST, "/api/users/", None, Some(body.clone()))
        .await
        .expect(409);
    assert_eq!(fields(&err), ["email"]);
    let err = app
        .admin(Method::POST, "/api/users/", Some(body))
        .await
        .expect(409);
    assert_eq!(fields(&err), ["email"]);
    // Members without an email are as many as you like.
    let first = create(&app, json!({"username": "nomail1", "email": ""})).await;
    create(&app, json!({"username": "nomail2", "email": null})).await;
    let err = patch(&app, id_of(&first), json!({"email": "Ann@example.com"}))
        .await
        .expect(409);
    assert_eq!(fields(&err), ["email"]);
    let err = patch(&app, id_of(&first), json!({"username": "ann"}))
        .await
        .expect(409);
    assert_eq!(fields(&err), ["username"]);
    let renamed = patch(
        &app,
        id_of(&first),
        json!({"username": "renamed", "email": "r@example.com"}),
    )
    .await
    .expect(200);
    assert_eq!(
        (&renamed["username"], &renamed["email"]),
        (&json!("renamed"), &json!("r@example.com"))
    );
    let cleared = patch(&app, id_of(&first), json!({"email": null}))
        .await
        .expect(200);
    assert_eq!(cleared["email"], "");
}

#[actix_web::test]
async fn the_last_admin_can_be_neither_demoted_nor_deleted() {
    let app = TestApp::spawn().await;
    let root = my_id(&app, &app.admin_token).await;
    let err = patch(&app, root, json!({"is_admin": false}))
        .await
        .expect(409);
    assert_eq!(err["code"], "conflict");
    app.admin(Method::DELETE, &format!("/api/users/{root}/"), None)
        .await
        .expect(409);
    // Another admin: now the first may be demoted, and then the second is
    // the last.
    let second = create(
        &app,
        json!({"username": "second", "password": "admin-password",
                                     "is_admin": true}),
    )
    .await;
    let second_token = app.login("second", "admin-password").await;
    let demoted = patch(&app, root, json!({"is_admin": false}))
        .await
        .expect(200);
    assert_eq!(demoted["is_admin"], false);
    // The demoted admin's token now answers as a member's.
    app.get("/api/users/", Some(&app.admin_token))
        .await
        .expect(403);
    let second_id = id_of(&second);
    let err = app
        .call(
            Method::DELETE,
            &format!("/api/users/{second_id}/"),
            Some(&second_token),
            None,
        )
        .await
        .expect(409);
    assert_eq!(err["code"], "conflict");
    app.call(
        Method::PATCH,
        &format!("/api/users/{second_id}/"),
        Some(&second_token),
        Some(json!({"is_admin": false})),
    )
    .await
    .expect(409);
    let changed = app
        .get("/api/events/?event=user.updated", Some(&second_token))
        .await
        .expect(200);
    assert_eq!(changed["count"], 1, "refusals record nothing");
    let data = &changed["results"][0]["data"];
    assert_eq!(
        (&data["id"], &data["username"]),
        (&json!(root), &json!(ADMIN.0))
    );
    assert_eq!(data["is_admin"], false);
    assert_eq!(data["changes"], json!({"is_admin": [true, false]}));
}

#[actix_web::test]
async fn a_change_records_user_updated_about_the_member_and_their_own_webhook_gets_it() {
    let app = TestApp::spawn_on(default_database(), &["--webhooks-enabled", "false"]).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    let ann_id = my_id(&app, &ann).await;
    let hook = |token: String| {
        let app = &app;
        async move {
            let body = json!({"url": PUBLIC, "events": ["user.*"]});
            app.call(Method::POST, "/api/webhooks/", Some(&token), Some(body))
                .await
                .expect(201)["id"]
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    let ann_hook = hook(ann.clone()).await;
    let bob_hook = hook(bob.clone()).await;

    let changed = patch(
        &app,
        ann_id,
        json!({"tags": ["vip"], "is_admin": false, "bio": ""}),
    )
    .await
    .expect(200);
    assert_eq!(changed["tags"], json!(["vip"]));
    let updated = events(&app, "user.updated").await;
    assert_eq!(updated.len(), 1);
    let event = &updated[0];
    assert_eq!(
        event["data"],
        json!({"id": ann_id, "username": "ann", "email": "ann@example.com", "is_admin": false,
               "changes": {"tags": [[], ["vip"]]}}),
        "only what changed"
    );
    assert_eq!(event["user"]["username"], ADMIN.0);

    let deliveries = |hook: String| {
        let app = &app;
        async move {
            app.admin_get(&format!("/api/webhooks/deliveries/?webhook={hook}"))
                .await
        }
    };
    let path = format!("/api/webhooks/deliveries/?webhook={ann_hook}");
    let got = app.eventually(&path, WAIT, |page| page["count"] == 1).await;
    assert_eq!(got["results"][0]["event"], "user.updated");
    assert_eq!(got["results"][0]["event_id"], event["id"]);
    // Fan-out has run for the event; bob's webhook got nothing about ann.
    assert_eq!(deliveries(bob_hook).await["count"], 0);
    // Ann reads it as hers.
    let own = app
        .get("/api/webhooks/deliveries/", Some(&ann))
        .await
        .expect(200);
    assert_eq!(own["count"], 1);
}

#[actix_web::test]
async fn a_delete_keeps_closed_loans_audit_entries_and_events() {
    let app = TestApp::spawn_on(default_database(), &["--webhooks-enabled", "false"]).await;
    let ann = app.member("ann").await;
    let ann_id = my_id(&app, &ann).await;
    app.call(
        Method::POST,
        "/api/webhooks/",
        Some(&ann),
        Some(json!({"url": PUBLIC, "events": ["*"]})),
    )
    .await
    .expect(201);
    let hooks = app.admin_get("/api/webhooks/").await;
    let hook_id = hooks["results"][0]["id"].as_str().unwrap().to_owned();
    let author = app.author("Frank Herbert").await;
    let dune = app.book("Dune", author).await;
    app.borrow(dune, &ann).await.expect(200);

    let path = format!("/api/users/{ann_id}/");
    let err = app.admin(Method::DELETE, &path, None).await.expect(409);
    assert_eq!(err["code"], "conflict");
    app.get("/api/users/me/", Some(&ann)).await.expect(200);
    app.give_back(dune, &ann).await.expect(200);
    app.admin(Method::DELETE, &path, None).await.expect(204);

    app.admin(Method::GET, &path, None).await.expect(404);
    app.admin(Method::DELETE, &path, None).await.expect(404);
    app.get("/api/users/me/", Some(&ann)).await.expect(401);
    app.post_token("ann", "member-password").await.expect(401);
    app.admin(Method::GET, &format!("/api/webhooks/{hook_id}/"), None)
        .await
        .expect(404);
    let users = app.admin_get("/api/users/").await;
    assert!(!usernames(&users).contains(&"ann".to_owned()));

    let loans = app.admin_get(&format!("/api/loans/?user={ann_id}")).await;
    assert_eq!(loans["count"], 1, "the returned loan stays: {loans}");
    assert_eq!(loans["results"][0]["user"], ann_id);
    assert!(loans["results"][0]["returned_at"].is_string());
    let logs = app
        .admin_get(&format!("/api/book-logs/?user={ann_id}"))
        .await;
    assert_eq!(logs["count"], 2, "borrowed and returned stay: {logs}");
    for entry in logs["results"].as_array().unwrap() {
        assert!(entry.to_string().contains("ann"), "{entry}");
    }
    let borrowed = events(&app, "book.borrowed").await;
    assert_eq!(
        borrowed[0]["data"]["user"],
        json!({"id": ann_id, "username": "ann"})
    );
    let deleted = events(&app, "user.deleted").await;
    assert_eq!(deleted.len(), 1);
    assert_eq!(deleted[0]["data"], json!({"id": ann_id, "username": "ann"}));
    assert_eq!(deleted[0]["user"]["username"], ADMIN.0);
    // The name is free again; the new member is someone else.
    let again = app.register("ann", "member-password").await.expect(201);
    assert_ne!(id_of(&again), ann_id);
    let theirs = app
        .admin_get(&format!("/api/loans/?user={}", id_of(&again)))
        .await;
    assert_eq!(theirs["count"], 0);
}
