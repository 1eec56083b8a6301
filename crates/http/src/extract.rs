//! Extractors and helpers every route uses: the JSON body that tells malformed
//! (400) from mistyped (422), the bearer-token callers, pagination, and the
//! hop to a blocking thread for store work.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use libris_application::access::{Admin, WebhookManager};
use libris_application::{accounts, Caller, Page};
use libris_domain::FieldError;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::errors::ApiError;
use crate::state::AppState;

type LocalFuture<T> = Pin<Box<dyn Future<Output = Result<T, ApiError>>>>;

/// Runs store work (diesel, pool checkout, argon2) on actix's blocking pool,
/// never on an executor thread.
pub async fn blocking<T, E>(
    work: impl FnOnce() -> Result<T, E> + Send + 'static,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    E: Into<ApiError> + Send + 'static,
{
    web::block(work)
        .await
        // Blocking work fails this way only by panicking, and the panic
        // hook has logged that once already.
        .map_err(|_| ApiError::opaque_internal())?
        .map_err(Into::into)
}

/// The body byte for byte (signatures cover exactly what was sent); a body
/// over the limit is 413.
pub struct RawBody(pub web::Bytes);

impl FromRequest for RawBody {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let bytes = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            bytes.await.map(RawBody).map_err(|e| {
                let status = e.as_response_error().status_code();
                if status == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::new(
                        status,
                        "payload_too_large",
                        "the request body is larger than allowed",
                    )
                } else {
                    ApiError::bad_request(format!("cannot read the request body: {e}"))
                }
            })
        })
    }
}

/// A JSON body: malformed JSON is 400, JSON of the wrong shape is 422 naming
/// the field, a body over the limit is 413.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned + 'static> FromRequest for JsonBody<T> {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = RawBody::from_request(req, payload);
        Box::pin(async move {
            let RawBody(bytes) = body.await?;
            parse_json(&bytes).map(JsonBody)
        })
    }
}

fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    serde_path_to_error::deserialize(json_value(bytes)?)
        .map_err(|e| ApiError::invalid(shape_error(&e).into()))
}

/// The body as a JSON value, of any shape; malformed JSON is 400. serde_json's
/// syntax errors name a position, never the text found there.
pub(crate) fn json_value(bytes: &[u8]) -> Result<serde_json::Value, ApiError> {
    serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))
}

/// Names the field a well-formed JSON value got wrong, and how.
pub(crate) fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    // A missing field is reported at the parent; name the field itself.
    let missing = message
        .strip_prefix(MISSING_FIELD)
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path.as_str()) {
        (Some(name), ".") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    FieldError::new(field, shape_message(error.inner()))
}

const MISSING_FIELD: &str = "missing field `";

/// What serde's messages of the wrong shape start with (the text before
/// `, expected`), and how to say each without the value.
const PROBLEMS: [(&str, &str); 4] = [
    ("invalid value: ", "invalid value"),
    ("invalid length ", "wrong length"),
    ("unknown variant ", "unknown variant"),
    ("unknown field ", "unknown field"),
];

/// Says how a value has the wrong shape without quoting it: serde's message
/// does ("invalid type: integer `12345678`, expected a string"), and both the
/// response and the log line of the error would then repeat, say, a mistyped
/// password. Keeps only what the code defines: the expected type and the JSON
/// type found. A message of another form (a custom deserializer's may quote
/// its input) becomes a generic one.
pub(crate) fn shape_message(error: &serde_json::Error) -> String {
    let message = error.to_string();
    if message.starts_with(MISSING_FIELD) {
        return "this field is required".to_owned();
    }
    // serde puts the target type's own description last; the value, which
    // may itself hold ", expected ", comes before it.
    let Some((problem, expected)) = message.rsplit_once(", expected ") else {
        return INVALID.to_owned();
    };
    if let Some(found) = problem.strip_prefix("invalid type: ") {
        return match json_type(found) {
            Some(found) => format!("expected {expected}, found {found}"),
            None => format!("expected {expected}"),
        };
    }
    match PROBLEMS
        .iter()
        .find(|(start, _)| problem.starts_with(start))
    {
        Some((_, what)) => format!("{what}, expected {expected}"),
        None => INVALID.to_owned(),
    }
}

const INVALID: &str = "invalid value";

/// The JSON type of a value as serde describes it: a kind ("integer",
/// "string", "map"), then for scalars the value quoted; only the kind is kept.
fn json_type(described: &str) -> Option<&'static str> {
    let kind = described
        .split(['`', '"'])
        .next()
        .unwrap_or_default()
        .trim();
    Some(match kind {
        "null" | "unit value" => "null",
        "boolean" => "a boolean",
        "integer" | "floating point" | "number" => "a number",
        "string" | "character" => "a string",
        "sequence" => "an array",
        "map" => "an object",
        _ => return None,
    })
}

pub(crate) fn bearer_token(req: &HttpRequest) -> Option<String> {
    let value = req
        .headers()
        .get(actix_web::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?;
    let (scheme, token) = value.split_once(' ')?;
    let token = token.trim();
    (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then(|| token.to_owned())
}

/// The caller behind a live bearer token; 401 otherwise.
pub struct Authenticated(pub Caller);

impl FromRequest for Authenticated {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let token = token.ok_or_else(ApiError::unauthorized)?;
            let state =
                state.ok_or_else(|| ApiError::internal(&"application state is not configured"))?;
            let account =
                blocking(move || accounts::authenticate(&*state.store, &*state.tokens, &token))
                    .await?;
            let account = account.ok_or_else(ApiError::unauthorized)?;
            Ok(Self(Caller::from(&account.user)))
        })
    }
}

/// An authenticated admin; 401 for anonymous callers, 403 for members.
pub struct AdminCaller(pub Admin);

impl FromRequest for AdminCaller {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Authenticated::from_request(req, payload);
        Box::pin(async move { Ok(Self(Admin::check(caller.await?.0)?)) })
    }
}

/// An authenticated caller managing webhooks: an admin all of them, a member
/// their own; 401 for anonymous callers.
pub struct Manager(pub WebhookManager);

impl FromRequest for Manager {
    type Error = ApiError;
    type Future = LocalFuture<Self>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let caller = Authenticated::from_request(req, payload);
        Box::pin(async move { Ok(Self(WebhookManager::new(caller.await?.0))) })
    }
}

/// Whether a write replaces the resource (PUT: required fields must be
/// given) or changes what it names (PATCH).
pub struct FullUpdate(pub bool);

impl FromRequest for FullUpdate {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(Ok(Self(req.method() == actix_web::http::Method::PUT)))
    }
}

/// The bearer token itself, for revoking it.
pub struct BearerToken(pub String);

impl FromRequest for BearerToken {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        std::future::ready(
            bearer_token(req)
                .map(Self)
                .ok_or_else(ApiError::unauthorized),
        )
    }
}

#[derive(Debug, Deserialize)]
struct PageQuery {
    limit: Option<i64>,
    offset: Option<i64>,
}

/// `?limit=&offset=` of any list (default 50, at most 500).
pub struct Pagination(pub Page);

impl FromRequest for Pagination {
    type Error = ApiError;
    type Future = std::future::Ready<Result<Self, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let page = web::Query::<PageQuery>::from_query(req.query_string())
            .map(|q| Self(Page::new(q.limit, q.offset)))
            .map_err(|e| ApiError::bad_request(format!("invalid pagination: {e}")));
        std::future::ready(page)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Deserialize)]
    struct Sample {
        title: String,
        count: i64,
    }

    #[test]
    fn malformed_json_is_400_and_wrong_shapes_are_422_with_the_field() {
        let err = parse_json::<Sample>(b"{not json").unwrap_err();
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
        let err = parse_json::<Sample>(br#"{"count": 1}"#).unwrap_err();
        assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
        assert!(format!("{err:?}").contains("field: \"title\""), "{err:?}");
        let err = parse_json::<Sample>(br#"{"title": "x", "count": "many"}"#).unwrap_err();
        assert!(format!("{err:?}").contains("field: \"count\""), "{err:?}");
        let sample = parse_json::<Sample>(br#"{"title": "x", "count": 2}"#).unwrap();
        assert_eq!((sample.title.as_str(), sample.count), ("x", 2));
    }

    #[derive(Debug, Deserialize)]
    enum Colour {
        Red,
        Green,
    }

    /// Refuses every string, quoting it, as a careless custom type might.
    #[derive(Debug)]
    struct Quoting;

    impl<'de> Deserialize<'de> for Quoting {
        fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
            let text = String::deserialize(deserializer)?;
            Err(serde::de::Error::custom(format!("cannot use {text}")))
        }
    }

    fn message<T: DeserializeOwned>(value: serde_json::Value) -> Option<String> {
        serde_json::from_value::<T>(value)
            .err()
            .map(|e| shape_message(&e))
    }

    #[test]
    fn shape_messages_name_the_expected_type_never_the_value() {
        use serde_json::json;
        assert_eq!(
            message::<String>(json!(12345678)).unwrap(),
            "expected a string, found a number"
        );
        assert_eq!(
            message::<i64>(json!("many")).unwrap(),
            "expected i64, found a string"
        );
        assert_eq!(
            message::<bool>(json!(null)).unwrap(),
            "expected a boolean, found null"
        );
        assert_eq!(
            message::<Sample>(json!({})).unwrap(),
            "this field is required"
        );
        assert_eq!(
            message::<u8>(json!(300)).unwrap(),
            "invalid value, expected u8"
        );
        assert_eq!(
            message::<Colour>(json!("Blue")).unwrap(),
            "unknown variant, expected `Red` or `Green`"
        );
        assert_eq!(message::<Quoting>(json!("x")).unwrap(), "invalid value");
    }

    #[test]
    fn no_value_of_any_json_type_is_echoed_whatever_was_expected() {
        use serde_json::json;
        let secrets = ["98765432123", "1.2345678", "hunter2", "true"];
        let values = [
            json!(98765432123_i64),
            json!(-98765432123_i64),
            json!(1.2345678e300),
            json!("hunter2"),
            // The value may hold the very separator the message is cut at.
            json!("hunter2, expected hunter2"),
            json!(true),
            json!([98765432123_i64, "hunter2"]),
            json!({"title": "hunter2", "count": 1.2345678}),
        ];
        let targets: [fn(serde_json::Value) -> Option<String>; 10] = [
            message::<String>,
            message::<i64>,
            message::<u8>,
            message::<bool>,
            message::<Option<String>>,
            message::<Vec<u8>>,
            message::<(u8, u8, u8)>,
            message::<Sample>,
            message::<Colour>,
            message::<Quoting>,
        ];
        for value in values {
            for (target, read) in targets.iter().enumerate() {
                let Some(message) = read(value.clone()) else {
                    continue;
                };
                assert!(
                    secrets.iter().all(|secret| !message.contains(secret)),
                    "target {target} echoes {value}: {message}"
                );
            }
        }
    }

    /// Every field of every span and event, as text: what any log output
    /// could show.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<String>>);

    impl tracing::field::Visit for Captured {
        fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
            let mut text = self.0.lock().unwrap();
            text.push_str(&format!("{}={value:?}\n", field.name()));
        }
    }

    impl tracing::Subscriber for Captured {
        fn enabled(&self, _: &tracing::Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, span: &tracing::span::Attributes<'_>) -> tracing::span::Id {
            span.record(&mut self.clone());
            tracing::span::Id::from_u64(1)
        }
        fn record(&self, _: &tracing::span::Id, values: &tracing::span::Record<'_>) {
            values.record(&mut self.clone());
        }
        fn record_follows_from(&self, _: &tracing::span::Id, _: &tracing::span::Id) {}
        fn event(&self, event: &tracing::Event<'_>) {
            event.record(&mut self.clone());
        }
        fn enter(&self, _: &tracing::span::Id) {}
        fn exit(&self, _: &tracing::span::Id) {}
    }

    #[derive(Debug, Deserialize)]
    #[expect(dead_code, reason = "only its shape matters")]
    struct Credentials {
        username: String,
        password: String,
    }

    async fn log_in(_: JsonBody<Credentials>) -> actix_web::HttpResponse {
        actix_web::HttpResponse::Ok().finish()
    }

    /// tracing-actix-web logs every error response with the error's `Debug`,
    /// details included, so the value must be gone from the error itself.
    #[actix_web::test]
    async fn a_mistyped_secret_reaches_neither_the_response_nor_the_log() {
        use actix_web::{test, App};
        let log = Captured::default();
        let _default = tracing::subscriber::set_default(log.clone());
        let app = test::init_service(
            App::new()
                .wrap(tracing_actix_web::TracingLogger::default())
                .route("/token", web::post().to(log_in)),
        )
        .await;
        let request = test::TestRequest::post()
            .uri("/token")
            .set_payload(r#"{"username": "ann", "password": 98765432123}"#)
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let body = test::read_body(response).await;
        let body = String::from_utf8_lossy(&body);
        assert!(body.contains("expected a string"), "{body}");
        assert!(!body.contains("98765432123"), "{body}");
        let log = log.0.lock().unwrap().clone();
        assert!(
            log.contains("expected a string"),
            "the error is logged: {log}"
        );
        assert!(!log.contains("98765432123"), "{log}");
    }
}
