//! `/health/live` and `/health/ready`.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};
use std::time::Duration;

/// How long readiness waits for the database before calling it unreachable: probes have
/// their own timeouts (Kubernetes' default is one second more than this is pointless).
const DATABASE_TIMEOUT: Duration = Duration::from_secs(2);

/// The process is up and answering.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok", "version": env!("CARGO_PKG_VERSION") }))
}

/// Ready to serve: the database answers and is fully migrated. The provider's circuit state
/// is reported but never fails readiness: an outage at 1NCE must not take the inventory
/// (and the dashboard explaining the outage) down with it.
pub async fn ready(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(DATABASE_TIMEOUT, app.store.ready()).await {
        Ok(Ok(true)) => "ok",
        Ok(Ok(false)) => "not migrated",
        Ok(Err(_)) => "unreachable",
        Err(_) => "timeout",
    };
    let provider = match &app.runner {
        Some(runner) => json!({
            "configured": true,
            "circuit": crate::metrics::circuit_state_name(runner.syncer().client().breaker_state()),
        }),
        None => json!({ "configured": false }),
    };
    let ok = database == "ok";
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": if ok { "ready" } else { "unavailable" },
        "database": database,
        "provider": provider,
    });
    (status, Json(body))
}
