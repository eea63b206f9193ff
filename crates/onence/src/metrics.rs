//! Call counters (atomics) with a plain snapshot for export (e.g. to Prometheus), and the
//! request latency histogram, recorded through the `metrics` facade (a no-op unless the
//! application installs a recorder).

use std::sync::atomic::{AtomicU64, Ordering};

/// A point-in-time copy of the client's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientMetrics {
    /// Logical operations started (one per API method call).
    pub calls: u64,
    /// HTTP requests sent (attempts, including retries and token requests).
    pub requests: u64,
    /// Operations that ended in an error.
    pub errors: u64,
    /// 429 answers received.
    pub rate_limited: u64,
    /// Tokens fetched.
    pub token_refreshes: u64,
    /// Retries (5xx/timeout/connection, 429 waits and 401 re-authentication).
    pub retries: u64,
    /// Times the circuit breaker opened.
    pub breaker_opened: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Metrics {
    pub calls: AtomicU64,
    pub requests: AtomicU64,
    pub errors: AtomicU64,
    pub rate_limited: AtomicU64,
    pub token_refreshes: AtomicU64,
    pub retries: AtomicU64,
    pub breaker_opened: AtomicU64,
}

impl Metrics {
    pub fn inc(counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> ClientMetrics {
        let g = |a: &AtomicU64| a.load(Ordering::Relaxed);
        ClientMetrics {
            calls: g(&self.calls),
            requests: g(&self.requests),
            errors: g(&self.errors),
            rate_limited: g(&self.rate_limited),
            token_refreshes: g(&self.token_refreshes),
            retries: g(&self.retries),
            breaker_opened: g(&self.breaker_opened),
        }
    }
}

/// Name of the provider request latency histogram (seconds), labelled `endpoint` (the path
/// template, never a path with identifiers) and `status` (HTTP status, or `error` when no
/// answer came).
pub const REQUEST_DURATION: &str = "simfleet_provider_request_duration_seconds";

pub(crate) fn record_latency(template: &'static str, status: Option<u16>, seconds: f64) {
    let status = status.map(|s| s.to_string()).unwrap_or_else(|| "error".to_owned());
    ::metrics::histogram!(REQUEST_DURATION, "endpoint" => template, "status" => status).record(seconds);
}
