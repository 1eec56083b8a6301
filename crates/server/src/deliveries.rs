//! `libris deliveries send | monitor | prune`: operators' commands on the
//! delivery queue, run once against the configured database.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use futures_util::future::join_all;
use libris_application::engine::{dispatch, Capacity, Dispatched};
use libris_application::webhooks::maintenance::{self, DueError, DueScope};
use libris_application::Store;
use libris_domain::delivery::Outcome;

use crate::clock::SystemClock;
use crate::config::{ChannelArgs, DatabaseArgs, DeliveriesCommand};
use crate::startup::{open_store, Pipeline};
use crate::workers::Wake;

pub async fn run(database: &DatabaseArgs, command: &DeliveriesCommand) -> anyhow::Result<ExitCode> {
    let store: Arc<dyn Store> = Arc::new(
        open_store(
            &database.database_url,
            database.pool_size(),
            &Arc::new(Wake::default()),
        )
        .await?,
    );
    let clock = Arc::new(SystemClock);
    match command {
        DeliveriesCommand::Send {
            webhook,
            deliveries,
            settings,
        } => {
            let scope = DueScope {
                webhook: *webhook,
                deliveries: deliveries.clone(),
            };
            send(store, clock, settings, scope).await
        }
        DeliveriesCommand::Monitor {
            status,
            limit,
            minutes,
        } => {
            let window = std::time::Duration::from_secs(minutes * 60);
            let status = *status;
            let count =
                blocking(move || maintenance::count_recent(&*store, &*clock, status, window))
                    .await?;
            let verdict = if count > *limit { "over" } else { "within" };
            println!("{count} {} deliveries in the last {minutes} minutes: {verdict} the limit of {limit}", status.as_str());
            Ok(if count > *limit {
                ExitCode::FAILURE
            } else {
                ExitCode::SUCCESS
            })
        }
        DeliveriesCommand::Prune { older_than } => {
            let age = *older_than;
            let pruned = blocking(move || maintenance::prune(&*store, &*clock, age)).await?;
            println!(
                "pruned {} deliveries, {} attempt logs and {} notifications",
                pruned.deliveries, pruned.attempts, pruned.notifications
            );
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T, libris_application::StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    Ok(tokio::task::spawn_blocking(work).await??)
}

/// Makes the scope due, then dispatches events and sends until nothing is
/// due: each delivery gets at most one attempt, whose retries wait for the
/// workers. An id that names nothing is a usage error (exit status 2).
async fn send(
    store: Arc<dyn Store>,
    clock: Arc<SystemClock>,
    channels: &ChannelArgs,
    scope: DueScope,
) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::new(Arc::clone(&store), channels)?;
    let args = &channels.webhooks;
    pipeline.register().await?;
    let queued = {
        let (store, clock) = (Arc::clone(&store), Arc::clone(&clock));
        tokio::task::spawn_blocking(move || maintenance::make_due(&*store, &*clock, &scope)).await?
    };
    let queued = match queued {
        Ok(queued) => queued,
        Err(DueError::Store(error)) => return Err(error.into()),
        Err(unknown) => {
            eprintln!("error: {unknown}");
            return Ok(ExitCode::from(2));
        }
    };
    println!("{queued} deliveries due now");
    let mut outcomes: HashMap<&'static str, usize> = HashMap::new();
    let capacity = Capacity::idle(
        args.webhook_concurrency.max(1),
        args.webhook_endpoint_concurrency.max(1),
    );
    loop {
        for consumer in &pipeline.consumers {
            loop {
                let (s, c, consumer) =
                    (Arc::clone(&store), Arc::clone(&clock), Arc::clone(consumer));
                if blocking(move || dispatch(&*s, &*c, &*consumer, 500)).await?
                    == Dispatched::EmptyQueue
                {
                    break;
                }
            }
        }
        let engine = Arc::clone(&pipeline.webhooks);
        let claim = capacity.clone();
        let jobs = blocking(move || engine.claim(|| claim)).await?;
        if jobs.is_empty() {
            break;
        }
        let reports = join_all(jobs.iter().map(|job| pipeline.webhooks.send(job))).await;
        let results: Vec<_> = jobs.into_iter().zip(reports).collect();
        let engine = Arc::clone(&pipeline.webhooks);
        let results = blocking(move || engine.record(&results).map(|_| results)).await?;
        for (job, report) in &results {
            *outcomes.entry(report.outcome.name()).or_default() += 1;
            // A count says something went wrong; the reason says what.
            if report.outcome != Outcome::Delivered {
                println!(
                    "delivery {} ({}): {}: {}",
                    job.id,
                    job.message.event,
                    report.outcome.name(),
                    report.error.as_deref().unwrap_or("no reason given")
                );
            }
        }
    }
    let mut summary: Vec<_> = outcomes.into_iter().collect();
    summary.sort_unstable();
    let summary: Vec<String> = summary
        .iter()
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    println!(
        "attempts: {}",
        if summary.is_empty() {
            "none".to_owned()
        } else {
            summary.join(", ")
        }
    );
    Ok(ExitCode::SUCCESS)
}
