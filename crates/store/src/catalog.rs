//! Authors and books.

use chrono::{DateTime, NaiveDateTime, Utc};
use diesel::dsl::{InnerJoin, IntoBoxed};
use diesel::prelude::*;
use libris_application::ports::{AuthorFields, BookFields, BookFilter};
use libris_application::{Page, Paged, StoreError};
use libris_domain::catalog::{Author, AuthorId, Book, BookId};

use crate::connection::{columns, on_each_backend, AnyConnection, Db};
use crate::error::IntoStore;
use crate::schema::{authors, books};
use crate::search::{self, Entry, HeldWrites};
use crate::second_reader::SecondReader;
use crate::time::{naive, utc};
use crate::CHUNK;

#[derive(Queryable, Selectable)]
#[diesel(table_name = authors)]
struct AuthorRow {
    id: i64,
    name: String,
    bio: String,
    total_books: i64,
    available_books: i64,
    created_at: NaiveDateTime,
}

impl From<AuthorRow> for Author {
    fn from(row: AuthorRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            bio: row.bio,
            total_books: row.total_books,
            available_books: row.available_books,
            created_at: utc(row.created_at),
        }
    }
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = books)]
struct BookRow {
    id: i64,
    title: String,
    author_id: i64,
    isbn: Option<String>,
    available: bool,
    created_at: NaiveDateTime,
    updated_at: NaiveDateTime,
}

fn to_book((row, author_name): (BookRow, String)) -> Book {
    Book {
        id: row.id,
        title: row.title,
        author_id: row.author_id,
        author_name,
        isbn: row.isbn,
        available: row.available,
        created_at: utc(row.created_at),
        updated_at: utc(row.updated_at),
    }
}

#[derive(Insertable, AsChangeset)]
#[diesel(table_name = books)]
struct BookChangeset<'a> {
    title: &'a str,
    author_id: i64,
    // Written as given: `None` clears the ISBN on update.
    #[diesel(treat_none_as_null = true)]
    isbn: Option<&'a str>,
    available: bool,
    updated_at: NaiveDateTime,
}

impl<'a> BookChangeset<'a> {
    fn new(fields: &'a BookFields, at: DateTime<Utc>) -> Self {
        Self {
            title: &fields.title,
            author_id: fields.author_id,
            isbn: fields.isbn.as_deref(),
            available: fields.available,
            updated_at: naive(at),
        }
    }
}

pub(crate) fn insert_author(
    conn: &mut AnyConnection,
    fields: &AuthorFields,
    at: DateTime<Utc>,
) -> Result<Author, StoreError> {
    diesel::insert_into(authors::table)
        .values((
            authors::name.eq(&fields.name),
            authors::bio.eq(&fields.bio),
            authors::created_at.eq(naive(at)),
        ))
        .returning(columns::<AuthorRow>())
        .get_result::<AuthorRow>(conn)
        .map(Author::from)
        .store()
}

pub(crate) fn author(conn: &mut AnyConnection, id: AuthorId) -> Result<Option<Author>, StoreError> {
    authors::table
        .find(id)
        .select(AuthorRow::as_select())
        .first(conn)
        .optional()
        .map(|row| row.map(Author::from))
        .store()
}

pub(crate) fn update_author(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    id: AuthorId,
    fields: &AuthorFields,
) -> Result<Author, StoreError> {
    let old_name: Option<String> = authors::table
        .find(id)
        .select(authors::name)
        .first(conn)
        .optional()
        .store()?;
    let author = diesel::update(authors::table.find(id))
        .set((authors::name.eq(&fields.name), authors::bio.eq(&fields.bio)))
        .returning(columns::<AuthorRow>())
        .get_result::<AuthorRow>(conn)
        .map(Author::from)
        .store()?;
    // The author's words are in every one of their books' search entries: a
    // new name rewrites them all (docs/search.md, "Renaming an author").
    let words = libris_domain::search::index_words;
    if old_name.is_some_and(|old| words(&old) != words(&author.name)) {
        search::reindex_author(conn, held, id)?;
    }
    Ok(author)
}

pub(crate) fn delete_author(conn: &mut AnyConnection, id: AuthorId) -> Result<(), StoreError> {
    diesel::delete(authors::table.find(id))
        .execute(conn)
        .store()?;
    Ok(())
}

pub(crate) fn list_authors(
    conn: &mut AnyConnection,
    page: Page,
) -> Result<Paged<Author>, StoreError> {
    let count = authors::table.count().get_result(conn).store()?;
    let results = authors::table
        .select(AuthorRow::as_select())
        .order(authors::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: results.into_iter().map(Author::from).collect(),
    })
}

pub(crate) fn count_books_by(
    conn: &mut AnyConnection,
    author_id: AuthorId,
) -> Result<i64, StoreError> {
    books::table
        .filter(books::author_id.eq(author_id))
        .count()
        .get_result(conn)
        .store()
}

/// One UPDATE relative to the row as committed: on PostgreSQL it waits for
/// a concurrent writer of the same author and then adds to that writer's
/// result, so no addition is lost; SQLite has one writer at a time.
pub(crate) fn add_to_author_counts(
    conn: &mut AnyConnection,
    id: AuthorId,
    total: i64,
    available: i64,
) -> Result<(), StoreError> {
    // Compiled on every call: diesel caches no `UPDATE` statement, on any
    // connection (docs/performance.md).
    diesel::update(authors::table.find(id))
        .set((
            authors::total_books.eq(authors::total_books + total),
            authors::available_books.eq(authors::available_books + available),
        ))
        .execute(conn)
        .store()?;
    Ok(())
}

/// Locks a book against every other writer until the transaction ends
/// (PostgreSQL; SQLite's writer lock already does): FOR UPDATE, as the
/// holder may delete it. A missing book locks nothing.
pub(crate) fn hold_book(conn: &mut AnyConnection, id: BookId) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        books::table
            .find(id)
            .select(books::id)
            .for_update()
            .load::<i64>(pg)
            .store()?;
    }
    Ok(())
}

/// Locks authors by ascending id (the order every writer uses, so two
/// writers never wait for each other in a circle). NO KEY UPDATE, the mode
/// the statistics update takes, so inserting a book (KEY SHARE on its
/// author) is not blocked by a holder that has already inserted one.
pub(crate) fn hold_authors(conn: &mut AnyConnection, ids: &[AuthorId]) -> Result<(), StoreError> {
    if let AnyConnection::Postgresql(pg) = conn {
        let mut ids = ids.to_vec();
        ids.sort_unstable();
        ids.dedup();
        for chunk in ids.chunks(CHUNK) {
            authors::table
                .filter(authors::id.eq_any(chunk))
                .select(authors::id)
                .order(authors::id)
                .for_no_key_update()
                .load::<i64>(pg)
                .store()?;
        }
    }
    Ok(())
}

pub(crate) fn insert_book(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    fields: &BookFields,
    at: DateTime<Utc>,
) -> Result<Book, StoreError> {
    let id: i64 = diesel::insert_into(books::table)
        .values((
            BookChangeset::new(fields, at),
            books::created_at.eq(naive(at)),
        ))
        .returning(books::id)
        .get_result(conn)
        .store()?;
    let book = expect_book(conn, id)?;
    search::index_new(conn, held, &[entry(&book)])?;
    Ok(book)
}

/// What search indexes of a book.
fn entry(book: &Book) -> Entry<'_> {
    Entry {
        id: book.id,
        title: &book.title,
        author_name: &book.author_name,
        isbn: book.isbn.as_deref(),
    }
}

/// A book the caller just wrote.
fn expect_book(conn: &mut AnyConnection, id: BookId) -> Result<Book, StoreError> {
    book(conn, id)?
        .ok_or_else(|| StoreError::Unexpected(format!("book {id} vanished inside its transaction")))
}

pub(crate) fn book(conn: &mut AnyConnection, id: BookId) -> Result<Option<Book>, StoreError> {
    // Every create and update reads its book back: on the backend's own
    // connection and without `LIMIT ?` (see `accounts::account_by_token`),
    // so SQLite compiles it once per connection. The id is the key.
    on_each_backend!(conn, |c| books::table
        .inner_join(authors::table)
        .filter(books::id.eq(id))
        .select((BookRow::as_select(), authors::name))
        .get_result(c)
        .optional())
    .map(|row| row.map(to_book))
    .store()
}

pub(crate) fn update_book(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    id: BookId,
    fields: &BookFields,
    at: DateTime<Utc>,
) -> Result<Book, StoreError> {
    diesel::update(books::table.find(id))
        .set(BookChangeset::new(fields, at))
        .execute(conn)
        .store()?;
    let book = expect_book(conn, id)?;
    search::reindex(conn, held, &[entry(&book)])?;
    Ok(book)
}

pub(crate) fn delete_book(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    id: BookId,
) -> Result<(), StoreError> {
    diesel::delete(books::table.find(id))
        .execute(conn)
        .store()?;
    search::unindex(conn, held, id);
    Ok(())
}

type BookQuery<'a> = IntoBoxed<'a, InnerJoin<books::table, authors::table>, Db>;

fn filtered(filter: &BookFilter) -> BookQuery<'_> {
    let mut query = books::table.inner_join(authors::table).into_boxed();
    if let Some(author_id) = filter.author_id {
        query = query.filter(books::author_id.eq(author_id));
    }
    // `NOT available` rather than `available = ?`: the databases use the
    // partial index of the books out on loan only for a condition they can
    // match to its own.
    match filter.available {
        Some(true) => query = query.filter(books::available),
        Some(false) => query = query.filter(diesel::dsl::not(books::available)),
        None => {}
    }
    query
}

pub(crate) fn list_books(
    conn: &mut AnyConnection,
    second: Option<&SecondReader<'_>>,
    filter: &BookFilter,
    page: Page,
) -> Result<Paged<Book>, StoreError> {
    if let Some(q) = filter.q.as_deref().filter(|q| !q.trim().is_empty()) {
        return search_books(conn, second, q, filter, page);
    }
    let count = count_books(conn, filter)?;
    let results = filtered(filter)
        .select((BookRow::as_select(), authors::name))
        .order(books::id.desc())
        .limit(page.limit)
        .offset(page.offset)
        .load(conn)
        .store()?;
    Ok(Paged {
        count,
        results: results.into_iter().map(to_book).collect(),
    })
}

/// How many books a filter without `q` lists, from the authors' counters
/// (kept in the transaction of every change, like the books themselves)
/// rather than by counting the books: the cost is a sum over the authors,
/// one row with `?author=`, where a count of the books would read every
/// one of them (30 ms for a million on SQLite).
fn count_books(conn: &mut AnyConnection, filter: &BookFilter) -> Result<i64, StoreError> {
    // PostgreSQL sums a bigint into a numeric: cast back on both backends.
    let counted = match filter.available {
        None => "CAST(COALESCE(SUM(total_books), 0) AS BIGINT)",
        Some(true) => "CAST(COALESCE(SUM(available_books), 0) AS BIGINT)",
        Some(false) => "CAST(COALESCE(SUM(total_books - available_books), 0) AS BIGINT)",
    };
    let mut query = authors::table
        .select(diesel::dsl::sql::<diesel::sql_types::BigInt>(counted))
        .into_boxed();
    if let Some(author_id) = filter.author_id {
        query = query.filter(authors::id.eq(author_id));
    }
    query.get_result(conn).store()
}

/// A full-text search (docs/search.md): the ids of the page from the index,
/// best match first, then their books in that order. A query with no letter
/// or digit (`%`, `*`, quotes) has no word to match and finds nothing.
fn search_books(
    conn: &mut AnyConnection,
    second: Option<&SecondReader<'_>>,
    q: &str,
    filter: &BookFilter,
    page: Page,
) -> Result<Paged<Book>, StoreError> {
    let words = libris_domain::search::query_words(q);
    if words.is_empty() {
        return Ok(Paged {
            count: 0,
            results: Vec::new(),
        });
    }
    let (count, ids) = search::search(conn, second, &words, filter, page)?;
    let mut found: std::collections::HashMap<BookId, Book> = books::table
        .inner_join(authors::table)
        .filter(books::id.eq_any(&ids))
        .select((BookRow::as_select(), authors::name))
        .load(conn)
        .store()?
        .into_iter()
        .map(|row| {
            let book = to_book(row);
            (book.id, book)
        })
        .collect();
    Ok(Paged {
        count,
        results: ids.iter().filter_map(|id| found.remove(id)).collect(),
    })
}

pub(crate) fn isbn_in_use(
    conn: &mut AnyConnection,
    isbn: &str,
    except: Option<BookId>,
) -> Result<bool, StoreError> {
    let mut query = books::table.filter(books::isbn.eq(isbn)).into_boxed();
    if let Some(id) = except {
        query = query.filter(books::id.ne(id));
    }
    let found: Option<i64> = query.select(books::id).first(conn).optional().store()?;
    Ok(found.is_some())
}

pub(crate) fn set_book_available(
    conn: &mut AnyConnection,
    id: BookId,
    available: bool,
    at: DateTime<Utc>,
) -> Result<Book, StoreError> {
    diesel::update(books::table.find(id))
        .set((
            books::available.eq(available),
            books::updated_at.eq(naive(at)),
        ))
        .execute(conn)
        .store()?;
    expect_book(conn, id)
}

pub(crate) fn existing_authors(
    conn: &mut AnyConnection,
    ids: &[AuthorId],
) -> Result<Vec<AuthorId>, StoreError> {
    let mut found = Vec::with_capacity(ids.len());
    for chunk in ids.chunks(CHUNK) {
        // Per backend, so the statement is prepared once per connection:
        // on PostgreSQL (`= ANY($1)`) always, on SQLite for a chunk of one
        // (every book create) as `=`, since diesel compiles SQLite's bound
        // `IN (…)` list again on every call.
        let query = authors::table.select(authors::id);
        let rows: Vec<i64> = match chunk {
            [id] => on_each_backend!(conn, |c| query.filter(authors::id.eq(id)).load(c)),
            ids => on_each_backend!(conn, |c| query.filter(authors::id.eq_any(ids)).load(c)),
        }
        .store()?;
        found.extend(rows);
    }
    Ok(found)
}

pub(crate) fn isbns_in_use(
    conn: &mut AnyConnection,
    isbns: &[String],
) -> Result<Vec<String>, StoreError> {
    let mut found = Vec::new();
    for chunk in isbns.chunks(CHUNK) {
        let rows: Vec<Option<String>> = books::table
            .filter(books::isbn.eq_any(chunk))
            .select(books::isbn)
            .load(conn)
            .store()?;
        found.extend(rows.into_iter().flatten());
    }
    Ok(found)
}

pub(crate) fn insert_books(
    conn: &mut AnyConnection,
    held: &mut HeldWrites,
    fields: &[BookFields],
    at: DateTime<Utc>,
) -> Result<Vec<Book>, StoreError> {
    let mut author_ids: Vec<i64> = fields.iter().map(|f| f.author_id).collect();
    author_ids.sort_unstable();
    author_ids.dedup();
    let mut names = std::collections::HashMap::new();
    for chunk in author_ids.chunks(CHUNK) {
        let rows: Vec<(i64, String)> = authors::table
            .filter(authors::id.eq_any(chunk))
            .select((authors::id, authors::name))
            .load(conn)
            .store()?;
        names.extend(rows);
    }
    let mut ids = Vec::with_capacity(fields.len());
    for chunk in fields.chunks(CHUNK) {
        let rows: Vec<_> = chunk
            .iter()
            .map(|f| (BookChangeset::new(f, at), books::created_at.eq(naive(at))))
            .collect();
        let insert = diesel::insert_into(books::table)
            .values(rows)
            .returning(books::id);
        // Both backends answer RETURNING rows in the order of the VALUES list.
        let chunk_ids: Vec<i64> = on_each_backend!(conn, |c| insert.get_results(c)).store()?;
        ids.extend(chunk_ids);
    }
    let books: Vec<Book> = ids
        .into_iter()
        .zip(fields)
        .map(|(id, f)| Book {
            id,
            title: f.title.clone(),
            author_id: f.author_id,
            author_name: names.get(&f.author_id).cloned().unwrap_or_default(),
            isbn: f.isbn.clone(),
            available: f.available,
            created_at: at,
            updated_at: at,
        })
        .collect();
    let entries: Vec<Entry<'_>> = books.iter().map(entry).collect();
    search::index_new(conn, held, &entries)?;
    Ok(books)
}
