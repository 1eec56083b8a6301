//! The store's behaviour, run through the real use cases against a fresh
//! database: every test runs once on SQLite and once on PostgreSQL.

use std::sync::Arc;

use libris_application::access::Admin;
use libris_application::accounts::{self, Registration};
use libris_application::authors::{self, NewAuthor};
use libris_application::books::{self, BookError, BookUpdate, NewBook};
use libris_application::engine::{dispatch, Attempt, Dispatched, Queue};
use libris_application::events::{record, EventContext};
use libris_application::imports::{self, ImportItem};
use libris_application::notifications::LoanMail;
use libris_application::ports::{
    AttemptLogFilter, AuditFilter, BookFields, BookFilter, InboundFilter, LoanFilter,
    MockPasswordHasher, NewEvent, NewInboundEvent, NewLoan, WebhookFields,
};
use libris_application::testing::{admin, at, fixed_clock};
use libris_application::webhooks::inbound::{self, InboundRequest, Receipt};
use libris_application::webhooks::ports::MockInboundVerifier;
use libris_application::webhooks::{WebhookFanOut, WebhookQueue};
use libris_application::{Page, Store, StoreError, StoreExt};
use libris_domain::accounts::UserRef;
use libris_domain::audit::AuditAction;
use libris_domain::catalog::{AuthorSnapshot, BookSnapshot};
use libris_domain::delivery::{AttemptReport, Outcome};
use libris_domain::events::DomainEvent;
use libris_domain::events::EventPattern;
use libris_domain::inbound::{InboundStatus, SignatureScheme};
use libris_domain::lending::LoanSnapshot;
use libris_domain::values::{AuthorName, BookTitle, Email, Isbn, Password, Username};
use libris_domain::webhooks::DeliveryStatus;
use libris_store::{DatabaseUrl, DieselStore};
use libris_testing::database::TestDatabase;

/// A store on its own database; the store is dropped first.
struct Fixture {
    store: DieselStore,
    _database: TestDatabase,
}

fn open(database: TestDatabase) -> Fixture {
    let store = DieselStore::open(&DatabaseUrl::parse(database.url()).expect("a test URL"), 4)
        .expect("open the store");
    Fixture {
        store,
        _database: database,
    }
}

macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $name() { super::$name(&super::open(super::TestDatabase::sqlite()).store) })*
        }
        mod postgres {
            $(#[test] fn $name() {
                if let Some(database) = super::TestDatabase::postgres() {
                    super::$name(&super::open(database).store)
                }
            })*
        }
    };
}

on_both_backends!(
    registration_creates_user_profile_and_event_together,
    book_changes_keep_audit_counts_and_events_true,
    a_failure_after_the_event_was_written_leaves_nothing,
    the_database_refuses_duplicate_isbns_and_unknown_authors,
    books_filter_and_paginate,
    list_counts_are_the_books_listed_after_every_kind_of_change,
    tokens_authenticate_until_revoked,
    concurrent_writers_queue_instead_of_failing,
    concurrent_writers_each_keep_their_own_outcome,
    a_writer_that_panics_takes_no_one_elses_answer_with_it,
    the_database_allows_one_open_loan_per_book,
    bulk_inserts_answer_books_in_order,
    fan_out_claim_and_record_run_through_the_store,
    concurrent_claims_never_share_a_delivery,
    an_expired_lease_makes_a_delivery_due_again,
    operators_make_due_count_and_prune_deliveries,
    an_inbound_message_is_stored_once_even_when_its_copies_race,
    each_consumer_has_its_own_marks_and_a_late_one_starts_with_later_events,
    a_borrow_that_rolls_back_leaves_no_email_and_a_committed_one_mails_once,
    a_webhooks_options_and_owner_round_trip_and_scope_its_lists,
    deliveries_are_counted_by_the_hour_they_were_made_and_their_status_now,
    attempt_logs_filter_by_delivery,
);

fn admin_caller() -> Admin {
    Admin::check(admin()).unwrap()
}

fn hasher() -> MockPasswordHasher {
    let mut hasher = MockPasswordHasher::new();
    hasher.expect_hash().returning(|_| Ok("hash".into()));
    hasher
        .expect_verify()
        .returning(|password, _| password == "correct horse");
    hasher
}

fn register(store: &DieselStore, username: &str, is_admin: bool) -> i64 {
    let registration = Registration {
        username: Username::parse(username).unwrap(),
        email: Email::parse(&format!("{username}@example.com")).unwrap(),
        password: Password::parse("correct horse").unwrap(),
    };
    accounts::register(store, &fixed_clock(), &hasher(), registration, is_admin)
        .unwrap()
        .user
        .id
}

fn new_author(store: &DieselStore, name: &str) -> i64 {
    let new = NewAuthor {
        name: AuthorName::parse(name).unwrap(),
        bio: String::new(),
    };
    authors::create_author(store, &fixed_clock(), &admin_caller(), new)
        .unwrap()
        .id
}

fn new_book(
    store: &DieselStore,
    title: &str,
    author_id: i64,
    isbn: Option<&str>,
) -> Result<i64, BookError> {
    let new = NewBook {
        title: BookTitle::parse(title).unwrap(),
        author_id,
        isbn: isbn.map(|i| Isbn::parse(i).unwrap()),
        available: true,
    };
    books::create_book(store, &fixed_clock(), &admin_caller(), new).map(|b| b.id)
}

fn counts(store: &DieselStore, author_id: i64) -> (i64, i64) {
    let author = authors::get_author(store, author_id).unwrap();
    (author.total_books, author.available_books)
}

fn event_names(store: &DieselStore) -> Vec<String> {
    let events = store
        .read_tx(|tx| tx.outbox().list_events(None, Page::default()))
        .unwrap();
    events.results.into_iter().rev().map(|e| e.event).collect()
}

fn audit_actions(store: &DieselStore, book_id: i64) -> Vec<AuditAction> {
    let filter = AuditFilter {
        book_id: Some(book_id),
        ..AuditFilter::default()
    };
    let entries = store
        .read_tx(|tx| tx.audit().list_audit_entries(&filter, Page::default()))
        .unwrap();
    entries
        .results
        .into_iter()
        .rev()
        .map(|e| e.action)
        .collect()
}

fn registration_creates_user_profile_and_event_together(store: &DieselStore) {
    let id = register(store, "ann", false);
    let account = store
        .read_tx(|tx| tx.accounts().account(id))
        .unwrap()
        .expect("the account");
    assert_eq!(account.user.username, "ann");
    assert_eq!(account.profile.books_borrowed, 0);
    assert!(account.profile.subscribed_to_notifications);
    let events = store
        .read_tx(|tx| {
            tx.outbox()
                .list_events(Some("user.created".into()), Page::default())
        })
        .unwrap();
    assert_eq!(events.count, 1);
    assert_eq!(events.results[0].data["username"], "ann");
    assert_eq!(events.results[0].timestamp, at(0));
    let taken = accounts::register(
        store,
        &fixed_clock(),
        &hasher(),
        Registration {
            username: Username::parse("ann").unwrap(),
            email: Email::parse("other@example.com").unwrap(),
            password: Password::parse("correct horse").unwrap(),
        },
        false,
    );
    assert!(matches!(taken, Err(accounts::RegisterError::UsernameTaken)));
}

fn book_changes_keep_audit_counts_and_events_true(store: &DieselStore) {
    let herbert = new_author(store, "Frank Herbert");
    let le_guin = new_author(store, "Ursula K. Le Guin");
    let dune = new_book(store, "Dune", herbert, Some("1234567890")).unwrap();
    new_book(store, "Children of Dune", herbert, None).unwrap();
    assert_eq!(counts(store, herbert), (2, 2));

    let unavailable = BookUpdate {
        available: Some(false),
        ..BookUpdate::default()
    };
    books::update_book(store, &fixed_clock(), &admin_caller(), dune, unavailable).unwrap();
    assert_eq!(counts(store, herbert), (2, 1));

    let moved = BookUpdate {
        author_id: Some(le_guin),
        ..BookUpdate::default()
    };
    let book = books::update_book(store, &fixed_clock(), &admin_caller(), dune, moved).unwrap();
    assert_eq!(book.author_name, "Ursula K. Le Guin");
    assert_eq!(counts(store, herbert), (1, 1));
    assert_eq!(counts(store, le_guin), (1, 0));

    books::delete_book(store, &fixed_clock(), &admin_caller(), dune).unwrap();
    assert_eq!(counts(store, le_guin), (0, 0));
    assert_eq!(
        audit_actions(store, dune),
        [
            AuditAction::Created,
            AuditAction::Updated,
            AuditAction::Updated,
            AuditAction::Deleted
        ]
    );
    assert_eq!(
        event_names(store),
        [
            "author.created",
            "author.created",
            "book.created",
            "book.created",
            "book.updated",
            "book.updated",
            "book.deleted"
        ]
    );
    let err = authors::delete_author(store, &fixed_clock(), &admin_caller(), herbert).unwrap_err();
    assert!(matches!(err, authors::AuthorError::HasBooks(1)));
    authors::delete_author(store, &fixed_clock(), &admin_caller(), le_guin).unwrap();
}

#[derive(Debug)]
struct Forced;

impl From<StoreError> for Forced {
    fn from(e: StoreError) -> Self {
        panic!("unexpected store error: {e}")
    }
}

fn a_failure_after_the_event_was_written_leaves_nothing(store: &DieselStore) {
    let author_id = new_author(store, "Kept");
    let context = EventContext {
        user: None,
        at: at(1),
    };
    let result: Result<(), Forced> = store.write_tx(|tx| {
        let fields = BookFields {
            title: "Doomed".into(),
            author_id,
            isbn: None,
            available: true,
        };
        let book = tx.catalog().insert_book(&fields, at(1))?;
        record(
            tx,
            &context,
            &DomainEvent::BookCreated(BookSnapshot::from(&book)),
        )?;
        let author = tx.catalog().author(author_id)?.unwrap();
        record(
            tx,
            &context,
            &DomainEvent::AuthorUpdated(AuthorSnapshot::from(&author)),
        )?;
        Err(Forced)
    });
    assert!(result.is_err());
    assert_eq!(event_names(store), ["author.created"]);
    let audit = store
        .read_tx(|tx| {
            tx.audit()
                .list_audit_entries(&AuditFilter::default(), Page::default())
        })
        .unwrap();
    assert_eq!(audit.count, 0);
    assert_eq!(counts(store, author_id), (0, 0));
    let books = store
        .read_tx(|tx| {
            tx.catalog()
                .list_books(&BookFilter::default(), Page::default())
        })
        .unwrap();
    assert_eq!(books.count, 0);
}

fn the_database_refuses_duplicate_isbns_and_unknown_authors(store: &DieselStore) {
    let author_id = new_author(store, "A");
    let fields = BookFields {
        title: "One".into(),
        author_id,
        isbn: Some("1234567890".into()),
        available: true,
    };
    store
        .write_tx(|tx| tx.catalog().insert_book(&fields, at(0)))
        .unwrap();
    let duplicate = store.write_tx(|tx| tx.catalog().insert_book(&fields, at(0)));
    assert!(
        matches!(duplicate, Err(StoreError::UniqueViolation(_))),
        "{duplicate:?}"
    );
    let orphan = BookFields {
        author_id: author_id + 100,
        isbn: None,
        ..fields.clone()
    };
    let orphan = store.write_tx(|tx| tx.catalog().insert_book(&orphan, at(0)));
    assert!(
        matches!(orphan, Err(StoreError::ForeignKeyViolation(_))),
        "{orphan:?}"
    );
    // Through the use case, the same duplicate is a validation error on `isbn`.
    let err = new_book(store, "Two", author_id, Some("123-456-789-0")).unwrap_err();
    assert!(matches!(err, BookError::Invalid(e) if e.0[0].field == "isbn"));
}

fn books_filter_and_paginate(store: &DieselStore) {
    let herbert = new_author(store, "Frank Herbert");
    let banks = new_author(store, "Iain Banks");
    for i in 0..5 {
        new_book(store, &format!("Dune {i}"), herbert, None).unwrap();
    }
    new_book(store, "Excession", banks, Some("9780553575378")).unwrap();
    let list = |filter: BookFilter, page: Page| {
        store
            .read_tx(|tx| tx.catalog().list_books(&filter, page))
            .unwrap()
    };

    let all = list(BookFilter::default(), Page::default());
    assert_eq!(all.count, 6);
    assert_eq!(all.results[0].title, "Excession", "newest first");
    let page = list(BookFilter::default(), Page::new(Some(2), Some(1)));
    assert_eq!((page.count, page.results.len()), (6, 2));
    assert_eq!(page.results[0].title, "Dune 4");
    let by_author = list(
        BookFilter {
            author_id: Some(banks),
            ..BookFilter::default()
        },
        Page::default(),
    );
    assert_eq!(by_author.count, 1);
    let search = |q: &str| {
        list(
            BookFilter {
                q: Some(q.into()),
                ..BookFilter::default()
            },
            Page::default(),
        )
        .count
    };
    assert_eq!(search("dUNE"), 5);
    assert_eq!(search("banks"), 1);
    assert_eq!(search("9780553"), 1);
    assert_eq!(search("nothing like it"), 0);
    let unavailable = list(
        BookFilter {
            available: Some(false),
            ..BookFilter::default()
        },
        Page::default(),
    );
    assert_eq!(unavailable.count, 0);
}

/// The count of a list without `q` comes from the authors' counters, not
/// from counting the books: after creations, imports, availability
/// changes, a move to another author and a deletion, every filter's count
/// is still the number of books it lists.
fn list_counts_are_the_books_listed_after_every_kind_of_change(store: &DieselStore) {
    let herbert = new_author(store, "Frank Herbert");
    let banks = new_author(store, "Iain Banks");
    new_author(store, "No Books Yet");
    let check = |when: &str| {
        for author_id in [None, Some(herbert), Some(banks)] {
            for available in [None, Some(true), Some(false)] {
                let filter = BookFilter {
                    author_id,
                    available,
                    ..BookFilter::default()
                };
                let listed = store
                    .read_tx(|tx| tx.catalog().list_books(&filter, Page::new(Some(500), None)))
                    .unwrap();
                assert_eq!(
                    listed.count,
                    listed.results.len() as i64,
                    "{when}: author {author_id:?}, available {available:?}"
                );
            }
        }
    };
    check("no books");
    let mut dune = Vec::new();
    for i in 0..4 {
        dune.push(new_book(store, &format!("Dune {i}"), herbert, None).unwrap());
    }
    let excession = new_book(store, "Excession", banks, None).unwrap();
    let items = (0..30)
        .map(|i| {
            Ok(ImportItem {
                title: Ok(format!("Culture {i}")),
                author_id: Ok(banks),
                isbn: Ok(None),
            })
        })
        .collect();
    let imported =
        imports::bulk_import(store, &fixed_clock(), &admin_caller(), 100, items).unwrap();
    check("created and imported");
    let change = |id, update: BookUpdate| {
        books::update_book(store, &fixed_clock(), &admin_caller(), id, update).unwrap();
    };
    let unavailable = |author_id| BookUpdate {
        title: None,
        author_id,
        isbn: None,
        available: Some(false),
    };
    change(dune[0], unavailable(None));
    change(dune[1], unavailable(Some(banks)));
    for id in imported.book_ids.iter().step_by(4) {
        change(*id, unavailable(None));
    }
    check("made unavailable, one moved to another author");
    books::delete_book(store, &fixed_clock(), &admin_caller(), dune[0]).unwrap();
    books::delete_book(store, &fixed_clock(), &admin_caller(), excession).unwrap();
    check("deleted");
}

fn tokens_authenticate_until_revoked(store: &DieselStore) {
    let id = register(store, "ann", false);
    store
        .write_tx(|tx| tx.accounts().insert_token(id, "digest-1", at(0)))
        .unwrap();
    let found = store
        .read_tx(|tx| tx.accounts().account_by_token("digest-1"))
        .unwrap();
    assert_eq!(found.map(|a| a.user.id), Some(id));
    assert!(store
        .write_tx(|tx| tx.accounts().delete_token("digest-1"))
        .unwrap());
    assert!(store
        .read_tx(|tx| tx.accounts().account_by_token("digest-1"))
        .unwrap()
        .is_none());
    assert!(!store
        .write_tx(|tx| tx.accounts().delete_token("digest-1"))
        .unwrap());
}

fn concurrent_writers_queue_instead_of_failing(store: &DieselStore) {
    let author_id = new_author(store, "Busy");
    let store: Arc<&DieselStore> = Arc::new(store);
    std::thread::scope(|scope| {
        for worker in 0..4 {
            let store = Arc::clone(&store);
            scope.spawn(move || {
                for i in 0..10 {
                    new_book(*store, &format!("Book {worker}-{i}"), author_id, None)
                        .expect("every write succeeds");
                }
            });
        }
    });
    assert_eq!(counts(&store, author_id), (40, 40));
}

/// Runs `writes` token inserts on each of `workers` threads at once, the
/// token of write `i` of worker `w` being `digest-{w}-{i}`; `write` makes
/// one and answers whether it was told the write committed. Then checks
/// that the database holds exactly the tokens told so, and answers how many
/// they are.
fn race_token_writes(
    store: &DieselStore,
    workers: usize,
    writes: usize,
    write: impl Fn(usize, usize, &str) -> bool + Sync,
) -> usize {
    let write = &write;
    let answers: Vec<(String, bool)> = std::thread::scope(|scope| {
        let threads: Vec<_> = (0..workers)
            .map(|worker| {
                scope.spawn(move || {
                    (0..writes)
                        .map(|i| {
                            let digest = format!("digest-{worker}-{i}");
                            let committed = write(worker, i, &digest);
                            (digest, committed)
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        threads
            .into_iter()
            .flat_map(|thread| thread.join().unwrap())
            .collect()
    });
    for (digest, committed) in &answers {
        let found = store
            .read_tx(|tx| tx.accounts().account_by_token(digest))
            .unwrap();
        assert_eq!(found.is_some(), *committed, "{digest}");
    }
    answers.iter().filter(|(_, committed)| *committed).count()
}

/// On SQLite, writers that queue together commit together (group commit):
/// each must still get its own answer, and a failing one must leave nothing
/// while the others commit.
fn concurrent_writers_each_keep_their_own_outcome(store: &DieselStore) {
    let user_id = register(store, "busy", false);
    let committed = race_token_writes(store, 8, 25, |worker, i, digest| {
        let refused = (worker + i) % 4 == 0;
        let answer = store.write_tx(|tx| {
            tx.accounts().insert_token(user_id, digest, at(0))?;
            if refused {
                return Err(StoreError::Unexpected("refused".into()));
            }
            Ok(())
        });
        assert_eq!(answer.is_err(), refused, "{digest}: {answer:?}");
        answer.is_ok()
    });
    assert_eq!(committed, 150);
}

/// Whatever a panicking writer takes down with it, every writer that was
/// told its work committed finds it, and every one told otherwise does not.
fn a_writer_that_panics_takes_no_one_elses_answer_with_it(store: &DieselStore) {
    let user_id = register(store, "unlucky", false);
    let committed = race_token_writes(store, 6, 20, |worker, i, digest| {
        let answer = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            store.write_tx(|tx| {
                tx.accounts().insert_token(user_id, digest, at(0))?;
                assert!(worker != 0 || i % 5 != 4, "a bug in the work");
                Ok::<_, StoreError>(())
            })
        }));
        matches!(answer, Ok(Ok(())))
    });
    assert!(committed >= 100, "only {committed} of 120 committed");
}

#[test]
fn a_wrong_postgres_url_fails_with_the_servers_message() {
    let url = DatabaseUrl::parse("postgres://postgres@127.0.0.1:1/nowhere").expect("a URL");
    let err = DieselStore::open(&url, 1)
        .err()
        .expect("no server listens on port 1");
    let message = err.to_string();
    assert!(
        message.contains("cannot connect to postgres://"),
        "{message}"
    );
    assert!(message.to_lowercase().contains("connect"), "{message}");
}

#[allow(dead_code)]
fn assert_object_safe(_: &dyn Store) {}

fn the_database_allows_one_open_loan_per_book(store: &DieselStore) {
    let member = register(store, "ann", false);
    let book = new_book(store, "Dune", new_author(store, "A"), None).unwrap();
    let loan = NewLoan {
        book_id: book,
        book_title: "Dune".into(),
        user_id: member,
        borrowed_at: at(0),
        due_at: at(60),
    };
    let first = store
        .write_tx(|tx| tx.lending().insert_loan(&loan))
        .unwrap();
    let second = store.write_tx(|tx| tx.lending().insert_loan(&loan));
    assert!(
        matches!(second, Err(StoreError::UniqueViolation(_))),
        "{second:?}"
    );
    let closed = store
        .write_tx(|tx| tx.lending().close_loan(first.id, at(30)))
        .unwrap();
    assert_eq!(closed.returned_at, Some(at(30)));
    store
        .write_tx(|tx| tx.lending().insert_loan(&loan))
        .expect("a returned loan frees the book");
    store
        .write_tx(|tx| tx.accounts().add_to_member_loans(member, 1, 0))
        .unwrap();
    store
        .write_tx(|tx| tx.accounts().add_to_member_loans(member, 1, 1))
        .unwrap();
    let profile = store
        .read_tx(|tx| tx.accounts().account(member))
        .unwrap()
        .unwrap()
        .profile;
    assert_eq!((profile.books_borrowed, profile.books_returned), (2, 1));
    let open = LoanFilter {
        open: Some(true),
        ..LoanFilter::default()
    };
    assert_eq!(
        store
            .read_tx(|tx| tx.lending().list_loans(&open, Page::default()))
            .unwrap()
            .count,
        1
    );
    let overdue = LoanFilter {
        overdue_at: Some(at(61)),
        ..LoanFilter::default()
    };
    assert_eq!(
        store
            .read_tx(|tx| tx.lending().list_loans(&overdue, Page::default()))
            .unwrap()
            .count,
        1
    );
    let not_yet = LoanFilter {
        overdue_at: Some(at(59)),
        ..LoanFilter::default()
    };
    assert_eq!(
        store
            .read_tx(|tx| tx.lending().list_loans(&not_yet, Page::default()))
            .unwrap()
            .count,
        0
    );
}

fn bulk_inserts_answer_books_in_order(store: &DieselStore) {
    let author_id = new_author(store, "Many");
    let fields: Vec<BookFields> = (0..2500)
        .map(|i| BookFields {
            title: format!("Book {i}"),
            author_id,
            isbn: Some(format!("{:013}", i)),
            available: true,
        })
        .collect();
    let books = store
        .write_tx(|tx| tx.catalog().insert_books(&fields, at(0)))
        .unwrap();
    assert_eq!(books.len(), 2500);
    for (book, fields) in books.iter().zip(&fields) {
        let stored = store
            .read_tx(|tx| tx.catalog().book(book.id))
            .unwrap()
            .unwrap();
        assert_eq!(
            (stored.title.as_str(), stored.isbn.as_deref()),
            (fields.title.as_str(), fields.isbn.as_deref())
        );
        assert_eq!(stored.author_name, "Many");
    }
    let taken = store
        .read_tx(|tx| {
            tx.catalog()
                .isbns_in_use(&["0000000000007".into(), "9999999999999".into()])
        })
        .unwrap();
    assert_eq!(taken, ["0000000000007"]);
    let existing = store
        .read_tx(|tx| tx.catalog().existing_authors(&[author_id, author_id + 1]))
        .unwrap();
    assert_eq!(existing, [author_id]);
}

/// An admin's subscription of `url` to every event.
fn subscription_fields(url: &str) -> WebhookFields {
    WebhookFields {
        url: url.into(),
        url_password: None,
        owner: None,
        options: Default::default(),
        events: vec![EventPattern::Everything],
        secret: "my-secret-key".into(),
        is_active: true,
        headers: vec![("X-Tenant".into(), "library-1".into())],
        description: String::new(),
    }
}

fn subscribe(store: &DieselStore, url: &str, pattern: &str) -> libris_domain::webhooks::Webhook {
    let fields = WebhookFields {
        events: vec![EventPattern::parse(pattern).unwrap()],
        ..subscription_fields(url)
    };
    // Created before the events of these tests, which happen at `at(0)` or later.
    store
        .write_tx(|tx| tx.subscriptions().insert_webhook(&fields, at(-10)))
        .unwrap()
}

fn delivered(outcome: Outcome) -> AttemptReport {
    AttemptReport {
        status: Some(200),
        response_body: "ok".into(),
        error: None,
        duration_ms: 3,
        outcome,
    }
}

/// One webhook fan-out step, as the workers run it.
fn fan_out(store: &DieselStore, batch: i64) -> Dispatched {
    dispatch(store, &fixed_clock(), &WebhookFanOut, batch).unwrap()
}

fn fan_out_claim_and_record_run_through_the_store(store: &DieselStore) {
    let hook = subscribe(store, "http://127.0.0.1:9/hook", "book.*");
    subscribe(store, "http://127.0.0.1:9/authors", "author.deleted");
    let book = new_book(store, "Dune", new_author(store, "A"), None).unwrap();
    assert_eq!(
        fan_out(store, 100),
        Dispatched::Handled {
            events: 2,
            queued: 1
        }
    );
    assert_eq!(fan_out(store, 100), Dispatched::EmptyQueue);

    let queue = WebhookQueue::default();
    let claim = |tx: &mut dyn libris_application::Tx| {
        let due = queue.due(tx, at(0), 10, &[])?;
        let ids: Vec<i64> = due.iter().map(|c| c.id).collect();
        queue.lease(tx, &ids, at(15))
    };
    let jobs = store.write_tx(claim).unwrap();
    assert_eq!(jobs.len(), 1);
    let job = &jobs[0];
    assert_eq!(job.target, hook.id.to_string());
    assert_eq!(
        job.message.headers,
        [("X-Tenant".to_owned(), "library-1".to_owned())]
    );
    let body: serde_json::Value = serde_json::from_slice(&job.message.body).unwrap();
    assert_eq!(
        (body["event"].as_str(), body["data"]["id"].as_i64()),
        (Some("book.created"), Some(book))
    );
    assert!(store.write_tx(claim).unwrap().is_empty(), "leased");

    let report = delivered(Outcome::Delivered);
    let attempt = Attempt {
        job,
        report: &report,
        next: job.progress.after(&report, &Default::default(), 0.0, at(1)),
    };
    let logs = store
        .write_tx(|tx| queue.record(tx, &[attempt], at(1)))
        .unwrap();
    assert_eq!((logs.len(), logs[0].attempt, logs[0].success), (1, 1, true));
    let stored = store
        .read_tx(|tx| tx.deliveries().delivery(job.id))
        .unwrap()
        .unwrap();
    assert_eq!(
        (stored.status, stored.attempts),
        (DeliveryStatus::Delivered, 1)
    );
    let filter = AttemptLogFilter {
        webhook_id: Some(hook.id),
        ..AttemptLogFilter::default()
    };
    let listed = store
        .read_tx(|tx| tx.deliveries().list_attempt_logs(&filter, Page::default()))
        .unwrap();
    assert_eq!(listed.count, 1);
    assert_eq!(
        listed.results[0].payload,
        String::from_utf8(job.message.body.clone()).unwrap()
    );
}

/// The names of the events `consumer` still has to handle, oldest first.
fn marked_for(store: &DieselStore, consumer: &str) -> Vec<String> {
    store
        .write_tx(|tx| tx.outbox().claim_events(consumer, 100))
        .unwrap()
        .into_iter()
        .map(|e| e.data["name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn each_consumer_has_its_own_marks_and_a_late_one_starts_with_later_events(store: &DieselStore) {
    new_author(store, "Before");
    store
        .write_tx(|tx| {
            tx.outbox()
                .register_consumer("late", &[EventPattern::parse("author.*").unwrap()])
        })
        .unwrap();
    new_author(store, "After");
    new_book(store, "Dune", new_author(store, "Herbert"), None).unwrap();
    assert_eq!(
        marked_for(store, "late"),
        ["After", "Herbert"],
        "only its own patterns, and nothing from before it registered"
    );
    assert_eq!(
        marked_for(store, WebhookFanOut::NAME).len(),
        4,
        "webhook fan-out still sees everything"
    );

    // Handling its events clears only its own marks.
    let late = store
        .write_tx(|tx| tx.outbox().claim_events("late", 100))
        .unwrap();
    let ids: Vec<_> = late.iter().map(|e| e.id).collect();
    store
        .write_tx(|tx| tx.outbox().mark_dispatched("late", &ids))
        .unwrap();
    assert!(marked_for(store, "late").is_empty());
    assert_eq!(marked_for(store, WebhookFanOut::NAME).len(), 4);

    // Registering again (a restart, a second instance) changes nothing.
    store
        .write_tx(|tx| {
            tx.outbox()
                .register_consumer("late", &[EventPattern::parse("author.*").unwrap()])
        })
        .unwrap();
    new_author(store, "Later");
    assert_eq!(marked_for(store, "late"), ["Later"]);
}

fn a_borrow_that_rolls_back_leaves_no_email_and_a_committed_one_mails_once(store: &DieselStore) {
    let mail = LoanMail {
        reminder_before: chrono::Duration::days(2),
    };
    libris_application::engine::consumers::register(store, &mail).unwrap();
    register(store, "root", true);
    let member = register(store, "ada", false);
    let book = new_book(store, "Dune", new_author(store, "Herbert"), None).unwrap();
    let borrowed = DomainEvent::BookBorrowed {
        book: BookSnapshot {
            id: book,
            title: "Dune".into(),
            author: "Herbert".into(),
            author_id: 1,
            isbn: None,
            available: false,
        },
        user: UserRef {
            id: member,
            username: "ada".into(),
        },
        loan: LoanSnapshot {
            id: 1,
            borrowed_at: at(0),
            due_at: at(14 * 86_400),
            returned_at: None,
        },
    };
    let context = EventContext {
        user: None,
        at: at(0),
    };
    let rolled_back: Result<(), Forced> = store.write_tx(|tx| {
        record(tx, &context, &borrowed)?;
        Err(Forced)
    });
    assert!(rolled_back.is_err());
    let handle = |store: &DieselStore| dispatch(store, &fixed_clock(), &mail, 100).unwrap();
    assert_eq!(handle(store), Dispatched::EmptyQueue, "nothing marked");

    store
        .write_tx(|tx| record(tx, &context, &borrowed).map(drop))
        .unwrap();
    assert_eq!(
        handle(store),
        Dispatched::Handled {
            events: 1,
            queued: 3
        },
        "the admin's email, the member's reminder and overdue notice"
    );
    assert_eq!(handle(store), Dispatched::EmptyQueue);
    let queued = store
        .read_tx(|tx| {
            tx.notifications()
                .list_notifications(&Default::default(), Page::default())
        })
        .unwrap();
    assert_eq!(queued.count, 3);
}

fn a_webhooks_options_and_owner_round_trip_and_scope_its_lists(store: &DieselStore) {
    use libris_domain::payload::{parse_content_type, Filter, PayloadFormat, Template};
    use libris_domain::webhooks::{HttpMethod, WebhookOptions};

    let member = register(store, "ada", false);
    let content_type = parse_content_type("text/plain; charset=utf-8").unwrap();
    let options = WebhookOptions {
        method: HttpMethod::Patch,
        payload_format: PayloadFormat::Template,
        payload_template: Some(Template::parse("Borrowed {{data.title}}", &content_type).unwrap()),
        content_type,
        filter: Filter::parse(&serde_json::json!({"data.author_id": 3})).unwrap(),
    };
    let fields = WebhookFields {
        url: "https://93.184.216.34/hook".into(),
        url_password: None,
        owner: Some(member),
        options: options.clone(),
        events: vec![EventPattern::Everything],
        secret: "my-secret-key".into(),
        is_active: true,
        headers: vec![],
        description: String::new(),
    };
    let mine = store
        .write_tx(|tx| tx.subscriptions().insert_webhook(&fields, at(-10)))
        .unwrap();
    assert_eq!((mine.owner, &mine.options), (Some(member), &options));
    let admins = subscribe(store, "http://127.0.0.1:9/hook", "*");
    assert_eq!(admins.owner, None);
    assert_eq!(admins.options, WebhookOptions::default());

    let listed = |owner| {
        store
            .read_tx(|tx| tx.subscriptions().list_webhooks(owner, Page::default()))
            .unwrap()
            .results
            .into_iter()
            .map(|w| w.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(listed(Some(member)), [mine.id]);
    assert_eq!(listed(None).len(), 2);
    assert_eq!(
        store
            .read_tx(|tx| tx.subscriptions().count_owned_webhooks(member))
            .unwrap(),
        1
    );

    // A book by author 3 reaches the member's webhook only if it is about
    // the member; it is about nobody, so only the admin's gets it.
    new_book(store, "Dune", new_author(store, "Herbert"), None).unwrap();
    while fan_out(store, 100) != Dispatched::EmptyQueue {}
    let deliveries = |owner| {
        let filter = libris_application::ports::DeliveryFilter {
            owner,
            ..Default::default()
        };
        store
            .read_tx(|tx| tx.deliveries().list_deliveries(&filter, Page::default()))
            .unwrap()
            .count
    };
    assert_eq!(deliveries(Some(member)), 0);
    assert_eq!(
        deliveries(None),
        3,
        "user.created, author.created and book.created"
    );
}

fn claim_ids(store: &DieselStore, now: i64, limit: i64) -> Vec<i64> {
    let claimed = store
        .write_tx(|tx| {
            let due = tx.deliveries().due_deliveries(at(now), limit, &[])?;
            let ids: Vec<_> = due.iter().map(|(id, _)| *id).collect();
            tx.deliveries().lease_deliveries(&ids, at(now + 15))
        })
        .unwrap();
    claimed.into_iter().map(|c| c.delivery.id).collect()
}

fn concurrent_claims_never_share_a_delivery(store: &DieselStore) {
    subscribe(store, "http://127.0.0.1:9/hook", "*");
    let author = new_author(store, "A");
    for i in 0..60 {
        new_book(store, &format!("B{i}"), author, None).unwrap();
    }
    while fan_out(store, 25) != Dispatched::EmptyQueue {}
    let store = Arc::new(store);
    let claimed: Vec<i64> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..4)
            .map(|_| {
                let store = Arc::clone(&store);
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let batch = claim_ids(&store, 1, 7);
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch);
                    }
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| w.join().unwrap())
            .collect()
    });
    let mut unique = claimed.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(
        claimed.len(),
        61,
        "every delivery claimed (60 books, 1 author)"
    );
    assert_eq!(unique.len(), claimed.len(), "no delivery claimed twice");
}

fn an_expired_lease_makes_a_delivery_due_again(store: &DieselStore) {
    subscribe(store, "http://127.0.0.1:9/hook", "author.*");
    new_author(store, "A");
    fan_out(store, 10);
    let first = claim_ids(store, 0, 10);
    assert_eq!(first.len(), 1);
    assert!(
        claim_ids(store, 10, 10).is_empty(),
        "the lease holds for 15 s"
    );
    assert_eq!(
        claim_ids(store, 16, 10),
        first,
        "a dead worker's lease expires"
    );
}

fn operators_make_due_count_and_prune_deliveries(store: &DieselStore) {
    subscribe(store, "http://127.0.0.1:9/hook", "author.*");
    new_author(store, "A");
    new_author(store, "B");
    fan_out(store, 10);
    let later =
        |tx: &mut dyn libris_application::Tx| tx.deliveries().due_deliveries(at(-5), 10, &[]);
    assert!(
        store.write_tx(later).unwrap().is_empty(),
        "nothing is due before its time"
    );
    let made_due = store
        .write_tx(|tx| tx.deliveries().make_deliveries_due(None, &[], at(-5)))
        .unwrap();
    assert_eq!(made_due, 2);
    assert_eq!(store.write_tx(later).unwrap().len(), 2);

    let first = claim_ids(store, 0, 1)[0];
    let delivery = store
        .read_tx(|tx| tx.deliveries().delivery(first))
        .unwrap()
        .unwrap();
    let dead = libris_domain::webhooks::Delivery {
        status: DeliveryStatus::Dead,
        attempts: 3,
        ..delivery
    };
    store
        .write_tx(|tx| {
            tx.deliveries()
                .save_delivery(dead.id, &dead.progress(), at(1))
        })
        .unwrap();
    assert_eq!(
        store
            .read_tx(|tx| tx
                .deliveries()
                .count_deliveries_since(DeliveryStatus::Dead, at(0)))
            .unwrap(),
        1
    );
    assert_eq!(
        store
            .read_tx(|tx| tx
                .deliveries()
                .count_deliveries_since(DeliveryStatus::Dead, at(2)))
            .unwrap(),
        0
    );

    let requeued = store
        .write_tx(|tx| tx.deliveries().make_deliveries_due(None, &[first], at(3)))
        .unwrap();
    assert_eq!(requeued, 1);
    let again = store
        .read_tx(|tx| tx.deliveries().delivery(first))
        .unwrap()
        .unwrap();
    assert_eq!(
        (again.status, again.retry_base),
        (DeliveryStatus::Pending, 3)
    );

    store
        .write_tx(|tx| {
            tx.deliveries()
                .save_delivery(dead.id, &dead.progress(), at(4))
        })
        .unwrap();
    let pruned = store
        .write_tx(|tx| tx.deliveries().prune_deliveries(at(5)))
        .unwrap();
    assert_eq!(pruned, (1, 0), "the dead one goes, the pending one stays");
    let left = store
        .read_tx(|tx| {
            tx.deliveries()
                .list_deliveries(&Default::default(), Page::default())
        })
        .unwrap();
    assert_eq!(left.count, 1);
}

fn inbound_event(message_id: &str, event: &str, status: InboundStatus) -> NewInboundEvent {
    NewInboundEvent {
        message_id: message_id.into(),
        event: Some(event.into()),
        scheme: SignatureScheme::StandardWebhooks,
        status,
        payload: serde_json::json!({"type": event, "data": {"n": 1}}),
        received_at: at(5),
    }
}

fn an_inbound_message_is_stored_once_even_when_its_copies_race(store: &DieselStore) {
    let first = inbound_event("msg_1", "webhook.test", InboundStatus::Processed);
    let stored = store
        .write_tx(|tx| tx.inbound().insert_inbound_event(&first))
        .unwrap();
    assert_eq!(
        (
            stored.message_id.as_str(),
            stored.received_at,
            &stored.payload
        ),
        ("msg_1", at(5), &first.payload)
    );
    let again = store.write_tx(|tx| tx.inbound().insert_inbound_event(&first));
    assert!(
        matches!(again, Err(StoreError::UniqueViolation(_))),
        "{again:?}"
    );
    let other = inbound_event("msg_2", "invoice.paid", InboundStatus::Ignored);
    store
        .write_tx(|tx| tx.inbound().insert_inbound_event(&other))
        .unwrap();
    assert!(store
        .read_tx(|tx| tx.inbound().inbound_message_exists("msg_2"))
        .unwrap());
    assert!(!store
        .read_tx(|tx| tx.inbound().inbound_message_exists("msg_3"))
        .unwrap());

    let ignored = InboundFilter {
        status: Some(InboundStatus::Ignored),
        ..InboundFilter::default()
    };
    let listed = store
        .read_tx(|tx| {
            tx.inbound()
                .list_inbound_events(&ignored, Page::new(None, None))
        })
        .unwrap();
    assert_eq!(listed.count, 1);
    assert_eq!(listed.results[0].message_id, "msg_2");
    assert_eq!(listed.results[0].scheme, SignatureScheme::StandardWebhooks);

    // Copies of one message arriving at once: one is handled, the rest are
    // acknowledged as duplicates, and one row remains.
    let mut verifier = MockInboundVerifier::new();
    verifier.expect_verify_hex().returning(|_, _| true);
    let body = br#"{"id":"msg_race","event":"webhook.test"}"#;
    let receipts: Vec<Receipt> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    let request = InboundRequest {
                        body,
                        x_webhook_signature: Some("sha256=checked-by-the-mock"),
                        ..InboundRequest::default()
                    };
                    inbound::receive(store, &fixed_clock(), Some(&verifier), &request).unwrap()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = receipts
        .iter()
        .filter(|r| matches!(r, Receipt::Accepted(_)))
        .count();
    assert_eq!(accepted, 1, "{receipts:?}");
    let all = store
        .read_tx(|tx| {
            tx.inbound()
                .list_inbound_events(&InboundFilter::default(), Page::new(None, None))
        })
        .unwrap();
    assert_eq!(all.count, 3);
}

/// Two transactions that both found the message new and both insert it: on
/// PostgreSQL they really overlap (on SQLite write transactions queue, so the
/// second would see the first's row), and the unique index refuses the second,
/// which the receive use case answers as a duplicate.
#[test]
fn overlapping_inserts_of_one_message_id_leave_one_row_on_postgres() {
    let Some(database) = TestDatabase::postgres() else {
        return;
    };
    let fixture = open(database);
    let store = &fixture.store;
    let both_checked = std::sync::Barrier::new(2);
    let twin = inbound_event("msg_twin", "webhook.test", InboundStatus::Processed);
    let results: Vec<Result<_, StoreError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    store.write_tx(|tx| {
                        let seen = tx.inbound().inbound_message_exists("msg_twin")?;
                        both_checked.wait();
                        if seen {
                            return Err(StoreError::Unexpected("seen before inserting".into()));
                        }
                        tx.inbound().insert_inbound_event(&twin)
                    })
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let inserted = results.iter().filter(|r| r.is_ok()).count();
    let refused = results
        .iter()
        .filter(|r| matches!(r, Err(StoreError::UniqueViolation(_))))
        .count();
    assert_eq!((inserted, refused), (1, 1), "{results:?}");
    let stored = store
        .read_tx(|tx| {
            tx.inbound()
                .list_inbound_events(&InboundFilter::default(), Page::new(None, None))
        })
        .unwrap();
    assert_eq!(stored.count, 1);
}

/// SQLite's log is checkpointed by the store's own thread, not inside commits
/// (automatic checkpoints are off): after a burst the log must still come
/// back to its 4 MiB limit while small writes go on, or it would grow forever.
#[test]
fn the_sqlite_log_is_checkpointed_and_cut_back_after_a_burst() {
    const LIMIT: u64 = 4 * 1024 * 1024;
    let database = TestDatabase::sqlite();
    let wal = format!("{}-wal", database.url().trim_start_matches("sqlite://"));
    let fixture = open(database);
    let store = &fixture.store;
    let event = |n: usize| NewEvent {
        name: "bench.filled".into(),
        data: serde_json::json!({"n": n, "padding": "x".repeat(4096)}),
        user: None,
        at: at(0),
        about: None,
    };
    store
        .write_tx(|tx| (0..2_500).try_for_each(|n| tx.outbox().append_event(&event(n)).map(drop)))
        .unwrap();
    let wal_size = || std::fs::metadata(&wal).map_or(0, |m| m.len());
    let burst = wal_size();
    assert!(
        burst > 2 * LIMIT,
        "the burst should overflow the limit: {burst} bytes"
    );

    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let mut n = 0;
    while wal_size() > LIMIT {
        assert!(
            std::time::Instant::now() < deadline,
            "the log stayed at {} bytes after the burst",
            wal_size()
        );
        n += 1;
        store
            .write_tx(|tx| tx.outbox().append_event(&event(n)).map(drop))
            .unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The email queue, on both backends like the rest.
mod notification_queue {
    use std::sync::Mutex;

    use libris_application::ports::{
        LeasedNotification, NewNotification, NewUser, NotificationFilter, ProfileChanges,
    };
    use libris_application::Paged;
    use libris_domain::accounts::Profile;
    use libris_domain::delivery::Progress;
    use libris_domain::notifications::{
        Email as Message, Notification, NotificationKind, NotificationStatus,
    };
    use uuid::Uuid;

    use super::*;

    on_both_backends!(
        an_events_email_is_queued_once_per_recipient,
        a_loan_gets_one_reminder_and_one_overdue_notice,
        a_notification_is_due_then_leased_then_saved_as_sent_or_retried,
        excluded_recipients_are_not_claimed,
        cancelling_a_loan_deletes_only_its_pending_unleased_notices,
        notifications_list_newest_first_by_status_and_channel,
        concurrent_claims_never_share_a_notification,
        admins_and_subscribed_members_have_notification_addresses,
        the_backlog_counts_due_emails_and_pruning_keeps_pending_ones,
        a_returned_loans_reminder_is_never_claimed,
    );

    fn message(to: &str) -> Message {
        Message {
            to: to.into(),
            subject: format!("Hello {to}"),
            body: "A book was borrowed.".into(),
        }
    }

    /// An email about `event` to `to`, due at `at(due)`, made at `at(0)`.
    fn about_event(event: Uuid, to: &str, due: i64) -> NewNotification {
        NewNotification {
            kind: NotificationKind::Event,
            email: message(to),
            event_id: Some(event),
            loan_id: None,
            due_at: at(due),
            created_at: at(0),
        }
    }

    /// A reminder or notice about `loan` (no foreign key: any id will do).
    fn about_loan(loan: i64, kind: NotificationKind, to: &str, due: i64) -> NewNotification {
        NewNotification {
            kind,
            event_id: None,
            loan_id: Some(loan),
            ..about_event(Uuid::nil(), to, due)
        }
    }

    fn queue(store: &DieselStore, new: &[NewNotification]) -> usize {
        store
            .write_tx(|tx| tx.notifications().insert_notifications(new))
            .unwrap()
    }

    /// Claims what is due at `at(now)` as a worker does, leasing it for 15 s.
    fn lease_due(
        store: &DieselStore,
        now: i64,
        limit: i64,
        exclude: &[String],
    ) -> Vec<LeasedNotification> {
        store
            .write_tx(|tx| {
                let due = tx
                    .notifications()
                    .due_notifications(at(now), limit, exclude)?;
                let ids: Vec<_> = due.iter().map(|(id, _)| *id).collect();
                tx.notifications().lease_notifications(&ids, at(now + 15))
            })
            .unwrap()
    }

    /// The recipients [`lease_due`] leased, in claim order.
    fn claim(store: &DieselStore, now: i64, limit: i64, exclude: &[String]) -> Vec<String> {
        let leased = lease_due(store, now, limit, exclude);
        leased.into_iter().map(|n| n.email.to).collect()
    }

    fn list(store: &DieselStore, filter: NotificationFilter) -> Paged<Notification> {
        store
            .read_tx(|tx| {
                tx.notifications()
                    .list_notifications(&filter, Page::new(None, None))
            })
            .unwrap()
    }

    fn all(store: &DieselStore) -> Paged<Notification> {
        list(store, NotificationFilter::default())
    }

    fn with_status(status: DeliveryStatus) -> NotificationFilter {
        NotificationFilter {
            status: Some(NotificationStatus(status)),
            ..NotificationFilter::default()
        }
    }

    fn an_events_email_is_queued_once_per_recipient(store: &DieselStore) {
        let event = Uuid::new_v4();
        let first = [
            about_event(event, "root@example.com", 0),
            about_event(event, "ops@example.com", 0),
        ];
        assert_eq!(queue(store, &first), 2);
        let again = [
            about_event(event, "root@example.com", 0),
            about_event(Uuid::new_v4(), "root@example.com", 0),
        ];
        assert_eq!(queue(store, &again), 1, "only the other event's email");
        // A skipped duplicate does not spoil the transaction it is in.
        let after_a_duplicate = store
            .write_tx(|tx| {
                tx.notifications().insert_notifications(&[about_event(
                    event,
                    "ops@example.com",
                    0,
                )])?;
                tx.notifications()
                    .insert_notifications(&[about_event(event, "new@example.com", 0)])
            })
            .unwrap();
        assert_eq!(after_a_duplicate, 1);
        assert_eq!(all(store).count, 4);
    }

    fn a_loan_gets_one_reminder_and_one_overdue_notice(store: &DieselStore) {
        let reminder = about_loan(7, NotificationKind::LoanReminder, "ann@example.com", 60);
        let overdue = about_loan(7, NotificationKind::OverdueNotice, "ann@example.com", 120);
        assert_eq!(queue(store, &[reminder.clone(), overdue.clone()]), 2);
        assert_eq!(queue(store, std::slice::from_ref(&reminder)), 0);
        assert_eq!(queue(store, &[overdue]), 0);
        let other_loan = about_loan(8, NotificationKind::LoanReminder, "ann@example.com", 60);
        assert_eq!(queue(store, &[reminder, other_loan]), 1);
        let listed = all(store);
        assert_eq!(listed.count, 3);
        assert!(listed.results.iter().all(|n| n.event_id.is_none()));
    }

    fn a_returned_loans_reminder_is_never_claimed(store: &DieselStore) {
        let member = register(store, "ann", false);
        let book = new_book(store, "Dune", new_author(store, "Herbert"), None).unwrap();
        let loan = store
            .write_tx(|tx| {
                tx.lending()
                    .insert_loan(&libris_application::ports::NewLoan {
                        book_id: book,
                        book_title: "Dune".into(),
                        user_id: member,
                        borrowed_at: at(0),
                        due_at: at(60),
                    })
            })
            .unwrap();
        queue(
            store,
            &[about_loan(
                loan.id,
                NotificationKind::LoanReminder,
                "ann@example.com",
                0,
            )],
        );
        store
            .write_tx(|tx| tx.lending().close_loan(loan.id, at(1)).map(drop))
            .unwrap();
        assert!(
            claim(store, 10, 10, &[]).is_empty(),
            "the book came back before the reminder went out"
        );
    }

    fn the_backlog_counts_due_emails_and_pruning_keeps_pending_ones(store: &DieselStore) {
        let reminder = about_loan(7, NotificationKind::LoanReminder, "ann@example.com", 60);
        queue(
            store,
            &[
                reminder,
                about_event(Uuid::new_v4(), "root@example.com", 0),
                about_event(Uuid::new_v4(), "ops@example.com", 5),
            ],
        );
        let backlog = |now| {
            store
                .read_tx(|tx| tx.notifications().due_backlog(at(now)))
                .unwrap()
        };
        assert_eq!(backlog(10), (2, Some(at(0))), "the reminder is not due yet");
        assert_eq!(backlog(100), (3, Some(at(0))));

        let sent = lease_due(store, 10, 1, &[]).remove(0);
        let done = Progress {
            status: DeliveryStatus::Delivered,
            attempts: 1,
            ..sent.progress.clone()
        };
        store
            .write_tx(|tx| tx.notifications().save_notification(sent.id, &done, at(11)))
            .unwrap();
        let pruned = store
            .write_tx(|tx| tx.notifications().prune_notifications(at(1000)))
            .unwrap();
        assert_eq!(pruned, 1, "only the sent one goes");
        assert_eq!(backlog(100).0, 2, "pending ones stay whatever their age");
    }

    fn a_notification_is_due_then_leased_then_saved_as_sent_or_retried(store: &DieselStore) {
        let reminder = about_loan(7, NotificationKind::LoanReminder, "ann@example.com", 60);
        queue(
            store,
            &[reminder, about_event(Uuid::new_v4(), "root@example.com", 0)],
        );
        let leased = lease_due(store, 1, 10, &[]);
        let recipients: Vec<_> = leased.iter().map(|n| n.email.to.as_str()).collect();
        assert_eq!(
            recipients,
            ["root@example.com"],
            "the reminder is not due yet"
        );
        assert!(claim(store, 2, 10, &[]).is_empty(), "leased for 15 s");

        let root = &leased[0];
        assert_eq!(root.email, message("root@example.com"));
        let sent = Progress {
            status: DeliveryStatus::Delivered,
            attempts: 1,
            ..root.progress.clone()
        };
        store
            .write_tx(|tx| tx.notifications().save_notification(root.id, &sent, at(3)))
            .unwrap();
        let delivered = list(store, with_status(DeliveryStatus::Delivered));
        assert_eq!(delivered.count, 1);
        let stored = &delivered.results[0];
        assert_eq!(
            (stored.status.as_str(), stored.channel.as_str()),
            ("sent", "email")
        );
        assert_eq!(
            (stored.id, stored.attempts, stored.sent_at),
            (root.id, 1, Some(at(3)))
        );
        assert!(
            claim(store, 30, 10, &[]).is_empty(),
            "a sent email is never due again, its lease long over"
        );

        let leased = lease_due(store, 60, 10, &[]);
        assert_eq!(leased.len(), 1, "the reminder, due at 60 s");
        let reminder = &leased[0];
        assert_eq!(
            (
                reminder.progress.status,
                reminder.progress.attempts,
                reminder.progress.next_attempt_at
            ),
            (DeliveryStatus::Pending, 0, at(60))
        );
        let retry = Progress {
            attempts: 1,
            next_attempt_at: at(70),
            last_error: Some("421 try again later".into()),
            ..reminder.progress.clone()
        };
        store
            .write_tx(|tx| {
                tx.notifications()
                    .save_notification(reminder.id, &retry, at(61))
            })
            .unwrap();
        assert!(claim(store, 69, 10, &[]).is_empty(), "not before its retry");
        let retried = list(store, with_status(DeliveryStatus::Pending));
        assert_eq!(retried.count, 1);
        let stored = &retried.results[0];
        assert_eq!(
            (
                stored.attempts,
                stored.last_error.as_deref(),
                stored.sent_at
            ),
            (1, Some("421 try again later"), None)
        );
        let again = lease_due(store, 70, 10, &[]);
        assert_eq!(
            (again[0].id, again[0].progress.attempts),
            (reminder.id, 1),
            "due at its retry: saving released the lease (held until 75 s)"
        );
    }

    fn excluded_recipients_are_not_claimed(store: &DieselStore) {
        let event = Uuid::new_v4();
        queue(
            store,
            &[
                about_event(event, "busy@example.com", 0),
                about_event(event, "free@example.com", 1),
            ],
        );
        let busy = ["busy@example.com".to_owned()];
        assert_eq!(claim(store, 5, 10, &busy), ["free@example.com"]);
        assert_eq!(claim(store, 5, 10, &[]), ["busy@example.com"]);
    }

    fn cancelling_a_loan_deletes_only_its_pending_unleased_notices(store: &DieselStore) {
        let ann = "ann@example.com";
        queue(
            store,
            &[
                about_loan(7, NotificationKind::OverdueNotice, ann, 0),
                about_loan(7, NotificationKind::LoanReminder, ann, 60),
                about_loan(8, NotificationKind::LoanReminder, ann, 60),
            ],
        );
        assert_eq!(claim(store, 1, 10, &[]), [ann], "loan 7's overdue notice");
        let cancelled = store
            .write_tx(|tx| tx.notifications().cancel_loan_notifications(7))
            .unwrap();
        assert_eq!(
            cancelled, 1,
            "the reminder; the leased notice is being sent"
        );
        let left = all(store);
        assert_eq!(left.count, 2);
        let kinds: Vec<_> = left.results.iter().map(|n| n.kind).collect();
        assert_eq!(
            kinds,
            [
                NotificationKind::LoanReminder,
                NotificationKind::OverdueNotice
            ],
            "loan 8's reminder and loan 7's leased notice, newest first"
        );
        let none = store
            .write_tx(|tx| tx.notifications().cancel_loan_notifications(9))
            .unwrap();
        assert_eq!(none, 0);
    }

    fn notifications_list_newest_first_by_status_and_channel(store: &DieselStore) {
        let event = Uuid::new_v4();
        let recipients = ["a@example.com", "b@example.com", "c@example.com"];
        let new: Vec<_> = recipients
            .iter()
            .map(|to| about_event(event, to, 0))
            .collect();
        queue(store, &new);
        let oldest = all(store).results.last().unwrap().id;
        let dead = Progress {
            status: DeliveryStatus::Dead,
            attempts: 9,
            retry_base: 0,
            next_attempt_at: at(0),
            last_error: Some("550 no such user".into()),
        };
        store
            .write_tx(|tx| tx.notifications().save_notification(oldest, &dead, at(1)))
            .unwrap();

        let listed = all(store);
        let to: Vec<_> = listed.results.iter().map(|n| n.email.to.as_str()).collect();
        assert_eq!(to, ["c@example.com", "b@example.com", "a@example.com"]);
        let pending = list(store, with_status(DeliveryStatus::Pending));
        assert_eq!(pending.count, 2);
        let dead = list(store, with_status(DeliveryStatus::Dead));
        assert_eq!((dead.count, dead.results[0].id), (1, oldest));
        assert_eq!(list(store, with_status(DeliveryStatus::Failed)).count, 0);
        let page = store
            .read_tx(|tx| {
                tx.notifications()
                    .list_notifications(&NotificationFilter::default(), Page::new(Some(1), Some(1)))
            })
            .unwrap();
        assert_eq!(
            (page.count, page.results[0].email.to.as_str()),
            (3, "b@example.com")
        );
        let by_channel = |channel: &str| {
            list(
                store,
                NotificationFilter {
                    channel: Some(channel.into()),
                    ..NotificationFilter::default()
                },
            )
            .count
        };
        assert_eq!((by_channel("email"), by_channel("sms")), (3, 0));
    }

    fn concurrent_claims_never_share_a_notification(store: &DieselStore) {
        let event = Uuid::new_v4();
        let new: Vec<_> = (0..60)
            .map(|i| about_event(event, &format!("r{i}@example.com"), 0))
            .collect();
        assert_eq!(queue(store, &new), 60);
        let claimed: Vec<String> = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        let mut mine = Vec::new();
                        loop {
                            let batch = claim(store, 1, 7, &[]);
                            if batch.is_empty() {
                                return mine;
                            }
                            mine.extend(batch);
                        }
                    })
                })
                .collect();
            workers
                .into_iter()
                .flat_map(|w| w.join().unwrap())
                .collect()
        });
        let mut unique = claimed.clone();
        unique.sort_unstable();
        unique.dedup();
        assert_eq!(claimed.len(), 60, "every notification claimed");
        assert_eq!(unique.len(), 60, "no notification claimed twice");
    }

    /// A user inserted as the store sees it, with whatever email (even none).
    fn user_with(store: &DieselStore, username: &str, email: &str, is_admin: bool) -> i64 {
        let user = NewUser {
            username: username.into(),
            email: email.into(),
            password_hash: Some("hash".into()),
            is_admin,
            at: at(0),
        };
        store
            .write_tx(|tx| {
                let user = tx.accounts().insert_user(&user)?;
                tx.accounts().insert_profile(user.id, &Profile::default())?;
                Ok::<_, StoreError>(user.id)
            })
            .unwrap()
    }

    fn admins_and_subscribed_members_have_notification_addresses(store: &DieselStore) {
        let ann = register(store, "ann", false);
        let bob = register(store, "bob", false);
        register(store, "root", true);
        user_with(store, "mute", "", true);
        let nameless = user_with(store, "nameless", "", false);
        register(store, "ops", true);
        let unsubscribe = ProfileChanges {
            subscribed_to_notifications: Some(false),
            ..ProfileChanges::default()
        };
        store
            .write_tx(|tx| tx.accounts().update_profile(bob, &unsubscribe))
            .unwrap();

        let admins = store.read_tx(|tx| tx.accounts().admin_emails()).unwrap();
        assert_eq!(admins, ["root@example.com", "ops@example.com"]);
        let address = |id| {
            store
                .read_tx(|tx| tx.accounts().notification_address(id))
                .unwrap()
        };
        assert_eq!(address(ann).as_deref(), Some("ann@example.com"));
        assert_eq!(address(bob), None, "unsubscribed");
        assert_eq!(address(nameless), None, "no email");
        assert_eq!(address(ann + 1000), None, "no such member");
    }

    /// A notification due the moment it is queued wakes the email workers
    /// when its transaction commits; a reminder for later does not.
    #[test]
    fn a_notification_due_now_wakes_the_email_workers_on_commit() {
        let databases = [Some(TestDatabase::sqlite()), TestDatabase::postgres()];
        for database in databases.into_iter().flatten() {
            let woken: Arc<Mutex<Vec<Vec<&'static str>>>> = Arc::default();
            let seen = Arc::clone(&woken);
            let store = DieselStore::open(&DatabaseUrl::parse(database.url()).unwrap(), 2)
                .unwrap()
                .with_commit_hook(Arc::new(move |work| seen.lock().unwrap().push(work.due)));
            let later = about_loan(7, NotificationKind::LoanReminder, "ann@example.com", 60);
            queue(&store, &[later]);
            assert!(woken.lock().unwrap().is_empty(), "a reminder waits");
            let now = about_event(Uuid::new_v4(), "root@example.com", 0);
            queue(&store, std::slice::from_ref(&now));
            assert_eq!(*woken.lock().unwrap(), [vec!["email"]]);
            queue(&store, &[now]);
            assert_eq!(
                woken.lock().unwrap().len(),
                1,
                "a skipped duplicate wakes nobody"
            );
            drop(store);
        }
    }
}

/// Full-text book search (docs/search.md), on both backends like the rest.
mod search {
    use diesel::connection::SimpleConnection;
    use libris_application::authors::AuthorUpdate;
    use libris_application::Paged;
    use libris_domain::catalog::Book;

    use super::*;

    on_both_backends!(
        search_matches_word_starts_accents_isbns_and_authors,
        search_ranks_title_matches_first_then_newest_and_pages_across,
        search_combines_with_the_filters,
        changes_and_renames_reach_the_index_in_their_transaction,
        a_rolled_back_change_leaves_no_entry,
        bulk_imported_books_are_found,
        many_matches_and_few_rank_alike,
    );

    fn find(store: &DieselStore, q: &str, filter: BookFilter, page: Page) -> Paged<Book> {
        let filter = BookFilter {
            q: Some(q.into()),
            ..filter
        };
        store
            .read_tx(|tx| tx.catalog().list_books(&filter, page))
            .unwrap()
    }

    fn titles(store: &DieselStore, q: &str) -> Vec<String> {
        let found = find(store, q, BookFilter::default(), Page::default());
        let titles: Vec<String> = found.results.into_iter().map(|b| b.title).collect();
        assert_eq!(
            found.count,
            titles.len() as i64,
            "q={q:?}: count and page agree"
        );
        titles
    }

    fn sorted(mut titles: Vec<String>) -> Vec<String> {
        titles.sort();
        titles
    }

    fn search_matches_word_starts_accents_isbns_and_authors(store: &DieselStore) {
        let herbert = new_author(store, "Frank Herbert");
        let zola = new_author(store, "Émile Zola");
        new_book(store, "Dune", herbert, Some("978-0-441-17271-9")).unwrap();
        new_book(store, "Dune Messiah", herbert, None).unwrap();
        new_book(store, "Children of Dune", herbert, None).unwrap();
        new_book(store, "Germinal", zola, Some("9780140447422")).unwrap();
        new_book(store, "L'Assommoir", zola, None).unwrap();

        assert_eq!(titles(store, "dun mess"), ["Dune Messiah"]);
        assert_eq!(titles(store, "DUNE MESSIAH"), ["Dune Messiah"]);
        assert_eq!(
            sorted(titles(store, "herbert dune")),
            ["Children of Dune", "Dune", "Dune Messiah"]
        );
        assert_eq!(sorted(titles(store, "emile")), ["Germinal", "L'Assommoir"]);
        assert_eq!(
            sorted(titles(store, "ÉMILE zol")),
            ["Germinal", "L'Assommoir"]
        );
        assert_eq!(titles(store, "zola germ"), ["Germinal"]);
        assert_eq!(titles(store, "assommoir"), ["L'Assommoir"]);
        assert_eq!(titles(store, "l'assom"), ["L'Assommoir"]);
        // ISBNs are stored without separators; a query's hyphens join its parts.
        for isbn in [
            "9780441172719",
            "978-0-441-17271-9",
            "978-0-441",
            "97804411",
        ] {
            assert_eq!(titles(store, isbn), ["Dune"], "q={isbn}");
        }
        assert_eq!(
            titles(store, "978-0-140-44742-2"),
            ["Germinal"],
            "hyphens added"
        );
        assert_eq!(titles(store, "978014044"), ["Germinal"]);
        assert!(titles(store, "une").is_empty(), "only the start of a word");
        assert!(
            titles(store, "dune zola").is_empty(),
            "every word must match"
        );
        assert!(titles(store, "%").is_empty(), "no word, no match");
        assert!(titles(store, "\"* AND (").is_empty());
        assert_eq!(titles(store, "\"dune\" AND").len(), 0, "AND is a word here");
        assert_eq!(titles(store, "\"messiah\"*"), ["Dune Messiah"]);
        let long = format!("dune {}", "x".repeat(5000));
        assert!(titles(store, &long).is_empty());
        assert_eq!(
            find(store, "  ", BookFilter::default(), Page::default()).count,
            5
        );
    }

    fn search_ranks_title_matches_first_then_newest_and_pages_across(store: &DieselStore) {
        let herbert = new_author(store, "Frank Herbert");
        let dune_press = new_author(store, "Dune Press");
        new_book(store, "Sandworms", dune_press, None).unwrap();
        new_book(store, "Dune", herbert, None).unwrap();
        new_book(store, "Dune Messiah", herbert, None).unwrap();
        new_book(store, "Spice", dune_press, None).unwrap();

        assert_eq!(
            titles(store, "dune"),
            ["Dune Messiah", "Dune", "Spice", "Sandworms"],
            "title matches first, newest first within each"
        );
        let page = |limit, offset| {
            let found = find(
                store,
                "dune",
                BookFilter::default(),
                Page::new(Some(limit), Some(offset)),
            );
            assert_eq!(found.count, 4);
            found
                .results
                .into_iter()
                .map(|b| b.title)
                .collect::<Vec<_>>()
        };
        assert_eq!(page(1, 1), ["Dune"]);
        assert_eq!(page(2, 1), ["Dune", "Spice"]);
        assert_eq!(
            page(1, 2),
            ["Spice"],
            "a page that starts past the title matches"
        );
        assert_eq!(page(5, 3), ["Sandworms"]);
        assert!(page(5, 4).is_empty());
    }

    fn search_combines_with_the_filters(store: &DieselStore) {
        let herbert = new_author(store, "Frank Herbert");
        let other = new_author(store, "Someone Else");
        let dune = new_book(store, "Dune", herbert, None).unwrap();
        new_book(store, "Dune Messiah", herbert, None).unwrap();
        new_book(store, "Dune Fan Fiction", other, None).unwrap();
        books::update_book(
            store,
            &fixed_clock(),
            &admin_caller(),
            dune,
            BookUpdate {
                title: None,
                author_id: None,
                isbn: None,
                available: Some(false),
            },
        )
        .unwrap();
        let with = |author_id, available| BookFilter {
            author_id,
            available,
            ..BookFilter::default()
        };
        let names = |found: Paged<Book>| {
            assert_eq!(found.count, found.results.len() as i64);
            found
                .results
                .into_iter()
                .map(|b| b.title)
                .collect::<Vec<_>>()
        };
        let page = Page::default();
        assert_eq!(
            names(find(store, "dune", with(Some(herbert), None), page)),
            ["Dune Messiah", "Dune"]
        );
        assert_eq!(
            names(find(store, "dune", with(Some(herbert), Some(true)), page)),
            ["Dune Messiah"]
        );
        assert_eq!(
            names(find(store, "dune", with(None, Some(false)), page)),
            ["Dune"]
        );
        assert_eq!(
            names(find(store, "fan", with(Some(herbert), None), page)),
            Vec::<String>::new()
        );
    }

    fn changes_and_renames_reach_the_index_in_their_transaction(store: &DieselStore) {
        let herbert = new_author(store, "Frank Herbert");
        let dune = new_book(store, "Dune", herbert, Some("9780441172719")).unwrap();
        new_book(store, "Dune Messiah", herbert, None).unwrap();
        let update = BookUpdate {
            title: Some(BookTitle::parse("Arrakis").unwrap()),
            author_id: None,
            isbn: Some(None),
            available: None,
        };
        books::update_book(store, &fixed_clock(), &admin_caller(), dune, update).unwrap();
        assert_eq!(titles(store, "dune"), ["Dune Messiah"]);
        assert_eq!(titles(store, "arrak"), ["Arrakis"]);
        assert!(
            titles(store, "9780441").is_empty(),
            "the cleared ISBN is gone"
        );

        let rename = AuthorUpdate {
            name: Some(AuthorName::parse("Brian Herbert").unwrap()),
            bio: None,
        };
        authors::update_author(store, &fixed_clock(), &admin_caller(), herbert, rename).unwrap();
        assert!(titles(store, "frank").is_empty(), "the old name is gone");
        assert_eq!(
            sorted(titles(store, "brian herb")),
            ["Arrakis", "Dune Messiah"]
        );

        books::delete_book(store, &fixed_clock(), &admin_caller(), dune).unwrap();
        assert!(titles(store, "arrakis").is_empty());
        assert_eq!(titles(store, "brian"), ["Dune Messiah"]);
    }

    fn a_rolled_back_change_leaves_no_entry(store: &DieselStore) {
        let author_id = new_author(store, "Kept");
        let result: Result<(), Forced> = store.write_tx(|tx| {
            let fields = BookFields {
                title: "Doomed Voyage".into(),
                author_id,
                isbn: None,
                available: true,
            };
            tx.catalog().insert_book(&fields, at(1))?;
            let filter = BookFilter {
                q: Some("doomed".into()),
                ..BookFilter::default()
            };
            let inside = tx.catalog().list_books(&filter, Page::default())?;
            assert_eq!(inside.count, 1, "the entry is written with the book");
            Err(Forced)
        });
        assert!(result.is_err());
        assert!(titles(store, "doomed").is_empty());
        assert!(titles(store, "kept").is_empty());
        new_book(store, "Doomed Voyage", author_id, None).unwrap();
        assert_eq!(titles(store, "doomed voy"), ["Doomed Voyage"]);
    }

    fn bulk_imported_books_are_found(store: &DieselStore) {
        let author_id = new_author(store, "Bulk Writer");
        let fields: Vec<BookFields> = (0..1200)
            .map(|i| BookFields {
                title: format!("Volume {i} of the Saga"),
                author_id,
                isbn: Some(format!("{:013}", 9_780_000_000_000_i64 + i)),
                available: true,
            })
            .collect();
        store
            .write_tx(|tx| tx.catalog().insert_books(&fields, at(1)))
            .unwrap();
        let all = find(
            store,
            "saga",
            BookFilter::default(),
            Page::new(Some(10), None),
        );
        assert_eq!(all.count, 1200);
        assert_eq!(
            all.results[0].title, "Volume 1199 of the Saga",
            "newest first"
        );
        assert_eq!(titles(store, "volume 1199"), ["Volume 1199 of the Saga"]);
        assert_eq!(titles(store, "9780000000777"), ["Volume 777 of the Saga"]);
        assert_eq!(
            find(store, "bulk", BookFilter::default(), Page::default()).count,
            1200
        );
    }

    /// The store ranks up to a few hundred matches in one pass and pages
    /// larger sets tier by tier (`search::FEW`): both give the contract's
    /// order, here 700 matches for `dune` and 111 for `dune 1`.
    fn many_matches_and_few_rank_alike(store: &DieselStore) {
        let author_id = new_author(store, "Dune Press");
        let title = |i: i64| {
            if i % 3 == 0 {
                format!("Dune Chronicle {i}")
            } else {
                format!("Sandworm Tale {i}")
            }
        };
        let fields: Vec<BookFields> = (0..700)
            .map(|i| BookFields {
                title: title(i),
                author_id,
                isbn: None,
                available: true,
            })
            .collect();
        store
            .write_tx(|tx| tx.catalog().insert_books(&fields, at(1)))
            .unwrap();
        // Title matches first, then the books found by their author's name;
        // newest (the highest number here) first within each.
        let ranked = |matches: &dyn Fn(i64) -> bool| {
            let newest_first = (0..700).rev().filter(|&i| matches(i));
            let (mut in_title, rest): (Vec<i64>, Vec<i64>) = newest_first.partition(|i| i % 3 == 0);
            in_title.extend(rest);
            in_title.into_iter().map(title).collect::<Vec<_>>()
        };
        let all = ranked(&|_| true);
        let with_1 = ranked(&|i| i.to_string().starts_with('1'));
        assert_eq!((all.len(), with_1.len()), (700, 111));
        for (q, expected) in [("dune", &all), ("dune 1", &with_1)] {
            for (limit, offset) in [(50, 0), (30, 220), (100, 90), (200, 600)] {
                let found = find(
                    store,
                    q,
                    BookFilter::default(),
                    Page::new(Some(limit), Some(offset)),
                );
                assert_eq!(found.count, expected.len() as i64, "q={q:?}");
                let titles: Vec<String> = found.results.into_iter().map(|b| b.title).collect();
                let page: Vec<String> = expected
                    .iter()
                    .skip(offset as usize)
                    .take(limit as usize)
                    .cloned()
                    .collect();
                assert_eq!(titles, page, "q={q:?} limit={limit} offset={offset}");
            }
        }
    }

    /// A database that already has books when the search migration runs:
    /// the migration is undone and the store opened again, as on an upgrade.
    fn books_that_predate_search_are_indexed_when_the_store_opens(database: TestDatabase) {
        let url = DatabaseUrl::parse(database.url()).unwrap();
        let store = DieselStore::open(&url, 2).unwrap();
        let author = new_author(&store, "Ursula K. Le Guin");
        new_book(&store, "The Left Hand of Darkness", author, None).unwrap();
        new_book(
            &store,
            "The Dispossessed",
            author,
            Some("978-0-06-051275-3"),
        )
        .unwrap();
        drop(store);

        let (down, version) = match url.backend {
            libris_store::Backend::Sqlite => (
                include_str!("../../../migrations/sqlite/2026-12-07-000009_book_search/down.sql"),
                "20261207000009",
            ),
            libris_store::Backend::Postgres => (
                include_str!("../../../migrations/postgres/2026-12-07-000009_book_search/down.sql"),
                "20261207000009",
            ),
        };
        let mut conn = url.connect().unwrap();
        conn.batch_execute(down).unwrap();
        conn.batch_execute(&format!(
            "DELETE FROM __diesel_schema_migrations WHERE version = '{version}'"
        ))
        .unwrap();
        drop(conn);

        let store = DieselStore::open(&url, 2).unwrap();
        assert_eq!(
            sorted(titles(&store, "le guin")),
            ["The Dispossessed", "The Left Hand of Darkness"]
        );
        assert_eq!(titles(&store, "9780060512753"), ["The Dispossessed"]);
        assert_eq!(titles(&store, "left dark"), ["The Left Hand of Darkness"]);
        drop(store);
        // Opening again finds nothing queued and changes nothing.
        let store = DieselStore::open(&url, 2).unwrap();
        assert_eq!(titles(&store, "ursula").len(), 2);
        drop(store);
        drop(database);
    }

    #[test]
    fn books_that_predate_search_are_indexed_when_the_store_opens_on_sqlite() {
        books_that_predate_search_are_indexed_when_the_store_opens(TestDatabase::sqlite());
    }

    #[test]
    fn books_that_predate_search_are_indexed_when_the_store_opens_on_postgres() {
        if let Some(database) = TestDatabase::postgres() {
            books_that_predate_search_are_indexed_when_the_store_opens(database);
        }
    }
}

/// The member directory: attributes, filters, unique emails, members without
/// a password, and what a member's delete removes and keeps.
mod member_directory {
    use libris_application::members::{self, MemberError, MemberUpdate, NewMember};
    use libris_application::ports::{MemberFilter, NewUser};
    use libris_domain::accounts::Profile;
    use libris_domain::audit::NewAuditEntry;
    use libris_domain::members::{Phone, Tags, TimeZoneName};

    use super::*;

    on_both_backends!(
        members_are_filtered_by_tag_operator_code_and_text,
        a_change_rewrites_tags_and_derives_the_operator_code,
        emails_are_unique_whatever_their_case_among_members_who_have_one,
        a_member_without_a_password_has_no_credentials,
        a_phone_stored_before_the_rule_is_kept_without_an_operator_code,
        a_delete_removes_the_member_and_keeps_the_history,
        the_last_admin_stays_when_two_admins_demote_each_other_at_once,
        a_borrow_racing_a_delete_never_leaves_an_open_loan_without_its_member,
    );

    fn member(username: &str, phone: &str, tags: &[&str], password: Option<&str>) -> NewMember {
        NewMember {
            username: Username::parse(username).unwrap(),
            email: Some(Email::parse(&format!("{username}@Example.com")).unwrap()),
            password: password.map(|p| Password::parse(p).unwrap()),
            is_admin: false,
            bio: String::new(),
            phone: Phone::parse(phone).unwrap(),
            subscribed_to_notifications: true,
            tags: Tags::parse(tags).unwrap(),
            timezone: TimeZoneName::parse("Europe/Moscow").unwrap(),
        }
    }

    fn create(store: &DieselStore, new: NewMember) -> i64 {
        members::create_member(store, &fixed_clock(), &hasher(), &admin_caller(), new)
            .unwrap()
            .user
            .id
    }

    fn names(store: &DieselStore, filter: MemberFilter) -> Vec<String> {
        members::list_members(store, &admin_caller(), &filter, Page::default())
            .unwrap()
            .results
            .into_iter()
            .map(|a| a.user.username)
            .collect()
    }

    fn members_are_filtered_by_tag_operator_code_and_text(store: &DieselStore) {
        create(store, member("ann", "79161234567", &["vip", "night"], None));
        create(store, member("bob", "+7 903 111 22 33", &["vip"], None));
        create(store, member("car_1", "", &[], None));
        let filter = |tag: &str, code: &str, q: &str| {
            members::member_filter(Some(tag.into()), Some(code.into()), Some(q.into()))
        };
        assert_eq!(names(store, filter("", "", "")), ["car_1", "bob", "ann"]);
        assert_eq!(names(store, filter("VIP", "", "")), ["bob", "ann"]);
        assert_eq!(names(store, filter("night", "", "")), ["ann"]);
        assert_eq!(names(store, filter("vip", "903", "")), ["bob"]);
        assert_eq!(names(store, filter("", "916", "")), ["ann"]);
        assert!(names(store, filter("nobody", "", "")).is_empty());
        // Username or email, case-insensitively; LIKE's wildcards are text.
        assert_eq!(names(store, filter("", "", "BOB@example")), ["bob"]);
        assert_eq!(names(store, filter("", "", "AR_1")), ["car_1"]);
        assert!(
            names(store, filter("", "", "c_r")).is_empty(),
            "_ is no wildcard"
        );
        assert!(
            names(store, filter("", "", "%")).is_empty(),
            "% is no wildcard"
        );
        let page = members::list_members(
            store,
            &admin_caller(),
            &filter("vip", "", ""),
            Page::new(Some(1), Some(1)),
        )
        .unwrap();
        assert_eq!(page.count, 2);
        let ann = &page.results[0];
        assert_eq!(ann.user.username, "ann");
        assert_eq!(ann.profile.tags, ["night", "vip"]);
        assert_eq!(ann.profile.timezone, "Europe/Moscow");
        assert_eq!(ann.profile.operator_code.as_deref(), Some("916"));
    }

    fn a_change_rewrites_tags_and_derives_the_operator_code(store: &DieselStore) {
        let id = create(store, member("ann", "79161234567", &["vip", "night"], None));
        let update = MemberUpdate {
            profile: libris_application::accounts::ProfileUpdate {
                phone: Some(Phone::parse("").unwrap()),
                tags: Some(Tags::parse(&["day"]).unwrap()),
                timezone: Some(TimeZoneName::parse("Asia/Tokyo").unwrap()),
                ..Default::default()
            },
            ..MemberUpdate::default()
        };
        let ann = members::update_member(
            store,
            &fixed_clock(),
            &hasher(),
            &admin_caller(),
            id,
            update,
        )
        .unwrap();
        assert_eq!(ann.profile.phone, "");
        assert_eq!(ann.profile.operator_code, None);
        assert_eq!(ann.profile.tags, ["day"]);
        assert_eq!(ann.profile.timezone, "Asia/Tokyo");
        let by_tag = |tag: &str| {
            names(
                store,
                MemberFilter {
                    tag: Some(tag.into()),
                    ..MemberFilter::default()
                },
            )
        };
        assert!(by_tag("vip").is_empty(), "old tags are gone");
        assert_eq!(by_tag("day"), ["ann"]);
        assert_eq!(event_names(store).last().unwrap(), "user.updated");
    }

    /// A member as the store writes them, with `profile`.
    fn insert_with(
        store: &DieselStore,
        username: &str,
        email: &str,
        profile: &Profile,
    ) -> Result<i64, StoreError> {
        let user = NewUser {
            username: username.into(),
            email: email.into(),
            password_hash: None,
            is_admin: false,
            at: at(0),
        };
        store.write_tx(|tx| {
            let user = tx.accounts().insert_user(&user)?;
            tx.accounts().insert_profile(user.id, profile)?;
            Ok(user.id)
        })
    }

    fn insert_user(store: &DieselStore, username: &str, email: &str) -> Result<i64, StoreError> {
        insert_with(store, username, email, &Profile::default())
    }

    fn emails_are_unique_whatever_their_case_among_members_who_have_one(store: &DieselStore) {
        let ann = insert_user(store, "ann", "Ann@Example.com").unwrap();
        let err = insert_user(store, "ann2", "ann@example.COM").unwrap_err();
        assert!(
            matches!(&err, StoreError::UniqueViolation(c) if c.contains("email")),
            "{err:?}"
        );
        insert_user(store, "nomail1", "").unwrap();
        insert_user(store, "nomail2", "").expect("members without an email are many");
        let taken = |email: &str, except| {
            store
                .read_tx(|tx| tx.accounts().email_taken(email, except))
                .unwrap()
        };
        assert!(taken("ANN@example.com", None));
        assert!(!taken("ann@example.com", Some(ann)), "ann's own");
        assert!(!taken("", None));
        let bob = insert_user(store, "bob", "bob@example.com").unwrap();
        let err = members::update_member(
            store,
            &fixed_clock(),
            &hasher(),
            &admin_caller(),
            bob,
            MemberUpdate {
                email: Some(Some(Email::parse("ANN@example.com").unwrap())),
                ..MemberUpdate::default()
            },
        )
        .unwrap_err();
        assert!(matches!(err, MemberError::EmailTaken), "{err:?}");
    }

    fn a_member_without_a_password_has_no_credentials(store: &DieselStore) {
        create(store, member("ann", "", &[], None));
        create(store, member("bob", "", &[], Some("correct horse")));
        let credentials = |name: &str| {
            store
                .read_tx(|tx| tx.accounts().credentials(name))
                .unwrap()
                .unwrap()
        };
        let (ann, hash) = credentials("ann");
        assert_eq!((ann.has_password, hash), (false, None));
        let (bob, hash) = credentials("bob");
        assert_eq!((bob.has_password, hash.as_deref()), (true, Some("hash")));
    }

    fn a_phone_stored_before_the_rule_is_kept_without_an_operator_code(store: &DieselStore) {
        let profile = Profile {
            phone: "+15550109999".into(),
            // Whatever a caller says, the store derives it from the phone.
            operator_code: Some("555".into()),
            ..Profile::default()
        };
        let id = insert_with(store, "old", "old@example.com", &profile).unwrap();
        let old = store
            .read_tx(|tx| tx.accounts().account(id))
            .unwrap()
            .unwrap()
            .profile;
        assert_eq!(
            (old.phone.as_str(), old.operator_code),
            ("+15550109999", None)
        );
        assert_eq!(old.timezone, "UTC");
    }

    fn a_delete_removes_the_member_and_keeps_the_history(store: &DieselStore) {
        let ann = create(
            store,
            member("ann", "79161234567", &["vip"], Some("pw123456")),
        );
        store
            .write_tx(|tx| tx.accounts().insert_token(ann, "ann-token", at(0)))
            .unwrap();
        let hook = WebhookFields {
            url: "https://93.184.216.34/hook".into(),
            url_password: None,
            owner: Some(ann),
            options: Default::default(),
            events: vec![EventPattern::Everything],
            secret: "my-secret-key".into(),
            is_active: true,
            headers: vec![],
            description: String::new(),
        };
        let hook = store
            .write_tx(|tx| tx.subscriptions().insert_webhook(&hook, at(0)))
            .unwrap();
        let book = new_book(store, "Dune", new_author(store, "Herbert"), None).unwrap();
        let loan = NewLoan {
            book_id: book,
            book_title: "Dune".into(),
            user_id: ann,
            borrowed_at: at(0),
            due_at: at(60),
        };
        let loan = store
            .write_tx(|tx| tx.lending().insert_loan(&loan))
            .unwrap();
        let audit = NewAuditEntry {
            book_id: book,
            book_title: "Dune".into(),
            action: AuditAction::Borrowed,
            user: Some(UserRef {
                id: ann,
                username: "ann".into(),
            }),
            at: at(0),
            details: serde_json::json!({}),
        };
        store
            .write_tx(|tx| tx.audit().insert_audit_entries(&[audit]))
            .unwrap();

        let delete = || members::delete_member(store, &fixed_clock(), &admin_caller(), ann);
        assert!(matches!(delete(), Err(MemberError::OpenLoans)));
        store
            .write_tx(|tx| tx.lending().close_loan(loan.id, at(30)))
            .unwrap();
        delete().unwrap();
        assert!(matches!(delete(), Err(MemberError::NotFound)));

        store
            .read_tx(|tx| {
                assert!(tx.accounts().account(ann)?.is_none());
                assert!(tx.accounts().account_by_token("ann-token")?.is_none());
                assert!(tx.subscriptions().webhook(hook.id)?.is_none());
                let loans = LoanFilter {
                    user_id: Some(ann),
                    ..LoanFilter::default()
                };
                let loans = tx.lending().list_loans(&loans, Page::default())?;
                assert_eq!(loans.results.len(), 1, "the returned loan stays");
                assert_eq!(loans.results[0].user_id, ann);
                let entries = AuditFilter {
                    user_id: Some(ann),
                    action: Some("borrowed".into()),
                    ..AuditFilter::default()
                };
                let entries = tx.audit().list_audit_entries(&entries, Page::default())?;
                assert_eq!(entries.count, 1, "the audit entry stays");
                let tagged = MemberFilter {
                    tag: Some("vip".into()),
                    ..MemberFilter::default()
                };
                assert_eq!(
                    tx.accounts().list_accounts(&tagged, Page::default())?.count,
                    0
                );
                let deleted = tx
                    .outbox()
                    .list_events(Some("user.deleted".into()), Page::default())?;
                assert_eq!(deleted.results[0].about, Some(ann));
                assert_eq!(
                    deleted.results[0].data,
                    serde_json::json!({"id": ann, "username": "ann"})
                );
                Ok::<_, StoreError>(())
            })
            .unwrap();
        // A borrow for a member who is gone finds no member.
        let loan = NewLoan {
            book_id: book,
            book_title: "Dune".into(),
            user_id: ann,
            borrowed_at: at(40),
            due_at: at(100),
        };
        let err = store
            .write_tx(|tx| tx.lending().insert_loan(&loan))
            .unwrap_err();
        assert!(matches!(err, StoreError::ForeignKeyViolation(_)), "{err:?}");
    }

    fn the_last_admin_stays_when_two_admins_demote_each_other_at_once(store: &DieselStore) {
        // The fixtures' admin (id 1) is not stored: these two are the only
        // admins.
        let ann = register(store, "ann", true);
        let bob = register(store, "bob", true);
        let outcomes: Vec<Result<(), MemberError>> = std::thread::scope(|scope| {
            let demote = |who: i64| {
                scope.spawn(move || {
                    let demote = MemberUpdate {
                        is_admin: Some(false),
                        ..MemberUpdate::default()
                    };
                    members::update_member(
                        store,
                        &fixed_clock(),
                        &hasher(),
                        &admin_caller(),
                        who,
                        demote,
                    )
                    .map(|_| ())
                })
            };
            let (a, b) = (demote(ann), demote(bob));
            vec![a.join().unwrap(), b.join().unwrap()]
        });
        let refused = outcomes
            .iter()
            .filter(|o| matches!(o, Err(MemberError::LastAdmin)))
            .count();
        assert_eq!(refused, 1, "{outcomes:?}");
        assert_eq!(
            store.read_tx(|tx| tx.accounts().admin_ids()).unwrap().len(),
            1
        );
    }

    fn a_borrow_racing_a_delete_never_leaves_an_open_loan_without_its_member(store: &DieselStore) {
        let author = new_author(store, "Herbert");
        for round in 0..10 {
            let name = format!("reader{round}");
            let member = create(store, member(&name, "", &[], None));
            let book = new_book(store, &format!("Dune {round}"), author, None).unwrap();
            let loan = NewLoan {
                book_id: book,
                book_title: "Dune".into(),
                user_id: member,
                borrowed_at: at(0),
                due_at: at(60),
            };
            let (deleted, lent) = std::thread::scope(|scope| {
                let delete = scope.spawn(|| {
                    members::delete_member(store, &fixed_clock(), &admin_caller(), member)
                });
                let lend = scope.spawn(|| store.write_tx(|tx| tx.lending().insert_loan(&loan)));
                (delete.join().unwrap(), lend.join().unwrap())
            });
            match (&deleted, &lent) {
                (Ok(()), Err(StoreError::ForeignKeyViolation(_))) => {}
                (Err(MemberError::OpenLoans), Ok(_)) => {}
                other => panic!("round {round}: {other:?}"),
            }
        }
    }
}

// Campaigns and the "sms" channel's queue.
#[path = "store_suite/campaigns.rs"]
mod campaigns;

#[path = "store_suite/sign_on.rs"]
mod sign_on;

/// Deliveries of `webhook` for `events`, made at the given instants.
fn insert_deliveries_at(
    store: &DieselStore,
    webhook: uuid::Uuid,
    made: &[(&libris_domain::webhooks::Delivery, i64)],
) {
    let new: Vec<_> = made
        .iter()
        .map(|(like, seconds)| libris_application::ports::NewDelivery {
            webhook_id: webhook,
            event_id: like.event_id,
            event: like.event.clone(),
            next_attempt_at: at(*seconds),
            lease_until: None,
            created_at: at(*seconds),
        })
        .collect();
    store
        .write_tx(|tx| tx.deliveries().insert_deliveries(&new))
        .unwrap();
}

fn deliveries_are_counted_by_the_hour_they_were_made_and_their_status_now(store: &DieselStore) {
    let member = register(store, "ada", false);
    let admins = subscribe(store, "http://127.0.0.1:9/hook", "author.*");
    // Neither of these gets a delivery from fan-out: this test makes theirs.
    let members = WebhookFields {
        owner: Some(member),
        events: vec![EventPattern::parse("nobody.listens").unwrap()],
        ..subscription_fields("https://93.184.216.34/hook")
    };
    let members = store
        .write_tx(|tx| tx.subscriptions().insert_webhook(&members, at(-10)))
        .unwrap();
    let early = subscribe(store, "http://127.0.0.1:9/early", "nobody.listens");
    new_author(store, "A");
    new_author(store, "B");
    fan_out(store, 10);
    let made = store
        .read_tx(|tx| {
            let filter = libris_application::ports::DeliveryFilter {
                webhook_id: Some(admins.id),
                ..Default::default()
            };
            tx.deliveries().list_deliveries(&filter, Page::default())
        })
        .unwrap()
        .results;
    assert_eq!(made.len(), 2, "both authors' events, made at 00:00");
    // The member's: one at 01:00:05, one at 02:59:59; one before the window.
    insert_deliveries_at(
        store,
        members.id,
        &[(&made[0], 3605), (&made[1], 3 * 3600 - 1)],
    );
    insert_deliveries_at(store, early.id, &[(&made[0], -1)]);
    let dead = libris_domain::webhooks::Delivery {
        status: DeliveryStatus::Dead,
        attempts: 3,
        ..made[0].clone()
    };
    store
        .write_tx(|tx| {
            tx.deliveries()
                .save_delivery(dead.id, &dead.progress(), at(1))
        })
        .unwrap();

    let counts = |owner| {
        let mut counts: Vec<_> = store
            .read_tx(|tx| {
                tx.deliveries()
                    .count_deliveries_by_hour(owner, at(0), at(3 * 3600))
            })
            .unwrap()
            .into_iter()
            .map(|c| (c.hour, c.status.as_str(), c.count))
            .collect();
        counts.sort();
        counts
    };
    assert_eq!(
        counts(None),
        [
            (at(0), "dead", 1),
            (at(0), "pending", 1),
            (at(3600), "pending", 1),
            (at(7200), "pending", 1),
        ]
    );
    assert_eq!(
        counts(Some(member)),
        [(at(3600), "pending", 1), (at(7200), "pending", 1)]
    );
}

fn attempt_logs_filter_by_delivery(store: &DieselStore) {
    let hook = subscribe(store, "http://127.0.0.1:9/hook", "author.*");
    new_author(store, "A");
    new_author(store, "B");
    fan_out(store, 10);
    let ids = claim_ids(store, 1, 10);
    assert_eq!(ids.len(), 2);
    let logs: Vec<_> = ids
        .iter()
        .map(|&delivery_id| libris_application::ports::NewAttemptLog {
            webhook_id: hook.id,
            delivery_id,
            event_id: uuid::Uuid::nil(),
            event: "author.created".into(),
            attempt: 1,
            payload: "{}".into(),
            response_status: Some(500),
            response_body: String::new(),
            success: false,
            error_message: Some("HTTP 500".into()),
            duration_ms: 1,
            at: at(2),
        })
        .collect();
    store
        .write_tx(|tx| tx.deliveries().insert_attempt_logs(&logs))
        .unwrap();
    let filter = AttemptLogFilter {
        delivery_id: Some(ids[1]),
        ..AttemptLogFilter::default()
    };
    let found = store
        .read_tx(|tx| tx.deliveries().list_attempt_logs(&filter, Page::default()))
        .unwrap();
    assert_eq!(found.count, 1);
    assert_eq!(found.results[0].delivery_id, ids[1]);
}
