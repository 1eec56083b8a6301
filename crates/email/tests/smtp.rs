//! The channel against a real SMTP server on loopback
//! (`libris_testing::smtp`): what arrives, and how each way a relay can answer
//! (or not) becomes an outcome.

use std::time::{Duration, Instant};

use libris_domain::delivery::{AttemptReport, Outcome};
use libris_domain::notifications::Email;
use libris_email::SmtpChannel;
use libris_testing::smtp::{Answer, Login, SmtpServer};

const FROM: &str = "Libris <noreply@libris.test>";
const TIMEOUT: Duration = Duration::from_secs(5);
const PATIENCE: Duration = Duration::from_secs(5);

fn channel(server: &SmtpServer) -> SmtpChannel {
    channel_with_timeout(server, TIMEOUT)
}

fn channel_with_timeout(server: &SmtpServer, timeout: Duration) -> SmtpChannel {
    SmtpChannel::new(&server.url(), FROM, timeout).expect("a valid configuration")
}

fn email(to: &str) -> Email {
    Email {
        to: to.into(),
        subject: "Book Borrowed - \"Dune\" «II»".into(),
        body: "Dear reader,\n\nyou borrowed “Dune «II»”; it is due on 1 March.\n.\nLibris\n".into(),
    }
}

const RETRY: Outcome = Outcome::Retry { after: None };

#[tokio::test]
async fn an_accepted_message_arrives_as_written() {
    let server = SmtpServer::start().await;
    let report = channel(&server).send(&email("reader@example.test")).await;

    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(report.status, Some(250));
    assert_eq!(report.response_body, "2.0.0 Ok: queued");
    assert_eq!(report.error, None);

    let mails = server.wait_for(1, PATIENCE).await;
    let mail = &mails[0];
    assert_eq!(mail.from, "noreply@libris.test");
    assert_eq!(mail.to, ["reader@example.test"]);
    assert_eq!(
        mail.header("From").as_deref(),
        Some("Libris <noreply@libris.test>")
    );
    assert_eq!(mail.header("To").as_deref(), Some("reader@example.test"));
    assert_eq!(
        mail.subject().as_deref(),
        Some("Book Borrowed - \"Dune\" «II»")
    );
    assert_eq!(
        mail.body(),
        "Dear reader,\n\nyou borrowed “Dune «II»”; it is due on 1 March.\n.\nLibris"
    );
    assert!(mail.header("Date").is_some());
    assert!(mail.header("Message-ID").is_some());
    assert_eq!(
        mail.header("Content-Type").as_deref(),
        Some("text/plain; charset=utf-8")
    );
    assert_eq!(mail.login, None, "no credentials in the URL, no AUTH");
}

#[tokio::test]
async fn connections_are_reused() {
    let server = SmtpServer::start().await;
    let channel = channel(&server);
    for n in 0..3 {
        let report = channel.send(&email(&format!("{n}@example.test"))).await;
        assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
        // lettre hands a connection back to its pool on a task of its own.
        tokio::task::yield_now().await;
    }
    assert_eq!(server.received().len(), 3);
    assert_eq!(server.connections(), 1);
}

#[tokio::test]
async fn a_transient_refusal_is_retried() {
    let server =
        SmtpServer::with_answers(vec![Answer::refuse_data(451, "4.3.0 Try again later")]).await;
    let channel = channel(&server);
    let report = channel.send(&email("reader@example.test")).await;

    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, Some(451));
    assert_eq!(report.response_body, "4.3.0 Try again later");
    let error = report.error.expect("an error");
    assert!(error.contains("451"), "{error}");
    assert_eq!(server.received()[0].answered, Some(451));

    // The next attempt goes through.
    let again = channel.send(&email("reader@example.test")).await;
    assert_eq!(again.outcome, Outcome::Delivered, "{again:?}");
}

#[tokio::test]
async fn a_greylisted_recipient_is_retried() {
    let server =
        SmtpServer::with_answers(vec![Answer::refuse_recipient(450, "4.2.0 Greylisted")]).await;
    let report = channel(&server).send(&email("reader@example.test")).await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, Some(450));
    assert!(server.received().is_empty());
}

#[tokio::test]
async fn a_permanent_refusal_is_rejected() {
    let server = SmtpServer::with_answers(vec![Answer::refuse_recipient(
        550,
        "5.1.1 No such user here",
    )])
    .await;
    let report = channel(&server).send(&email("nobody@example.test")).await;

    assert_eq!(report.outcome, Outcome::Rejected, "{report:?}");
    assert_eq!(report.status, Some(550));
    assert_eq!(report.response_body, "5.1.1 No such user here");
    assert!(
        server.received().is_empty(),
        "refused at RCPT: no data sent"
    );
}

#[tokio::test]
async fn a_stopped_server_is_retried_and_its_return_noticed() {
    let mut server = SmtpServer::start().await;
    let channel = channel(&server);
    assert_eq!(
        channel.send(&email("a@example.test")).await.outcome,
        Outcome::Delivered
    );

    server.stop().await;
    let report = channel.send(&email("b@example.test")).await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, None);
    assert_eq!(report.response_body, "");
    let error = report.error.expect("an error");
    assert!(
        error.contains(&format!("127.0.0.1:{}", server.port())),
        "says where: {error}"
    );

    // The pooled connection died with the server: a new one is opened.
    server.restart().await;
    let report = channel.send(&email("c@example.test")).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    let to: Vec<Vec<String>> = server.received().into_iter().map(|m| m.to).collect();
    assert_eq!(to, [["a@example.test"], ["c@example.test"]]);
}

/// Runs `send` and checks it gave up within the bound the timeout promises.
async fn bounded(channel: &SmtpChannel, timeout: Duration) -> AttemptReport {
    let started = Instant::now();
    let report = channel.send(&email("reader@example.test")).await;
    let elapsed = started.elapsed();
    let bound = timeout * 2 + Duration::from_secs(1);
    assert!(elapsed < bound, "took {elapsed:?}, bound {bound:?}");
    assert!(
        elapsed >= timeout,
        "gave up after {elapsed:?}, before the timeout"
    );
    report
}

#[tokio::test]
async fn a_slow_server_is_given_up_on_and_retried() {
    let timeout = Duration::from_millis(500);
    let server =
        SmtpServer::with_answers(vec![Answer::accept().delay(Duration::from_secs(3))]).await;
    let channel = channel_with_timeout(&server, timeout);

    let report = bounded(&channel, timeout).await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, None);
    assert!(report.duration_ms >= 500, "{report:?}");
    let error = report.error.expect("an error");
    assert!(error.contains("timed out"), "{error}");

    // The abandoned connection's late 250 must not answer the next message's
    // commands: the next send starts on a fresh connection and is delivered.
    let report = channel.send(&email("next@example.test")).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    let mails = server.wait_for(2, PATIENCE).await;
    assert_eq!(mails[1].to, ["next@example.test"]);
    assert_eq!(server.connections(), 2);
}

#[tokio::test]
async fn a_server_that_hangs_is_given_up_on_and_retried() {
    let timeout = Duration::from_millis(300);
    let server = SmtpServer::with_answers(vec![Answer::accept().hang()]).await;
    let channel = channel_with_timeout(&server, timeout);
    let report = bounded(&channel, timeout).await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, None);
    assert_eq!(server.received()[0].answered, None);
}

#[tokio::test]
async fn credentials_in_the_url_reach_the_server() {
    let server = SmtpServer::start().await;
    let url = format!(
        "smtp://al%40ice:p%3Aw%C3%B6rd%2F@127.0.0.1:{}",
        server.port()
    );
    let channel = SmtpChannel::new(&url, FROM, TIMEOUT).expect("valid");
    assert!(!format!("{channel:?}").contains("w%C3%B6rd"));
    assert!(!format!("{channel:?}").contains("wörd"));

    let report = channel.send(&email("reader@example.test")).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    assert_eq!(
        server.received()[0].login,
        Some(Login {
            user: "al@ice".into(),
            password: "p:wörd/".into(),
        })
    );
}

#[tokio::test]
async fn implicit_tls_against_a_plain_server_is_retried() {
    let server = SmtpServer::start().await;
    let url = format!("smtps://127.0.0.1:{}", server.port());
    let channel = SmtpChannel::new(&url, FROM, TIMEOUT).expect("valid");
    let report = channel.send(&email("reader@example.test")).await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert_eq!(report.status, None);
    assert!(server.received().is_empty());
}

#[test]
fn bad_urls_are_refused_without_echoing_the_password() {
    let secret = "hunter2";
    let urls = [
        "smtp://alice:hunter2",
        "smtp://alice:hunter2@",
        "smtp://alice:hunter2@relay:99999",
        "smtp://alice:hunter2@relay:hunter2",
        "smtp://alice:hunter2@hunter2 relay",
        "smtp://alice:hunter2@relay/hunter2",
        "smtp://alice:hunter2%ZZ@relay",
        "imap://alice:hunter2@relay",
        "alice:hunter2@relay:25",
        "hunter2",
    ];
    for url in urls {
        let error = SmtpChannel::new(url, FROM, TIMEOUT).expect_err(url);
        let shown = format!("{error} / {error:?}");
        assert!(!shown.contains(secret), "{url:?} gave {shown}");
        assert!(shown.contains("SMTP URL"), "{url:?} gave {shown}");
    }
}

#[tokio::test]
async fn a_bad_recipient_is_refused_without_sending() {
    let server = SmtpServer::start().await;
    let channel = channel(&server);
    for to in [
        "",
        "reader",
        "reader@",
        "two@example.test, three@example.test",
    ] {
        let report = channel.send(&email(to)).await;
        assert_eq!(report.outcome, Outcome::Refused, "{to:?}: {report:?}");
        assert_eq!(report.status, None);
        assert!(report.error.is_some());
    }
    assert_eq!(server.connections(), 0, "nothing was even connected");
}

#[tokio::test]
async fn a_subject_cannot_smuggle_headers() {
    let server = SmtpServer::start().await;
    let message = Email {
        subject: "Due\r\nBcc: thief@example.test".into(),
        ..email("reader@example.test")
    };
    let report = channel(&server).send(&message).await;
    assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
    let mail = &server.received()[0];
    assert_eq!(mail.to, ["reader@example.test"]);
    assert_eq!(mail.header("Bcc"), None);
    assert_eq!(
        mail.subject().as_deref(),
        Some("Due Bcc: thief@example.test")
    );
}

#[test]
fn a_channel_outlives_its_runtime() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let channel = runtime.block_on(async {
        let server = SmtpServer::start().await;
        let channel = channel(&server);
        let report = channel.send(&email("reader@example.test")).await;
        assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
        channel
    });
    drop(runtime);
    // lettre's pool spawns its clean-up on drop; with the runtime gone that
    // must not panic.
    drop(channel);
}
