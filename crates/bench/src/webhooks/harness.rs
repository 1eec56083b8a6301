//! A fresh server for one scenario, with an admin token, one author to file
//! books under, and a way to subscribe receivers to `book.created`.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::server::Server;

/// Loopback receivers need private targets allowed.
const ENV: &[(&str, &str)] = &[("LIBRIS_WEBHOOK_ALLOW_PRIVATE", "true")];

pub struct Harness {
    pub server: Server,
    pub books: BookCreator,
}

impl Harness {
    /// A server on a fresh SQLite file.
    pub async fn start() -> Self {
        Self::with_author(Server::start(ENV).await).await
    }

    /// A server on the (empty) PostgreSQL database at `database_url`.
    pub async fn start_on(database_url: &str) -> Self {
        Self::with_author(Server::start(&on(database_url)).await).await
    }

    /// A second process on `self`'s PostgreSQL database, creating books
    /// under the same author.
    pub async fn another_process(&self, database_url: &str) -> Self {
        let server = Server::start(&on(database_url)).await;
        let client = reqwest::Client::new();
        let token = server.token(&client).await;
        let books = BookCreator::new(client, &server.base, &token, self.books.author);
        Self { server, books }
    }

    async fn with_author(server: Server) -> Self {
        let client = reqwest::Client::new();
        let token = server.token(&client).await;
        let author = post(
            &client,
            &server.base,
            "authors",
            &token,
            json!({"name": "Bench"}),
        )
        .await["id"]
            .as_i64()
            .expect("the author's id");
        let books = BookCreator::new(client, &server.base, &token, author);
        Self { server, books }
    }

    /// Subscribes `url` to `book.created`.
    pub async fn subscribe(&self, url: &str) {
        let body = json!({"url": url, "events": ["book.created"], "secret": "bench-secret"});
        let b = &self.books;
        post(&b.client, &self.server.base, "webhooks", &b.token, body).await;
    }
}

/// [`ENV`] with the server pointed at `database_url`.
fn on(database_url: &str) -> Vec<(&str, &str)> {
    let mut env = ENV.to_vec();
    env.push(("DATABASE_URL", database_url));
    env
}

async fn post(client: &reqwest::Client, base: &str, what: &str, token: &str, body: Value) -> Value {
    let response = client
        .post(format!("{base}/api/{what}/"))
        .bearer_auth(token)
        .json(&body)
        .send()
        .await
        .expect("the request");
    assert_eq!(response.status(), 201, "POST /api/{what}/ creates");
    response.json().await.expect("JSON")
}

/// A book created over HTTP: its id, when its request was sent, and how long
/// the request took.
pub struct Created {
    pub book: i64,
    pub sent: Instant,
    pub latency: Duration,
}

/// Creates books as the admin; cheap to clone into client tasks.
#[derive(Clone)]
pub struct BookCreator {
    client: reqwest::Client,
    url: String,
    token: String,
    author: i64,
}

impl BookCreator {
    /// Creates books by `author` on the server at `base` with `token`.
    pub fn new(client: reqwest::Client, base: &str, token: &str, author: i64) -> Self {
        Self {
            url: format!("{base}/api/books/"),
            client,
            token: token.to_owned(),
            author,
        }
    }

    /// `POST /api/books/`; panics unless it answers 201.
    pub async fn create(&self, n: usize) -> Created {
        let sent = Instant::now();
        let response = self
            .client
            .post(&self.url)
            .bearer_auth(&self.token)
            .json(&json!({"title": format!("Bench book {n}"), "author": self.author}))
            .send()
            .await
            .expect("the book request");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        let latency = sent.elapsed();
        assert_eq!(status, 201, "a book is created: {body}");
        Created {
            book: body["id"].as_i64().expect("the book's id"),
            sent,
            latency,
        }
    }
}
