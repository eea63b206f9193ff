use chrono::{Datelike, Days, NaiveDate, Utc};
use futures::StreamExt;
use onence::models::{
    Connectivity as ProviderConnectivity, Quota as ProviderQuota, Sim as ProviderSimRecord,
    SimStatus as ProviderStatus, SimUpdate,
};
use serde::Serialize;
use serde_json::json;
use simfleet_domain::{Iccid, Provider};
use simfleet_store::{Connectivity, DailyUsage, ProviderRef, ProviderSim, Quota, Store};
use std::time::Duration;

/// The jobs, named as in `simfleet sync --job NAME` and `POST /api/v1/jobs/{NAME}/run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Sims,
    Usage,
    Quotas,
    Connectivity,
    /// Delivers queued provider actions (enable/disable, label).
    Outbox,
}

impl Job {
    pub const ALL: [Job; 5] = [Job::Sims, Job::Usage, Job::Quotas, Job::Connectivity, Job::Outbox];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Sims => "sims",
            Job::Usage => "usage",
            Job::Quotas => "quotas",
            Job::Connectivity => "connectivity",
            Job::Outbox => "outbox",
        }
    }

    pub fn parse(s: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == s)
    }
}

#[derive(Debug, Clone)]
pub struct SyncConfig {
    /// How far back the first usage sync reaches (1NCE keeps six months).
    pub usage_history_days: u64,
    /// Days re-read on every usage sync, because providers revise recent days.
    pub usage_revise_days: u64,
    /// Provider requests in flight at once.
    pub concurrency: usize,
    /// Names this process in job runs.
    pub instance: String,
    /// Raw daily usage older than this is deleted after each usage sync (rollups are kept).
    pub usage_retention_days: u64,
    /// Wait before the first retry of a provider action; doubles with each attempt (max 15 min).
    pub outbox_backoff: Duration,
    /// Attempts before a provider action that keeps failing transiently is given up.
    pub outbox_max_attempts: i32,
}

impl Default for SyncConfig {
    fn default() -> Self {
        SyncConfig {
            usage_history_days: 180,
            usage_revise_days: 2,
            usage_retention_days: 180,
            concurrency: 8,
            instance: default_instance(),
            outbox_backoff: Duration::from_secs(5),
            outbox_max_attempts: 12,
        }
    }
}

fn default_instance() -> String {
    let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "simfleet".into());
    format!("{host}:{}", std::process::id())
}

/// What a job run did.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct JobOutcome {
    pub run_id: i64,
    pub job: Job,
    pub status: &'static str,
    pub items_ok: i64,
    pub items_failed: i64,
}

#[derive(Default)]
struct Tally {
    ok: i64,
    errors: Vec<serde_json::Value>,
}

impl Tally {
    fn fail(&mut self, item: &str, message: impl std::fmt::Display) {
        self.errors.push(json!({ "item": item, "message": message.to_string() }));
    }
}

pub struct Syncer {
    store: Store,
    client: onence::Client,
    config: SyncConfig,
}

impl Syncer {
    pub fn new(store: Store, client: onence::Client, config: SyncConfig) -> Self {
        Syncer { store, client, config }
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// This process's name in job runs and leases.
    pub fn instance(&self) -> &str {
        &self.config.instance
    }

    /// Runs one job and records it as a job run.
    pub async fn run(&self, job: Job) -> anyhow::Result<JobOutcome> {
        let run_id = self.store.start_job_run(job.as_str(), &self.config.instance).await?;
        let result = match job {
            Job::Sims => self.sync_sims().await,
            Job::Usage => self.sync_usage().await,
            Job::Quotas => self.sync_quotas().await,
            Job::Connectivity => self.sync_connectivity().await,
            Job::Outbox => self.deliver_outbox().await,
        };
        let (status, tally) = match result {
            Ok(t) if t.errors.is_empty() => ("success", t),
            Ok(t) => ("partial", t),
            Err(e) => {
                let mut t = Tally::default();
                t.fail("job", format!("{e:#}"));
                ("failed", t)
            }
        };
        let failed = tally.errors.len() as i64;
        self.store.finish_job_run(run_id, status, tally.ok, failed, &serde_json::Value::Array(tally.errors)).await?;
        tracing::info!(job = job.as_str(), status, ok = tally.ok, failed, "sync job finished");
        Ok(JobOutcome { run_id, job, status, items_ok: tally.ok, items_failed: failed })
    }

    async fn sync_sims(&self) -> anyhow::Result<Tally> {
        let records = self.client.all_sims(100, self.config.concurrency).await?;
        let mut tally = Tally::default();
        let mut sims = Vec::with_capacity(records.len());
        for r in &records {
            match provider_sim(r) {
                Ok(s) => sims.push(s),
                Err(e) => tally.fail(r.iccid.as_deref().unwrap_or("?"), e),
            }
        }
        let outcome = self.store.sync_provider_sims(Provider::OneNce, &sims, "sync").await?;
        tracing::info!(?outcome, "SIM sync applied");
        tally.ok = sims.len() as i64;
        Ok(tally)
    }

    /// Per SIM, from the day after its last stored day less the revision window (or from the
    /// start of the history) to today; rows are upserted, so re-reading is harmless.
    async fn sync_usage(&self) -> anyhow::Result<Tally> {
        let refs = self.store.provider_refs(Provider::OneNce).await?;
        let last = self.store.last_usage_days().await?;
        let today = Utc::now().date_naive();
        let earliest = today - Days::new(self.config.usage_history_days);
        let plan: Vec<(ProviderRef, NaiveDate)> = refs
            .into_iter()
            .map(|r| {
                let from = last
                    .get(&r.sim_id)
                    .map(|d| *d - Days::new(self.config.usage_revise_days))
                    .unwrap_or(earliest)
                    .max(earliest);
                (r, from)
            })
            .collect();
        let mut tally = Tally::default();
        // A few hundred SIMs at a time: fetch them concurrently, then write their rows in one batch.
        for chunk in plan.chunks(500) {
            let fetched: Vec<_> = futures::stream::iter(chunk.iter().cloned().map(|(r, from)| {
                let client = self.client.clone();
                async move {
                    let usage = client.get_usage(&r.provider_ref, Some(from), Some(today)).await;
                    (r, usage)
                }
            }))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
            let mut batch: Vec<(i64, DailyUsage)> = Vec::new();
            for (r, usage) in fetched {
                match usage.map_err(anyhow::Error::from).and_then(|u| daily_rows(&u)) {
                    Ok(rows) => {
                        tally.ok += 1;
                        batch.extend(rows.into_iter().map(|d| (r.sim_id, d)));
                    }
                    Err(e) => tally.fail(&r.iccid, format!("{e:#}")),
                }
            }
            self.store.upsert_usage(&batch).await?;
        }
        if let Some(since) = plan.iter().map(|(_, from)| *from).min() {
            self.store.refresh_usage_rollups(since).await?;
        }
        let pruned = self.store.prune_usage(today - Days::new(self.config.usage_retention_days)).await?;
        if pruned > 0 {
            tracing::info!(rows = pruned, "pruned daily usage past retention");
        }
        Ok(tally)
    }

    async fn sync_quotas(&self) -> anyhow::Result<Tally> {
        let refs = self.store.provider_refs(Provider::OneNce).await?;
        let mut tally = Tally::default();
        let now = simfleet_store::now();
        let fetched: Vec<_> = futures::stream::iter(refs.into_iter().map(|r| {
            let client = self.client.clone();
            async move {
                let data = client.get_data_quota(&r.provider_ref).await;
                let sms = client.get_sms_quota(&r.provider_ref).await;
                (r, data, sms)
            }
        }))
        .buffer_unordered(self.config.concurrency)
        .collect()
        .await;
        let mut quotas = Vec::new();
        for (r, data, sms) in fetched {
            match (
                data.map_err(anyhow::Error::from).and_then(|q| quota("data", &q, now)),
                sms.map_err(anyhow::Error::from).and_then(|q| quota("sms", &q, now)),
            ) {
                (Ok(d), Ok(s)) => {
                    tally.ok += 1;
                    quotas.push((r.sim_id, d));
                    quotas.push((r.sim_id, s));
                }
                (Err(e), _) | (_, Err(e)) => tally.fail(&r.iccid, format!("{e:#}")),
            }
        }
        self.store.upsert_quotas(&quotas).await?;
        Ok(tally)
    }

    async fn sync_connectivity(&self) -> anyhow::Result<Tally> {
        let refs = self.store.provider_refs(Provider::OneNce).await?;
        let now = simfleet_store::now();
        let fetched: Vec<_> = futures::stream::iter(refs.into_iter().map(|r| {
            let client = self.client.clone();
            async move {
                let status = client.get_sim_status(&r.provider_ref).await;
                (r, status)
            }
        }))
        .buffer_unordered(self.config.concurrency)
        .collect()
        .await;
        let mut tally = Tally::default();
        let mut items = Vec::new();
        for (r, status) in fetched {
            match status {
                Ok(c) => {
                    tally.ok += 1;
                    items.push((r.sim_id, connectivity(&c, now)));
                }
                Err(e) => tally.fail(&r.iccid, e),
            }
        }
        self.store.upsert_connectivity(&items).await?;
        Ok(tally)
    }
}

impl Syncer {
    /// Delivers due provider actions, SIMs concurrently, each SIM's actions in order. A
    /// refusal (4xx) fails the action at once and records it in the SIM's history; an outage
    /// (5xx, timeout, 429, open breaker) leaves it pending with exponential backoff.
    async fn deliver_outbox(&self) -> anyhow::Result<Tally> {
        let mut tally = Tally::default();
        loop {
            let items = self.store.claim_outbox(200, chrono::TimeDelta::minutes(5)).await?;
            if items.is_empty() {
                return Ok(tally);
            }
            let results: Vec<_> = futures::stream::iter(items.into_iter().map(|item| {
                let client = self.client.clone();
                async move {
                    let result = deliver(&client, &item).await;
                    (item, result)
                }
            }))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
            let mut progressed = false;
            for (item, result) in results {
                match result {
                    Ok(provider_status) => {
                        self.store.complete_outbox(&item, provider_status.as_deref()).await?;
                        tally.ok += 1;
                        progressed = true;
                    }
                    Err(Delivery::Refused(msg)) => {
                        self.store.fail_outbox(&item, &msg, "sync").await?;
                        tally.fail(&item.iccid, msg);
                        progressed = true;
                    }
                    Err(Delivery::Later(msg)) if item.attempts >= self.config.outbox_max_attempts => {
                        let msg = format!("gave up after {} attempts: {msg}", item.attempts);
                        self.store.fail_outbox(&item, &msg, "sync").await?;
                        tally.fail(&item.iccid, msg);
                    }
                    Err(Delivery::Later(msg)) => {
                        let factor = 2u32.saturating_pow(item.attempts.saturating_sub(1).clamp(0, 16) as u32);
                        let wait = self.config.outbox_backoff.saturating_mul(factor).min(Duration::from_secs(15 * 60));
                        let next = simfleet_store::now()
                            + chrono::TimeDelta::from_std(wait).unwrap_or(chrono::TimeDelta::minutes(15));
                        self.store.retry_outbox(item.id, &msg, next).await?;
                        tally.fail(&item.iccid, format!("will retry: {msg}"));
                    }
                }
            }
            if !progressed {
                // Everything left is waiting for its retry time.
                return Ok(tally);
            }
        }
    }
}

enum Delivery {
    /// The provider refused: retrying cannot help.
    Refused(String),
    /// The provider could not be reached or was overloaded: try again later.
    Later(String),
}

/// Sends one action; on success returns the provider status it established, if any.
async fn deliver(client: &onence::Client, item: &simfleet_store::OutboxItem) -> Result<Option<String>, Delivery> {
    let provider_ref =
        item.provider_ref.clone().ok_or_else(|| Delivery::Refused("the SIM has no provider reference yet".into()))?;
    let payload: serde_json::Value =
        serde_json::from_str(&item.payload).map_err(|e| Delivery::Refused(format!("unreadable payload: {e}")))?;
    let status_of = |s: &str| if s == "Enabled" { ProviderStatus::Enabled } else { ProviderStatus::Disabled };
    let (update, new_status) = match item.action.as_str() {
        "set_status" => {
            let status = payload["status"].as_str().unwrap_or("Disabled").to_owned();
            (
                SimUpdate { iccid: provider_ref.clone(), label: None, imei_lock: None, status: status_of(&status) },
                Some(status),
            )
        }
        "set_label" => {
            let current = item.provider_status.as_deref().unwrap_or("Enabled");
            let label = payload["label"].as_str().map(str::to_owned).or(Some(String::new()));
            (SimUpdate { iccid: provider_ref.clone(), label, imei_lock: None, status: status_of(current) }, None)
        }
        other => return Err(Delivery::Refused(format!("unknown action {other}"))),
    };
    match client.update_sim(&provider_ref, &update).await {
        Ok(()) => Ok(new_status),
        Err(e) if e.is_transient() => Err(Delivery::Later(e.to_string())),
        Err(e) => Err(Delivery::Refused(e.to_string())),
    }
}

/// The inventory's view of a provider SIM. The ICCID with its check digit is the key;
/// 1NCE's 19-digit `iccid` stays the provider reference used in its API paths.
fn provider_sim(r: &ProviderSimRecord) -> anyhow::Result<ProviderSim> {
    let provider_ref = r.iccid.clone().ok_or_else(|| anyhow::anyhow!("the provider sent a SIM without ICCID"))?;
    let candidates = [r.iccid_with_luhn.as_deref(), Some(provider_ref.as_str())];
    let iccid = candidates
        .into_iter()
        .flatten()
        .find_map(|c| Iccid::parse(c).ok())
        .ok_or_else(|| anyhow::anyhow!("no valid ICCID (with check digit) for {provider_ref}"))?;
    Ok(ProviderSim {
        iccid: iccid.to_string(),
        provider_ref,
        imsi: r.imsi.clone().filter(|s| !s.is_empty()),
        msisdn: r.msisdn.clone().filter(|s| !s.is_empty()),
        imei: r.imei.clone().filter(|s| !s.is_empty()),
        imei_lock: r.imei_lock,
        ip_address: r.ip_address.clone().filter(|s| !s.is_empty()),
        enabled: matches!(r.status, Some(ProviderStatus::Enabled)),
        label: r.label.clone().filter(|s| !s.is_empty()),
    })
}

fn daily_rows(u: &onence::models::DailyUsage) -> anyhow::Result<Vec<DailyUsage>> {
    let mut rows = Vec::with_capacity(u.stats.len());
    for rec in &u.stats {
        // The spec's usage answer ends with a totals record without a date: skip it.
        let Some(day) = rec.day() else { continue };
        let (rx, tx) = match &rec.data {
            Some(d) => (d.rx_bytes()?.unwrap_or(0), d.tx_bytes()?.unwrap_or(0)),
            None => (0, 0),
        };
        let total = match &rec.data {
            Some(d) => d.volume_bytes()?.unwrap_or(rx + tx),
            None => 0,
        };
        let (mo, mt) =
            rec.sms.as_ref().map(|s| (s.mo().unwrap_or(0) as i64, s.mt().unwrap_or(0) as i64)).unwrap_or((0, 0));
        rows.push(DailyUsage { day, data_rx: rx, data_tx: tx, data_total: total, sms_mo: mo, sms_mt: mt });
    }
    Ok(rows)
}

fn quota(kind: &str, q: &ProviderQuota, now: chrono::DateTime<Utc>) -> anyhow::Result<Quota> {
    let (remaining, total, last_added) = if kind == "data" {
        (
            q.volume_bytes().transpose()?,
            q.total_volume_bytes().transpose()?,
            q.last_volume_added.map(onence::volume::mb_number_to_bytes).transpose()?,
        )
    } else {
        (
            q.volume.map(|v| v.round() as i64),
            q.total_volume.map(|v| v.round() as i64),
            q.last_volume_added.map(|v| v.round() as i64),
        )
    };
    let expiry_date = q
        .expiry_date
        .as_deref()
        .and_then(|d| NaiveDate::parse_from_str(d.get(..10)?, "%Y-%m-%d").ok())
        .filter(|d| d.year() > 1970);
    Ok(Quota {
        kind: kind.to_owned(),
        remaining: remaining.ok_or_else(|| anyhow::anyhow!("{kind} quota without volume"))?,
        total,
        expiry_date,
        last_added,
        threshold_percentage: q.threshold_percentage,
        updated_at: now,
    })
}

fn connectivity(c: &ProviderConnectivity, now: chrono::DateTime<Utc>) -> Connectivity {
    let location = c.location.as_ref();
    let last_seen_at = location.and_then(|l| l.last_updated.as_deref()).and_then(|t| {
        chrono::NaiveDateTime::parse_from_str(t, "%Y-%m-%d %H:%M:%S")
            .ok()
            .map(|n| n.and_utc())
            .or_else(|| t.parse().ok())
    });
    Connectivity {
        status: c.status.clone().unwrap_or_else(|| "UNKNOWN".into()),
        operator: location.and_then(|l| l.operator.as_ref()).and_then(|o| o.name.clone()),
        country: location.and_then(|l| l.country.as_ref()).and_then(|c| c.name.clone()),
        rat: c.pdp_context.as_ref().and_then(|p| p.rat_type.as_ref()).and_then(|r| r.description.clone()),
        last_seen_at,
        updated_at: now,
    }
}
