use crate::notify::{Notifier, SecretOpener};
use anyhow::Context;
use chrono::{Datelike, Days, NaiveDate, Utc};
use futures::StreamExt;
use onence::models::{
    AutoTopupRequest, Connectivity as ProviderConnectivity, PaymentMethod, Quota as ProviderQuota,
    Sim as ProviderSimRecord, SimExtensionRequest, SimStatus as ProviderStatus, SimTransfer, SimUpdate, SmsMessage,
};
use serde::Serialize;
use serde_json::json;
use simfleet_domain::{Iccid, Provider};
use simfleet_store::{Applied, Connectivity, DailyUsage, NewNetworkEvent, ProviderRef, ProviderSim, Quota, Store};
use std::sync::Arc;
use std::time::Duration;

/// The jobs, named as in `simfleet sync --job NAME` and `POST /api/v1/jobs/{NAME}/run`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Job {
    Sims,
    Usage,
    Quotas,
    Connectivity,
    /// Network events (attach, PDP context, location updates …), incrementally.
    Events,
    /// Delivers queued provider actions (enable/disable, label, top-up, SMS, reset, …).
    Outbox,
    /// Mirrors each SIM's MO/MT SMS with their delivery status.
    Sms,
    /// Evaluates the alert rules over the whole fleet (also after each data sync).
    Alerts,
    /// Delivers queued alert notifications (e-mail, webhooks).
    Notify,
}

impl Job {
    pub const ALL: [Job; 9] = [
        Job::Sims,
        Job::Usage,
        Job::Quotas,
        Job::Connectivity,
        Job::Events,
        Job::Outbox,
        Job::Sms,
        Job::Alerts,
        Job::Notify,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Job::Sims => "sims",
            Job::Usage => "usage",
            Job::Quotas => "quotas",
            Job::Connectivity => "connectivity",
            Job::Events => "events",
            Job::Outbox => "outbox",
            Job::Sms => "sms",
            Job::Alerts => "alerts",
            Job::Notify => "notify",
        }
    }

    pub fn parse(s: &str) -> Option<Job> {
        Job::ALL.into_iter().find(|j| j.as_str() == s)
    }

    /// Jobs that bring provider data in, after which the alert rules are evaluated again.
    pub fn feeds_alerts(self) -> bool {
        matches!(self, Job::Sims | Job::Usage | Job::Quotas | Job::Connectivity | Job::Sms)
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
    /// Pages of network events read per SIM and run (newest first): bounds the first sync.
    pub events_max_pages: u32,
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
            events_max_pages: 5,
        }
    }
}

/// `HOST:PID`: unique among instances sharing a database, and telling whether an instance
/// ran on this host.
fn default_instance() -> String {
    format!("{}:{}", host_name(), std::process::id())
}

fn host_name() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "simfleet".into())
}

/// True for an instance name of this host whose process no longer exists (Linux: no
/// `/proc/PID`). Anything else, another host's instance included, counts as alive.
pub(crate) fn is_dead_local_instance(instance: &str) -> bool {
    let Some((host, pid)) = instance.rsplit_once(':') else { return false };
    let Ok(pid) = pid.parse::<u32>() else { return false };
    host == host_name()
        && pid != std::process::id()
        && std::path::Path::new("/proc/self").exists()
        && !std::path::Path::new(&format!("/proc/{pid}")).exists()
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
    notifier: Notifier,
}

impl Syncer {
    pub fn new(store: Store, client: onence::Client, config: SyncConfig) -> Self {
        let notifier = Notifier::new(store.clone(), None);
        Syncer { store, client, config, notifier }
    }

    /// Lets the notification job open channel secrets (SMTP passwords, webhook secrets).
    pub fn with_secrets(mut self, secrets: Arc<dyn SecretOpener>) -> Self {
        let mut notifier = Notifier::new(self.store.clone(), Some(secrets));
        (notifier.backoff, notifier.max_attempts) = (self.notifier.backoff, self.notifier.max_attempts);
        self.notifier = notifier;
        self
    }

    pub fn notifier(&self) -> &Notifier {
        &self.notifier
    }

    /// Changes the first retry delay of notifications (tests use a short one).
    pub fn with_notify_backoff(mut self, backoff: Duration) -> Self {
        self.notifier.backoff = backoff;
        self
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The provider's API, for calls the HTTP layer makes on the spot.
    pub fn client(&self) -> &onence::Client {
        &self.client
    }

    pub(crate) fn concurrency(&self) -> usize {
        self.config.concurrency
    }

    /// This process's name in job runs and leases.
    pub fn instance(&self) -> &str {
        &self.config.instance
    }

    /// Runs one job and records it as a job run.
    pub async fn run(&self, job: Job) -> anyhow::Result<JobOutcome> {
        let run_id = self.store.start_job_run(job.as_str(), &self.config.instance).await?;
        let started = std::time::Instant::now();
        let result = match job {
            Job::Sims => self.sync_sims().await,
            Job::Usage => self.sync_usage().await,
            Job::Quotas => self.sync_quotas().await,
            Job::Connectivity => self.sync_connectivity().await,
            Job::Events => self.sync_network_events().await,
            Job::Outbox => self.deliver_outbox().await,
            Job::Sms => self.sync_sms().await,
            Job::Alerts => self.evaluate_alerts().await,
            Job::Notify => self.deliver_notifications().await,
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
        crate::metrics::record_run(job, status, started.elapsed(), tally.ok, failed);
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

    async fn sync_sms(&self) -> anyhow::Result<Tally> {
        let refs = self.store.provider_refs(Provider::OneNce).await?;
        let (ok, errors) = self.sync_sms_of(refs).await?;
        let mut tally = Tally { ok, ..Tally::default() };
        for (iccid, e) in errors {
            tally.fail(&iccid, e);
        }
        Ok(tally)
    }

    /// Re-reads one SIM's quotas, e.g. after a top-up the provider confirmed.
    pub async fn refresh_quotas_of(&self, r: &ProviderRef) -> anyhow::Result<()> {
        let now = simfleet_store::now();
        let data = quota("data", &self.client.get_data_quota(&r.provider_ref).await?, now)?;
        let sms = quota("sms", &self.client.get_sms_quota(&r.provider_ref).await?, now)?;
        self.store.upsert_quotas(&[(r.sim_id, data), (r.sim_id, sms)]).await?;
        Ok(())
    }

    /// Re-reads one SIM's daily usage for `from..=to` (the API's `refresh=true`). Only days
    /// whose figures changed are written, and the rollups are recomputed from the earliest
    /// of them, so a read-through of an unchanged history costs one provider call.
    pub async fn refresh_usage_of(&self, r: &ProviderRef, from: NaiveDate, to: NaiveDate) -> anyhow::Result<()> {
        let fresh = daily_rows(&self.client.get_usage(&r.provider_ref, Some(from), Some(to)).await?)?;
        let stored: std::collections::HashMap<NaiveDate, DailyUsage> =
            self.store.sim_usage(r.sim_id, from, to).await?.into_iter().map(|u| (u.day, u)).collect();
        let changed: Vec<(i64, DailyUsage)> =
            fresh.into_iter().filter(|d| stored.get(&d.day) != Some(d)).map(|d| (r.sim_id, d)).collect();
        if let Some(since) = changed.iter().map(|(_, d)| d.day).min() {
            self.store.upsert_usage(&changed).await?;
            self.store.refresh_usage_rollups(since).await?;
        }
        Ok(())
    }

    /// Re-reads one SIM's network attachment.
    pub async fn refresh_connectivity_of(&self, r: &ProviderRef) -> anyhow::Result<()> {
        let status = self.client.get_sim_status(&r.provider_ref).await?;
        self.store.upsert_connectivity(&[(r.sim_id, connectivity(&status, simfleet_store::now()))]).await?;
        Ok(())
    }

    /// Reads one SIM's network events newer than the newest stored (`since`).
    pub async fn refresh_network_events_of(
        &self,
        r: &ProviderRef,
        since: Option<chrono::DateTime<Utc>>,
    ) -> anyhow::Result<()> {
        let mut events = events_since(&self.client, r, since, self.config.events_max_pages).await?;
        events.reverse();
        self.store.insert_network_events(&events).await?;
        Ok(())
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

/// Network events per page: the API's maximum is 1,000; most runs need only the first page.
const EVENTS_PAGE_SIZE: u32 = 100;

impl Syncer {
    /// Per SIM, newest first, down to the newest event already stored (or `events_max_pages`
    /// pages on the first run); stored events are skipped, so overlapping reads are harmless.
    /// Events past the usage retention are pruned.
    async fn sync_network_events(&self) -> anyhow::Result<Tally> {
        let refs = self.store.provider_refs(Provider::OneNce).await?;
        let last = self.store.last_network_event_times().await?;
        let mut tally = Tally::default();
        for chunk in refs.chunks(500) {
            let fetched: Vec<_> = futures::stream::iter(chunk.iter().cloned().map(|r| {
                let since = last.get(&r.sim_id).copied();
                let client = self.client.clone();
                let max_pages = self.config.events_max_pages;
                async move {
                    let events = events_since(&client, &r, since, max_pages).await;
                    (r, events)
                }
            }))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
            let mut batch = Vec::new();
            for (r, events) in fetched {
                match events {
                    Ok(mut events) => {
                        tally.ok += 1;
                        events.reverse();
                        batch.extend(events);
                    }
                    Err(e) => tally.fail(&r.iccid, format!("{e:#}")),
                }
            }
            self.store.insert_network_events(&batch).await?;
        }
        let cutoff = Utc::now() - chrono::TimeDelta::days(self.config.usage_retention_days as i64);
        self.store.prune_network_events(cutoff).await?;
        Ok(tally)
    }
}

/// A SIM's events newer than `since`, newest first.
async fn events_since(
    client: &onence::Client,
    sim: &ProviderRef,
    since: Option<chrono::DateTime<Utc>>,
    max_pages: u32,
) -> anyhow::Result<Vec<NewNetworkEvent>> {
    let mut events = Vec::new();
    for page in 1..=max_pages {
        let answer =
            client.list_events(&sim.provider_ref, Some(page), Some(EVENTS_PAGE_SIZE), Some("-timestamp")).await?;
        let count = answer.items.len();
        for e in answer.items {
            let event = network_event(sim.sim_id, &e)?;
            if since.is_some_and(|s| event.occurred_at < s) {
                return Ok(events);
            }
            events.push(event);
        }
        let last_page = answer.total_pages.is_some_and(|t| page >= t);
        if count < EVENTS_PAGE_SIZE as usize || last_page {
            break;
        }
    }
    Ok(events)
}

fn network_event(sim_id: i64, e: &onence::models::SimEvent) -> anyhow::Result<NewNetworkEvent> {
    let raw = e.timestamp.as_deref().context("a network event without a timestamp")?;
    let occurred_at =
        crate::account::parse_time(Some(raw)).with_context(|| format!("unreadable event timestamp {raw:?}"))?;
    Ok(NewNetworkEvent {
        sim_id,
        occurred_at,
        event_type: e.event_type.clone().unwrap_or_else(|| "Unknown".into()),
        severity: e.event_severity.clone(),
        alert: e.alert.unwrap_or(false),
        country: e.country.clone(),
        operator: e.operator.clone(),
        mcc: e.mcc.clone(),
        mnc: e.mnc.clone(),
        imei: e.imei.clone(),
        imsi: e.imsi.clone(),
    })
}

impl Syncer {
    /// One set-based pass of every rule over the fleet.
    async fn evaluate_alerts(&self) -> anyhow::Result<Tally> {
        let outcome = self.store.evaluate_alerts(simfleet_store::now()).await?;
        tracing::info!(?outcome, "alert rules evaluated");
        Ok(Tally { ok: outcome.opened as i64 + outcome.resolved as i64, errors: Vec::new() })
    }

    async fn deliver_notifications(&self) -> anyhow::Result<Tally> {
        let report = self.notifier.deliver_due().await?;
        let mut tally = Tally { ok: report.delivered, errors: Vec::new() };
        for (channel, message) in report.errors {
            tally.fail(&channel, format!("will retry: {message}"));
        }
        Ok(tally)
    }

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
            let results: Vec<_> = futures::stream::iter(items.into_iter().map(|item| async move {
                let result = self.deliver(&item).await;
                (item, result)
            }))
            .buffer_unordered(self.config.concurrency)
            .collect()
            .await;
            let mut progressed = false;
            for (item, result) in results {
                match result {
                    Ok(applied) => {
                        self.store.complete_outbox_with(&item, applied).await?;
                        self.after_delivery(&item).await;
                        tally.ok += 1;
                        progressed = true;
                    }
                    Err(Delivery::Refused { message, kind }) => {
                        let msg = refusal_note(&item.action, kind, &message);
                        self.store.fail_outbox_with(&item, &msg, Some(kind), "sync").await?;
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
    /// The provider refused: retrying cannot help. `kind` classifies why (`sim-expired`, …).
    Refused { message: String, kind: &'static str },
    /// The provider could not be reached or was overloaded: try again later.
    Later(String),
}

impl Delivery {
    fn refused(message: impl Into<String>) -> Delivery {
        Delivery::Refused { message: message.into(), kind: "rejected" }
    }
}

impl From<onence::Error> for Delivery {
    fn from(e: onence::Error) -> Self {
        if e.is_transient() {
            Delivery::Later(e.to_string())
        } else {
            Delivery::Refused { kind: crate::account::refusal_kind(&e), message: e.to_string() }
        }
    }
}

/// The text recorded with a refused action: what the provider said, and what to do about it.
fn refusal_note(action: &str, kind: &str, message: &str) -> String {
    match kind {
        "sim-expired" => format!(
            "{action} refused: the SIM is expired at the provider and only an extension is possible \
             (POST /api/v1/sims/extension); provider said: {message}"
        ),
        "sim-not-owned" => {
            format!("{action} refused: the SIM does not belong to the provider account; provider said: {message}")
        }
        "invalid-payment-method" => {
            format!("{action} refused: the payment method is not valid for this account; provider said: {message}")
        }
        _ => format!("{action} refused by the provider: {message}"),
    }
}

/// How long before its request a provider record may be dated and still be the request's
/// result (clocks of simfleet and the provider differ slightly).
const CLOCK_SKEW: chrono::TimeDelta = chrono::TimeDelta::seconds(5);

impl Syncer {
    /// Sends one action and says what the provider did. Top-ups and SMS are not idempotent at
    /// the provider: when an earlier attempt may have reached it (this is not the first
    /// attempt), the provider's records are checked first, so a retry never doubles one.
    async fn deliver(&self, item: &simfleet_store::OutboxItem) -> Result<Applied, Delivery> {
        let client = &self.client;
        let provider_ref =
            item.provider_ref.clone().ok_or_else(|| Delivery::refused("the SIM has no provider reference yet"))?;
        let payload: serde_json::Value =
            serde_json::from_str(&item.payload).map_err(|e| Delivery::refused(format!("unreadable payload: {e}")))?;
        let payment = |p: &serde_json::Value| -> Result<Option<PaymentMethod>, Delivery> {
            match p["payment_method"].as_str() {
                None => Ok(None),
                Some(m) => serde_json::from_value(json!(m)).map(Some).map_err(|_| Delivery::Refused {
                    message: format!("unknown payment method {m}"),
                    kind: "invalid-payment-method",
                }),
            }
        };
        let retry = item.attempts > 1;
        let note = |text: String| Applied { event_note: Some(text), ..Applied::default() };
        match item.action.as_str() {
            "set_status" | "set_label" | "set_imei_lock" => legacy_update(client, item, &provider_ref, &payload).await,
            "top_up" => {
                let pm = payment(&payload)?;
                let existing =
                    if retry { self.order_since("TOPUP", &provider_ref, item.created_at).await? } else { None };
                let number = match existing {
                    Some(n) => n,
                    None => {
                        let created = client.top_up(&provider_ref, pm).await?;
                        created.id().and_then(|id| id.parse::<u64>().ok()).ok_or_else(|| {
                            Delivery::refused("the provider confirmed the top-up without naming its order")
                        })?
                    }
                };
                let order =
                    crate::account::provider_order(&client.get_order(number).await?, item.requested_by.as_deref())
                        .map_err(|e| Delivery::Later(format!("{e:#}")))?;
                let amount = order
                    .invoice_amount_e4
                    .map(|a| {
                        format!(
                            " ({} {})",
                            String::from(simfleet_domain::Money::from_scaled(a)),
                            order.currency.clone().unwrap_or_default()
                        )
                    })
                    .unwrap_or_default();
                Ok(Applied {
                    result: Some(json!({ "order_number": number })),
                    event_note: Some(format!("top-up applied by the provider: order {number}{amount}")),
                    order: Some(order),
                    ..Applied::default()
                })
            }
            "set_auto_top_up" => {
                let enabled = payload["enabled"].as_bool().unwrap_or(false);
                client.set_auto_top_up(&AutoTopupRequest { enabled, iccids: vec![provider_ref] }).await?;
                Ok(note(format!("auto top-up {} at the provider", if enabled { "enabled" } else { "disabled" })))
            }
            "send_sms" => {
                let draft: simfleet_store::SmsDraft = serde_json::from_value(payload.clone())
                    .map_err(|e| Delivery::refused(format!("unreadable SMS: {e}")))?;
                if retry && self.sms_sent_since(&provider_ref, &draft.payload, item.created_at).await? {
                    return Ok(note("SMS accepted by the provider (found after a retry)".into()));
                }
                let sms = SmsMessage {
                    source_address: draft.source_address.clone(),
                    payload: Some(draft.payload.clone()),
                    udh: draft.udh.clone(),
                    dcs: draft.dcs,
                    source_address_type: None,
                    expiry_date: draft.expiry_date.map(|t| t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)),
                };
                client.send_sms(&provider_ref, &sms).await?;
                Ok(note("SMS accepted by the provider".into()))
            }
            "reset_connectivity" => {
                if retry && self.reset_since(&provider_ref, item.created_at).await? {
                    return Ok(note("connectivity reset done by the provider (found after a retry)".into()));
                }
                client.reset_connectivity(&provider_ref).await?;
                Ok(note("connectivity reset done by the provider".into()))
            }
            "transfer" => {
                let target = payload["target_organisation"].as_i64();
                client
                    .transfer_sims(&SimTransfer {
                        target_organisation: target,
                        iccid_ranges: None,
                        iccids: Some(vec![provider_ref]),
                    })
                    .await?;
                Ok(Applied {
                    result: Some(json!({ "target_organisation": target })),
                    event_note: Some(format!(
                        "transfer to organisation {} requested at the provider",
                        target.unwrap_or_default()
                    )),
                    ..Applied::default()
                })
            }
            "extend" => {
                let pm = payment(&payload)?;
                let product_id = payload["product_id"].as_i64();
                // The provider bills an extension as a TARIFF_CHANGE order of the SIM.
                if retry && self.order_since("TARIFF_CHANGE", &provider_ref, item.created_at).await?.is_some() {
                    return Ok(note("extension applied by the provider (found after a retry)".into()));
                }
                client.extend_sims(&SimExtensionRequest { iccids: vec![provider_ref], product_id }, pm).await?;
                Ok(note("extension applied by the provider".into()))
            }
            other => Err(Delivery::refused(format!("unknown action {other}"))),
        }
    }

    /// The number of an order of `order_type` concerning this SIM dated at or after `since`, if
    /// the provider has one among its newest orders.
    async fn order_since(
        &self,
        order_type: &str,
        provider_ref: &str,
        since: chrono::DateTime<Utc>,
    ) -> Result<Option<u64>, Delivery> {
        let page = self.client.list_orders(Some(1), Some(10), Some("-order_date")).await?;
        Ok(page.items.iter().find_map(|o| {
            let date = crate::account::parse_time(o.order_date.as_deref())?;
            let concerns = o.sims.iter().flatten().any(|s| s.iccid.as_deref() == Some(provider_ref));
            (o.order_type.as_deref() == Some(order_type) && concerns && date >= since - CLOCK_SKEW)
                .then_some(o.order_number)
                .flatten()
        }))
    }

    /// Whether the SIM's provider events show a connectivity reset at or after `since`. When
    /// none shows (the provider may record it late), the reset is sent again: a second reset
    /// only makes the device attach once more.
    async fn reset_since(&self, provider_ref: &str, since: chrono::DateTime<Utc>) -> Result<bool, Delivery> {
        let page = self.client.list_events(provider_ref, Some(1), Some(50), Some("-timestamp")).await?;
        Ok(page.items.iter().any(|e| {
            let is_reset = e.event_type.as_deref().is_some_and(|t| t.to_lowercase().contains("reset"));
            is_reset && crate::account::parse_time(e.timestamp.as_deref()).is_some_and(|t| t >= since - CLOCK_SKEW)
        }))
    }

    /// Whether the provider already holds an MT-SMS with `payload` submitted at or after `since`.
    async fn sms_sent_since(
        &self,
        provider_ref: &str,
        payload: &str,
        since: chrono::DateTime<Utc>,
    ) -> Result<bool, Delivery> {
        let list = self.fetch_sms(provider_ref).await?;
        Ok(list.iter().any(|m| {
            m.direction == "MT"
                && m.payload.as_deref() == Some(payload)
                && m.submitted_at.is_some_and(|t| t >= since - CLOCK_SKEW)
        }))
    }

    /// Follow-up reads after a delivery, so that the views show its effect without waiting
    /// for the next scheduled sync. Best effort: the scheduled jobs catch up anyway.
    async fn after_delivery(&self, item: &simfleet_store::OutboxItem) {
        let Some(provider_ref) = item.provider_ref.clone() else { return };
        let r = ProviderRef { sim_id: item.sim_id, iccid: item.iccid.clone(), provider_ref };
        let outcome = match item.action.as_str() {
            "top_up" | "extend" => self.refresh_quotas_of(&r).await,
            "send_sms" => self.sync_sms_of(vec![r]).await.map(|_| ()),
            _ => Ok(()),
        };
        if let Err(e) = outcome {
            tracing::warn!(iccid = %item.iccid, action = %item.action, error = %format!("{e:#}"), "follow-up read failed");
        }
    }
}

/// Status, label and IMEI-lock changes (idempotent `PUT /v1/sims/{iccid}`).
async fn legacy_update(
    client: &onence::Client,
    item: &simfleet_store::OutboxItem,
    provider_ref: &str,
    payload: &serde_json::Value,
) -> Result<Applied, Delivery> {
    let provider_ref = provider_ref.to_owned();
    let status_of = |s: &str| if s == "Enabled" { ProviderStatus::Enabled } else { ProviderStatus::Disabled };
    let current = status_of(item.provider_status.as_deref().unwrap_or("Enabled"));
    let update = |label, imei_lock, status| SimUpdate { iccid: provider_ref.clone(), label, imei_lock, status };
    let (update, applied) = match item.action.as_str() {
        "set_status" => {
            let status = payload["status"].as_str().unwrap_or("Disabled").to_owned();
            (update(None, None, status_of(&status)), Applied { provider_status: Some(status), ..Applied::default() })
        }
        "set_label" => {
            let label = payload["label"].as_str().map(str::to_owned).or(Some(String::new()));
            (update(label, None, current), Applied::default())
        }
        "set_imei_lock" => {
            let lock = payload["imei_lock"].as_bool().unwrap_or(false);
            let note =
                if lock { "IMEI lock turned on at the provider" } else { "IMEI lock turned off at the provider" };
            (update(None, Some(lock), current), Applied { event_note: Some(note.into()), ..Applied::default() })
        }
        other => return Err(Delivery::refused(format!("unknown action {other}"))),
    };
    client.update_sim(&provider_ref, &update).await?;
    Ok(applied)
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
