//! Issue 3's budget: a bulk import of 10,000 books completes in under 1 s on
//! SQLite, in one transaction, with the server's memory bounded.

use std::time::Instant;

use serde_json::{json, Value};

use crate::server::Server;
use crate::stats::{ms, percentile};

const ITEMS: usize = 10_000;
const RUNS: usize = 5;

pub async fn run() {
    let server = Server::start(&[]).await;
    let client = reqwest::Client::new();
    let token = server.token(&client).await;
    let rss_before = server.peak_rss_mib();
    let mut times = Vec::with_capacity(RUNS);
    for run in 0..RUNS {
        let author: Value = client
            .post(format!("{}/api/authors/", server.base))
            .bearer_auth(&token)
            .json(&json!({"name": format!("Bench author {run}")}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("an author")
            .json()
            .await
            .expect("JSON");
        let items: Vec<Value> = (0..ITEMS)
            .map(|i| {
                json!({"title": format!("Bench book {run}-{i}"), "author_id": author["id"],
                       "isbn": format!("{:013}", run * ITEMS + i)})
            })
            .collect();
        let body = serde_json::to_vec(&items).expect("serialise");
        let started = Instant::now();
        let response = client
            .post(format!("{}/api/books/bulk-import/", server.base))
            .bearer_auth(&token)
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("the import request");
        let status = response.status();
        let _ = response.bytes().await;
        times.push(started.elapsed());
        assert_eq!(status, 201, "the import succeeds");
    }
    times.sort();
    println!("\n## Bulk import of {ITEMS} books over HTTP ({RUNS} runs, each one transaction)");
    println!(
        "  min {:.0} ms   median {:.0} ms   max {:.0} ms   (budget: < 1000 ms)",
        ms(times[0]),
        ms(percentile(&times, 50.0)),
        ms(times[RUNS - 1])
    );
    println!(
        "  server peak RSS: {:.1} MiB before, {:.1} MiB after {} imports",
        rss_before,
        server.peak_rss_mib(),
        RUNS
    );
}
