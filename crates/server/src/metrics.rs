//! `GET /metrics`: Prometheus text format.
//!
//! Counters and histograms are recorded where things happen (HTTP middleware in
//! [`crate::observe`], provider latency in `onence`, job runs in `simfleet-sync`) through the
//! `metrics` facade; the recorder is installed once per process. Gauges that describe the
//! database (SIMs by status, outbox backlog, pool usage) and the provider client's counters
//! are refreshed when Prometheus scrapes.

use crate::app::AppState;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

pub const HTTP_REQUESTS: &str = "http_requests_total";
pub const HTTP_DURATION: &str = "http_request_duration_seconds";
pub const SIMS: &str = "simfleet_sims";
pub const OUTBOX_PENDING: &str = "simfleet_outbox_pending";
pub const OUTBOX_OLDEST_AGE: &str = "simfleet_outbox_oldest_pending_age_seconds";
pub const DB_POOL_CONNECTIONS: &str = "simfleet_db_pool_connections";
pub const DB_POOL_MAX: &str = "simfleet_db_pool_max_connections";
pub const PROVIDER_CONFIGURED: &str = "simfleet_provider_configured";
pub const PROVIDER_CALLS: &str = "simfleet_provider_calls_total";
pub const PROVIDER_REQUESTS: &str = "simfleet_provider_requests_total";
pub const PROVIDER_ERRORS: &str = "simfleet_provider_errors_total";
pub const PROVIDER_RATE_LIMITED: &str = "simfleet_provider_rate_limited_total";
pub const PROVIDER_TOKEN_REFRESHES: &str = "simfleet_provider_token_refreshes_total";
pub const PROVIDER_RETRIES: &str = "simfleet_provider_retries_total";
pub const PROVIDER_BREAKER_OPENED: &str = "simfleet_provider_circuit_opened_total";
pub const PROVIDER_CIRCUIT_STATE: &str = "simfleet_provider_circuit_state";
pub const SCRAPE_ERRORS: &str = "simfleet_metrics_scrape_errors_total";
/// Alerts open by severity. Hook for the alerts engine: it sets this gauge through
/// [`set_alerts_open`]; nothing is exported until it does.
pub const ALERTS_OPEN: &str = "simfleet_alerts_open";

const HTTP_BUCKETS: &[f64] = &[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
const SLOW_BUCKETS: &[f64] = &[0.01, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0];
/// Counting SIMs by status scans an index; at ten million rows that is worth caching.
const SIM_COUNT_TTL: Duration = Duration::from_secs(30);

/// The process-wide Prometheus recorder, installed on first use. When the embedding
/// program already installed another recorder, this handle renders an empty page.
pub fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let builder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Full(HTTP_DURATION.into()), HTTP_BUCKETS)
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(onence::metrics::REQUEST_DURATION.into()), HTTP_BUCKETS)
            })
            .and_then(|b| {
                b.set_buckets_for_metric(Matcher::Full(simfleet_sync::metrics::JOB_DURATION.into()), SLOW_BUCKETS)
            })
            .expect("bucket lists are not empty");
        let recorder = builder.build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!("a metrics recorder was already installed; /metrics will not see simfleet's metrics");
        }
        // Exported from the start, so that alerting rules see a zero rather than nothing.
        for source in ["outbox", "sims"] {
            metrics::counter!(SCRAPE_ERRORS, "source" => source).increment(0);
        }
        handle
    })
}

/// Sets `simfleet_alerts_open{severity}` (called by the alerts engine after each evaluation).
pub fn set_alerts_open(severity: &str, open: u64) {
    metrics::gauge!(ALERTS_OPEN, "severity" => severity.to_owned()).set(open as f64);
}

/// `GET /metrics`
pub async fn scrape(State(app): State<AppState>) -> impl IntoResponse {
    let handle = handle();
    refresh_gauges(&app).await;
    handle.run_upkeep();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], handle.render())
}

async fn refresh_gauges(app: &AppState) {
    for pool in app.store.pool_usage() {
        let in_use = pool.open.saturating_sub(pool.idle);
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool.pool, "state" => "idle").set(pool.idle as f64);
        metrics::gauge!(DB_POOL_CONNECTIONS, "pool" => pool.pool, "state" => "in_use").set(in_use as f64);
        metrics::gauge!(DB_POOL_MAX, "pool" => pool.pool).set(pool.max as f64);
    }
    provider_metrics(app);
    match app.store.outbox_backlog().await {
        Ok(backlog) => {
            metrics::gauge!(OUTBOX_PENDING).set(backlog.pending as f64);
            let age = backlog
                .oldest_pending
                .map(|t| (simfleet_store::now() - t).num_milliseconds().max(0) as f64 / 1000.0)
                .unwrap_or(0.0);
            metrics::gauge!(OUTBOX_OLDEST_AGE).set(age);
        }
        Err(e) => scrape_failed("outbox", &e),
    }
    if let Err(e) = refresh_sim_counts(app).await {
        scrape_failed("sims", &e);
    }
}

fn scrape_failed(what: &'static str, e: &dyn std::fmt::Display) {
    tracing::warn!(what, error = %e, "metrics: could not read from the database");
    metrics::counter!(SCRAPE_ERRORS, "source" => what).increment(1);
}

async fn refresh_sim_counts(app: &AppState) -> simfleet_store::StoreResult<()> {
    static LAST: Mutex<Option<Instant>> = Mutex::new(None);
    {
        let last = LAST.lock().unwrap_or_else(|e| e.into_inner());
        if last.is_some_and(|t| t.elapsed() < SIM_COUNT_TTL) {
            return Ok(());
        }
    }
    let counts = app.store.sims_by_status().await?;
    for (status, n) in counts {
        metrics::gauge!(SIMS, "status" => status.as_str()).set(n as f64);
    }
    *LAST.lock().unwrap_or_else(|e| e.into_inner()) = Some(Instant::now());
    Ok(())
}

/// The provider client's own counters, exported as they stand (they count since start).
fn provider_metrics(app: &AppState) {
    let Some(runner) = &app.runner else {
        metrics::gauge!(PROVIDER_CONFIGURED).set(0.0);
        return;
    };
    metrics::gauge!(PROVIDER_CONFIGURED).set(1.0);
    let client = runner.syncer().client();
    let m = client.metrics();
    metrics::counter!(PROVIDER_CALLS).absolute(m.calls);
    metrics::counter!(PROVIDER_REQUESTS).absolute(m.requests);
    metrics::counter!(PROVIDER_ERRORS).absolute(m.errors);
    metrics::counter!(PROVIDER_RATE_LIMITED).absolute(m.rate_limited);
    metrics::counter!(PROVIDER_TOKEN_REFRESHES).absolute(m.token_refreshes);
    metrics::counter!(PROVIDER_RETRIES).absolute(m.retries);
    metrics::counter!(PROVIDER_BREAKER_OPENED).absolute(m.breaker_opened);
    let current = circuit_state_name(client.breaker_state());
    for state in ["closed", "half_open", "open"] {
        metrics::gauge!(PROVIDER_CIRCUIT_STATE, "state" => state).set(if state == current { 1.0 } else { 0.0 });
    }
}

/// `closed`, `half_open` or `open`.
pub fn circuit_state_name(state: onence::BreakerState) -> &'static str {
    match state {
        onence::BreakerState::Closed => "closed",
        onence::BreakerState::HalfOpen => "half_open",
        onence::BreakerState::Open => "open",
    }
}
