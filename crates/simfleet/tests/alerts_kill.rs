//! `simfleet serve` killed with SIGKILL while alert notifications are raised but not all
//! delivered (the webhook refused some), then started again on the same database: the
//! receiver accepts each alert's notification exactly once, every one signed with the
//! channel's secret.

mod support;

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use chrono::{DateTime, TimeDelta, Utc};
use hmac::{Hmac, Mac};
use serde_json::{json, Value};
use sha2::Sha256;
use simfleet_store::testing::TestDb;
use simfleet_store::Dialect;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use support::{create_user, login, simfleet, Server};

const FLEET: usize = 40;
const SEED: u64 = 5;
const PASSWORD: &str = "Adm1n-Pa55word-Kill";
const SECRET_KEY: &str = "Sk-alerts-kill-test-0123456789abcdef";
const WEBHOOK_SECRET: &str = "whsec-kill-test";
/// Jobs the scheduler runs at start that can raise alerts (all but `notify`).
const JOBS: [&str; 8] = ["sims", "usage", "quotas", "connectivity", "events", "outbox", "sms", "alerts"];

/// The child's database URL: the test's SQLite file, or its PostgreSQL schema.
fn child_url(db: &TestDb) -> String {
    match &db.options.pg_schema {
        Some(schema) => {
            let sep = if db.url.contains('?') { '&' } else { '?' };
            format!("{}{sep}options=-c%20search_path%3D{schema}", db.url)
        }
        None => db.url.clone(),
    }
}

/// `simfleet` on the test's database; with a provider, every sync job waits an hour after
/// its run at start, and notifications go out every second.
fn command(db: &TestDb, data_dir: &std::path::Path, provider: Option<&str>) -> Command {
    let mut cmd = simfleet(data_dir);
    cmd.env("SIMFLEET_DATABASE_URL", child_url(db))
        .env("SIMFLEET_DATA_DIR", data_dir)
        .env("SIMFLEET_SECRET_KEY", SECRET_KEY)
        .env("SIMFLEET_LOG", "info,sqlx=warn");
    if let Some(url) = provider {
        cmd.env("ONENCE_API_URL", url)
            .env("ONENCE_CLIENT_ID", onence_sim::DEFAULT_CLIENT_ID)
            .env("ONENCE_CLIENT_SECRET", onence_sim::DEFAULT_CLIENT_SECRET);
        for job in JOBS {
            cmd.env(format!("SIMFLEET_SYNC_INTERVAL_{}", job.to_uppercase()), "3600");
        }
        cmd.env("SIMFLEET_SYNC_INTERVAL_NOTIFY", "1");
    }
    cmd
}

fn hmac_sha256_hex(key: &[u8], msg: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes a key of any length");
    mac.update(msg);
    hex::encode(mac.finalize().into_bytes())
}

// --- A webhook receiver that refuses the first delivery of every odd-numbered alert ---

struct Received {
    headers: HashMap<String, String>,
    body: Vec<u8>,
    accepted: bool,
}

#[derive(Clone, Default)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

impl Receiver {
    /// Answers 503 to the first delivery of an alert with an odd id, 200 otherwise.
    fn decide(&self, headers: HashMap<String, String>, body: Vec<u8>) -> bool {
        let mut all = self.0.lock().unwrap();
        let alert = alert_id(&body);
        let seen = all.iter().filter(|r| alert_id(&r.body) == alert).count();
        let accepted = !(alert.is_some_and(|id| id % 2 == 1) && seen == 0);
        all.push(Received { headers, body, accepted });
        accepted
    }

    fn accepted(&self) -> usize {
        self.0.lock().unwrap().iter().filter(|r| r.accepted).count()
    }
}

fn alert_id(body: &[u8]) -> Option<i64> {
    serde_json::from_slice::<Value>(body).ok().and_then(|v| v["alert"]["id"].as_i64())
}

async fn hook(State(receiver): State<Receiver>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let headers =
        headers.iter().map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap_or_default().to_owned())).collect();
    if receiver.decide(headers, body.to_vec()) {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    }
}

async fn webhook_receiver() -> (String, Receiver) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let receiver = Receiver::default();
    let app = axum::Router::new().route("/hook", post(hook)).with_state(receiver.clone());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, receiver)
}

// --- The API of the child process ---

struct Api {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Api {
    async fn new(server: &Server) -> Api {
        let http = reqwest::Client::new();
        let base = server.url("");
        let token = login(&http, &base, "admin", PASSWORD).await;
        Api { http, base, token }
    }

    async fn get(&self, path: &str) -> Value {
        let res = self.http.get(format!("{}{path}", self.base)).bearer_auth(&self.token).send().await.unwrap();
        assert!(res.status().is_success(), "GET {path}: {}", res.status());
        res.json().await.unwrap()
    }

    async fn items(&self, path: &str) -> Vec<Value> {
        self.get(path).await["items"].as_array().unwrap().clone()
    }
}

/// Waits up to `within` for `ready` to return a value; panics with `what` and the log.
async fn poll<T, F, Fut>(within: Duration, what: &str, server: &Server, mut ready: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(v) = ready().await {
            return v;
        }
        if Instant::now() > deadline {
            panic!("timed out waiting for {what}:\n{}", server.log());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// What the first process left when it was killed.
#[derive(Debug, PartialEq)]
struct Snapshot {
    alerts: BTreeSet<i64>,
    delivered: BTreeSet<i64>,
    waiting: BTreeSet<i64>,
}

/// The moment to kill: every job has run at start and none is running (so no new alert can
/// appear), each alert has its notification, and each notification was either delivered or
/// refused and is waiting for a retry that is not due for a while (so nothing is in flight).
async fn settled(api: &Api, channel: i64) -> Option<Snapshot> {
    let runs = api.items("/api/v1/jobs/runs?limit=1000").await;
    let finished = |job: &str| runs.iter().any(|r| r["job"] == job && r["status"] != "running");
    if runs.iter().any(|r| r["job"] != "notify" && r["status"] == "running") || !JOBS.iter().all(|j| finished(j)) {
        return None;
    }
    let alerts: BTreeSet<i64> =
        api.items("/api/v1/alerts?limit=1000").await.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    let log = api.items(&format!("/api/v1/notification-channels/{channel}/deliveries?limit=1000")).await;
    let of = |d: &Value| d["alert_id"].as_i64().unwrap();
    if log.iter().map(of).collect::<BTreeSet<_>>() != alerts || log.len() != alerts.len() {
        return None;
    }
    let soon = Utc::now() + TimeDelta::milliseconds(1500);
    let waiting_for_retry = |d: &Value| {
        let next: DateTime<Utc> = d["next_attempt_at"].as_str().unwrap().parse().unwrap();
        d["status"] == "pending" && d["attempts"].as_i64() >= Some(1) && next > soon
    };
    if !log.iter().all(|d| d["status"] == "delivered" || waiting_for_retry(d)) {
        return None;
    }
    let delivered = log.iter().filter(|d| d["status"] == "delivered").map(of).collect();
    let waiting = log.iter().filter(|d| d["status"] == "pending").map(of).collect();
    Some(Snapshot { alerts, delivered, waiting })
}

async fn killed_while_notifying_delivers_each_alert_once(dialect: Dialect) {
    let Some(db) = TestDb::for_dialect(dialect).await else { return };
    let started = Instant::now();
    let data_dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(FLEET, SEED), listener).await.unwrap();
    let (url, receiver) = webhook_receiver().await;

    // Set-up without a provider (so nothing is raised yet): an admin and a signed webhook.
    create_user(command(&db, data_dir.path(), None), "admin", "admin", PASSWORD);
    let setup = Server::start(command(&db, data_dir.path(), None));
    let api = Api::new(&setup).await;
    let res = api
        .http
        .post(format!("{}/api/v1/notification-channels", api.base))
        .bearer_auth(&api.token)
        .json(&json!({ "name": "hook", "kind": "webhook", "config": { "url": url }, "secret": WEBHOOK_SECRET }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let channel = res.json::<Value>().await.unwrap()["id"].as_i64().unwrap();
    let (status, log) = setup.stop(Duration::from_secs(20));
    assert!(status.success(), "{log}");

    // With the provider: the start-up sync raises alerts and the notifier sends them; the
    // receiver refuses half of them, which wait for their retry when the process is killed.
    let first = Server::start(command(&db, data_dir.path(), Some(sim.base_url())));
    let api = Api::new(&first).await;
    // The same on two looks in a row: nothing is moving.
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut previous = None;
    let before = loop {
        match (settled(&api, channel).await, previous.take()) {
            (Some(now), Some(before)) if now == before => break now,
            (now, _) => previous = now,
        }
        assert!(Instant::now() < deadline, "alerts were not raised and half delivered:\n{}", first.log());
        tokio::time::sleep(Duration::from_millis(150)).await;
    };
    let first_log = first.sigkill();
    assert!(before.alerts.len() >= 2, "the fleet raises alerts: {before:?}");
    let odd: BTreeSet<i64> = before.alerts.iter().copied().filter(|id| id % 2 == 1).collect();
    assert_eq!(before.waiting, odd, "the refused ones wait for a retry: {before:?}\n{first_log}");
    assert!(!before.delivered.is_empty(), "{before:?}");
    assert_eq!(receiver.accepted(), before.delivered.len(), "accepted = recorded as delivered");

    // A new process on the same database delivers what was waiting, and nothing twice.
    let second = Server::start(command(&db, data_dir.path(), Some(sim.base_url())));
    let api = Api::new(&second).await;
    let path = format!("/api/v1/notification-channels/{channel}/deliveries?limit=1000");
    poll(Duration::from_secs(25), "the waiting notifications to be delivered", &second, || {
        let (api, path) = (&api, &path);
        async move {
            let log = api.items(path).await;
            log.iter().all(|d| d["status"] == "delivered").then_some(())
        }
    })
    .await;
    // Two more notifier runs: a late duplicate would show now.
    let last = api.items("/api/v1/jobs/runs?job=notify&limit=1").await[0]["id"].as_i64().unwrap();
    poll(Duration::from_secs(10), "two more notify runs", &second, || {
        let api = &api;
        async move {
            let runs = api.items("/api/v1/jobs/runs?job=notify&limit=5").await;
            let done = runs.iter().filter(|r| r["id"].as_i64().unwrap() > last && r["status"] != "running").count();
            (done >= 2).then_some(())
        }
    })
    .await;
    let alerts: BTreeSet<i64> =
        api.items("/api/v1/alerts?limit=1000").await.iter().map(|a| a["id"].as_i64().unwrap()).collect();
    assert_eq!(alerts, before.alerts, "the restart raised nothing new");

    {
        let received = receiver.0.lock().unwrap();
        let mut accepted: BTreeMap<i64, usize> = BTreeMap::new();
        let mut deliveries = BTreeSet::new();
        for r in received.iter() {
            let expected = format!("sha256={}", hmac_sha256_hex(WEBHOOK_SECRET.as_bytes(), &r.body));
            assert_eq!(r.headers.get("x-simfleet-signature"), Some(&expected), "signed with the channel's secret");
            let body: Value = serde_json::from_slice(&r.body).unwrap();
            assert_eq!(body["event"], "alert.opened");
            assert_eq!(r.headers.get("x-simfleet-delivery").map(String::as_str), body["delivery_id"].as_str());
            if r.accepted {
                *accepted.entry(body["alert"]["id"].as_i64().unwrap()).or_default() += 1;
                assert!(deliveries.insert(body["delivery_id"].as_str().unwrap().to_owned()), "{body}");
            }
        }
        assert_eq!(accepted.keys().copied().collect::<BTreeSet<_>>(), alerts, "every alert reached the receiver");
        let twice: Vec<_> = accepted.iter().filter(|(_, n)| **n != 1).collect();
        assert!(twice.is_empty(), "alerts accepted more than once: {twice:?}");
        let refused = received.iter().filter(|r| !r.accepted).count();
        assert_eq!(refused, alerts.iter().filter(|id| *id % 2 == 1).count(), "each odd alert refused once");
    }

    let (status, log) = second.stop(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    sim.shutdown().await;
    db.cleanup().await;
    eprintln!(
        "{} alerts, {} delivered before the kill, in {:?}",
        alerts.len(),
        before.delivered.len(),
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_while_notifying_delivers_each_alert_once() {
    killed_while_notifying_delivers_each_alert_once(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_while_notifying_delivers_each_alert_once() {
    killed_while_notifying_delivers_each_alert_once(Dialect::Postgres).await;
}
