//! `make bench`: runs the release binary and prints figures. These are
//! measurements, not pass/fail tests; compare them with the budgets in the
//! issues.

mod abuse;
mod brokers;
mod campaigns;
mod import;
mod receiver;
mod search;
mod server;
mod stats;
mod webhooks;

#[tokio::main]
async fn main() {
    println!(
        "libris benchmarks (release build, SQLite, this machine: {} cores)",
        cores()
    );
    if selected("import") {
        import::run().await;
    }
    if selected("abuse") {
        abuse::run().await;
    }
    if selected("search") {
        search::run().await;
    }
    if selected("campaigns") {
        campaigns::run().await;
    }
    webhooks::run().await;
    if selected("brokers") {
        brokers::run().await;
    }
}

/// Whether a scenario runs: all by default, or those named in `LIBRIS_BENCH`
/// (comma-separated: import, abuse, search, throughput, latency, fanout, isolation,
/// full-load, instances, brokers, campaigns).
fn selected(scenario: &str) -> bool {
    std::env::var("LIBRIS_BENCH").map_or(true, |only| only.split(',').any(|s| s.trim() == scenario))
}

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}
