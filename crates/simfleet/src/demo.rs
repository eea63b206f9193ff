//! `simfleet demo`: a complete, realistic installation in one command. An in-process 1NCE
//! simulator with a deterministic fleet, a SQLite database in the data directory, a first sync,
//! some inventory around it (customers, tariff plans, own stock), an admin with a fresh
//! password, and the server.

use crate::config::{Config, ProviderConfig};
use anyhow::Context;
use rand::distributions::{Alphanumeric, DistString};
use secrecy::SecretString;
use simfleet_domain::ids::luhn_check_digit;
use simfleet_domain::{EventKind, Money, Provider, Role, SimStatus, SimType};
use simfleet_server::crypto::hash_password;
use simfleet_store::{
    ActivationCodeInput, CodeStatus, CustomerInput, NewSim, PageRequest, SimFilter, SimPatch, SimSort, Store,
    TariffPlanInput,
};
use simfleet_sync::Job;
use std::path::PathBuf;

/// The simulator's seed: the same fleet on every run, so a re-run updates rather than grows it.
const DEMO_SEED: u64 = 20_261_122;
/// Days of usage history the simulator serves.
const HISTORY_DAYS: u32 = 180;
/// SIMs of the operator's own stock (no provider), besides the provider fleet.
const OWN_STOCK: usize = 150;
const ACTOR: &str = "demo";
pub const DEFAULT_DATA_DIR: &str = "./simfleet-demo";

pub async fn run(mut config: Config, sims: usize, data_dir: Option<PathBuf>) -> anyhow::Result<()> {
    let data_dir = data_dir.unwrap_or_else(|| PathBuf::from(DEFAULT_DATA_DIR));
    std::fs::create_dir_all(&data_dir).with_context(|| format!("cannot create {}", data_dir.display()))?;
    config.database_url = format!("sqlite://{}", data_dir.join("simfleet.db").display());
    config.data_dir = data_dir;

    let mut sim_config = onence_sim::SimConfig::new(sims, DEMO_SEED);
    sim_config.history_days = HISTORY_DAYS;
    let client_id = sim_config.client_id.clone();
    let client_secret = sim_config.client_secret.clone();
    let simulator = onence_sim::spawn(sim_config, "127.0.0.1:0".parse::<std::net::SocketAddr>()?)
        .await
        .context("cannot start the 1NCE simulator")?;
    println!("1NCE simulator with {sims} SIMs on {}", simulator.base_url());
    config.provider = Some(ProviderConfig {
        api_url: simulator.base_url().to_owned(),
        client_id,
        client_secret: SecretString::from(client_secret),
    });

    let store = crate::open_store(&config).await?;
    first_sync(&config, &store).await?;
    add_inventory(&store).await?;
    let password = reset_admin(&store).await?;
    store.close().await;
    let listener = tokio::net::TcpListener::bind(&config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;

    println!();
    println!("simfleet demo is ready: open http://{}/ and log in with", listener.local_addr()?);
    println!("username: admin  password: {password}");
    println!();
    let served = crate::serve_on(config, listener).await;
    simulator.shutdown().await;
    served
}

/// Runs every sync job once, printing a line per job, so the dashboard opens on real data.
async fn first_sync(config: &Config, store: &Store) -> anyhow::Result<()> {
    let runner = crate::sync_cmd::runner(config, store)?.context("the demo provider is configured")?;
    for job in Job::ALL {
        let started = std::time::Instant::now();
        let outcome = match runner.run(job).await {
            Ok(outcome) => outcome,
            // A previous demo killed mid-run still holds the job's lease for a moment: the
            // scheduler runs the job once it expires.
            Err(simfleet_sync::RunError::Elsewhere(_)) => {
                println!("sync {:<13} skipped: a previous run's lease has not expired yet", job.as_str());
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        println!(
            "sync {:<13} {:<8} {:>6} items in {:.1} s",
            job.as_str(),
            outcome.status,
            outcome.items_ok,
            started.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// On the first run only: customers, tariff plans, own stock and activation codes, and the
/// provider SIMs spread over customers and plans. Customer, plan and tags are inventory-only
/// fields, so none of this reaches the provider.
async fn add_inventory(store: &Store) -> anyhow::Result<()> {
    let first_page = PageRequest { limit: 1, cursor: None, with_total: false };
    if !store.list_customers(None, first_page).await?.items.is_empty() {
        return Ok(());
    }
    let customers = [
        ("Nordwind Logistics", "fleet@nordwind.example"),
        ("Alpen Energy Metering", "ops@alpen-energy.example"),
        ("CityBike Sharing", "it@citybike.example"),
        ("AgriSense Farms", "support@agrisense.example"),
        ("MedTrack Devices", "noc@medtrack.example"),
    ];
    let mut customer_ids = Vec::new();
    for (name, email) in customers {
        let c =
            store.create_customer(&CustomerInput { name: name.into(), email: Some(email.into()), phone: None }).await?;
        customer_ids.push(c.id);
    }
    let plans = [
        ("IoT Lifetime Flat 500 MB", "0.00", SimType::Prepaid, "10 years, 500 MB and 250 SMS included"),
        ("Tracker 1 GB", "1.90", SimType::DataOnly, "1 GB per month for asset trackers"),
        ("Metering 50 MB", "0.45", SimType::Postpaid, "Low-volume smart meters, billed monthly"),
    ];
    let mut plan_ids = Vec::new();
    for (name, price, plan_type, description) in plans {
        let p = store
            .create_tariff_plan(&TariffPlanInput {
                name: name.into(),
                monthly_price: Money::parse(price)?,
                currency: "EUR".into(),
                plan_type,
                description: Some(description.into()),
            })
            .await?;
        plan_ids.push(p.id);
    }

    let provider_sims = all_iccids(store, Provider::OneNce).await?;
    let tags = ["tracker", "meter", "bike", "sensor", "medical"];
    for (i, customer_id) in customer_ids.iter().enumerate() {
        // Every sixth provider SIM stays unassigned, the rest are spread over the customers.
        let share: Vec<String> = provider_sims
            .iter()
            .enumerate()
            .filter(|(n, _)| n % 6 != 5 && n % 6 == i)
            .map(|(_, iccid)| iccid.clone())
            .collect();
        if share.is_empty() {
            continue;
        }
        let patch = SimPatch {
            customer_id: Some(Some(*customer_id)),
            tariff_plan_id: Some(Some(plan_ids[i % plan_ids.len()])),
            tags: Some(vec![tags[i].to_owned(), "production".to_owned()]),
            ..SimPatch::default()
        };
        store.bulk_update_sims(&share, &patch, ACTOR).await?;
    }

    let stock: Vec<NewSim> = (0..OWN_STOCK).map(own_stock_sim).collect();
    store.create_sims_bulk(&stock, EventKind::Imported, Some("demo stock delivery"), ACTOR).await?;
    // A few cards of the own stock are already promised to a customer.
    for sim in stock.iter().take(12) {
        store
            .apply_action(
                &sim.iccid,
                &simfleet_store::ActionRequest {
                    action: simfleet_domain::Action::Reserve,
                    customer_id: Some(customer_ids[0]),
                    tariff_plan_id: Some(plan_ids[1]),
                    activation_code: None,
                    note: Some("reserved for the next roll-out".into()),
                    actor: ACTOR,
                },
            )
            .await?;
    }
    for n in 0..20 {
        let status = if n < 15 { CodeStatus::Unused } else { CodeStatus::Used };
        store
            .create_activation_code(&ActivationCodeInput {
                code: format!("DEMO-{:04}-{:04}", 1000 + n * 7, 4000 + n * 13),
                status,
                expires_at: Some(simfleet_store::now() + chrono::TimeDelta::days(90)),
                sim_id: None,
            })
            .await?;
    }
    println!(
        "inventory: {} customers, {} tariff plans, {} own-stock SIMs, 20 activation codes",
        customer_ids.len(),
        plan_ids.len(),
        OWN_STOCK
    );
    Ok(())
}

/// A valid ICCID of the operator's own stock: `89 49 …` with a Luhn check digit.
fn own_stock_sim(n: usize) -> NewSim {
    let payload = format!("894910{:012}", 700_000_000 + n);
    let iccid = format!("{payload}{}", luhn_check_digit(&payload));
    let mut sim = NewSim::available(iccid);
    sim.sim_type = if n.is_multiple_of(3) { SimType::Prepaid } else { SimType::DataOnly };
    sim.tags = vec!["stock".into()];
    sim.status = SimStatus::Available;
    sim
}

async fn all_iccids(store: &Store, provider: Provider) -> anyhow::Result<Vec<String>> {
    let filter = SimFilter { provider: Some(provider), ..SimFilter::default() };
    let mut iccids = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let page = store
            .list_sims(
                &filter,
                SimSort::default(),
                PageRequest { limit: 1000, cursor: cursor.as_deref(), with_total: false },
            )
            .await?;
        iccids.extend(page.items.into_iter().map(|s| s.iccid));
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(iccids),
        }
    }
}

/// Creates the `admin` user, or gives it a new password on a re-run; returns the password.
async fn reset_admin(store: &Store) -> anyhow::Result<String> {
    let password = Alphanumeric.sample_string(&mut rand::thread_rng(), 16);
    let hash = {
        let password = password.clone();
        tokio::task::spawn_blocking(move || hash_password(&password)).await??
    };
    if store.user_by_name("admin").await?.is_some() {
        store.update_user("admin", Some(Role::Admin), Some(&hash)).await?;
    } else {
        store.create_user("admin", &hash, Role::Admin).await?;
    }
    Ok(password)
}
