//! One log line and the HTTP metrics for every request.
//!
//! Applied with `Router::layer` after all routes are added, so it runs after routing and
//! sees the route template (`MatchedPath`, e.g. `/api/v1/sims/{iccid}`): labels and logs never
//! carry raw paths, whose ICCIDs would make unbounded label sets.

use crate::metrics::{HTTP_DURATION, HTTP_REQUESTS};
use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::sync::{Arc, OnceLock};
use std::time::Instant;
use tracing::Instrument;

/// Filled in by authentication with the caller's name, so that the request's log line can
/// say who it was.
#[derive(Debug, Clone, Default)]
pub struct RequestUser(Arc<OnceLock<String>>);

impl RequestUser {
    pub fn set(&self, name: String) {
        let _ = self.0.set(name);
    }
}

/// Route label of requests that matched no route.
const UNMATCHED: &str = "unmatched";

pub async fn observe(mut req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let route = req.extensions().get::<MatchedPath>().map(|m| m.as_str().to_owned());
    let route = route.as_deref().unwrap_or(UNMATCHED).to_owned();
    let request_id = req.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-").to_owned();
    let user = RequestUser::default();
    req.extensions_mut().insert(user.clone());

    let span = tracing::info_span!("request", request_id = %request_id, method = %method, route = %route);
    let response = next.run(req).instrument(span).await;

    let latency = started.elapsed();
    let status = response.status().as_u16();
    let labels = [("method", method.to_string()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!(HTTP_REQUESTS, &labels).increment(1);
    metrics::histogram!(HTTP_DURATION, &labels).record(latency.as_secs_f64());

    let user =
        user.0.get().cloned().or_else(|| response.extensions().get::<crate::auth::AuditActor>().map(|a| a.0.clone()));
    let user = user.as_deref().unwrap_or("-");
    let latency_ms = latency.as_secs_f64() * 1000.0;
    // Probes and scrapes arrive every few seconds: keep them out of the info log.
    if route.starts_with("/health/") || route == "/metrics" {
        tracing::debug!(target: "simfleet::http", request_id, method = %method, route, status, latency_ms, user, "request");
    } else if status >= 500 {
        tracing::error!(target: "simfleet::http", request_id, method = %method, route, status, latency_ms, user, "request");
    } else {
        tracing::info!(target: "simfleet::http", request_id, method = %method, route, status, latency_ms, user, "request");
    }
    response
}
