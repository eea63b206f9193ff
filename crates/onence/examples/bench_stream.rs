//! Benchmark: stream every SIM of an in-process simulator and fetch N days of usage for each,
//! over loopback; then the same with a client-side rate limit against a simulator enforcing
//! the same limit (target: ≥ 95 % of the allowed rate, zero 429s).
//!
//! ```text
//! cargo run --release -p onence --example bench_stream -- --sims 100000 --days 30
//! cargo run --release -p onence --example bench_stream -- --sims 2000 --rate-limit 50 --rate-limited-requests 500
//! ```

use std::time::{Duration, Instant};

use chrono::Duration as Days;
use clap::Parser;
use futures::{StreamExt, TryStreamExt};
use onence::{Client, ClientConfig};
use onence_sim::{Faults, SimConfig};

#[derive(Parser, Debug)]
#[command(about = "Stream all SIMs and their usage from an in-process 1NCE simulator")]
struct Args {
    /// SIMs in the simulated fleet.
    #[arg(long, default_value_t = 100_000)]
    sims: usize,
    /// Days of usage fetched per SIM.
    #[arg(long, default_value_t = 30)]
    days: i64,
    /// Page size of the SIM listing (max 100).
    #[arg(long, default_value_t = 100)]
    page_size: u32,
    /// Requests in flight.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Rate limit (req/s) for the second run, applied by the client and enforced by the simulator.
    #[arg(long, default_value_t = 50)]
    rate_limit: u32,
    /// Usage requests made in the rate-limited run (0 skips it).
    #[arg(long, default_value_t = 500)]
    rate_limited_requests: usize,
    /// Skip the unlimited run.
    #[arg(long)]
    only_rate_limited: bool,
    #[arg(long, default_value_t = 42)]
    seed: u64,
}

fn client(base: &str, rate: Option<u32>, concurrency: usize) -> Client {
    let mut cfg = ClientConfig::new(base, onence_sim::DEFAULT_CLIENT_ID, onence_sim::DEFAULT_CLIENT_SECRET);
    cfg.rate_limit_per_sec = rate;
    cfg.pool_max_idle_per_host = concurrency.max(8);
    Client::new(cfg).expect("client")
}

async fn usage_for(
    client: &Client,
    iccids: &[String],
    days: i64,
    concurrency: usize,
    today: chrono::NaiveDate,
) -> (usize, i64) {
    let results: Vec<(usize, i64)> = futures::stream::iter(iccids.iter().cloned())
        .map(|iccid| {
            let c = client.clone();
            async move {
                let u = c.get_usage(&iccid, Some(today - Days::days(days - 1)), Some(today)).await.expect("usage");
                let bytes: i64 = u
                    .stats
                    .iter()
                    .filter_map(|d| d.data.as_ref())
                    .map(|d| d.volume_bytes().expect("volume").unwrap_or(0))
                    .sum();
                (u.stats.len(), bytes)
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    results.into_iter().fold((0, 0), |(d, b), (d2, b2)| (d + d2, b + b2))
}

#[tokio::main]
async fn main() {
    let args = Args::parse();
    let t0 = Instant::now();
    let sim =
        onence_sim::spawn(SimConfig::new(args.sims, args.seed), "127.0.0.1:0".parse::<std::net::SocketAddr>().unwrap())
            .await
            .expect("simulator");
    let today = sim.state().today();
    println!("simulator: {} SIMs generated in {:.2?} at {}", args.sims, t0.elapsed(), sim.base_url());

    if !args.only_rate_limited {
        let c = client(sim.base_url(), None, args.concurrency);
        c.authenticate().await.expect("token");
        sim.reset_counters();
        let t = Instant::now();
        let sims: Vec<_> = c.stream_sims(args.page_size, args.concurrency).try_collect().await.expect("stream");
        let secs = t.elapsed().as_secs_f64();
        let reqs = sim.counters().requests;
        assert_eq!(sims.len(), args.sims, "complete listing");
        println!(
            "stream_sims      : {:>7} SIMs, {:>6} requests in {:>6.2} s → {:>9.0} SIMs/s, {:>7.0} req/s",
            sims.len(),
            reqs,
            secs,
            sims.len() as f64 / secs,
            reqs as f64 / secs
        );

        let iccids: Vec<String> = sims.iter().filter_map(|s| s.iccid.clone()).collect();
        sim.reset_counters();
        let t = Instant::now();
        let (days, bytes) = usage_for(&c, &iccids, args.days, args.concurrency, today).await;
        let secs = t.elapsed().as_secs_f64();
        let reqs = sim.counters().requests;
        println!(
            "usage_{}d        : {:>7} SIMs, {:>6} requests in {:>6.2} s → {:>9.0} SIMs/s, {:>7.0} req/s ({} daily records, {:.1} GiB total data)",
            args.days,
            iccids.len(),
            reqs,
            secs,
            iccids.len() as f64 / secs,
            reqs as f64 / secs,
            days,
            bytes as f64 / (1u64 << 30) as f64
        );
        println!("client metrics   : {:?}", c.metrics());
    }

    if args.rate_limited_requests > 0 {
        let rate = args.rate_limit;
        sim.set_faults(Faults { rate_limit_per_sec: Some(rate), ..Faults::default() });
        // let the simulator's 1 s burst allowance fill, then measure the steady state only
        tokio::time::sleep(Duration::from_millis(1100)).await;
        let c = client(sim.base_url(), Some(rate), args.concurrency);
        sim.reset_counters();
        let t = Instant::now();
        let first_page = c
            .list_sims(&onence::models::SimListQuery { page_size: Some(args.page_size), ..Default::default() })
            .await
            .expect("page");
        let iccids: Vec<String> =
            first_page.items.iter().filter_map(|s| s.iccid.clone()).cycle().take(args.rate_limited_requests).collect();
        usage_for(&c, &iccids, args.days, args.concurrency, today).await;
        let secs = t.elapsed().as_secs_f64();
        let counters = sim.counters();
        // n evenly spaced requests span n - 1 intervals
        let achieved = counters.requests.saturating_sub(1) as f64 / secs;
        println!(
            "rate_limited     : {} requests (incl. token + first page) in {:.2} s → {:.2} req/s of {} allowed ({:.1} %), 429s: server {} / client {}",
            counters.requests,
            secs,
            achieved,
            rate,
            100.0 * achieved / f64::from(rate),
            counters.rate_limited,
            c.metrics().rate_limited
        );
    }
    sim.shutdown().await;
}
