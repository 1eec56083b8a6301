//! Extractors and helpers every route uses: the JSON body that tells malformed
//! (400) from mistyped (422), the bearer-token callers, pagination, and the
//! hop to a blocking thread for store work.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::StatusCode;
use actix_web::{dev::Payload, web, FromRequest, HttpRequest};
use libris_application::access::Admin;
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
    let value: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(format!("malformed JSON: {e}")))?;
    serde_path_to_error::deserialize(value).map_err(|e| ApiError::invalid(shape_error(&e).into()))
}

/// Names the field a well-formed JSON value got wrong.
pub(crate) fn shape_error(error: &serde_path_to_error::Error<serde_json::Error>) -> FieldError {
    let path = error.path().to_string();
    let message = error.inner().to_string();
    // A missing field is reported at the parent; name the field itself.
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next());
    let field = match (missing, path.as_str()) {
        (Some(name), ".") => name.to_owned(),
        (Some(name), parent) => format!("{parent}.{name}"),
        (None, ".") => "body".to_owned(),
        (None, path) => path.to_owned(),
    };
    FieldError::new(field, message)
}

fn bearer_token(req: &HttpRequest) -> Option<String> {
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
}
