//! The event log: listing recorded events and posting custom ones.

use libris_domain::accounts::UserId;
use libris_domain::events::{CustomEventName, DomainEvent, RecordedEvent};
use libris_domain::ValidationErrors;
use serde_json::Value;

use crate::access::Admin;
use crate::events::{record, EventContext};
use crate::pagination::{Page, Paged};
use crate::ports::{Clock, Store, StoreError, StoreExt};

pub fn list_events(
    store: &dyn Store,
    _admin: &Admin,
    name: Option<String>,
    page: Page,
) -> Result<Paged<RecordedEvent>, StoreError> {
    store.read_tx(|tx| tx.outbox().list_events(name.clone(), page))
}

#[derive(Debug, thiserror::Error)]
pub enum CustomEventError {
    #[error(transparent)]
    Invalid(#[from] ValidationErrors),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The most a custom event's `data` may hold, as JSON text. Events are kept
/// for good, sent to every matching subscriber and read back in pages: a
/// payload is a notification, not a document store.
pub const MAX_DATA_BYTES: usize = 64 * 1024;

/// A custom event as an admin posts it.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomEvent {
    pub name: CustomEventName,
    pub data: Value,
    /// The member it is about, whose own webhooks receive it.
    pub about: Option<UserId>,
}

/// Records an admin's custom event; its `data` must be a JSON object of at
/// most [`MAX_DATA_BYTES`], and the member it is about must exist.
pub fn publish_custom_event(
    store: &dyn Store,
    clock: &dyn Clock,
    admin: &Admin,
    custom: CustomEvent,
) -> Result<RecordedEvent, CustomEventError> {
    let CustomEvent { name, data, about } = custom;
    if !data.is_object() {
        return Err(ValidationErrors::single("data", "must be a JSON object").into());
    }
    if data.to_string().len() > MAX_DATA_BYTES {
        return Err(ValidationErrors::single(
            "data",
            format!("must be at most {MAX_DATA_BYTES} bytes as JSON"),
        )
        .into());
    }
    let context = EventContext {
        user: Some(admin.caller().user_ref()),
        at: clock.now(),
    };
    let event = DomainEvent::Custom { name, data, about };
    store.write_tx(|tx| {
        if let Some(user_id) = about {
            if tx.accounts().account(user_id)?.is_none() {
                return Err(ValidationErrors::single("user_id", "no user has this id").into());
            }
        }
        Ok(record(tx, &context, &event)?)
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, fixed_clock, recorded, MockStore};

    fn custom(name: CustomEventName, data: Value) -> CustomEvent {
        CustomEvent {
            name,
            data,
            about: None,
        }
    }

    #[test]
    fn a_custom_event_is_appended_with_its_data_and_no_projection() {
        let mut tx = MockTx::new();
        tx.audit.expect_insert_audit_entries().never();
        tx.outbox
            .expect_append_event()
            .withf(|e| e.name == "member.greeted" && e.data == json!({"who": "ann"}))
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let name = CustomEventName::parse("member.greeted").unwrap();
        let admin = Admin::check(admin()).unwrap();
        publish_custom_event(
            &store,
            &fixed_clock(),
            &admin,
            custom(name, json!({"who": "ann"})),
        )
        .unwrap();
    }

    #[test]
    fn custom_data_has_a_size_limit() {
        let store = MockStore::new(MockTx::new());
        let name = CustomEventName::parse("member.greeted").unwrap();
        let admin = Admin::check(admin()).unwrap();
        // `{"note":"…"}` is 11 bytes around the text.
        let at_limit = json!({"note": "x".repeat(MAX_DATA_BYTES - 11)});
        let over = json!({"note": "x".repeat(MAX_DATA_BYTES - 10)});
        let err = publish_custom_event(&store, &fixed_clock(), &admin, custom(name.clone(), over))
            .unwrap_err();
        assert!(matches!(err, CustomEventError::Invalid(e) if e.0[0].field == "data"));
        let mut tx = MockTx::new();
        tx.outbox
            .expect_append_event()
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        publish_custom_event(&store, &fixed_clock(), &admin, custom(name, at_limit)).unwrap();
    }

    #[test]
    fn custom_data_must_be_an_object() {
        let store = MockStore::new(MockTx::new());
        let name = CustomEventName::parse("member.greeted").unwrap();
        let admin = Admin::check(admin()).unwrap();
        let err = publish_custom_event(&store, &fixed_clock(), &admin, custom(name, json!([1])))
            .unwrap_err();
        assert!(matches!(err, CustomEventError::Invalid(e) if e.0[0].field == "data"));
    }

    #[test]
    fn a_custom_event_about_a_member_carries_them_and_an_unknown_one_is_refused() {
        let mut tx = MockTx::new();
        tx.accounts
            .expect_account()
            .returning(|id| Ok((id == 5).then(|| crate::testing::account(5, "ada", false))));
        tx.outbox
            .expect_append_event()
            .withf(|e| e.about == Some(5))
            .times(1)
            .returning(|e| Ok(recorded(&e.name)));
        let store = MockStore::new(tx);
        let admin = Admin::check(admin()).unwrap();
        let about = |id| CustomEvent {
            about: Some(id),
            ..custom(CustomEventName::parse("member.greeted").unwrap(), json!({}))
        };
        publish_custom_event(&store, &fixed_clock(), &admin, about(5)).unwrap();
        let unknown = publish_custom_event(&store, &fixed_clock(), &admin, about(6)).unwrap_err();
        assert!(
            matches!(&unknown, CustomEventError::Invalid(e) if e.0[0].field == "user_id"),
            "{unknown:?}"
        );
    }
}
