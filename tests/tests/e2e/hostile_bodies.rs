//! Generated bodies of every shape against every write route: whatever
//! arrives, the answer is a JSON error or a success, never a 5xx or a dropped
//! connection. Seeded, so a failure replays.

use libris_e2e::TestApp;
use reqwest::Method;
use serde_json::{json, Map, Value};

const BODIES_PER_ROUTE: usize = 120;

/// xorshift64*: enough randomness for inputs, and the same run every time.
struct Inputs(u64);

impl Inputs {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn text(&mut self) -> String {
        const PIECES: [&str; 14] = [
            "",
            "a",
            "1234567890",
            "978-0-306-40615-7",
            "X",
            "é",
            "€",
            "𝄞",
            "\u{0}",
            "\n",
            " ",
            "%_",
            "http://127.0.0.1:9/",
            "member.greeted",
        ];
        let mut text: String = (0..self.below(5))
            .map(|_| PIECES[self.below(PIECES.len())])
            .collect();
        if self.below(10) == 0 {
            text.push_str(&"é".repeat(300));
        }
        text
    }

    fn value(&mut self, fields: &[&str], depth: usize) -> Value {
        match self.below(if depth == 0 { 6 } else { 9 }) {
            0 => Value::Null,
            1 => json!(self.below(2) == 0),
            2 => json!([i64::MIN, -1, 0, 1, 7, i64::MAX][self.below(6)]),
            3 => json!([0.5, -1e308, 1e308, 3.0][self.below(4)]),
            4 | 5 => json!(self.text()),
            6 => Value::Array(
                (0..self.below(4))
                    .map(|_| self.value(fields, depth - 1))
                    .collect(),
            ),
            _ => self.object(fields, depth - 1),
        }
    }

    /// Mostly the route's own field names, sometimes others.
    fn object(&mut self, fields: &[&str], depth: usize) -> Value {
        let mut object = Map::new();
        for _ in 0..self.below(fields.len() + 2) {
            let key = match self.below(fields.len() + 1) {
                i if i < fields.len() => fields[i].to_owned(),
                _ => self.text(),
            };
            object.insert(key, self.value(fields, depth));
        }
        Value::Object(object)
    }
}

#[actix_web::test]
async fn no_generated_body_gets_a_5xx_from_any_write_route() {
    let app = TestApp::spawn().await;
    let author = app.author("Frank Herbert").await;
    let book = app.book("Dune", author).await;
    let member = app.member("ann").await;
    let hook = app
        .subscribe("http://127.0.0.1:9/hook", &["*"], "hostile-secret")
        .await;
    let hook = format!("/api/webhooks/{}/", hook["id"].as_str().expect("an id"));
    let book_fields: &[&str] = &["title", "author", "isbn", "available"];
    let routes: Vec<(Method, String, &[&str], Option<&str>)> = vec![
        (Method::POST, "/api/books/".into(), book_fields, None),
        (
            Method::PUT,
            format!("/api/books/{book}/"),
            book_fields,
            None,
        ),
        (
            Method::PATCH,
            format!("/api/books/{book}/"),
            book_fields,
            None,
        ),
        (Method::POST, "/api/authors/".into(), &["name", "bio"], None),
        (
            Method::PATCH,
            format!("/api/authors/{author}/"),
            &["name", "bio"],
            None,
        ),
        (
            Method::POST,
            "/api/books/bulk-import/".into(),
            &["title", "author_id", "isbn"],
            None,
        ),
        (
            Method::POST,
            "/api/users/".into(),
            &["username", "email", "password"],
            None,
        ),
        (
            Method::POST,
            "/api/auth/token/".into(),
            &["username", "password"],
            None,
        ),
        (
            Method::PATCH,
            "/api/users/me/".into(),
            &["bio", "phone", "subscribed_to_notifications"],
            Some(member.as_str()),
        ),
        (
            Method::POST,
            "/api/webhooks/".into(),
            &[
                "url",
                "events",
                "event",
                "secret",
                "headers",
                "is_active",
                "description",
            ],
            None,
        ),
        (
            Method::PATCH,
            hook.clone(),
            &["url", "events", "secret", "headers", "description"],
            None,
        ),
        (
            Method::POST,
            "/api/events/".into(),
            &["event", "data", "user_id"],
            None,
        ),
    ];
    let mut inputs = Inputs(0x5eed_0001_b215_0007);
    for (method, path, fields, token) in &routes {
        let token = token.unwrap_or(&app.admin_token);
        for n in 0..BODIES_PER_ROUTE {
            // Bulk import takes an array of items; every other route an object.
            let body = if path.contains("bulk-import") && n % 2 == 0 {
                Value::Array(
                    (0..inputs.below(4))
                        .map(|_| inputs.object(fields, 2))
                        .collect(),
                )
            } else if n % 5 == 0 {
                inputs.value(fields, 3)
            } else {
                inputs.object(fields, 2)
            };
            let reply = app
                .call(method.clone(), path, Some(token), Some(body.clone()))
                .await;
            assert!(
                reply.status.as_u16() < 500,
                "{method} {path} answered {} to {body}: {}",
                reply.status,
                reply.body
            );
        }
    }
}
