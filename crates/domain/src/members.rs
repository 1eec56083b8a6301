//! Members as the clients of SMS campaigns: a phone in the gateway's form,
//! the operator code derived from it, tags to select them by, and the time
//! zone their send window is read in. Each value parses once here; the
//! store and the HTTP layer never re-check it.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::FieldError;

/// A member's phone: empty (none), or the gateway's form `7XXXXXXXXXX`.
///
/// Input may carry spaces, hyphens, parentheses and one leading `+`, which
/// are dropped; what is left must be 11 digits starting with 7. A phone
/// stored before this rule (any other text) is read back as it was through
/// [`Phone::stored`], and has no operator code.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Phone(String);

impl Phone {
    /// Digits of a valid phone, the leading 7 included.
    pub const DIGITS: usize = 11;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let compact: String = raw
            .chars()
            .filter(|c| !matches!(c, ' ' | '-' | '(' | ')'))
            .collect();
        let digits = compact.strip_prefix('+').unwrap_or(&compact);
        if compact.is_empty() {
            return Ok(Self(compact));
        }
        if is_gateway_form(digits) {
            Ok(Self(digits.to_owned()))
        } else {
            Err(FieldError::new(
                "phone",
                "must be 11 digits starting with 7 (spaces, hyphens, parentheses and one leading + are ignored), or empty",
            ))
        }
    }

    /// A phone as the store holds it, valid or not (one stored before the
    /// current rule is kept as it was until it is changed).
    pub fn stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The three digits after the leading 7; `None` for no phone and for a
    /// phone stored before the current rule that does not fit it (such a
    /// member receives no SMS).
    pub fn operator_code(&self) -> Option<String> {
        operator_code(&self.0)
    }
}

impl fmt::Display for Phone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `7` then ten more ASCII digits.
fn is_gateway_form(digits: &str) -> bool {
    digits.len() == Phone::DIGITS
        && digits.starts_with('7')
        && digits.bytes().all(|b| b.is_ascii_digit())
}

/// The operator code of a stored phone: the three digits after the leading
/// 7 of a phone in the gateway's form, `None` for anything else.
pub fn operator_code(phone: &str) -> Option<String> {
    if !is_gateway_form(phone) {
        return None;
    }
    // ASCII digits only (checked above): every char is one byte.
    Some(phone.chars().skip(1).take(3).collect())
}

/// One label a member is selected by: `[a-z0-9_-]{1,32}` after lowering its
/// case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tag(String);

impl Tag {
    pub const MAX_CHARS: usize = 32;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let lowered = raw.to_lowercase();
        let valid = (1..=Self::MAX_CHARS).contains(&lowered.chars().count())
            && lowered
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
        if valid {
            Ok(Self(lowered))
        } else {
            Err(FieldError::new(
                "tags",
                format!(
                    "each tag must be 1 to {} of a-z, 0-9, _ and - (case is ignored)",
                    Self::MAX_CHARS
                ),
            ))
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

/// A member's tags: at most [`Tags::MAX`] distinct ones, in alphabetical
/// order (the order the store answers them in); duplicates, also those that
/// differ only in case, collapse into one.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tags(Vec<Tag>);

impl Tags {
    pub const MAX: usize = 20;

    /// Checks every tag; the error names the field `tags` (one entry for all
    /// the bad tags, so a list of 50 bad ones does not answer 50 entries).
    pub fn parse<S: AsRef<str>>(raw: &[S]) -> Result<Self, FieldError> {
        let mut tags = BTreeSet::new();
        for tag in raw {
            tags.insert(Tag::parse(tag.as_ref())?);
        }
        if tags.len() > Self::MAX {
            return Err(FieldError::new(
                "tags",
                format!("at most {} distinct tags", Self::MAX),
            ));
        }
        Ok(Self(tags.into_iter().collect()))
    }

    /// Tags as the store holds them, trusted as they are.
    pub fn stored(tags: impl IntoIterator<Item = String>) -> Self {
        let tags: BTreeSet<Tag> = tags.into_iter().map(Tag).collect();
        Self(tags.into_iter().collect())
    }

    pub fn iter(&self) -> impl Iterator<Item = &Tag> {
        self.0.iter()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The tags as plain strings, in order.
    pub fn to_strings(&self) -> Vec<String> {
        self.0.iter().map(|t| t.0.clone()).collect()
    }
}

/// An IANA time zone name (`Europe/Moscow`, `UTC`), as chrono-tz knows
/// them: case-sensitive, links (`Europe/Kiev`) included.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TimeZoneName(String);

impl TimeZoneName {
    pub const DEFAULT: &'static str = "UTC";

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        chrono_tz::Tz::from_str(raw)
            .map(|tz| Self(tz.name().to_owned()))
            .map_err(|_| {
                FieldError::new(
                    "timezone",
                    "must be an IANA time zone name such as Europe/Moscow or UTC",
                )
            })
    }

    /// A name as the store holds it (parsed when it was written).
    pub fn stored(raw: impl Into<String>) -> Self {
        Self(raw.into())
    }

    /// The zone, for local-time rules; `None` only for a stored name this
    /// build's zone table does not know.
    pub fn zone(&self) -> Option<chrono_tz::Tz> {
        chrono_tz::Tz::from_str(&self.0).ok()
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl Default for TimeZoneName {
    fn default() -> Self {
        Self(Self::DEFAULT.to_owned())
    }
}

impl fmt::Display for TimeZoneName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_drop_separators_and_one_leading_plus() {
        for (raw, stored) in [
            ("79161234567", "79161234567"),
            ("+7 (916) 123-45-67", "79161234567"),
            ("7 916 123 45 67", "79161234567"),
            ("(7)-916-1234567", "79161234567"),
            ("", ""),
            ("  ", ""),
        ] {
            assert_eq!(Phone::parse(raw).unwrap().as_str(), stored, "{raw:?}");
        }
    }

    #[test]
    fn phones_must_be_eleven_digits_starting_with_seven() {
        for bad in [
            "89161234567",
            "+1 555 010 9999",
            "7916123456",
            "791612345678",
            "++79161234567",
            "7916123456+7",
            "7916123456a",
            "7916.123.4567",
            "+",
            "+ ",
            "７9161234567",
            "7\t9161234567",
            "79161234567\u{0}",
        ] {
            let err = Phone::parse(bad).unwrap_err();
            assert_eq!(err.field, "phone", "{bad:?}");
        }
    }

    #[test]
    fn the_operator_code_is_the_three_digits_after_the_seven() {
        assert_eq!(
            Phone::parse("+7 916 123-45-67").unwrap().operator_code(),
            Some("916".to_owned())
        );
        assert_eq!(Phone::default().operator_code(), None);
        // Stored before the rule: kept, but no operator code.
        assert_eq!(Phone::stored("+15550109999").operator_code(), None);
        assert_eq!(Phone::stored("+79161234567").operator_code(), None);
        assert_eq!(operator_code("79031112233").as_deref(), Some("903"));
    }

    #[test]
    fn tags_are_lowered_checked_and_collapse() {
        let tags = Tags::parse(&["VIP", "vip", "night_owl", "a-1", "Vip"]).unwrap();
        assert_eq!(tags.to_strings(), ["a-1", "night_owl", "vip"]);
        assert!(Tags::parse::<&str>(&[]).unwrap().is_empty());
        for bad in ["", "with space", "ünïcode", "dot.ted", &"x".repeat(33)] {
            let err = Tags::parse(&[bad]).unwrap_err();
            assert_eq!(err.field, "tags", "{bad:?}");
        }
        assert!(Tags::parse(&["x".repeat(32)]).is_ok());
    }

    #[test]
    fn at_most_twenty_distinct_tags_duplicates_not_counted() {
        let twenty: Vec<String> = (0..20).map(|i| format!("t{i}")).collect();
        assert_eq!(Tags::parse(&twenty).unwrap().len(), 20);
        let mut with_duplicates = twenty.clone();
        with_duplicates.extend(twenty.iter().map(|t| t.to_uppercase()));
        assert_eq!(Tags::parse(&with_duplicates).unwrap().len(), 20);
        let mut twenty_one = twenty;
        twenty_one.push("t20".into());
        assert_eq!(Tags::parse(&twenty_one).unwrap_err().field, "tags");
    }

    #[test]
    fn time_zones_are_iana_names() {
        assert_eq!(
            TimeZoneName::parse("Europe/Moscow").unwrap().as_str(),
            "Europe/Moscow"
        );
        assert_eq!(TimeZoneName::parse("UTC").unwrap().as_str(), "UTC");
        assert_eq!(TimeZoneName::default().as_str(), "UTC");
        assert!(TimeZoneName::parse("America/Argentina/Buenos_Aires").is_ok());
        for bad in ["", "Mars/Olympus", "europe/moscow", "+03:00", "Moscow"] {
            let err = TimeZoneName::parse(bad).unwrap_err();
            assert_eq!(err.field, "timezone", "{bad:?}");
        }
        let zone = TimeZoneName::parse("Asia/Tokyo").unwrap().zone().unwrap();
        assert_eq!(zone, chrono_tz::Asia::Tokyo);
    }

    #[test]
    fn the_parsers_never_panic_on_mixed_width_text() {
        let pieces = ["", "7", "+", "(", " ", "é", "𝄞", "\u{0}", "9161234567", "-"];
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    let input = format!("{a}{b}{c}");
                    let _ = Phone::parse(&input);
                    let _ = operator_code(&input);
                    let _ = Tag::parse(&input);
                    let _ = TimeZoneName::parse(&input);
                }
            }
        }
    }
}
