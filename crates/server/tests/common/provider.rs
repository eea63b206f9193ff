//! Tests against the 1NCE simulator: an app synced with it, and what the API says of a SIM's
//! provider actions and history.

use super::TestApp;
use onence_sim::SimHandle;
use reqwest::StatusCode;
use serde_json::Value;
use simfleet_store::Dialect;

/// A simulator with `n` SIMs and an app that synced them.
pub async fn setup(dialect: Dialect, n: usize) -> Option<(SimHandle, TestApp)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(n, 21), listener).await.unwrap();
    let app = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await?;
    let run = app.run_job("sims").await;
    assert_eq!(run["status"], "success", "{run}");
    Some((sim, app))
}

/// The SIM's actions queued for the provider, newest first.
pub async fn actions(app: &TestApp, iccid: &str) -> Vec<Value> {
    let (status, res) = app.get(&format!("/api/v1/sims/{iccid}/provider-actions"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    res["items"].as_array().unwrap().clone()
}

/// The SIM's events of one kind, newest first.
pub async fn events(app: &TestApp, iccid: &str, kind: &str) -> Vec<Value> {
    let (_, res) = app.get(&format!("/api/v1/sims/{iccid}/events?limit=100"), &app.viewer).await;
    res["items"].as_array().unwrap().iter().filter(|e| e["kind"] == kind).cloned().collect()
}
