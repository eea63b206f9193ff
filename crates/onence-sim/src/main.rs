//! `onence-sim`: run the 1NCE Management API simulator as a standalone server.

use std::net::SocketAddr;

use clap::Parser;
use onence_sim::SimConfig;

/// A stateful simulator of the 1NCE Management API.
///
/// Default credentials: client id `sim-client`, secret `sim-secret`.
#[derive(Parser, Debug)]
#[command(name = "onence-sim", version, about)]
struct Args {
    /// Address to listen on (keep it on loopback).
    #[arg(long, default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Number of SIMs in the simulated account.
    #[arg(long, default_value_t = 100)]
    sims: usize,
    /// Seed of the deterministic fleet generator.
    #[arg(long, default_value_t = 42)]
    seed: u64,
    /// Server-side rate limit in requests per second (429 + Retry-After beyond it).
    #[arg(long)]
    rate_limit: Option<u32>,
    /// Fraction (0..=1) of API requests answered with a 5xx.
    #[arg(long, default_value_t = 0.0)]
    fault_rate: f64,
    /// Latency added to every API request, in milliseconds.
    #[arg(long, default_value_t = 0)]
    latency_ms: u64,
    /// Fraction of successful GET responses whose connection is dropped mid-body.
    #[arg(long, default_value_t = 0.0)]
    drop_rate: f64,
    /// Fraction of successful GET responses truncated to invalid JSON.
    #[arg(long, default_value_t = 0.0)]
    truncate_rate: f64,
    /// Fraction of successful GET responses replaced by garbage.
    #[arg(long, default_value_t = 0.0)]
    malformed_rate: f64,
    /// Lifetime of issued bearer tokens, in seconds.
    #[arg(long, default_value_t = 3600)]
    token_ttl_secs: u64,
    /// Days of usage history.
    #[arg(long, default_value_t = 180)]
    history_days: u32,
    /// Accepted OAuth client id.
    #[arg(long, default_value = onence_sim::DEFAULT_CLIENT_ID)]
    client_id: String,
    /// Accepted OAuth client secret.
    #[arg(long, default_value = onence_sim::DEFAULT_CLIENT_SECRET)]
    client_secret: String,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    for (name, v) in [
        ("--fault-rate", args.fault_rate),
        ("--drop-rate", args.drop_rate),
        ("--truncate-rate", args.truncate_rate),
        ("--malformed-rate", args.malformed_rate),
    ] {
        if !(0.0..=1.0).contains(&v) {
            eprintln!("error: {name} must be between 0 and 1");
            std::process::exit(2);
        }
    }
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()))
        .init();
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let config = SimConfig {
            sims: args.sims,
            seed: args.seed,
            rate_limit_per_sec: args.rate_limit,
            fault_rate: args.fault_rate,
            latency_ms: args.latency_ms,
            token_ttl_secs: args.token_ttl_secs,
            history_days: args.history_days,
            client_id: args.client_id,
            client_secret: args.client_secret,
            ..SimConfig::default()
        };
        let handle = onence_sim::spawn(config, args.listen).await?;
        let mut faults = handle.faults();
        faults.drop_rate = args.drop_rate;
        faults.truncate_rate = args.truncate_rate;
        faults.malformed_rate = args.malformed_rate;
        handle.set_faults(faults);
        println!("onence-sim listening on {} ({} SIMs, seed {})", handle.base_url(), args.sims, args.seed);
        tokio::signal::ctrl_c().await?;
        handle.shutdown().await;
        Ok(())
    })
}
