//! Conflicting writes, many times over, on whichever backend the suite runs
//! on (`make test` runs it on SQLite and again on PostgreSQL): the database
//! decides, exactly one side wins, the loser gets its documented 404/409/422,
//! no event or audit entry is recorded for a change that did not happen, and
//! nothing dangles afterwards.

use std::time::Duration;

use futures_util::future::{join, join_all};
use libris_e2e::{Reply, TestApp};
use libris_testing::receiver::{Receiver, Reply as ReceiverReply};
use reqwest::Method;
use serde_json::{json, Value};

const ROUNDS: usize = 12;

fn statuses(replies: &[Reply]) -> Vec<u16> {
    replies.iter().map(|r| r.status.as_u16()).collect()
}

async fn delete_author(app: &TestApp, id: i64) -> Reply {
    app.call(
        Method::DELETE,
        &format!("/api/authors/{id}/"),
        Some(&app.admin_token),
        None,
    )
    .await
}

async fn patch(app: &TestApp, path: String, body: Value) -> u16 {
    app.admin(Method::PATCH, &path, Some(body))
        .await
        .status
        .as_u16()
}

async fn count(app: &TestApp, path: &str) -> i64 {
    app.admin_get(path).await["count"]
        .as_i64()
        .expect("a count")
}

#[actix_web::test]
async fn concurrent_returns_of_one_loan_give_one_200_and_one_event() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let member = app.member("ann").await;
    for round in 0..ROUNDS {
        let book = app.book(&format!("Book {round}"), author).await;
        app.borrow(book, &member).await.expect(200);
        let returns = (0..8).map(|_| app.give_back(book, &member));
        let outcome = statuses(&join_all(returns).await);
        assert_eq!(
            outcome.iter().filter(|s| **s == 200).count(),
            1,
            "{outcome:?}"
        );
        assert_eq!(
            outcome.iter().filter(|s| **s == 409).count(),
            7,
            "{outcome:?}"
        );
    }
    let rounds = ROUNDS as i64;
    assert_eq!(
        count(&app, "/api/events/?event=book.returned").await,
        rounds
    );
    assert_eq!(count(&app, "/api/book-logs/?action=returned").await, rounds);
    assert_eq!(count(&app, "/api/loans/?open=true").await, 0);
    let me = app.get("/api/users/me/", Some(&member)).await.expect(200);
    assert_eq!(me["books_returned"], rounds);
    assert_eq!(me["books_borrowed"], rounds);
    assert_eq!(app.get_author(author).await["available_books"], rounds);
}

#[actix_web::test]
async fn a_borrow_racing_a_delete_never_leaves_a_loan_on_a_deleted_book() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let member = app.member("ann").await;
    let (mut borrowed, mut deleted) = (0, 0);
    for round in 0..ROUNDS {
        let book = app.book(&format!("Book {round}"), author).await;
        let (borrow, delete) = join(app.borrow(book, &member), app.delete_book(book)).await;
        match (borrow.status.as_u16(), delete.status.as_u16()) {
            (200, 409) => borrowed += 1,
            (404, 204) => deleted += 1,
            other => panic!("round {round}: borrow and delete answered {other:?}"),
        }
        let gone = delete.status.as_u16() == 204;
        let loans = count(&app, &format!("/api/loans/?open=true&book={book}")).await;
        let found = app.get(&format!("/api/books/{book}/"), None).await.status == 200;
        assert_eq!((loans, found), (i64::from(!gone), !gone), "round {round}");
    }
    assert_eq!(
        count(&app, "/api/events/?event=book.borrowed").await,
        borrowed
    );
    assert_eq!(
        count(&app, "/api/events/?event=book.deleted").await,
        deleted
    );
    assert_eq!(count(&app, "/api/book-logs/?action=deleted").await, deleted);
    let stats = app.get_author(author).await;
    assert_eq!(stats["total_books"], borrowed);
    assert_eq!(stats["available_books"], 0);
}

#[actix_web::test]
async fn an_author_delete_racing_a_book_create_or_an_import_leaves_no_orphan() {
    let app = TestApp::spawn().await;
    let (mut created, mut author_deletes) = (0, 0);
    for round in 0..ROUNDS {
        let author = app.author(&format!("Author {round}")).await;
        // Every other round races a bulk import instead of a create.
        let write = async {
            if round % 2 == 0 {
                app.post_book(json!({"title": "T", "author": author})).await
            } else {
                app.bulk_import(json!([{"title": "T", "author_id": author}]))
                    .await
            }
        };
        let (write, delete) = join(write, delete_author(&app, author)).await;
        match (write.status.as_u16(), delete.status.as_u16()) {
            (201, 409) => created += 1,
            (422, 204) => author_deletes += 1,
            other => panic!(
                "round {round}: write and author delete answered {other:?}: {}",
                write.body
            ),
        }
        let books = count(&app, &format!("/api/books/?author={author}")).await;
        assert_eq!(
            books,
            i64::from(delete.status.as_u16() == 409),
            "round {round}"
        );
    }
    assert_eq!(count(&app, "/api/authors/").await, created);
    assert_eq!(
        count(&app, "/api/events/?event=author.deleted").await,
        author_deletes
    );
    let creates = count(&app, "/api/events/?event=book.created").await;
    let imports = count(&app, "/api/events/?event=books.bulk_imported").await;
    assert_eq!(creates + imports, created);
}

#[actix_web::test]
async fn opposite_moves_between_two_authors_both_succeed_and_keep_counts_true() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.author("A").await, app.author("B").await);
    let (x, y) = (app.book("X", a).await, app.book("Y", b).await);
    for round in 0..ROUNDS {
        let (to_x, to_y) = if round % 2 == 0 { (b, a) } else { (a, b) };
        let moves = [
            app.patch_book(x, json!({"author": to_x})),
            app.patch_book(y, json!({"author": to_y})),
        ];
        let outcome = statuses(&join_all(moves).await);
        assert_eq!(outcome, [200, 200], "round {round}");
    }
    let totals: Vec<Value> = vec![
        app.get_author(a).await["total_books"].clone(),
        app.get_author(b).await["total_books"].clone(),
    ];
    assert_eq!(totals, [json!(1), json!(1)]);
    assert_eq!(
        count(&app, "/api/events/?event=book.updated").await,
        2 * ROUNDS as i64
    );
}

/// The counters are added to, not recounted: whatever mix of changes races,
/// each author's and member's figures equal a count of the rows afterwards.
#[actix_web::test]
async fn every_kind_of_change_racing_leaves_counters_equal_to_a_recount() {
    let app = TestApp::spawn().await;
    let (a, b) = (app.author("A").await, app.author("B").await);
    let members = [app.member("ann").await, app.member("bob").await];
    let mut books = Vec::new();
    for i in 0..ROUNDS {
        books.push(
            app.book(&format!("Kept {i}"), if i % 2 == 0 { a } else { b })
                .await,
        );
    }
    for round in 0..ROUNDS {
        let doomed = app.book(&format!("Doomed {round}"), a).await;
        let lent = books[round];
        let moved = books[(round + 1) % books.len()];
        let reader = &members[round % 2];
        let to = if round % 2 == 0 { b } else { a };
        let created = app.post_book(json!({"title": format!("New {round}"), "author": b}));
        let imported = app.bulk_import(json!([
            {"title": format!("Imported {round}a"), "author_id": a},
            {"title": format!("Imported {round}b"), "author_id": b},
        ]));
        let borrowed = app.borrow(lent, reader);
        let moved = app.patch_book(moved, json!({"author": to}));
        let deleted = app.delete_book(doomed);
        let (created, imported, borrowed, moved, deleted) =
            tokio::join!(created, imported, borrowed, moved, deleted);
        assert_eq!(
            [
                created.status,
                imported.status,
                borrowed.status,
                moved.status,
                deleted.status
            ]
            .map(|s| s.as_u16()),
            [201, 201, 200, 200, 204],
            "round {round}"
        );
        if round % 3 != 0 {
            app.give_back(lent, reader).await.expect(200);
        }
    }
    for author in [a, b] {
        let stats = app.get_author(author).await;
        let total = count(&app, &format!("/api/books/?author={author}")).await;
        let available = count(&app, &format!("/api/books/?author={author}&available=true")).await;
        assert_eq!(
            (
                stats["total_books"].as_i64(),
                stats["available_books"].as_i64()
            ),
            (Some(total), Some(available)),
            "author {author}: {stats}"
        );
    }
    for user in app.admin_get("/api/users/?limit=500").await["results"]
        .as_array()
        .expect("users")
    {
        let id = user["id"].as_i64().expect("an id");
        let borrowed = count(&app, &format!("/api/loans/?user={id}")).await;
        let open = count(&app, &format!("/api/loans/?user={id}&open=true")).await;
        assert_eq!(
            (
                user["books_borrowed"].as_i64(),
                user["books_returned"].as_i64()
            ),
            (Some(borrowed), Some(borrowed - open)),
            "{user}"
        );
    }
}

#[actix_web::test]
async fn concurrent_patches_of_different_fields_both_land() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let book = app.book("Old title", author).await;
    let hook = app
        .subscribe("http://127.0.0.1:9/hook", &["book.*"], "patch-secret")
        .await;
    let hook = format!("/api/webhooks/{}/", hook["id"].as_str().expect("an id"));
    for round in 0..ROUNDS {
        let (title, isbn) = (format!("Title {round}"), format!("{:010}", round));
        let (description, events) = (format!("round {round}"), format!("round{round}.*"));
        let (name, bio) = (format!("Name {round}"), format!("Bio {round}"));
        let author_path = format!("/api/authors/{author}/");
        let book_path = format!("/api/books/{book}/");
        let outcome = join_all([
            patch(&app, book_path.clone(), json!({"title": title})),
            patch(&app, book_path, json!({"isbn": isbn})),
            patch(&app, hook.clone(), json!({"description": description})),
            patch(&app, hook.clone(), json!({"events": [events]})),
            patch(&app, author_path.clone(), json!({"name": name})),
            patch(&app, author_path, json!({"bio": bio})),
        ])
        .await;
        assert_eq!(outcome, [200; 6], "round {round}");
        let book = app
            .get(&format!("/api/books/{book}/"), None)
            .await
            .expect(200);
        assert_eq!(
            (&book["title"], &book["isbn"]),
            (&json!(title), &json!(isbn))
        );
        let webhook = app.admin_get(&hook).await;
        assert_eq!(webhook["description"], description, "round {round}");
        assert_eq!(webhook["events"], json!([events]), "round {round}");
        let author = app.get_author(author).await;
        assert_eq!(
            (&author["name"], &author["bio"]),
            (&json!(name), &json!(bio))
        );
    }
}

#[actix_web::test]
async fn a_webhook_delete_racing_fan_out_and_attempts_leaves_nothing_behind() {
    let app = TestApp::spawn().await;
    let witness = Receiver::start().await;
    app.subscribe(&witness.url(), &["author.created"], "witness-secret")
        .await;
    // Failed attempts make the worker read and write the endpoint's health,
    // the writes a delete must not collide with.
    let failing = Receiver::start().await;
    failing.set_fallback(ReceiverReply::status(500));
    for round in 0..ROUNDS {
        let hook = app
            .subscribe(&failing.url(), &["author.created"], "doomed-secret")
            .await;
        let hook = hook["id"].as_str().expect("an id").to_owned();
        let path = format!("/api/webhooks/{hook}/");
        let (created, deleted) = join(
            app.post_author(&format!("Author {round}")),
            app.admin(Method::DELETE, &path, None),
        )
        .await;
        assert_eq!(
            (created.status.as_u16(), deleted.status.as_u16()),
            (201, 204),
            "round {round}"
        );
        let left = count(&app, &format!("/api/webhooks/deliveries/?webhook={hook}")).await;
        assert_eq!(left, 0, "round {round}: deliveries outlived their webhook");
    }
    // Fan-out never stalled on a vanished subscription: the witness hears
    // every event.
    witness.wait_for(ROUNDS, Duration::from_secs(10)).await;
    assert_eq!(count(&app, "/api/webhooks/").await, 1);
}

#[actix_web::test]
async fn concurrent_claims_on_one_unique_thing_give_exactly_one_winner() {
    let app = TestApp::spawn().await;
    let author = app.author("A").await;
    let (ann, bob) = (app.member("ann").await, app.member("bob").await);
    for round in 0..ROUNDS {
        let name = format!("twin{round}");
        let registers = join(
            app.register(&name, "twin-password"),
            app.register(&name, "twin-password"),
        )
        .await;
        let mut outcome = [registers.0.status.as_u16(), registers.1.status.as_u16()];
        outcome.sort_unstable();
        assert_eq!(outcome, [201, 409], "round {round}: registrations");

        let isbn = format!("{:013}", 9_780_000_000_000u64 + round as u64);
        let creates = join(
            app.post_book(json!({"title": "One", "author": author, "isbn": isbn})),
            app.post_book(json!({"title": "Two", "author": author, "isbn": isbn})),
        )
        .await;
        let mut outcome = [creates.0.status.as_u16(), creates.1.status.as_u16()];
        outcome.sort_unstable();
        assert_eq!(outcome, [201, 422], "round {round}: the same ISBN twice");

        let book = app.book(&format!("Shared {round}"), author).await;
        let borrows = join(app.borrow(book, &ann), app.borrow(book, &bob)).await;
        let mut outcome = [borrows.0.status.as_u16(), borrows.1.status.as_u16()];
        outcome.sort_unstable();
        assert_eq!(outcome, [200, 409], "round {round}: two borrowers");
    }
    let rounds = ROUNDS as i64;
    // The bootstrap admin, ann, bob, and one of each pair of twins.
    assert_eq!(count(&app, "/api/users/").await, 3 + rounds);
    assert_eq!(
        count(&app, "/api/events/?event=user.created").await,
        3 + rounds
    );
    assert_eq!(
        count(&app, "/api/events/?event=book.created").await,
        2 * rounds
    );
    assert_eq!(
        count(&app, "/api/events/?event=book.borrowed").await,
        rounds
    );
    assert_eq!(count(&app, "/api/loans/?open=true").await, rounds);
    let stats = app.get_author(author).await;
    assert_eq!(
        (&stats["total_books"], &stats["available_books"]),
        (&json!(2 * rounds), &json!(rounds))
    );
}
