//! The broker channel against the real RabbitMQ on 127.0.0.1:5672.

use std::time::{Duration, Instant};

use lapin::options::ExchangeDeclareOptions;
use lapin::types::FieldTable;
use lapin::ExchangeKind;
use libris_application::engine::Channel;
use libris_brokers::testing::amqp::{bind_queue, delete, drain, message_id, topology};
use libris_brokers::testing::{
    amqp, assert_signed_headers, attempt_time, delivery, rabbitmq, rabbitmq_addr, silent_server,
    unique, with_cleanup, TIMEOUT,
};
use libris_brokers::BrokerChannel;
use libris_domain::delivery::Outcome;
use libris_testing::proxy::TcpProxy;

const RETRY: Outcome = Outcome::Retry { after: None };

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_a_signed_persistent_message_with_every_header() {
    let suffix = unique();
    let exchange = format!("libris-test-{suffix}");
    let queue = format!("libris-test-{suffix}");
    let (e, q) = (exchange.clone(), queue.clone());
    with_cleanup(
        async move {
            topology(&e, &q, "book.#").await;
            let channel = BrokerChannel::new(TIMEOUT);
            // No routing_key: it defaults to the event's name.
            let url = format!("amqp://guest:guest@127.0.0.1:5672/%2f?exchange={e}");
            let sent = delivery(&url, "book.created");
            let at = attempt_time();
            let report = channel.send(&sent, at).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            assert_eq!(report.error, None);

            let messages = drain(&q).await;
            assert_eq!(messages.len(), 1, "exactly the one message");
            let message = &messages[0];
            assert_eq!(message.delivery.exchange.as_str(), e);
            assert_eq!(message.delivery.routing_key.as_str(), "book.created");
            let properties = &message.delivery.properties;
            assert_eq!(*properties.delivery_mode(), Some(2), "persistent");
            assert_eq!(
                message_id(message),
                Some(sent.event_id.hyphenated().to_string())
            );
            assert_eq!(
                properties.content_type().as_ref().map(|t| t.as_str()),
                Some("application/json")
            );
            assert_signed_headers(&sent, at, &message.delivery.data, |name| {
                amqp::header(message, name)
            });
        },
        delete(&exchange, &queue),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn declares_a_missing_exchange_and_retries_a_message_no_queue_takes() {
    let suffix = unique();
    let exchange = format!("libris-test-{suffix}");
    let queue = format!("libris-test-{suffix}");
    let (e, q) = (exchange.clone(), queue.clone());
    with_cleanup(
        async move {
            let channel = BrokerChannel::new(TIMEOUT);
            let url = format!(
                "amqp://guest:guest@127.0.0.1:5672/%2f?exchange={e}&routing_key=libris.{{event}}"
            );
            // The exchange does not exist: it is declared, but nothing is
            // bound to it, so the mandatory message comes back.
            let sent = delivery(&url, "loan.due");
            let report = channel.send(&sent, attempt_time()).await;
            assert_eq!(report.outcome, RETRY, "{report:?}");
            assert_eq!(report.status, Some(312), "NO_ROUTE: {report:?}");
            let error = report.error.expect("an error");
            assert!(
                error.contains("returned unroutable")
                    && error.contains(&e)
                    && error.contains("libris.loan.due"),
                "{error}"
            );

            // Declared topic and durable: declaring it so again is accepted
            // (another type or durability would be refused).
            let connection = rabbitmq().await;
            let admin = connection.create_channel().await.expect("channel");
            admin
                .exchange_declare(
                    e.as_str().into(),
                    ExchangeKind::Topic,
                    ExchangeDeclareOptions {
                        passive: false,
                        durable: true,
                        ..ExchangeDeclareOptions::default()
                    },
                    FieldTable::default(),
                )
                .await
                .expect("the exchange exists as a durable topic exchange");

            // Once a queue is bound, the same delivery goes through.
            bind_queue(&connection, &e, &q, "libris.loan.*").await;
            let report = channel.send(&sent, attempt_time()).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            let messages = drain(&q).await;
            assert_eq!(messages.len(), 1);
            assert_eq!(messages[0].delivery.routing_key.as_str(), "libris.loan.due");
            // Closing errors when a dropped channel is still closing; the
            // connection goes either way.
            let _ = connection.close(200, "OK".into()).await;
        },
        delete(&exchange, &queue),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_password_is_retried_without_showing_it() {
    let password = format!("wrong-{}", unique());
    let url = format!("amqp://guest:{password}@127.0.0.1:5672/%2f?exchange=libris-test-none");
    // The server is there: this test is about credentials.
    drop(rabbitmq().await);
    let channel = BrokerChannel::new(TIMEOUT);
    let report = channel
        .send(&delivery(&url, "book.created"), attempt_time())
        .await;
    assert_eq!(report.outcome, RETRY, "{report:?}");
    let error = report.error.expect("an error");
    assert!(!error.contains(&password), "{error}");
    assert!(!report.response_body.contains(&password));
    assert!(error.contains("RabbitMQ at 127.0.0.1:5672"), "{error}");
    assert!(
        error.to_ascii_uppercase().contains("ACCESS_REFUSED") || error.contains("connect"),
        "{error}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_that_do_not_parse_are_refused() {
    let channel = BrokerChannel::new(TIMEOUT);
    for url in [
        "amqp://guest:secret-pw@127.0.0.1:99999/%2f",
        "amqp://guest:secret-pw@127.0.0.1/%2f?routingkey=x",
        "https://example.com/hook",
        "amqps://guest:secret-pw@127.0.0.1/",
    ] {
        let report = channel
            .send(&delivery(url, "book.created"), attempt_time())
            .await;
        assert_eq!(report.outcome, Outcome::Refused, "{url}: {report:?}");
        let error = report.error.expect("an error");
        assert!(!error.contains("secret-pw"), "{error}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cut_connection_fails_fast_and_the_next_attempt_reconnects() {
    let suffix = unique();
    let exchange = format!("libris-test-{suffix}");
    let queue = format!("libris-test-{suffix}");
    let (e, q) = (exchange.clone(), queue.clone());
    with_cleanup(
        async move {
            topology(&e, &q, "#").await;
            let mut proxy = TcpProxy::start(rabbitmq_addr()).await;
            let url = format!(
                "amqp://guest:guest@127.0.0.1:{}/%2f?exchange={e}",
                proxy.port()
            );
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
                error.contains(&format!("127.0.0.1:{}", proxy.port())),
                "{error}"
            );
            assert!(!error.contains("guest:guest"), "{error}");

            proxy.restore().await;
            let report = channel.send(&sends[3], attempt_time()).await;
            assert_eq!(report.outcome, Outcome::Delivered, "{report:?}");
            assert_eq!(proxy.connections(), 2, "reconnected once");

            let received: Vec<_> = drain(&q).await.iter().map(message_id).collect();
            let delivered: Vec<_> = [&sends[0], &sends[1], &sends[3]]
                .iter()
                .map(|sent| Some(sent.event_id.hyphenated().to_string()))
                .collect();
            assert_eq!(received, delivered, "exactly the delivered messages");
        },
        delete(&exchange, &queue),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broker_that_never_answers_times_out_within_the_timeout() {
    let addr = silent_server().await;
    let timeout = Duration::from_millis(700);
    let channel = BrokerChannel::new(timeout);
    let url = format!("amqp://guest:guest@{addr}/%2f?exchange=libris-test-none");
    let started = Instant::now();
    let report = channel
        .send(&delivery(&url, "book.created"), attempt_time())
        .await;
    let took = started.elapsed();
    assert_eq!(report.outcome, RETRY, "{report:?}");
    assert!(took <= timeout + Duration::from_secs(1), "took {took:?}");
    let error = report.error.expect("an error");
    assert!(
        error.contains("timed out after 700ms connecting"),
        "{error}"
    );
}
