//! `simfleet sync` killed with SIGKILL in the middle of a run, then started again: the store
//! converges to the simulator's state, with no duplicate rows and the killed run marked failed.

use simfleet_store::testing::TestDb;
use simfleet_store::{Dialect, PageRequest, SimFilter};
use std::process::{Command, Stdio};
use std::time::Duration;

const FLEET: usize = 1000;

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

fn sync_command(db: &TestDb, provider_url: &str, data_dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simfleet"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIMFLEET_DATABASE_URL", child_url(db))
        .env("SIMFLEET_DATA_DIR", data_dir)
        .env("ONENCE_API_URL", provider_url)
        .env("ONENCE_CLIENT_ID", onence_sim::DEFAULT_CLIENT_ID)
        .env("ONENCE_CLIENT_SECRET", onence_sim::DEFAULT_CLIENT_SECRET)
        .env("SIMFLEET_LOG", "warn")
        .args(["sync", "--job", "all"])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    cmd
}

async fn killed_sync_converges(dialect: Dialect) {
    let Some(db) = TestDb::for_dialect(dialect).await else { return };
    let data_dir = tempfile::tempdir().unwrap();
    // Some latency, so that the usage job is still running when the process is killed.
    let config = onence_sim::SimConfig { latency_ms: 5, ..onence_sim::SimConfig::new(FLEET, 3) };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(config, listener).await.unwrap();

    let mut child = sync_command(&db, sim.base_url(), data_dir.path()).spawn().unwrap();
    // Kill once the usage job has written its first batch of 500 SIMs, well before it ends.
    let mut killed_mid_usage = false;
    for _ in 0..600 {
        tokio::time::sleep(Duration::from_millis(20)).await;
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the sync ended before it could be killed: {status}");
        }
        let runs = db.store.last_job_runs().await.unwrap();
        let usage_running = runs.iter().any(|r| r.job == "usage" && r.status == "running");
        if usage_running && sim.counters().requests > 600 {
            child.kill().unwrap(); // SIGKILL
            child.wait().unwrap();
            killed_mid_usage = true;
            break;
        }
    }
    assert!(killed_mid_usage, "the usage job was seen running");
    let runs = db.store.last_job_runs().await.unwrap();
    assert!(runs.iter().any(|r| r.job == "usage" && r.status == "running"), "the killed run is left open: {runs:?}");

    // A fresh start takes over the dead process's lease at once and completes.
    let out = sync_command(&db, sim.base_url(), data_dir.path()).output().unwrap();
    assert!(out.status.success(), "restart failed: {}", String::from_utf8_lossy(&out.stderr));

    let usage_runs = db
        .store
        .list_job_runs(Some("usage"), PageRequest { limit: 10, cursor: None, with_total: false })
        .await
        .unwrap();
    assert_eq!(usage_runs.items.len(), 2);
    assert_eq!(usage_runs.items[0].status, "success");
    assert_eq!(usage_runs.items[1].status, "failed");
    assert!(usage_runs.items[1].errors.as_deref().unwrap().contains("abandoned"));

    let state = sim.state();
    let filter = SimFilter { provider: Some(simfleet_domain::Provider::OneNce), ..Default::default() };
    assert_eq!(db.store.count_sims(&filter).await.unwrap(), FLEET as i64, "each SIM once");
    let today = state.today();
    let from = today - chrono::Days::new(200);
    for r in state.sims() {
        let local = db.store.get_sim(&r.iccid_with_luhn).await.unwrap();
        let stored = db.store.sim_usage(local.id, from, today).await.unwrap();
        let truth: Vec<_> = state
            .usage(&r.iccid, from, today)
            .unwrap()
            .into_iter()
            .filter(|(_, u)| u.data_umb() > 0 || u.sms() > 0)
            .collect();
        assert!(stored.windows(2).all(|w| w[0].day < w[1].day), "{}: one row per day, no duplicates", r.iccid);
        let used_days: Vec<_> =
            stored.iter().filter(|s| s.data_total > 0 || s.sms_mo + s.sms_mt > 0).map(|s| s.day).collect();
        let true_days: Vec<_> = truth.iter().map(|(d, _)| *d).collect();
        assert_eq!(used_days, true_days, "{}", r.iccid);
        let sms: i64 = stored.iter().map(|s| s.sms_mo + s.sms_mt).sum();
        let true_sms: i64 = truth.iter().map(|(_, u)| (u.sms_mo + u.sms_mt) as i64).sum();
        assert_eq!(sms, true_sms, "{}", r.iccid);
        assert_eq!(db.store.sim_quotas(local.id).await.unwrap().len(), 2, "{}", r.iccid);
    }
    sim.shutdown().await;
    db.cleanup().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_killed_sync_converges() {
    killed_sync_converges(Dialect::Sqlite).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_killed_sync_converges() {
    killed_sync_converges(Dialect::Postgres).await;
}
