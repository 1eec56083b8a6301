//! `?limit=&offset=` paging shared by every list.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    pub limit: i64,
    pub offset: i64,
}

impl Page {
    pub const DEFAULT_LIMIT: i64 = 50;
    pub const MAX_LIMIT: i64 = 500;
    /// The most payload (event `data`) one page of events carries, in bytes
    /// of JSON text: a page stops early, after at least one item, rather
    /// than pass it. Custom events may hold up to 64 KiB each, so 500 of them
    /// would be 32 MiB of text, several times that once parsed, for each
    /// request reading them at once; 4 MiB keeps a page's memory small and
    /// never touches a page of ordinary events.
    pub const DATA_BUDGET: i64 = 4 * 1024 * 1024;

    /// Clamps what a client asked for into the allowed range.
    pub fn new(limit: Option<i64>, offset: Option<i64>) -> Self {
        Self {
            limit: limit
                .unwrap_or(Self::DEFAULT_LIMIT)
                .clamp(1, Self::MAX_LIMIT),
            offset: offset.unwrap_or(0).max(0),
        }
    }
}

impl Default for Page {
    fn default() -> Self {
        Self::new(None, None)
    }
}

/// One page of a list and the total number of matching rows.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Paged<T> {
    pub count: i64,
    pub results: Vec<T>,
}

impl<T> Paged<T> {
    pub fn map<U>(self, f: impl FnMut(T) -> U) -> Paged<U> {
        Paged {
            count: self.count,
            results: self.results.into_iter().map(f).collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_clamped_and_offsets_never_negative() {
        assert_eq!(
            Page::new(None, None),
            Page {
                limit: 50,
                offset: 0
            }
        );
        assert_eq!(
            Page::new(Some(10_000), Some(-5)),
            Page {
                limit: 500,
                offset: 0
            }
        );
        assert_eq!(
            Page::new(Some(0), Some(20)),
            Page {
                limit: 1,
                offset: 20
            }
        );
    }
}
