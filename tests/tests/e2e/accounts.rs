use libris_e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn a_new_user_has_a_profile_and_a_user_created_event() {
    let app = TestApp::spawn().await;
    let user = app.register("ann", "member-password").await.expect(201);
    assert_eq!(user["username"], "ann");
    assert!(user.get("password").is_none());
    let token = app.login("ann", "member-password").await;

    let me = app.get("/api/users/me/", Some(&token)).await.expect(200);
    for (field, value) in [
        ("bio", json!("")),
        ("phone", json!("")),
        ("operator_code", json!(null)),
        ("tags", json!([])),
        ("timezone", json!("UTC")),
        ("books_borrowed", json!(0)),
        ("books_returned", json!(0)),
        ("subscribed_to_notifications", json!(true)),
        ("is_admin", json!(false)),
    ] {
        assert_eq!(me[field], value, "{field}");
    }
    let events = app.admin_get("/api/events/?event=user.created").await;
    let created = events["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["data"]["username"] == "ann");
    let created = created.expect("a user.created event for ann");
    assert_eq!(
        created["data"],
        json!({"id": user["id"], "username": "ann", "email": "ann@example.com", "is_admin": false})
    );
}

#[actix_web::test]
async fn a_member_edits_their_profile_and_bad_values_change_nothing() {
    let app = TestApp::spawn().await;
    let token = app.member("ann").await;
    let patch = json!({"bio": "reads a lot", "phone": "+7 (916) 555-01-99", "subscribed_to_notifications": false});
    let me = app
        .call(Method::PATCH, "/api/users/me", Some(&token), Some(patch))
        .await
        .expect(200);
    assert_eq!(
        (me["bio"].as_str(), me["phone"].as_str()),
        (Some("reads a lot"), Some("79165550199"))
    );
    assert_eq!(me["operator_code"], "916");
    assert_eq!(me["subscribed_to_notifications"], false);

    let bad = json!({"bio": "changed", "phone": "call me"});
    let err = app
        .call(Method::PATCH, "/api/users/me/", Some(&token), Some(bad))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "phone");
    let me = app.get("/api/users/me/", Some(&token)).await.expect(200);
    assert_eq!(me["bio"], "reads a lot", "a refused update changes nothing");
}

#[actix_web::test]
async fn tokens_need_the_right_password_and_can_be_revoked() {
    let app = TestApp::spawn().await;
    app.register("ann", "member-password").await.expect(201);
    let err = app.post_token("ann", "wrong-password").await.expect(401);
    assert_eq!(err["code"], "invalid_credentials");
    app.post_token("nobody", "member-password")
        .await
        .expect(401);

    let token = app.login("ann", "member-password").await;
    app.get("/api/users/me/", Some(&token)).await.expect(200);
    app.call(Method::DELETE, "/api/auth/token/", Some(&token), None)
        .await
        .expect(204);
    app.get("/api/users/me/", Some(&token)).await.expect(401);
    app.call(Method::DELETE, "/api/auth/token/", Some(&token), None)
        .await
        .expect(401);
    app.call(Method::DELETE, "/api/auth/token/", None, None)
        .await
        .expect(401);
}

#[actix_web::test]
async fn registration_is_validated_and_usernames_are_unique() {
    let app = TestApp::spawn().await;
    let bad = json!({"username": "x", "email": "not-an-email", "password": "short"});
    let err = app
        .call(Method::POST, "/api/users/", None, Some(bad))
        .await
        .expect(422);
    let fields: Vec<_> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "email", "password"]);
    app.register("ann", "member-password").await.expect(201);
    let err = app.register("ann", "other-password").await.expect(409);
    assert_eq!(err["details"][0]["field"], "username");
}

#[actix_web::test]
async fn anonymous_is_401_and_a_member_on_an_admin_route_is_403() {
    let app = TestApp::spawn().await;
    let member = app.member("ann").await;
    for path in ["/api/users/", "/api/events/", "/api/book-logs/"] {
        let err = app.get(path, None).await.expect(401);
        assert_eq!(err["code"], "unauthorized", "{path}");
        let err = app.get(path, Some(&member)).await.expect(403);
        assert_eq!(err["code"], "forbidden", "{path}");
    }
    let body = json!({"name": "Someone"});
    app.call(
        Method::POST,
        "/api/authors/",
        Some(&member),
        Some(body.clone()),
    )
    .await
    .expect(403);
    app.call(Method::POST, "/api/authors/", None, Some(body))
        .await
        .expect(401);
    app.get("/api/users/me/", Some("not-a-token"))
        .await
        .expect(401);

    let users = app.admin_get("/api/users/").await;
    assert_eq!(users["count"], 2);
    assert_eq!(users["results"][0]["username"], "ann", "newest first");
}

#[actix_web::test]
async fn a_password_of_the_wrong_type_is_named_but_never_echoed() {
    let app = TestApp::spawn().await;
    let secret = 98765432123_i64;
    let register = json!({"username": "ann", "email": "ann@example.com", "password": secret});
    let login = json!({"username": "ann", "password": secret});
    for (path, body) in [("/api/users/", register), ("/api/auth/token/", login)] {
        let err = app
            .call(Method::POST, path, None, Some(body))
            .await
            .expect(422);
        assert_eq!(err["details"][0]["field"], "password", "{path}");
        assert!(
            !err.to_string().contains(&secret.to_string()),
            "{path} echoes the value: {err}"
        );
    }
}
