//! `/metrics` after real traffic, and the names the deployment files rely on.

mod common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use std::collections::BTreeSet;

/// Metric names on an exposition page (`name{labels} value` lines).
fn exported_names(page: &str) -> BTreeSet<String> {
    page.lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
        .map(|l| l.split(['{', ' ']).next().unwrap_or("").to_owned())
        .collect()
}

/// Identifiers in a file that look like simfleet's metric names.
fn referenced_names(text: &str) -> BTreeSet<String> {
    text.split(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'))
        .filter(|t| t.starts_with("http_") || t.starts_with("simfleet_"))
        .map(str::to_owned)
        .collect()
}

fn deploy_file(path: &str) -> String {
    let full = format!("{}/../../deploy/{path}", env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(&full).unwrap_or_else(|e| panic!("{full}: {e}"))
}

async fn wait_for_run(app: &TestApp, job: &str) -> Value {
    for _ in 0..300 {
        let (_, runs) = app.get(&format!("/api/v1/jobs/runs?job={job}&limit=1"), &app.viewer).await;
        if let Some(run) = runs["items"].as_array().and_then(|a| a.first()) {
            if run["status"] != "running" {
                return run.clone();
            }
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("{job} did not finish");
}

async fn metrics_cover_traffic_jobs_and_deploy_files(dialect: simfleet_store::Dialect) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(20, 5), listener).await.unwrap();
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };

    let iccid = app.sim(42, json!({ "label": "metrics" })).await;
    let (status, _) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/v1/sims?limit=5", &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app.get("/api/v1/no-such-thing", &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for job in ["sims", "outbox"] {
        let (status, res) = app.call(Method::POST, &format!("/api/v1/jobs/{job}/run"), Some(&app.operator), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{res}");
        let run = wait_for_run(&app, job).await;
        assert_eq!(run["status"], "success", "{run}");
    }

    let res = app.http.get(format!("{}/metrics", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let page = res.text().await.unwrap();
    let names = exported_names(&page);

    // Route templates, never raw paths: an ICCID in a label would make a series per SIM.
    assert!(page.contains(r#"route="/api/v1/sims/{iccid}""#), "{page}");
    assert!(!page.contains(&iccid), "raw paths leak into labels");
    assert!(page.contains(r#"route="unmatched""#) && page.contains(r#"status="404""#));
    assert!(page.contains(r#"simfleet_provider_circuit_state{state="closed"} 1"#), "{page}");
    assert!(page.contains(r#"simfleet_job_runs_total{job="sims",status="success"}"#), "{page}");
    for name in [
        "http_requests_total",
        "http_request_duration_seconds_bucket",
        "simfleet_provider_request_duration_seconds_bucket",
        "simfleet_job_last_success_timestamp_seconds",
        "simfleet_sims",
        "simfleet_outbox_pending",
        "simfleet_db_pool_connections",
    ] {
        assert!(names.contains(name), "{name} missing from /metrics:\n{page}");
    }

    for file in ["grafana/simfleet.json", "prometheus/alerts.yml"] {
        let referenced = referenced_names(&deploy_file(file));
        assert!(referenced.len() >= 10, "{file} references too few metrics: {referenced:?}");
        let missing: Vec<_> = referenced.difference(&names).collect();
        assert!(missing.is_empty(), "{file} uses metrics that /metrics does not export: {missing:?}");
    }

    let res = app.http.get(format!("{}/health/ready", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let body: Value = res.json().await.unwrap();
    assert_eq!(body["database"], "ok", "{body}");
    assert_eq!(body["provider"], json!({ "configured": true, "circuit": "closed" }));
    app.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_sqlite() {
    metrics_cover_traffic_jobs_and_deploy_files(simfleet_store::Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_postgres() {
    metrics_cover_traffic_jobs_and_deploy_files(simfleet_store::Dialect::Postgres).await;
}
