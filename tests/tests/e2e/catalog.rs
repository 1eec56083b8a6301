use libris_e2e::TestApp;
use reqwest::Method;
use serde_json::json;

#[actix_web::test]
async fn two_books_for_an_author_give_total_books_2() {
    let app = TestApp::spawn().await;
    let author = app.author("Frank Herbert").await;
    app.book("Dune", author).await;
    app.book("Dune Messiah", author).await;
    let body = app.get_author(author).await;
    assert_eq!(
        (
            body["total_books"].as_i64(),
            body["available_books"].as_i64()
        ),
        (Some(2), Some(2))
    );
}

#[actix_web::test]
async fn create_update_delete_of_a_book_give_three_audit_entries_and_events() {
    let app = TestApp::spawn().await;
    let author = app.author("Frank Herbert").await;
    let created = app
        .post_book(json!({"title": "Dune", "author": author, "isbn": "1234567890"}))
        .await
        .expect(201);
    assert_eq!(created["author"], author);
    assert_eq!(created["author_name"], "Frank Herbert");
    let id = created["id"].as_i64().unwrap();
    let updated = app
        .patch_book(id, json!({"title": "Dune (1965)"}))
        .await
        .expect(200);
    assert_eq!(updated["title"], "Dune (1965)");
    app.delete_book(id).await.expect(204);
    app.get(&format!("/api/books/{id}/"), None)
        .await
        .expect(404);

    let logs = app
        .admin_get(&format!("/api/book-logs/?book_id={id}"))
        .await;
    let actions: Vec<_> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["deleted", "updated", "created"]);
    assert_eq!(
        logs["results"][1]["details"]["changes"]["title"],
        json!(["Dune", "Dune (1965)"])
    );
    assert_eq!(logs["results"][0]["username"], "admin");

    let events = app.admin_get("/api/events/?event=book.updated").await;
    let data = &events["results"][0]["data"];
    assert_eq!(data["author"], "Frank Herbert", "events name the author");
    assert_eq!(data["author_id"], author);
    assert_eq!(data["changes"]["title"], json!(["Dune", "Dune (1965)"]));
    let deleted = app.admin_get("/api/events/?event=book.deleted").await;
    assert_eq!(deleted["count"], 1);
    assert_eq!(app.get_author(author).await["total_books"], 0);
}

#[actix_web::test]
async fn moving_a_book_fixes_both_authors() {
    let app = TestApp::spawn().await;
    let herbert = app.author("Frank Herbert").await;
    let le_guin = app.author("Ursula K. Le Guin").await;
    let book = app.book("The Dispossessed", herbert).await;
    app.patch_book(book, json!({"author": le_guin}))
        .await
        .expect(200);
    assert_eq!(app.get_author(herbert).await["total_books"], 0);
    assert_eq!(app.get_author(le_guin).await["total_books"], 1);
    app.patch_book(book, json!({"available": false}))
        .await
        .expect(200);
    assert_eq!(app.get_author(le_guin).await["available_books"], 0);
}

#[actix_web::test]
async fn books_are_validated_and_invalid_writes_change_nothing() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    app.post_book(json!({"title": "One", "author": author, "isbn": "978-0-306-40615-7"}))
        .await
        .expect(201);

    let err = app
        .post_book(json!({"title": "  ", "author": author, "isbn": "12"}))
        .await
        .expect(422);
    let fields: Vec<_> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "isbn"]);
    let err = app
        .post_book(json!({"title": "Two", "author": author + 99}))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "author");
    let err = app
        .post_book(json!({"title": "Two", "author": author, "isbn": "9780306406157"}))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "isbn");
    let err = app
        .post_book(json!({"title": "x".repeat(256), "author": author}))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "title");
    let err = app.post_book(json!({"author": author})).await.expect(422);
    assert_eq!(err["details"][0]["field"], "title");

    assert_eq!(app.get("/api/books/", None).await.expect(200)["count"], 1);
    assert_eq!(app.admin_get("/api/book-logs/").await["count"], 1);
    assert_eq!(app.get_author(author).await["total_books"], 1);
}

#[actix_web::test]
async fn books_filter_and_paginate_for_anyone() {
    let app = TestApp::spawn().await;
    let herbert = app.author("Frank Herbert").await;
    let banks = app.author("Iain M. Banks").await;
    for title in ["Dune", "Dune Messiah", "Children of Dune"] {
        app.book(title, herbert).await;
    }
    let excession = app.book("Excession", banks).await;
    app.patch_book(excession, json!({"available": false}))
        .await
        .expect(200);

    let count = |body: serde_json::Value| body["count"].as_i64().unwrap();
    assert_eq!(count(app.get("/api/books", None).await.expect(200)), 4);
    assert_eq!(
        count(
            app.get(&format!("/api/books/?author={banks}"), None)
                .await
                .expect(200)
        ),
        1
    );
    assert_eq!(
        count(
            app.get("/api/books/?available=false", None)
                .await
                .expect(200)
        ),
        1
    );
    assert_eq!(
        count(app.get("/api/books/?q=dune", None).await.expect(200)),
        3
    );
    let page = app
        .get("/api/books/?limit=2&offset=1", None)
        .await
        .expect(200);
    assert_eq!(
        (
            page["count"].as_i64(),
            page["results"].as_array().unwrap().len()
        ),
        (Some(4), 2)
    );
    assert_eq!(page["results"][0]["title"], "Children of Dune");
    app.get("/api/books/?limit=many", None).await.expect(400);
}

#[actix_web::test]
async fn an_author_with_books_cannot_be_deleted() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let book = app.book("B", author).await;
    let path = format!("/api/authors/{author}/");
    let err = app.admin(Method::DELETE, &path, None).await.expect(409);
    assert_eq!(err["code"], "conflict");
    app.delete_book(book).await.expect(204);
    app.admin(Method::DELETE, &path, None).await.expect(204);
    app.get(&path, None).await.expect(404);
    let events = app.admin_get("/api/events/?event=author.deleted").await;
    assert_eq!(events["results"][0]["data"]["name"], "A");
}

#[actix_web::test]
async fn authors_are_replaced_and_patched() {
    let app = TestApp::spawn().await;
    let author = app.author("Old Name").await;
    let path = format!("/api/authors/{author}");
    let token = Some(app.admin_token.as_str());
    let body = app
        .call(
            Method::PATCH,
            &path,
            token,
            Some(json!({"bio": "wrote things"})),
        )
        .await
        .expect(200);
    assert_eq!(
        (body["name"].as_str(), body["bio"].as_str()),
        (Some("Old Name"), Some("wrote things"))
    );
    let body = app
        .call(Method::PUT, &path, token, Some(json!({"name": "New Name"})))
        .await
        .expect(200);
    assert_eq!(
        (body["name"].as_str(), body["bio"].as_str()),
        (Some("New Name"), Some(""))
    );
    let err = app
        .call(Method::PUT, &path, token, Some(json!({"bio": "no name"})))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "name");
    let events = app.admin_get("/api/events/?event=author.updated").await;
    assert_eq!(events["count"], 2);
}

#[actix_web::test]
async fn custom_events_are_recorded_and_built_in_names_refused() {
    let app = TestApp::spawn().await;
    let token = Some(app.admin_token.as_str());
    let body = json!({"event": "member.greeted", "data": {"who": "ann"}});
    let event = app
        .call(Method::POST, "/api/events/", token, Some(body))
        .await
        .expect(201);
    assert_eq!(event["event"], "member.greeted");
    assert_eq!(event["data"], json!({"who": "ann"}));
    let body = json!({"event": "book.created", "data": {}});
    let err = app
        .call(Method::POST, "/api/events/", token, Some(body))
        .await
        .expect(422);
    assert_eq!(err["details"][0]["field"], "event");
}

#[actix_web::test]
async fn a_search_for_like_wildcards_matches_them_literally() {
    let app = TestApp::spawn().await;
    // Named so that no word of the name starts like a title word here.
    let author = app.author("Quill").await;
    for title in [
        "100% Cotton",
        "1000 Cottons",
        "a_b",
        "axb",
        "back\\slash",
        "backslash",
    ] {
        app.book(title, author).await;
    }
    let titles = |body: serde_json::Value| -> Vec<String> {
        let mut titles: Vec<String> = body["results"]
            .as_array()
            .unwrap()
            .iter()
            .map(|book| book["title"].as_str().unwrap().to_owned())
            .collect();
        titles.sort();
        titles
    };
    // Search matches the start of words (API.md): `%`, `_` and `\` are
    // punctuation between words, never wildcards. A query of wildcards alone
    // has no word and finds nothing rather than everything. The query
    // strings are percent-encoded: `%25` is `%`, `%5C` is `\`.
    for (query, found) in [
        ("100%25", vec!["100% Cotton", "1000 Cottons"]),
        ("a_b", vec!["a_b"]),
        ("back%5Cs", vec!["back\\slash"]),
        ("k%5Cs", vec![]),
        ("%25", vec![]),
        ("_", vec![]),
        ("%25_%25", vec![]),
        ("%5C", vec![]),
    ] {
        let body = app
            .get(&format!("/api/books/?q={query}"), None)
            .await
            .expect(200);
        assert_eq!(titles(body), found, "q={query}");
    }
}
