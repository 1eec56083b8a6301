//! The campaign use cases and the scheduler against mocked ports: every
//! rule, the events each records, and what they must not touch.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, Duration, TimeZone, Utc};
use libris_domain::campaigns::{
    CampaignConflict, CampaignInput, CampaignSpec, CampaignStatus, FilterInput, MessageCounts,
    MessageStatus,
};
use mockall::predicate::eq;

use super::scheduler::tick;
use super::settings::SettingDefaults;
use super::*;
use crate::ports::{MockClock, MockTx};
use crate::testing::{admin, MockStore};

fn utc(day: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 3, day, h, 0, 0).unwrap()
}

fn clock(now: DateTime<Utc>) -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(move || now);
    clock
}

fn the_admin() -> Admin {
    Admin::check(admin()).unwrap()
}

/// From 1 March 09:00 to 3 March 09:00, to members tagged `news`.
fn spec() -> CampaignSpec {
    CampaignSpec::parse(CampaignInput {
        text: "The library is closed on Monday".into(),
        start_at: utc(1, 9),
        end_at: utc(3, 9),
        filter: FilterInput {
            tags: vec!["news".into()],
            operator_codes: vec![],
        },
        send_window: Some(("09:00".into(), "21:00".into())),
    })
    .unwrap()
}

fn campaign(status: CampaignStatus, pending: u64) -> Campaign {
    Campaign {
        id: 5,
        spec: spec(),
        status,
        counts: MessageCounts {
            pending,
            ..MessageCounts::default()
        },
        created_at: utc(1, 0),
        updated_at: utc(1, 0),
    }
}

/// The events appended, by name, with their data.
fn record_events(tx: &mut MockTx) -> Arc<Mutex<Vec<(String, serde_json::Value)>>> {
    let events = Arc::new(Mutex::new(Vec::new()));
    let seen = Arc::clone(&events);
    tx.outbox.expect_append_event().returning(move |event| {
        seen.lock()
            .unwrap()
            .push((event.name.clone(), event.data.clone()));
        Ok(crate::testing::recorded(&event.name))
    });
    events
}

fn names(events: &Mutex<Vec<(String, serde_json::Value)>>) -> Vec<String> {
    events
        .lock()
        .unwrap()
        .iter()
        .map(|(n, _)| n.clone())
        .collect()
}

#[test]
fn a_campaign_created_inside_its_period_starts_in_the_same_transaction() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_insert_campaign()
        .withf(|_, status, _| *status == CampaignStatus::Scheduled)
        .times(1)
        .returning(|_, _, _| Ok(campaign(CampaignStatus::Scheduled, 0)));
    tx.campaigns
        .expect_set_campaign_status()
        .with(
            eq(5),
            eq(CampaignStatus::Scheduled),
            eq(CampaignStatus::Running),
            eq(utc(2, 12)),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    tx.campaigns
        .expect_queue_recipients()
        .withf(|id, filter, at| *id == 5 && filter.tags() == ["news"] && *at == utc(2, 12))
        .times(1)
        .returning(|_, _, _| Ok(3));
    tx.campaigns
        .expect_campaign()
        .returning(|_| Ok(Some(campaign(CampaignStatus::Running, 3))));
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    let created = create_campaign(&store, &clock(utc(2, 12)), &the_admin(), spec()).unwrap();
    assert_eq!(created.status, CampaignStatus::Running);
    assert_eq!(created.counts.pending, 3);
    assert_eq!(names(&events), ["campaign.created", "campaign.started"]);
    let data = &events.lock().unwrap()[1].1;
    assert_eq!(data["status"], "running");
    assert_eq!(data["counts"]["pending"], 3);
    assert_eq!(data["filter"]["tags"][0], "news");
    assert_eq!(data["send_window"]["from"], "09:00");
    assert_eq!(store.commits(), 1);
}

#[test]
fn a_campaign_for_later_is_only_scheduled() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_insert_campaign()
        .withf(|_, status, _| *status == CampaignStatus::Scheduled)
        .returning(|_, _, _| Ok(campaign(CampaignStatus::Scheduled, 0)));
    tx.campaigns.expect_queue_recipients().never();
    tx.campaigns.expect_set_campaign_status().never();
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    let created = create_campaign(&store, &clock(utc(1, 8)), &the_admin(), spec()).unwrap();
    assert_eq!(created.status, CampaignStatus::Scheduled);
    assert_eq!(names(&events), ["campaign.created"]);
}

#[test]
fn filter_and_start_change_only_while_scheduled_and_nothing_is_written_otherwise() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_campaign()
        .returning(|_| Ok(Some(campaign(CampaignStatus::Running, 2))));
    tx.campaigns.expect_update_campaign().never();
    tx.outbox.expect_append_event().never();
    let store = MockStore::new(tx);
    let change = CampaignChange {
        filter: Some(FilterInput {
            tags: vec!["vip".into()],
            operator_codes: vec![],
        }),
        ..CampaignChange::default()
    };
    let error = update_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5, change).unwrap_err();
    assert!(
        matches!(
            error,
            CampaignError::Conflict(CampaignConflict::Locked { .. })
        ),
        "{error:?}"
    );
    let change = CampaignChange {
        start_at: Some(utc(2, 3)),
        ..CampaignChange::default()
    };
    let error = update_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5, change).unwrap_err();
    assert!(matches!(error, CampaignError::Conflict(_)), "{error:?}");
    assert_eq!(store.commits(), 0);
}

#[test]
fn an_invalid_change_names_each_field() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_campaign()
        .returning(|_| Ok(Some(campaign(CampaignStatus::Scheduled, 0))));
    tx.campaigns.expect_update_campaign().never();
    let store = MockStore::new(tx);
    let change = CampaignChange {
        text: Some(String::new()),
        end_at: Some(utc(1, 8)),
        send_window: Some(Some(("10:00".into(), "10:00".into()))),
        ..CampaignChange::default()
    };
    let CampaignError::Invalid(errors) =
        update_campaign(&store, &clock(utc(1, 0)), &the_admin(), 5, change).unwrap_err()
    else {
        panic!("a validation error")
    };
    let fields: Vec<&str> = errors.0.iter().map(|e| e.field.as_str()).collect();
    assert_eq!(fields, ["text", "end_at", "send_window"]);
}

#[test]
fn a_new_end_or_window_of_a_running_campaign_wakes_the_messages_waiting_for_it() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_campaign()
        .returning(|_| Ok(Some(campaign(CampaignStatus::Running, 2))));
    tx.campaigns
        .expect_update_campaign()
        .withf(|id, spec, _| *id == 5 && spec.end_at == utc(4, 9) && spec.send_window.is_none())
        .times(1)
        .returning(|_, spec, _| {
            Ok(Campaign {
                spec: spec.clone(),
                ..campaign(CampaignStatus::Running, 2)
            })
        });
    tx.campaigns
        .expect_wake_waiting_messages()
        .with(eq(5), eq(utc(2, 0)))
        .times(1)
        .returning(|_, _| Ok(2));
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    let change = CampaignChange {
        end_at: Some(utc(4, 9)),
        send_window: Some(None),
        ..CampaignChange::default()
    };
    let updated = update_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5, change).unwrap();
    assert_eq!(updated.spec.end_at, utc(4, 9));
    assert_eq!(names(&events), ["campaign.updated"]);
    assert!(events.lock().unwrap()[0].1["send_window"].is_null());
}

#[test]
fn cancelling_closes_the_pending_messages_in_one_go_and_records_it_once() {
    let mut tx = MockTx::new();
    let status = Arc::new(Mutex::new(CampaignStatus::Running));
    let read = Arc::clone(&status);
    tx.campaigns
        .expect_campaign()
        .returning(move |_| Ok(Some(campaign(*read.lock().unwrap(), 0))));
    let write = Arc::clone(&status);
    tx.campaigns
        .expect_set_campaign_status()
        .with(
            eq(5),
            eq(CampaignStatus::Running),
            eq(CampaignStatus::Cancelled),
            eq(utc(2, 0)),
        )
        .times(1)
        .returning(move |_, _, to, _| {
            *write.lock().unwrap() = to;
            Ok(true)
        });
    tx.campaigns
        .expect_close_pending_messages()
        .with(eq(5), eq(MessageStatus::Cancelled), eq(utc(2, 0)))
        .times(1)
        .returning(|_, _, _| Ok(40));
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    let cancelled = cancel_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5).unwrap();
    assert_eq!(cancelled.status, CampaignStatus::Cancelled);
    // Again: nothing changes, nothing is recorded.
    let again = cancel_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5).unwrap();
    assert_eq!(again.status, CampaignStatus::Cancelled);
    assert_eq!(names(&events), ["campaign.cancelled"]);
    assert_eq!(events.lock().unwrap()[0].1["status"], "cancelled");
}

#[test]
fn a_finished_campaign_cannot_be_cancelled_and_a_missing_one_is_not_found() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_campaign()
        .with(eq(5))
        .returning(|_| Ok(Some(campaign(CampaignStatus::Finished, 0))));
    tx.campaigns.expect_campaign().returning(|_| Ok(None));
    tx.campaigns.expect_close_pending_messages().never();
    let store = MockStore::new(tx);
    assert!(matches!(
        cancel_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5),
        Err(CampaignError::Conflict(CampaignConflict::Finished))
    ));
    assert!(matches!(
        cancel_campaign(&store, &clock(utc(2, 0)), &the_admin(), 6),
        Err(CampaignError::NotFound)
    ));
}

#[test]
fn a_delete_records_the_campaign_as_it_was() {
    let mut tx = MockTx::new();
    tx.campaigns
        .expect_campaign()
        .returning(|_| Ok(Some(campaign(CampaignStatus::Running, 2))));
    tx.campaigns
        .expect_delete_campaign()
        .with(eq(5))
        .times(1)
        .returning(|_| Ok(()));
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    delete_campaign(&store, &clock(utc(2, 0)), &the_admin(), 5).unwrap();
    assert_eq!(names(&events), ["campaign.deleted"]);
    assert_eq!(events.lock().unwrap()[0].1["id"], 5);
    assert_eq!(events.lock().unwrap()[0].1["counts"]["pending"], 2);
}

/// A store for the scheduler: no statistics configured.
fn scheduler_tx() -> MockTx {
    let mut tx = MockTx::new();
    tx.settings
        .expect_stored_settings()
        .returning(|| Ok(vec![]));
    tx
}

#[test]
fn the_scheduler_starts_a_due_campaign_once_and_leaves_one_another_instance_started() {
    let mut tx = scheduler_tx();
    tx.campaigns
        .expect_campaigns_to_start()
        .returning(|_, _| Ok(vec![5, 6]));
    tx.campaigns
        .expect_campaigns_to_finish()
        .returning(|_, _| Ok(vec![]));
    tx.campaigns.expect_campaign().returning(|id| {
        Ok(Some(Campaign {
            id,
            ..campaign(CampaignStatus::Scheduled, 0)
        }))
    });
    // Campaign 6 was started by another instance between the read and the
    // conditional change.
    tx.campaigns
        .expect_set_campaign_status()
        .returning(|id, _, _, _| Ok(id == 5));
    tx.campaigns
        .expect_queue_recipients()
        .withf(|id, _, _| *id == 5)
        .times(1)
        .returning(|_, _, _| Ok(10));
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    let done = tick(&store, &clock(utc(1, 9)), &SettingDefaults::default()).unwrap();
    assert_eq!(done.started, [5]);
    assert_eq!(names(&events), ["campaign.started"]);
}

#[test]
fn past_end_at_the_scheduler_expires_what_is_pending_and_finishes_the_campaign() {
    let mut tx = scheduler_tx();
    tx.campaigns
        .expect_campaigns_to_start()
        .returning(|_, _| Ok(vec![]));
    tx.campaigns
        .expect_campaigns_to_finish()
        .returning(|_, _| Ok(vec![5]));
    let expired = Arc::new(Mutex::new(false));
    let read = Arc::clone(&expired);
    tx.campaigns.expect_campaign().returning(move |_| {
        Ok(Some(if *read.lock().unwrap() {
            Campaign {
                counts: MessageCounts {
                    expired: 4,
                    sent: 6,
                    ..MessageCounts::default()
                },
                ..campaign(CampaignStatus::Finished, 0)
            }
        } else {
            campaign(CampaignStatus::Running, 4)
        }))
    });
    let write = Arc::clone(&expired);
    tx.campaigns
        .expect_close_pending_messages()
        .with(eq(5), eq(MessageStatus::Expired), eq(utc(3, 9)))
        .times(1)
        .returning(move |_, _, _| {
            *write.lock().unwrap() = true;
            Ok(4)
        });
    tx.campaigns
        .expect_set_campaign_status()
        .with(
            eq(5),
            eq(CampaignStatus::Running),
            eq(CampaignStatus::Finished),
            eq(utc(3, 9)),
        )
        .times(1)
        .returning(|_, _, _, _| Ok(true));
    let events = record_events(&mut tx);
    let store = MockStore::new(tx);
    let done = tick(&store, &clock(utc(3, 9)), &SettingDefaults::default()).unwrap();
    assert_eq!(done.finished, [5]);
    assert_eq!(names(&events), ["campaign.finished"]);
    assert_eq!(events.lock().unwrap()[0].1["counts"]["expired"], 4);
}

#[test]
fn a_running_campaign_with_a_message_in_flight_is_not_finished_before_end_at() {
    let mut tx = scheduler_tx();
    tx.campaigns
        .expect_campaigns_to_start()
        .returning(|_, _| Ok(vec![]));
    tx.campaigns
        .expect_campaigns_to_finish()
        .returning(|_, _| Ok(vec![5]));
    tx.campaigns
        .expect_campaign()
        .returning(|_| Ok(Some(campaign(CampaignStatus::Running, 1))));
    tx.campaigns.expect_close_pending_messages().never();
    tx.campaigns.expect_set_campaign_status().never();
    tx.outbox.expect_append_event().never();
    let store = MockStore::new(tx);
    let now = utc(3, 9) - Duration::minutes(1);
    let done = tick(&store, &clock(now), &SettingDefaults::default()).unwrap();
    assert!(done.finished.is_empty());
}
