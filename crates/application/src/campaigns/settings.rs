//! Settings an admin changes at runtime (`/api/settings/`): the SMS gateway's
//! URL and token, and who gets the daily statistics email and when. Each key
//! falls back to its environment variable until it is set.
//!
//! The gateway's token goes with its URL: changing the URL without giving a
//! token in the same change clears the token, so a token is never sent to a
//! host it was not given for. Setting the URL back to its default (`null`)
//! brings the environment's token back with it: the operator configured the
//! two together.

use chrono::{DateTime, NaiveTime, Utc};

use crate::access::Admin;
use crate::ports::{Clock, Store, StoreError, StoreExt, Tx};

pub const SMS_URL: &str = "sms_url";
pub const SMS_TOKEN: &str = "sms_token";
pub const STATS_EMAILS: &str = "stats_emails";
pub const STATS_EMAIL_TIME: &str = "stats_email_time";

/// When the daily statistics go out (UTC) when neither the settings nor the
/// environment say.
pub fn default_stats_time() -> NaiveTime {
    NaiveTime::from_hms_opt(9, 0, 0).unwrap_or_default()
}

/// The environment's values: what each setting is until an admin sets it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingDefaults {
    pub sms_url: Option<String>,
    pub sms_token: Option<String>,
    pub stats_emails: Vec<String>,
    /// `None`: [`default_stats_time`].
    pub stats_email_time: Option<NaiveTime>,
}

/// What `/api/settings/` needs besides the store: the defaults, and the
/// gateway adapter's own check of a URL (the adapter knows what it can send
/// to; a URL it would refuse at every attempt is refused when saved).
#[derive(Debug, Clone)]
pub struct SettingsRules {
    pub defaults: SettingDefaults,
    /// `Err(reason)`, worded to follow the field's name.
    pub check_gateway_url: fn(&str) -> Result<(), String>,
}

/// The settings in effect.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CurrentSettings {
    /// `None`: no gateway; messages wait.
    pub sms_url: Option<String>,
    pub sms_token: Option<String>,
    pub stats_emails: Vec<String>,
    pub stats_email_time: NaiveTime,
}

/// Where and how to reach the SMS gateway now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// Without a trailing slash; messages go to `{url}/send/{id}`.
    pub url: String,
    pub token: Option<String>,
}

/// A change of the settings: `None` leaves a key as it is, `Some(None)` sets
/// it back to its default. Values are valid (the HTTP layer parsed them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettingsChange {
    pub sms_url: Option<Option<String>>,
    /// `Some(None)`: no token (cleared, not the default).
    pub sms_token: Option<Option<String>>,
    pub stats_emails: Option<Option<Vec<String>>>,
    pub stats_email_time: Option<Option<NaiveTime>>,
}

/// How `stats_email_time` is written and read: `HH:MM`.
pub const TIME_FORMAT: &str = "%H:%M";

fn stored<'a>(rows: &'a [(String, String)], key: &str) -> Option<&'a str> {
    rows.iter()
        .find(|(k, _)| k == key)
        .map(|(_, value)| value.as_str())
}

/// An empty stored value means "none", whatever the default.
fn non_empty(value: &str) -> Option<String> {
    (!value.is_empty()).then(|| value.to_owned())
}

impl CurrentSettings {
    /// The stored rows over the defaults. A stored value that no longer
    /// reads (written by hand) is logged and its default used.
    pub fn from_rows(rows: &[(String, String)], defaults: &SettingDefaults) -> Self {
        let stats_emails = match stored(rows, STATS_EMAILS) {
            None => defaults.stats_emails.clone(),
            Some(raw) => serde_json::from_str(raw).unwrap_or_else(|error| {
                tracing::warn!(%error, "stored stats_emails is unreadable; using the default");
                defaults.stats_emails.clone()
            }),
        };
        let stats_email_time = stored(rows, STATS_EMAIL_TIME)
            .and_then(|raw| NaiveTime::parse_from_str(raw, TIME_FORMAT).ok())
            .or(defaults.stats_email_time)
            .unwrap_or_else(default_stats_time);
        Self {
            sms_url: stored(rows, SMS_URL).map_or_else(|| defaults.sms_url.clone(), non_empty),
            sms_token: stored(rows, SMS_TOKEN)
                .map_or_else(|| defaults.sms_token.clone(), non_empty),
            stats_emails,
            stats_email_time,
        }
    }

    pub fn gateway(&self) -> Option<Gateway> {
        self.sms_url.as_ref().map(|url| Gateway {
            url: url.trim_end_matches('/').to_owned(),
            token: self.sms_token.clone(),
        })
    }
}

/// The settings in effect, inside a transaction.
pub fn current(tx: &mut dyn Tx, defaults: &SettingDefaults) -> Result<CurrentSettings, StoreError> {
    let rows = tx.settings().stored_settings()?;
    Ok(CurrentSettings::from_rows(&rows, defaults))
}

pub fn get_settings(
    store: &dyn Store,
    _admin: &Admin,
    defaults: &SettingDefaults,
) -> Result<CurrentSettings, StoreError> {
    store.read_tx(|tx| current(tx, defaults))
}

/// Applies `change` and answers the settings in effect after it.
pub fn change_settings(
    store: &dyn Store,
    clock: &dyn Clock,
    _admin: &Admin,
    defaults: &SettingDefaults,
    change: SettingsChange,
) -> Result<CurrentSettings, StoreError> {
    let now = clock.now();
    store.write_tx(|tx| {
        // Two changes at once would each decide from what they read: a new
        // URL from one and a token from the other must not meet.
        tx.settings().lock_settings()?;
        let before = current(tx, defaults)?;
        apply(tx, &before, defaults, &change, now)?;
        let after = current(tx, defaults)?;
        tracing::info!(
            sms_url_changed = before.sms_url != after.sms_url,
            sms_token_changed = before.sms_token != after.sms_token,
            stats_emails = after.stats_emails.len(),
            stats_email_time = %after.stats_email_time.format(TIME_FORMAT),
            "settings changed"
        );
        Ok(after)
    })
}

fn apply(
    tx: &mut dyn Tx,
    before: &CurrentSettings,
    defaults: &SettingDefaults,
    change: &SettingsChange,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let settings = tx.settings();
    if let Some(url) = &change.sms_url {
        let url_after = url.clone().or_else(|| defaults.sms_url.clone());
        settings.put_setting(SMS_URL, url.as_deref(), now)?;
        let moved = url_after != before.sms_url;
        if moved && change.sms_token.is_none() {
            // Back to the default URL: the default token goes with it.
            // Anywhere else: no token, rather than this one at a new host.
            let token = if url.is_none() { None } else { Some("") };
            settings.put_setting(SMS_TOKEN, token, now)?;
        }
    }
    if let Some(token) = &change.sms_token {
        let token = token.as_deref().unwrap_or_default();
        settings.put_setting(SMS_TOKEN, Some(token), now)?;
    }
    if let Some(emails) = &change.stats_emails {
        let json = emails
            .as_ref()
            .map(|emails| serde_json::to_string(emails).unwrap_or_else(|_| "[]".into()));
        settings.put_setting(STATS_EMAILS, json.as_deref(), now)?;
    }
    if let Some(time) = &change.stats_email_time {
        let text = time.map(|t| t.format(TIME_FORMAT).to_string());
        settings.put_setting(STATS_EMAIL_TIME, text.as_deref(), now)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::ports::MockTx;
    use crate::testing::{admin, fixed_clock, MockStore};

    fn defaults() -> SettingDefaults {
        SettingDefaults {
            sms_url: Some("https://gateway.example/v1".into()),
            sms_token: Some("env-token".into()),
            stats_emails: vec!["ops@example.org".into()],
            stats_email_time: None,
        }
    }

    /// The settings table, shared with the mock that reads and writes it.
    type Table = Arc<Mutex<Vec<(String, String)>>>;

    /// A settings table in memory behind a `MockTx`.
    fn tx_with(rows: Vec<(&str, &str)>) -> (MockTx, Table) {
        let table: Table = Arc::new(Mutex::new(
            rows.into_iter()
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect(),
        ));
        let mut tx = MockTx::new();
        let read = Arc::clone(&table);
        tx.settings
            .expect_stored_settings()
            .returning(move || Ok(read.lock().unwrap().clone()));
        let write = Arc::clone(&table);
        tx.settings
            .expect_put_setting()
            .returning(move |key, value, _| {
                let mut rows = write.lock().unwrap();
                rows.retain(|(k, _)| k != key);
                if let Some(value) = value {
                    rows.push((key.to_owned(), value.to_owned()));
                }
                Ok(())
            });
        (tx, table)
    }

    fn change(mut tx: MockTx, change: SettingsChange) -> CurrentSettings {
        tx.settings
            .expect_lock_settings()
            .times(1)
            .returning(|| Ok(()));
        let store = MockStore::new(tx);
        let admin = Admin::check(admin()).unwrap();
        change_settings(&store, &fixed_clock(), &admin, &defaults(), change).unwrap()
    }

    #[test]
    fn each_setting_falls_back_to_its_environment_variable() {
        let settings = CurrentSettings::from_rows(&[], &defaults());
        assert_eq!(
            settings.sms_url.as_deref(),
            Some("https://gateway.example/v1")
        );
        assert_eq!(settings.sms_token.as_deref(), Some("env-token"));
        assert_eq!(settings.stats_emails, ["ops@example.org"]);
        assert_eq!(settings.stats_email_time, default_stats_time());
        let rows = [
            (SMS_URL.to_owned(), String::new()),
            (STATS_EMAIL_TIME.to_owned(), "21:30".to_owned()),
        ];
        let settings = CurrentSettings::from_rows(&rows, &defaults());
        assert_eq!(settings.sms_url, None, "an empty stored URL is no gateway");
        assert!(settings.gateway().is_none());
        assert_eq!(
            settings.stats_email_time,
            NaiveTime::from_hms_opt(21, 30, 0).unwrap()
        );
    }

    #[test]
    fn a_new_url_without_a_token_clears_the_token() {
        let (tx, table) = tx_with(vec![]);
        let after = change(
            tx,
            SettingsChange {
                sms_url: Some(Some("https://other.example".into())),
                ..SettingsChange::default()
            },
        );
        assert_eq!(after.sms_url.as_deref(), Some("https://other.example"));
        assert_eq!(after.sms_token, None, "the env token does not follow");
        assert!(table
            .lock()
            .unwrap()
            .contains(&(SMS_TOKEN.to_owned(), String::new())));
    }

    #[test]
    fn a_new_url_with_a_token_keeps_that_token_and_the_same_url_keeps_the_old_one() {
        let (tx, _) = tx_with(vec![]);
        let after = change(
            tx,
            SettingsChange {
                sms_url: Some(Some("https://other.example".into())),
                sms_token: Some(Some("new".into())),
                ..SettingsChange::default()
            },
        );
        assert_eq!(after.sms_token.as_deref(), Some("new"));

        let (tx, _) = tx_with(vec![(SMS_URL, "https://x.example"), (SMS_TOKEN, "kept")]);
        let after = change(
            tx,
            SettingsChange {
                sms_url: Some(Some("https://x.example".into())),
                ..SettingsChange::default()
            },
        );
        assert_eq!(
            after.sms_token.as_deref(),
            Some("kept"),
            "not a change of host"
        );
    }

    #[test]
    fn the_default_url_brings_the_default_token_back() {
        let (tx, _) = tx_with(vec![(SMS_URL, "https://x.example"), (SMS_TOKEN, "")]);
        let after = change(
            tx,
            SettingsChange {
                sms_url: Some(None),
                ..SettingsChange::default()
            },
        );
        assert_eq!(after.sms_url.as_deref(), Some("https://gateway.example/v1"));
        assert_eq!(after.sms_token.as_deref(), Some("env-token"));
    }

    #[test]
    fn statistics_settings_are_stored_and_reset() {
        let (tx, _) = tx_with(vec![]);
        let after = change(
            tx,
            SettingsChange {
                stats_emails: Some(Some(vec!["a@example.org".into(), "b@example.org".into()])),
                stats_email_time: Some(Some(NaiveTime::from_hms_opt(7, 5, 0).unwrap())),
                ..SettingsChange::default()
            },
        );
        assert_eq!(after.stats_emails, ["a@example.org", "b@example.org"]);
        assert_eq!(
            after.stats_email_time.format(TIME_FORMAT).to_string(),
            "07:05"
        );
        let (tx, _) = tx_with(vec![(STATS_EMAILS, "[]")]);
        let after = change(
            tx,
            SettingsChange {
                stats_emails: Some(None),
                ..SettingsChange::default()
            },
        );
        assert_eq!(after.stats_emails, ["ops@example.org"]);
    }
}
