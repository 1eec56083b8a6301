//! The end-to-end harness: [`TestApp`] starts the real application (the same
//! `Application` `main` starts) on a random port with a fresh database, and
//! talks to it over HTTP with one method per endpoint.

use actix_web::dev::ServerHandle;
use clap::Parser as _;
use libris_server::config::LogFormat;
use libris_server::workers::WorkerHandle;
use libris_server::{telemetry, Application, Cli, Config};
use libris_testing::database::TestDatabase;
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};

pub const ADMIN: (&str, &str) = ("admin", "admin-password");

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A token of the bootstrap admin.
    pub admin_token: String,
    server: ServerHandle,
    // Fields drop in this order: the workers stop (and finish their store
    // work) while the database still exists, then it is removed. Both are
    // taken out by [`TestApp::restart`].
    workers: Option<WorkerHandle>,
    database: Option<TestDatabase>,
}

impl Drop for TestApp {
    fn drop(&mut self) {
        // The stop command is sent at once; nobody needs to wait for it.
        drop(self.server.stop(false));
    }
}

/// The database [`TestApp::spawn`] uses.
pub fn default_database() -> TestDatabase {
    match std::env::var("LIBRIS_E2E_BACKEND").as_deref() {
        Ok("postgres") => TestDatabase::postgres()
            .expect("LIBRIS_E2E_BACKEND=postgres needs PostgreSQL (LIBRIS_TEST_POSTGRES_URL)"),
        _ => TestDatabase::sqlite(),
    }
}

/// The value of a response header that must be there, as text.
#[track_caller]
pub fn header<'a>(headers: &'a reqwest::header::HeaderMap, name: &str) -> &'a str {
    headers
        .get(name)
        .unwrap_or_else(|| panic!("no {name} header"))
        .to_str()
        .expect("a text header")
}

/// A response's status and JSON body (`Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: StatusCode,
    pub body: Value,
}

impl Reply {
    async fn read(response: Response) -> Self {
        let status = response.status();
        let text = response.text().await.expect("read the body");
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("body is not JSON ({e}): {text}"))
        };
        Self { status, body }
    }

    /// Asserts the status and returns the body.
    #[track_caller]
    pub fn expect(self, status: u16) -> Value {
        assert_eq!(
            self.status.as_u16(),
            status,
            "unexpected status; body: {}",
            self.body
        );
        self.body
    }
}

impl TestApp {
    /// Starts the app on a fresh database: SQLite, or PostgreSQL when
    /// `LIBRIS_E2E_BACKEND=postgres` (`make test` runs the suite both ways).
    pub async fn spawn() -> Self {
        Self::spawn_on(default_database(), &[]).await
    }

    /// Starts the app on `database`, with extra `--flag value` arguments as
    /// `libris serve` would take them.
    pub async fn spawn_on(database: TestDatabase, args: &[&str]) -> Self {
        if std::env::var("LIBRIS_TEST_LOG").is_ok() {
            telemetry::init(LogFormat::Text);
        }
        let mut argv = vec!["libris", "--database-url", database.url()];
        // Defaults for tests: a random port, loopback receivers allowed, a
        // fast retry schedule; an argument given by the test wins.
        let defaults = [
            ("--port", "0"),
            ("--admin-username", ADMIN.0),
            ("--admin-password", ADMIN.1),
            ("--http-workers", "2"),
            ("--webhook-allow-private", "true"),
            ("--webhook-retry-schedule", "100ms,200ms,400ms"),
            ("--webhook-timeout", "2s"),
            ("--webhook-poll-interval", "100ms"),
        ];
        for (flag, value) in defaults {
            if !args.contains(&flag) {
                argv.extend([flag, value]);
            }
        }
        argv.extend_from_slice(args);
        let cli = Cli::try_parse_from(argv).expect("valid test arguments");
        let application = Application::build(Config::from_cli(&cli))
            .await
            .expect("the app starts");
        let address = format!("http://127.0.0.1:{}", application.port());
        let (server, workers) = application.into_parts();
        let handle = server.handle();
        actix_web::rt::spawn(server);
        let mut app = Self {
            address,
            client: reqwest::Client::new(),
            admin_token: String::new(),
            server: handle,
            workers: Some(workers),
            database: Some(database),
        };
        app.admin_token = app.login(ADMIN.0, ADMIN.1).await;
        app
    }

    /// Stops this app (its server, then its workers, as a process exit
    /// would) and starts a new one on the same database with `args`.
    pub async fn restart(mut self, args: &[&str]) -> Self {
        self.server.stop(true).await;
        drop(self.workers.take());
        let database = self
            .database
            .take()
            .expect("a running app has its database");
        Self::spawn_on(database, args).await
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Sends a request with an optional token and JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        Reply::read(request.send().await.expect("the request is sent")).await
    }

    /// POSTs these exact bytes with these headers and no token (what a
    /// signed inbound webhook looks like).
    pub async fn post_signed(&self, path: &str, body: &[u8], headers: &[(&str, &str)]) -> Reply {
        let mut request = self
            .client
            .post(self.url(path))
            .header("content-type", "application/json")
            .body(body.to_vec());
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Reply::read(request.send().await.expect("the request is sent")).await
    }

    /// A request as the bootstrap admin.
    pub async fn admin(&self, method: Method, path: &str, body: Option<Value>) -> Reply {
        self.call(method, path, Some(&self.admin_token), body).await
    }

    pub async fn get(&self, path: &str, token: Option<&str>) -> Reply {
        self.call(Method::GET, path, token, None).await
    }

    pub async fn admin_get(&self, path: &str) -> Value {
        self.get(path, Some(&self.admin_token)).await.expect(200)
    }

    pub async fn register(&self, username: &str, password: &str) -> Reply {
        let body = json!({"username": username, "email": format!("{username}@example.com"), "password": password});
        self.call(Method::POST, "/api/users/", None, Some(body))
            .await
    }

    pub async fn post_token(&self, username: &str, password: &str) -> Reply {
        let body = json!({"username": username, "password": password});
        self.call(Method::POST, "/api/auth/token/", None, Some(body))
            .await
    }

    pub async fn login(&self, username: &str, password: &str) -> String {
        let body = self.post_token(username, password).await.expect(200);
        body["token"].as_str().expect("a token").to_owned()
    }

    /// Registers a member and answers their token.
    pub async fn member(&self, username: &str) -> String {
        self.register(username, "member-password").await.expect(201);
        self.login(username, "member-password").await
    }

    pub async fn post_author(&self, name: &str) -> Reply {
        let body = json!({"name": name});
        self.call(
            Method::POST,
            "/api/authors/",
            Some(&self.admin_token),
            Some(body),
        )
        .await
    }

    pub async fn author(&self, name: &str) -> i64 {
        self.post_author(name).await.expect(201)["id"]
            .as_i64()
            .expect("an id")
    }

    pub async fn get_author(&self, id: i64) -> Value {
        self.get(&format!("/api/authors/{id}/"), None)
            .await
            .expect(200)
    }

    pub async fn post_book(&self, body: Value) -> Reply {
        self.call(
            Method::POST,
            "/api/books/",
            Some(&self.admin_token),
            Some(body),
        )
        .await
    }

    pub async fn book(&self, title: &str, author: i64) -> i64 {
        let body = json!({"title": title, "author": author});
        self.post_book(body).await.expect(201)["id"]
            .as_i64()
            .expect("an id")
    }

    pub async fn patch_book(&self, id: i64, body: Value) -> Reply {
        self.call(
            Method::PATCH,
            &format!("/api/books/{id}/"),
            Some(&self.admin_token),
            Some(body),
        )
        .await
    }

    pub async fn borrow(&self, book: i64, token: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/books/{book}/borrow/"),
            Some(token),
            None,
        )
        .await
    }

    pub async fn give_back(&self, book: i64, token: &str) -> Reply {
        self.call(
            Method::POST,
            &format!("/api/books/{book}/return/"),
            Some(token),
            None,
        )
        .await
    }

    pub async fn bulk_import(&self, items: Value) -> Reply {
        self.call(
            Method::POST,
            "/api/books/bulk-import/",
            Some(&self.admin_token),
            Some(items),
        )
        .await
    }

    /// Subscribes `url` to `events` with `secret`; answers the webhook.
    pub async fn subscribe(&self, url: &str, events: &[&str], secret: &str) -> Value {
        let body = json!({"url": url, "events": events, "secret": secret});
        self.call(
            Method::POST,
            "/api/webhooks/",
            Some(&self.admin_token),
            Some(body),
        )
        .await
        .expect(201)
    }

    /// Polls an admin GET until `done` accepts its body (work happens in the
    /// background); panics with the last body after `timeout`.
    pub async fn eventually(
        &self,
        path: &str,
        timeout: std::time::Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let body = self.admin_get(path).await;
            if done(&body) {
                return body;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{path} never matched; last: {body}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(25)).await;
        }
    }

    pub async fn delete_book(&self, id: i64) -> Reply {
        self.call(
            Method::DELETE,
            &format!("/api/books/{id}/"),
            Some(&self.admin_token),
            None,
        )
        .await
    }
}
