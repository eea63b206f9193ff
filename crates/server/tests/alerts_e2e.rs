//! Alerts end to end against the 1NCE simulator: a sync raises exactly the alerts the
//! simulator's fleet implies; a signed webhook and an SMTP server receive them once; a top-up
//! resolves the quota alert; a crash between raising and delivering loses and doubles nothing.

mod common;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::HeaderMap;
use chrono::{DateTime, Days, TimeDelta, Utc};
use common::TestApp;
use hmac::{Hmac, Mac};
use onence_sim::{SimHandle, SimStatus as SimulatorStatus};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::Sha256;
use simfleet_domain::alerts::Baseline;
use simfleet_store::Dialect;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const FLEET: usize = 300;
const SEED: u64 = 5;
const WEBHOOK_SECRET: &str = "whsec-test-secret";

async fn simulator() -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    onence_sim::spawn(onence_sim::SimConfig::new(FLEET, SEED), listener).await.unwrap()
}

/// µMB (the simulator's unit) to bytes, rounded, as the sync converts volumes.
fn bytes(umb: i64) -> i64 {
    umb.signum() * ((i128::from(umb.unsigned_abs()) * 1_048_576 + 500_000) / 1_000_000) as i64
}

/// The alerts (kind, ICCID) the default rules must raise for the simulator's fleet at `now`,
/// computed from the simulator's own state with the rules' definitions.
fn expected_alerts(sim: &SimHandle, now: DateTime<Utc>) -> BTreeSet<(String, String)> {
    let state = sim.state();
    let today = now.date_naive();
    let mut out = BTreeSet::new();
    for r in state.sims() {
        let iccid = r.iccid_with_luhn.clone();
        let mut add = |kind: &str| {
            out.insert((kind.to_owned(), iccid.clone()));
        };
        let data = state.data_quota(&r.iccid).unwrap();
        let sms = state.sms_quota(&r.iccid).unwrap();
        let (remaining, total) = (bytes(data.remaining), bytes(data.accumulated as i64));
        if remaining > 0 && remaining * 100 < total * 20 {
            add("data_quota_low");
        }
        if sms.remaining > 0 && sms.remaining * 100 < sms.accumulated as i64 * 20 {
            add("sms_quota_low");
        }
        if data.remaining <= 0 || sms.remaining <= 0 {
            add("quota_exhausted");
        }
        if data.expiry.date_naive() <= today + Days::new(30) {
            add("quota_expiring");
        }
        let window = state.usage(&r.iccid, today - Days::new(13), today).unwrap();
        let used: i64 = window.iter().map(|(_, u)| bytes(u.data_umb() as i64)).sum();
        if simfleet_domain::alerts::exhausts_within(remaining, used, window.len() as i64, 14) {
            add("forecast_exhaustion");
        }
        if r.status == SimulatorStatus::Enabled && r.connectivity.last_seen < now - TimeDelta::hours(48) {
            add("offline");
        }
        let day = today - Days::new(1);
        let base: Vec<i64> = state
            .usage(&r.iccid, day - Days::new(28), day - Days::new(1))
            .unwrap()
            .iter()
            .map(|(_, u)| bytes(u.data_umb() as i64))
            .collect();
        let value = state.usage(&r.iccid, day, day).unwrap().first().map(|(_, u)| bytes(u.data_umb() as i64));
        if let (Some(b), Some(v)) = (Baseline::of(&base), value) {
            if b.is_anomaly(v, 5) {
                add("usage_anomaly");
            }
        }
    }
    out
}

/// Runs `job` over the API and waits for it; it must succeed.
async fn run_job(app: &TestApp, job: &str) -> Value {
    let run = app.run_job(job).await;
    assert_eq!(run["status"], "success", "{job}: {run}");
    run
}

async fn active_alerts(app: &TestApp) -> Vec<Value> {
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut path = "/api/v1/alerts?state=active&limit=100".to_owned();
        if let Some(c) = &cursor {
            path.push_str(&format!("&cursor={c}"));
        }
        let (status, page) = app.get(&path, &app.viewer).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        all.extend(page["items"].as_array().unwrap().iter().cloned());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return all,
        }
    }
}

fn as_set(alerts: &[Value]) -> BTreeSet<(String, String)> {
    alerts.iter().map(|a| (a["kind"].as_str().unwrap().to_owned(), a["iccid"].as_str().unwrap().to_owned())).collect()
}

/// A webhook receiver that checks nothing itself: it records what arrived.
#[derive(Clone, Default)]
struct Hooks(Arc<Mutex<Vec<(HeaderMap, Bytes)>>>);

async fn receive(State(hooks): State<Hooks>, headers: HeaderMap, body: Bytes) -> &'static str {
    hooks.0.lock().unwrap().push((headers, body));
    "ok"
}

async fn webhook_receiver() -> (String, Hooks) {
    let hooks = Hooks::default();
    let router = axum::Router::new().route("/hook", axum::routing::post(receive)).with_state(hooks.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    (url, hooks)
}

impl Hooks {
    /// Every received alert payload, after checking each signature; panics on a bad one.
    fn verified(&self) -> Vec<Value> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .map(|(headers, body)| {
                let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(WEBHOOK_SECRET.as_bytes()).unwrap();
                mac.update(body);
                let expected = format!("sha256={}", hex::encode(mac.finalize().into_bytes()));
                assert_eq!(headers["x-simfleet-signature"].to_str().unwrap(), expected);
                let value: Value = serde_json::from_slice(body).unwrap();
                assert_eq!(headers["x-simfleet-delivery"].to_str().unwrap(), value["delivery_id"].as_str().unwrap());
                value
            })
            .collect()
    }
}

/// A tiny SMTP server: enough of RFC 5321 for one client at a time; records each message.
async fn smtp_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let mails = Arc::new(Mutex::new(Vec::new()));
    let store = mails.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let store = store.clone();
            tokio::spawn(async move {
                let (read, mut write) = stream.into_split();
                let mut lines = BufReader::new(read).lines();
                write.write_all(b"220 test ESMTP\r\n").await.unwrap();
                let mut data: Option<String> = None;
                while let Ok(Some(line)) = lines.next_line().await {
                    if let Some(buf) = data.as_mut() {
                        if line == "." {
                            store.lock().unwrap().push(data.take().unwrap());
                            write.write_all(b"250 queued\r\n").await.unwrap();
                        } else {
                            buf.push_str(&line);
                            buf.push('\n');
                        }
                        continue;
                    }
                    let verb = line.split_whitespace().next().unwrap_or("").to_ascii_uppercase();
                    let reply: &[u8] = match verb.as_str() {
                        "EHLO" | "HELO" => b"250-test\r\n250 8BITMIME\r\n",
                        "DATA" => {
                            data = Some(String::new());
                            b"354 go ahead\r\n"
                        }
                        "QUIT" => {
                            write.write_all(b"221 bye\r\n").await.unwrap();
                            return;
                        }
                        _ => b"250 OK\r\n",
                    };
                    write.write_all(reply).await.unwrap();
                }
            });
        }
    });
    (port, mails)
}

async fn sync_raises_notifies_and_resolves(dialect: Dialect) {
    let sim = simulator().await;
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    let (url, hooks) = webhook_receiver().await;
    let (smtp_port, mails) = smtp_server().await;

    let (status, hook) = app
        .post(
            "/api/v1/notification-channels",
            &app.admin,
            json!({ "name": "ops hook", "kind": "webhook", "config": { "url": url }, "secret": WEBHOOK_SECRET }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{hook}");
    assert_eq!(hook["has_secret"], true);
    assert!(!hook.to_string().contains(WEBHOOK_SECRET), "secrets are never returned");
    let email = json!({
        "name": "on-call mail", "kind": "email", "severities": ["critical"], "digest_minutes": 60,
        "config": { "host": "127.0.0.1", "port": smtp_port, "security": "none", "from": "simfleet@example.org", "to": ["oncall@example.org"] }
    });
    let (status, mail) = app.post("/api/v1/notification-channels", &app.admin, email).await;
    assert_eq!(status, StatusCode::CREATED, "{mail}");
    let (status, _) = app.get("/api/v1/notification-channels", &app.operator).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "channels are for admins");

    // The test button reaches both.
    let (_, test) =
        app.post(&format!("/api/v1/notification-channels/{}/test", hook["id"]), &app.admin, json!({})).await;
    assert_eq!(test["ok"], true, "{test}");
    let (_, test) =
        app.post(&format!("/api/v1/notification-channels/{}/test", mail["id"]), &app.admin, json!({})).await;
    assert_eq!(test["ok"], true, "{test}");
    assert_eq!(mails.lock().unwrap().len(), 1);
    assert!(mails.lock().unwrap()[0].contains("test message"));
    assert_eq!(hooks.verified()[0]["event"], "test");
    hooks.0.lock().unwrap().clear();
    mails.lock().unwrap().clear();

    for job in ["sims", "usage", "quotas", "connectivity"] {
        run_job(&app, job).await;
    }
    run_job(&app, "alerts").await;
    let now = Utc::now();
    let expected = expected_alerts(&sim, now);
    let kinds: BTreeMap<&str, usize> = expected.iter().fold(BTreeMap::new(), |mut m, (k, _)| {
        *m.entry(k.as_str()).or_default() += 1;
        m
    });
    eprintln!("expected alerts per kind: {kinds:?}");
    // The seeded fleet has every scenario the rules look for.
    for kind in ["data_quota_low", "quota_exhausted", "offline", "usage_anomaly", "quota_expiring"] {
        assert!(kinds.get(kind).copied().unwrap_or(0) > 0, "fleet seed {SEED} has no {kind}: {kinds:?}");
    }
    let alerts = active_alerts(&app).await;
    assert_eq!(as_set(&alerts), expected, "expected per kind {kinds:?}");
    assert_eq!(alerts.len(), expected.len(), "one alert per (SIM, kind)");

    // Deliver: each new alert reaches the webhook once, signed; critical ones as one digest e-mail.
    run_job(&app, "notify").await;
    run_job(&app, "notify").await;
    let received = hooks.verified();
    assert_eq!(received.len(), alerts.len());
    let ids: BTreeSet<i64> = received.iter().map(|v| v["alert"]["id"].as_i64().unwrap()).collect();
    assert_eq!(ids, alerts.iter().map(|a| a["id"].as_i64().unwrap()).collect());
    let critical = alerts.iter().filter(|a| a["severity"] == "critical").count();
    assert!(critical > 0);
    {
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1, "one digest");
        assert!(mails[0].contains(&format!("{critical} new alerts")), "{}", mails[0]);
    }
    let (_, log) =
        app.get(&format!("/api/v1/notification-channels/{}/deliveries?limit=1000", hook["id"]), &app.admin).await;
    assert!(log["items"].as_array().unwrap().iter().all(|d| d["status"] == "delivered"));

    // A top-up on the provider side, then a quota sync: the exhaustion alert resolves itself.
    let topped = sim
        .state()
        .sims()
        .into_iter()
        .find(|r| {
            let (d, s) = (sim.state().data_quota(&r.iccid).unwrap(), sim.state().sms_quota(&r.iccid).unwrap());
            d.remaining <= 0 && d.remaining + 500_000_000 > 0 && s.remaining + 250 > 0
        })
        .expect("a SIM whose quota a top-up refills");
    let alert = alerts
        .iter()
        .find(|a| a["kind"] == "quota_exhausted" && a["iccid"] == topped.iccid_with_luhn.as_str())
        .unwrap()
        .clone();
    sim.state().top_up(&topped.iccid).unwrap();
    run_job(&app, "quotas").await;
    run_job(&app, "alerts").await;
    let (_, after) = app.get(&format!("/api/v1/alerts/{}", alert["id"]), &app.viewer).await;
    assert_eq!((after["state"].as_str(), after["resolved_by"].as_str()), (Some("resolved"), Some("system")), "{after}");
    run_job(&app, "notify").await;
    assert_eq!(hooks.verified().len(), received.len() + count_new(&app, &alerts).await, "nothing sent twice");

    // Operators acknowledge and resolve with their name recorded; viewers cannot.
    let open = alerts.iter().find(|a| a["kind"] == "offline").unwrap();
    let path = format!("/api/v1/alerts/{}/acknowledge", open["id"]);
    let (status, _) = app.post(&path, &app.viewer, json!({})).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, acked) = app.post(&path, &app.operator, json!({})).await;
    assert_eq!((status, acked["acknowledged_by"].as_str()), (StatusCode::OK, Some("operator")), "{acked}");
    let (status, _) = app.post(&path, &app.operator, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let iccid = open["iccid"].as_str().unwrap();
    let (_, mine) = app.get(&format!("/api/v1/sims/{iccid}/alerts?state=active"), &app.viewer).await;
    assert!(mine["items"].as_array().unwrap().iter().any(|a| a["id"] == open["id"]));

    // Forecast, risk, heatmap and anomalies read the same data.
    let (status, f) = app.get(&format!("/api/v1/sims/{}/forecast", topped.iccid_with_luhn), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{f}");
    assert!(f["method"].as_str().unwrap().starts_with("linear"));
    let (_, risk) = app.get("/api/v1/stats/sims-at-risk?days=14&limit=1000", &app.viewer).await;
    let risky: BTreeSet<String> =
        risk["items"].as_array().unwrap().iter().map(|r| r["iccid"].as_str().unwrap().into()).collect();
    let forecast_alerts: BTreeSet<String> =
        expected.iter().filter(|(k, _)| k == "forecast_exhaustion").map(|(_, i)| i.clone()).collect();
    // The same rule; only the topped-up SIM may have joined since.
    let joined: Vec<&String> = risky.difference(&forecast_alerts).collect();
    assert!(forecast_alerts.is_subset(&risky), "{risky:?} vs {forecast_alerts:?}");
    assert!(joined.iter().all(|i| **i == topped.iccid_with_luhn), "{joined:?}");
    let (_, anomalies) = app.get("/api/v1/stats/anomalies?limit=1000", &app.viewer).await;
    let found: BTreeSet<String> =
        anomalies["items"].as_array().unwrap().iter().map(|a| a["iccid"].as_str().unwrap().into()).collect();
    let anomaly_alerts: BTreeSet<String> =
        expected.iter().filter(|(k, _)| k == "usage_anomaly").map(|(_, i)| i.clone()).collect();
    assert_eq!(found, anomaly_alerts);
    let first = &anomalies["items"][0];
    assert!(first["data_total"].as_f64().unwrap() > first["threshold"].as_f64().unwrap());
    let (_, heat) = app.get("/api/v1/stats/usage-heatmap?weeks=4", &app.viewer).await;
    let cells = heat["items"].as_array().unwrap();
    assert!(cells.len() >= 22 && cells.len() <= 28);
    assert!(cells.iter().any(|c| c["data_total"].as_i64().unwrap() > 0));
    app.stop().await;
}

/// Alerts opened after the first delivery (by the top-up's quota sync, e.g. a low quota).
async fn count_new(app: &TestApp, before: &[Value]) -> usize {
    let known: BTreeSet<i64> = before.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    let (_, all) = app.get("/api/v1/alerts?limit=1000", &app.viewer).await;
    all["items"].as_array().unwrap().iter().filter(|a| !known.contains(&a["id"].as_i64().unwrap())).count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_sync_raises_notifies_and_resolves() {
    sync_raises_notifies_and_resolves(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_sync_raises_notifies_and_resolves() {
    sync_raises_notifies_and_resolves(Dialect::Postgres).await;
}

/// Alerts raised, then the process dies before delivering: a new process on the same database
/// delivers each notification exactly once.
async fn crash_between_raising_and_delivering(dialect: Dialect) {
    use simfleet_server::crypto::SecretBox;
    use simfleet_store::testing::TestDb;
    use simfleet_store::{ChannelInput, Store};
    use simfleet_sync::{Job, SyncConfig, Syncer};

    let Some(db) = TestDb::for_dialect(dialect).await else { return };
    let sim = simulator().await;
    let (url, hooks) = webhook_receiver().await;
    let secrets = SecretBox::new(&secrecy::SecretString::from("test master key, not for production".to_owned()));
    let client = || {
        onence::Client::new(onence::ClientConfig::new(
            sim.base_url(),
            onence_sim::DEFAULT_CLIENT_ID,
            onence_sim::DEFAULT_CLIENT_SECRET,
        ))
        .unwrap()
    };
    let first = Store::connect(&db.url, &db.options).await.unwrap();
    first
        .create_channel(&ChannelInput {
            name: "hook".into(),
            kind: "webhook".into(),
            enabled: true,
            severities: vec![],
            kinds: vec![],
            config: json!({ "url": url }),
            secret_enc: Some(secrets.seal(WEBHOOK_SECRET)),
            digest_minutes: None,
        })
        .await
        .unwrap();
    let syncer = Syncer::new(first.clone(), client(), SyncConfig::default());
    for job in [Job::Sims, Job::Quotas, Job::Connectivity, Job::Alerts] {
        assert_eq!(syncer.run(job).await.unwrap().status, "success");
    }
    let raised = first.alert_count(true).await.unwrap();
    assert!(raised > 0);
    // The process dies here: nothing was delivered.
    drop(syncer);
    first.close().await;
    assert!(hooks.0.lock().unwrap().is_empty());

    let second = Store::connect(&db.url, &db.options).await.unwrap();
    let syncer = Syncer::new(second.clone(), client(), SyncConfig::default()).with_secrets(Arc::new(secrets));
    assert_eq!(syncer.run(Job::Notify).await.unwrap().items_ok, raised);
    assert_eq!(syncer.run(Job::Notify).await.unwrap().items_ok, 0);
    let received = hooks.verified();
    let ids: BTreeSet<i64> = received.iter().map(|v| v["alert"]["id"].as_i64().unwrap()).collect();
    assert_eq!((received.len(), ids.len()), (raised as usize, raised as usize), "each alert exactly once");
    second.close().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_crash_between_raising_and_delivering() {
    crash_between_raising_and_delivering(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_crash_between_raising_and_delivering() {
    crash_between_raising_and_delivering(Dialect::Postgres).await;
}

/// A simulator with `n` SIMs, for tests that need a provider but not the big fleet.
async fn small_simulator(n: usize, seed: u64) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    onence_sim::spawn(onence_sim::SimConfig::new(n, seed), listener).await.unwrap()
}

/// The alerts `GET /api/v1/alerts?{query}` lists.
async fn alert_list(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app.get(&format!("/api/v1/alerts?{query}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    page["items"].as_array().unwrap().clone()
}

/// Active alerts of one kind.
async fn alerts_of(app: &TestApp, kind: &str) -> Vec<Value> {
    alert_list(app, &format!("state=active&kind={kind}&limit=100")).await
}

/// A SIM disabled at the provider (not through simfleet) gets one `status_changed_externally`
/// alert after the next SIM sync, which later evaluations refresh instead of repeating; a SIM
/// that simfleet itself suspended gets none.
async fn external_status_change_raises_one_alert(dialect: Dialect) {
    let sim = small_simulator(12, 21).await;
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    run_job(&app, "sims").await;
    run_job(&app, "alerts").await;
    assert!(alerts_of(&app, "status_changed_externally").await.is_empty(), "a first sync changes nothing");
    let records = sim.state().sims();
    let mut enabled = records.iter().filter(|r| r.status == SimulatorStatus::Enabled && !r.expired);
    let (outside, inside) = (enabled.next().unwrap(), enabled.next().expect("two enabled SIMs"));
    let (iccid, own) = (&outside.iccid_with_luhn, &inside.iccid_with_luhn);

    // Someone disables one SIM in the provider's portal; simfleet suspends the other itself.
    sim.state().set_status(&outside.iccid, SimulatorStatus::Disabled);
    let (status, res) = app.post(&format!("/api/v1/sims/{own}/suspend"), &app.operator, json!({})).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    run_job(&app, "outbox").await;
    assert_eq!(sim.state().sim(&inside.iccid).unwrap().status, SimulatorStatus::Disabled);
    run_job(&app, "sims").await;
    run_job(&app, "alerts").await;

    let raised = alerts_of(&app, "status_changed_externally").await;
    assert_eq!(raised.len(), 1, "only the SIM changed outside simfleet: {raised:?}");
    let alert = &raised[0];
    assert_eq!((alert["iccid"].as_str(), alert["severity"].as_str()), (Some(iccid.as_str()), Some("info")), "{alert}");
    assert_eq!(alert["state"], "open");
    assert_eq!(alert["message"], "Status changed outside simfleet (1 time(s) in the last 24 hours)");
    let (_, local) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(local["status"], "SUSPENDED", "{local}");

    // Evaluated again (and synced again): the same alert, not a second one.
    run_job(&app, "alerts").await;
    run_job(&app, "sims").await;
    run_job(&app, "alerts").await;
    let again = alerts_of(&app, "status_changed_externally").await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["id"], alert["id"]);
    assert_eq!(again[0]["message"], alert["message"]);
    let (_, history) = app.get(&format!("/api/v1/sims/{iccid}/alerts"), &app.viewer).await;
    assert_eq!(history["items"].as_array().unwrap().len(), 1, "{history}");

    // Enabled again at the provider: still one alert, now counting both changes.
    sim.state().set_status(&outside.iccid, SimulatorStatus::Enabled);
    run_job(&app, "sims").await;
    run_job(&app, "alerts").await;
    let after = alerts_of(&app, "status_changed_externally").await;
    assert_eq!(after.len(), 1, "{after:?}");
    assert_eq!(after[0]["id"], alert["id"]);
    assert_eq!(after[0]["message"], "Status changed outside simfleet (2 time(s) in the last 24 hours)");
    let (_, local) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(local["status"], "ACTIVE", "{local}");
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_external_status_change_raises_one_alert() {
    external_status_change_raises_one_alert(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_external_status_change_raises_one_alert() {
    external_status_change_raises_one_alert(Dialect::Postgres).await;
}

/// A queued provider action that the provider refuses (an expired SIM's top-up) raises a
/// `provider_action_failed` alert for that SIM at the next evaluation; a second refusal
/// refreshes it; an action only waiting out an outage raises nothing.
async fn refused_provider_action_raises_an_alert(dialect: Dialect) {
    let sim = small_simulator(12, 21).await;
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    run_job(&app, "sims").await;
    let records = sim.state().sims();
    let (expired, healthy) = (&records[3], &records[6]);
    sim.state().set_expired(&expired.iccid, true);
    let (ie, ih) = (&expired.iccid_with_luhn, &healthy.iccid_with_luhn);

    let (status, queued) = app.post(&format!("/api/v1/sims/{ie}/topup"), &app.admin, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{queued}");
    run_job(&app, "alerts").await;
    assert!(alerts_of(&app, "provider_action_failed").await.is_empty(), "queued is not failed");
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_failed"], 1, "{run}");
    run_job(&app, "alerts").await;

    let raised = alerts_of(&app, "provider_action_failed").await;
    assert_eq!(raised.len(), 1, "{raised:?}");
    let alert = &raised[0];
    assert_eq!((alert["iccid"].as_str(), alert["severity"].as_str()), (Some(ie.as_str()), Some("warning")), "{alert}");
    assert_eq!(alert["message"], "A provider action failed (1 time(s) in the last 24 hours)");
    let (_, mine) = app.get(&format!("/api/v1/sims/{ie}/alerts?state=active"), &app.viewer).await;
    assert_eq!(mine["items"][0]["id"], alert["id"], "{mine}");

    // Refused again: the same alert, counting both.
    let (status, _) = app.post(&format!("/api/v1/sims/{ie}/topup"), &app.admin, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_failed"], 1, "{run}");
    run_job(&app, "alerts").await;
    let again = alerts_of(&app, "provider_action_failed").await;
    assert_eq!(again.len(), 1, "{again:?}");
    assert_eq!(again[0]["id"], alert["id"]);
    assert_eq!(again[0]["message"], "A provider action failed (2 time(s) in the last 24 hours)");

    // The provider is down: the action stays pending for a retry, which is no failure (yet).
    sim.set_faults(onence_sim::Faults { error_rate: 1.0, ..Default::default() });
    let (status, _) = app.post(&format!("/api/v1/sims/{ih}/topup"), &app.admin, json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    let run = app.run_job("outbox").await;
    assert_eq!((run["items_ok"].as_i64(), run["items_failed"].as_i64()), (Some(0), Some(1)), "{run}");
    let (_, actions) = app.get(&format!("/api/v1/sims/{ih}/provider-actions"), &app.viewer).await;
    assert_eq!(actions["items"][0]["status"], "pending", "{actions}");
    run_job(&app, "alerts").await;
    let still = alerts_of(&app, "provider_action_failed").await;
    assert_eq!(still.len(), 1, "{still:?}");
    assert_eq!(still[0]["iccid"], ie.as_str());
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_refused_provider_action_raises_an_alert() {
    refused_provider_action_raises_an_alert(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_refused_provider_action_raises_an_alert() {
    refused_provider_action_raises_an_alert(Dialect::Postgres).await;
}

async fn deliveries(app: &TestApp, channel: &Value) -> Vec<Value> {
    let path = format!("/api/v1/notification-channels/{}/deliveries?limit=1000", channel["id"]);
    let (status, log) = app.get(&path, &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{log}");
    log["items"].as_array().unwrap().clone()
}

/// The interval of a digest channel passes: its next digest becomes due now. (No clock can be
/// injected into the notifier; this moves the stored due time back instead of waiting.)
async fn digest_interval_passes(app: &TestApp, channel: &Value) {
    let sql = format!("UPDATE notification_channels SET next_digest_at = created_at WHERE id = {}", channel["id"]);
    app.db.store.execute_raw(&sql).await.unwrap();
}

/// An e-mail channel with a digest interval sends one message per interval, listing every
/// alert that arrived meanwhile; alerts raised within the interval wait for the next digest
/// (and a webhook channel beside it is not held back).
async fn digest_channel_sends_one_message_per_interval(dialect: Dialect) {
    let sim = small_simulator(1, 1).await;
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    let (smtp_port, mails) = smtp_server().await;
    let (url, hooks) = webhook_receiver().await;
    let email = json!({
        "name": "digest", "kind": "email", "digest_minutes": 60,
        "config": { "host": "127.0.0.1", "port": smtp_port, "security": "none", "from": "simfleet@example.org", "to": ["ops@example.org"] }
    });
    let (status, mail) = app.post("/api/v1/notification-channels", &app.admin, email).await;
    assert_eq!((status, mail["digest_minutes"].as_i64()), (StatusCode::CREATED, Some(60)), "{mail}");
    let hook = json!({ "name": "hook", "kind": "webhook", "config": { "url": url }, "secret": WEBHOOK_SECRET });
    let (status, _) = app.post("/api/v1/notification-channels", &app.admin, hook).await;
    assert_eq!(status, StatusCode::CREATED);

    let first: Vec<String> =
        [app.sim(1, json!({})).await, app.sim(2, json!({})).await, app.sim(3, json!({})).await].into();
    app.exhaust_data(&first).await;
    run_job(&app, "alerts").await;
    run_job(&app, "notify").await;
    {
        let mails = mails.lock().unwrap();
        assert_eq!(mails.len(), 1, "one digest for three alerts");
        assert!(mails[0].contains("Subject: [simfleet] 3 new alerts"), "{}", mails[0]);
        for iccid in &first {
            assert!(
                mails[0].contains(&format!("quota_exhausted {iccid}: Data quota used up")),
                "{iccid}: {}",
                mails[0]
            );
        }
    }
    assert_eq!(hooks.verified().len(), 3, "the webhook gets each alert on its own");

    // Two more alerts within the interval: held for the next digest; the webhook is not held.
    let second: Vec<String> = [app.sim(4, json!({})).await, app.sim(5, json!({})).await].into();
    app.exhaust_data(&second).await;
    run_job(&app, "alerts").await;
    run_job(&app, "notify").await;
    run_job(&app, "notify").await;
    assert_eq!(mails.lock().unwrap().len(), 1, "nothing more within the interval");
    assert_eq!(hooks.verified().len(), 5);
    let log = deliveries(&app, &mail).await;
    let pending: BTreeSet<&str> =
        log.iter().filter(|d| d["status"] == "pending").map(|d| d["iccid"].as_str().unwrap()).collect();
    assert_eq!(pending, second.iter().map(String::as_str).collect(), "{log:?}");
    assert!(log.iter().filter(|d| d["status"] == "pending").all(|d| d["attempts"] == 0), "not even tried: {log:?}");

    // The interval is over: one digest with exactly the two waiting alerts.
    digest_interval_passes(&app, &mail).await;
    run_job(&app, "notify").await;
    run_job(&app, "notify").await;
    let mails = mails.lock().unwrap().clone();
    assert_eq!(mails.len(), 2, "{mails:?}");
    assert!(mails[1].contains("Subject: [simfleet] 2 new alerts"), "{}", mails[1]);
    for iccid in &second {
        assert!(mails[1].contains(iccid.as_str()), "{iccid}: {}", mails[1]);
    }
    for iccid in &first {
        assert!(!mails[1].contains(iccid.as_str()), "{iccid} was in the first digest already: {}", mails[1]);
    }
    assert!(deliveries(&app, &mail).await.iter().all(|d| d["status"] == "delivered"));
    assert_eq!(hooks.verified().len(), 5, "nothing sent twice");
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_digest_channel_sends_one_message_per_interval() {
    digest_channel_sends_one_message_per_interval(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_digest_channel_sends_one_message_per_interval() {
    digest_channel_sends_one_message_per_interval(Dialect::Postgres).await;
}

/// Turning a digest channel's digest off (PUT without `digest_minutes`) makes it send each
/// alert at once, from the next alert on.
async fn a_channel_without_digest_is_no_longer_held(dialect: Dialect) {
    let sim = small_simulator(1, 1).await;
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    let (smtp_port, mails) = smtp_server().await;
    let config = json!({ "host": "127.0.0.1", "port": smtp_port, "security": "none", "from": "simfleet@example.org", "to": ["ops@example.org"] });
    let (status, mail) = app
        .post(
            "/api/v1/notification-channels",
            &app.admin,
            json!({ "name": "weekly", "kind": "email", "digest_minutes": 10080, "config": config }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{mail}");
    let first = app.sim(1, json!({})).await;
    app.exhaust_data(std::slice::from_ref(&first)).await;
    run_job(&app, "alerts").await;
    run_job(&app, "notify").await;
    assert_eq!(mails.lock().unwrap().len(), 1, "the first digest goes at once");

    // A weekly digest is too slow: the admin switches to one e-mail per alert.
    let path = format!("/api/v1/notification-channels/{}", mail["id"]);
    let body = json!({ "name": "weekly", "kind": "email", "config": config });
    let (status, updated) = app.call(reqwest::Method::PUT, &path, Some(&app.admin), Some(body)).await;
    assert_eq!((status, updated["digest_minutes"].is_null()), (StatusCode::OK, true), "{updated}");
    let second = app.sim(2, json!({})).await;
    app.exhaust_data(std::slice::from_ref(&second)).await;
    run_job(&app, "alerts").await;
    run_job(&app, "notify").await;
    let mails = mails.lock().unwrap().clone();
    assert_eq!(
        mails.len(),
        2,
        "the new alert is e-mailed at once, not a week later: {:?}",
        deliveries(&app, &mail).await
    );
    assert!(mails[1].contains(&second), "{}", mails[1]);
    app.stop().await;
    sim.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_a_channel_without_digest_is_no_longer_held() {
    a_channel_without_digest_is_no_longer_held(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_a_channel_without_digest_is_no_longer_held() {
    a_channel_without_digest_is_no_longer_held(Dialect::Postgres).await;
}

/// A simulator whose whole history is today: every message its devices hold was submitted at
/// 00:00 UTC today, so each MO message is recent for the `sms_received` rule whatever the
/// time of the run. (The simulator has no way to add an MO message later: its devices' SMS
/// are generated from the seed when first read.)
async fn simulator_of_today(n: usize, seed: u64) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let config = onence_sim::SimConfig {
        history_days: 1,
        today: Some(Utc::now().date_naive()),
        ..onence_sim::SimConfig::new(n, seed)
    };
    onence_sim::spawn(config, listener).await.unwrap()
}

/// Every alert ever raised of one kind, resolved ones included.
async fn all_alerts_of(app: &TestApp, kind: &str) -> Vec<Value> {
    alert_list(app, &format!("kind={kind}&limit=1000")).await
}

/// With the `sms_received` rule turned on over the API, an MO message the SMS sync brings in
/// opens exactly one alert for the SIM that sent it (none for SIMs with MT messages only); the
/// next sync, with nothing new, opens no second one.
async fn mo_sms_raises_one_sms_received_alert(dialect: Dialect) {
    let sim = simulator_of_today(12, 21).await;
    let Some(app) = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await else { return };
    run_job(&app, "sims").await;

    let path = "/api/v1/alert-rules/sms_received";
    let (status, rule) = app.get(path, &app.viewer).await;
    assert_eq!((status, rule["enabled"].as_bool()), (StatusCode::OK, Some(false)), "off by default: {rule}");
    let change = json!({ "enabled": true, "threshold": 48, "severity": "warning" });
    let (status, _) = app.patch(path, &app.viewer, change.clone()).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "viewers change no rule");
    let (status, rule) = app.patch(path, &app.operator, change).await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!((rule["enabled"].as_bool(), rule["threshold"].as_i64()), (Some(true), Some(48)), "{rule}");
    assert_eq!((rule["severity"].as_str(), rule["updated_by"].as_str()), (Some("warning"), Some("operator")));

    run_job(&app, "alerts").await;
    assert!(alerts_of(&app, "sms_received").await.is_empty(), "no SMS synced yet");

    // What the devices hold at the provider: MO messages per SIM, and SIMs with MT ones only.
    let mut mo: BTreeMap<String, usize> = BTreeMap::new();
    let mut mt_only = BTreeSet::new();
    for r in sim.state().sims() {
        let messages = sim.state().sms(&r.iccid).unwrap();
        let n = messages.iter().filter(|m| !m.mt).count();
        if n > 0 {
            mo.insert(r.iccid_with_luhn.clone(), n);
        } else if !messages.is_empty() {
            mt_only.insert(r.iccid_with_luhn.clone());
        }
    }
    assert!(!mo.is_empty() && !mt_only.is_empty(), "seed 21 has SIMs with MO and with MT-only SMS: {mo:?} {mt_only:?}");

    let run = run_job(&app, "sms").await;
    assert_eq!(run["items_ok"], 12, "{run}");
    run_job(&app, "alerts").await;
    let raised = alerts_of(&app, "sms_received").await;
    let raised_for: BTreeSet<String> = raised.iter().map(|a| a["iccid"].as_str().unwrap().to_owned()).collect();
    assert_eq!(raised_for, mo.keys().cloned().collect::<BTreeSet<_>>(), "{raised:?}");
    assert_eq!(raised.len(), mo.len(), "one alert per SIM: {raised:?}");
    for alert in &raised {
        let iccid = alert["iccid"].as_str().unwrap();
        assert_eq!((alert["state"].as_str(), alert["severity"].as_str()), (Some("open"), Some("warning")), "{alert}");
        let message = alert["message"].as_str().unwrap();
        let lead = format!("{} SMS received from the device in the last 48 hours", mo[iccid]);
        assert!(message.starts_with(&lead), "{message}");
    }
    for iccid in &mt_only {
        let (_, mine) = app.get(&format!("/api/v1/sims/{iccid}/alerts?state=active"), &app.viewer).await;
        assert!(mine["items"].as_array().unwrap().iter().all(|a| a["kind"] != "sms_received"), "{iccid}: {mine}");
    }
    // The SIM's page shows the alert and the message it is about.
    let (iccid, count) = mo.iter().next().unwrap();
    let (_, mine) = app.get(&format!("/api/v1/sims/{iccid}/alerts?state=active"), &app.viewer).await;
    let mine: Vec<&Value> = mine["items"].as_array().unwrap().iter().filter(|a| a["kind"] == "sms_received").collect();
    assert_eq!(mine.len(), 1, "{mine:?}");
    let (_, messages) = app.get(&format!("/api/v1/sims/{iccid}/sms?direction=MO"), &app.viewer).await;
    assert_eq!(messages["items"].as_array().unwrap().len(), *count, "{messages}");

    // Synced and evaluated again with no new message: the same alerts, no second one.
    run_job(&app, "sms").await;
    run_job(&app, "alerts").await;
    let again = alerts_of(&app, "sms_received").await;
    let ids = |alerts: &[Value]| alerts.iter().map(|a| a["id"].as_i64().unwrap()).collect::<BTreeSet<_>>();
    assert_eq!(ids(&again), ids(&raised), "{again:?}");
    assert_eq!(all_alerts_of(&app, "sms_received").await.len(), raised.len(), "no alert raised twice");

    // A device that had sent nothing sends an SMS: the next sync raises its alert, only its.
    let quiet = mt_only.iter().next().unwrap();
    let record = sim.state().sims().into_iter().find(|r| &r.iccid_with_luhn == quiet).unwrap();
    sim.state().receive_sms(&record.iccid, "ALARM door open").expect("a known SIM");
    run_job(&app, "sms").await;
    run_job(&app, "alerts").await;
    let now = alerts_of(&app, "sms_received").await;
    let new: Vec<&Value> = now.iter().filter(|a| !ids(&raised).contains(&a["id"].as_i64().unwrap())).collect();
    assert_eq!(new.len(), 1, "{now:?}");
    assert_eq!(new[0]["iccid"], quiet.as_str());
    assert!(new[0]["message"].as_str().unwrap().starts_with("1 SMS received from the device"), "{}", new[0]);
    app.stop().await;
    sim.shutdown().await;
}

dialect_tests!(mo_sms_raises_one_sms_received_alert);
