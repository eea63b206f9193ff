//! Usage ingestion benchmark: upserts SIMS × DAYS daily usage rows through the store's batch
//! path (the one the usage sync uses) and reports rows per second.
//!
//! `cargo run --release -p simfleet-bench --bin usage-ingest -- --database-url URL --sims 10000 --days 180`

use anyhow::Context;
use chrono::{Days, Utc};
use clap::Parser;
use simfleet_domain::EventKind;
use simfleet_store::{DailyUsage, NewSim, SimFilter, Store, StoreOptions};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, env = "SIMFLEET_DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 10_000)]
    sims: u64,
    #[arg(long, default_value_t = 180)]
    days: u64,
    /// Rows per call of the store (the usage sync writes ~500 SIMs' rows at a time).
    #[arg(long, default_value_t = 90_000)]
    batch: usize,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Store::connect(&args.database_url, &StoreOptions::default()).await.context("open database")?;
    store.migrate().await?;
    if (store.count_sims(&SimFilter::default()).await? as u64) < args.sims {
        let sims: Vec<NewSim> = (0..args.sims)
            .map(|n| {
                let payload = format!("8988{:014}", 20_000_000 + n);
                NewSim::available(format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload)))
            })
            .collect();
        store.create_sims_bulk(&sims, EventKind::Created, None, "bench").await?;
    }
    // Every SIM id once, page by page.
    let mut all_ids = Vec::new();
    let mut cursor: Option<String> = None;
    while (all_ids.len() as u64) < args.sims {
        let page = store
            .list_sims(
                &SimFilter::default(),
                Default::default(),
                simfleet_store::PageRequest { limit: 1000, cursor: cursor.as_deref(), with_total: false },
            )
            .await?;
        all_ids.extend(page.items.iter().map(|s| s.id));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => break,
        }
    }
    all_ids.truncate(args.sims as usize);
    let today = Utc::now().date_naive();
    let rows: Vec<(i64, DailyUsage)> = all_ids
        .iter()
        .flat_map(|id| {
            (0..args.days).map(move |d| {
                let v = (*id * 7919 + d as i64 * 104_729) % 5_000_000;
                (
                    *id,
                    DailyUsage {
                        day: today - Days::new(d),
                        data_rx: v,
                        data_tx: v / 3,
                        data_total: v + v / 3,
                        sms_mo: d as i64 % 3,
                        sms_mt: 1,
                    },
                )
            })
        })
        .collect();
    let start = Instant::now();
    for chunk in rows.chunks(args.batch) {
        store.upsert_usage(chunk).await?;
    }
    let secs = start.elapsed().as_secs_f64();
    println!(
        "upserted {} daily rows in {secs:.1} s: {:.0} rows/s ({} SIMs × {} days, batches of {})",
        rows.len(),
        rows.len() as f64 / secs,
        all_ids.len(),
        args.days,
        args.batch
    );
    let start = Instant::now();
    store.refresh_usage_rollups(today - Days::new(args.days)).await?;
    println!("rollups recomputed in {:.1} s", start.elapsed().as_secs_f64());
    Ok(())
}
