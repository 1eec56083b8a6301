//! A fake of the seed's SMS gateway (the "Probe Server") on loopback, for
//! tests that send campaign messages: `POST /v1/send/{id}` with a bearer token
//! and a JSON body, answered `200 {"code": 0, "message": "OK"}` when all is
//! well. It records every request as it arrived (path, `Authorization`, raw
//! body) and can be switched at any moment to answer slowly, answer 500,
//! answer 200 with a wrong body, hang, or be down (stop, then restart on the
//! same port).
//!
//! Built on the webhook [`Receiver`]: it is a real HTTP/1.1 server with the
//! same stop-and-restart behaviour, so what differs here is only what the
//! gateway answers and how its requests read.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::receiver::{Receiver, RecordedRequest, Reply};

/// The path prefix of the gateway's API; [`FakeSmsGateway::url`] includes it,
/// so a client that drops it (a common mistake) is caught by the path.
pub const API_PREFIX: &str = "/v1";

/// Long enough that no client waits it out: a hanging gateway.
const FOREVER: Duration = Duration::from_secs(24 * 3600);

/// How the gateway answers a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GatewayAnswer {
    /// `200 {"code": 0, "message": "OK"}`: sent.
    Accept,
    /// [`GatewayAnswer::Accept`], after a delay: a slow gateway.
    AcceptAfter(Duration),
    /// `500` with a JSON error body.
    ServerError,
    /// Any status with a JSON error body (`401`, `429`, `503`...).
    Status(u16),
    /// `200 {"code": <code>, "message": "error"}`: the gateway took the
    /// request but did not send.
    WrongCode(i64),
    /// `200` with a body that is not JSON.
    NotJson,
    /// Reads the request and never answers, until the client gives up or the
    /// gateway stops.
    Hang,
}

impl GatewayAnswer {
    fn reply(&self) -> Reply {
        let json = |status: u16, body: Value| {
            Reply::status(status)
                .header("Content-Type", "application/json")
                .body(body.to_string())
        };
        match self {
            Self::Accept => json(200, serde_json::json!({"code": 0, "message": "OK"})),
            Self::AcceptAfter(delay) => Self::Accept.reply().delay(*delay),
            Self::ServerError => Self::Status(500).reply(),
            Self::Status(status) => json(
                *status,
                serde_json::json!({"code": status, "message": "error"}),
            ),
            Self::WrongCode(code) => {
                json(200, serde_json::json!({"code": code, "message": "error"}))
            }
            Self::NotJson => Reply::status(200)
                .header("Content-Type", "text/plain")
                .body("OK"),
            Self::Hang => Self::Accept.reply().delay(FOREVER),
        }
    }
}

/// One request as the gateway got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GatewayRequest {
    pub method: String,
    /// The request target as sent: `/v1/send/42` from a correct client.
    pub path: String,
    /// The `Authorization` header as sent.
    pub authorization: Option<String>,
    pub content_type: Option<String>,
    pub body: Vec<u8>,
    pub received_at: Instant,
}

impl GatewayRequest {
    fn from_recorded(request: RecordedRequest) -> Self {
        Self {
            authorization: request.header("authorization").map(str::to_owned),
            content_type: request.header("content-type").map(str::to_owned),
            method: request.method,
            path: request.path,
            body: request.body,
            received_at: request.received_at,
        }
    }

    /// The token of a `Bearer` authorization, if that is what was sent.
    pub fn bearer(&self) -> Option<&str> {
        self.authorization.as_deref()?.strip_prefix("Bearer ")
    }

    /// The message id in the path, for a request to `/v1/send/{id}`.
    pub fn path_id(&self) -> Option<i64> {
        self.path
            .strip_prefix(API_PREFIX)?
            .strip_prefix("/send/")?
            .parse()
            .ok()
    }

    /// The body as JSON, if it is.
    pub fn json(&self) -> Option<Value> {
        serde_json::from_slice(&self.body).ok()
    }

    /// The body's `id`, when it is an integer.
    pub fn body_id(&self) -> Option<i64> {
        self.json()?.get("id")?.as_i64()
    }

    /// The body's `phone`, when it is an integer.
    pub fn phone(&self) -> Option<u64> {
        self.json()?.get("phone")?.as_u64()
    }

    /// The body's `text`, when it is a string.
    pub fn text(&self) -> Option<String> {
        Some(self.json()?.get("text")?.as_str()?.to_owned())
    }
}

/// The fake gateway. Dropping it stops it; `stop` closes it at once.
#[derive(Debug)]
pub struct FakeSmsGateway {
    receiver: Receiver,
}

impl FakeSmsGateway {
    /// A gateway on a free port that accepts every message.
    pub async fn start() -> Self {
        Self::ready(Receiver::start().await)
    }

    /// A gateway on a given port, e.g. one an earlier gateway used, to play
    /// a gateway coming back.
    pub async fn start_on(port: u16) -> Self {
        Self::ready(Receiver::start_on(port).await)
    }

    fn ready(receiver: Receiver) -> Self {
        receiver.set_fallback(GatewayAnswer::Accept.reply());
        Self { receiver }
    }

    /// What to configure as the gateway's URL: `http://127.0.0.1:PORT/v1`.
    pub fn url(&self) -> String {
        format!("{}{API_PREFIX}", self.receiver.base_url())
    }

    pub fn port(&self) -> u16 {
        self.receiver.port()
    }

    /// How every request is answered from now on, once the answers given to
    /// [`FakeSmsGateway::answer_next`] are used up.
    pub fn set_answer(&self, answer: GatewayAnswer) {
        self.receiver.set_fallback(answer.reply());
    }

    /// Answers the next requests with `answers`, in order, before the
    /// standing answer of [`FakeSmsGateway::set_answer`].
    pub fn answer_next(&self, answers: Vec<GatewayAnswer>) {
        self.receiver
            .respond_with(answers.iter().map(GatewayAnswer::reply).collect());
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<GatewayRequest> {
        self.receiver
            .requests()
            .into_iter()
            .map(GatewayRequest::from_recorded)
            .collect()
    }

    /// Waits until at least `n` requests have arrived and returns all of
    /// them. Panics, listing what did arrive, if they do not within
    /// `timeout`.
    pub async fn wait_for(&self, n: usize, timeout: Duration) -> Vec<GatewayRequest> {
        self.receiver
            .wait_for(n, timeout)
            .await
            .into_iter()
            .map(GatewayRequest::from_recorded)
            .collect()
    }

    /// Down: closes the port and every open connection (a hanging request
    /// too), so clients see a refused connection. Requests and answers are
    /// kept.
    pub async fn stop(&mut self) {
        self.receiver.stop().await;
    }

    /// Up again on the same port after `stop`.
    pub async fn restart(&mut self) {
        self.receiver.restart().await;
    }
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpStream;

    use super::*;

    const PATIENCE: Duration = Duration::from_secs(5);

    /// Sends one raw request on a new connection and reads until the
    /// gateway closes it (`Connection: close`), or `None` if nothing came
    /// within `wait`.
    async fn post(
        gateway: &FakeSmsGateway,
        path: &str,
        body: &str,
        wait: Duration,
    ) -> Option<String> {
        let mut stream = TcpStream::connect(("127.0.0.1", gateway.port()))
            .await
            .ok()?;
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer t0k3n\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut answer = String::new();
        tokio::time::timeout(wait, stream.read_to_string(&mut answer))
            .await
            .ok()?
            .ok()?;
        Some(answer)
    }

    const BODY: &str = r#"{"id": 42, "phone": 79161234567, "text": "Hi"}"#;

    #[tokio::test]
    async fn records_the_request_and_accepts_by_default() {
        let gateway = FakeSmsGateway::start().await;
        assert_eq!(
            gateway.url(),
            format!("http://127.0.0.1:{}/v1", gateway.port())
        );
        let answer = post(&gateway, "/v1/send/42", BODY, PATIENCE)
            .await
            .expect("an answer");
        assert!(answer.starts_with("HTTP/1.1 200 "), "{answer}");
        assert!(answer.ends_with(r#"{"code":0,"message":"OK"}"#), "{answer}");

        let requests = gateway.requests();
        assert_eq!(requests.len(), 1);
        let request = &requests[0];
        assert_eq!(request.method, "POST");
        assert_eq!(request.path_id(), Some(42));
        assert_eq!(request.bearer(), Some("t0k3n"));
        assert_eq!(request.content_type.as_deref(), Some("application/json"));
        assert_eq!(request.body_id(), Some(42));
        assert_eq!(request.phone(), Some(79_161_234_567));
        assert_eq!(request.text().as_deref(), Some("Hi"));
    }

    #[tokio::test]
    async fn a_path_without_the_prefix_has_no_id() {
        let gateway = FakeSmsGateway::start().await;
        post(&gateway, "/send/42", BODY, PATIENCE).await;
        assert_eq!(gateway.requests()[0].path_id(), None);
    }

    #[tokio::test]
    async fn answers_as_switched_scripted_answers_first() {
        let gateway = FakeSmsGateway::start().await;
        gateway.set_answer(GatewayAnswer::ServerError);
        gateway.answer_next(vec![GatewayAnswer::WrongCode(1), GatewayAnswer::NotJson]);
        let mut answers = Vec::new();
        for _ in 0..3 {
            answers.push(post(&gateway, "/v1/send/1", BODY, PATIENCE).await.unwrap());
        }
        assert!(answers[0].starts_with("HTTP/1.1 200 "));
        assert!(answers[0].ends_with(r#"{"code":1,"message":"error"}"#));
        assert!(answers[1].starts_with("HTTP/1.1 200 "));
        assert!(answers[1].ends_with("\r\n\r\nOK"));
        assert!(answers[2].starts_with("HTTP/1.1 500 "), "{}", answers[2]);
        gateway.set_answer(GatewayAnswer::Status(401));
        let unauthorized = post(&gateway, "/v1/send/1", BODY, PATIENCE).await.unwrap();
        assert!(unauthorized.starts_with("HTTP/1.1 401 "), "{unauthorized}");
    }

    #[tokio::test]
    async fn a_slow_gateway_answers_late_and_a_hanging_one_never() {
        let gateway = FakeSmsGateway::start().await;
        let delay = Duration::from_millis(300);
        gateway.set_answer(GatewayAnswer::AcceptAfter(delay));
        let started = Instant::now();
        let answer = post(&gateway, "/v1/send/1", BODY, PATIENCE).await.unwrap();
        assert!(started.elapsed() >= delay);
        assert!(answer.starts_with("HTTP/1.1 200 "));

        gateway.set_answer(GatewayAnswer::Hang);
        assert_eq!(
            post(&gateway, "/v1/send/2", BODY, Duration::from_millis(300)).await,
            None
        );
        assert_eq!(gateway.wait_for(2, PATIENCE).await[1].path_id(), Some(2));
    }

    #[tokio::test]
    async fn down_refuses_connections_and_comes_back_on_the_same_port() {
        let mut gateway = FakeSmsGateway::start().await;
        let port = gateway.port();
        gateway.stop().await;
        assert!(TcpStream::connect(("127.0.0.1", port)).await.is_err());
        gateway.restart().await;
        assert_eq!(gateway.port(), port);
        let answer = post(&gateway, "/v1/send/3", BODY, PATIENCE).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 200 "));
        drop(gateway);
        let again = FakeSmsGateway::start_on(port).await;
        assert!(post(&again, "/v1/send/4", BODY, PATIENCE).await.is_some());
        assert_eq!(again.requests().len(), 1, "a new gateway records afresh");
    }
}
