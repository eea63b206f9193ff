//! Sync jobs and provider data over the API, against the 1NCE simulator.

mod common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::Value;
use simfleet_store::Dialect;

async fn jobs_run_over_the_api_and_fill_the_sim_views(dialect: Dialect) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(40, 11), listener).await.unwrap();
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };

    let (status, _) = app.call(Method::POST, "/api/v1/jobs/sims/run", Some(&app.viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers do not run jobs");
    let (status, _) = app.call(Method::POST, "/api/v1/jobs/nonsense/run", Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for job in ["sims", "usage", "quotas", "connectivity", "events", "outbox", "sms", "alerts", "notify"] {
        // `alerts` also runs by itself after each data sync: `run_job` waits while that run
        // is busy and returns the run it started, not the automatic one before it.
        let run = app.run_job(job).await;
        assert_eq!(run["status"], "success", "{run}");
        if !["outbox", "alerts", "notify"].contains(&job) {
            assert!(run["items_ok"].as_i64().unwrap() >= 40, "{run}");
        }
    }
    // An automatic `alerts` run started by the last sync may still be busy.
    app.wait_for_run("alerts", 0).await;
    let (_, jobs) = app.get("/api/v1/jobs", &app.viewer).await;
    assert_eq!(jobs["provider_configured"], true);
    assert_eq!(jobs["items"].as_array().unwrap().len(), 9);
    assert!(jobs["items"].as_array().unwrap().iter().all(|j| j["last_run"]["status"] == "success"), "{jobs}");

    let record = &sim.state().sims()[0];
    let iccid = &record.iccid_with_luhn;
    let today = sim.state().today();
    let from = today - chrono::Days::new(400);
    let (status, usage) =
        app.get(&format!("/api/v1/sims/{iccid}/usage?bucket=month&from={from}&to={today}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{usage}");
    let total: i64 = usage["items"].as_array().unwrap().iter().map(|p| p["data_total"].as_i64().unwrap()).sum();
    let truth: u64 = sim.state().usage(&record.iccid, from, today).unwrap().iter().map(|(_, u)| u.data_umb()).sum();
    let truth_bytes = (u128::from(truth) * 1_048_576 / 1_000_000) as i64;
    assert!((total - truth_bytes).abs() <= 400, "{total} vs {truth_bytes}");
    // Fleet analytics from the rollups.
    let (status, trend) =
        app.get(&format!("/api/v1/stats/usage-trend?from={from}&to={today}&bucket=month"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{trend}");
    let fleet_total: i64 = trend["items"].as_array().unwrap().iter().map(|p| p["data_total"].as_i64().unwrap()).sum();
    let all_truth: u64 = sim
        .state()
        .sims()
        .iter()
        .flat_map(|r| sim.state().usage(&r.iccid, from, today).unwrap())
        .map(|(_, u)| u.data_umb())
        .sum();
    let all_truth = (u128::from(all_truth) * 1_048_576 / 1_000_000) as i64;
    assert!((fleet_total - all_truth).abs() <= 40 * 400, "{fleet_total} vs {all_truth}");
    let (_, daily) = app
        .get(&format!("/api/v1/stats/usage-trend?from={}&to={today}", today - chrono::Days::new(13)), &app.viewer)
        .await;
    assert_eq!(daily["items"].as_array().unwrap().len(), 14);
    assert!(daily["items"][13]["data_moving_average_7"].as_f64().is_some());
    let (_, top) = app.get(&format!("/api/v1/stats/top-consumers?from={from}&to={today}&limit=5"), &app.viewer).await;
    let top = top["items"].as_array().unwrap();
    assert_eq!(top.len(), 5);
    assert!(top.windows(2).all(|w| w[0]["data_total"].as_i64() >= w[1]["data_total"].as_i64()));
    let (status, _) = app.get("/api/v1/stats/top-consumers?limit=0", &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);

    let (_, quota) = app.get(&format!("/api/v1/sims/{iccid}/quota"), &app.viewer).await;
    assert_eq!(quota["items"].as_array().unwrap().len(), 2);
    let (status, conn) = app.get(&format!("/api/v1/sims/{iccid}/connectivity"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{conn}");
    assert!(conn["status"].is_string());
    let (status, events) =
        app.get(&format!("/api/v1/sims/{iccid}/network-events?limit=5&count=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{events}");
    assert_eq!(events["items"].as_array().unwrap().len(), 5.min(events["total"].as_u64().unwrap() as usize));
    assert!(events["items"][0]["event_type"].is_string(), "{events}");
    let (_, sim_view) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(sim_view["provider"], "1nce");

    // A lifecycle action on a 1NCE SIM is pending at the provider until the outbox delivers it.
    let target = if sim_view["status"] == "ACTIVE" { "suspend" } else { "activate" };
    let (status, _) = app.post(&format!("/api/v1/sims/{iccid}/{target}"), &app.operator, serde_json::json!({})).await;
    assert_eq!(status, StatusCode::OK);
    let (_, actions) = app.get(&format!("/api/v1/sims/{iccid}/provider-actions"), &app.viewer).await;
    assert_eq!(actions["items"][0]["status"], "pending", "{actions}");
    let (_, previous) = app.get("/api/v1/jobs/runs?job=outbox&limit=1", &app.viewer).await;
    app.call(Method::POST, "/api/v1/jobs/outbox/run", Some(&app.operator), None).await;
    let run = app.wait_for_run("outbox", previous["items"][0]["id"].as_i64().unwrap()).await;
    assert_eq!(run["items_ok"], 1, "{run}");
    let (_, actions) = app.get(&format!("/api/v1/sims/{iccid}/provider-actions"), &app.viewer).await;
    assert_eq!(actions["items"][0]["status"], "done", "{actions}");
    let wanted = if target == "suspend" { onence_sim::SimStatus::Disabled } else { onence_sim::SimStatus::Enabled };
    assert_eq!(sim.state().sim(&record.iccid).unwrap().status, wanted);

    app.stop().await;
    sim.shutdown().await;
}

async fn without_a_provider_jobs_say_so(dialect: Dialect) {
    let Some(app) = TestApp::spawn(dialect).await else { return };
    let (status, res) = app.call(Method::POST, "/api/v1/jobs/sims/run", Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert!(res["detail"].as_str().unwrap().contains("ONENCE_CLIENT_ID"));
    let (_, jobs) = app.get("/api/v1/jobs", &app.viewer).await;
    assert_eq!(jobs["provider_configured"], false);
    let sim = app.sim(1, serde_json::json!({})).await;
    let (status, _) = app.get(&format!("/api/v1/sims/{sim}/connectivity"), &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, usage) =
        app.get(&format!("/api/v1/sims/{sim}/usage?from=2026-01-01&to=2026-01-07"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(usage["items"].as_array().unwrap().len(), 7, "every day, zeros included");
    app.stop().await;
}

async fn run_job(app: &TestApp, job: &str) {
    let run = app.run_job(job).await;
    assert_eq!(run["status"], "success", "{job}: {run}");
}

/// `refresh=true` reads one SIM's figures from the provider and keeps them; without it the
/// local copy answers, also while the provider is down.
async fn read_through_refreshes_the_local_copy(dialect: Dialect) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(12, 5), listener).await.unwrap();
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    for job in ["sims", "usage", "quotas", "connectivity", "events"] {
        run_job(&app, job).await;
    }
    let state = sim.state();
    let record = state.sims().into_iter().find(|r| !r.expired).expect("a SIM that has not expired");
    let iccid = &record.iccid_with_luhn;
    let today = state.today();
    let usage_of_today = |body: &Value| body["items"][0]["data_total"].as_i64().unwrap();
    let usage_url = format!("/api/v1/sims/{iccid}/usage?from={today}&to={today}");

    // The provider learns of new traffic, a top-up and a change of network state.
    let stored = usage_of_today(&app.get(&usage_url, &app.viewer).await.1);
    let heavy = onence_sim::DayUsage { rx_umb: 70_000_000, tx_umb: 10_000_000, sms_mo: 3, sms_mt: 4 };
    assert!(state.set_day_usage(&record.iccid, today, heavy));
    state.top_up(&record.iccid).expect("top-up");
    let new_link = if record.connectivity.state == onence_sim::LinkState::Offline {
        onence_sim::LinkState::Online
    } else {
        onence_sim::LinkState::Offline
    };
    state.set_link_state(&record.iccid, new_link);
    let (_, quota_before) = app.get(&format!("/api/v1/sims/{iccid}/quota"), &app.viewer).await;
    let data = |q: &Value, field: &str| {
        q["items"].as_array().unwrap().iter().find(|i| i["kind"] == "data").unwrap()[field].as_i64().unwrap()
    };

    // Without refresh: still what was synced.
    assert_eq!(usage_of_today(&app.get(&usage_url, &app.viewer).await.1), stored);
    // With it: what the provider says now (80 MB in bytes), and kept for later reads.
    let (status, fresh) = app.get(&format!("{usage_url}&refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{fresh}");
    assert_eq!(usage_of_today(&fresh), 80 * 1_048_576);
    assert_eq!(fresh["items"][0]["sms_mo"], 3);
    assert_eq!(usage_of_today(&app.get(&usage_url, &app.viewer).await.1), 80 * 1_048_576);
    let (_, trend) = app.get(&format!("/api/v1/stats/usage-trend?from={today}&to={today}"), &app.viewer).await;
    assert!(trend["items"][0]["data_total"].as_i64().unwrap() >= 80 * 1_048_576, "the rollups follow: {trend}");

    let (status, quota) = app.get(&format!("/api/v1/sims/{iccid}/quota?refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{quota}");
    assert!(data(&quota, "total") > data(&quota_before, "total"), "the top-up shows: {quota_before} then {quota}");
    assert!(data(&quota, "remaining") >= 0, "{quota}");
    let (_, conn) = app.get(&format!("/api/v1/sims/{iccid}/connectivity?refresh=true"), &app.viewer).await;
    assert_eq!(conn["status"], new_link.as_str(), "{conn}");
    // The top-up is also a network event at the provider: read through, it is stored once.
    let events_url = format!("/api/v1/sims/{iccid}/network-events?count=true&limit=1");
    let total = |v: &Value| v["total"].as_u64().unwrap();
    let (_, before) = app.get(&events_url, &app.viewer).await;
    let (status, after) = app.get(&format!("{events_url}&refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{after}");
    assert_eq!(total(&after), total(&before) + 1, "{before} then {after}");
    assert_eq!(after["items"][0]["event_type"], "Top up of data and SMS volume");
    let (_, again) = app.get(&format!("{events_url}&refresh=true"), &app.viewer).await;
    assert_eq!(total(&again), total(&after), "events already stored are not stored twice");

    // The provider is down: a read-through says so; the local copy still answers.
    sim.set_faults(onence_sim::Faults { error_rate: 1.0, ..Default::default() });
    let (status, problem) = app.get(&format!("/api/v1/sims/{iccid}/quota?refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("/provider-unavailable"), "{problem}");
    let (status, local) = app.get(&format!("/api/v1/sims/{iccid}/quota"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(local["items"], quota["items"]);
    sim.set_faults(onence_sim::Faults::default());

    // A SIM of the own stock has no provider to read from.
    let own = app.sim(77, serde_json::json!({})).await;
    let (status, problem) = app.get(&format!("/api/v1/sims/{own}/usage?refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_read_through() {
    read_through_refreshes_the_local_copy(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_read_through() {
    read_through_refreshes_the_local_copy(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_jobs_run_over_the_api() {
    jobs_run_over_the_api_and_fill_the_sim_views(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_jobs_run_over_the_api() {
    jobs_run_over_the_api_and_fill_the_sim_views(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_without_a_provider() {
    without_a_provider_jobs_say_so(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_without_a_provider() {
    without_a_provider_jobs_say_so(Dialect::Postgres).await;
}
