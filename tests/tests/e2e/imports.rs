use libris_e2e::{default_database, TestApp};
use serde_json::{json, Value};

fn items(author: i64, count: usize) -> Value {
    (0..count)
        .map(|i| json!({"title": format!("Imported {i}"), "author_id": author, "isbn": format!("{:010}", 1_000_000_000 + i)}))
        .collect()
}

#[actix_web::test]
async fn a_bulk_import_writes_books_statistics_an_import_record_and_one_event() {
    let app = TestApp::spawn().await;
    let herbert = app.author("Frank Herbert").await;
    let banks = app.author("Iain M. Banks").await;
    let mut batch = items(herbert, 3);
    batch
        .as_array_mut()
        .unwrap()
        .push(json!({"title": "Excession", "author_id": banks}));

    let imported = app.bulk_import(batch).await.expect(201);
    assert_eq!(imported["imported"], 4);
    let book_ids = imported["book_ids"].as_array().unwrap().clone();
    assert_eq!(book_ids.len(), 4);
    assert_eq!(app.get_author(herbert).await["total_books"], 3);
    assert_eq!(app.get_author(banks).await["available_books"], 1);
    let excession = app
        .get(&format!("/api/books/{}/", book_ids[3]), None)
        .await
        .expect(200);
    assert_eq!(excession["title"], "Excession");

    let imports = app.admin_get("/api/imports/").await;
    assert_eq!(imports["count"], 1);
    assert_eq!(imports["results"][0]["count"], 4);
    assert_eq!(imports["results"][0]["id"], imported["import_id"]);
    assert_eq!(imports["results"][0]["username"], "admin");

    let events = app
        .admin_get("/api/events/?event=books.bulk_imported")
        .await;
    assert_eq!(events["count"], 1);
    let data = &events["results"][0]["data"];
    assert_eq!(data["count"], 4);
    assert_eq!(data["import_id"], imported["import_id"]);
    assert_eq!(data["book_ids"], Value::Array(book_ids));
    assert_eq!(data["user"]["username"], "admin");
    assert_eq!(
        app.admin_get("/api/events/?event=book.created").await["count"],
        0,
        "no per-book events"
    );

    let logs = app.admin_get("/api/book-logs/?action=imported").await;
    assert_eq!(logs["count"], 4);
    assert_eq!(
        logs["results"][0]["details"]["import_id"],
        imported["import_id"]
    );
}

#[actix_web::test]
async fn a_batch_with_bad_items_writes_nothing_and_names_each() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    app.post_book(json!({"title": "Existing", "author": author, "isbn": "9780306406157"}))
        .await
        .expect(201);
    let batch = json!([
        {"title": "Fine", "author_id": author, "isbn": "1234567890"},
        {"title": "", "author_id": author},
        {"title": "No such author", "author_id": author + 50},
        {"title": "Twin", "author_id": author, "isbn": "123-456-7890"},
        {"title": "Taken", "author_id": author, "isbn": "978-0-306-40615-7"},
        {"title": "Bad ISBN", "author_id": author, "isbn": "12345"},
    ]);
    let err = app.bulk_import(batch).await.expect(422);
    let found: Vec<(i64, String)> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["index"].as_i64().unwrap(),
                d["field"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let expected = [
        (1, "title"),
        (2, "author_id"),
        (3, "isbn"),
        (4, "isbn"),
        (5, "isbn"),
    ];
    assert_eq!(found, expected.map(|(i, f)| (i, f.to_owned())));

    assert_eq!(app.get("/api/books/", None).await.expect(200)["count"], 1);
    assert_eq!(app.admin_get("/api/imports/").await["count"], 0);
    assert_eq!(
        app.admin_get("/api/events/?event=books.bulk_imported")
            .await["count"],
        0
    );
    assert_eq!(app.get_author(author).await["total_books"], 1);
}

#[actix_web::test]
async fn items_of_the_wrong_shape_are_each_named() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let batch = json!([{"title": "Fine", "author_id": author}, {"author_id": author}, {"title": "T", "author_id": "one"}]);
    let err = app.bulk_import(batch).await.expect(422);
    assert_eq!(err["details"][0]["index"], 1);
    assert_eq!(err["details"][0]["field"], "title");
    assert_eq!(err["details"][1]["index"], 2);
    assert_eq!(err["details"][1]["field"], "author_id");
    app.bulk_import(json!({"not": "a list"})).await.expect(422);
}

#[actix_web::test]
async fn shape_and_value_problems_are_named_together_and_nothing_is_written() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let batch = json!([
        {"title": 98765432123_i64, "author_id": author},
        {"title": "Bad ISBN", "author_id": author, "isbn": "12345"},
        {"author_id": "hunter2"},
        {"title": "Fine", "author_id": author},
    ]);
    let err = app.bulk_import(batch).await.expect(422);
    assert_eq!(err["code"], "validation_error");
    let found: Vec<(i64, &str)> = err["details"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| (d["index"].as_i64().unwrap(), d["field"].as_str().unwrap()))
        .collect();
    assert_eq!(
        found,
        [(0, "title"), (1, "isbn"), (2, "title"), (2, "author_id")]
    );
    let text = err.to_string();
    assert!(
        !text.contains("98765432123") && !text.contains("hunter2"),
        "no value is echoed: {text}"
    );

    assert_eq!(app.get("/api/books/", None).await.expect(200)["count"], 0);
    assert_eq!(app.admin_get("/api/imports/").await["count"], 0);
    assert_eq!(app.get_author(author).await["total_books"], 0);
}

#[actix_web::test]
async fn imports_are_bounded_and_admin_only() {
    let app = TestApp::spawn_on(default_database(), &["--import-max-items", "5"]).await;
    let author = app.author("A").await;
    let err = app.bulk_import(items(author, 6)).await.expect(422);
    assert_eq!(err["details"][0]["field"], "items");
    app.bulk_import(json!([])).await.expect(422);
    app.bulk_import(items(author, 5)).await.expect(201);
    let member = app.member("ann").await;
    let reply = app
        .call(
            reqwest::Method::POST,
            "/api/books/bulk-import/",
            Some(&member),
            Some(items(author, 1)),
        )
        .await;
    reply.expect(403);
    app.get("/api/imports/", Some(&member)).await.expect(403);
}

#[actix_web::test]
async fn ten_thousand_books_import_in_one_request() {
    let app = TestApp::spawn().await;
    let author = app.author("Prolific").await;
    let imported = app.bulk_import(items(author, 10_000)).await.expect(201);
    assert_eq!(imported["imported"], 10_000);
    assert_eq!(app.get_author(author).await["total_books"], 10_000);
    assert_eq!(
        app.admin_get("/api/book-logs/?action=imported&limit=1")
            .await["count"],
        10_000
    );
}
