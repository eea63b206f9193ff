//! Alert evaluation benchmark: a fleet of active SIMs with daily usage, quotas and connectivity,
//! then every rule evaluated over the whole fleet (`Store::evaluate_alerts`), timed.
//!
//! `cargo run --release -p simfleet-bench --bin alerts-eval -- --database-url URL --sims 100000 --days 180`

use anyhow::Context;
use chrono::{Days, TimeDelta, Utc};
use clap::Parser;
use simfleet_domain::{EventKind, SimStatus};
use simfleet_store::{Connectivity, DailyUsage, NewSim, PageRequest, Quota, SimFilter, Store, StoreOptions};
use std::time::Instant;

#[derive(Parser)]
struct Args {
    #[arg(long, env = "SIMFLEET_DATABASE_URL")]
    database_url: String,
    #[arg(long, default_value_t = 100_000)]
    sims: u64,
    #[arg(long, default_value_t = 180)]
    days: u64,
    /// Evaluations to time after the first (which opens the alerts).
    #[arg(long, default_value_t = 3)]
    repeat: u32,
}

/// A deterministic pseudo-random number in `[0, 1)` for (SIM, salt).
fn unit(id: i64, salt: i64) -> f64 {
    let mut x = (id as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ (salt as u64).wrapping_mul(0xC2B2_AE3D_27D4_EB4F);
    x ^= x >> 31;
    x = x.wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x ^= x >> 29;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let store = Store::connect(&args.database_url, &StoreOptions::default()).await.context("open database")?;
    store.migrate().await?;
    let filter = SimFilter { statuses: vec![SimStatus::Active], ..Default::default() };
    if (store.count_sims(&filter).await? as u64) < args.sims {
        let start = Instant::now();
        seed(&store, &args).await?;
        println!("seeded {} SIMs × {} days in {:.0} s", args.sims, args.days, start.elapsed().as_secs_f64());
    }
    let mut times = Vec::new();
    for i in 0..=args.repeat {
        let start = Instant::now();
        let outcome = store.evaluate_alerts(simfleet_store::now()).await?;
        let secs = start.elapsed().as_secs_f64();
        println!(
            "evaluation {i}: {secs:.2} s (opened {}, resolved {}, active {}, notifications {})",
            outcome.opened, outcome.resolved, outcome.active, outcome.notifications_queued
        );
        times.push(secs);
    }
    let worst = times.iter().copied().fold(0.0, f64::max);
    println!("all rules over {} SIMs with {} days of usage: worst {worst:.2} s", args.sims, args.days);
    Ok(())
}

async fn seed(store: &Store, args: &Args) -> anyhow::Result<()> {
    let sims: Vec<NewSim> = (0..args.sims)
        .map(|n| {
            let payload = format!("8988{:014}", 40_000_000 + n);
            let mut sim = NewSim::available(format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload)));
            sim.status = SimStatus::Active;
            sim
        })
        .collect();
    for chunk in sims.chunks(100_000) {
        store.create_sims_bulk(chunk, EventKind::Created, None, "bench").await?;
    }
    let mut ids = Vec::new();
    let mut cursor: Option<String> = None;
    let filter = SimFilter { statuses: vec![SimStatus::Active], ..Default::default() };
    loop {
        let page = store
            .list_sims(
                &filter,
                Default::default(),
                PageRequest { limit: 1000, cursor: cursor.as_deref(), with_total: false },
            )
            .await?;
        ids.extend(page.items.iter().map(|s| s.id));
        match page.next_cursor {
            Some(c) if (ids.len() as u64) < args.sims => cursor = Some(c),
            _ => break,
        }
    }
    ids.truncate(args.sims as usize);
    let today = Utc::now().date_naive();
    let now = simfleet_store::now();
    // Daily use: a per-SIM level with daily noise; 1 % of SIMs spike yesterday.
    for chunk in ids.chunks(500) {
        let mut rows = Vec::with_capacity(chunk.len() * args.days as usize);
        for id in chunk {
            let level = 200_000.0 + 4_000_000.0 * unit(*id, 1);
            for d in 0..args.days {
                let mut v = (level * (0.5 + unit(*id, 100 + d as i64))) as i64;
                if d == 1 && unit(*id, 2) < 0.01 {
                    v *= 20;
                }
                rows.push((
                    *id,
                    DailyUsage {
                        day: today - Days::new(d),
                        data_rx: v / 2,
                        data_tx: v - v / 2,
                        data_total: v,
                        sms_mo: 0,
                        sms_mt: 0,
                    },
                ));
            }
        }
        store.upsert_usage(&rows).await?;
    }
    store.refresh_usage_rollups(today - Days::new(args.days)).await?;
    let mut quotas = Vec::with_capacity(ids.len() * 2);
    let mut links = Vec::with_capacity(ids.len());
    for id in &ids {
        let total = 500 * 1_048_576;
        let remaining = (total as f64 * (unit(*id, 3) * 1.2 - 0.1)) as i64;
        let quota = |kind: &str, remaining: i64, total: i64| Quota {
            kind: kind.into(),
            remaining,
            total: Some(total),
            expiry_date: Some(today + Days::new((unit(*id, 4) * 3650.0) as u64)),
            last_added: Some(total),
            threshold_percentage: Some(20),
            updated_at: now,
        };
        quotas.push((*id, quota("data", remaining, total)));
        quotas.push((*id, quota("sms", (250.0 * unit(*id, 5)) as i64, 250)));
        let hours =
            if unit(*id, 6) < 0.1 { 24 * (2 + (unit(*id, 7) * 30.0) as i64) } else { (unit(*id, 7) * 20.0) as i64 };
        links.push((
            *id,
            Connectivity {
                status: if hours > 24 { "OFFLINE".into() } else { "ONLINE".into() },
                operator: None,
                country: None,
                rat: None,
                last_seen_at: Some(now - TimeDelta::hours(hours)),
                updated_at: now,
            },
        ));
    }
    store.upsert_quotas(&quotas).await?;
    store.upsert_connectivity(&links).await?;
    Ok(())
}
