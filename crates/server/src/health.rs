//! `/health/live` and `/health/ready`.

use crate::app::AppState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// The process is up and answering.
pub async fn live() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready to serve: the database answers and is fully migrated.
pub async fn ready(State(app): State<AppState>) -> (StatusCode, Json<Value>) {
    let database = match tokio::time::timeout(std::time::Duration::from_secs(3), app.store.ready()).await {
        Ok(Ok(true)) => "ok",
        Ok(Ok(false)) => "not migrated",
        Ok(Err(_)) => "unreachable",
        Err(_) => "timeout",
    };
    let ok = database == "ok";
    let status = if ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    (status, Json(json!({ "status": if ok { "ready" } else { "unavailable" }, "database": database })))
}
