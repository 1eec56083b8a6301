//! `/api/settings/`: settings an admin changes at runtime (the SMS gateway,
//! the daily statistics email). The gateway's token is write-only: answers
//! show `***` when one is set.

use actix_web::{web, HttpResponse};
use chrono::NaiveTime;
use libris_application::campaigns::settings::{self, CurrentSettings, SettingsChange, TIME_FORMAT};
use libris_domain::campaigns::TimeOfDay;
use libris_domain::values::{check_printable, Email};
use libris_domain::{FieldError, ValidationErrors};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::nullable;
use crate::errors::ApiError;
use crate::extract::{blocking, AdminCaller, JsonBody};
use crate::openapi::ErrorBody;
use crate::state::AppState;

/// What answers show in place of a token, and what a client may send back
/// to keep it.
pub const MASK: &str = "***";

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/settings")
            .route(web::get().to(get))
            .route(web::patch().to(update)),
    );
}

/// The settings in effect: each one set here, or else its environment
/// variable.
#[derive(Debug, Serialize, ToSchema)]
pub(crate) struct SettingsResponse {
    /// The SMS gateway's API base (`{sms_url}/send/{id}`); `null`: none, the
    /// messages wait.
    #[schema(example = "https://probe.example/v1")]
    sms_url: Option<String>,
    /// `***` when a token is set, `null` otherwise; never the token.
    #[schema(example = "***")]
    sms_token: Option<&'static str>,
    /// Who gets the daily statistics email.
    stats_emails: Vec<String>,
    /// When it goes out each day, UTC, `HH:MM`.
    #[schema(example = "09:00")]
    stats_email_time: String,
}

impl From<CurrentSettings> for SettingsResponse {
    fn from(settings: CurrentSettings) -> Self {
        Self {
            sms_url: settings.sms_url,
            sms_token: settings.sms_token.map(|_| MASK),
            stats_emails: settings.stats_emails,
            stats_email_time: settings.stats_email_time.format(TIME_FORMAT).to_string(),
        }
    }
}

/// The settings to change; a field left out stays as it is, `null` sets it
/// back to its environment variable (for `sms_token`: no token).
#[derive(Debug, Deserialize, ToSchema)]
pub(crate) struct SettingsBody {
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    sms_url: Option<Option<String>>,
    /// Write-only. `***` (what answers show) keeps the token as it is.
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    sms_token: Option<Option<String>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<Vec<String>>)]
    stats_emails: Option<Option<Vec<String>>>,
    #[serde(default, deserialize_with = "nullable")]
    #[schema(value_type = Option<String>)]
    stats_email_time: Option<Option<String>>,
}

impl SettingsBody {
    fn parse(
        self,
        check_url: fn(&str) -> Result<(), String>,
    ) -> Result<SettingsChange, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let sms_url = self.sms_url.map(|url| {
            // An empty URL is "none here", not "the default".
            url.map(|url| url.trim().to_owned()).inspect(|url| {
                if !url.is_empty() {
                    if let Err(reason) = check_url(url) {
                        errors.push(FieldError::new("sms_url", reason));
                    }
                }
            })
        });
        let sms_token = match self.sms_token {
            // The mask sent back is no token: as if none was given.
            Some(Some(token)) if token == MASK => None,
            Some(Some(token)) => {
                if let Err(e) = check_printable("sms_token", &token, false) {
                    errors.push(e);
                }
                Some(Some(token).filter(|t| !t.is_empty()))
            }
            other => other,
        };
        let stats_emails = self.stats_emails.map(|emails| {
            emails.map(|emails| {
                emails
                    .iter()
                    .enumerate()
                    .filter_map(|(index, raw)| match Email::parse(raw) {
                        Ok(email) => Some(email.into_inner()),
                        Err(_) => {
                            errors.push(FieldError::new(
                                format!("stats_emails.{index}"),
                                "must be a valid e-mail address",
                            ));
                            None
                        }
                    })
                    .collect::<Vec<_>>()
            })
        });
        let stats_email_time = self.stats_email_time.map(|time| {
            time.and_then(|raw| match TimeOfDay::parse(&raw) {
                Ok(time) => Some(time.as_naive()),
                Err(hint) => {
                    errors.push(FieldError::new("stats_email_time", hint));
                    None::<NaiveTime>
                }
            })
        });
        errors.into_result()?;
        Ok(SettingsChange {
            sms_url,
            sms_token,
            stats_emails,
            stats_email_time,
        })
    }
}

/// The settings in effect.
#[utoipa::path(
    get,
    path = "/api/settings/",
    operation_id = "get_settings",
    tag = "campaigns",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings", body = SettingsResponse),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
    )
)]
pub(crate) async fn get(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
) -> Result<HttpResponse, ApiError> {
    let current =
        blocking(move || settings::get_settings(&*state.store, &admin, &state.settings.defaults))
            .await?;
    Ok(HttpResponse::Ok().json(SettingsResponse::from(current)))
}

/// Changes the fields given. Changing `sms_url` without `sms_token` in the
/// same request clears the token, so it is never sent to a new host.
#[utoipa::path(
    patch,
    path = "/api/settings/",
    operation_id = "update_settings",
    tag = "campaigns",
    request_body = SettingsBody,
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The settings now", body = SettingsResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 401, description = "No valid bearer token", body = ErrorBody),
        (status = 403, description = "Not an admin", body = ErrorBody),
        (status = 422, description = "Invalid fields", body = ErrorBody),
    )
)]
pub(crate) async fn update(
    state: web::Data<AppState>,
    AdminCaller(admin): AdminCaller,
    JsonBody(body): JsonBody<SettingsBody>,
) -> Result<HttpResponse, ApiError> {
    let change = body.parse(state.settings.check_gateway_url)?;
    let current = blocking(move || {
        settings::change_settings(
            &*state.store,
            &*state.clock,
            &admin,
            &state.settings.defaults,
            change,
        )
    })
    .await?;
    Ok(HttpResponse::Ok().json(SettingsResponse::from(current)))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn any_url(_: &str) -> Result<(), String> {
        Ok(())
    }

    fn parse(body: serde_json::Value) -> Result<SettingsChange, ValidationErrors> {
        serde_json::from_value::<SettingsBody>(body)
            .unwrap()
            .parse(any_url)
    }

    #[test]
    fn the_mask_sent_back_keeps_the_token_and_null_or_empty_clears_it() {
        assert_eq!(parse(json!({"sms_token": "***"})).unwrap().sms_token, None);
        assert_eq!(
            parse(json!({"sms_token": null})).unwrap().sms_token,
            Some(None)
        );
        assert_eq!(
            parse(json!({"sms_token": ""})).unwrap().sms_token,
            Some(None)
        );
        assert_eq!(
            parse(json!({"sms_token": "t0k3n"})).unwrap().sms_token,
            Some(Some("t0k3n".into()))
        );
    }

    #[test]
    fn each_bad_value_is_named() {
        let errors = serde_json::from_value::<SettingsBody>(json!({
            "sms_url": "ftp://x",
            "stats_emails": ["ops@example.org", "nobody"],
            "stats_email_time": "9:00",
        }))
        .unwrap()
        .parse(|_| Err("must be an http or https URL".into()))
        .unwrap_err();
        let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["sms_url", "stats_emails.1", "stats_email_time"]);
    }

    #[test]
    fn answers_never_show_the_token() {
        let response = SettingsResponse::from(CurrentSettings {
            sms_url: Some("https://gw.example".into()),
            sms_token: Some("s3cr3t".into()),
            stats_emails: vec![],
            stats_email_time: NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        });
        let body = serde_json::to_string(&response).unwrap();
        assert!(
            !body.contains("s3cr3t") && body.contains("\"***\""),
            "{body}"
        );
        assert!(body.contains("\"stats_email_time\":\"09:00\""), "{body}");
    }
}
