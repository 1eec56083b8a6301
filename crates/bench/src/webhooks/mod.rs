//! Webhook delivery figures of the real pipeline (`libris serve`: outbox →
//! fan-out → claim → signed POST → record) against local receivers on
//! loopback. Each scenario starts its own server on a fresh SQLite file so
//! figures do not bleed into each other; the bench's clients, its receivers
//! and the server share this machine's cores.

mod analysis;
mod fanout;
mod full_load;
pub(crate) mod harness;
mod instances;
mod isolation;
mod latency;
pub(crate) mod load;
mod throughput;

/// The memory budget for the server process.
const RSS_BUDGET_MIB: f64 = 50.0;

pub async fn run() {
    let scenarios = [
        "throughput",
        "isolation",
        "full-load",
        "latency",
        "fanout",
        "instances",
    ];
    if !scenarios.iter().any(|s| crate::selected(s)) {
        return;
    }
    println!("\n# Webhook delivery (`make bench`; server with LIBRIS_WEBHOOK_ALLOW_PRIVATE=true, RUST_LOG=warn)");
    let mut peaks = Vec::new();
    if ["throughput", "isolation", "full-load"]
        .iter()
        .any(|s| crate::selected(s))
    {
        let baseline = throughput::run(&mut peaks).await;
        if crate::selected("isolation") {
            isolation::run(&baseline, &mut peaks).await;
        }
        if crate::selected("full-load") {
            full_load::run(baseline.per_second).await;
        }
    }
    if crate::selected("latency") {
        latency::run(&mut peaks).await;
    }
    if crate::selected("fanout") {
        fanout::run(&mut peaks).await;
    }
    if !peaks.is_empty() {
        print_peaks(&peaks);
    }
    if crate::selected("instances") {
        instances::run().await;
    }
}

/// A scenario's server peak resident memory (VmHWM), in MiB.
pub struct Peak {
    scenario: &'static str,
    mib: f64,
}

fn verdict(met: bool) -> &'static str {
    if met {
        "met"
    } else {
        "MISSED"
    }
}

fn section(title: &str) {
    println!("\n## {title}   (command: make bench)");
}

/// Prints a scenario's peak RSS and keeps it for the summary.
fn record_peak(peaks: &mut Vec<Peak>, scenario: &'static str, mib: f64) {
    println!(
        "  server peak RSS (VmHWM): {mib:.1} MiB   (budget ≤ {RSS_BUDGET_MIB:.0} MiB: {})",
        verdict(mib <= RSS_BUDGET_MIB)
    );
    peaks.push(Peak { scenario, mib });
}

fn print_peaks(peaks: &[Peak]) {
    section("5. Server peak RSS over the webhook scenarios");
    println!("  one fresh server per scenario; VmHWM of the `libris serve` process when the scenario ends");
    for peak in peaks {
        println!(
            "  {:<44} {:>6.1} MiB   (budget ≤ {RSS_BUDGET_MIB:.0} MiB: {})",
            peak.scenario,
            peak.mib,
            verdict(peak.mib <= RSS_BUDGET_MIB)
        );
    }
    let max = peaks.iter().map(|p| p.mib).fold(f64::NAN, f64::max);
    println!(
        "  highest: {max:.1} MiB   (budget ≤ {RSS_BUDGET_MIB:.0} MiB: {})",
        verdict(max <= RSS_BUDGET_MIB)
    );
}
