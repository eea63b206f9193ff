//! Wiring of the sync jobs: the runner `serve` schedules, and `simfleet sync`.

use crate::config::Config;
use anyhow::{bail, Context};
use secrecy::ExposeSecret;
use simfleet_store::Store;
use simfleet_sync::{Job, Runner, SyncConfig, Syncer};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

/// The job runner, when a provider is configured.
pub fn runner(config: &Config, store: &Store) -> anyhow::Result<Option<Arc<Runner>>> {
    let Some(provider) = &config.provider else {
        return Ok(None);
    };
    let client_config =
        onence::ClientConfig::new(&provider.api_url, &provider.client_id, provider.client_secret.expose_secret());
    let client = onence::Client::new(client_config).context("cannot set up the 1NCE client")?;
    let intervals: HashMap<Job, Duration> = config
        .sync_intervals
        .iter()
        .filter_map(|(name, secs)| Job::parse(name).map(|j| (j, Duration::from_secs(*secs))))
        .collect();
    let secrets = Arc::new(simfleet_server::crypto::SecretBox::new(&config.secret_key()?));
    let syncer = Syncer::new(store.clone(), client, SyncConfig::default()).with_secrets(secrets);
    Ok(Some(Runner::new(syncer, intervals)))
}

/// `simfleet sync --job NAME|all`: runs the jobs once, in dependency order.
pub async fn run_once(config: &Config, store: &Store, job: &str) -> anyhow::Result<()> {
    let jobs: Vec<Job> = match job {
        "all" => Job::ALL.to_vec(),
        name => vec![Job::parse(name).with_context(|| {
            format!("unknown job {name:?}: use sims, usage, quotas, connectivity, events, outbox, sms, alerts, notify or all")
        })?],
    };
    let Some(runner) = runner(config, store)? else {
        bail!("no provider configured: set ONENCE_CLIENT_ID and ONENCE_CLIENT_SECRET (and ONENCE_API_URL for a simulator)");
    };
    let mut failed = false;
    for job in jobs {
        let outcome = runner.run(job).await?;
        println!(
            "{:<13} {:<8} {} ok, {} failed (run #{})",
            job.as_str(),
            outcome.status,
            outcome.items_ok,
            outcome.items_failed,
            outcome.run_id
        );
        failed |= outcome.status == "failed";
    }
    if failed {
        bail!("a job failed; see `GET /api/v1/jobs/runs` for its errors");
    }
    Ok(())
}
