//! Issue 11.4's budgets for full-text search (`LIBRIS_BENCH=search`):
//! `?q=` p99 ≤ 10 ms on a 1,000,000-book catalog (100,000 of them by one
//! author) over 100 queries of one to three words taken from the catalog's
//! titles (limit 50, the count included), and a bulk import of 10,000 books
//! still under 1 s with the index maintained. On SQLite, then on
//! PostgreSQL when one is reachable (`LIBRIS_TEST_POSTGRES_URL`, default the
//! local server). In the same scenario, issue 11.1's constant cost: books
//! created per second for the big author by 16 closed-loop clients, on the
//! empty catalog and again on the full one (at least 0.8 x).
//!
//! The catalog is seeded through the import endpoint (100 imports of 10,000
//! books), so every entry is written by the server's own index path. Titles
//! are one to five words drawn from a 3,000-word vocabulary with Zipf
//! frequencies, as words are in real titles: the commonest word is in about
//! a third of the titles, so some queries match 300,000 books, while most
//! match a few hundred.

use std::time::{Duration, Instant};

use libris_testing::database::TestDatabase;
use serde_json::{json, Value};

use crate::server::Server;
use crate::stats::{ms, percentile, spread};
use crate::webhooks::harness::BookCreator;
use crate::webhooks::load::closed_loop;

const BOOKS: usize = 1_000_000;
const BY_ONE_AUTHOR: usize = 100_000;
const OTHER_AUTHORS: usize = 2_000;
const IMPORT: usize = 10_000;
const QUERIES: usize = 100;
const TIMED_IMPORTS: usize = 5;
const LIST_RUNS: usize = 20;
/// Issue 11.1: creations/s for the big author, closed loop.
const CLIENTS: usize = 16;
const CREATING: Duration = Duration::from_secs(5);

pub async fn run() {
    println!("\n# Full-text search and constant-cost creations on {BOOKS} books ({BY_ONE_AUTHOR} by one author)   (command: LIBRIS_BENCH=search make bench)");
    if let Ok(binary) = std::env::var("LIBRIS_BIN") {
        println!("  server binary: {binary}");
    }
    let catalog = Catalog::new();
    // `LIBRIS_BENCH_BACKENDS=sqlite` or `=postgres` runs only that one.
    let backends = std::env::var("LIBRIS_BENCH_BACKENDS").unwrap_or_default();
    let wanted = |name: &str| backends.is_empty() || backends.contains(name);
    if wanted("sqlite") {
        // `LIBRIS_BENCH_SQLITE_URL`: a SQLite file to seed and keep, as the
        // PostgreSQL one below.
        match std::env::var("LIBRIS_BENCH_SQLITE_URL") {
            Ok(url) => scenario("SQLite", &[("DATABASE_URL", &url)], &catalog).await,
            Err(_) => scenario("SQLite", &[], &catalog).await,
        }
    }
    if !wanted("postgres") {
        return;
    }
    // `LIBRIS_BENCH_POSTGRES_URL`: an empty database to seed and keep (for
    // looking at the plans afterwards) instead of a fresh one dropped at the
    // end.
    if let Ok(url) = std::env::var("LIBRIS_BENCH_POSTGRES_URL") {
        scenario("PostgreSQL", &[("DATABASE_URL", &url)], &catalog).await;
        return;
    }
    match TestDatabase::postgres() {
        Some(database) => {
            scenario("PostgreSQL", &[("DATABASE_URL", database.url())], &catalog).await;
            drop(database);
        }
        None => println!("\n## PostgreSQL: skipped (unreachable)"),
    }
}

async fn scenario(backend: &str, env: &[(&str, &str)], catalog: &Catalog) {
    let server = Server::start(env).await;
    let client = reqwest::Client::new();
    let token = server.token(&client).await;
    let api = Api {
        client: &client,
        base: &server.base,
        token: &token,
    };

    let big = api.author("Prolific Author").await;
    let mut others = Vec::with_capacity(OTHER_AUTHORS);
    for i in 0..OTHER_AUTHORS {
        others.push(api.author(&catalog.author_name(i)).await);
    }
    println!("\n## {backend}");
    let creator = BookCreator::new(client.clone(), &server.base, &token, big);
    server.wait_idle(Duration::from_secs(30)).await;
    let empty = creations(&server, &creator).await;
    println!(
        "  creations for the big author, empty catalog ({CLIENTS} clients, {} s): {:.0}/s, server CPU {:.3} ms a creation",
        CREATING.as_secs(),
        empty.per_second,
        empty.cpu_ms
    );

    let started = Instant::now();
    let mut seeding = Vec::with_capacity(BOOKS / IMPORT);
    for batch in 0..BOOKS / IMPORT {
        let items: Vec<Value> = (batch * IMPORT..(batch + 1) * IMPORT)
            .map(|i| {
                // Every tenth book is the big author's: 100,000 of them,
                // spread over the whole catalog.
                let author = if i % 10 == 0 {
                    big
                } else {
                    others[i % OTHER_AUTHORS]
                };
                json!({"title": catalog.titles[i], "author_id": author, "isbn": isbn(i)})
            })
            .collect();
        seeding.push(api.import(&items).await);
    }
    println!(
        "  seeded {BOOKS} books in {:.0} s through {} imports",
        started.elapsed().as_secs_f64(),
        seeding.len()
    );
    println!(
        "  import of {IMPORT}: first {:.0} ms, last {:.0} ms, slowest {:.0} ms",
        ms(seeding[0]),
        ms(seeding[seeding.len() - 1]),
        ms(seeding.iter().copied().max().unwrap_or_default())
    );

    let settled = server.wait_idle(Duration::from_secs(120)).await;
    println!(
        "  the server was busy {:.1} s after the seeding (on SQLite: checkpointing the log)",
        settled.as_secs_f64()
    );
    let full = creations(&server, &creator).await;
    let ratio = full.per_second / empty.per_second;
    println!(
        "  creations for the big author ({BY_ONE_AUTHOR} books), full catalog: {:.0}/s = {ratio:.2} x empty   (budget: >= 0.8 x: {}), server CPU {:.3} ms a creation = {:.2} x empty",
        full.per_second,
        if ratio >= 0.8 { "met" } else { "MISSED" },
        full.cpu_ms,
        full.cpu_ms / empty.cpu_ms
    );

    // A few unrelated queries first, so the figures are not those of a
    // cold connection pool.
    for q in catalog.queries(20, 99) {
        api.search(&q).await;
    }
    let mut times = Vec::with_capacity(QUERIES);
    let mut counts = Vec::with_capacity(QUERIES);
    let mut each = Vec::with_capacity(QUERIES);
    for q in catalog.queries(QUERIES, 1) {
        let (took, count) = api.search(&q).await;
        times.push(took);
        counts.push(count);
        each.push((took, count, q));
    }
    each.sort_by_key(|e| std::cmp::Reverse(e.0));
    times.sort();
    counts.sort_unstable();
    let p99 = percentile(&times, 99.0);
    println!(
        "  ?q= (limit 50, count included), {QUERIES} queries of 1-3 title words: {}   (budget: p99 <= 10 ms: {})",
        spread(&times),
        if ms(p99) <= 10.0 { "met" } else { "MISSED" }
    );
    println!(
        "  matches per query: median {}, largest {}, {} queries over 100,000",
        counts[counts.len() / 2],
        counts[counts.len() - 1],
        counts.iter().filter(|&&c| c > 100_000).count()
    );
    let slowest: Vec<String> = each
        .iter()
        .take(5)
        .map(|(took, count, q)| format!("{:.1} ms {q:?} ({count})", ms(*took)))
        .collect();
    println!("  slowest: {}", slowest.join(", "));

    // The plain lists on the same catalog: their count and page must not
    // cost what the catalog holds either.
    let mut lists = Vec::new();
    let big_author = big.to_string();
    for (name, query) in [
        ("newest", vec![]),
        ("available=true", vec![("available", "true")]),
        ("available=false", vec![("available", "false")]),
        ("author=<big author>", vec![("author", big_author.as_str())]),
    ] {
        let mut times: Vec<Duration> = Vec::with_capacity(LIST_RUNS);
        for _ in 0..LIST_RUNS {
            times.push(api.books_page(&query).await.0);
        }
        times.sort();
        lists.push(format!(
            "{name} {:.2} / {:.2} ms",
            ms(percentile(&times, 50.0)),
            ms(times[times.len() - 1])
        ));
    }
    println!(
        "  GET /api/books/?limit=50 (count included), median / max of {LIST_RUNS}: {}",
        lists.join(", ")
    );

    let mut imports = Vec::with_capacity(TIMED_IMPORTS);
    for run in 0..TIMED_IMPORTS {
        let items: Vec<Value> = (0..IMPORT)
            .map(|i| {
                let n = BOOKS + run * IMPORT + i;
                json!({"title": catalog.title(n as u64), "author_id": others[n % OTHER_AUTHORS], "isbn": isbn(n)})
            })
            .collect();
        imports.push(api.import(&items).await);
    }
    imports.sort();
    let median = percentile(&imports, 50.0);
    println!(
        "  bulk import of {IMPORT} on the full catalog ({TIMED_IMPORTS} runs): min {:.0} ms   median {:.0} ms   max {:.0} ms   (budget: < 1000 ms: {})",
        ms(imports[0]),
        ms(median),
        ms(imports[imports.len() - 1]),
        if ms(median) < 1000.0 { "met" } else { "MISSED" }
    );
    println!("  server peak RSS: {:.1} MiB", server.peak_rss_mib());
}

/// What `CLIENTS` closed-loop clients creating books for `CREATING` got.
struct Creations {
    per_second: f64,
    /// The server's CPU time over the run, divided by the books created.
    cpu_ms: f64,
}

async fn creations(server: &Server, creator: &BookCreator) -> Creations {
    let cpu_before = server.cpu_time();
    let run = closed_loop(creator, CLIENTS, CREATING, usize::MAX).await;
    Creations {
        per_second: run.per_second(),
        cpu_ms: server.cpu_ms_per(cpu_before, run.created.len()),
    }
}

/// A unique, well-formed ISBN-13 for book `i`, hyphenated like real ones.
fn isbn(i: usize) -> String {
    let digits = format!("{:010}", i);
    format!("978-{}-{}-{}", &digits[..1], &digits[1..5], &digits[5..])
}

struct Api<'a> {
    client: &'a reqwest::Client,
    base: &'a str,
    token: &'a str,
}

impl Api<'_> {
    async fn author(&self, name: &str) -> i64 {
        let author: Value = self
            .client
            .post(format!("{}/api/authors/", self.base))
            .bearer_auth(self.token)
            .json(&json!({ "name": name }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("an author")
            .json()
            .await
            .expect("JSON");
        author["id"].as_i64().expect("an author id")
    }

    async fn import(&self, items: &[Value]) -> Duration {
        let body = serde_json::to_vec(items).expect("serialise");
        let started = Instant::now();
        let response = self
            .client
            .post(format!("{}/api/books/bulk-import/", self.base))
            .bearer_auth(self.token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the import request");
        let status = response.status();
        let text = response.text().await.unwrap_or_default();
        let took = started.elapsed();
        assert_eq!(status, 201, "the import succeeds: {text:.300}");
        took
    }

    /// One page of `GET /api/books/` (limit 50, plus `query`) as a client
    /// sees it: the time to the whole answer, and the count it reports.
    async fn books_page(&self, query: &[(&str, &str)]) -> (Duration, i64) {
        let started = Instant::now();
        let response = self
            .client
            .get(format!("{}/api/books/", self.base))
            .query(&[("limit", "50")])
            .query(query)
            .send()
            .await
            .expect("the list request");
        let status = response.status();
        let body: Value = response.json().await.expect("JSON");
        let took = started.elapsed();
        assert_eq!(status, 200, "the list answers: {body}");
        (took, body["count"].as_i64().expect("a count"))
    }

    async fn search(&self, q: &str) -> (Duration, i64) {
        let (took, count) = self.books_page(&[("q", q)]).await;
        assert!(count > 0, "a query taken from a title finds it: {q:?}");
        (took, count)
    }
}

/// The seeded titles, and the vocabulary they are made of.
struct Catalog {
    vocabulary: Vec<String>,
    /// Cumulative Zipf weights of the vocabulary, for sampling.
    cumulative: Vec<f64>,
    titles: Vec<String>,
}

impl Catalog {
    fn new() -> Self {
        const SYLLABLES: [&str; 24] = [
            "ka", "lo", "mi", "nu", "re", "sa", "ti", "vo", "an", "el", "or", "ud", "ber", "tan",
            "dor", "fel", "gri", "mon", "pal", "qui", "ros", "sil", "thu", "wen",
        ];
        let mut rng = Rng(0x5eed_0f5e_a7c4);
        let mut vocabulary = Vec::new();
        let mut seen = std::collections::HashSet::new();
        while vocabulary.len() < 3_000 {
            let syllables = 1 + rng.below(3);
            let word: String = (0..syllables)
                .map(|_| SYLLABLES[rng.below(SYLLABLES.len())])
                .collect();
            if seen.insert(word.clone()) {
                vocabulary.push(word);
            }
        }
        let mut total = 0.0;
        let cumulative = (1..=vocabulary.len())
            .map(|rank| {
                total += 1.0 / rank as f64;
                total
            })
            .collect();
        let mut catalog = Self {
            vocabulary,
            cumulative,
            titles: Vec::new(),
        };
        catalog.titles = (0..BOOKS as u64).map(|i| catalog.title(i)).collect();
        catalog
    }

    /// Title `i`: one to five capitalised words, the same on every run.
    fn title(&self, i: u64) -> String {
        let mut rng = Rng(i.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
        let words = 1 + rng.below(5);
        (0..words)
            .map(|_| {
                let word = self.word(&mut rng);
                let mut chars = word.chars();
                chars.next().map_or_else(String::new, |first| {
                    first.to_uppercase().chain(chars).collect()
                })
            })
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn word(&self, rng: &mut Rng) -> &str {
        let total = self.cumulative[self.cumulative.len() - 1];
        let target = rng.unit() * total;
        let rank = self.cumulative.partition_point(|&c| c < target);
        &self.vocabulary[rank.min(self.vocabulary.len() - 1)]
    }

    fn author_name(&self, i: usize) -> String {
        format!(
            "Author{i} {}",
            self.vocabulary[(i * 7) % self.vocabulary.len()]
        )
    }

    /// `n` queries of one to three consecutive words of random titles.
    fn queries(&self, n: usize, seed: u64) -> Vec<String> {
        let mut rng = Rng(seed.wrapping_mul(0x2545_f491_4f6c_dd1d) | 1);
        (0..n)
            .map(|_| {
                let title = &self.titles[rng.below(self.titles.len())];
                let words: Vec<&str> = title.split(' ').collect();
                let take = 1 + rng.below(3.min(words.len()));
                let start = rng.below(words.len() - take + 1);
                words[start..start + take].join(" ")
            })
            .collect()
    }
}

/// xorshift64*: deterministic figures without a dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1_u64 << 53) as f64
    }
}
