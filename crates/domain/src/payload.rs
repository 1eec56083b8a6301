//! What a webhook's request body looks like, and which events it receives.
//!
//! A subscription picks a [`PayloadFormat`]: Libris's own body, the REST
//! Hooks shape, or a [`Template`] of its own with `{{...}}` placeholders over
//! the event, sent with the subscription's [`ContentType`]. A [`Filter`] of
//! equality conditions narrows the events it gets further.
//!
//! Placeholders and filter conditions name values by a dotted path from one
//! of the roots `id`, `event`, `timestamp`, `data` (any depth:
//! `data.user.username`; a name of digits only also indexes an array:
//! `data.books.0`) and, in templates only, `webhook.id` and `webhook.url`.
//! A name is ASCII letters, digits, `_` and `-`. `id`, `event` and
//! `timestamp` are the strings the Libris body carries: the hyphenated uuid,
//! the name, and the RFC 3339 text chrono serializes.
//!
//! Under a JSON content type a template's JSON structure is checked when it
//! is saved: a small lexer over its literal text tells, for each
//! placeholder, whether it sits inside a JSON string (its value is inserted
//! JSON-escaped) or where a value goes (its value is inserted as JSON). The
//! same decision, made once at parse time, drives rendering, so what was
//! checked is what is sent.

use std::borrow::Cow;
use std::fmt;

use chrono::{DateTime, Utc};
use serde::Serialize;
use serde_json::Value;
use uuid::Uuid;

use crate::events::RecordedEvent;
use crate::webhooks::Webhook;
use crate::FieldError;

/// The longest template accepted, in bytes (64 KiB).
pub const MAX_TEMPLATE_BYTES: usize = 64 * 1024;
/// The largest body a template may render to, in bytes (1 MiB).
pub const MAX_BODY_BYTES: usize = 1024 * 1024;
/// The most conditions a filter may hold.
pub const MAX_FILTER_CONDITIONS: usize = 20;
/// The input field a template's errors are reported against.
pub const TEMPLATE_FIELD: &str = "payload_template";
/// The input field a filter's errors are reported against.
pub const FILTER_FIELD: &str = "filter";

const OPEN: &str = "{{";
const CLOSE: &str = "}}";

/// The shape of a subscription's request body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PayloadFormat {
    /// `{"id", "event", "timestamp", "data"}`, as Libris has always sent.
    #[default]
    Libris,
    /// `{"hook": {"id", "event", "target"}, "data"}`.
    RestHooks,
    /// The subscription's own [`Template`].
    Template,
}

impl PayloadFormat {
    pub const ALL: [Self; 3] = [Self::Libris, Self::RestHooks, Self::Template];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Libris => "libris",
            Self::RestHooks => "rest_hooks",
            Self::Template => "template",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.as_str() == raw)
    }
}

impl fmt::Display for PayloadFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A request's media type (RFC 9110 §8.3.1): `type/subtype` tokens and
/// optional `; name=value` parameters. Made by [`parse_content_type`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContentType {
    /// As given, without surrounding whitespace: what the header carries.
    raw: String,
    /// `type/subtype`, lowercased.
    essence: String,
    /// Names lowercased; values unquoted, case kept.
    parameters: Vec<(String, String)>,
}

impl ContentType {
    /// `application/json`.
    pub fn json() -> Self {
        Self {
            raw: "application/json".into(),
            essence: "application/json".into(),
            parameters: Vec::new(),
        }
    }

    /// The header value, as given.
    pub fn as_str(&self) -> &str {
        &self.raw
    }

    /// `type/subtype`, lowercased, without parameters.
    pub fn essence(&self) -> &str {
        &self.essence
    }

    /// A parameter's value (unquoted) by its case-insensitive name.
    pub fn parameter(&self, name: &str) -> Option<&str> {
        self.parameters
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// `application/json` or `application/*+json`, whatever the parameters.
    pub fn is_json(&self) -> bool {
        match self.essence.split_once('/') {
            Some((kind, subtype)) => {
                kind == "application" && (subtype == "json" || subtype.ends_with("+json"))
            }
            None => false,
        }
    }
}

impl fmt::Display for ContentType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.raw)
    }
}

/// RFC 9110's `tchar`.
fn is_tchar(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-.^_`|~".contains(c)
}

type Chars<'a> = std::iter::Peekable<std::str::Chars<'a>>;

fn take_token(chars: &mut Chars<'_>) -> String {
    let mut token = String::new();
    while let Some(&c) = chars.peek() {
        if !is_tchar(c) {
            break;
        }
        token.push(c);
        chars.next();
    }
    token
}

fn skip_ows(chars: &mut Chars<'_>) {
    while chars.next_if(|c| matches!(c, ' ' | '\t')).is_some() {}
}

/// The rest of a quoted-string whose opening quote was taken, unescaped.
fn take_quoted(chars: &mut Chars<'_>) -> Result<String, String> {
    let mut value = String::new();
    loop {
        match chars.next() {
            None => return Err("a quoted parameter value is never closed".into()),
            Some('"') => return Ok(value),
            Some('\\') => match chars.next() {
                Some(c) => value.push(c),
                None => return Err("a quoted parameter value ends in a lone `\\`".into()),
            },
            Some(c) => value.push(c),
        }
    }
}

/// Parses a Content-Type value: `type/subtype` (RFC 9110 tokens, no
/// whitespace around the `/`) followed by any `; name=value` parameters,
/// each value a token or a quoted string. Surrounding spaces and tabs are
/// ignored; anything but visible ASCII, spaces and tabs is refused, since a
/// header could not carry it. The error says what is wrong, for the
/// `content_type` field.
pub fn parse_content_type(raw: &str) -> Result<ContentType, String> {
    let text = raw.trim_matches([' ', '\t']);
    if text.is_empty() {
        return Err("is empty: give a media type such as `application/json`".into());
    }
    if let Some(c) = text
        .chars()
        .find(|&c| !c.is_ascii() || (c.is_ascii_control() && c != '\t'))
    {
        return Err(format!(
            "contains {c:?}: a media type is visible ASCII, as in `application/json`"
        ));
    }
    let shape = || format!("`{text}` is not a media type `type/subtype`, as in `application/json`");
    let mut chars = text.chars().peekable();
    let kind = take_token(&mut chars);
    if kind.is_empty() || chars.next() != Some('/') {
        return Err(shape());
    }
    let subtype = take_token(&mut chars);
    if subtype.is_empty() {
        return Err(shape());
    }
    let mut parameters = Vec::new();
    loop {
        skip_ows(&mut chars);
        match chars.next() {
            None => break,
            Some(';') => {}
            Some(c) => {
                return Err(format!(
                    "unexpected {c:?} after `{kind}/{subtype}`: parameters follow a `;` as `name=value`"
                ))
            }
        }
        skip_ows(&mut chars);
        if matches!(chars.peek(), None | Some(';')) {
            continue;
        }
        let name = take_token(&mut chars);
        if name.is_empty() || chars.next() != Some('=') {
            return Err(format!(
                "a parameter of `{text}` is not `name=value` (no spaces around `=`)"
            ));
        }
        let value = if chars.next_if_eq(&'"').is_some() {
            take_quoted(&mut chars)?
        } else {
            let value = take_token(&mut chars);
            if value.is_empty() {
                return Err(format!(
                    "parameter `{name}` has no value: write a token or a quoted string"
                ));
            }
            value
        };
        parameters.push((name.to_ascii_lowercase(), value));
    }
    Ok(ContentType {
        raw: text.to_owned(),
        essence: format!(
            "{}/{}",
            kind.to_ascii_lowercase(),
            subtype.to_ascii_lowercase()
        ),
        parameters,
    })
}

/// One event as one subscription sees it: what templates and filters read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EventView<'a> {
    pub id: Uuid,
    pub event: &'a str,
    pub timestamp: DateTime<Utc>,
    pub data: &'a Value,
    pub webhook_id: Uuid,
    /// The URL as anyone may see it (a password masked): never the target
    /// URL with the password put back.
    pub webhook_url: &'a str,
}

impl<'a> EventView<'a> {
    /// `event` as `webhook` gets it; its URL is the shown one, `webhook.url`.
    pub fn new(event: &'a RecordedEvent, webhook: &'a Webhook) -> Self {
        Self {
            id: event.id,
            event: &event.event,
            timestamp: event.timestamp,
            data: &event.data,
            webhook_id: webhook.id,
            webhook_url: &webhook.url,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Root {
    Id,
    Event,
    Timestamp,
    Data,
    WebhookId,
    WebhookUrl,
}

/// A dotted path to a value of an event: a root and, under `data`, the names
/// (or array indexes) to follow. Displays as written, in canonical form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Path {
    root: Root,
    fields: Vec<String>,
}

fn is_name_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

impl Path {
    /// `text` as a path; `webhook.id` and `webhook.url` only when
    /// `templates` (filters read the event alone).
    fn parse(text: &str, templates: bool) -> Result<Self, String> {
        let roots = if templates {
            "id, event, timestamp, data or webhook"
        } else {
            "id, event, timestamp or data"
        };
        for name in text.split('.') {
            if name.is_empty() {
                return Err(format!(
                    "`{text}` is not a path: a name is empty (write `data.title`, not `data..title`)"
                ));
            }
            if !name.chars().all(is_name_char) {
                return Err(format!(
                    "`{text}` is not a path: names are ASCII letters, digits, `_` and `-`, joined by `.`"
                ));
            }
        }
        let mut names = text.split('.');
        let root = names.next().unwrap_or_default();
        let fields: Vec<String> = names.map(str::to_owned).collect();
        let scalar = |root: Root, name: &str| {
            if fields.is_empty() {
                Ok(root)
            } else {
                Err(format!(
                    "`{name}` is a single value without fields: write `{name}`, not `{text}`"
                ))
            }
        };
        let root = match root {
            "id" => scalar(Root::Id, "id")?,
            "event" => scalar(Root::Event, "event")?,
            "timestamp" => scalar(Root::Timestamp, "timestamp")?,
            "data" => {
                return Ok(Self {
                    root: Root::Data,
                    fields,
                })
            }
            "webhook" if templates => match fields.as_slice() {
                [field] if field == "id" => Root::WebhookId,
                [field] if field == "url" => Root::WebhookUrl,
                [] => return Err("`webhook` needs a field: `webhook.id` or `webhook.url`".into()),
                _ => {
                    return Err(format!(
                        "unknown field `{text}`: only `webhook.id` and `webhook.url` may be used"
                    ))
                }
            },
            other => return Err(format!("unknown root `{other}`: paths start with {roots}")),
        };
        Ok(Self {
            root,
            fields: Vec::new(),
        })
    }

    /// The value at this path, `None` where the event has none.
    fn resolve<'a>(&self, view: &EventView<'a>) -> Option<Cow<'a, Value>> {
        let owned = |v: Value| Some(Cow::Owned(v));
        match self.root {
            Root::Id => owned(Value::String(view.id.to_string())),
            Root::Event => owned(Value::String(view.event.to_owned())),
            Root::Timestamp => serde_json::to_value(view.timestamp).ok().map(Cow::Owned),
            Root::WebhookId => owned(Value::String(view.webhook_id.to_string())),
            Root::WebhookUrl => owned(Value::String(view.webhook_url.to_owned())),
            Root::Data => {
                let mut value = view.data;
                for field in &self.fields {
                    value = match value {
                        Value::Object(map) => map.get(field)?,
                        Value::Array(items) => items.get(array_index(field)?)?,
                        _ => return None,
                    };
                }
                Some(Cow::Borrowed(value))
            }
        }
    }
}

/// A name as an array index: decimal digits without leading zeros.
fn array_index(name: &str) -> Option<usize> {
    name.parse::<usize>()
        .ok()
        .filter(|index| index.to_string() == name)
}

impl fmt::Display for Path {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self.root {
            Root::Id => "id",
            Root::Event => "event",
            Root::Timestamp => "timestamp",
            Root::Data => "data",
            Root::WebhookId => "webhook.id",
            Root::WebhookUrl => "webhook.url",
        })?;
        self.fields.iter().try_for_each(|name| write!(f, ".{name}"))
    }
}

/// Why a body could not be made; the delivery fails.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The template rendered to more than `limit` bytes.
    #[error("the rendered body exceeds {limit} bytes")]
    TooLarge { limit: usize },
    /// The format is `template` but no template was given.
    #[error("the payload format is `template` but the webhook has no template")]
    MissingTemplate,
    /// serde_json refused a value (not expected for event data).
    #[error("the body could not be serialized: {0}")]
    Serialize(String),
}

fn serialize_error(error: serde_json::Error) -> RenderError {
    RenderError::Serialize(error.to_string())
}

/// Where a placeholder stands, decided once when the template is parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Slot {
    /// Not JSON: strings raw, other values as their JSON text.
    Text,
    /// Where a JSON value goes: the value as JSON, `null` when absent.
    JsonValue,
    /// Inside a JSON string literal: the text JSON-escaped, without quotes.
    JsonString,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    Placeholder(Path, Slot),
}

/// Where a JSON text is, read a character at a time: inside a string
/// literal or not, and right after a backslash there.
#[derive(Debug, Default)]
struct JsonLexer {
    in_string: bool,
    escaped: bool,
}

impl JsonLexer {
    fn feed(&mut self, text: &str) {
        for c in text.chars() {
            if !self.in_string {
                self.in_string = c == '"';
            } else if self.escaped {
                self.escaped = false;
            } else if c == '\\' {
                self.escaped = true;
            } else if c == '"' {
                self.in_string = false;
            }
        }
    }
}

/// A parsed payload template: literal text and `{{path}}` placeholders
/// (whitespace inside the braces allowed; `{{` always opens one).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    source: String,
    json: bool,
    segments: Vec<Segment>,
}

impl Template {
    /// Parses and checks `text` for a body sent as `content_type`. Refused,
    /// for [`TEMPLATE_FIELD`]: over [`MAX_TEMPLATE_BYTES`], a `{{` never
    /// closed, an empty placeholder, a malformed path, an unknown root or
    /// webhook field, a placeholder right after a backslash in a JSON
    /// string, and under a JSON content type a template that is not valid
    /// JSON once each placeholder is replaced by a sample (`null` where a
    /// value goes, `x` inside a string).
    pub fn parse(text: &str, content_type: &ContentType) -> Result<Self, FieldError> {
        let error = |message: String| FieldError::new(TEMPLATE_FIELD, message);
        if text.len() > MAX_TEMPLATE_BYTES {
            return Err(error(format!(
                "is {} bytes long; the limit is {MAX_TEMPLATE_BYTES} bytes (64 KiB)",
                text.len()
            )));
        }
        let json = content_type.is_json();
        let mut lexer = JsonLexer::default();
        let mut segments = Vec::new();
        let mut rest = text;
        // Characters of `text` before `rest`, for positions in messages.
        let mut consumed = 0;
        while let Some((literal, after)) = rest.split_once(OPEN) {
            let before = consumed + literal.chars().count();
            let at = before + 1;
            let Some((inner, tail)) = after.split_once(CLOSE) else {
                return Err(error(format!(
                    "the `{OPEN}` at character {at} is never closed by `{CLOSE}`"
                )));
            };
            lexer.feed(literal);
            let expression = inner.trim();
            if expression.is_empty() {
                return Err(error(format!(
                    "the placeholder at character {at} is empty: name a value, as in `{OPEN}data.title{CLOSE}`"
                )));
            }
            let path = Path::parse(expression, true)
                .map_err(|m| error(format!("placeholder at character {at}: {m}")))?;
            let slot = match (json, lexer.in_string, lexer.escaped) {
                (false, _, _) => Slot::Text,
                (true, false, _) => Slot::JsonValue,
                (true, true, false) => Slot::JsonString,
                (true, true, true) => {
                    return Err(error(format!(
                        "placeholder at character {at} follows a `\\` inside a JSON string"
                    )))
                }
            };
            if !literal.is_empty() {
                segments.push(Segment::Literal(literal.to_owned()));
            }
            segments.push(Segment::Placeholder(path, slot));
            consumed = before + OPEN.len() + inner.chars().count() + CLOSE.len();
            rest = tail;
        }
        if !rest.is_empty() {
            segments.push(Segment::Literal(rest.to_owned()));
        }
        let template = Self {
            source: text.to_owned(),
            json,
            segments,
        };
        if json {
            serde_json::from_str::<Value>(&template.sample()).map_err(|e| {
                error(format!(
                    "does not render to valid JSON under `{content_type}`: {e} \
                     (checked with each placeholder replaced by a sample value)"
                ))
            })?;
        }
        Ok(template)
    }

    /// The text as given.
    pub fn as_str(&self) -> &str {
        &self.source
    }

    /// The template with `null` for each value placeholder and `x` for each
    /// one inside a string: valid JSON exactly when every rendering is.
    fn sample(&self) -> String {
        let mut sample = String::with_capacity(self.source.len());
        for segment in &self.segments {
            sample.push_str(match segment {
                Segment::Literal(text) => text,
                Segment::Placeholder(_, Slot::JsonString) => "x",
                Segment::Placeholder(..) => "null",
            });
        }
        sample
    }

    /// The body for `view`: the same bytes for the same event and webhook.
    /// An absent path renders as `null` where a JSON value goes and as
    /// nothing elsewhere; a present `null` inside a string or as text is
    /// `null`. Over [`MAX_BODY_BYTES`] is [`RenderError::TooLarge`].
    pub fn render(&self, view: &EventView<'_>) -> Result<Vec<u8>, RenderError> {
        let mut out = Vec::with_capacity(self.source.len());
        for segment in &self.segments {
            match segment {
                Segment::Literal(text) => out.extend_from_slice(text.as_bytes()),
                Segment::Placeholder(path, slot) => {
                    write_value(&mut out, path.resolve(view).as_deref(), *slot)?;
                }
            }
            if out.len() > MAX_BODY_BYTES {
                return Err(RenderError::TooLarge {
                    limit: MAX_BODY_BYTES,
                });
            }
        }
        Ok(out)
    }
}

fn write_value(out: &mut Vec<u8>, value: Option<&Value>, slot: Slot) -> Result<(), RenderError> {
    match (slot, value) {
        (Slot::JsonValue, None) => out.extend_from_slice(b"null"),
        (Slot::JsonValue, Some(value)) => {
            serde_json::to_writer(&mut *out, value).map_err(serialize_error)?;
        }
        (_, None) => {}
        (Slot::Text, Some(Value::String(text))) => out.extend_from_slice(text.as_bytes()),
        (Slot::Text, Some(value)) => out.extend_from_slice(value.to_string().as_bytes()),
        (Slot::JsonString, Some(Value::String(text))) => write_escaped(out, text)?,
        (Slot::JsonString, Some(value)) => write_escaped(out, &value.to_string())?,
    }
    Ok(())
}

/// `text` as serde_json escapes it in a string, without the quotes.
fn write_escaped(out: &mut Vec<u8>, text: &str) -> Result<(), RenderError> {
    let quoted = serde_json::to_string(text).map_err(serialize_error)?;
    let mut inner = quoted.chars();
    inner.next();
    inner.next_back();
    out.extend_from_slice(inner.as_str().as_bytes());
    Ok(())
}

/// Libris's own body, in this field order (as the webhook queue's `Body`).
#[derive(Serialize)]
struct LibrisBody<'a> {
    id: Uuid,
    event: &'a str,
    timestamp: DateTime<Utc>,
    data: &'a Value,
}

#[derive(Serialize)]
struct RestHooksBody<'a> {
    hook: RestHook<'a>,
    data: &'a Value,
}

#[derive(Serialize)]
struct RestHook<'a> {
    id: Uuid,
    event: &'a str,
    target: &'a str,
}

/// The body `view` is sent with in `format`: for `libris` byte for byte what
/// Libris has always sent, for `rest_hooks` `{"hook": {"id", "event",
/// "target"}, "data"}` (`id` the webhook's, `target` its shown URL), for
/// `template` the rendered `template` ([`RenderError::MissingTemplate`]
/// without one). Only a template's rendering is held to [`MAX_BODY_BYTES`]:
/// the fixed formats grow with the event alone and are sent as before.
pub fn render_body(
    format: PayloadFormat,
    template: Option<&Template>,
    view: &EventView<'_>,
) -> Result<Vec<u8>, RenderError> {
    match format {
        PayloadFormat::Libris => serde_json::to_vec(&LibrisBody {
            id: view.id,
            event: view.event,
            timestamp: view.timestamp,
            data: view.data,
        })
        .map_err(serialize_error),
        PayloadFormat::RestHooks => serde_json::to_vec(&RestHooksBody {
            hook: RestHook {
                id: view.webhook_id,
                event: view.event,
                target: view.webhook_url,
            },
            data: view.data,
        })
        .map_err(serialize_error),
        PayloadFormat::Template => template.ok_or(RenderError::MissingTemplate)?.render(view),
    }
}

/// Equality conditions on an event, all of which must hold:
/// `{"data.author_id": 3, "data.available": true}`. Paths are over `id`,
/// `event`, `timestamp` and `data` (not `webhook`). Values compare as
/// serde_json's `Value` does: types must agree (`3` is not `"3"`) and so
/// must the number's kind, so `3` does not equal `3.0`. A path the event
/// lacks never matches, whatever the value (`null` included). The empty
/// filter matches everything.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    conditions: Vec<(Path, Value)>,
}

impl Filter {
    /// A JSON object of at most [`MAX_FILTER_CONDITIONS`] conditions keyed
    /// by valid paths; anything else is refused for [`FILTER_FIELD`].
    pub fn parse(raw: &Value) -> Result<Self, FieldError> {
        let error = |message: String| FieldError::new(FILTER_FIELD, message);
        let Value::Object(map) = raw else {
            return Err(error(
                "must be a JSON object of conditions, as in {\"data.author_id\": 3}".into(),
            ));
        };
        if map.len() > MAX_FILTER_CONDITIONS {
            return Err(error(format!(
                "has {} conditions; the limit is {MAX_FILTER_CONDITIONS}",
                map.len()
            )));
        }
        let conditions = map
            .iter()
            .map(|(key, value)| {
                Path::parse(key, false)
                    .map(|path| (path, value.clone()))
                    .map_err(|m| error(format!("condition `{key}`: {m}")))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self { conditions })
    }

    pub fn is_empty(&self) -> bool {
        self.conditions.is_empty()
    }

    /// Whether every condition holds for `view`.
    pub fn matches(&self, view: &EventView<'_>) -> bool {
        self.conditions.iter().all(|(path, expected)| {
            path.resolve(view)
                .is_some_and(|actual| *actual == *expected)
        })
    }

    /// The filter as stored and shown: the object it was parsed from.
    pub fn to_json(&self) -> Value {
        Value::Object(
            self.conditions
                .iter()
                .map(|(path, value)| (path.to_string(), value.clone()))
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use serde_json::json;

    use super::*;

    fn timestamp() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 3, 1, 12, 30, 5).unwrap() + chrono::Duration::microseconds(250)
    }

    fn sample_data() -> Value {
        json!({
            "title": "Dune",
            "author_id": 3,
            "available": true,
            "price": 9.5,
            "user": {"username": "ada", "id": 7},
            "tags": ["sf", "classic"],
            "nothing": null
        })
    }

    fn view(data: &Value) -> EventView<'_> {
        EventView {
            id: Uuid::from_u128(0x1234),
            event: "book.created",
            timestamp: timestamp(),
            data,
            webhook_id: Uuid::from_u128(0xabcd),
            webhook_url: "https://example.com/hook",
        }
    }

    fn ct(raw: &str) -> ContentType {
        parse_content_type(raw).unwrap()
    }

    fn render(template: &str, content_type: &str, data: &Value) -> String {
        let template = Template::parse(template, &ct(content_type)).unwrap();
        String::from_utf8(template.render(&view(data)).unwrap()).unwrap()
    }

    #[test]
    fn templates_are_validated_when_saved() {
        const JSON: &str = "application/json";
        const TEXT: &str = "text/plain";
        let cases: Vec<(String, &str, Option<&str>)> = vec![
            // Syntax.
            ("{{data.title".into(), TEXT, Some("never closed")),
            ("ok {{data.title}} then {{ id".into(), TEXT, Some("character 24 is never closed")),
            ("{{}}".into(), TEXT, Some("empty")),
            ("{{   }}".into(), TEXT, Some("empty")),
            ("{{data..x}}".into(), TEXT, Some("a name is empty")),
            ("{{.data}}".into(), TEXT, Some("a name is empty")),
            ("{{data.}}".into(), TEXT, Some("a name is empty")),
            ("{{data.ti tle}}".into(), TEXT, Some("not a path")),
            ("{{data.\"x\"}}".into(), TEXT, Some("not a path")),
            ("{{{data.x}}}".into(), TEXT, Some("not a path")),
            // Roots.
            ("{{foo}}".into(), TEXT, Some("unknown root `foo`")),
            ("{{ foo.bar }}".into(), TEXT, Some("unknown root `foo`")),
            ("{{webhook.secret}}".into(), TEXT, Some("unknown field `webhook.secret`")),
            ("{{webhook.id.x}}".into(), TEXT, Some("unknown field")),
            ("{{webhook}}".into(), TEXT, Some("`webhook.id` or `webhook.url`")),
            ("{{id.x}}".into(), TEXT, Some("without fields")),
            ("{{timestamp.year}}".into(), TEXT, Some("without fields")),
            // JSON structure.
            ("{\"a\": {{data.title}}".into(), JSON, Some("valid JSON")),
            ("{\"a\": {{data.title}}".into(), TEXT, None),
            ("not json {{data.title}}".into(), JSON, Some("valid JSON")),
            ("{ {{data.key}}: 1 }".into(), JSON, Some("valid JSON")),
            ("{\"a\": 1{{data.n}}}".into(), JSON, Some("valid JSON")),
            ("{\"a\": {{data.x}}{{data.y}}}".into(), JSON, Some("valid JSON")),
            ("{\"a\": \"\\{{data.x}}\"}".into(), JSON, Some("follows a `\\`")),
            ("{\"a\": \"{{data.x}}}".into(), JSON, Some("valid JSON")),
            ("{\"a\": \"\\\"{{data.x}}\\\"\"}".into(), JSON, None),
            ("{\"a\": {{data.title}}}".into(), JSON, None),
            ("{{data}}".into(), JSON, None),
            ("{{ data.tags }}".into(), "application/json; charset=utf-8", None),
            (
                "{\"t\": \"{{data.title}} by {{ data.user.username }}\", \"n\": {{data.author_id}}, \
                 \"all\": {{data}}, \"{{event}}\": [{{id}}, {{timestamp}}, {{webhook.id}}, {{webhook.url}}]}"
                    .into(),
                JSON,
                None,
            ),
            ("[{{data.tags}}, \"{{webhook.url}}\"]".into(), "application/vnd.x+json", None),
            ("Title: {{data.title}} {{data.missing.deep}}".into(), TEXT, None),
            ("<b>{{data.title}}</b>".into(), "text/html", None),
            (String::new(), TEXT, None),
            (String::new(), JSON, Some("valid JSON")),
            // Size.
            ("x".repeat(MAX_TEMPLATE_BYTES), TEXT, None),
            ("x".repeat(MAX_TEMPLATE_BYTES + 1), TEXT, Some("the limit is 65536 bytes")),
            (format!("\"{}\"", "x".repeat(MAX_TEMPLATE_BYTES)), JSON, Some("the limit")),
        ];
        for (template, content_type, expected) in &cases {
            let shown = template.chars().take(60).collect::<String>();
            let result = Template::parse(template, &ct(content_type));
            match (result, expected) {
                (Ok(_), None) => {}
                (Ok(_), Some(want)) => {
                    panic!("`{shown}` ({content_type}) accepted; wanted {want:?}")
                }
                (Err(e), None) => panic!("`{shown}` ({content_type}) refused: {}", e.message),
                (Err(e), Some(want)) => {
                    assert_eq!(e.field, TEMPLATE_FIELD, "`{shown}`");
                    assert!(
                        e.message.contains(want),
                        "`{shown}` ({content_type}): {:?} lacks {want:?}",
                        e.message
                    );
                }
            }
        }
    }

    #[test]
    fn a_placeholder_inside_a_json_string_is_escaped() {
        let title = "Dune \"II\"\nnew \\ path\t\u{1}é";
        let data = json!({ "title": title, "user": {"username": "a\"b"} });
        let body = render(
            "{\"t\": \"{{data.title}}\", \"u\": \"<{{data.user}}>{{data.missing}}\", \"k\": \"{{data.title}}\"}",
            "application/json",
            &data,
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(parsed["t"], title);
        assert_eq!(parsed["k"], title);
        assert_eq!(parsed["u"], "<{\"username\":\"a\\\"b\"}>");
        assert!(
            body.contains(r#"Dune \"II\"\nnew \\ path\t\u0001é"#),
            "{body}"
        );
    }

    #[test]
    fn a_placeholder_where_a_value_goes_renders_as_json() {
        let data = sample_data();
        let body = render(
            "{\"s\": {{data.title}}, \"o\": {{ data.user }}, \"m\": {{data.missing}}, \
             \"n\": {{data.author_id}}, \"f\": {{data.price}}, \"b\": {{data.available}}, \
             \"z\": {{data.nothing}}, \"a\": {{data.tags}}, \"i\": {{data.tags.1}}, \
             \"x\": {{data.tags.01}}, \"ts\": {{timestamp}}, \"id\": {{id}}, \"e\": {{event}}, \
             \"w\": [{{webhook.id}}, {{webhook.url}}]}",
            "application/json",
            &data,
        );
        let parsed: Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            parsed,
            json!({
                "s": "Dune", "o": {"username": "ada", "id": 7}, "m": null,
                "n": 3, "f": 9.5, "b": true, "z": null, "a": ["sf", "classic"],
                "i": "classic", "x": null,
                "ts": serde_json::to_value(timestamp()).unwrap(),
                "id": Uuid::from_u128(0x1234).to_string(), "e": "book.created",
                "w": [Uuid::from_u128(0xabcd).to_string(), "https://example.com/hook"]
            })
        );
        assert!(body.starts_with("{\"s\": \"Dune\", \"o\": {"), "{body}");
        assert_eq!(
            render("{{data.missing}}", "application/json", &data),
            "null"
        );
    }

    #[test]
    fn other_content_types_insert_text_raw() {
        let data = sample_data();
        assert_eq!(
            render(
                "{{data.title}} by {{data.user.username}} ({{data.author_id}}) {{data.available}} \
                 [{{data.missing}}] {{data.nothing}} {{data.tags}} {{ data.user.id }} \"{{data.title}}\"",
                "text/plain; charset=utf-8",
                &data,
            ),
            "Dune by ada (3) true [] null [\"sf\",\"classic\"] 7 \"Dune\""
        );
        let quoted = json!({"title": "a \"b\"\nc"});
        assert_eq!(
            render("{{data.title}}", "text/plain", &quoted),
            "a \"b\"\nc"
        );
        assert_eq!(
            render(
                "{{id}}|{{event}}|{{webhook.id}}|{{webhook.url}}",
                "text/plain",
                &data
            ),
            format!(
                "{}|book.created|{}|https://example.com/hook",
                Uuid::from_u128(0x1234),
                Uuid::from_u128(0xabcd)
            )
        );
        let ts = render("{{timestamp}}", "text/plain", &data);
        assert_eq!(
            Value::String(ts),
            serde_json::to_value(timestamp()).unwrap()
        );
    }

    #[test]
    fn rendering_is_deterministic() {
        let data = sample_data();
        let template = Template::parse(
            "{\"d\": {{data}}, \"t\": \"{{data}}\"}",
            &ContentType::json(),
        )
        .unwrap();
        let first = template.render(&view(&data)).unwrap();
        assert_eq!(first, template.render(&view(&data)).unwrap());
        assert_eq!(
            render_body(PayloadFormat::Template, Some(&template), &view(&data)).unwrap(),
            first
        );
    }

    #[test]
    fn the_libris_format_is_byte_identical_to_the_queue_body() {
        /// As `Body` in the application's webhook queue.
        #[derive(Serialize)]
        struct Body<'a> {
            id: Uuid,
            event: &'a str,
            timestamp: DateTime<Utc>,
            data: &'a serde_json::Value,
        }
        let data = sample_data();
        let v = view(&data);
        let expected = serde_json::to_vec(&Body {
            id: v.id,
            event: v.event,
            timestamp: v.timestamp,
            data: v.data,
        })
        .unwrap();
        let body = render_body(PayloadFormat::Libris, None, &v).unwrap();
        assert_eq!(body, expected);
        assert!(String::from_utf8(body)
            .unwrap()
            .starts_with("{\"id\":\"00000000-0000-0000-0000-000000001234\",\"event\":\"book.created\",\"timestamp\":\"2026-03-01T12:30:05.000250Z\",\"data\":{"));
    }

    #[test]
    fn the_rest_hooks_format_names_the_hook_and_carries_the_data() {
        let data = sample_data();
        let body = render_body(PayloadFormat::RestHooks, None, &view(&data)).unwrap();
        let text = String::from_utf8(body).unwrap();
        assert!(
            text.starts_with("{\"hook\":{\"id\":\"00000000-0000-0000-0000-00000000abcd\",\"event\":\"book.created\",\"target\":\"https://example.com/hook\"},\"data\":{"),
            "{text}"
        );
        let parsed: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            parsed,
            json!({
                "hook": {
                    "id": "00000000-0000-0000-0000-00000000abcd",
                    "event": "book.created",
                    "target": "https://example.com/hook"
                },
                "data": sample_data()
            })
        );
    }

    #[test]
    fn the_template_format_needs_a_template() {
        let data = sample_data();
        assert_eq!(
            render_body(PayloadFormat::Template, None, &view(&data)),
            Err(RenderError::MissingTemplate)
        );
    }

    #[test]
    fn a_body_over_one_mib_fails_to_render() {
        let half = json!({ "title": "x".repeat(MAX_BODY_BYTES / 2) });
        let template = Template::parse("{{data.title}}{{data.title}}", &ct("text/plain")).unwrap();
        assert_eq!(template.render(&view(&half)).unwrap().len(), MAX_BODY_BYTES);
        let over = Template::parse("{{data.title}}{{data.title}}!", &ct("text/plain")).unwrap();
        assert_eq!(
            over.render(&view(&half)),
            Err(RenderError::TooLarge {
                limit: MAX_BODY_BYTES
            })
        );
        let big = json!({ "title": "x".repeat(MAX_BODY_BYTES) });
        let json = Template::parse("{\"t\": \"{{data.title}}\"}", &ContentType::json()).unwrap();
        assert!(matches!(
            render_body(PayloadFormat::Template, Some(&json), &view(&big)),
            Err(RenderError::TooLarge { .. })
        ));
    }

    #[test]
    fn content_types_are_media_types() {
        let valid = [
            ("application/json", "application/json", true),
            ("application/json; charset=utf-8", "application/json", true),
            (
                "  Application/JSON;charset=UTF-8  ",
                "application/json",
                true,
            ),
            ("application/vnd.x+json", "application/vnd.x+json", true),
            (
                "application/problem+json ; q=\"a \\\"b\\\"\"",
                "application/problem+json",
                true,
            ),
            ("text/plain", "text/plain", false),
            ("text/json", "text/json", false),
            ("application/jsonx", "application/jsonx", false),
            (
                "application/x-www-form-urlencoded",
                "application/x-www-form-urlencoded",
                false,
            ),
            ("text/plain;;charset=utf-8;", "text/plain", false),
        ];
        for (raw, essence, json) in valid {
            let parsed = parse_content_type(raw).unwrap_or_else(|e| panic!("{raw}: {e}"));
            assert_eq!(parsed.essence(), essence, "{raw}");
            assert_eq!(parsed.is_json(), json, "{raw}");
            assert_eq!(parsed.as_str(), raw.trim(), "{raw}");
        }
        let charset = ct("application/json; Charset=utf-8");
        assert_eq!(charset.parameter("charset"), Some("utf-8"));
        assert_eq!(ct("a/b; q=\"a \\\"b\\\"\"").parameter("Q"), Some("a \"b\""));
        assert!(ContentType::json().is_json());
        let invalid = [
            "json",
            "a/b c",
            "",
            "   ",
            "a/",
            "/b",
            "a /b",
            "a/ b",
            "a/b/c",
            "a/b; c",
            "a/b; c=",
            "a/b; c = d",
            "a/b; c=\"d",
            "a/b\n",
            "é/b",
            "a(b)/c",
        ];
        for raw in invalid {
            assert!(parse_content_type(raw).is_err(), "{raw:?} accepted");
        }
    }

    #[test]
    fn filters_are_validated_when_saved() {
        let too_many = Value::Object(
            (0..=MAX_FILTER_CONDITIONS)
                .map(|i| (format!("data.f{i}"), json!(i)))
                .collect(),
        );
        let cases = [
            (json!([]), "JSON object"),
            (json!("data.x"), "JSON object"),
            (json!(null), "JSON object"),
            (too_many, "the limit is 20"),
            (json!({"data..x": 1}), "a name is empty"),
            (json!({"": 1}), "a name is empty"),
            (json!({"data.a b": 1}), "not a path"),
            (json!({"foo.bar": 1}), "unknown root `foo`"),
            (json!({"webhook.id": "x"}), "unknown root `webhook`"),
            (json!({"webhook.url": "x"}), "unknown root `webhook`"),
            (json!({"id.x": 1}), "without fields"),
        ];
        for (raw, want) in cases {
            let error = Filter::parse(&raw).expect_err(&raw.to_string());
            assert_eq!(error.field, FILTER_FIELD);
            assert!(error.message.contains(want), "{raw}: {:?}", error.message);
        }
        let twenty = Value::Object(
            (0..MAX_FILTER_CONDITIONS)
                .map(|i| (format!("data.f{i}"), json!(i)))
                .collect(),
        );
        let filter = Filter::parse(&twenty).unwrap();
        assert_eq!(
            filter.to_json().as_object().map(|o| o.len()),
            Some(MAX_FILTER_CONDITIONS)
        );
        assert_eq!(filter.to_json(), twenty);
    }

    #[test]
    fn filters_match_on_exact_json_equality() {
        let data = sample_data();
        let v = view(&data);
        let matches = |raw: Value| Filter::parse(&raw).unwrap().matches(&v);
        assert!(matches(json!({})), "the empty filter");
        assert!(matches(
            json!({"data.author_id": 3, "data.available": true})
        ));
        assert!(matches(
            json!({"data.user.username": "ada", "event": "book.created"})
        ));
        assert!(matches(
            json!({"data.tags.0": "sf", "data.tags": ["sf", "classic"]})
        ));
        assert!(matches(json!({"data.nothing": null})), "a present null");
        assert!(matches(json!({"id": Uuid::from_u128(0x1234).to_string()})));
        assert!(matches(
            json!({"timestamp": serde_json::to_value(timestamp()).unwrap()})
        ));
        assert!(matches(json!({"data.price": 9.5})));
        assert!(!matches(json!({"data.author_id": "3"})), "3 is not \"3\"");
        assert!(!matches(json!({"data.author_id": 3.0})), "3 is not 3.0");
        assert!(!matches(json!({"data.available": false})));
        assert!(
            !matches(json!({"data.author_id": 3, "data.available": false})),
            "all must hold"
        );
        assert!(
            !matches(json!({"data.missing": null})),
            "an absent path never matches"
        );
        assert!(!matches(json!({"data.user.email": null})));
        assert!(!matches(json!({"data.title.x": "Dune"})), "below a scalar");
        assert!(!matches(json!({"data.user.username": "ADA"})));
        assert!(!matches(json!({"event": "book.updated"})));
    }

    #[test]
    fn a_filter_round_trips_through_storage() {
        let raw =
            json!({"data.author_id": 3, "event": "book.created", "data.user.username": "ada"});
        let filter = Filter::parse(&raw).unwrap();
        assert_eq!(filter.to_json(), raw);
        assert_eq!(Filter::parse(&filter.to_json()).unwrap(), filter);
        assert!(Filter::default().is_empty());
    }

    #[test]
    fn payload_formats_have_stable_names() {
        for format in PayloadFormat::ALL {
            assert_eq!(PayloadFormat::parse(format.as_str()), Some(format));
            assert_eq!(
                serde_json::to_value(format).unwrap(),
                Value::String(format.as_str().into())
            );
        }
        assert_eq!(
            PayloadFormat::parse("rest_hooks"),
            Some(PayloadFormat::RestHooks)
        );
        assert_eq!(PayloadFormat::parse("Libris"), None);
        assert_eq!(PayloadFormat::default(), PayloadFormat::Libris);
    }
}
