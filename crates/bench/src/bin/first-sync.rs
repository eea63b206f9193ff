//! A full first sync of a simulated 1NCE account into an empty database: SIMs, daily usage,
//! quotas and connectivity, each job timed.
//!
//! `cargo run --release -p simfleet-bench --bin first-sync -- --database-url sqlite:///tmp/fs.db --sims 100000 --days 30`

use anyhow::Context;
use clap::Parser;
use simfleet_store::{Store, StoreOptions};
use simfleet_sync::{Job, SyncConfig, Syncer};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    /// An empty database (SQLite file or PostgreSQL).
    #[arg(long, env = "SIMFLEET_DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    sims: usize,
    /// Days of usage history the simulator serves and the first sync reads.
    #[arg(long, default_value_t = 30)]
    days: u32,
    /// Provider requests in flight at once.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Store::connect(&args.database_url, &StoreOptions::default()).await.context("open database")?;
    store.migrate().await?;

    let mut config = onence_sim::SimConfig::new(args.sims, 42);
    config.history_days = args.days;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let sim = onence_sim::spawn(config, listener).await?;
    let client = onence::Client::new(onence::ClientConfig::new(
        sim.base_url(),
        onence_sim::DEFAULT_CLIENT_ID,
        onence_sim::DEFAULT_CLIENT_SECRET,
    ))?;
    let sync_config =
        SyncConfig { concurrency: args.concurrency, usage_history_days: u64::from(args.days), ..SyncConfig::default() };
    let syncer = Syncer::new(store.clone(), client, sync_config);

    let started = Instant::now();
    println!("| job | status | items | seconds |\n|---|---|---|---|");
    for job in [Job::Sims, Job::Usage, Job::Quotas, Job::Connectivity] {
        let t = Instant::now();
        let outcome = syncer.run(job).await?;
        println!("| {} | {} | {} | {:.1} |", job.as_str(), outcome.status, outcome.items_ok, t.elapsed().as_secs_f64());
    }
    println!(
        "\nfirst sync of {} SIMs with {} days of usage: {:.1} s ({} requests to the simulator)",
        args.sims,
        args.days,
        started.elapsed().as_secs_f64(),
        sim.counters().requests
    );
    Ok(())
}
