//! Full-text book search: the index entries, written in the transaction that
//! changes a book or its author, and the ranked queries over them
//! (docs/search.md).
//!
//! Both backends index the words of `libris_domain::search`, so a query
//! finds the same books on either:
//!
//! - SQLite: the FTS5 table `book_search` (rowid = book id), whose terms are
//!   every word and each of its prefixes up to [`PREFIX_CHARS`] characters.
//!   A query word is then one exact term: no merge of all the terms under a
//!   prefix, whose cost grows with the catalog.
//! - PostgreSQL: `book_search(book_id, doc tsvector)` with a GIN index; the
//!   words are the lexemes (title words weighted A) and a query word is a
//!   `:*` prefix.
//!
//! Ranking: the books whose title holds every query word come first, then
//! the others (a word found only in the author's name or the ISBN); newest
//! first within each. Both tiers are index queries in book id order, so a
//! page costs the same whether 50 or 500,000 books match. The count is the
//! part that grows with the matches (see docs/search.md for its cost).

use diesel::pg::PgConnection;
use diesel::prelude::*;
use diesel::sql_types::{Array, BigInt, Bool, Nullable, Text};
use diesel::sqlite::SqliteConnection;
use libris_application::ports::BookFilter;
use libris_application::{Page, StoreError};
use libris_domain::catalog::{AuthorId, BookId};
use libris_domain::search::{prefixes, BookWords};

use crate::connection::AnyConnection;
use crate::error::IntoStore;
use crate::second_reader::{SecondConnection, SecondReader};

/// Prefix lengths the SQLite index stores for each word (and the whole word
/// when longer). A longer query word is a prefix query (`"…" *`), which only
/// has to merge the rare words that long.
pub(crate) const PREFIX_CHARS: usize = 12;

/// Rows per multi-row statement: three parameters a row, well under
/// SQLite's 32,766.
const ROWS_PER_STATEMENT: usize = 500;

/// Books indexed per transaction by the backfill and per statement by an
/// author rename.
const BATCH: i64 = 2000;

/// Up to this many matches, SQLite ranks every match in one pass
/// ([`Query::few`]) instead of counting them and paging each tier.
const FEW: i64 = 500;

/// Up to this many matches, PostgreSQL sorts the matches the GIN index
/// gives rather than walking the books newest first until the page is full.
const SPARSE: i64 = 20_000;

/// What a book is searched by.
pub(crate) struct Entry<'a> {
    pub id: BookId,
    pub title: &'a str,
    pub author_name: &'a str,
    pub isbn: Option<&'a str>,
}

impl Entry<'_> {
    fn words(&self) -> BookWords {
        BookWords::of(self.title, self.author_name, self.isbn)
    }
}

/// The FTS5 column text: each word and its prefixes, once.
fn sqlite_terms(words: &[String]) -> String {
    let mut seen = std::collections::HashSet::new();
    let mut text = String::new();
    for word in words {
        for term in prefixes(word, PREFIX_CHARS) {
            if seen.insert(term) {
                if !text.is_empty() {
                    text.push(' ');
                }
                text.push_str(term);
            }
        }
    }
    text
}

/// A tsvector literal: the lexemes as given (no parser, no stemming), title
/// words weighted A. Weights need a position; every lexeme gets 1.
fn pg_document(words: &BookWords) -> String {
    let mut doc = String::new();
    let mut push = |word: &str, weight: &str| {
        if !doc.is_empty() {
            doc.push(' ');
        }
        doc.push_str(&quote(word));
        doc.push_str(":1");
        doc.push_str(weight);
    };
    for word in &words.title {
        push(word, "A");
    }
    for word in words.other.iter().filter(|w| !words.title.contains(w)) {
        push(word, "");
    }
    doc
}

/// A lexeme quoted for tsvector / tsquery input. Search words are letters
/// and digits only; quoting anyway keeps a future normalizer safe.
fn quote(word: &str) -> String {
    format!("'{}'", word.replace('\\', "\\\\").replace('\'', "''"))
}

/// Writes the entries of books that have none yet (just inserted).
pub(crate) fn index_new(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    entries: &[Entry<'_>],
) -> Result<(), StoreError> {
    match conn {
        AnyConnection::Sqlite(_) => {
            held.insert(entries);
            Ok(())
        }
        AnyConnection::Postgresql(c) => pg_upsert(c, entries),
    }
}

/// Replaces the entries of books that changed (or writes them if missing).
pub(crate) fn reindex(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    entries: &[Entry<'_>],
) -> Result<(), StoreError> {
    match conn {
        AnyConnection::Sqlite(_) => {
            held.delete(entries.iter().map(|e| e.id));
            held.insert(entries);
            Ok(())
        }
        AnyConnection::Postgresql(c) => pg_upsert(c, entries),
    }
}

/// Removes a deleted book's entry. PostgreSQL's cascades from `books`.
pub(crate) fn unindex(conn: &AnyConnection, held: &mut HeldWrites, id: BookId) {
    if let AnyConnection::Sqlite(_) = conn {
        held.delete([id]);
    }
}

/// A transaction's writes to the SQLite index, held until just before it
/// commits. FTS5 writes the terms it has pending to the index whenever a
/// savepoint opens in a transaction that has written to it, as a new
/// segment, and every segment written costs merge work that grows with the
/// index. Group commit opens a savepoint for each writer after the first
/// (`group_commit`): written at once, the entries of a group of sixteen
/// creations would be sixteen segments; held, they are one, written with
/// the commit.
#[derive(Debug, Default)]
pub(crate) struct HeldWrites(Vec<Held>);

/// A run of writes of one kind, in the order they were held: each is
/// written as few statements.
#[derive(Debug)]
enum Held {
    Inserts(Vec<IndexedBook>),
    Deletes(Vec<BookId>),
}

impl HeldWrites {
    fn insert(&mut self, entries: &[Entry<'_>]) {
        let books = entries.iter().map(|e| IndexedBook {
            id: e.id,
            title: e.title.to_owned(),
            author_name: e.author_name.to_owned(),
            isbn: e.isbn.map(str::to_owned),
        });
        match self.0.last_mut() {
            Some(Held::Inserts(run)) => run.extend(books),
            _ => self.0.push(Held::Inserts(books.collect())),
        }
    }

    fn delete(&mut self, ids: impl IntoIterator<Item = BookId>) {
        match self.0.last_mut() {
            Some(Held::Deletes(run)) => run.extend(ids),
            _ => self.0.push(Held::Deletes(ids.into_iter().collect())),
        }
    }

    /// Appends a later writer's writes, which come after these.
    pub(crate) fn append(&mut self, later: HeldWrites) {
        self.0.extend(later.0);
    }

    /// Writes what is held, in the order it was held: an entry inserted and
    /// then replaced or deleted in one group ends as the last write left it.
    pub(crate) fn write(self, conn: &mut AnyConnection) -> Result<(), StoreError> {
        let AnyConnection::Sqlite(c) = conn else {
            // Nothing is held on PostgreSQL: its entries are written at once.
            return Ok(());
        };
        for run in self.0 {
            match run {
                Held::Inserts(books) => {
                    let entries: Vec<Entry<'_>> = books.iter().map(IndexedBook::entry).collect();
                    sqlite_insert(c, &entries)?;
                }
                Held::Deletes(ids) => sqlite_delete(c, &ids)?,
            }
        }
        Ok(())
    }
}

fn sqlite_delete(c: &mut SqliteConnection, ids: &[i64]) -> Result<(), StoreError> {
    for chunk in ids.chunks(ROWS_PER_STATEMENT) {
        let marks = vec!["?"; chunk.len()].join(",");
        let mut query =
            diesel::sql_query(format!("DELETE FROM book_search WHERE rowid IN ({marks})"))
                .into_boxed();
        for id in chunk {
            query = query.bind::<BigInt, _>(*id);
        }
        query.execute(c).store()?;
    }
    Ok(())
}

fn sqlite_insert(c: &mut SqliteConnection, entries: &[Entry<'_>]) -> Result<(), StoreError> {
    for chunk in entries.chunks(ROWS_PER_STATEMENT) {
        let rows = vec!["(?, ?, ?)"; chunk.len()].join(",");
        let mut query = diesel::sql_query(format!(
            "INSERT INTO book_search (rowid, title, other) VALUES {rows}"
        ))
        .into_boxed();
        for entry in chunk {
            let words = entry.words();
            query = query
                .bind::<BigInt, _>(entry.id)
                .bind::<Text, _>(sqlite_terms(&words.title))
                .bind::<Text, _>(sqlite_terms(&words.other));
        }
        query.execute(c).store()?;
    }
    Ok(())
}

fn pg_upsert(c: &mut PgConnection, entries: &[Entry<'_>]) -> Result<(), StoreError> {
    // One statement per thousands of rows: the arrays travel as two
    // parameters, whatever their length.
    for chunk in entries.chunks(BATCH as usize) {
        let ids: Vec<i64> = chunk.iter().map(|e| e.id).collect();
        let docs: Vec<String> = chunk.iter().map(|e| pg_document(&e.words())).collect();
        diesel::sql_query(
            "INSERT INTO book_search (book_id, doc) \
             SELECT u.id, u.doc::tsvector FROM unnest($1::bigint[], $2::text[]) AS u(id, doc) \
             ON CONFLICT (book_id) DO UPDATE SET doc = EXCLUDED.doc",
        )
        .bind::<Array<BigInt>, _>(ids)
        .bind::<Array<Text>, _>(docs)
        .execute(c)
        .store()?;
    }
    Ok(())
}

#[derive(Debug, QueryableByName)]
struct IndexedBook {
    #[diesel(sql_type = BigInt)]
    id: i64,
    #[diesel(sql_type = Text)]
    title: String,
    #[diesel(sql_type = Nullable<Text>)]
    isbn: Option<String>,
    #[diesel(sql_type = Text)]
    author_name: String,
}

impl IndexedBook {
    fn entry(&self) -> Entry<'_> {
        Entry {
            id: self.id,
            title: &self.title,
            author_name: &self.author_name,
            isbn: self.isbn.as_deref(),
        }
    }
}

/// Rewrites the entries of every book by `author_id` after a rename: the
/// author's words are part of each. This one operation costs what the author
/// has (about 10 µs a book on SQLite, whose entries are held in memory until
/// the commit: [`HeldWrites`], about 100 bytes a book). On PostgreSQL the books are locked
/// first, so a concurrent change of one of them (which locks it too) is
/// either indexed before or seen here, never overwritten with a stale title.
pub(crate) fn reindex_author(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    author_id: AuthorId,
) -> Result<(), StoreError> {
    let mut after = 0_i64;
    loop {
        let books: Vec<IndexedBook> = match conn {
            AnyConnection::Sqlite(c) => diesel::sql_query(
                "SELECT b.id, b.title, b.isbn, a.name AS author_name FROM books b \
                 JOIN authors a ON a.id = b.author_id \
                 WHERE b.author_id = ? AND b.id > ? ORDER BY b.id LIMIT ?",
            )
            .bind::<BigInt, _>(author_id)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(BATCH)
            .load(c),
            AnyConnection::Postgresql(c) => diesel::sql_query(
                "SELECT b.id, b.title, b.isbn, a.name AS author_name FROM books b \
                 JOIN authors a ON a.id = b.author_id \
                 WHERE b.author_id = $1 AND b.id > $2 ORDER BY b.id LIMIT $3 \
                 FOR NO KEY UPDATE OF b",
            )
            .bind::<BigInt, _>(author_id)
            .bind::<BigInt, _>(after)
            .bind::<BigInt, _>(BATCH)
            .load(c),
        }
        .store()?;
        let Some(last) = books.last() else {
            return Ok(());
        };
        after = last.id;
        let entries: Vec<Entry<'_>> = books.iter().map(IndexedBook::entry).collect();
        reindex(conn, held, &entries)?;
    }
}

#[derive(QueryableByName)]
struct PendingId {
    #[diesel(sql_type = BigInt)]
    book_id: i64,
}

/// Indexes the books a migration queued in `book_search_pending` (those that
/// existed before search did), a batch per transaction; answers how many.
/// Run when the store opens, before it serves: with nothing queued it costs
/// one query. Two processes opening at once share the queue (PostgreSQL:
/// SKIP LOCKED; SQLite: one writer at a time).
pub(crate) fn index_pending(conn: &mut AnyConnection) -> Result<usize, StoreError> {
    let mut indexed = 0;
    loop {
        crate::connection::begin_write(conn).store()?;
        let batch = index_pending_batch(conn);
        match batch {
            Ok(0) => {
                crate::connection::commit(conn).store()?;
                return Ok(indexed);
            }
            Ok(n) => {
                crate::connection::commit(conn).store()?;
                indexed += n;
            }
            Err(e) => {
                let _ = crate::connection::rollback(conn);
                return Err(e);
            }
        }
    }
}

fn index_pending_batch(conn: &mut AnyConnection) -> Result<usize, StoreError> {
    let claimed: Vec<PendingId> = match conn {
        AnyConnection::Sqlite(c) => diesel::sql_query(
            "DELETE FROM book_search_pending WHERE book_id IN \
             (SELECT book_id FROM book_search_pending ORDER BY book_id LIMIT ?) RETURNING book_id",
        )
        .bind::<BigInt, _>(BATCH)
        .load(c),
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "DELETE FROM book_search_pending WHERE book_id IN \
             (SELECT book_id FROM book_search_pending ORDER BY book_id LIMIT $1 \
              FOR UPDATE SKIP LOCKED) RETURNING book_id",
        )
        .bind::<BigInt, _>(BATCH)
        .load(c),
    }
    .store()?;
    if claimed.is_empty() {
        return Ok(0);
    }
    let ids: Vec<i64> = claimed.iter().map(|p| p.book_id).collect();
    // A queued book deleted since is simply not found.
    let books: Vec<IndexedBook> = match conn {
        AnyConnection::Sqlite(c) => {
            let marks = vec!["?"; ids.len()].join(",");
            let mut query = diesel::sql_query(format!(
                "SELECT b.id, b.title, b.isbn, a.name AS author_name FROM books b \
                 JOIN authors a ON a.id = b.author_id WHERE b.id IN ({marks})"
            ))
            .into_boxed();
            for id in &ids {
                query = query.bind::<BigInt, _>(*id);
            }
            query.load(c)
        }
        AnyConnection::Postgresql(c) => diesel::sql_query(
            "SELECT b.id, b.title, b.isbn, a.name AS author_name FROM books b \
             JOIN authors a ON a.id = b.author_id WHERE b.id = ANY($1) \
             FOR NO KEY UPDATE OF b",
        )
        .bind::<Array<BigInt>, _>(&ids)
        .load(c),
    }
    .store()?;
    let entries: Vec<Entry<'_>> = books.iter().map(IndexedBook::entry).collect();
    let mut held = HeldWrites::default();
    reindex(conn, &mut held, &entries)?;
    held.write(conn)?;
    Ok(claimed.len())
}

#[derive(QueryableByName)]
struct FoundId {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct Total {
    #[diesel(sql_type = BigInt)]
    n: i64,
}

/// Which of the matches a query asks for.
#[derive(Clone, Copy)]
enum Tier {
    /// Every match.
    All,
    /// The books whose title holds every word.
    Title,
    /// The other matches.
    Rest,
}

/// The ids of one page of matches, best first, and how many books match.
/// `words` is never empty (an empty query is no search).
pub(crate) fn search(
    conn: &mut AnyConnection,
    second: Option<&SecondReader<'_>>,
    words: &[String],
    filter: &BookFilter,
    page: Page,
) -> Result<(i64, Vec<BookId>), StoreError> {
    let mut query = Query::new(conn, second, words, filter);
    if let Some(ranked) = query.few()? {
        let total = ranked.len() as i64;
        let skip = usize::try_from(page.offset).unwrap_or(usize::MAX);
        let take = usize::try_from(page.limit).unwrap_or(usize::MAX);
        return Ok((total, ranked.into_iter().skip(skip).take(take).collect()));
    }
    let total = query.count(Tier::All)?;
    query.total = Some(total);
    let (limit, offset) = (page.limit, page.offset);
    if total == 0 || offset >= total {
        return Ok((total, Vec::new()));
    }
    let mut ids = query.ids(Tier::Title, limit, offset)?;
    let found = ids.len() as i64;
    if found < limit {
        // Where the title tier ended: known from this page unless the page
        // began past it.
        let in_title = if found > 0 || offset == 0 {
            offset + found
        } else {
            query.count(Tier::Title)?
        };
        ids.extend(query.ids(Tier::Rest, limit - found, (offset - in_title).max(0))?);
    }
    Ok((total, ids))
}

/// One search over one connection, with its backend's query text.
struct Query<'c, 'f> {
    conn: &'c mut AnyConnection,
    /// On SQLite, where the count of many matches can be split in two.
    second: Option<&'f SecondReader<'f>>,
    words: &'f [String],
    filter: &'f BookFilter,
    /// How many books match, once known.
    total: Option<i64>,
}

impl<'c, 'f> Query<'c, 'f> {
    fn new(
        conn: &'c mut AnyConnection,
        second: Option<&'f SecondReader<'f>>,
        words: &'f [String],
        filter: &'f BookFilter,
    ) -> Self {
        Self {
            conn,
            second,
            words,
            filter,
            total: None,
        }
    }

    /// On SQLite, when at most [`FEW`] books match: every match, best first.
    /// A count and the two tiers paged newest first would each step through
    /// every posting of the query's words; the matches read once in id
    /// order (FTS5's cheaper direction), and the title tier's once more,
    /// rank the same books for less than half of it.
    fn few(&mut self) -> Result<Option<Vec<BookId>>, StoreError> {
        if let Some(total) = self.term_count()? {
            self.total = Some(total);
            if total > FEW {
                return Ok(None);
            }
        }
        let AnyConnection::Sqlite(c) = &mut *self.conn else {
            return Ok(None);
        };
        let all: Vec<FoundId> = sqlite_matches(
            self.words,
            self.filter,
            Tier::All,
            IDS,
            "ORDER BY book_search.rowid LIMIT ?",
        )
        .bind::<BigInt, _>(FEW + 1)
        .load(c)
        .store()?;
        if all.len() as i64 > FEW {
            return Ok(None);
        }
        let title: Vec<FoundId> = sqlite_matches(
            self.words,
            self.filter,
            Tier::Title,
            IDS,
            "ORDER BY book_search.rowid",
        )
        .load(c)
        .store()?;
        let title: Vec<i64> = title.into_iter().map(|f| f.id).collect();
        let (mut ranked, mut rest): (Vec<i64>, Vec<i64>) = all
            .into_iter()
            .map(|f| f.id)
            .partition(|id| title.binary_search(id).is_ok());
        // Newest first within each tier.
        ranked.reverse();
        rest.reverse();
        ranked.extend(rest);
        Ok(Some(ranked))
    }

    /// On SQLite, a one-word query without filters: the number of books
    /// holding that term, read from the index's own statistics instead of
    /// stepping through every match.
    fn term_count(&mut self) -> Result<Option<i64>, StoreError> {
        let filtered = self.filtered();
        let (AnyConnection::Sqlite(c), false, [word]) = (&mut *self.conn, filtered, self.words)
        else {
            return Ok(None);
        };
        if word.chars().count() > PREFIX_CHARS {
            return Ok(None);
        }
        let found: Option<Total> =
            diesel::sql_query("SELECT doc AS n FROM book_search_vocab WHERE term = ?")
                .bind::<Text, _>(word)
                .get_result(c)
                .optional()
                .store()?;
        Ok(Some(found.map_or(0, |t| t.n)))
    }

    fn filtered(&self) -> bool {
        self.filter.author_id.is_some() || self.filter.available.is_some()
    }

    /// How many books a tier holds. The total of a one-word query is known
    /// already: [`Query::few`] read it from the index's statistics.
    fn count(&mut self, tier: Tier) -> Result<i64, StoreError> {
        if let (Tier::All, Some(total)) = (tier, self.total) {
            return Ok(total);
        }
        match &mut *self.conn {
            AnyConnection::Sqlite(c) => {
                let mut second = match tier {
                    Tier::All => self.second.and_then(SecondReader::connect),
                    Tier::Title | Tier::Rest => None,
                };
                if let Some(other) = second.as_mut().and_then(SecondConnection::sqlite) {
                    return sqlite_count_in_halves(c, other, self.words, self.filter);
                }
                let query = sqlite_matches(self.words, self.filter, tier, "count(*) AS n", "");
                Ok(query.get_result::<Total>(c).store()?.n)
            }
            AnyConnection::Postgresql(c) => {
                let (from, conditions) = pg_filters(self.filter, 3);
                let sql = format!(
                    "SELECT count(*) AS n FROM book_search s {from} WHERE {} {conditions}",
                    pg_condition(tier)
                );
                let query = pg_bind_filters(
                    diesel::sql_query(sql)
                        .into_boxed()
                        .bind::<Text, _>(ts_query(self.words, false))
                        .bind::<Text, _>(ts_query(self.words, true)),
                    self.filter,
                );
                Ok(query.get_result::<Total>(c).store()?.n)
            }
        }
    }

    fn ids(&mut self, tier: Tier, limit: i64, offset: i64) -> Result<Vec<BookId>, StoreError> {
        let found: Vec<FoundId> = match &mut *self.conn {
            AnyConnection::Sqlite(c) => sqlite_matches(
                self.words,
                self.filter,
                tier,
                IDS,
                "ORDER BY book_search.rowid DESC LIMIT ? OFFSET ?",
            )
            .bind::<BigInt, _>(limit)
            .bind::<BigInt, _>(offset)
            .load(c),
            AnyConnection::Postgresql(c) => {
                let (from, conditions) = pg_filters(self.filter, 3);
                let next = 3 + pg_filter_count(self.filter);
                // Few matches: collect them from the GIN index and sort
                // (`+ 0` keeps the planner off the primary key). Many: walk
                // the primary key from the newest and stop at the page,
                // which is soon when matches are dense.
                let order = if self.total.is_some_and(|total| total <= SPARSE) {
                    "s.book_id + 0"
                } else {
                    "s.book_id"
                };
                let sql = format!(
                    "SELECT s.book_id AS id FROM book_search s {from} WHERE {} {conditions} \
                     ORDER BY {order} DESC LIMIT ${next} OFFSET ${}",
                    pg_condition(tier),
                    next + 1
                );
                pg_bind_filters(
                    diesel::sql_query(sql)
                        .into_boxed()
                        .bind::<Text, _>(ts_query(self.words, false))
                        .bind::<Text, _>(ts_query(self.words, true)),
                    self.filter,
                )
                .bind::<BigInt, _>(limit)
                .bind::<BigInt, _>(offset)
                .load(c)
            }
        }
        .store()?;
        Ok(found.into_iter().map(|f| f.id).collect())
    }
}

/// The FTS5 query of a tier. Every word is quoted (it is letters and
/// digits only, so it is one term and never an operator such as NEAR or
/// AND) and must be present: an exact term when the index holds its
/// prefixes, a prefix query when it is longer.
fn fts_match(words: &[String], tier: Tier) -> String {
    let all = words
        .iter()
        .map(|w| {
            if w.chars().count() <= PREFIX_CHARS {
                format!("\"{w}\"")
            } else {
                format!("\"{w}\" *")
            }
        })
        .collect::<Vec<_>>()
        .join(" AND ");
    match tier {
        Tier::All => all,
        Tier::Title => format!("title : ({all})"),
        Tier::Rest => format!("({all}) NOT title : ({all})"),
    }
}

/// The tsquery of all matches, or with `title_only` of the title tier
/// (weight A).
fn ts_query(words: &[String], title_only: bool) -> String {
    let weight = if title_only { "A" } else { "" };
    words
        .iter()
        .map(|w| format!("{}:*{weight}", quote(w)))
        .collect::<Vec<_>>()
        .join(" & ")
}

/// `$1` is the tsquery of all matches, `$2` that of the title tier.
fn pg_condition(tier: Tier) -> &'static str {
    match tier {
        Tier::All => "s.doc @@ $1::tsquery",
        Tier::Title => "s.doc @@ $2::tsquery",
        Tier::Rest => "s.doc @@ $1::tsquery AND NOT s.doc @@ $2::tsquery",
    }
}

/// Counts every match of a query in two halves of the book ids at once, on
/// the transaction's connection and a second one on the same snapshot. The
/// count steps through every posting of the query's words (about 25 ns
/// each: 300,000 books hold the commonest word of the bench's catalog), and
/// FTS5 seeks a rowid range without reading what is outside it: two cores
/// count in a little more than half the time.
fn sqlite_count_in_halves(
    conn: &mut SqliteConnection,
    other: &mut SqliteConnection,
    words: &[String],
    filter: &BookFilter,
) -> Result<i64, StoreError> {
    let last: Total = diesel::sql_query("SELECT coalesce(max(id), 0) AS n FROM books")
        .get_result(conn)
        .store()?;
    let middle = last.n / 2;
    let half = |conn: &mut SqliteConnection, tail: &str| -> Result<i64, StoreError> {
        let query = sqlite_matches(words, filter, Tier::All, "count(*) AS n", tail)
            .bind::<BigInt, _>(middle);
        Ok(query.get_result::<Total>(conn).store()?.n)
    };
    let (lower, upper) = std::thread::scope(|scope| {
        let upper = scope.spawn(|| half(other, "AND book_search.rowid > ?"));
        let lower = half(conn, "AND book_search.rowid <= ?");
        (lower, upper.join())
    });
    let upper = upper.map_err(|_| StoreError::Unexpected("a search count panicked".into()))?;
    Ok(lower? + upper?)
}

/// What [`sqlite_matches`] selects to list the matches.
const IDS: &str = "book_search.rowid AS id";

/// `SELECT {select}` over the matches of a tier on SQLite, filters bound,
/// then `tail` (an order, a limit left for the caller to bind).
fn sqlite_matches(
    words: &[String],
    filter: &BookFilter,
    tier: Tier,
    select: &str,
    tail: &str,
) -> SqliteQuery {
    let (from, conditions) = sqlite_filters(filter);
    let sql = format!(
        "SELECT {select} FROM book_search {from} WHERE book_search MATCH ? {conditions} {tail}"
    );
    sqlite_bind_filters(
        diesel::sql_query(sql)
            .into_boxed()
            .bind::<Text, _>(fts_match(words, tier)),
        filter,
    )
}

fn sqlite_filters(filter: &BookFilter) -> (&'static str, String) {
    if filter.author_id.is_none() && filter.available.is_none() {
        return ("", String::new());
    }
    let mut conditions = String::new();
    if filter.author_id.is_some() {
        conditions.push_str(" AND books.author_id = ?");
    }
    if filter.available.is_some() {
        conditions.push_str(" AND books.available = ?");
    }
    ("JOIN books ON books.id = book_search.rowid", conditions)
}

type SqliteQuery = diesel::query_builder::BoxedSqlQuery<
    'static,
    diesel::sqlite::Sqlite,
    diesel::query_builder::SqlQuery,
>;

fn sqlite_bind_filters(mut query: SqliteQuery, filter: &BookFilter) -> SqliteQuery {
    if let Some(author_id) = filter.author_id {
        query = query.bind::<BigInt, _>(author_id);
    }
    if let Some(available) = filter.available {
        query = query.bind::<Bool, _>(available);
    }
    query
}

fn pg_filter_count(filter: &BookFilter) -> usize {
    usize::from(filter.author_id.is_some()) + usize::from(filter.available.is_some())
}

/// The join and conditions of the filters, numbered from `$first`.
fn pg_filters(filter: &BookFilter, first: usize) -> (&'static str, String) {
    if pg_filter_count(filter) == 0 {
        return ("", String::new());
    }
    let mut conditions = String::new();
    let mut n = first;
    if filter.author_id.is_some() {
        conditions.push_str(&format!(" AND b.author_id = ${n}"));
        n += 1;
    }
    if filter.available.is_some() {
        conditions.push_str(&format!(" AND b.available = ${n}"));
    }
    ("JOIN books b ON b.id = s.book_id", conditions)
}

type PgQuery =
    diesel::query_builder::BoxedSqlQuery<'static, diesel::pg::Pg, diesel::query_builder::SqlQuery>;

fn pg_bind_filters(mut query: PgQuery, filter: &BookFilter) -> PgQuery {
    if let Some(author_id) = filter.author_id {
        query = query.bind::<BigInt, _>(author_id);
    }
    if let Some(available) = filter.available {
        query = query.bind::<Bool, _>(available);
    }
    query
}

#[cfg(test)]
mod tests {
    use libris_application::ports::{AuthorFields, BookFields, Tx};
    use libris_testing::database::TestDatabase;

    use super::*;
    use crate::connection::{begin_write, commit};
    use crate::group_commit::tests::migrated;
    use crate::tx::DieselTx;
    use crate::Hold;

    /// Halves meet without a gap or an overlap, filters included: 301
    /// books (an odd last id), every third unavailable.
    #[test]
    fn a_count_in_halves_counts_every_match_once() {
        let database = TestDatabase::sqlite();
        let pool = migrated(&database);
        let mut conn = pool.get().unwrap();
        begin_write(&mut conn).unwrap();
        let mut tx = DieselTx::new(&mut conn, Hold::ReadRows);
        let author = AuthorFields {
            name: "Dune Press".into(),
            bio: String::new(),
        };
        let author_id = tx
            .catalog()
            .insert_author(&author, chrono::Utc::now())
            .unwrap()
            .id;
        let books: Vec<BookFields> = (0..301)
            .map(|i| BookFields {
                title: format!("Sandworm {i}"),
                author_id,
                isbn: None,
                available: i % 3 != 0,
            })
            .collect();
        tx.catalog()
            .insert_books(&books, chrono::Utc::now())
            .unwrap();
        let held = tx.take_held_writes();
        held.write(&mut conn).unwrap();
        commit(&mut conn).unwrap();

        let (mut one, mut other) = (pool.get().unwrap(), pool.get().unwrap());
        let (AnyConnection::Sqlite(one), AnyConnection::Sqlite(other)) = (&mut *one, &mut *other)
        else {
            panic!("an SQLite test");
        };
        let dune = words(&["dune"]);
        let unavailable = BookFilter {
            available: Some(false),
            ..BookFilter::default()
        };
        let counted =
            |filter: &BookFilter, one: &mut SqliteConnection, other: &mut SqliteConnection| {
                sqlite_count_in_halves(one, other, &dune, filter).unwrap()
            };
        assert_eq!(counted(&BookFilter::default(), one, other), 301);
        assert_eq!(counted(&unavailable, one, other), 101);
        assert_eq!(
            sqlite_count_in_halves(
                one,
                other,
                &words(&["sandworm", "30"]),
                &BookFilter::default()
            )
            .unwrap(),
            2,
            "Sandworm 30 and Sandworm 300"
        );
    }

    fn words(q: &[&str]) -> Vec<String> {
        q.iter().map(|w| (*w).to_owned()).collect()
    }

    #[test]
    fn fts_queries_quote_every_word_and_name_the_tiers() {
        let q = words(&["dun", "mess"]);
        assert_eq!(fts_match(&q, Tier::All), "\"dun\" AND \"mess\"");
        assert_eq!(fts_match(&q, Tier::Title), "title : (\"dun\" AND \"mess\")");
        assert_eq!(
            fts_match(&q, Tier::Rest),
            "(\"dun\" AND \"mess\") NOT title : (\"dun\" AND \"mess\")"
        );
        let long = words(&["abcdefghijklmn"]);
        assert_eq!(fts_match(&long, Tier::All), "\"abcdefghijklmn\" *");
    }

    #[test]
    fn sqlite_terms_are_each_word_with_its_prefixes_once() {
        assert_eq!(sqlite_terms(&words(&["dune", "dun"])), "d du dun dune");
        let long = "abcdefghijklmnop";
        let terms = sqlite_terms(&words(&[long]));
        assert_eq!(terms.split(' ').count(), PREFIX_CHARS + 1);
        assert!(terms.ends_with(long));
    }

    #[test]
    fn pg_documents_weight_the_title_and_queries_prefix_every_word() {
        let doc = pg_document(&BookWords::of("Dune", "Frank Herbert", None));
        assert_eq!(doc, "'dune':1A 'frank':1 'herbert':1");
        assert_eq!(
            ts_query(&words(&["dun", "her"]), false),
            "'dun':* & 'her':*"
        );
        assert_eq!(ts_query(&words(&["dun"]), true), "'dun':*A");
        assert_eq!(quote("o'b\\"), "'o''b\\\\'");
    }
}
