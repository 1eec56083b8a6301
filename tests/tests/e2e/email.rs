//! Email notifications through a real SMTP server on loopback: what arrives,
//! what the admins see in `/api/notifications/`, and the relay refusing,
//! slow, away, or not configured at all.

use std::time::Duration;

use libris_e2e::{default_database, TestApp};
use libris_testing::smtp::{Answer, ReceivedMail, SmtpServer};
use reqwest::Method;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(10);
const ADMIN_EMAIL: &str = "admin@localhost.localdomain";

/// An app that mails through `smtp` with a fast retry schedule; reminders
/// `reminder_days` before a one-day loan is due.
async fn app_mailing(smtp: &SmtpServer, extra: &[&str]) -> TestApp {
    let url = smtp.url();
    let mut args = extra.to_vec();
    let defaults = [
        ("--smtp-url", url.as_str()),
        ("--mail-from", "Libris <libris@example.org>"),
        ("--email-retry-schedule", "100ms,200ms"),
    ];
    for (flag, value) in defaults {
        if !extra.contains(&flag) {
            args.extend([flag, value]);
        }
    }
    TestApp::spawn_on(default_database(), &args).await
}

/// A book `title` and a member who borrows it; answers the book's id and the
/// member's token.
async fn borrowed(app: &TestApp, title: &str, member: &str) -> (i64, String) {
    let author = app.author("Frank Herbert").await;
    let book = app.book(title, author).await;
    let token = app.member(member).await;
    app.borrow(book, &token).await.expect(200);
    (book, token)
}

fn to_admin(mails: &[ReceivedMail]) -> Vec<&ReceivedMail> {
    mails
        .iter()
        .filter(|m| m.to == [ADMIN_EMAIL.to_owned()])
        .collect()
}

async fn notifications(app: &TestApp, query: &str) -> Vec<Value> {
    let page = app
        .admin_get(&format!("/api/notifications/?limit=500{query}"))
        .await;
    page["results"].as_array().expect("a list").clone()
}

/// The admin notification of the one borrow, once it reached `status`.
async fn admin_notification(app: &TestApp, status: &str) -> Value {
    let body = app
        .eventually("/api/notifications/?limit=500", WAIT, |body| {
            body["results"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|n| n["to"] == ADMIN_EMAIL && n["status"] == status)
            })
        })
        .await;
    body["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["to"] == ADMIN_EMAIL)
        .unwrap()
        .clone()
}

#[actix_web::test]
async fn a_borrow_mails_every_admin_the_contracts_subject_and_body() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing(&smtp, &[]).await;
    let (_, _) = borrowed(&app, "Dune \"Messiah\" «2»", "ada").await;

    let mails = smtp.wait_for(1, WAIT).await;
    let mail = to_admin(&mails)[0];
    assert_eq!(
        mail.subject().as_deref(),
        Some("Book Borrowed - Dune \"Messiah\" «2»")
    );
    assert_eq!(
        mail.body().trim_end(),
        "User ada borrowed \"Dune \"Messiah\" «2»\""
    );
    assert_eq!(mail.from, "libris@example.org");

    let sent = admin_notification(&app, "sent").await;
    assert_eq!(sent["channel"], "email");
    assert_eq!(sent["subject"], "Book Borrowed - Dune \"Messiah\" «2»");
    assert_eq!(sent["attempts"], 1);
    assert!(sent["sent_at"].is_string(), "{sent}");
    assert!(sent["last_error"].is_null(), "{sent}");
    let events = app.admin_get("/api/events/?event=book.borrowed").await;
    assert_eq!(sent["event_id"], events["results"][0]["id"], "{events}");
}

#[actix_web::test]
async fn a_refused_borrow_mails_nobody() {
    let smtp = SmtpServer::start().await;
    let app = app_mailing(&smtp, &[]).await;
    let (book, _) = borrowed(&app, "Dune", "ada").await;
    let other = app.member("grace").await;
    app.borrow(book, &other).await.expect(409);

    admin_notification(&app, "sent").await;
    let to_admins: Vec<_> = notifications(&app, "")
        .await
        .into_iter()
        .filter(|n| n["to"] == ADMIN_EMAIL)
        .collect();
    assert_eq!(
        to_admins.len(),
        1,
        "only the borrow that happened: {to_admins:?}"
    );
    assert_eq!(to_admin(&smtp.received()).len(), 1);
}

#[actix_web::test]
async fn a_4xx_is_retried_until_the_relay_accepts_and_a_5xx_fails_for_good() {
    let smtp =
        SmtpServer::with_answers(vec![Answer::refuse_recipient(451, "4.3.0 try again later")])
            .await;
    let app = app_mailing(&smtp, &["--loan-reminder-days", "0"]).await;
    borrowed(&app, "Dune", "ada").await;
    let sent = admin_notification(&app, "sent").await;
    assert_eq!(sent["attempts"], 2, "{sent}");
    assert_eq!(
        to_admin(&smtp.received()).len(),
        1,
        "the refusal delivered nothing"
    );

    let refusing =
        SmtpServer::with_answers(vec![Answer::refuse_data(550, "5.7.1 relaying denied")]).await;
    let app = app_mailing(&refusing, &["--loan-reminder-days", "0"]).await;
    borrowed(&app, "Emma", "grace").await;
    let failed = admin_notification(&app, "failed").await;
    assert_eq!(failed["attempts"], 1, "no retry after a 5xx: {failed}");
    assert!(
        failed["last_error"].as_str().unwrap().contains("550"),
        "{failed}"
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(admin_notification(&app, "failed").await["attempts"], 1);
}

#[actix_web::test]
async fn a_relay_that_is_away_gets_the_email_once_it_is_back_and_a_slow_one_still_gets_it() {
    let mut smtp = SmtpServer::start().await;
    smtp.stop().await;
    let app = app_mailing(
        &smtp,
        &[
            "--email-retry-schedule",
            "200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms,200ms",
        ],
    )
    .await;
    borrowed(&app, "Dune", "ada").await;
    let failing = app
        .eventually("/api/notifications/?status=pending", WAIT, |body| {
            body["results"].as_array().is_some_and(|r| {
                r.iter()
                    .any(|n| n["to"] == ADMIN_EMAIL && n["attempts"].as_i64() >= Some(1))
            })
        })
        .await;
    let waiting = failing["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["to"] == ADMIN_EMAIL)
        .unwrap();
    assert!(
        waiting["last_error"]
            .as_str()
            .is_some_and(|e| !e.is_empty()),
        "an attempt at a relay that is away says why it failed: {waiting}"
    );
    smtp.restart().await;
    admin_notification(&app, "sent").await;
    assert_eq!(to_admin(&smtp.received()).len(), 1);

    let slow =
        SmtpServer::with_answers(vec![Answer::accept().delay(Duration::from_millis(1500))]).await;
    let app = app_mailing(&slow, &["--loan-reminder-days", "0"]).await;
    borrowed(&app, "Emma", "grace").await;
    let sent = admin_notification(&app, "sent").await;
    assert_eq!(sent["attempts"], 1, "slow is not failed: {sent}");
}

#[actix_web::test]
async fn without_a_relay_emails_wait_and_go_out_once_after_it_is_set_whatever_the_restarts() {
    let smtp = SmtpServer::start().await;
    let app = TestApp::spawn_on(default_database(), &["--loan-reminder-days", "0"]).await;
    borrowed(&app, "Dune", "ada").await;
    let pending = app
        .eventually("/api/notifications/?channel=email", WAIT, |body| {
            body["results"]
                .as_array()
                .is_some_and(|r| r.iter().any(|n| n["to"] == ADMIN_EMAIL))
        })
        .await;
    let queued = pending["results"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["to"] == ADMIN_EMAIL)
        .unwrap()
        .clone();
    assert_eq!(
        (queued["status"].as_str(), queued["attempts"].as_i64()),
        (Some("pending"), Some(0))
    );

    let url = smtp.url();
    let app = app
        .restart(&["--smtp-url", url.as_str(), "--loan-reminder-days", "0"])
        .await;
    admin_notification(&app, "sent").await;
    let app = app
        .restart(&["--smtp-url", url.as_str(), "--loan-reminder-days", "0"])
        .await;
    // The restarted workers look at the queue at once; give them a moment.
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        to_admin(&smtp.received()).len(),
        1,
        "sent once across restarts"
    );
    assert_eq!(notifications(&app, "&status=sent").await.len(), 1);
}

#[actix_web::test]
async fn a_members_reminder_fires_once_per_loan_across_a_restart_and_a_return_cancels_the_notice() {
    let smtp = SmtpServer::start().await;
    // A one-day loan, reminded a day ahead: the reminder is due at once, the
    // overdue notice tomorrow.
    let app = app_mailing(&smtp, &["--loan-days", "1", "--loan-reminder-days", "1"]).await;
    let (book, token) = borrowed(&app, "Dune", "ada").await;
    let mails = smtp.wait_for(2, WAIT).await;
    let reminder = mails
        .iter()
        .find(|m| m.to == ["ada@example.com".to_owned()])
        .expect("the member's reminder");
    assert_eq!(reminder.subject().as_deref(), Some("Due soon: Dune"));
    assert!(
        reminder.body().contains("\"Dune\" is due back on"),
        "{}",
        reminder.body()
    );

    let url = smtp.url();
    let app = app
        .restart(&[
            "--smtp-url",
            url.as_str(),
            "--loan-days",
            "1",
            "--loan-reminder-days",
            "1",
        ])
        .await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    let to_member = smtp
        .received()
        .into_iter()
        .filter(|m| m.to == ["ada@example.com".to_owned()])
        .count();
    assert_eq!(to_member, 1, "one reminder per loan, restart or not");
    let listed = notifications(&app, "").await;
    let notice = listed
        .iter()
        .find(|n| n["subject"] == "Overdue: Dune")
        .expect("the overdue notice waits for its time");
    assert_eq!(
        (notice["status"].as_str(), notice["event_id"].is_null()),
        (Some("pending"), true)
    );

    app.give_back(book, &token).await.expect(200);
    app.eventually("/api/notifications/?limit=500", WAIT, |body| {
        !body["results"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n["subject"] == "Overdue: Dune")
    })
    .await;
}

#[actix_web::test]
async fn notifications_are_for_admins_and_filters_are_checked() {
    let app = TestApp::spawn().await;
    let member = app.member("ada").await;
    assert_eq!(
        app.get("/api/notifications/", Some(&member)).await.status,
        403
    );
    assert_eq!(app.get("/api/notifications/", None).await.status, 401);
    let bad = app
        .call(
            Method::GET,
            "/api/notifications/?status=delivered",
            Some(&app.admin_token),
            None,
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    let bad = app
        .admin(Method::GET, "/api/notifications/?channel=sms", None)
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert_eq!(
        app.admin_get("/api/notifications/").await,
        json!({"count": 0, "results": []})
    );
}
