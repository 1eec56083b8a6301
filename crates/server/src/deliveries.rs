//! `libris deliveries send | monitor | prune`: operators' commands on the
//! delivery queue, run once against the configured database.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::Arc;

use libris_application::webhooks::maintenance::{self, DueError, DueScope};
use libris_application::webhooks::pipeline::{
    claim_deliveries, fan_out, record_attempts, Capacity, FanOut,
};
use libris_application::webhooks::Outcome;
use libris_application::{Clock, Store};
use libris_webhooks::ThreadRandom;
use tokio::task::JoinSet;

use crate::clock::SystemClock;
use crate::config::{DatabaseArgs, DeliveriesCommand, WebhookArgs};
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
                "pruned {} deliveries and {} attempt logs",
                pruned.deliveries, pruned.attempts
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

/// Makes the scope due, then fans out and sends until nothing is due: each
/// delivery gets at most one attempt, whose retries wait for the workers.
/// An id that names nothing is a usage error (exit status 2).
async fn send(
    store: Arc<dyn Store>,
    clock: Arc<SystemClock>,
    args: &WebhookArgs,
    scope: DueScope,
) -> anyhow::Result<ExitCode> {
    let pipeline = Pipeline::new(args)?;
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
    loop {
        loop {
            let (s, c) = (Arc::clone(&store), Arc::clone(&clock));
            if blocking(move || fan_out(&*s, &*c, 500)).await? == FanOut::EmptyQueue {
                break;
            }
        }
        let capacity = Capacity {
            free: args.webhook_concurrency.max(1),
            per_endpoint: args.webhook_endpoint_concurrency.max(1),
            in_flight: HashMap::new(),
        };
        let (s, c, settings) = (
            Arc::clone(&store),
            Arc::clone(&clock),
            pipeline.settings.clone(),
        );
        let jobs = blocking(move || claim_deliveries(&*s, &*c, &settings, &capacity)).await?;
        if jobs.is_empty() {
            break;
        }
        let mut sends = JoinSet::new();
        for job in jobs {
            let (transport, timestamp) = (Arc::clone(&pipeline.transport), clock.now().timestamp());
            sends.spawn(async move {
                let report = transport.send(&job.request, timestamp).await;
                (job, report)
            });
        }
        let results = sends.join_all().await;
        for (job, report) in &results {
            *outcomes.entry(report.outcome.name()).or_default() += 1;
            // A count says something went wrong; the reason says what.
            if report.outcome != Outcome::Delivered {
                println!(
                    "delivery {} ({}): {}: {}",
                    job.delivery.id,
                    job.delivery.event,
                    report.outcome.name(),
                    report.error.as_deref().unwrap_or("no reason given")
                );
            }
        }
        let (s, c, settings) = (
            Arc::clone(&store),
            Arc::clone(&clock),
            pipeline.settings.clone(),
        );
        blocking(move || record_attempts(&*s, &*c, &ThreadRandom, &settings, &results)).await?;
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
