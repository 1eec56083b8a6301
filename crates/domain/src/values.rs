//! Values parsed once at the edge. Each `parse` returns a [`FieldError`] naming
//! the field, and never panics.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::FieldError;

macro_rules! string_value {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }

            pub fn into_inner(self) -> String {
                self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

/// Refuses control characters (line breaks and tabs too, unless
/// `multiline`): they have no place in these fields, and PostgreSQL refuses
/// NUL in text outright.
pub fn check_printable(field: &str, raw: &str, multiline: bool) -> Result<(), FieldError> {
    let allowed = |c: char| multiline && matches!(c, '\n' | '\r' | '\t');
    if raw.chars().any(|c| c.is_control() && !allowed(c)) {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(())
}

/// Checks that a trimmed, non-empty, printable text has at most `max`
/// characters.
fn bounded_text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    check_printable(field, raw, false)?;
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(FieldError::new(field, "must not be empty"));
    }
    if trimmed.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    Ok(trimmed.to_owned())
}

string_value!(
    /// A book's title: non-empty after trimming, at most 255 characters.
    BookTitle
);

impl BookTitle {
    pub const MAX_CHARS: usize = 255;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        bounded_text("title", raw, Self::MAX_CHARS).map(Self)
    }
}

string_value!(
    /// An author's name: non-empty after trimming, at most 200 characters.
    AuthorName
);

impl AuthorName {
    pub const MAX_CHARS: usize = 200;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        bounded_text("name", raw, Self::MAX_CHARS).map(Self)
    }
}

string_value!(
    /// An ISBN in canonical form: hyphens and spaces removed, 10 characters
    /// (digits, a final `X` allowed) or 13 digits. Format only, no checksum.
    Isbn
);

impl Isbn {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let canonical: String = raw
            .chars()
            .filter(|c| *c != '-' && *c != ' ')
            .map(|c| c.to_ascii_uppercase())
            .collect();
        // Judged character by character: a byte index could fall inside a
        // multi-byte character ("12345678é" is ten bytes) and panic.
        let digits = canonical.chars().filter(char::is_ascii_digit).count();
        let characters = canonical.chars().count();
        let valid = match characters {
            10 => digits == 10 || (digits == 9 && canonical.ends_with('X')),
            13 => digits == 13,
            _ => false,
        };
        if valid {
            Ok(Self(canonical))
        } else {
            Err(FieldError::new(
                "isbn",
                "must be 10 characters (digits, a final X allowed) or 13 digits, ignoring hyphens and spaces",
            ))
        }
    }
}

string_value!(
    /// A login name: 3 to 150 characters of letters, digits and `@.+-_`.
    Username
);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let len = raw.chars().count();
        if !(3..=150).contains(&len) {
            return Err(FieldError::new(
                "username",
                "must be between 3 and 150 characters",
            ));
        }
        if !raw
            .chars()
            .all(|c| c.is_alphanumeric() || "@.+-_".contains(c))
        {
            return Err(FieldError::new(
                "username",
                "may contain only letters, digits and @ . + - _",
            ));
        }
        Ok(Self(raw.to_owned()))
    }
}

string_value!(
    /// An e-mail address, checked for shape only (one `@`, a dotted domain).
    Email
);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let raw = raw.trim();
        let invalid = || FieldError::new("email", "must be a valid e-mail address");
        if raw.len() > 254 || raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(invalid());
        }
        let (local, domain) = raw.split_once('@').ok_or_else(invalid)?;
        let domain_ok = !domain.contains('@')
            && domain.contains('.')
            && domain.split('.').all(|label| !label.is_empty());
        if local.is_empty() || !domain_ok {
            return Err(invalid());
        }
        Ok(Self(raw.to_owned()))
    }
}

// A member's phone is `crate::members::Phone`: the SMS gateway's form.

/// A free text (a biography) of at most `MAX_CHARS`; may be empty.
pub fn parse_bio(raw: &str) -> Result<String, FieldError> {
    const MAX_CHARS: usize = 2000;
    check_printable("bio", raw, true)?;
    if raw.chars().count() > MAX_CHARS {
        return Err(FieldError::new(
            "bio",
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    Ok(raw.trim().to_owned())
}

/// A password as typed, checked for length only; it is never stored or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    pub const MIN_CHARS: usize = 8;
    pub const MAX_CHARS: usize = 256;

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let len = raw.chars().count();
        if len < Self::MIN_CHARS {
            return Err(FieldError::new(
                "password",
                format!("must be at least {} characters", Self::MIN_CHARS),
            ));
        }
        if len > Self::MAX_CHARS {
            return Err(FieldError::new(
                "password",
                format!("must be at most {} characters", Self::MAX_CHARS),
            ));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(***)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn isbn_accepts_the_seeds_ten_digits_and_canonicalises() {
        assert_eq!(Isbn::parse("1234567890").unwrap().as_str(), "1234567890");
        assert_eq!(
            Isbn::parse("978-0-306-40615-7").unwrap().as_str(),
            "9780306406157"
        );
        assert_eq!(Isbn::parse("0 8044 2957 x").unwrap().as_str(), "080442957X");
    }

    #[test]
    fn isbn_refuses_wrong_lengths_and_letters() {
        for bad in [
            "",
            "123",
            "12345678901",
            "X234567890",
            "12345678901X3",
            "abcdefghij",
        ] {
            let err = Isbn::parse(bad).unwrap_err();
            assert_eq!(err.field, "isbn", "{bad}");
        }
    }

    #[test]
    fn isbn_refuses_multi_byte_characters_without_panicking() {
        // Ten or thirteen bytes, fewer characters: once a byte-index panic.
        for bad in [
            "12345678é",
            "123456789é",
            "٠١٢٣٤٥٦٧٨٩",
            "12345678901é",
            "1234567890１",
        ] {
            assert_eq!(Isbn::parse(bad).unwrap_err().field, "isbn", "{bad}");
        }
    }

    #[test]
    fn every_value_parser_is_total_over_mixed_width_text() {
        // Every string of up to four pieces drawn from characters of one to
        // four bytes, separators and boundary lengths: no parser may panic.
        let pieces = [
            "",
            "1",
            "X",
            "x",
            "-",
            " ",
            "é",
            "€",
            "𝄞",
            "\u{0}",
            "@",
            ".",
            "123456789",
            "123456789012",
            "a-b",
            "\n",
        ];
        let mut inputs = Vec::new();
        for a in pieces {
            for b in pieces {
                for c in pieces {
                    for d in ["", "é", "0", "X"] {
                        inputs.push(format!("{a}{b}{c}{d}"));
                    }
                }
            }
        }
        for input in &inputs {
            let _ = Isbn::parse(input);
            let _ = Username::parse(input);
            let _ = Email::parse(input);
            let _ = BookTitle::parse(input);
            let _ = AuthorName::parse(input);
            let _ = crate::members::Phone::parse(input);
            let _ = Password::parse(input);
            let _ = parse_bio(input);
        }
        assert!(inputs.len() > 10_000);
    }

    #[test]
    fn control_characters_are_refused_but_bios_keep_their_lines() {
        assert_eq!(BookTitle::parse("a\u{0}b").unwrap_err().field, "title");
        assert!(AuthorName::parse("two\nlines").is_err());
        assert!(Email::parse("a\u{0}@example.com").is_err());
        assert_eq!(
            parse_bio("first line\nsecond\tline").unwrap(),
            "first line\nsecond\tline"
        );
        assert!(parse_bio("nul \u{0} byte").is_err());
    }

    #[test]
    fn titles_are_trimmed_and_bounded() {
        assert_eq!(BookTitle::parse("  Dune ").unwrap().as_str(), "Dune");
        assert_eq!(BookTitle::parse("   ").unwrap_err().field, "title");
        assert!(BookTitle::parse(&"a".repeat(255)).is_ok());
        assert!(BookTitle::parse(&"a".repeat(256)).is_err());
    }

    #[test]
    fn usernames_emails_and_passwords_are_checked() {
        assert!(Username::parse("alice_01").is_ok());
        assert!(Username::parse("al").is_err());
        assert!(Username::parse("bad name").is_err());
        assert!(Email::parse("a@example.com").is_ok());
        for bad in ["a", "a@b", "@b.c", "a@b..c", "a b@c.d", "a@b@c.d"] {
            assert!(Email::parse(bad).is_err(), "{bad}");
        }
        assert!(Password::parse("short").is_err());
        assert!(Password::parse("long enough").is_ok());
        assert!(parse_bio(&"x".repeat(2001)).is_err());
        assert_eq!(
            format!("{:?}", Password::parse("secret-pass").unwrap()),
            "Password(***)"
        );
    }
}
