//! Every error the API answers, as JSON `{code, message, details}`; the one
//! place where use-case errors become status codes.
//!
//! Policy: expected failures (validation, not found, conflicts, auth) carry a
//! stable `code` and a message meant for the client. Store failures and
//! anything unexpected are logged here with their cause and answered as a bare
//! 500: a 5xx never leaks internals.

use actix_web::http::{header, StatusCode};
use actix_web::{HttpResponse, ResponseError};
use libris_application::access::NotAnAdmin;
use libris_application::accounts::{LoginError, MeError, RegisterError};
use libris_application::authors::AuthorError;
use libris_application::books::BookError;
use libris_application::campaigns::CampaignError;
use libris_application::event_log::CustomEventError;
use libris_application::imports::ImportError;
use libris_application::lending::LendingError;
use libris_application::login_throttle::Throttled;
use libris_application::members::MemberError;
use libris_application::sso::exchange::ExchangeError;
use libris_application::sso::identities::IdentityError;
use libris_application::sso::login::StateError;
use libris_application::sso::sign_in::SignInError;
use libris_application::sso::ProviderError;
use libris_application::webhooks::delivery::{GetDeliveryError, RedeliverError};
use libris_application::webhooks::inbound::ReceiveError;
use libris_application::webhooks::subscriptions::WebhookError;
use libris_application::StoreError;
use libris_domain::{FieldError, ValidationErrors};
use serde::Serialize;

#[derive(Debug, Serialize)]
struct Body<'a> {
    code: &'a str,
    message: &'a str,
    details: &'a [FieldError],
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
    details: Vec<FieldError>,
    /// Answer with `WWW-Authenticate: Bearer`: the 401 is about a token.
    bearer_challenge: bool,
    /// Answer with `Retry-After`, in seconds.
    retry_after: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            details: Vec::new(),
            bearer_challenge: false,
            retry_after: None,
        }
    }

    /// A 401 of token authentication, which names the scheme to use.
    fn bearer_unauthorized(code: &'static str, message: &str) -> Self {
        Self {
            bearer_challenge: true,
            ..Self::new(StatusCode::UNAUTHORIZED, code, message)
        }
    }

    pub fn with_details(mut self, details: Vec<FieldError>) -> Self {
        self.details = details;
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "bad_request", message)
    }

    pub fn unauthorized() -> Self {
        Self::bearer_unauthorized(
            "unauthorized",
            "authentication required: send `Authorization: Bearer <token>`",
        )
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("{what} not found"),
        )
    }

    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(StatusCode::CONFLICT, "conflict", message)
    }

    pub fn invalid(errors: ValidationErrors) -> Self {
        Self::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_error",
            "the request has invalid fields",
        )
        .with_details(errors.0)
    }

    /// Logs the cause and answers a 500 that says nothing about it.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        tracing::error!(error = %cause, "request failed unexpectedly");
        Self::opaque_internal()
    }

    /// A 500 that says nothing about its cause, which is logged elsewhere.
    pub(crate) fn opaque_internal() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "internal server error",
        )
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} {}: {}",
            self.status.as_u16(),
            self.code,
            self.message
        )
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        // An inbound webhook is refused for its signature: a token would not
        // help, so it gets no bearer challenge.
        if self.bearer_challenge {
            response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
        }
        if let Some(seconds) = self.retry_after {
            response.insert_header((header::RETRY_AFTER, seconds));
        }
        response.json(Body {
            code: self.code,
            message: &self.message,
            details: &self.details,
        })
    }
}

impl From<ValidationErrors> for ApiError {
    fn from(errors: ValidationErrors) -> Self {
        Self::invalid(errors)
    }
}

impl From<FieldError> for ApiError {
    fn from(error: FieldError) -> Self {
        Self::invalid(error.into())
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        Self::internal(&error)
    }
}

impl From<NotAnAdmin> for ApiError {
    fn from(error: NotAnAdmin) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", error.to_string())
    }
}

impl From<RegisterError> for ApiError {
    fn from(error: RegisterError) -> Self {
        match error {
            RegisterError::UsernameTaken => username_taken(),
            RegisterError::EmailTaken => email_taken(),
            RegisterError::Store(e) => e.into(),
        }
    }
}

fn username_taken() -> ApiError {
    ApiError::conflict("a user with this username already exists")
        .with_details(vec![FieldError::new("username", "is already taken")])
}

fn email_taken() -> ApiError {
    ApiError::conflict("another member has this email")
        .with_details(vec![FieldError::new("email", "is already taken")])
}

impl From<MemberError> for ApiError {
    fn from(error: MemberError) -> Self {
        match error {
            MemberError::NotFound => Self::not_found("member"),
            MemberError::UsernameTaken => username_taken(),
            MemberError::EmailTaken => email_taken(),
            MemberError::LastAdmin => {
                Self::conflict("this is the last admin: make another member an admin first")
            }
            MemberError::OpenLoans => {
                Self::conflict("the member has a book on loan: it must be returned first")
            }
            MemberError::Store(e) => e.into(),
        }
    }
}

impl From<LoginError> for ApiError {
    fn from(error: LoginError) -> Self {
        match error {
            LoginError::InvalidCredentials => Self::bearer_unauthorized(
                "invalid_credentials",
                "unknown username or wrong password",
            ),
            LoginError::Store(e) => e.into(),
        }
    }
}

impl From<Throttled> for ApiError {
    fn from(error: Throttled) -> Self {
        Self {
            retry_after: Some(error.retry_after.as_secs()),
            ..Self::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                error.to_string(),
            )
        }
    }
}

impl From<MeError> for ApiError {
    fn from(error: MeError) -> Self {
        match error {
            MeError::Gone => Self::unauthorized(),
            MeError::Store(e) => e.into(),
        }
    }
}

impl From<AuthorError> for ApiError {
    fn from(error: AuthorError) -> Self {
        match error {
            AuthorError::NotFound => Self::not_found("author"),
            AuthorError::HasBooks(n) => Self::conflict(format!(
                "the author still has {n} book(s); delete or move them first"
            )),
            AuthorError::Store(e) => e.into(),
        }
    }
}

impl From<BookError> for ApiError {
    fn from(error: BookError) -> Self {
        match error {
            BookError::NotFound => Self::not_found("book"),
            BookError::Invalid(errors) => errors.into(),
            BookError::OnLoan => Self::conflict("the book is on loan"),
            BookError::Store(e) => e.into(),
        }
    }
}

impl From<CampaignError> for ApiError {
    fn from(error: CampaignError) -> Self {
        match error {
            CampaignError::NotFound => Self::not_found("campaign"),
            CampaignError::Invalid(errors) => errors.into(),
            CampaignError::Conflict(conflict) => Self::conflict(conflict.to_string()),
            CampaignError::Store(e) => e.into(),
        }
    }
}

impl From<CustomEventError> for ApiError {
    fn from(error: CustomEventError) -> Self {
        match error {
            CustomEventError::Invalid(errors) => errors.into(),
            CustomEventError::Store(e) => e.into(),
        }
    }
}

impl From<LendingError> for ApiError {
    fn from(error: LendingError) -> Self {
        match error {
            LendingError::NotFound => Self::not_found("book"),
            LendingError::NotAvailable => Self::conflict("the book is not available"),
            LendingError::NoOpenLoan => Self::conflict("you have no open loan of this book"),
            LendingError::CallerGone => Self::unauthorized(),
            LendingError::Store(e) => e.into(),
        }
    }
}

impl From<ImportError> for ApiError {
    fn from(error: ImportError) -> Self {
        match error {
            ImportError::BatchSize { limit, got } => Self::invalid(ValidationErrors::single(
                "items",
                format!("an import holds 1 to {limit} items; this one has {got}"),
            )),
            ImportError::Invalid(errors) => errors.into(),
            ImportError::IsbnTaken => Self::conflict(
                "a book with one of these ISBNs was created meanwhile; nothing was imported",
            ),
            ImportError::Store(e) => e.into(),
        }
    }
}

impl From<WebhookError> for ApiError {
    fn from(error: WebhookError) -> Self {
        match error {
            WebhookError::NotFound => Self::not_found("webhook"),
            WebhookError::Invalid(errors) => errors.into(),
            WebhookError::LimitReached { .. } => {
                Self::new(StatusCode::CONFLICT, "webhook_limit", error.to_string())
            }
            WebhookError::TooManyPings { retry_after } => Self {
                retry_after: Some(retry_after.as_secs()),
                ..Self::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    "too_many_requests",
                    error.to_string(),
                )
            },
            WebhookError::Store(e) => e.into(),
        }
    }
}

impl From<GetDeliveryError> for ApiError {
    fn from(error: GetDeliveryError) -> Self {
        match error {
            GetDeliveryError::NotFound => Self::not_found("delivery"),
            GetDeliveryError::Store(e) => e.into(),
        }
    }
}

impl From<RedeliverError> for ApiError {
    fn from(error: RedeliverError) -> Self {
        match error {
            RedeliverError::NotFound => Self::not_found("delivery"),
            RedeliverError::Store(e) => e.into(),
        }
    }
}

impl From<ExchangeError> for ApiError {
    fn from(error: ExchangeError) -> Self {
        match error {
            ExchangeError::InvalidCode => Self::bearer_unauthorized(
                "invalid_code",
                "the sign-in code is unknown, used or expired",
            ),
            ExchangeError::Store(e) => e.into(),
        }
    }
}

impl From<IdentityError> for ApiError {
    fn from(error: IdentityError) -> Self {
        match error {
            IdentityError::UserNotFound => Self::not_found("member"),
            IdentityError::NotFound => Self::not_found("identity"),
            IdentityError::Duplicate => {
                Self::conflict("this identity is already linked to a member")
                    .with_details(vec![FieldError::new("subject", "is already linked")])
            }
            IdentityError::Store(e) => e.into(),
        }
    }
}

/// Why a single sign-on did not complete. The callback answers the browser
/// with a redirect, not a status: each expected failure is a reason the
/// console reads in `#oidc_error=`; the unexpected ones are a 500.
#[derive(Debug)]
pub enum SignInFailure {
    NotConfigured,
    StateMismatch,
    /// The provider refused, failed or could not be reached.
    ProviderRefused,
    TokenInvalid,
    UnknownIdentity,
    Unexpected(ApiError),
}

impl SignInFailure {
    /// The reason in `#oidc_error=` (console-spec).
    pub fn reason(&self) -> &'static str {
        match self {
            Self::NotConfigured => "not_configured",
            Self::StateMismatch => "state_mismatch",
            Self::ProviderRefused => "provider_error",
            Self::TokenInvalid => "token_invalid",
            Self::UnknownIdentity => "unknown_identity",
            Self::Unexpected(_) => "internal_error",
        }
    }
}

impl From<ApiError> for SignInFailure {
    fn from(error: ApiError) -> Self {
        Self::Unexpected(error)
    }
}

impl From<StateError> for SignInFailure {
    fn from(error: StateError) -> Self {
        match error {
            StateError::Mismatch => {
                tracing::warn!("single sign-on refused: the state does not match");
                Self::StateMismatch
            }
            StateError::Store(e) => Self::Unexpected(e.into()),
        }
    }
}

/// The provider's message goes to the log only.
impl From<ProviderError> for SignInFailure {
    fn from(error: ProviderError) -> Self {
        tracing::warn!(error = %error, "single sign-on failed at the provider");
        match error {
            ProviderError::Unavailable(_) => Self::ProviderRefused,
            ProviderError::InvalidToken(_) => Self::TokenInvalid,
        }
    }
}

impl From<SignInError> for SignInFailure {
    fn from(error: SignInError) -> Self {
        match error {
            SignInError::UnknownIdentity => Self::UnknownIdentity,
            SignInError::Store(e) => Self::Unexpected(e.into()),
        }
    }
}

impl From<ReceiveError> for ApiError {
    fn from(error: ReceiveError) -> Self {
        let message = error.to_string();
        let (status, code) = match error {
            ReceiveError::NotConfigured => (StatusCode::UNAUTHORIZED, "inbound_not_configured"),
            ReceiveError::MissingSignature => (StatusCode::UNAUTHORIZED, "missing_signature"),
            ReceiveError::InvalidSignature => (StatusCode::UNAUTHORIZED, "invalid_signature"),
            ReceiveError::InvalidTimestamp => (StatusCode::BAD_REQUEST, "invalid_timestamp"),
            ReceiveError::StaleTimestamp(_) => (StatusCode::BAD_REQUEST, "stale_timestamp"),
            ReceiveError::InvalidBody => (StatusCode::BAD_REQUEST, "invalid_body"),
            ReceiveError::MissingMessageId => (StatusCode::BAD_REQUEST, "missing_message_id"),
            ReceiveError::InvalidEventType => (StatusCode::BAD_REQUEST, "invalid_event_type"),
            ReceiveError::Store(e) => return e.into(),
        };
        Self::new(status, code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn challenge(error: ApiError) -> (u16, Option<String>) {
        let response = error.error_response();
        let header = response
            .headers()
            .get(header::WWW_AUTHENTICATE)
            .map(|v| v.to_str().unwrap().to_owned());
        (response.status().as_u16(), header)
    }

    #[test]
    fn token_failures_name_the_bearer_scheme_and_signature_failures_do_not() {
        let bearer = Some("Bearer".to_owned());
        assert_eq!(challenge(ApiError::unauthorized()), (401, bearer.clone()));
        assert_eq!(
            challenge(LoginError::InvalidCredentials.into()),
            (401, bearer)
        );
        assert_eq!(
            challenge(ReceiveError::InvalidSignature.into()),
            (401, None)
        );
        assert_eq!(
            challenge(ReceiveError::StaleTimestamp(301).into()),
            (400, None)
        );
    }
}
