//! The words of full-text book search: one normalizer for the index and for
//! the queries, so a book is found by exactly the words it was indexed with.
//!
//! A text becomes words in three steps:
//!
//! 1. **Fold**: lowercase, compatibility decomposition (NFKD: `é` → `e` +
//!    accent, `ﬁ` → `fi`, full-width `Ａ` → `A`), combining marks dropped, and
//!    the few Latin letters that do not decompose spelled out (`ß` → `ss`,
//!    `æ` → `ae`, `ø` → `o`, …). "Émile Zola" and "emile zola" are the same
//!    words.
//! 2. **Split** on every character that is neither a letter nor a digit.
//!    Punctuation, `%`, `_`, `*`, quotes never become part of a word, so no
//!    character of a query can act as an operator or a wildcard.
//! 3. **Join**: parts linked by a hyphen, an apostrophe or a dot
//!    (`978-0-553-29335-7`, `O'Brien`, `J.R.R.`) are also one joined word.
//!    The index keeps the parts and the joined word; a query keeps only the
//!    joined word. So an ISBN is found with or without its hyphens, and
//!    "jean-paul" finds "Jean-Paul Sartre" while "paul" finds him too.
//!
//! A query matches a book when every query word is the start of one of the
//! book's words ([`query_words`]). Words are cut at [`MAX_WORD_CHARS`]
//! characters, in the index and in queries alike.

use unicode_normalization::char::{decompose_compatible, is_combining_mark};

/// Longest word kept, in characters: longer words are cut, on both sides, so
/// a pathological title or query cannot make index entries of any size.
pub const MAX_WORD_CHARS: usize = 64;

/// The words a book is found by: those of its title, and the others (the
/// author's name and the ISBN). Search ranks a book whose title holds every
/// query word above one that needs its author or ISBN.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BookWords {
    pub title: Vec<String>,
    pub other: Vec<String>,
}

impl BookWords {
    pub fn of(title: &str, author_name: &str, isbn: Option<&str>) -> Self {
        let mut other = index_words(author_name);
        if let Some(isbn) = isbn {
            for word in isbn_words(isbn) {
                push_new(&mut other, word);
            }
        }
        Self {
            title: index_words(title),
            other,
        }
    }
}

/// Lowercase, accent-free text: the first step of both indexing and queries.
pub fn fold(text: &str) -> String {
    let mut folded = String::with_capacity(text.len());
    for lower in text.chars().flat_map(char::to_lowercase) {
        decompose_compatible(lower, |c| {
            if is_combining_mark(c) {
                return;
            }
            match c {
                'ß' => folded.push_str("ss"),
                'æ' => folded.push_str("ae"),
                'œ' => folded.push_str("oe"),
                'þ' => folded.push_str("th"),
                'ø' => folded.push('o'),
                'đ' | 'ð' => folded.push('d'),
                'ł' => folded.push('l'),
                'ı' => folded.push('i'),
                // NFKD leaves some upper-case forms (ligatures, letterlike
                // symbols) that lowercase only once decomposed.
                c => folded.extend(c.to_lowercase()),
            }
        });
    }
    folded
}

/// The words a text is indexed under: every part, plus each joined word
/// (see the module doc), in order of appearance, without repeats.
pub fn index_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    for parts in segments(&fold(text)) {
        if parts.len() > 1 {
            let joined = cut(&parts.concat());
            for part in parts {
                push_new(&mut words, part);
            }
            push_new(&mut words, joined);
        } else {
            for part in parts {
                push_new(&mut words, part);
            }
        }
    }
    words
}

/// An ISBN's words: those of [`index_words`], plus the ISBN without hyphens
/// and spaces, so `9780553293357` finds `978 0 553 29335 7` as well.
pub fn isbn_words(isbn: &str) -> Vec<String> {
    let mut words = index_words(isbn);
    let compact: String = fold(isbn).chars().filter(|c| c.is_alphanumeric()).collect();
    if !compact.is_empty() {
        push_new(&mut words, cut(&compact));
    }
    words
}

/// The words of a query, each of which must start a word of the book.
///
/// Repeats are dropped, and so is a word that starts another query word
/// (`dun dune` asks no more than `dune`): fewer words make the same matches
/// cheaper to find. Empty when the query holds no letter or digit at all.
pub fn query_words(q: &str) -> Vec<String> {
    let mut words: Vec<String> = Vec::new();
    for parts in segments(&fold(q)) {
        push_new(&mut words, cut(&parts.concat()));
    }
    let implied = |word: &String| {
        words
            .iter()
            .any(|other| other != word && other.starts_with(word.as_str()))
    };
    let kept: Vec<String> = words.iter().filter(|w| !implied(w)).cloned().collect();
    kept
}

/// The prefixes of `word` up to `max_chars` characters, shortest first, then
/// the whole word when it is longer: the terms an index that matches
/// prefixes by exact lookup stores for it.
pub fn prefixes(word: &str, max_chars: usize) -> impl Iterator<Item = &str> {
    let ends = word
        .char_indices()
        .map(|(i, c)| i + c.len_utf8())
        .take(max_chars);
    let longer = word.chars().count() > max_chars;
    // Every end is a character boundary: `get` never misses.
    ends.filter_map(move |end| word.get(..end))
        .chain(longer.then_some(word))
}

/// Joining characters: between two letters or digits they link parts into
/// one word; anywhere else they separate like any punctuation.
fn is_joiner(c: char) -> bool {
    matches!(c, '-' | '\'' | '.' | '\u{2010}' | '\u{2011}' | '\u{2019}')
}

/// The folded text as runs of joined parts: `o'brien, j.r.r.` →
/// `[["o", "brien"], ["j", "r", "r"]]`.
fn segments(folded: &str) -> Vec<Vec<String>> {
    let chars: Vec<char> = folded.chars().collect();
    let mut segments = Vec::new();
    let mut parts: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        if c.is_alphanumeric() {
            current.push(c);
            continue;
        }
        let links = is_joiner(c)
            && !current.is_empty()
            && chars.get(i + 1).is_some_and(|next| next.is_alphanumeric());
        if !current.is_empty() {
            parts.push(cut(&std::mem::take(&mut current)));
        }
        if !links && !parts.is_empty() {
            segments.push(std::mem::take(&mut parts));
        }
    }
    if !current.is_empty() {
        parts.push(cut(&current));
    }
    if !parts.is_empty() {
        segments.push(parts);
    }
    segments
}

fn cut(word: &str) -> String {
    word.chars().take(MAX_WORD_CHARS).collect()
}

fn push_new(words: &mut Vec<String>, word: String) {
    if !word.is_empty() && !words.contains(&word) {
        words.push(word);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn folding_drops_case_and_accents() {
        assert_eq!(fold("Émile ZOLA"), "emile zola");
        assert_eq!(fold("Gödel, Escher, Bach"), "godel, escher, bach");
        assert_eq!(fold("Straße Ærø Łódź"), "strasse aero lodz");
        assert_eq!(fold("ﬁnal Ｄｕｎｅ"), "final dune");
        assert_eq!(fold("İstanbul"), "istanbul");
        assert_eq!(fold("Ελληνικά"), "ελληνικα");
    }

    #[test]
    fn words_split_on_punctuation_and_keep_joined_forms() {
        assert_eq!(index_words("Dune Messiah"), ["dune", "messiah"]);
        assert_eq!(index_words("100% Cotton"), ["100", "cotton"]);
        assert_eq!(index_words("a_b"), ["a", "b"]);
        assert_eq!(index_words("back\\slash"), ["back", "slash"]);
        assert_eq!(
            index_words("Jean-Paul Sartre"),
            ["jean", "paul", "jeanpaul", "sartre"]
        );
        assert_eq!(index_words("O'Brien"), ["o", "brien", "obrien"]);
        assert_eq!(index_words("Dune. The end -"), ["dune", "the", "end"]);
        assert_eq!(index_words("the the The"), ["the"]);
        assert!(index_words("*** -- %").is_empty());
    }

    #[test]
    fn an_isbn_is_indexed_with_and_without_separators() {
        let words = isbn_words("978-0-553-29335-7");
        assert!(words.contains(&"9780553293357".to_owned()), "{words:?}");
        assert!(words.contains(&"553".to_owned()), "{words:?}");
        let spaced = isbn_words("978 0 553 29335 7");
        assert!(spaced.contains(&"9780553293357".to_owned()), "{spaced:?}");
        assert_eq!(isbn_words("080442957X"), ["080442957x"]);
    }

    #[test]
    fn a_hyphenated_query_is_one_word_that_the_index_holds() {
        assert_eq!(query_words("978-0-553-29335-7"), ["9780553293357"]);
        assert_eq!(query_words("978-0-553"), ["9780553"]);
        assert_eq!(query_words("jean-paul"), ["jeanpaul"]);
    }

    #[test]
    fn query_words_are_folded_deduplicated_and_implied_ones_dropped() {
        assert_eq!(query_words("  Dun   MESS "), ["dun", "mess"]);
        assert_eq!(query_words("dun dune"), ["dune"]);
        assert_eq!(query_words("dune dun dune"), ["dune"]);
        assert_eq!(query_words("Émile"), ["emile"]);
        assert_eq!(query_words("herbert dune"), ["herbert", "dune"]);
    }

    #[test]
    fn operators_and_wildcards_are_no_words() {
        for q in [
            "%", "_", "*", "\"", "(", "-", "'", "", "   ", "\\", "^", ":",
        ] {
            assert!(query_words(q).is_empty(), "{q:?}");
        }
        assert_eq!(
            query_words("\"dune\" AND (messiah*)"),
            ["dune", "and", "messiah"]
        );
        assert_eq!(query_words("NEAR(a b)"), ["near", "a", "b"]);
        assert_eq!(query_words("100%"), ["100"]);
    }

    #[test]
    fn words_are_cut_at_the_limit_on_both_sides() {
        let long = "x".repeat(500);
        assert_eq!(query_words(&long), ["x".repeat(MAX_WORD_CHARS)]);
        assert_eq!(index_words(&long), ["x".repeat(MAX_WORD_CHARS)]);
        let hyphens = vec!["ab"; 100].join("-");
        assert!(query_words(&hyphens)[0].chars().count() == MAX_WORD_CHARS);
    }

    #[test]
    fn prefixes_stop_at_the_limit_then_give_the_whole_word() {
        assert_eq!(
            prefixes("dune", 12).collect::<Vec<_>>(),
            ["d", "du", "dun", "dune"]
        );
        assert_eq!(prefixes("élan", 2).collect::<Vec<_>>(), ["é", "él", "élan"]);
        assert_eq!(prefixes("ab", 2).collect::<Vec<_>>(), ["a", "ab"]);
    }

    #[test]
    fn a_books_words_separate_the_title_from_the_rest() {
        let words = BookWords::of("Dune", "Frank Herbert", Some("978-0-441-17271-9"));
        assert_eq!(words.title, ["dune"]);
        assert!(words
            .other
            .starts_with(&["frank".to_owned(), "herbert".to_owned()]));
        assert!(words.other.contains(&"9780441172719".to_owned()));
        assert_eq!(
            BookWords::of("???", "Anon", None).title,
            Vec::<String>::new()
        );
    }
}
