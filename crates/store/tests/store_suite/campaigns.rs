//! Campaigns on both backends: recipients chosen once per member by one
//! statement, concurrent starts that start once, disjoint claims of the
//! "sms" queue, cancel and expiry, and the daily statistics email queued
//! once per day and address.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveTime, Utc};
use libris_application::campaigns::scheduler::tick;
use libris_application::campaigns::settings::{self, SettingDefaults, SettingsChange};
use libris_application::campaigns::{self, CampaignChange, CampaignError, CampaignSms, SmsQueue};
use libris_application::engine::Job;
use libris_application::members::{self, NewMember};
use libris_application::ports::{MockClock, NotificationFilter};
use libris_domain::campaigns::{
    CampaignConflict, CampaignInput, CampaignSpec, CampaignStatus, FilterInput, MessageStatus,
};
use libris_domain::delivery::{DeliveryStatus, Progress};
use libris_domain::members::{Phone, Tags, TimeZoneName};
use libris_domain::notifications::NotificationKind;

use super::*;

on_both_backends!(
    a_start_queues_one_message_per_matching_member_and_never_two,
    concurrent_starts_start_a_campaign_once,
    concurrent_claims_never_share_a_message,
    a_cancel_closes_what_is_pending_and_lets_what_is_in_flight_finish,
    past_end_at_messages_expire_and_the_campaign_finishes,
    a_members_delete_removes_their_pending_messages_only,
    the_daily_statistics_are_queued_once_per_day_and_address,
    settings_fall_back_to_their_defaults_and_the_token_follows_the_url,
    a_settings_change_waits_for_one_in_progress,
    a_campaign_starting_while_a_member_is_deleted_leaves_them_no_message,
);

fn clock(now: DateTime<Utc>) -> MockClock {
    let mut clock = MockClock::new();
    clock.expect_now().returning(move || now);
    clock
}

fn member(
    store: &DieselStore,
    username: &str,
    phone: &str,
    tags: &[&str],
    subscribed: bool,
) -> i64 {
    let new = NewMember {
        username: Username::parse(username).unwrap(),
        email: Some(Email::parse(&format!("{username}@example.com")).unwrap()),
        password: None,
        is_admin: false,
        bio: String::new(),
        phone: Phone::parse(phone).unwrap(),
        subscribed_to_notifications: subscribed,
        tags: Tags::parse(tags).unwrap(),
        timezone: TimeZoneName::parse("Europe/Moscow").unwrap(),
    };
    members::create_member(store, &fixed_clock(), &hasher(), &admin_caller(), new)
        .unwrap()
        .user
        .id
}

/// From `at(start)` to `at(end)`.
fn spec(start: i64, end: i64, tags: &[&str], codes: &[&str]) -> CampaignSpec {
    CampaignSpec::parse(CampaignInput {
        text: "The library is closed on Monday".into(),
        start_at: at(start),
        end_at: at(end),
        filter: FilterInput {
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
            operator_codes: codes.iter().map(|c| (*c).to_owned()).collect(),
        },
        send_window: None,
    })
    .unwrap()
}

fn create(store: &DieselStore, now: i64, spec: CampaignSpec) -> campaigns::Campaign {
    campaigns::create_campaign(store, &clock(at(now)), &admin_caller(), spec).unwrap()
}

fn messages(store: &DieselStore, campaign: i64) -> Vec<campaigns::CampaignMessage> {
    let page = Page::new(Some(500), None);
    campaigns::list_messages(store, &admin_caller(), campaign, None, page)
        .unwrap()
        .results
}

fn statuses(store: &DieselStore, campaign: i64) -> Vec<(i64, MessageStatus)> {
    let mut all: Vec<_> = messages(store, campaign)
        .into_iter()
        .map(|m| (m.user_id, m.status))
        .collect();
    all.sort_unstable_by_key(|(user, _)| *user);
    all
}

fn queue(now: DateTime<Utc>) -> SmsQueue {
    SmsQueue {
        clock: Arc::new(clock(now)),
        defaults: SettingDefaults {
            sms_url: Some("http://127.0.0.1:9/v1".into()),
            ..SettingDefaults::default()
        },
    }
}

/// One claim as the engine makes it: due, then leased, one transaction.
fn claim(store: &DieselStore, now: DateTime<Utc>, limit: i64) -> Vec<Job<CampaignSms>> {
    let queue = queue(now);
    store
        .write_tx(|tx| {
            let due: Vec<i64> = queue
                .due(tx, now, limit, &[])?
                .into_iter()
                .map(|c| c.id)
                .collect();
            queue.lease(tx, &due, now + Duration::seconds(30))
        })
        .unwrap()
}

fn count_events(store: &DieselStore, name: &str) -> usize {
    event_names(store).iter().filter(|n| *n == name).count()
}

fn a_start_queues_one_message_per_matching_member_and_never_two(store: &DieselStore) {
    let news_916 = member(store, "ann", "+7 (916) 123-45-67", &["News"], true);
    let vip_903 = member(store, "bob", "79031234567", &["vip"], true);
    member(store, "cat", "79261234567", &["news"], true); // operator 926
    member(store, "dan", "79161234568", &["news"], false); // unsubscribed
    member(store, "eve", "", &["news"], true); // no phone
    member(store, "fay", "79161234569", &["other"], true); // no matching tag

    let campaign = create(
        store,
        100,
        spec(0, 86_400, &["news", "vip"], &["916", "903"]),
    );
    assert_eq!(campaign.status, CampaignStatus::Running);
    assert_eq!(campaign.counts.pending, 2, "{campaign:?}");
    let listed = messages(store, campaign.id);
    let ann = listed.iter().find(|m| m.user_id == news_916).unwrap();
    assert_eq!(
        (ann.username.as_str(), ann.phone.as_str(), ann.status),
        ("ann", "79161234567", MessageStatus::Pending)
    );
    assert!(listed.iter().any(|m| m.user_id == vip_903));

    // However often the selection runs, one message per member.
    let again = store
        .write_tx(|tx| {
            tx.campaigns()
                .queue_recipients(campaign.id, &campaign.spec.filter, at(200))
        })
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(messages(store, campaign.id).len(), 2);

    // An empty filter is every subscribed member with an operator code.
    let everyone = create(store, 100, spec(0, 86_400, &[], &[]));
    assert_eq!(everyone.counts.pending, 4);
    assert_eq!(count_events(store, "campaign.started"), 2);
}

fn concurrent_starts_start_a_campaign_once(store: &DieselStore) {
    for name in ["ann", "bob", "cat"] {
        member(store, name, "79161234567", &[], true);
    }
    let campaign = create(store, 0, spec(60, 86_400, &[], &[]));
    assert_eq!(campaign.status, CampaignStatus::Scheduled);
    assert!(messages(store, campaign.id).is_empty());

    let started: Vec<usize> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..4)
            .map(|_| {
                scope.spawn(|| {
                    tick(store, &clock(at(61)), &SettingDefaults::default())
                        .unwrap()
                        .started
                        .len()
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(started.iter().sum::<usize>(), 1, "{started:?}");
    assert_eq!(messages(store, campaign.id).len(), 3);
    assert_eq!(count_events(store, "campaign.started"), 1);
    let read = campaigns::get_campaign(store, &admin_caller(), campaign.id).unwrap();
    assert_eq!(read.status, CampaignStatus::Running);
}

fn concurrent_claims_never_share_a_message(store: &DieselStore) {
    for n in 0..30 {
        member(store, &format!("member{n}"), "79161234567", &[], true);
    }
    let campaign = create(store, 100, spec(0, 86_400, &[], &[]));
    assert_eq!(campaign.counts.pending, 30);
    let claimed: Vec<Vec<i64>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    let mut mine = Vec::new();
                    loop {
                        let jobs = claim(store, at(200), 4);
                        if jobs.is_empty() {
                            return mine;
                        }
                        mine.extend(jobs.into_iter().map(|j| j.id));
                    }
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<i64> = claimed.iter().flatten().copied().collect();
    let distinct: BTreeSet<i64> = all.iter().copied().collect();
    assert_eq!(all.len(), 30, "every message claimed once: {claimed:?}");
    assert_eq!(distinct.len(), 30);
    // Leased: nothing is due again before the lease ends; after it, all is.
    assert!(claim(store, at(201), 100).is_empty());
    assert_eq!(claim(store, at(231), 100).len(), 30);
}

fn a_cancel_closes_what_is_pending_and_lets_what_is_in_flight_finish(store: &DieselStore) {
    for name in ["ann", "bob", "cat", "dan"] {
        member(store, name, "79161234567", &[], true);
    }
    let campaign = create(store, 100, spec(0, 86_400, &[], &[]));
    let in_flight = claim(store, at(200), 2);
    assert_eq!(in_flight.len(), 2);

    let cancelled =
        campaigns::cancel_campaign(store, &clock(at(201)), &admin_caller(), campaign.id).unwrap();
    assert_eq!(cancelled.status, CampaignStatus::Cancelled);
    assert_eq!(
        (cancelled.counts.pending, cancelled.counts.cancelled),
        (2, 2),
        "the two in flight stay pending until recorded"
    );
    assert!(claim(store, at(202), 10).is_empty(), "nothing more is sent");

    // One in flight was sent; the other failed and would be retried.
    let sent = Progress {
        status: DeliveryStatus::Delivered,
        attempts: 1,
        ..in_flight[0].progress.clone()
    };
    let retry = Progress {
        status: DeliveryStatus::Pending,
        attempts: 1,
        next_attempt_at: at(600),
        last_error: Some("HTTP 500".into()),
        ..in_flight[1].progress.clone()
    };
    store
        .write_tx(|tx| {
            tx.campaigns()
                .save_message(in_flight[0].id, &sent, at(203))?;
            tx.campaigns()
                .save_message(in_flight[1].id, &retry, at(203))?;
            tx.campaigns()
                .cancel_if_campaign_cancelled(&[in_flight[1].id], at(203))
        })
        .unwrap();
    let read = campaigns::get_campaign(store, &admin_caller(), campaign.id).unwrap();
    assert_eq!(
        (read.counts.sent, read.counts.cancelled, read.counts.pending),
        (1, 3, 0)
    );
    assert!(messages(store, campaign.id)
        .iter()
        .any(|m| m.status == MessageStatus::Sent && m.sent_at == Some(at(203))));
    assert_eq!(count_events(store, "campaign.cancelled"), 1);

    // A cancelled campaign's filter cannot change; its text can.
    let change = CampaignChange {
        filter: Some(FilterInput {
            tags: vec!["vip".into()],
            operator_codes: vec![],
        }),
        ..CampaignChange::default()
    };
    let refused =
        campaigns::update_campaign(store, &fixed_clock(), &admin_caller(), campaign.id, change);
    assert!(matches!(
        refused,
        Err(CampaignError::Conflict(CampaignConflict::Locked { .. }))
    ));
}

fn past_end_at_messages_expire_and_the_campaign_finishes(store: &DieselStore) {
    for name in ["ann", "bob", "cat"] {
        member(store, name, "79161234567", &[], true);
    }
    let campaign = create(store, 100, spec(0, 1000, &[], &[]));
    let sent = claim(store, at(200), 1);
    store
        .write_tx(|tx| {
            let done = Progress {
                status: DeliveryStatus::Delivered,
                attempts: 1,
                ..sent[0].progress.clone()
            };
            tx.campaigns().save_message(sent[0].id, &done, at(201))
        })
        .unwrap();
    // Before end_at, two are pending: running.
    let done = tick(store, &clock(at(999)), &SettingDefaults::default()).unwrap();
    assert!(done.finished.is_empty());
    // At end_at: the lease-time check expires a message on its own...
    assert!(claim(store, at(1000), 1).is_empty());
    // ...and the scheduler expires the rest and finishes the campaign.
    let done = tick(store, &clock(at(1000)), &SettingDefaults::default()).unwrap();
    assert_eq!(done.finished, [campaign.id]);
    let read = campaigns::get_campaign(store, &admin_caller(), campaign.id).unwrap();
    assert_eq!(read.status, CampaignStatus::Finished);
    assert_eq!((read.counts.sent, read.counts.expired), (1, 2));
    assert_eq!(count_events(store, "campaign.finished"), 1);
    // Finishing is done once.
    let again = tick(store, &clock(at(1001)), &SettingDefaults::default()).unwrap();
    assert!(again.finished.is_empty());
}

fn a_members_delete_removes_their_pending_messages_only(store: &DieselStore) {
    let ann = member(store, "ann", "79161234567", &[], true);
    member(store, "bob", "79161234567", &[], true);
    let first = create(store, 100, spec(0, 86_400, &[], &[]));
    let ann_message = messages(store, first.id)
        .into_iter()
        .find(|m| m.user_id == ann)
        .unwrap();
    store
        .write_tx(|tx| {
            let sent = Progress {
                status: DeliveryStatus::Delivered,
                attempts: 1,
                retry_base: 0,
                next_attempt_at: at(100),
                last_error: None,
            };
            tx.campaigns().save_message(ann_message.id, &sent, at(150))
        })
        .unwrap();
    let second = create(store, 100, spec(0, 86_400, &[], &[]));
    let removed = store
        .write_tx(|tx| tx.campaigns().delete_pending_messages_of(ann))
        .unwrap();
    assert_eq!(removed, 1, "the second campaign's message");
    assert_eq!(
        statuses(store, first.id)
            .into_iter()
            .filter(|(user, _)| *user == ann)
            .collect::<Vec<_>>(),
        [(ann, MessageStatus::Sent)],
        "a sent message outlives the member"
    );
    assert!(statuses(store, second.id)
        .iter()
        .all(|(user, _)| *user != ann));
}

fn the_daily_statistics_are_queued_once_per_day_and_address(store: &DieselStore) {
    member(store, "ann", "79161234567", &[], true);
    create(store, 100, spec(0, 86_400, &[], &[]));
    let defaults = SettingDefaults {
        stats_emails: vec!["ops@example.org".into(), "boss@example.org".into()],
        stats_email_time: NaiveTime::from_hms_opt(0, 30, 0),
        ..SettingDefaults::default()
    };
    // 00:20: not yet; 00:30 and after, once a day, whatever the instances.
    assert_eq!(
        tick(store, &clock(at(1200)), &defaults)
            .unwrap()
            .statistics_emails,
        0
    );
    let queued: usize = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    tick(store, &clock(at(1800)), &defaults)
                        .unwrap()
                        .statistics_emails
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).sum()
    });
    assert_eq!(queued, 2);
    assert_eq!(
        tick(store, &clock(at(80_000)), &defaults)
            .unwrap()
            .statistics_emails,
        0
    );
    // The next day, again.
    assert_eq!(
        tick(store, &clock(at(86_400 + 1800)), &defaults)
            .unwrap()
            .statistics_emails,
        2
    );

    let listed = store
        .read_tx(|tx| {
            tx.notifications()
                .list_notifications(&NotificationFilter::default(), Page::default())
        })
        .unwrap();
    let stats: Vec<_> = listed
        .results
        .iter()
        .filter(|n| n.kind == NotificationKind::DailyStatistics)
        .collect();
    assert_eq!(stats.len(), 4);
    let first_day = stats
        .iter()
        .find(|n| n.email.to == "ops@example.org" && n.email.subject.ends_with("2026-01-01"))
        .expect("the first day's email to ops");
    assert!(
        first_day.email.body.contains("pending 1"),
        "{}",
        first_day.email.body
    );
}

fn settings_fall_back_to_their_defaults_and_the_token_follows_the_url(store: &DieselStore) {
    let defaults = SettingDefaults {
        sms_url: Some("https://env.example/v1".into()),
        sms_token: Some("env-token".into()),
        ..SettingDefaults::default()
    };
    let admin = admin_caller();
    let current = settings::get_settings(store, &admin, &defaults).unwrap();
    assert_eq!(current.sms_token.as_deref(), Some("env-token"));
    let change = SettingsChange {
        sms_url: Some(Some("https://other.example".into())),
        ..SettingsChange::default()
    };
    let changed =
        settings::change_settings(store, &fixed_clock(), &admin, &defaults, change).unwrap();
    assert_eq!(changed.sms_token, None);
    let change = SettingsChange {
        sms_token: Some(Some("new-token".into())),
        stats_emails: Some(Some(vec!["ops@example.org".into()])),
        ..SettingsChange::default()
    };
    settings::change_settings(store, &fixed_clock(), &admin, &defaults, change).unwrap();
    let read = settings::get_settings(store, &admin, &defaults).unwrap();
    assert_eq!(read.sms_url.as_deref(), Some("https://other.example"));
    assert_eq!(read.sms_token.as_deref(), Some("new-token"));
    assert_eq!(read.stats_emails, ["ops@example.org"]);
    let change = SettingsChange {
        sms_url: Some(None),
        ..SettingsChange::default()
    };
    let back = settings::change_settings(store, &fixed_clock(), &admin, &defaults, change).unwrap();
    assert_eq!(back.sms_url.as_deref(), Some("https://env.example/v1"));
    assert_eq!(back.sms_token.as_deref(), Some("env-token"));
}

/// A change reads, decides and writes as one step: a second change that
/// starts while the first holds the lock reads what the first wrote (on
/// PostgreSQL, without the lock it would read the settings from before).
fn a_settings_change_waits_for_one_in_progress(store: &DieselStore) {
    let locked = std::sync::Barrier::new(2);
    let read = std::thread::scope(|scope| {
        scope.spawn(|| {
            store
                .write_tx(|tx| {
                    tx.settings().lock_settings()?;
                    locked.wait();
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    tx.settings()
                        .put_setting("sms_url", Some("https://first.example"), at(0))
                })
                .unwrap();
        });
        let second = scope.spawn(|| {
            locked.wait();
            store
                .write_tx(|tx| {
                    tx.settings().lock_settings()?;
                    tx.settings().stored_settings()
                })
                .unwrap()
        });
        second.join().unwrap()
    });
    assert_eq!(
        read,
        [("sms_url".to_owned(), "https://first.example".to_owned())]
    );
}

/// The member's delete (its pending messages, then the member) is in
/// progress when the scheduler starts a campaign that would select them:
/// the start waits for the delete and skips the member (on PostgreSQL,
/// without the key-share lock it would queue a message for them).
fn a_campaign_starting_while_a_member_is_deleted_leaves_them_no_message(store: &DieselStore) {
    let ann = member(store, "ann", "79161234567", &[], true);
    let bob = member(store, "bob", "79161234568", &[], true);
    let campaign = create(store, 0, spec(60, 86_400, &[], &[]));
    let deleting = std::sync::Barrier::new(2);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            store
                .write_tx(|tx| {
                    tx.campaigns().delete_pending_messages_of(ann)?;
                    tx.accounts().delete_user(ann)?;
                    deleting.wait();
                    std::thread::sleep(std::time::Duration::from_millis(300));
                    Ok::<_, StoreError>(())
                })
                .unwrap();
        });
        scope.spawn(|| {
            deleting.wait();
            tick(store, &clock(at(61)), &SettingDefaults::default()).unwrap();
        });
    });
    let recipients: Vec<i64> = messages(store, campaign.id)
        .iter()
        .map(|m| m.user_id)
        .collect();
    assert_eq!(recipients, [bob]);
}
