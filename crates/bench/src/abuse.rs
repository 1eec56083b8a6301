//! Issue 7's abuse limits, measured: what a flood of logins does to other
//! requests (with the password-hashing slots bounded, as by default, and
//! effectively unbounded, as before them), whether a login's time tells if
//! the user exists, and the server's memory under concurrent reads of large
//! events.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::server::Server;
use crate::stats::{ms, percentile};

const FLOODERS: usize = 16;
const PROBES: usize = 200;

pub async fn run() {
    println!("\n## Abuse limits (issue 7)");
    login_flood("default password workers (half the cores)", &[]).await;
    login_flood(
        "64 password workers (no bound, as before)",
        &[("LIBRIS_PASSWORD_WORKERS", "64")],
    )
    .await;
    login_timing().await;
    large_reads().await;
}

/// The latency of `GET /api/books/` alone, then while `FLOODERS` clients
/// send wrong passwords for an existing user from ever-new addresses (as a
/// distributed guesser would, so the per-address throttle does not apply).
async fn login_flood(label: &str, env: &[(&str, &str)]) {
    let mut env = env.to_vec();
    env.push(("LIBRIS_TRUSTED_PROXIES", "127.0.0.1"));
    let server = Server::start(&env).await;
    let client = reqwest::Client::new();
    let idle = probe_latency(&client, &server).await;
    let stop = Arc::new(AtomicBool::new(false));
    let attempts = Arc::new(AtomicUsize::new(0));
    let flooders: Vec<_> = (0..FLOODERS)
        .map(|n| {
            let (client, base) = (client.clone(), server.base.clone());
            let (stop, attempts) = (Arc::clone(&stop), Arc::clone(&attempts));
            tokio::spawn(async move {
                let mut i = 0u32;
                while !stop.load(Ordering::Relaxed) {
                    i += 1;
                    let source = format!("10.{n}.{}.{}", i / 250 % 250, i % 250 + 1);
                    let _ = client
                        .post(format!("{base}/api/auth/token/"))
                        .header("x-forwarded-for", source)
                        .json(&json!({"username": crate::server::ADMIN.0, "password": "guess"}))
                        .send()
                        .await;
                    attempts.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let started = Instant::now();
    let before = attempts.load(Ordering::Relaxed);
    let flooded = probe_latency(&client, &server).await;
    let rate = (attempts.load(Ordering::Relaxed) - before) as f64 / started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for flooder in flooders {
        let _ = flooder.await;
    }
    println!("  login flood, {label}: {FLOODERS} clients guessing, {rate:.0} logins/s answered");
    println!(
        "    GET /api/books/ median {:.1} ms, p95 {:.1} ms alone; median {:.1} ms, p95 {:.1} ms during the flood",
        ms(percentile(&idle, 50.0)),
        ms(percentile(&idle, 95.0)),
        ms(percentile(&flooded, 50.0)),
        ms(percentile(&flooded, 95.0)),
    );
}

async fn probe_latency(client: &reqwest::Client, server: &Server) -> Vec<Duration> {
    let mut times = Vec::with_capacity(PROBES);
    for _ in 0..PROBES {
        let started = Instant::now();
        let response = client
            .get(format!("{}/api/books/", server.base))
            .send()
            .await
            .expect("a list");
        assert!(response.status().is_success());
        let _ = response.bytes().await;
        times.push(started.elapsed());
    }
    times.sort();
    times
}

/// Median time of a wrong-password login for the admin and for a name that
/// does not exist, one at a time, each from its own address.
async fn login_timing() {
    let server = Server::start(&[("LIBRIS_TRUSTED_PROXIES", "127.0.0.1")]).await;
    let client = reqwest::Client::new();
    let median = |username: &'static str, first: u32| {
        let (client, base) = (client.clone(), server.base.clone());
        async move {
            let mut times = Vec::new();
            for i in first..first + 40 {
                let started = Instant::now();
                let response = client
                    .post(format!("{base}/api/auth/token/"))
                    .header(
                        "x-forwarded-for",
                        format!("10.9.{}.{}", i / 250, i % 250 + 1),
                    )
                    .json(&json!({"username": username, "password": "guess"}))
                    .send()
                    .await
                    .expect("a login");
                assert_eq!(response.status(), 401);
                times.push(started.elapsed());
            }
            times.sort();
            percentile(&times, 50.0)
        }
    };
    let known = median(crate::server::ADMIN.0, 0).await;
    let unknown = median("nobody-by-this-name", 1000).await;
    println!(
        "  wrong-password login, median of 40: {:.1} ms for an existing user, {:.1} ms for an unknown one",
        ms(known),
        ms(unknown)
    );
}

/// Peak memory while 16 clients read pages of 500 large custom events.
async fn large_reads() {
    let server = Server::start(&[]).await;
    let client = reqwest::Client::new();
    let token = server.token(&client).await;
    let note = "x".repeat(60 * 1024);
    for i in 0..500 {
        client
            .post(format!("{}/api/events/", server.base))
            .bearer_auth(&token)
            .json(&json!({"event": "bench.large", "data": {"i": i, "note": note}}))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .expect("a custom event");
    }
    let before = server.peak_rss_mib();
    let started = Instant::now();
    let readers: Vec<_> = (0..16)
        .map(|_| {
            let (client, base, token) = (client.clone(), server.base.clone(), token.clone());
            tokio::spawn(async move {
                let mut bytes = 0;
                for _ in 0..10 {
                    let body = client
                        .get(format!("{base}/api/events/?limit=500"))
                        .bearer_auth(&token)
                        .send()
                        .await
                        .and_then(|r| r.error_for_status())
                        .expect("a page")
                        .bytes()
                        .await
                        .expect("its body");
                    bytes += body.len();
                }
                bytes
            })
        })
        .collect();
    let mut total = 0;
    for reader in readers {
        total += reader.await.expect("a reader");
    }
    println!(
        "  500 events of 60 KiB, 16 clients x 10 pages of ?limit=500: {:.0} MiB read in {:.1} s; \
         peak RSS {before:.0} MiB before, {:.0} MiB after",
        total as f64 / 1_048_576.0,
        started.elapsed().as_secs_f64(),
        server.peak_rss_mib()
    );
}
