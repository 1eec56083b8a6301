//! SMS campaigns to members: what a valid campaign is, the states a campaign
//! and each of its messages go through, and the decision taken just before
//! each send (cancelled, expired, wait for the member's local window, or
//! send). Pure rules: the clock's reading and the member's time zone are
//! arguments, so every edge (daylight-saving gaps and overlaps, a window
//! across midnight, expiry at `end_at` exactly) is tested without waiting.

use std::collections::BTreeSet;
use std::fmt;

use chrono::{
    DateTime, Duration, LocalResult, NaiveDate, NaiveTime, Offset, TimeZone, Timelike, Utc,
};
use chrono_tz::Tz;
use serde::{Serialize, Serializer};

use crate::delivery::DeliveryStatus;
use crate::values::check_printable;
use crate::{FieldError, ValidationErrors};

pub type CampaignId = i64;
pub type MessageId = i64;

/// One SMS as the gateway gets it: the message's id (the same on every
/// attempt, so the gateway can drop repeats), the member's phone in the
/// stored 11-digit form, and the campaign's text as it is when sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sms {
    pub message_id: MessageId,
    pub phone: String,
    pub text: String,
}

// ---------------------------------------------------------------------------
// Validation
// ---------------------------------------------------------------------------

/// A campaign's text: 1 to [`CampaignText::MAX_CHARS`] characters, counted as
/// given (an SMS is sent exactly as written, so nothing is trimmed), not
/// only whitespace, no control characters other than line breaks and tabs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct CampaignText(String);

impl CampaignText {
    pub const MAX_CHARS: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        check_printable("text", raw, true)?;
        if raw.trim().is_empty() {
            return Err(FieldError::new("text", "must not be empty"));
        }
        if raw.chars().count() > Self::MAX_CHARS {
            return Err(FieldError::new(
                "text",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for CampaignText {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A time of day to the minute, written `HH:MM` (00:00 to 23:59).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(NaiveTime);

impl TimeOfDay {
    pub const FORMAT_HINT: &'static str = "must be a time of day as HH:MM, from 00:00 to 23:59";

    /// `None` past 23:59.
    pub fn new(hour: u32, minute: u32) -> Option<Self> {
        NaiveTime::from_hms_opt(hour, minute, 0).map(Self)
    }

    /// Exactly two digits, a colon, two digits: `9:00`, `09:00:00` and
    /// `24:00` are refused rather than guessed at. The error is
    /// [`TimeOfDay::FORMAT_HINT`], for the caller to put under its field.
    pub fn parse(raw: &str) -> Result<Self, &'static str> {
        let bytes = raw.as_bytes();
        let digit = |i: usize| {
            bytes
                .get(i)
                .filter(|b| b.is_ascii_digit())
                .map(|b| u32::from(b - b'0'))
        };
        if bytes.len() != 5 || bytes.get(2) != Some(&b':') {
            return Err(Self::FORMAT_HINT);
        }
        let (Some(h1), Some(h2), Some(m1), Some(m2)) = (digit(0), digit(1), digit(3), digit(4))
        else {
            return Err(Self::FORMAT_HINT);
        };
        Self::new(h1 * 10 + h2, m1 * 10 + m2).ok_or(Self::FORMAT_HINT)
    }

    pub fn hour(self) -> u32 {
        self.0.hour()
    }

    pub fn minute(self) -> u32 {
        self.0.minute()
    }

    pub fn as_naive(self) -> NaiveTime {
        self.0
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}:{:02}", self.hour(), self.minute())
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

/// What a filter's lists hold, as given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FilterInput {
    pub tags: Vec<String>,
    pub operator_codes: Vec<String>,
}

/// Who a campaign goes to: members with any of `tags` (when given) and an
/// operator code in `operator_codes` (when given); empty lists mean "any".
/// Values nobody has are kept: they match nobody, which is what was asked.
///
/// Tags are compared in lower case, as members' tags are stored; both lists
/// are kept sorted and without repeats, so two filters that select the same
/// members compare equal.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
pub struct CampaignFilter {
    tags: Vec<String>,
    operator_codes: Vec<String>,
}

impl CampaignFilter {
    /// Never fails: any string is a value that may match nobody. Surrounding
    /// whitespace is dropped, and a value that is empty after that is no
    /// value at all.
    pub fn new(input: FilterInput) -> Self {
        let clean = |values: Vec<String>, lower: bool| -> Vec<String> {
            values
                .into_iter()
                .map(|v| {
                    let v = v.trim();
                    if lower {
                        v.to_lowercase()
                    } else {
                        v.to_owned()
                    }
                })
                .filter(|v| !v.is_empty())
                .collect::<BTreeSet<_>>()
                .into_iter()
                .collect()
        };
        Self {
            tags: clean(input.tags, true),
            operator_codes: clean(input.operator_codes, false),
        }
    }

    pub fn tags(&self) -> &[String] {
        &self.tags
    }

    pub fn operator_codes(&self) -> &[String] {
        &self.operator_codes
    }

    /// Every member with a phone who wants notifications.
    pub fn is_empty(&self) -> bool {
        self.tags.is_empty() && self.operator_codes.is_empty()
    }

    /// Whether a member who wants notifications is a recipient. A member
    /// without an operator code (no phone, or a phone stored before the
    /// current rules that does not fit them) never is.
    pub fn matches<S: AsRef<str>>(&self, member_tags: &[S], operator_code: Option<&str>) -> bool {
        let Some(code) = operator_code else {
            return false;
        };
        let tag_ok = self.tags.is_empty()
            || member_tags
                .iter()
                .any(|t| self.tags.iter().any(|f| f == &t.as_ref().to_lowercase()));
        let code_ok =
            self.operator_codes.is_empty() || self.operator_codes.iter().any(|c| c == code);
        tag_ok && code_ok
    }

    pub fn to_input(&self) -> FilterInput {
        FilterInput {
            tags: self.tags.clone(),
            operator_codes: self.operator_codes.clone(),
        }
    }
}

/// The hours a member may get a message, `[from, to)` in the member's local
/// time. `from > to` crosses midnight (`21:00`–`09:00`: evenings and
/// mornings).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct SendWindow {
    from: TimeOfDay,
    to: TimeOfDay,
}

/// Where a member's window stands at an instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    Open,
    /// Closed; the first instant after it at which the member's local time
    /// is inside the window.
    OpensAt(DateTime<Utc>),
}

impl SendWindow {
    /// `None` when `from == to`: an empty window would never open, and a
    /// whole day is no window (`send_window: null`).
    pub fn new(from: TimeOfDay, to: TimeOfDay) -> Option<Self> {
        (from != to).then_some(Self { from, to })
    }

    /// The window as a request gives it, with errors under
    /// `send_window.from`, `send_window.to`, or `send_window` when they are
    /// equal.
    pub fn parse(from: &str, to: &str) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let from = errors
            .check(TimeOfDay::parse(from).map_err(|m| FieldError::new("send_window.from", m)));
        let to =
            errors.check(TimeOfDay::parse(to).map_err(|m| FieldError::new("send_window.to", m)));
        let (Some(from), Some(to)) = (from, to) else {
            return Err(errors);
        };
        Self::new(from, to).ok_or_else(|| {
            ValidationErrors::single(
                "send_window",
                "`from` and `to` must differ (a window may cross midnight, e.g. 21:00 to 09:00)",
            )
        })
    }

    pub fn from(self) -> TimeOfDay {
        self.from
    }

    pub fn to(self) -> TimeOfDay {
        self.to
    }

    pub fn crosses_midnight(self) -> bool {
        self.from > self.to
    }

    /// Whether a local time of day is inside `[from, to)`.
    pub fn contains(self, local: NaiveTime) -> bool {
        let (from, to) = (self.from.as_naive(), self.to.as_naive());
        if self.crosses_midnight() {
            local >= from || local < to
        } else {
            local >= from && local < to
        }
    }

    /// Whether the member's local clock shows a time inside the window at
    /// `at`. Every instant has exactly one local time, so daylight-saving
    /// changes need no care here.
    pub fn is_open_at(self, at: DateTime<Utc>, zone: Tz) -> bool {
        self.contains(at.with_timezone(&zone).time())
    }

    /// Open at `now`, or the first instant after it at which the window
    /// opens in `zone`. That instant is where the local clock reaches `from`
    /// (the earlier of the two when a daylight-saving change repeats that
    /// time), or, when a change skips `from`, the change itself: the next
    /// valid instant, as long as the local time it jumps to is still in the
    /// window. When the clock falls back into the window the change is an
    /// opening too, so a member in the repeated hour is not made to wait a
    /// day for a time their clock shows again.
    pub fn check(self, now: DateTime<Utc>, zone: Tz) -> WindowState {
        if self.is_open_at(now, zone) {
            return WindowState::Open;
        }
        let horizon = now + Duration::days(SEARCH_DAYS);
        let today = now.with_timezone(&zone).date_naive();
        let mut candidates: Vec<DateTime<Utc>> = (-1..=SEARCH_DAYS)
            .filter_map(|offset| today.checked_add_signed(Duration::days(offset)))
            .flat_map(|day| local_instants(zone, day, self.from.as_naive()))
            .collect();
        candidates.extend(offset_changes(zone, now, horizon));
        let opening = candidates
            .into_iter()
            .filter(|t| *t > now && self.is_open_at(*t, zone))
            .min();
        // Every real zone opens a window of at least a minute within two
        // days (a zone that skipped a whole date included); the horizon only
        // makes sure a caller that waits until then looks again.
        WindowState::OpensAt(opening.unwrap_or(horizon))
    }
}

/// How far [`SendWindow::check`] looks ahead, in days.
const SEARCH_DAYS: i64 = 3;

/// The instants at which `zone`'s clock shows `time` on `day`: one, two when
/// a change repeats it (earliest first), none when a change skips it.
fn local_instants(zone: Tz, day: NaiveDate, time: NaiveTime) -> Vec<DateTime<Utc>> {
    match zone.from_local_datetime(&day.and_time(time)) {
        LocalResult::Single(t) => vec![t.with_timezone(&Utc)],
        LocalResult::Ambiguous(earliest, latest) => {
            vec![earliest.with_timezone(&Utc), latest.with_timezone(&Utc)]
        }
        LocalResult::None => Vec::new(),
    }
}

/// The instants in `(from, until]` at which `zone`'s offset from UTC
/// changes. Offsets are sampled every few hours and each change found is
/// narrowed to the second; zones change at most a few times a year, never
/// twice within hours.
fn offset_changes(zone: Tz, from: DateTime<Utc>, until: DateTime<Utc>) -> Vec<DateTime<Utc>> {
    const STEP: i64 = 6 * 3600;
    let offset_at = |secs: i64| {
        DateTime::<Utc>::from_timestamp(secs, 0).map(|t| {
            zone.offset_from_utc_datetime(&t.naive_utc())
                .fix()
                .local_minus_utc()
        })
    };
    let mut changes = Vec::new();
    let (start, end) = (from.timestamp(), until.timestamp());
    let mut lo = start;
    while lo < end {
        let hi = (lo + STEP).min(end);
        let (before, after) = (offset_at(lo), offset_at(hi));
        if before != after {
            // offset(lo) = before, offset(hi) != before: the change is in
            // (lo, hi]; keep the smallest second with the new offset.
            let (mut a, mut b) = (lo, hi);
            while b - a > 1 {
                let mid = a + (b - a) / 2;
                if offset_at(mid) == before {
                    a = mid;
                } else {
                    b = mid;
                }
            }
            changes.extend(DateTime::<Utc>::from_timestamp(b, 0));
        }
        lo = hi;
    }
    changes
}

/// A campaign as a request gives it, before validation. A change (PUT,
/// PATCH) is the current campaign's [`CampaignSpec::to_input`] with the
/// request's fields put over it, parsed again.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignInput {
    pub text: String,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub filter: FilterInput,
    /// `(from, to)` as given, or `None` for no window.
    pub send_window: Option<(String, String)>,
}

/// The most values one filter list may hold.
pub const MAX_FILTER_VALUES: usize = 100;

/// What a librarian decides about a campaign, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignSpec {
    pub text: CampaignText,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub filter: CampaignFilter,
    pub send_window: Option<SendWindow>,
}

impl CampaignSpec {
    /// Checks every field and reports every problem at once: `text`,
    /// `end_at` (not after `start_at`), `send_window.from`,
    /// `send_window.to`, `send_window`.
    pub fn parse(input: CampaignInput) -> Result<Self, ValidationErrors> {
        let mut errors = ValidationErrors::default();
        let text = errors.check(CampaignText::parse(&input.text));
        // Each value is one bound parameter of the recipients query: a bound
        // keeps it well under the databases' parameter limits.
        for (field, values) in [
            ("filter.tags", &input.filter.tags),
            ("filter.operator_codes", &input.filter.operator_codes),
        ] {
            if values.len() > MAX_FILTER_VALUES {
                errors.push(FieldError::new(
                    field,
                    format!("at most {MAX_FILTER_VALUES} values"),
                ));
            }
        }
        if input.end_at <= input.start_at {
            errors.push(FieldError::new("end_at", "must be after start_at"));
        }
        let send_window = match &input.send_window {
            None => Some(None),
            Some((from, to)) => match SendWindow::parse(from, to) {
                Ok(window) => Some(Some(window)),
                Err(window_errors) => {
                    window_errors.0.into_iter().for_each(|e| errors.push(e));
                    None
                }
            },
        };
        match (text, send_window) {
            (Some(text), Some(send_window)) if errors.is_empty() => Ok(Self {
                text,
                start_at: input.start_at,
                end_at: input.end_at,
                filter: CampaignFilter::new(input.filter),
                send_window,
            }),
            _ => Err(errors),
        }
    }

    pub fn to_input(&self) -> CampaignInput {
        CampaignInput {
            text: self.text.as_str().to_owned(),
            start_at: self.start_at,
            end_at: self.end_at,
            filter: self.filter.to_input(),
            send_window: self
                .send_window
                .map(|w| (w.from().to_string(), w.to().to_string())),
        }
    }
}

// ---------------------------------------------------------------------------
// Campaign status
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CampaignStatus {
    /// Before `start_at`: no message exists yet.
    Scheduled,
    /// Recipients chosen; messages are being sent.
    Running,
    /// `end_at` passed, or no message is pending any more.
    Finished,
    /// By the cancel action; every pending message was cancelled.
    Cancelled,
}

impl CampaignStatus {
    pub const ALL: [Self; 4] = [
        Self::Scheduled,
        Self::Running,
        Self::Finished,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Scheduled => "scheduled",
            Self::Running => "running",
            Self::Finished => "finished",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Finished and cancelled campaigns stay so.
    pub fn is_final(self) -> bool {
        matches!(self, Self::Finished | Self::Cancelled)
    }

    /// The status of a campaign created at `now`: scheduled before its
    /// period, running (recipients are chosen at once) inside
    /// `[start_at, end_at)`, and finished when the whole period is already
    /// past, since nothing could be sent.
    pub fn on_create(start_at: DateTime<Utc>, end_at: DateTime<Utc>, now: DateTime<Utc>) -> Self {
        if now < start_at {
            Self::Scheduled
        } else if now < end_at {
            Self::Running
        } else {
            Self::Finished
        }
    }

    /// Whether a scheduled campaign starts now (choosing its recipients).
    /// One whose period passed entirely while nobody looked (the server was
    /// down) starts all the same: its messages then expire, so the members
    /// who missed it can be listed.
    pub fn starts_at(self, start_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
        self == Self::Scheduled && now >= start_at
    }

    /// Whether a running campaign is finished: its period is over, or none
    /// of its messages is pending.
    pub fn finishes_at(self, end_at: DateTime<Utc>, now: DateTime<Utc>, pending: u64) -> bool {
        self == Self::Running && (is_expired(end_at, now) || pending == 0)
    }

    /// Whether a campaign in this status may change from `current` to
    /// `next`. `filter` and `start_at` may change only while scheduled (the
    /// recipients are chosen at the start); `text`, `end_at` and
    /// `send_window` may change in any status and apply to messages not yet
    /// sent. Giving the current value again is no change, so a PUT of the
    /// resource as read is always accepted.
    pub fn check_change(
        self,
        current: &CampaignSpec,
        next: &CampaignSpec,
    ) -> Result<(), CampaignConflict> {
        if self == Self::Scheduled {
            return Ok(());
        }
        let mut fields = Vec::new();
        if current.filter != next.filter {
            fields.push("filter");
        }
        if current.start_at != next.start_at {
            fields.push("start_at");
        }
        if fields.is_empty() {
            Ok(())
        } else {
            Err(CampaignConflict::Locked {
                fields,
                status: self,
            })
        }
    }

    /// What cancelling does: scheduled and running campaigns are cancelled
    /// (their pending messages with them); cancelling a cancelled campaign
    /// again changes nothing; a finished one has nothing left to cancel.
    pub fn cancel(self) -> Result<Cancel, CampaignConflict> {
        match self {
            Self::Scheduled | Self::Running => Ok(Cancel::Cancelled),
            Self::Cancelled => Ok(Cancel::AlreadyCancelled),
            Self::Finished => Err(CampaignConflict::Finished),
        }
    }
}

impl fmt::Display for CampaignStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The outcome of a cancel that is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cancel {
    /// The campaign becomes cancelled: record `campaign.cancelled`.
    Cancelled,
    /// It was already: nothing changes, no event.
    AlreadyCancelled,
}

/// A change the campaign's status does not allow (HTTP 409).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CampaignConflict {
    #[error("{} can change only while the campaign is scheduled; it is {status}", .fields.join(" and "))]
    Locked {
        /// `filter`, `start_at`, or both.
        fields: Vec<&'static str>,
        status: CampaignStatus,
    },
    #[error("the campaign is finished; there is nothing left to cancel")]
    Finished,
}

// ---------------------------------------------------------------------------
// Messages
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MessageStatus {
    /// Waiting for its first attempt, a retry, its member's window or its
    /// campaign's start.
    Pending,
    /// The gateway answered 200 with `{"code": 0}`.
    Sent,
    /// Every attempt of the retry schedule failed.
    Failed,
    /// `end_at` passed before it could be sent.
    Expired,
    /// Its campaign was cancelled before it was sent.
    Cancelled,
}

impl MessageStatus {
    pub const ALL: [Self; 5] = [
        Self::Pending,
        Self::Sent,
        Self::Failed,
        Self::Expired,
        Self::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Sent => "sent",
            Self::Failed => "failed",
            Self::Expired => "expired",
            Self::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }

    /// Only a pending message can still change.
    pub fn is_final(self) -> bool {
        self != Self::Pending
    }

    /// A message's status after the engine moved it: a refusal for good and
    /// a used-up schedule are both `failed` to the librarian, who asks "who
    /// did not get it?", not which way it failed.
    pub fn from_delivery(status: DeliveryStatus) -> Self {
        match status {
            DeliveryStatus::Pending => Self::Pending,
            DeliveryStatus::Delivered => Self::Sent,
            DeliveryStatus::Failed | DeliveryStatus::Dead => Self::Failed,
        }
    }
}

impl fmt::Display for MessageStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A campaign's messages by status, as `counts` in the API.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct MessageCounts {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    pub expired: u64,
    pub cancelled: u64,
}

impl MessageCounts {
    pub fn add(&mut self, status: MessageStatus, count: u64) {
        let slot = match status {
            MessageStatus::Pending => &mut self.pending,
            MessageStatus::Sent => &mut self.sent,
            MessageStatus::Failed => &mut self.failed,
            MessageStatus::Expired => &mut self.expired,
            MessageStatus::Cancelled => &mut self.cancelled,
        };
        *slot += count;
    }

    pub fn get(&self, status: MessageStatus) -> u64 {
        match status {
            MessageStatus::Pending => self.pending,
            MessageStatus::Sent => self.sent,
            MessageStatus::Failed => self.failed,
            MessageStatus::Expired => self.expired,
            MessageStatus::Cancelled => self.cancelled,
        }
    }

    pub fn total(&self) -> u64 {
        MessageStatus::ALL.into_iter().map(|s| self.get(s)).sum()
    }

    /// Adds another campaign's counts (the statistics' `totals`).
    pub fn merge(&mut self, other: &Self) {
        for status in MessageStatus::ALL {
            self.add(status, other.get(status));
        }
    }
}

/// Past `end_at` a pending message is expired and never sent. The period is
/// `[start_at, end_at)`: at `end_at` exactly it is over.
pub fn is_expired(end_at: DateTime<Utc>, now: DateTime<Utc>) -> bool {
    now >= end_at
}

/// What is known about a pending message just before it is sent, read
/// again for every attempt so a cancel or a change made meanwhile counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SendCheck {
    pub campaign_status: CampaignStatus,
    pub start_at: DateTime<Utc>,
    pub end_at: DateTime<Utc>,
    pub send_window: Option<SendWindow>,
    /// The member's IANA time zone.
    pub time_zone: Tz,
}

/// What to do with a pending message now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendDecision {
    Send,
    /// The campaign was cancelled: the message becomes `cancelled`.
    Cancel,
    /// `end_at` has passed: the message becomes `expired`.
    Expire,
    /// Not yet: stays pending, due again at `until` (never later than
    /// `end_at`, when it expires unless a change gave it more time).
    Wait {
        until: DateTime<Utc>,
    },
}

impl SendCheck {
    /// Cancelled first (a cancel wins over everything), then expiry, then
    /// the campaign's start, then the member's window. A message whose
    /// window does not open before `end_at` waits until `end_at` rather than
    /// expiring at once: `end_at` and the window may still change.
    pub fn decide(&self, now: DateTime<Utc>) -> SendDecision {
        if self.campaign_status == CampaignStatus::Cancelled {
            return SendDecision::Cancel;
        }
        if is_expired(self.end_at, now) {
            return SendDecision::Expire;
        }
        if now < self.start_at {
            return SendDecision::Wait {
                until: self.start_at,
            };
        }
        match self.send_window.map(|w| w.check(now, self.time_zone)) {
            None | Some(WindowState::Open) => SendDecision::Send,
            Some(WindowState::OpensAt(at)) => SendDecision::Wait {
                until: at.min(self.end_at),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(raw: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(raw)
            .unwrap_or_else(|e| panic!("{raw}: {e}"))
            .with_timezone(&Utc)
    }

    fn zone(name: &str) -> Tz {
        name.parse().unwrap_or_else(|e| panic!("{name}: {e}"))
    }

    fn window(from: &str, to: &str) -> SendWindow {
        SendWindow::parse(from, to).unwrap_or_else(|e| panic!("{from}-{to}: {e}"))
    }

    fn opens(w: SendWindow, now: &str, tz: &str) -> WindowState {
        w.check(utc(now), zone(tz))
    }

    fn at(raw: &str) -> WindowState {
        WindowState::OpensAt(utc(raw))
    }

    fn input() -> CampaignInput {
        CampaignInput {
            text: "The library is closed on Monday".into(),
            start_at: utc("2026-03-01T09:00:00Z"),
            end_at: utc("2026-03-02T09:00:00Z"),
            filter: FilterInput::default(),
            send_window: Some(("09:00".into(), "21:00".into())),
        }
    }

    fn fields(errors: &ValidationErrors) -> Vec<&str> {
        errors.0.iter().map(|e| e.field.as_str()).collect()
    }

    // --- validation ----------------------------------------------------------

    #[test]
    fn a_valid_campaign_parses_and_round_trips_to_input() {
        let spec = CampaignSpec::parse(input()).expect("valid");
        assert_eq!(spec.text.as_str(), "The library is closed on Monday");
        assert_eq!(spec.send_window, Some(window("09:00", "21:00")));
        assert_eq!(CampaignSpec::parse(spec.to_input()), Ok(spec));
    }

    #[test]
    fn text_is_one_to_a_thousand_characters() {
        for ok in ["x", "Ж", "line one\nline two", &"я".repeat(1000)] {
            assert!(CampaignText::parse(ok).is_ok(), "{ok:?}");
        }
        assert_eq!(
            CampaignText::parse(&"я".repeat(1001)).unwrap_err().message,
            "must be at most 1000 characters"
        );
        for bad in ["", "   ", "\n"] {
            assert_eq!(
                CampaignText::parse(bad).unwrap_err().message,
                "must not be empty",
                "{bad:?}"
            );
        }
        let nul = CampaignText::parse("a\0b").unwrap_err();
        assert_eq!(nul.field, "text");
        assert!(nul.message.contains("control"), "{}", nul.message);
        assert_eq!(
            CampaignText::parse(" kept as written ").unwrap().as_str(),
            " kept as written "
        );
    }

    #[test]
    fn end_at_must_be_after_start_at() {
        for end in ["2026-03-01T09:00:00Z", "2026-03-01T08:59:59Z"] {
            let errors = CampaignSpec::parse(CampaignInput {
                end_at: utc(end),
                ..input()
            })
            .unwrap_err();
            assert_eq!(fields(&errors), ["end_at"], "{end}");
        }
        assert!(CampaignSpec::parse(CampaignInput {
            end_at: utc("2026-03-01T09:00:01Z"),
            ..input()
        })
        .is_ok());
    }

    #[test]
    fn every_problem_is_reported_under_its_field() {
        let errors = CampaignSpec::parse(CampaignInput {
            text: String::new(),
            end_at: utc("2026-02-01T00:00:00Z"),
            send_window: Some(("25:00".into(), "9:00".into())),
            ..input()
        })
        .unwrap_err();
        assert_eq!(
            fields(&errors),
            ["text", "end_at", "send_window.from", "send_window.to"]
        );
    }

    #[test]
    fn a_filter_list_holds_at_most_a_hundred_values() {
        let values = |n: usize| (0..n).map(|i| format!("v{i}")).collect::<Vec<_>>();
        let at_most = CampaignSpec::parse(CampaignInput {
            filter: FilterInput {
                tags: values(MAX_FILTER_VALUES),
                operator_codes: values(MAX_FILTER_VALUES),
            },
            ..input()
        });
        assert!(at_most.is_ok());
        let errors = CampaignSpec::parse(CampaignInput {
            filter: FilterInput {
                tags: values(MAX_FILTER_VALUES + 1),
                operator_codes: values(50_000),
            },
            ..input()
        })
        .unwrap_err();
        assert_eq!(fields(&errors), ["filter.tags", "filter.operator_codes"]);
    }

    #[test]
    fn a_window_needs_from_and_to_to_differ() {
        let errors = SendWindow::parse("10:00", "10:00").unwrap_err();
        assert_eq!(fields(&errors), ["send_window"]);
        assert!(CampaignSpec::parse(CampaignInput {
            send_window: None,
            ..input()
        })
        .is_ok_and(|s| s.send_window.is_none()));
    }

    #[test]
    fn times_of_day_are_exactly_hh_mm() {
        for (raw, h, m) in [("00:00", 0, 0), ("09:05", 9, 5), ("23:59", 23, 59)] {
            let time = TimeOfDay::parse(raw).expect(raw);
            assert_eq!((time.hour(), time.minute()), (h, m));
            assert_eq!(time.to_string(), raw);
        }
        for bad in [
            "",
            "9:00",
            "09:0",
            "24:00",
            "23:60",
            "09:00:00",
            "0900",
            "09-00",
            "ab:cd",
            "０９:００",
            " 09:00",
            "+9:00",
        ] {
            assert_eq!(
                TimeOfDay::parse(bad),
                Err(TimeOfDay::FORMAT_HINT),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn serializes_as_the_api_shows_it() {
        let spec = CampaignSpec::parse(CampaignInput {
            filter: FilterInput {
                tags: vec!["VIP".into(), "news".into()],
                operator_codes: vec!["912".into()],
            },
            send_window: Some(("21:00".into(), "09:00".into())),
            ..input()
        })
        .unwrap();
        assert_eq!(
            serde_json::to_value(spec.send_window).unwrap(),
            serde_json::json!({"from": "21:00", "to": "09:00"})
        );
        assert_eq!(
            serde_json::to_value(&spec.filter).unwrap(),
            serde_json::json!({"tags": ["news", "vip"], "operator_codes": ["912"]})
        );
        assert_eq!(
            serde_json::to_value(CampaignStatus::Cancelled).unwrap(),
            "cancelled"
        );
        assert_eq!(
            serde_json::to_value(MessageCounts {
                sent: 2,
                ..MessageCounts::default()
            })
            .unwrap(),
            serde_json::json!({"pending": 0, "sent": 2, "failed": 0, "expired": 0, "cancelled": 0})
        );
    }

    // --- filter --------------------------------------------------------------

    #[test]
    fn a_filter_matches_any_tag_and_an_operator_code() {
        let filter = CampaignFilter::new(FilterInput {
            tags: vec!["VIP".into(), " news ".into(), "news".into(), " ".into()],
            operator_codes: vec!["912".into(), "999".into()],
        });
        assert_eq!(filter.tags(), ["news", "vip"]);
        assert!(filter.matches(&["vip"], Some("912")));
        assert!(filter.matches(&["other", "News"], Some("999")));
        assert!(!filter.matches(&["other"], Some("912")), "no tag in common");
        assert!(!filter.matches(&["vip"], Some("903")), "another operator");
        assert!(
            !filter.matches(&[] as &[&str], Some("912")),
            "no tags at all"
        );
        assert!(!filter.matches(&["vip"], None), "no valid phone");

        let tags_only = CampaignFilter::new(FilterInput {
            tags: vec!["vip".into()],
            ..FilterInput::default()
        });
        assert!(tags_only.matches(&["vip"], Some("000")));

        let everyone = CampaignFilter::default();
        assert!(everyone.is_empty());
        assert!(everyone.matches(&[] as &[&str], Some("912")));
        assert!(!everyone.matches(&["vip"], None));

        let unknown = CampaignFilter::new(FilterInput {
            tags: vec!["nobody-has-this".into()],
            operator_codes: vec!["not a code".into()],
        });
        assert!(!unknown.matches(&["vip"], Some("912")), "matches nobody");
    }

    // --- window --------------------------------------------------------------

    #[test]
    fn a_window_holds_from_and_excludes_to() {
        let day = window("09:00", "21:00");
        let t = |h, m| NaiveTime::from_hms_opt(h, m, 0).unwrap();
        assert!(!day.contains(t(8, 59)));
        assert!(day.contains(t(9, 0)));
        assert!(day.contains(t(20, 59)));
        assert!(day.contains(NaiveTime::from_hms_opt(20, 59, 59).unwrap()));
        assert!(!day.contains(t(21, 0)));
        assert!(!day.crosses_midnight());

        let night = window("21:00", "09:00");
        assert!(night.crosses_midnight());
        assert!(night.contains(t(21, 0)));
        assert!(night.contains(t(23, 59)));
        assert!(night.contains(t(0, 0)));
        assert!(night.contains(t(8, 59)));
        assert!(!night.contains(t(9, 0)));
        assert!(!night.contains(t(12, 0)));
        assert!(!night.contains(t(20, 59)));

        let to_midnight = window("22:00", "00:00");
        assert!(to_midnight.contains(t(23, 59)));
        assert!(!to_midnight.contains(t(0, 0)));
        let from_midnight = window("00:00", "06:00");
        assert!(from_midnight.contains(t(0, 0)));
        assert!(!from_midnight.contains(t(23, 59)));
    }

    #[test]
    fn moscow_opens_at_its_local_hour() {
        // UTC+3 all year.
        let w = window("09:00", "21:00");
        assert_eq!(
            opens(w, "2026-01-15T05:59:59Z", "Europe/Moscow"),
            at("2026-01-15T06:00:00Z")
        );
        assert_eq!(
            opens(w, "2026-01-15T06:00:00Z", "Europe/Moscow"),
            WindowState::Open
        );
        assert_eq!(
            opens(w, "2026-07-15T17:59:59Z", "Europe/Moscow"),
            WindowState::Open
        );
        // 21:00 in Moscow: closed until tomorrow's 09:00.
        assert_eq!(
            opens(w, "2026-07-15T18:00:00Z", "Europe/Moscow"),
            at("2026-07-16T06:00:00Z")
        );
    }

    #[test]
    fn kolkata_keeps_its_half_hour() {
        // UTC+5:30.
        let w = window("10:00", "18:00");
        assert_eq!(
            opens(w, "2026-05-01T00:00:00Z", "Asia/Kolkata"),
            at("2026-05-01T04:30:00Z")
        );
        assert_eq!(
            opens(w, "2026-05-01T12:29:00Z", "Asia/Kolkata"),
            WindowState::Open
        );
        assert_eq!(
            opens(w, "2026-05-01T12:30:00Z", "Asia/Kolkata"),
            at("2026-05-02T04:30:00Z")
        );
    }

    #[test]
    fn a_window_across_midnight_opens_in_the_evening_and_holds_until_morning() {
        let w = window("21:00", "09:00");
        // Moscow 12:00: closed until 21:00 the same day.
        assert_eq!(
            opens(w, "2026-02-10T09:00:00Z", "Europe/Moscow"),
            at("2026-02-10T18:00:00Z")
        );
        // Moscow 23:30 and 08:59: open, on either side of midnight.
        assert_eq!(
            opens(w, "2026-02-10T20:30:00Z", "Europe/Moscow"),
            WindowState::Open
        );
        assert_eq!(
            opens(w, "2026-02-11T05:59:00Z", "Europe/Moscow"),
            WindowState::Open
        );
        // Moscow 09:00: closed until the evening.
        assert_eq!(
            opens(w, "2026-02-11T06:00:00Z", "Europe/Moscow"),
            at("2026-02-11T18:00:00Z")
        );
        // In UTC itself.
        assert_eq!(
            opens(w, "2026-02-11T09:00:00Z", "UTC"),
            at("2026-02-11T21:00:00Z")
        );
    }

    #[test]
    fn the_same_instant_is_inside_for_one_member_and_outside_for_another() {
        let w = window("09:00", "18:00");
        let now = "2026-04-01T07:00:00Z";
        assert_eq!(opens(w, now, "Europe/Moscow"), WindowState::Open); // 10:00
        assert_eq!(
            opens(w, now, "America/New_York"), // 03:00 EDT
            at("2026-04-01T13:00:00Z")
        );
        assert_eq!(opens(w, now, "Asia/Kolkata"), WindowState::Open); // 12:30
        assert_eq!(
            opens(w, now, "Pacific/Chatham"), // 20:45 (+13:45 until 5 April)
            at("2026-04-01T19:15:00Z")
        );
    }

    #[test]
    fn new_york_spring_forward_moves_a_skipped_opening_to_the_change() {
        // 2026-03-08: at 02:00 EST (07:00 UTC) clocks jump to 03:00 EDT.
        let w = window("02:30", "05:00");
        assert_eq!(
            opens(w, "2026-03-08T06:00:00Z", "America/New_York"), // 01:00 EST
            at("2026-03-08T07:00:00Z"),                           // 03:00 EDT
        );
        assert!(w.is_open_at(utc("2026-03-08T07:00:00Z"), zone("America/New_York")));
        assert!(!w.is_open_at(utc("2026-03-08T06:59:59Z"), zone("America/New_York")));
        // The day before and after, 02:30 exists.
        assert_eq!(
            opens(w, "2026-03-07T06:00:00Z", "America/New_York"),
            at("2026-03-07T07:30:00Z") // 02:30 EST
        );
        assert_eq!(
            opens(w, "2026-03-08T09:00:00Z", "America/New_York"), // 05:00 EDT
            at("2026-03-09T06:30:00Z")                            // 02:30 EDT
        );
    }

    #[test]
    fn a_window_wholly_inside_a_skipped_hour_waits_for_the_next_day() {
        let w = window("02:10", "02:50");
        assert_eq!(
            opens(w, "2026-03-08T06:00:00Z", "America/New_York"),
            at("2026-03-09T06:10:00Z") // 02:10 EDT on 9 March
        );
    }

    #[test]
    fn new_york_fall_back_takes_the_earlier_of_a_repeated_time() {
        // 2026-11-01: at 02:00 EDT (06:00 UTC) clocks fall back to 01:00 EST.
        let w = window("01:30", "05:00");
        assert_eq!(
            opens(w, "2026-11-01T04:00:00Z", "America/New_York"), // 00:00 EDT
            at("2026-11-01T05:30:00Z")                            // 01:30 EDT
        );
        // Once past the first 01:30 and out of the window again (window
        // 01:30-01:45), the repeated 01:30 EST opens it again.
        let short = window("01:30", "01:45");
        assert_eq!(
            opens(short, "2026-11-01T05:50:00Z", "America/New_York"), // 01:50 EDT
            at("2026-11-01T06:30:00Z")                                // 01:30 EST
        );
    }

    #[test]
    fn falling_back_into_a_window_opens_it_at_the_change() {
        // Window 00:30-01:30: closed at 01:45 EDT; at 02:00 EDT the clock
        // shows 01:00 EST, inside the window again.
        let w = window("00:30", "01:30");
        assert_eq!(
            opens(w, "2026-11-01T05:45:00Z", "America/New_York"),
            at("2026-11-01T06:00:00Z")
        );
    }

    #[test]
    fn lord_howe_moves_by_half_an_hour() {
        // 2026-10-04 02:00 +10:30 (2026-10-03T15:30Z) becomes 02:30 +11.
        let w = window("02:15", "04:00");
        assert_eq!(
            opens(w, "2026-10-03T14:00:00Z", "Australia/Lord_Howe"), // 00:30
            at("2026-10-03T15:30:00Z")                               // 02:30 +11
        );
        // 2026-04-05 02:00 +11 (2026-04-04T15:00Z) falls back to 01:30 +10:30;
        // 01:45 happens twice, the earlier (+11) counts.
        let w = window("01:45", "03:00");
        assert_eq!(
            opens(w, "2026-04-04T13:00:00Z", "Australia/Lord_Howe"), // 00:00 +11
            at("2026-04-04T14:45:00Z")
        );
    }

    #[test]
    fn chatham_moves_at_a_quarter_to() {
        // 2026-09-27 02:45 +12:45 (2026-09-26T14:00Z) becomes 03:45 +13:45.
        let w = window("03:00", "06:00");
        assert_eq!(
            opens(w, "2026-09-26T12:00:00Z", "Pacific/Chatham"), // 00:45 +12:45
            at("2026-09-26T14:00:00Z")                           // 03:45 +13:45
        );
        // The day after, 03:00 +13:45 is 13:15 UTC the day before.
        assert_eq!(
            opens(w, "2026-09-27T12:00:00Z", "Pacific/Chatham"),
            at("2026-09-27T13:15:00Z")
        );
    }

    #[test]
    fn offset_changes_are_found_to_the_second() {
        let changes = offset_changes(
            zone("America/New_York"),
            utc("2026-03-06T00:00:00Z"),
            utc("2026-03-10T00:00:00Z"),
        );
        assert_eq!(changes, [utc("2026-03-08T07:00:00Z")]);
        assert!(offset_changes(
            zone("Europe/Moscow"),
            utc("2026-03-01T00:00:00Z"),
            utc("2026-03-31T00:00:00Z")
        )
        .is_empty());
    }

    // --- status --------------------------------------------------------------

    #[test]
    fn a_new_campaign_is_scheduled_running_or_already_over() {
        let (start, end) = (utc("2026-03-01T09:00:00Z"), utc("2026-03-02T09:00:00Z"));
        let status = |now| CampaignStatus::on_create(start, end, utc(now));
        assert_eq!(status("2026-03-01T08:59:59Z"), CampaignStatus::Scheduled);
        assert_eq!(status("2026-03-01T09:00:00Z"), CampaignStatus::Running);
        assert_eq!(status("2026-03-02T08:59:59Z"), CampaignStatus::Running);
        assert_eq!(status("2026-03-02T09:00:00Z"), CampaignStatus::Finished);
    }

    #[test]
    fn a_campaign_starts_at_start_at_and_finishes_at_end_at_or_when_nothing_is_pending() {
        let start = utc("2026-03-01T09:00:00Z");
        let end = utc("2026-03-02T09:00:00Z");
        use CampaignStatus::*;
        assert!(!Scheduled.starts_at(start, utc("2026-03-01T08:59:59Z")));
        assert!(Scheduled.starts_at(start, start));
        assert!(!Running.starts_at(start, start), "already started");
        assert!(!Cancelled.starts_at(start, start));

        let before_end = utc("2026-03-02T08:59:59Z");
        assert!(!Running.finishes_at(end, before_end, 3));
        assert!(Running.finishes_at(end, before_end, 0));
        assert!(Running.finishes_at(end, end, 3));
        assert!(!Scheduled.finishes_at(end, end, 0));
        assert!(!Cancelled.finishes_at(end, end, 0));
    }

    #[test]
    fn filter_and_start_at_change_only_while_scheduled() {
        let current = CampaignSpec::parse(input()).unwrap();
        let changed = |f: fn(&mut CampaignInput)| {
            let mut next = current.to_input();
            f(&mut next);
            CampaignSpec::parse(next).unwrap()
        };
        let new_filter = changed(|i| i.filter.tags = vec!["vip".into()]);
        let new_start = changed(|i| i.start_at = utc("2026-03-01T10:00:00Z"));
        let both = changed(|i| {
            i.filter.operator_codes = vec!["912".into()];
            i.start_at = utc("2026-03-01T10:00:00Z");
        });
        let free = changed(|i| {
            i.text = "New text".into();
            i.end_at = utc("2026-03-05T00:00:00Z");
            i.send_window = None;
        });

        for spec in [&new_filter, &new_start, &both, &free] {
            assert_eq!(
                CampaignStatus::Scheduled.check_change(&current, spec),
                Ok(())
            );
        }
        for status in [
            CampaignStatus::Running,
            CampaignStatus::Finished,
            CampaignStatus::Cancelled,
        ] {
            assert_eq!(
                status.check_change(&current, &new_filter),
                Err(CampaignConflict::Locked {
                    fields: vec!["filter"],
                    status
                })
            );
            assert_eq!(
                status.check_change(&current, &new_start),
                Err(CampaignConflict::Locked {
                    fields: vec!["start_at"],
                    status
                })
            );
            assert_eq!(status.check_change(&current, &free), Ok(()), "{status}");
            assert_eq!(
                status.check_change(&current, &current),
                Ok(()),
                "PUT as read"
            );
        }
        let error = CampaignStatus::Running
            .check_change(&current, &both)
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "filter and start_at can change only while the campaign is scheduled; it is running"
        );
    }

    #[test]
    fn the_same_filter_written_differently_is_no_change() {
        let current = CampaignSpec::parse(CampaignInput {
            filter: FilterInput {
                tags: vec!["vip".into(), "news".into()],
                operator_codes: vec![],
            },
            ..input()
        })
        .unwrap();
        let next = CampaignSpec::parse(CampaignInput {
            filter: FilterInput {
                tags: vec!["NEWS".into(), "vip".into(), "vip".into()],
                operator_codes: vec![],
            },
            ..input()
        })
        .unwrap();
        assert_eq!(
            CampaignStatus::Running.check_change(&current, &next),
            Ok(())
        );
    }

    #[test]
    fn cancelling_depends_on_the_status() {
        assert_eq!(CampaignStatus::Scheduled.cancel(), Ok(Cancel::Cancelled));
        assert_eq!(CampaignStatus::Running.cancel(), Ok(Cancel::Cancelled));
        assert_eq!(
            CampaignStatus::Cancelled.cancel(),
            Ok(Cancel::AlreadyCancelled)
        );
        assert_eq!(
            CampaignStatus::Finished.cancel(),
            Err(CampaignConflict::Finished)
        );
    }

    #[test]
    fn statuses_round_trip() {
        for status in CampaignStatus::ALL {
            assert_eq!(CampaignStatus::parse(status.as_str()), Some(status));
        }
        for status in MessageStatus::ALL {
            assert_eq!(MessageStatus::parse(status.as_str()), Some(status));
            assert_eq!(status.is_final(), status != MessageStatus::Pending);
        }
        assert_eq!(
            DeliveryStatus::ALL.map(MessageStatus::from_delivery),
            [
                MessageStatus::Pending,
                MessageStatus::Sent,
                MessageStatus::Failed,
                MessageStatus::Failed
            ]
        );
        assert_eq!(CampaignStatus::parse("paused"), None);
        assert_eq!(MessageStatus::parse("dead"), None);
        assert!(CampaignStatus::Finished.is_final() && CampaignStatus::Cancelled.is_final());
        assert!(!CampaignStatus::Running.is_final());
    }

    #[test]
    fn counts_add_up() {
        let mut counts = MessageCounts::default();
        counts.add(MessageStatus::Sent, 3);
        counts.add(MessageStatus::Expired, 2);
        counts.add(MessageStatus::Sent, 1);
        assert_eq!(counts.sent, 4);
        assert_eq!(counts.total(), 6);
        let mut totals = MessageCounts {
            pending: 1,
            ..MessageCounts::default()
        };
        totals.merge(&counts);
        assert_eq!(totals.total(), 7);
        assert_eq!(totals.get(MessageStatus::Pending), 1);
    }

    // --- just before a send -------------------------------------------------

    fn check(status: CampaignStatus, w: Option<SendWindow>, tz: &str) -> SendCheck {
        SendCheck {
            campaign_status: status,
            start_at: utc("2026-03-01T00:00:00Z"),
            end_at: utc("2026-03-02T12:00:00Z"),
            send_window: w,
            time_zone: zone(tz),
        }
    }

    #[test]
    fn expiry_is_at_end_at_exactly() {
        let end = utc("2026-03-02T12:00:00Z");
        assert!(!is_expired(end, utc("2026-03-02T11:59:59.999Z")));
        assert!(is_expired(end, end));
        let c = check(CampaignStatus::Running, None, "UTC");
        assert_eq!(c.decide(utc("2026-03-02T11:59:59Z")), SendDecision::Send);
        assert_eq!(c.decide(end), SendDecision::Expire);
        assert_eq!(c.decide(utc("2026-03-03T00:00:00Z")), SendDecision::Expire);
    }

    #[test]
    fn a_cancel_wins_over_everything() {
        let c = check(
            CampaignStatus::Cancelled,
            Some(window("09:00", "10:00")),
            "UTC",
        );
        assert_eq!(c.decide(utc("2026-03-01T09:30:00Z")), SendDecision::Cancel);
        assert_eq!(c.decide(utc("2026-03-05T00:00:00Z")), SendDecision::Cancel);
    }

    #[test]
    fn outside_the_window_a_message_waits_for_it() {
        let c = check(
            CampaignStatus::Running,
            Some(window("21:00", "09:00")),
            "Europe/Moscow",
        );
        // Moscow 12:00 on 1 March: wait for 21:00 Moscow.
        assert_eq!(
            c.decide(utc("2026-03-01T09:00:00Z")),
            SendDecision::Wait {
                until: utc("2026-03-01T18:00:00Z")
            }
        );
        // Moscow 22:00: send.
        assert_eq!(c.decide(utc("2026-03-01T19:00:00Z")), SendDecision::Send);
    }

    #[test]
    fn a_window_that_opens_after_end_at_waits_only_until_end_at() {
        // end_at is 12:00 UTC on 2 March = 15:00 Moscow; the window opens
        // at 21:00 Moscow, after it.
        let c = check(
            CampaignStatus::Running,
            Some(window("21:00", "09:00")),
            "Europe/Moscow",
        );
        let end = utc("2026-03-02T12:00:00Z");
        assert_eq!(
            c.decide(utc("2026-03-02T07:00:00Z")),
            SendDecision::Wait { until: end }
        );
        assert_eq!(c.decide(end), SendDecision::Expire);
    }

    #[test]
    fn before_start_at_a_message_waits_for_the_start() {
        let c = check(CampaignStatus::Running, None, "UTC");
        assert_eq!(
            c.decide(utc("2026-02-28T23:00:00Z")),
            SendDecision::Wait {
                until: utc("2026-03-01T00:00:00Z")
            }
        );
    }
}
