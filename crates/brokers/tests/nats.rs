//! The broker channel against the real NATS (JetStream) on 127.0.0.1:4222.

use std::time::{Duration, Instant};

use async_nats::jetstream::context::GetStreamByNameErrorKind;
use libris_application::engine::Channel;
use libris_brokers::testing::nats::{create_stream, delete_stream, header, messages};
use libris_brokers::testing::{
    assert_signed_headers, attempt_time, delivery, nats, nats_addr, silent_server, unique,
    with_cleanup, TIMEOUT,
};
use libris_brokers::BrokerChannel;
use libris_domain::delivery::Outcome;
use libris_testing::proxy::TcpProxy;

const RETRY: Outcome = Outcome::Retry { after: None };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_a_signed_message_to_the_stream_covering_its_subject() {
    let suffix = unique();
    let name = format!("LIBRIS_TEST_{suffix}");
    let stream_name = name.clone();
    with_cleanup(
        async move {
            create_stream(&stream_name, &format!("test.{suffix}.>")).await;
            let channel = BrokerChannel::new(TIMEOUT);
            let url = format!("nats://127.0.0.1:4222?subject=test.{suffix}.{{event}}");
            let sent = delivery(&url, "book.created");
            let at = attempt_time();
            let report = channel.send(&sent, at).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            assert_eq!(report.error, None);
            assert!(
                report.response_body.contains(&stream_name),
                "{}",
                report.response_body
            );

            let stored = messages(&stream_name).await;
            assert_eq!(stored.len(), 1);
            let message = &stored[0];
            assert_eq!(
                message.subject.as_str(),
                format!("test.{suffix}.book.created")
            );
            let id = sent.event_id.hyphenated().to_string();
            assert_eq!(header(message, "Nats-Msg-Id"), Some(id));
            assert_signed_headers(&sent, at, &message.payload, |name| header(message, name));

            // A retry of an attempt that did land is stored once: the
            // message id de-duplicates it.
            let report = channel.send(&sent, attempt_time()).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            assert!(report.response_body.contains("duplicate"), "{report:?}");
            assert_eq!(messages(&stream_name).await.len(), 1);
        },
        delete_stream(&name),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subject_no_stream_covers_is_retried_with_the_reason() {
    let subject = format!("other.{}", unique());
    let jetstream = nats().await;
    let channel = BrokerChannel::new(TIMEOUT);
    let url = format!("nats://127.0.0.1:4222?subject={subject}");
    let started = Instant::now();
    let report = channel
        .send(&delivery(&url, "book.created"), attempt_time())
        .await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    let error = report.error.expect("an error");
    assert!(
        error.contains(&format!("no stream covers subject \"{subject}\"")),
        "{error}"
    );
    assert!(
        started.elapsed() < TIMEOUT,
        "no responders is answered at once"
    );
    // Only subjects under `libris.` get a stream made for them.
    let lookup = jetstream.stream_by_subject(subject.clone()).await;
    assert!(
        matches!(&lookup, Err(e) if e.kind() == GetStreamByNameErrorKind::NotFound),
        "{lookup:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_libris_subject_gets_the_default_stream_when_none_covers_it() {
    let event = format!("t{}.created", unique());
    let subject = format!("libris.{event}");
    let jetstream = nats().await;
    // LIBRIS may be there already (a running Libris made it); then this test
    // only takes its own message back out of it.
    let had_default = jetstream.get_stream("LIBRIS").await.is_ok();
    let covered_before = jetstream.stream_by_subject(subject.clone()).await.ok();
    let s = subject.clone();
    with_cleanup(
        async move {
            let channel = BrokerChannel::new(TIMEOUT);
            // No subject: it defaults to libris.{event}.
            let sent = delivery("nats://127.0.0.1:4222", &event);
            let at = attempt_time();
            let report = channel.send(&sent, at).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            let expected_stream = covered_before.unwrap_or_else(|| "LIBRIS".to_owned());
            assert!(
                report
                    .response_body
                    .contains(&format!("stream {expected_stream} ")),
                "{report:?}"
            );
            let stream = nats()
                .await
                .get_stream(&expected_stream)
                .await
                .expect("the stream covering the subject");
            if expected_stream == "LIBRIS" {
                let subjects = &stream.cached_info().config.subjects;
                assert_eq!(subjects, &vec!["libris.>".to_owned()]);
            }
            let message = stream
                .get_last_raw_message_by_subject(&s)
                .await
                .expect("the message in the stream");
            assert_signed_headers(&sent, at, &message.payload, |name| header(&message, name));
        },
        async {
            if had_default {
                if let Ok(stream) = jetstream.get_stream("LIBRIS").await {
                    let _ = stream.purge().filter(subject.as_str()).await;
                }
            } else {
                let _ = jetstream.delete_stream("LIBRIS").await;
            }
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_fails_fast_and_the_next_attempt_reconnects() {
    let suffix = unique();
    let name = format!("LIBRIS_TEST_{suffix}");
    let stream_name = name.clone();
    with_cleanup(
        async move {
            create_stream(&stream_name, &format!("test.{suffix}.>")).await;
            let mut proxy = TcpProxy::start(nats_addr()).await;
            let url = format!(
                "nats://app:pw-{suffix}@127.0.0.1:{}?subject=test.{suffix}.{{event}}",
                proxy.port()
            );
            // This server takes any credentials; they are sent, though, and
            // part of the connection's identity.
            let channel = BrokerChannel::new(TIMEOUT);
            let sends: Vec<_> = (0..4).map(|_| delivery(&url, "book.updated")).collect();

            for sent in &sends[..2] {
                let report = channel.send(sent, attempt_time()).await;
                assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            }
            assert_eq!(proxy.connections(), 1, "two sends share one connection");

            proxy.cut().await;
            let started = Instant::now();
            let report = channel.send(&sends[2], attempt_time()).await;
            let took = started.elapsed();
            assert_eq!(report.outcome, RETRY, "{report:?}");
            assert!(
                took <= TIMEOUT + Duration::from_secs(1),
                "took {took:?}: {report:?}"
            );
            let error = report.error.expect("an error");
            assert!(
                error.contains(&format!("NATS at 127.0.0.1:{}", proxy.port())),
                "{error}"
            );
            assert!(!error.contains(&format!("pw-{suffix}")), "{error}");

            proxy.restore().await;
            let report = channel.send(&sends[3], attempt_time()).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            assert!(proxy.connections() >= 2, "reconnected");

            let received: Vec<_> = messages(&stream_name)
                .await
                .iter()
                .map(|m| header(m, "Nats-Msg-Id"))
                .collect();
            let delivered: Vec<_> = [&sends[0], &sends[1], &sends[3]]
                .iter()
                .map(|sent| Some(sent.event_id.hyphenated().to_string()))
                .collect();
            assert_eq!(received, delivered, "exactly the delivered messages");
        },
        delete_stream(&name),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_never_answers_times_out_within_the_timeout() {
    let addr = silent_server().await;
    let timeout = Duration::from_millis(700);
    let channel = BrokerChannel::new(timeout);
    let url = format!("nats://{addr}?subject=test.none");
    let started = Instant::now();
    let report = channel
        .send(&delivery(&url, "book.created"), attempt_time())
        .await;
    let took = started.elapsed();
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert!(took <= timeout + Duration::from_secs(1), "took {took:?}");
    let error = report.error.expect("an error");
    assert!(error.contains("timed out"), "{error}");
}
