//! `simfleet-bench`: builds benchmark datasets through simfleet's own bulk paths and
//! prints what the load tests in `bench/` need. Run `simfleet-bench --help`.

use anyhow::Context;
use clap::{Parser, Subcommand};
use simfleet_domain::{EventKind, Provider, Role, SimStatus, SimType};
use simfleet_server::crypto::{hash_password, new_token, token_hash};
use simfleet_store::{Cursor, NewSim, SimFilter, SimSort, Store, StoreOptions};
use std::time::Instant;

#[derive(Parser)]
#[command(name = "simfleet-bench", about = "Datasets and helpers for simfleet's benchmarks")]
struct Cli {
    /// `sqlite://PATH` or `postgres://…`
    #[arg(long, env = "SIMFLEET_DATABASE_URL")]
    database_url: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Insert N synthetic SIMs through the store's bulk path (one transaction) and report the rate.
    Seed {
        #[arg(long, default_value_t = 1_000_000)]
        sims: u64,
        /// SIMs per call of the bulk path.
        #[arg(long, default_value_t = 100_000)]
        chunk: usize,
    },
    /// Create an admin user with an API key and print the key.
    ApiKey,
    /// Print the cursor that starts the page after the N-th ACTIVE SIM in ICCID order.
    Cursor {
        #[arg(long)]
        after: u64,
    },
    /// Write an import file of N new synthetic SIMs (CSV: iccid, msisdn, imsi, type, pin, label,
    /// tags), numbered from --start so that it does not collide with `seed`.
    GenImport {
        #[arg(long, default_value_t = 100_000)]
        rows: u64,
        #[arg(long, default_value_t = 50_000_000)]
        start: u64,
        #[arg(long)]
        out: std::path::PathBuf,
        /// Label prefix: a second file with another prefix updates every SIM of the first.
        #[arg(long, default_value = "Imported")]
        label: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    let store = Store::connect(&cli.database_url, &StoreOptions::default()).await.context("open database")?;
    store.migrate().await?;
    match cli.command {
        Command::Seed { sims, chunk } => seed(&store, sims, chunk).await?,
        Command::ApiKey => {
            let user = match store.user_by_name("bench").await? {
                Some(u) => u,
                None => store.create_user("bench", &hash_password("bench password, not secret")?, Role::Admin).await?,
            };
            let secret = new_token(simfleet_server::auth::API_KEY_PREFIX);
            store.create_api_key(user.id, "bench", &secret[..10], &token_hash(&secret), Role::Admin, None).await?;
            println!("{secret}");
        }
        Command::Cursor { after } => {
            // Walk to the N-th ACTIVE SIM with big pages: the same keyset path as the API.
            let filter = SimFilter { statuses: vec![SimStatus::Active], ..Default::default() };
            let mut cursor: Option<String> = None;
            let mut seen = 0u64;
            while seen < after {
                let limit = (after - seen).min(1000) as u32;
                let page = store
                    .list_sims(
                        &filter,
                        SimSort::default(),
                        simfleet_store::PageRequest { limit, cursor: cursor.as_deref(), with_total: false },
                    )
                    .await?;
                let Some(last) = page.items.last() else { break };
                seen += page.items.len() as u64;
                cursor = Some(Cursor { key: last.iccid.clone(), id: last.id }.encode());
            }
            println!("{}", cursor.unwrap_or_default());
        }
        Command::GenImport { rows, start, out, label } => gen_import(rows, start, &out, &label)?,
    }
    Ok(())
}

/// A deterministic fleet: 60 % ACTIVE, the rest spread over the other states.
fn synthetic_sim(n: u64) -> NewSim {
    let payload = format!("8988{:014}", 10_000_000 + n);
    let iccid = format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload));
    let status = match n % 20 {
        0..=11 => SimStatus::Active,
        12..=14 => SimStatus::Available,
        15..=16 => SimStatus::Suspended,
        17 => SimStatus::Reserved,
        18 => SimStatus::LostStolen,
        _ => SimStatus::Terminated,
    };
    let mut sim = NewSim::available(iccid);
    sim.status = status;
    sim.imsi = Some(format!("90140{:010}", n));
    sim.msisdn = (status != SimStatus::Available).then(|| format!("49170{:08}", n));
    sim.label = Some(format!("Device {n:07}"));
    sim.sim_type = [SimType::DataOnly, SimType::Prepaid, SimType::Postpaid][(n % 3) as usize];
    sim.provider = if n.is_multiple_of(2) { Provider::OneNce } else { Provider::None };
    sim.tags = if n.is_multiple_of(10) { vec!["fleet-a".into()] } else { vec![] };
    sim
}

async fn seed(store: &Store, total: u64, chunk: usize) -> anyhow::Result<()> {
    let start = Instant::now();
    let existing = store.count_sims(&SimFilter::default()).await? as u64;
    let mut done = 0u64;
    while done < total {
        let n = (total - done).min(chunk as u64);
        let batch: Vec<NewSim> = (existing + done..existing + done + n).map(synthetic_sim).collect();
        store.create_sims_bulk(&batch, EventKind::Imported, Some("benchmark seed"), "bench").await?;
        done += n;
    }
    let secs = start.elapsed().as_secs_f64();
    println!("seeded {total} SIMs in {secs:.1} s ({:.0} SIMs/s, chunks of {chunk})", total as f64 / secs);
    Ok(())
}

fn gen_import(rows: u64, start: u64, out: &std::path::Path, label: &str) -> anyhow::Result<()> {
    use std::io::Write;
    let mut f = std::io::BufWriter::new(std::fs::File::create(out).context("create import file")?);
    writeln!(f, "iccid;msisdn;imsi;type;pin;label;tags")?;
    for n in start..start + rows {
        let payload = format!("8988{n:014}");
        let iccid = format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload));
        let kind = ["data_only", "prepaid", "postpaid"][(n % 3) as usize];
        writeln!(
            f,
            "{iccid};4917{:09};90141{:010};{kind};{:04};{label} {n};batch-7|north",
            n % 1_000_000_000,
            n,
            n % 10_000
        )?;
    }
    f.flush()?;
    println!("wrote {rows} rows to {}", out.display());
    Ok(())
}
