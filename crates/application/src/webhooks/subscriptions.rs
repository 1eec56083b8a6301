//! Subscriptions: admins create, read, change, pause and delete them.

use libris_domain::accounts::UserId;
use libris_domain::events::EventPattern;
use libris_domain::secret_url::{same_credentials_scope, split_password, with_password, MASK};
use libris_domain::values::check_printable;
use libris_domain::webhooks::{Webhook, WebhookId, WebhookOptions};
use libris_domain::{FieldError, ValidationErrors};

use super::options::{merge_options, OptionsInput};
use super::ports::EndpointPolicy;
use crate::access::WebhookManager;
use crate::pagination::{Page, Paged};
use crate::ports::{Clock, Store, StoreError, StoreExt, Tx, WebhookFields};

/// A subscription's fields as the client sent them; `None` is "not given".
#[derive(Debug, Clone, Default, PartialEq)]
pub struct WebhookInput {
    pub url: Option<String>,
    pub events: Option<Vec<String>>,
    pub secret: Option<String>,
    pub is_active: Option<bool>,
    pub headers: Option<Vec<(String, String)>>,
    pub description: Option<String>,
    pub options: OptionsInput,
}

#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    #[error("no webhook with this id")]
    NotFound,
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error("a member may hold at most {limit} webhooks")]
    LimitReached { limit: usize },
    #[error("one test ping per webhook every 10 seconds; retry in {} s", retry_after.as_secs())]
    TooManyPings { retry_after: std::time::Duration },
    #[error(transparent)]
    Store(#[from] StoreError),
}

const MAX_URL_CHARS: usize = 2000;
const MAX_DESCRIPTION_CHARS: usize = 500;
const MAX_PATTERNS: usize = 50;

fn required<T>(field: &str, value: Option<T>) -> Result<T, FieldError> {
    value.ok_or_else(|| FieldError::new(field, "this field is required"))
}

/// Merges `input` over `current` (or the defaults of a new subscription) and
/// checks the result, reporting every problem.
fn merge(
    policy: &dyn EndpointPolicy,
    input: WebhookInput,
    current: Option<&Webhook>,
    owner: Option<UserId>,
) -> Result<WebhookFields, ValidationErrors> {
    let mut errors = ValidationErrors::default();
    let target = match input.url {
        Some(url) => given_target(policy, url.trim(), current, owner.is_some()),
        None => required(
            "url",
            current.map(|w| (w.url.clone(), w.url_password.clone())),
        ),
    };
    let target = errors.check(target);
    let events = match input.events {
        Some(names) if names.is_empty() => {
            errors.push(FieldError::new("events", "name at least one event pattern"));
            None
        }
        Some(names) if names.len() > MAX_PATTERNS => {
            errors.push(FieldError::new(
                "events",
                format!("at most {MAX_PATTERNS} patterns"),
            ));
            None
        }
        Some(names) => {
            let parsed: Vec<_> = names
                .iter()
                .filter_map(|n| errors.check(EventPattern::parse(n.trim())))
                .collect();
            (parsed.len() == names.len()).then_some(parsed)
        }
        None => errors.check(required("events", current.map(|w| w.events.clone()))),
    };
    let secret = match input.secret {
        Some(secret) => errors.check(
            check_printable("secret", &secret, false)
                .and_then(|()| {
                    policy
                        .check_secret(&secret)
                        .map_err(|m| FieldError::new("secret", m))
                })
                .map(|()| secret),
        ),
        None => Some(current.map_or_else(|| policy.generate_secret(), |w| w.secret.clone())),
    };
    let headers = input
        .headers
        .or_else(|| current.map(|w| w.headers.clone()))
        .unwrap_or_default();
    let headers = errors.check(
        policy
            .check_headers(&headers)
            .map(|()| headers)
            .map_err(|m| FieldError::new("headers", m)),
    );
    let description = input
        .description
        .or_else(|| current.map(|w| w.description.clone()))
        .unwrap_or_default();
    errors.check(check_printable("description", &description, true));
    if description.chars().count() > MAX_DESCRIPTION_CHARS {
        errors.push(FieldError::new(
            "description",
            format!("must be at most {MAX_DESCRIPTION_CHARS} characters"),
        ));
    }
    let is_active = input
        .is_active
        .or(current.map(|w| w.is_active))
        .unwrap_or(true);
    let defaults = WebhookOptions::default();
    let options = merge_options(
        &input.options,
        current.map_or(&defaults, |w| &w.options),
        &mut errors,
    );
    match (target, events, secret, headers, options) {
        (Some((url, url_password)), Some(events), Some(secret), Some(headers), Some(options))
            if errors.is_empty() =>
        {
            Ok(WebhookFields {
                url,
                url_password,
                owner,
                options,
                events,
                secret,
                is_active,
                headers,
                description,
            })
        }
        _ => Err(errors),
    }
}

/// A URL as given, checked, with its password split off: the URL is stored
/// and shown masked. A URL that comes back masked (what a client read and
/// sends back in a PUT or PATCH) keeps the stored password.
fn given_target(
    policy: &dyn EndpointPolicy,
    url: &str,
    current: Option<&Webhook>,
    members: bool,
) -> Result<(String, Option<String>), FieldError> {
    let invalid = |message: String| FieldError::new("url", message);
    if url.chars().count() > MAX_URL_CHARS {
        return Err(invalid(format!(
            "must be at most {MAX_URL_CHARS} characters"
        )));
    }
    check_printable("url", url, false)?;
    let (shown, password) = split_password(url);
    let password = match password.as_deref() {
        Some(MASK) => Some(
            current
                .filter(|w| same_credentials_scope(&w.url, &shown))
                .and_then(|w| w.url_password.clone())
                .ok_or_else(|| {
                    invalid(format!(
                        "`{MASK}` stands for the stored password of this scheme, user and host, \
                         and there is none: send the password"
                    ))
                })?,
        ),
        _ => password,
    };
    let full = with_password(&shown, password.as_deref());
    let checked = if members {
        policy.check_member_target(&full)
    } else {
        policy.check_target(&full)
    };
    checked.map_err(invalid)?;
    Ok((shown, password))
}

/// The fields an update writes: those `given`, as checked, over `current`.
fn overlay(given: &WebhookInput, checked: WebhookFields, current: &Webhook) -> WebhookFields {
    fn pick<T: Clone>(given: bool, checked: T, current: &T) -> T {
        if given {
            checked
        } else {
            current.clone()
        }
    }
    WebhookFields {
        url: pick(given.url.is_some(), checked.url, &current.url),
        url_password: pick(
            given.url.is_some(),
            checked.url_password,
            &current.url_password,
        ),
        events: pick(given.events.is_some(), checked.events, &current.events),
        secret: pick(given.secret.is_some(), checked.secret, &current.secret),
        is_active: pick(
            given.is_active.is_some(),
            checked.is_active,
            &current.is_active,
        ),
        headers: pick(given.headers.is_some(), checked.headers, &current.headers),
        description: pick(
            given.description.is_some(),
            checked.description,
            &current.description,
        ),
        owner: current.owner,
        options: pick(!given.options.is_empty(), checked.options, &current.options),
    }
}

/// Creates a subscription; a member's is theirs, and a member holds at most
/// `member_limit`. Its URL is checked (DNS included) before the
/// transaction, so a slow resolver holds no database lock.
pub fn create_webhook(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: &dyn EndpointPolicy,
    manager: &WebhookManager,
    member_limit: usize,
    input: WebhookInput,
) -> Result<Webhook, WebhookError> {
    let owner = manager.owner();
    let fields = merge(policy, input, None, owner)?;
    let at = clock.now();
    let webhook = store.write_tx(|tx| {
        if let Some(owner) = owner {
            let held = tx.subscriptions().count_owned_webhooks(owner)?;
            if usize::try_from(held).unwrap_or(usize::MAX) >= member_limit {
                return Err(WebhookError::LimitReached {
                    limit: member_limit,
                });
            }
        }
        Ok(tx.subscriptions().insert_webhook(&fields, at)?)
    })?;
    tracing::info!(webhook_id = %webhook.id, url = %webhook.url, "webhook created");
    Ok(webhook)
}

/// The webhook if `manager` manages it: anyone else's is not found.
pub(super) fn managed(
    tx: &mut dyn Tx,
    manager: &WebhookManager,
    id: WebhookId,
) -> Result<Webhook, WebhookError> {
    tx.subscriptions()
        .webhook(id)?
        .filter(|webhook| manager.manages(webhook))
        .ok_or(WebhookError::NotFound)
}

pub fn get_webhook(
    store: &dyn Store,
    manager: &WebhookManager,
    id: WebhookId,
) -> Result<Webhook, WebhookError> {
    store.read_tx(|tx| managed(tx, manager, id))
}

/// An admin's list holds every webhook; a member's, their own.
pub fn list_webhooks(
    store: &dyn Store,
    manager: &WebhookManager,
    page: Page,
) -> Result<Paged<Webhook>, StoreError> {
    store.read_tx(|tx| tx.subscriptions().list_webhooks(manager.owner(), page))
}

/// Changes a subscription. `full` (PUT) needs `url` and `events`; PATCH
/// changes what it is given.
pub fn update_webhook(
    store: &dyn Store,
    clock: &dyn Clock,
    policy: &dyn EndpointPolicy,
    manager: &WebhookManager,
    id: WebhookId,
    input: WebhookInput,
    full: bool,
) -> Result<Webhook, WebhookError> {
    if full {
        let mut errors = ValidationErrors::default();
        errors.check(required("url", input.url.as_ref()));
        errors.check(required("events", input.events.as_ref()));
        errors.into_result()?;
    }
    // Checked outside the write (the URL check may wait on DNS), then laid
    // over the subscription as it is inside the write, so that a concurrent
    // change of another field is kept.
    let current = store.read_tx(|tx| managed(tx, manager, id))?;
    let checked = merge(policy, input.clone(), Some(&current), current.owner)?;
    let at = clock.now();
    store.write_tx(|tx| {
        let current = managed(tx, manager, id)?;
        let reactivated = input.is_active == Some(true) && !current.is_active;
        let fields = overlay(&input, checked.clone(), &current);
        let mut webhook = tx.subscriptions().update_webhook(id, &fields, at)?;
        if reactivated {
            webhook.failure_count = 0;
            webhook.failing_since = None;
            webhook.disabled_reason = None;
            tx.subscriptions().save_webhook_state(&webhook, at)?;
        }
        Ok(webhook)
    })
}

pub fn delete_webhook(
    store: &dyn Store,
    manager: &WebhookManager,
    id: WebhookId,
) -> Result<(), WebhookError> {
    store.write_tx(|tx| {
        managed(tx, manager, id)?;
        Ok::<_, WebhookError>(tx.subscriptions().delete_webhook(id)?)
    })?;
    tracing::info!(webhook_id = %id, "webhook deleted");
    Ok(())
}

/// Turns a subscription on (clearing its failure history) or off.
pub fn set_active(
    store: &dyn Store,
    clock: &dyn Clock,
    manager: &WebhookManager,
    id: WebhookId,
    active: bool,
) -> Result<Webhook, WebhookError> {
    let at = clock.now();
    store.write_tx(|tx| {
        let mut webhook = managed(tx, manager, id)?;
        webhook.is_active = active;
        if active {
            webhook.failure_count = 0;
            webhook.failing_since = None;
            webhook.disabled_reason = None;
        } else {
            webhook.disabled_reason = Some(format!("deactivated by {}", manager.caller().username));
        }
        tx.subscriptions().save_webhook_state(&webhook, at)?;
        Ok(webhook)
    })
}

#[cfg(test)]
mod tests {
    use mockall::predicate::always;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, at, fixed_clock, webhook, MockStore};
    use crate::webhooks::ports::MockEndpointPolicy;

    fn admin_caller() -> WebhookManager {
        WebhookManager::new(admin())
    }

    fn permissive() -> MockEndpointPolicy {
        let mut policy = MockEndpointPolicy::new();
        policy.expect_check_target().returning(|url| {
            if url.contains("10.0.0.1") {
                Err("resolves to a private, loopback or link-local address".into())
            } else {
                Ok(())
            }
        });
        policy.expect_check_secret().returning(|s| {
            if s.len() >= 8 {
                Ok(())
            } else {
                Err("too short".into())
            }
        });
        policy
            .expect_generate_secret()
            .returning(|| "whsec_generated".into());
        policy.expect_check_headers().returning(|h| {
            if h.iter()
                .any(|(name, _)| name.eq_ignore_ascii_case("content-type"))
            {
                Err("Content-Type cannot be overridden".into())
            } else {
                Ok(())
            }
        });
        policy
    }

    fn input(url: &str, events: &[&str]) -> WebhookInput {
        WebhookInput {
            url: Some(url.into()),
            events: Some(events.iter().map(|e| e.to_string()).collect()),
            ..WebhookInput::default()
        }
    }

    #[test]
    fn a_brokers_password_is_stored_apart_and_a_masked_url_keeps_it() {
        let stored = Webhook {
            url: "amqp://libris:***@rabbit.example/prod".into(),
            url_password: Some("old-password".into()),
            ..webhook("https://unused.example/", vec![EventPattern::Everything])
        };
        let fields = |url: &str| {
            merge(
                &permissive(),
                WebhookInput {
                    url: Some(url.into()),
                    ..WebhookInput::default()
                },
                Some(&stored),
                None,
            )
        };
        let kept = fields("amqp://libris:***@rabbit.example/prod").unwrap();
        assert_eq!(kept.url, "amqp://libris:***@rabbit.example/prod");
        assert_eq!(kept.url_password.as_deref(), Some("old-password"));
        let changed = fields("amqp://libris:new-password@rabbit.example/prod").unwrap();
        assert_eq!(changed.url, "amqp://libris:***@rabbit.example/prod");
        assert_eq!(changed.url_password.as_deref(), Some("new-password"));
        let dropped = fields("amqp://libris@rabbit.example/prod").unwrap();
        assert_eq!(dropped.url_password, None);
        let elsewhere = fields("amqp://libris:***@attacker.example/prod").unwrap_err();
        assert_eq!(
            elsewhere.0[0].field, "url",
            "the stored password never follows the URL to another host"
        );

        let new = merge(
            &permissive(),
            input("amqp://libris:***@rabbit.example/", &["*"]),
            None,
            None,
        )
        .unwrap_err();
        assert_eq!(new.0[0].field, "url", "no stored password to keep");
    }

    #[test]
    fn the_target_is_checked_with_the_real_password_in_place() {
        let mut policy = permissive();
        policy.checkpoint();
        policy
            .expect_check_target()
            .withf(|url| url == "amqp://libris:p4ss@rabbit.example/")
            .times(1)
            .returning(|_| Ok(()));
        policy.expect_check_secret().returning(|_| Ok(()));
        policy
            .expect_generate_secret()
            .returning(|| "whsec_generated".into());
        policy.expect_check_headers().returning(|_| Ok(()));
        let fields = merge(
            &policy,
            input("amqp://libris:p4ss@rabbit.example/", &["*"]),
            None,
            None,
        )
        .unwrap();
        assert_eq!(fields.url, "amqp://libris:***@rabbit.example/");
    }

    fn member_caller() -> WebhookManager {
        WebhookManager::new(crate::testing::member())
    }

    #[test]
    fn a_members_webhook_is_theirs_checked_as_a_members_and_bounded_in_number() {
        let mut policy = permissive();
        policy
            .expect_check_member_target()
            .times(3)
            .returning(|url| {
                if url.starts_with("amqp://") {
                    Err("a member's webhook must be an http or https URL".into())
                } else {
                    Ok(())
                }
            });
        let mut tx = MockTx::new();
        tx.subscriptions
            .expect_count_owned_webhooks()
            .returning(|_| Ok(1));
        tx.subscriptions
            .expect_insert_webhook()
            .withf(|f, _| f.owner == Some(crate::testing::member().id))
            .times(1)
            .returning(|f, _| {
                Ok(Webhook {
                    owner: f.owner,
                    ..webhook(&f.url, f.events.clone())
                })
            });
        let store = MockStore::new(tx);
        let create = |limit, url: &str| {
            create_webhook(
                &store,
                &fixed_clock(),
                &policy,
                &member_caller(),
                limit,
                input(url, &["*"]),
            )
        };
        let created = create(2, "https://93.184.216.34/hook").unwrap();
        assert_eq!(created.owner, Some(crate::testing::member().id));
        assert!(matches!(
            create(2, "amqp://guest:guest@rabbit.example/"),
            Err(WebhookError::Invalid(_))
        ));
        assert!(matches!(
            create(1, "https://93.184.216.34/hook"),
            Err(WebhookError::LimitReached { limit: 1 })
        ));
    }

    #[test]
    fn a_member_finds_no_webhook_but_their_own() {
        let mut tx = MockTx::new();
        tx.subscriptions.expect_webhook().returning(|id| {
            let mut hook = webhook("https://a.example/", vec![EventPattern::Everything]);
            hook.id = id;
            hook.owner = (id == uuid::Uuid::from_u128(1)).then(|| crate::testing::member().id);
            Ok(Some(hook))
        });
        let store = MockStore::new(tx);
        assert!(get_webhook(&store, &member_caller(), uuid::Uuid::from_u128(1)).is_ok());
        assert!(matches!(
            get_webhook(&store, &member_caller(), uuid::Uuid::from_u128(2)),
            Err(WebhookError::NotFound)
        ));
        assert!(get_webhook(&store, &admin_caller(), uuid::Uuid::from_u128(2)).is_ok());
    }

    #[test]
    fn create_generates_a_secret_when_none_is_given() {
        let mut tx = MockTx::new();
        tx.subscriptions
            .expect_insert_webhook()
            .withf(|f, _| f.secret == "whsec_generated" && f.is_active && f.events.len() == 2)
            .times(1)
            .returning(|f, _| Ok(webhook(&f.url, f.events.clone())));
        let store = MockStore::new(tx);
        let created = create_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            10,
            input("https://a.example/hook", &["book.created", "author.*"]),
        );
        assert_eq!(created.unwrap().url, "https://a.example/hook");
    }

    #[test]
    fn a_given_secret_is_kept() {
        let mut tx = MockTx::new();
        tx.subscriptions
            .expect_insert_webhook()
            .withf(|f, _| f.secret == "my-secret-key")
            .returning(|f, _| Ok(webhook(&f.url, f.events.clone())));
        let store = MockStore::new(tx);
        let with_secret = WebhookInput {
            secret: Some("my-secret-key".into()),
            ..input("https://a.example/", &["*"])
        };
        create_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            10,
            with_secret,
        )
        .unwrap();
    }

    #[test]
    fn every_bad_field_is_reported_and_nothing_written() {
        let mut tx = MockTx::new();
        tx.subscriptions.expect_insert_webhook().never();
        let store = MockStore::new(tx);
        let bad = WebhookInput {
            url: Some("http://10.0.0.1/hook".into()),
            events: Some(vec!["book.created".into(), "not a pattern".into()]),
            secret: Some("short".into()),
            headers: Some(vec![("Content-Type".into(), "text/plain".into())]),
            description: Some("d".repeat(501)),
            is_active: None,
            options: OptionsInput::default(),
        };
        let Err(WebhookError::Invalid(errors)) = create_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            10,
            bad,
        ) else {
            panic!("expected a validation error")
        };
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            ["url", "events", "secret", "headers", "description"]
        );
    }

    #[test]
    fn control_characters_are_refused_in_stored_text() {
        let store = MockStore::new(MockTx::new());
        let bad = WebhookInput {
            secret: Some("nul\u{0}secret".into()),
            description: Some("bell\u{7}".into()),
            ..input("https://a.example/\u{0}", &["*"])
        };
        let Err(WebhookError::Invalid(errors)) = create_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            10,
            bad,
        ) else {
            panic!("expected a validation error")
        };
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "secret", "description"]);
    }

    #[test]
    fn url_and_events_are_required_on_create_and_put() {
        let store = MockStore::new(MockTx::new());
        let Err(WebhookError::Invalid(errors)) = create_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            10,
            WebhookInput::default(),
        ) else {
            panic!("expected a validation error")
        };
        let fields: Vec<_> = errors.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["url", "events"]);
        let put = update_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            uuid::Uuid::nil(),
            WebhookInput::default(),
            true,
        );
        assert!(matches!(put, Err(WebhookError::Invalid(_))));
        let empty = create_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            10,
            input("https://a.example/", &[]),
        );
        assert!(matches!(empty, Err(WebhookError::Invalid(e)) if e.0[0].field == "events"));
    }

    #[test]
    fn a_patch_keeps_what_it_does_not_name_and_reactivation_clears_the_failures() {
        let mut tx = MockTx::new();
        tx.subscriptions.expect_webhook().returning(|_| {
            let mut hook = webhook("https://old.example/", vec![EventPattern::Everything]);
            hook.is_active = false;
            hook.failure_count = 9;
            hook.failing_since = Some(at(0));
            hook.disabled_reason = Some("the endpoint answered 410 Gone".into());
            Ok(Some(hook))
        });
        tx.subscriptions
            .expect_update_webhook()
            .withf(|_, f, _| {
                f.url == "https://old.example/" && f.is_active && f.secret == "my-secret-key"
            })
            .returning(|_, f, _| {
                Ok(Webhook {
                    is_active: f.is_active,
                    failure_count: 9,
                    ..webhook(&f.url, f.events.clone())
                })
            });
        tx.subscriptions
            .expect_save_webhook_state()
            .withf(|w, _| {
                w.failure_count == 0 && w.failing_since.is_none() && w.disabled_reason.is_none()
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let store = MockStore::new(tx);
        let patch = WebhookInput {
            is_active: Some(true),
            ..WebhookInput::default()
        };
        let updated = update_webhook(
            &store,
            &fixed_clock(),
            &permissive(),
            &admin_caller(),
            uuid::Uuid::nil(),
            patch,
            false,
        )
        .unwrap();
        assert_eq!(updated.failure_count, 0);
    }

    #[test]
    fn deactivation_names_who_and_a_missing_webhook_is_not_found() {
        let mut tx = MockTx::new();
        tx.subscriptions
            .expect_webhook()
            .with(always())
            .returning(|id| {
                Ok((!id.is_nil())
                    .then(|| webhook("https://a.example/", vec![EventPattern::Everything])))
            });
        tx.subscriptions
            .expect_save_webhook_state()
            .withf(|w, _| {
                !w.is_active && w.disabled_reason.as_deref() == Some("deactivated by admin")
            })
            .times(1)
            .returning(|_, _| Ok(()));
        let store = MockStore::new(tx);
        set_active(
            &store,
            &fixed_clock(),
            &admin_caller(),
            uuid::Uuid::from_u128(1),
            false,
        )
        .unwrap();
        let missing = set_active(
            &store,
            &fixed_clock(),
            &admin_caller(),
            uuid::Uuid::nil(),
            true,
        );
        assert!(matches!(missing, Err(WebhookError::NotFound)));
    }
}
