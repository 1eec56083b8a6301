//! A subscription's options as a client sends them: the request's method and
//! content type, the payload format and template, and the event filter.

use libris_domain::payload::{parse_content_type, Filter, PayloadFormat, Template};
use libris_domain::webhooks::{HttpMethod, WebhookOptions};
use libris_domain::{FieldError, ValidationErrors};
use serde_json::Value;

/// The options given; `None` is "not given", and keeps what the
/// subscription has.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct OptionsInput {
    pub method: Option<String>,
    pub content_type: Option<String>,
    pub payload_format: Option<String>,
    /// `Some(None)`: no template (JSON `null`).
    pub payload_template: Option<Option<String>>,
    /// `Some(Value::Null)`: no filter.
    pub filter: Option<Value>,
}

impl OptionsInput {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// `given` over `current`, checked; every problem goes to `errors`, under
/// the field it concerns.
pub(super) fn merge_options(
    given: &OptionsInput,
    current: &WebhookOptions,
    errors: &mut ValidationErrors,
) -> Option<WebhookOptions> {
    let method = match given.method.as_deref() {
        Some(raw) => errors.check(
            HttpMethod::parse(raw.trim())
                .ok_or_else(|| FieldError::new("method", "must be one of POST, PUT, PATCH")),
        ),
        None => Some(current.method),
    };
    let content_type = match given.content_type.as_deref() {
        Some(raw) => errors.check(
            parse_content_type(raw).map_err(|reason| FieldError::new("content_type", reason)),
        ),
        None => Some(current.content_type.clone()),
    };
    let payload_format = match given.payload_format.as_deref() {
        Some(raw) => errors.check(PayloadFormat::parse(raw.trim()).ok_or_else(|| {
            FieldError::new(
                "payload_format",
                "must be one of libris, rest_hooks, template",
            )
        })),
        None => Some(current.payload_format),
    };
    let filter = match &given.filter {
        Some(Value::Null) => Some(Filter::default()),
        Some(value) => errors.check(Filter::parse(value)),
        None => Some(current.filter.clone()),
    };
    // A template is read against the content type it will be sent with, so a
    // new content type re-checks the template kept.
    let template_text = match &given.payload_template {
        Some(text) => text.clone(),
        None => current
            .payload_template
            .as_ref()
            .map(|t| t.as_str().to_owned()),
    };
    let content_type = content_type?;
    let payload_template = match template_text {
        Some(text) => Some(errors.check(Template::parse(&text, &content_type))?),
        None => None,
    };
    let payload_format = payload_format?;
    if payload_format == PayloadFormat::Template && payload_template.is_none() {
        errors.push(FieldError::new(
            "payload_template",
            "payload_format `template` needs a payload_template",
        ));
        return None;
    }
    Some(WebhookOptions {
        method: method?,
        content_type,
        payload_format,
        payload_template,
        filter: filter?,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn merged(given: OptionsInput) -> Result<WebhookOptions, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let options = merge_options(&given, &WebhookOptions::default(), &mut errors);
        match options {
            Some(options) if errors.is_empty() => Ok(options),
            _ => Err(errors),
        }
    }

    fn fields(errors: ValidationErrors) -> Vec<String> {
        errors.0.into_iter().map(|e| e.field).collect()
    }

    #[test]
    fn nothing_given_keeps_the_defaults() {
        assert_eq!(
            merged(OptionsInput::default()),
            Ok(WebhookOptions::default())
        );
    }

    #[test]
    fn each_bad_option_is_reported_under_its_field() {
        let bad = merged(OptionsInput {
            method: Some("GET".into()),
            content_type: Some("json".into()),
            payload_format: Some("xml".into()),
            filter: Some(json!([1])),
            ..OptionsInput::default()
        })
        .unwrap_err();
        assert_eq!(
            fields(bad),
            ["method", "content_type", "payload_format", "filter"]
        );
    }

    #[test]
    fn a_template_format_needs_a_template_that_renders_json_under_json() {
        let missing = merged(OptionsInput {
            payload_format: Some("template".into()),
            ..OptionsInput::default()
        })
        .unwrap_err();
        assert_eq!(fields(missing), ["payload_template"]);
        let invalid = merged(OptionsInput {
            payload_format: Some("template".into()),
            payload_template: Some(Some(r#"{"t": {{data.title}}"#.into())),
            ..OptionsInput::default()
        })
        .unwrap_err();
        assert_eq!(fields(invalid), ["payload_template"]);
        let text = merged(OptionsInput {
            payload_format: Some("template".into()),
            content_type: Some("text/plain".into()),
            payload_template: Some(Some("Borrowed: {{data.title}}".into())),
            method: Some("PUT".into()),
            ..OptionsInput::default()
        })
        .unwrap();
        assert_eq!(text.method, HttpMethod::Put);
        assert_eq!(text.content_type.as_str(), "text/plain");
    }

    #[test]
    fn a_new_content_type_checks_the_template_kept() {
        let current = merged(OptionsInput {
            payload_format: Some("template".into()),
            content_type: Some("text/plain".into()),
            payload_template: Some(Some("not json: {{data.title}}".into())),
            ..OptionsInput::default()
        })
        .unwrap();
        let mut errors = ValidationErrors::default();
        let to_json = OptionsInput {
            content_type: Some("application/json".into()),
            ..OptionsInput::default()
        };
        assert_eq!(merge_options(&to_json, &current, &mut errors), None);
        assert_eq!(fields(errors), ["payload_template"]);
    }
}
