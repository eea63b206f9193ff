//! Three `simfleet serve` processes on one PostgreSQL schema and one 1NCE simulator: every
//! instance serves the API, no job ever runs on two instances at once, and each provider
//! action queued in the outbox reaches the provider exactly once.

mod support;

use chrono::{DateTime, Utc};
use reqwest::StatusCode;
use serde_json::Value;
use simfleet_store::testing::PG_URL_VAR;
use simfleet_store::{Store, StoreOptions};
use std::collections::BTreeMap;
use std::time::{Duration, Instant};
use support::{create_user, login, simfleet, Server};

const PASSWORD: &str = "scale-out-admin-password";
const SUSPENDED: usize = 12;

/// A finished job run: started, finished, instance.
type Span = (DateTime<Utc>, DateTime<Utc>, String);

async fn get(http: &reqwest::Client, url: String, token: &str) -> Value {
    let res = http.get(&url).bearer_auth(token).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK, "{url}");
    res.json().await.unwrap()
}

async fn wait_until<F: std::future::Future<Output = bool>>(what: &str, within: Duration, mut check: impl FnMut() -> F) {
    let deadline = Instant::now() + within;
    while !check().await {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_instances_share_one_database_without_duplicating_work() {
    let Ok(pg) = std::env::var(PG_URL_VAR) else {
        assert!(std::env::var("CI").map_or(true, |v| v != "true"), "{PG_URL_VAR} is required under CI");
        return;
    };
    let schema = format!("t_scale_{}", uuid::Uuid::new_v4().simple());
    let admin = Store::connect(&pg, &StoreOptions { max_connections: 1, pg_schema: None }).await.unwrap();
    admin.execute_raw(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let sep = if pg.contains('?') { '&' } else { '?' };
    let url = format!("{pg}{sep}options[search_path]={schema}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(60, 21), listener).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let instance = |n: usize| {
        let mut cmd = simfleet(dir.path());
        cmd.env("SIMFLEET_DATABASE_URL", &url)
            .env("SIMFLEET_SECRET_KEY", "scale-out test key, shared by all instances")
            .env("SIMFLEET_DB_MAX_CONNECTIONS", "5")
            .env("HOSTNAME", format!("instance-{n}"))
            .env("ONENCE_API_URL", sim.base_url())
            .env("ONENCE_CLIENT_ID", onence_sim::DEFAULT_CLIENT_ID)
            .env("ONENCE_CLIENT_SECRET", onence_sim::DEFAULT_CLIENT_SECRET);
        // Short intervals: many contended runs in a few seconds.
        for (job, secs) in [
            ("SIMS", 2),
            ("USAGE", 3),
            ("QUOTAS", 2),
            ("CONNECTIVITY", 2),
            ("EVENTS", 2),
            ("SMS", 2),
            ("OUTBOX", 1),
            ("ALERTS", 2),
            ("NOTIFY", 1),
        ] {
            cmd.env(format!("SIMFLEET_SYNC_INTERVAL_{job}"), secs.to_string());
        }
        cmd
    };
    // All three start together on the empty schema: migrations race for the lock.
    let servers = Server::start_all((0..3).map(instance).collect());
    create_user(instance(9), "admin", "admin", PASSWORD);
    let http = reqwest::Client::new();
    let bases: Vec<String> = servers.iter().map(|s| s.url("")).collect();
    let token = login(&http, &bases[0], "admin", PASSWORD).await;

    // The first SIM sync (whichever instance won it) fills the inventory.
    wait_until("the first SIM sync", Duration::from_secs(60), || async {
        let page = get(&http, format!("{}/api/v1/sims?provider=1nce&count=true&limit=1", bases[1]), &token).await;
        page["total"] == 60
    })
    .await;

    // Suspend enabled SIMs through all three instances: each queues one provider action.
    let state = sim.state();
    let targets: Vec<_> =
        state.sims().into_iter().filter(|r| r.status == onence_sim::SimStatus::Enabled && !r.expired).collect();
    assert!(targets.len() >= SUSPENDED, "enough enabled SIMs in the simulator");
    let targets = &targets[..SUSPENDED];
    for (i, record) in targets.iter().enumerate() {
        let base = &bases[i % 3];
        let iccid = &record.iccid_with_luhn;
        let local = get(&http, format!("{base}/api/v1/sims/{iccid}"), &token).await;
        if local["status"] != "ACTIVE" {
            let res =
                http.post(format!("{base}/api/v1/sims/{iccid}/activate")).bearer_auth(&token).send().await.unwrap();
            assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
        }
        let res = http.post(format!("{base}/api/v1/sims/{iccid}/suspend")).bearer_auth(&token).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    }
    wait_until("the outbox to drain", Duration::from_secs(60), || async {
        for record in targets {
            let actions =
                get(&http, format!("{}/api/v1/sims/{}/provider-actions", bases[2], record.iccid_with_luhn), &token)
                    .await;
            let items = actions["items"].as_array().cloned().unwrap_or_default();
            if items.is_empty() || items.iter().any(|a| a["status"] != "done") {
                return false;
            }
        }
        true
    })
    .await;
    // A few more scheduling rounds with everything contended.
    tokio::time::sleep(Duration::from_secs(4)).await;

    // Every instance answers the API with the same data, and is ready.
    let mut totals = Vec::new();
    for base in &bases {
        totals.push(get(&http, format!("{base}/api/v1/sims?count=true&limit=1"), &token).await["total"].clone());
        let res = http.get(format!("{base}/health/ready")).send().await.unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert!(totals.iter().all(|t| *t == totals[0]), "{totals:?}");

    for server in servers {
        let (status, log) = server.stop(Duration::from_secs(30));
        assert!(status.success(), "{log}");
    }

    // Each queued action reached the simulator exactly once (the status PUT for the SIM).
    let log = sim.request_log();
    for record in targets {
        let path = format!("/v1/sims/{}", record.iccid);
        let puts = log.iter().filter(|e| e.method == "PUT" && e.path == path && e.status < 300).count();
        assert_eq!(puts, 1, "{path} was updated {puts} times");
        assert_eq!(state.sim(&record.iccid).unwrap().status, onence_sim::SimStatus::Disabled);
    }

    // No two runs of one job overlapped, across instances.
    let store =
        Store::connect(&pg, &StoreOptions { max_connections: 1, pg_schema: Some(schema.clone()) }).await.unwrap();
    let mut by_job: BTreeMap<String, Vec<Span>> = BTreeMap::new();
    let page = simfleet_store::PageRequest { limit: 1000, cursor: None, with_total: false };
    let runs = store.list_job_runs(None, page).await.unwrap();
    assert!(runs.next_cursor.is_none(), "fewer than 1000 runs");
    for run in runs.items {
        let finished = run.finished_at.unwrap_or_else(|| panic!("run {} never finished", run.id));
        by_job.entry(run.job.clone()).or_default().push((run.started_at, finished, run.instance.unwrap_or_default()));
    }
    let mut instances = std::collections::BTreeSet::new();
    for (job, mut runs) in by_job {
        runs.sort();
        for pair in runs.windows(2) {
            assert!(pair[0].1 <= pair[1].0, "{job} runs overlap: {:?} and {:?}", pair[0], pair[1]);
        }
        instances.extend(runs.iter().map(|r| r.2.clone()));
        assert!(runs.len() >= 2, "{job} ran {} times", runs.len());
    }
    assert!(instances.len() >= 2, "jobs ran on several instances: {instances:?}");
    store.close().await;
    admin.execute_raw(&format!("DROP SCHEMA {schema} CASCADE")).await.unwrap();
    admin.close().await;
}
