use futures_util::future::join_all;
use libris_e2e::{default_database, TestApp};
use libris_testing::database::TestDatabase;

#[actix_web::test]
async fn borrow_then_return_moves_the_counters_and_records_both_events() {
    let app = TestApp::spawn().await;
    let author = app.author("Frank Herbert").await;
    let book = app.book("Dune", author).await;
    let member = app.member("ann").await;

    let borrowed = app.borrow(book, &member).await.expect(200);
    assert_eq!(borrowed["detail"], "Book borrowed successfully");
    assert_eq!(borrowed["book"]["available"], false);
    assert!(borrowed["loan"]["returned_at"].is_null());
    assert_eq!(app.get_author(author).await["available_books"], 0);
    let err = app.borrow(book, &member).await.expect(409);
    assert_eq!(err["code"], "conflict");

    let returned = app.give_back(book, &member).await.expect(200);
    assert_eq!(returned["detail"], "Book returned successfully");
    assert_eq!(returned["book"]["available"], true);
    assert!(returned["loan"]["returned_at"].is_string());
    assert_eq!(app.get_author(author).await["available_books"], 1);

    let me = app.get("/api/users/me/", Some(&member)).await.expect(200);
    assert_eq!(
        (me["books_borrowed"].as_i64(), me["books_returned"].as_i64()),
        (Some(1), Some(1))
    );

    let logs = app
        .admin_get(&format!("/api/book-logs/?book_id={book}"))
        .await;
    let actions: Vec<_> = logs["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["returned", "borrowed", "created"]);
    let event = &app.admin_get("/api/events/?event=book.borrowed").await["results"][0];
    assert_eq!(event["data"]["user"]["username"], "ann");
    assert_eq!(event["data"]["id"], book);
    assert_eq!(event["data"]["loan"]["id"], borrowed["loan"]["id"]);
    let event = &app.admin_get("/api/events/?event=book.returned").await["results"][0];
    assert!(event["data"]["loan"]["returned_at"].is_string());
}

#[actix_web::test]
async fn only_the_borrower_or_an_admin_returns_a_loan() {
    let app = TestApp::spawn().await;
    let book = app.book("Dune", app.author("A").await).await;
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    app.give_back(book, &ann).await.expect(409);
    app.borrow(book, &ann).await.expect(200);
    app.give_back(book, &bob).await.expect(409);
    app.admin(
        reqwest::Method::DELETE,
        &format!("/api/books/{book}/"),
        None,
    )
    .await
    .expect(409);
    app.give_back(book, &app.admin_token).await.expect(200);
    let me = app.get("/api/users/me/", Some(&ann)).await.expect(200);
    assert_eq!(
        me["books_returned"], 1,
        "the borrower's counter counts an admin's return"
    );
    app.borrow(9999, &ann).await.expect(404);
    app.borrow(book, "bad-token").await.expect(401);
}

#[actix_web::test]
async fn members_see_their_loans_and_admins_filter_all_loans() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let (one, two) = (app.book("One", author).await, app.book("Two", author).await);
    let ann = app.member("ann").await;
    let bob = app.member("bob").await;
    app.borrow(one, &ann).await.expect(200);
    app.give_back(one, &ann).await.expect(200);
    app.borrow(two, &ann).await.expect(200);
    app.borrow(one, &bob).await.expect(200);

    let mine = app
        .get("/api/users/me/loans/", Some(&ann))
        .await
        .expect(200);
    assert_eq!(mine["count"], 2);
    assert_eq!(mine["results"][0]["book"], two);
    assert_eq!(mine["results"][0]["book_title"], "Two");
    assert!(mine["results"][1]["returned_at"].is_string());

    assert_eq!(app.admin_get("/api/loans/").await["count"], 3);
    assert_eq!(app.admin_get("/api/loans/?open=true").await["count"], 2);
    assert_eq!(
        app.admin_get(&format!("/api/loans/?book={one}")).await["count"],
        2
    );
    let ann_id = app.get("/api/users/me/", Some(&ann)).await.expect(200)["id"].clone();
    assert_eq!(
        app.admin_get(&format!("/api/loans/?user={ann_id}")).await["count"],
        2
    );
    assert_eq!(
        app.admin_get("/api/loans/?overdue=true").await["count"],
        0,
        "nothing is due yet"
    );
    app.get("/api/loans/", Some(&ann)).await.expect(403);
}

#[actix_web::test]
async fn loans_are_due_after_the_configured_period() {
    let app = TestApp::spawn_on(default_database(), &["--loan-days", "3"]).await;
    let book = app.book("Dune", app.author("A").await).await;
    let ann = app.member("ann").await;
    let loan = app.borrow(book, &ann).await.expect(200)["loan"].clone();
    let time =
        |field: &str| chrono::DateTime::parse_from_rfc3339(loan[field].as_str().unwrap()).unwrap();
    assert_eq!(
        time("due_at") - time("borrowed_at"),
        chrono::Duration::days(3)
    );
}

/// Concurrent borrows of one copy: exactly one wins, the rest are 409.
async fn race_for_one_copy(app: TestApp) {
    let book = app.book("The Last Copy", app.author("A").await).await;
    let mut members = Vec::new();
    for i in 0..8 {
        members.push(app.member(&format!("reader{i}")).await);
    }
    let borrows = members.iter().map(|token| app.borrow(book, token));
    let statuses: Vec<u16> = join_all(borrows)
        .await
        .into_iter()
        .map(|r| r.status.as_u16())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        7,
        "{statuses:?}"
    );
    assert_eq!(app.admin_get("/api/loans/?open=true").await["count"], 1);
    assert_eq!(
        app.admin_get("/api/events/?event=book.borrowed").await["count"],
        1
    );
}

#[actix_web::test]
async fn concurrent_borrows_of_one_copy_give_one_200_on_sqlite() {
    race_for_one_copy(TestApp::spawn_on(TestDatabase::sqlite(), &[]).await).await;
}

#[actix_web::test]
async fn concurrent_borrows_of_one_copy_give_one_200_on_postgres() {
    if let Some(database) = TestDatabase::postgres() {
        race_for_one_copy(TestApp::spawn_on(database, &[]).await).await;
    }
}
