//! The last line of defence against a handler that panics: every input is
//! meant to be refused by a total parser long before, but a panic that slips
//! through must still answer like any other failure, a JSON 500, rather than
//! drop the client's connection with no answer.

use std::panic::AssertUnwindSafe;

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use futures_util::FutureExt;

use crate::errors::ApiError;

/// Answers a JSON 500 when the rest of the chain panics. The panic itself is
/// logged once by the process's panic hook, which knows where it happened.
pub(crate) async fn answer_panics(
    request: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    // Unwind safety: nothing the handler shared outlives the request except
    // the store, whose transactions roll back when dropped mid-way.
    AssertUnwindSafe(next.call(request))
        .catch_unwind()
        .await
        .unwrap_or_else(|_| Err(ApiError::opaque_internal().into()))
}

#[cfg(test)]
mod tests {
    use actix_web::body::to_bytes;
    use actix_web::middleware::from_fn;
    use actix_web::{test, web, App, HttpResponse};

    use super::answer_panics;

    async fn boom() -> HttpResponse {
        panic!("a bug")
    }

    #[actix_web::test]
    async fn a_panicking_handler_answers_a_json_500_and_the_next_request_is_served() {
        let app = test::init_service(
            App::new()
                .wrap(from_fn(answer_panics))
                .route("/boom", web::get().to(boom))
                .route("/fine", web::get().to(HttpResponse::Ok)),
        )
        .await;
        let request = test::TestRequest::get().uri("/boom").to_request();
        let error = test::try_call_service(&app, request)
            .await
            .err()
            .expect("the panic answers as an error");
        let response = error.error_response();
        assert_eq!(response.status(), 500);
        let body = to_bytes(response.into_body()).await.expect("a body");
        let body: serde_json::Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(body["code"], "internal_error");
        assert!(
            !body.to_string().contains("a bug"),
            "the panic message is not for clients: {body}"
        );
        let response =
            test::call_service(&app, test::TestRequest::get().uri("/fine").to_request()).await;
        assert_eq!(response.status(), 200);
    }
}
