//! `/_sim/*`: runtime control of the simulator (not part of the 1NCE API, never faulted).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

use super::App;
use crate::faults::Faults;

pub async fn counters(State(app): State<App>) -> Response {
    Json(app.faults.counters()).into_response()
}

pub async fn get_faults(State(app): State<App>) -> Response {
    Json(app.faults.get()).into_response()
}

/// Replaces the fault settings with the JSON body (missing fields = neutral).
pub async fn set_faults(State(app): State<App>, body: Bytes) -> Response {
    match serde_json::from_slice::<Faults>(&body) {
        Ok(f) => {
            app.faults.set(f.clone());
            Json(f).into_response()
        }
        Err(e) => (StatusCode::BAD_REQUEST, Json(json!({"message": e.to_string()}))).into_response(),
    }
}

pub async fn revoke_tokens(State(app): State<App>) -> Response {
    app.state.revoke_tokens();
    StatusCode::NO_CONTENT.into_response()
}

pub async fn reset_counters(State(app): State<App>) -> Response {
    app.faults.reset_counters();
    StatusCode::NO_CONTENT.into_response()
}
