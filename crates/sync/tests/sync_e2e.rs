//! The sync jobs against the 1NCE simulator, on SQLite and PostgreSQL.

use chrono::NaiveDate;
use onence_sim::{SimConfig, SimHandle, SimStatus as SimulatorStatus};
use simfleet_domain::{Provider, SimStatus};
use simfleet_store::testing::TestDb;
use simfleet_store::{PageRequest, SimFilter};
use simfleet_sync::{Job, SyncConfig, Syncer};
use std::collections::HashSet;

const FLEET: usize = 300;
/// The fleet of the first-sync test: big enough that paging, batching and concurrency all
/// take part (5,000 SIMs, 180 days of usage each).
const FIRST_SYNC_FLEET: usize = 5_000;

async fn simulator() -> SimHandle {
    simulator_of(FLEET).await
}

async fn simulator_of(sims: usize) -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    onence_sim::spawn(SimConfig::new(sims, 7), listener).await.unwrap()
}

fn syncer(db: &TestDb, sim: &SimHandle) -> Syncer {
    let config =
        onence::ClientConfig::new(sim.base_url(), onence_sim::DEFAULT_CLIENT_ID, onence_sim::DEFAULT_CLIENT_SECRET);
    let client = onence::Client::new(config).unwrap();
    let config =
        SyncConfig { concurrency: 8, outbox_backoff: std::time::Duration::from_millis(500), ..SyncConfig::default() };
    Syncer::new(db.store.clone(), client, config)
}

/// µMB (the simulator's unit) to bytes, with 1 MB = 1,048,576 bytes, rounded.
fn bytes(umb: u64) -> i64 {
    ((u128::from(umb) * 1_048_576 + 500_000) / 1_000_000) as i64
}

async fn first_sync_reproduces_the_simulator(db: &TestDb) {
    let sim = simulator_of(FIRST_SYNC_FLEET).await;
    let syncer = syncer(db, &sim);
    for job in Job::ALL {
        let outcome = syncer.run(job).await.unwrap();
        assert_eq!(outcome.status, "success", "{job:?}: {outcome:?}");
    }
    assert_store_mirrors(db, &sim, &HashSet::new()).await;
    // A new SIM takes its label from the provider (later syncs leave it to the inventory).
    for r in sim.state().sims() {
        let local = db.store.get_sim(&r.iccid_with_luhn).await.unwrap();
        assert_eq!(local.label, r.label.clone().filter(|l| !l.is_empty()), "{}", r.iccid);
    }
    let runs = db.store.list_job_runs(None, PageRequest { limit: 10, cursor: None, with_total: false }).await.unwrap();
    assert_eq!(runs.items.len(), Job::ALL.len());
    assert!(runs.items.iter().all(|r| r.status == "success" && r.finished_at.is_some()));
    sim.shutdown().await;
}

/// With 10 % of requests failing with 5xx, 5 % answered 429 and tokens that expire every
/// 2 s, every run still ends `success` or `partial` with each failure recorded, and the store
/// holds exactly the simulator's data for every SIM that did not fail.
async fn a_faulty_provider_does_not_change_the_result(db: &TestDb) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    // Each 429 pauses the whole client for the second it asks for: a smaller fleet keeps this short.
    let fleet = 100;
    let config = SimConfig { token_ttl_secs: 2, ..SimConfig::new(fleet, 7) };
    let sim = onence_sim::spawn(config, listener).await.unwrap();
    sim.set_faults(onence_sim::Faults { error_rate: 0.10, throttle_rate: 0.05, ..Default::default() });
    let mut client =
        onence::ClientConfig::new(sim.base_url(), onence_sim::DEFAULT_CLIENT_ID, onence_sim::DEFAULT_CLIENT_SECRET);
    // Quick retries keep the test short; the 429s still make the client wait the 1 s they ask for.
    client.backoff_base = std::time::Duration::from_millis(10);
    client.backoff_max = std::time::Duration::from_millis(100);
    let config = SyncConfig { concurrency: 32, ..SyncConfig::default() };
    let syncer = Syncer::new(db.store.clone(), onence::Client::new(client).unwrap(), config);
    let mut failed = HashSet::new();
    for job in [Job::Sims, Job::Usage, Job::Quotas, Job::Connectivity, Job::Events] {
        let outcome = syncer.run(job).await.unwrap();
        assert!(outcome.status == "success" || outcome.status == "partial", "{job:?}: {outcome:?}");
        let run = &db
            .store
            .list_job_runs(Some(job.as_str()), PageRequest { limit: 1, cursor: None, with_total: false })
            .await
            .unwrap()
            .items[0];
        let errors: Vec<serde_json::Value> = serde_json::from_str(run.errors.as_deref().unwrap_or("[]")).unwrap();
        assert_eq!(errors.len() as i64, outcome.items_failed, "every failure is recorded: {errors:?}");
        failed.extend(errors.iter().filter_map(|e| e["item"].as_str().map(str::to_owned)));
    }
    let counters = sim.counters();
    assert!(counters.errors_5xx > 0 && counters.rate_limited > 0, "faults were injected: {counters:?}");
    assert!(counters.tokens_issued > 1, "the token expired and was renewed: {counters:?}");
    assert!(!failed.contains("job"), "no job failed as a whole: {failed:?}");
    assert!(failed.len() < fleet / 10, "retries absorb most faults: {failed:?}");
    assert_store_mirrors(db, &sim, &failed).await;
    sim.shutdown().await;
}

/// The store holds the simulator's SIMs, usage, quotas and connectivity exactly, except for
/// the SIMs (full ICCIDs) in `skip`.
async fn assert_store_mirrors(db: &TestDb, sim: &SimHandle, skip: &HashSet<String>) {
    let state = sim.state();
    let records = state.sims();
    let store = &db.store;
    let filter = SimFilter { provider: Some(Provider::OneNce), ..Default::default() };
    assert_eq!(store.count_sims(&filter).await.unwrap(), records.len() as i64);

    let today = state.today();
    let from = today - chrono::Days::new(200);
    for r in records.iter().filter(|r| !skip.contains(&r.iccid_with_luhn)) {
        let local = store.get_sim(&r.iccid_with_luhn).await.unwrap();
        assert_eq!(local.msisdn.as_deref(), Some(r.msisdn.as_str()));
        assert_eq!(local.imsi.as_deref(), Some(r.imsi.as_str()));
        assert_eq!(local.imei.as_deref(), Some(r.imei.as_str()), "{}", r.iccid);
        assert_eq!(local.imei_lock, Some(r.imei_lock), "{}", r.iccid);
        assert_eq!(local.ip_address.as_deref(), Some(r.ip_address.as_str()), "{}", r.iccid);
        let expected = if r.status == SimulatorStatus::Enabled { SimStatus::Active } else { SimStatus::Suspended };
        assert_eq!(local.status, expected, "{}", r.iccid);
        let provider_status = if r.status == SimulatorStatus::Enabled { "Enabled" } else { "Disabled" };
        assert_eq!(local.provider_status.as_deref(), Some(provider_status), "{}", r.iccid);

        let stored = store.sim_usage(local.id, from, today).await.unwrap();
        let truth: Vec<(NaiveDate, onence_sim::DayUsage)> = state
            .usage(&r.iccid, from, today)
            .unwrap()
            .into_iter()
            .filter(|(_, u)| u.data_umb() > 0 || u.sms() > 0)
            .collect();
        for (day, u) in &truth {
            let row = stored
                .iter()
                .find(|s| s.day == *day)
                .unwrap_or_else(|| panic!("{} has no usage row for {day}", r.iccid));
            assert_eq!((row.data_rx, row.data_tx), (bytes(u.rx_umb), bytes(u.tx_umb)), "{} {day}", r.iccid);
            assert_eq!((row.sms_mo, row.sms_mt), (u.sms_mo as i64, u.sms_mt as i64), "{} {day}", r.iccid);
        }
        let with_traffic = stored.iter().filter(|s| s.data_rx + s.data_tx > 0 || s.sms_mo + s.sms_mt > 0).count();
        assert_eq!(with_traffic, truth.len(), "{}: no day stored that the provider does not report", r.iccid);
        let stored_total: i64 = stored.iter().map(|s| s.data_rx + s.data_tx).sum();
        let true_total: i64 = truth.iter().map(|(_, u)| bytes(u.rx_umb) + bytes(u.tx_umb)).sum();
        assert!(
            (stored_total - true_total).abs() <= stored.len() as i64,
            "{}: {stored_total} vs {true_total}",
            r.iccid
        );

        let quotas = store.sim_quotas(local.id).await.unwrap();
        let data = quotas.iter().find(|q| q.kind == "data").expect("data quota");
        let view = state.data_quota(&r.iccid).unwrap();
        // The provider reports an exhausted quota as nothing left.
        let reported = bytes(view.remaining.max(0).unsigned_abs());
        assert!((data.remaining - reported).abs() <= 1, "{}: {} vs {reported}", r.iccid, data.remaining);
        let total = bytes(view.total.max(0).unsigned_abs());
        assert!(data.total.is_some_and(|t| (t - total).abs() <= 1), "{}: {:?} vs {total}", r.iccid, data.total);
        assert_eq!(data.expiry_date, Some(view.expiry.date_naive()), "{}", r.iccid);
        assert_eq!(data.threshold_percentage, Some(i64::from(view.threshold_percentage)), "{}", r.iccid);
        let sms = quotas.iter().find(|q| q.kind == "sms").expect("SMS quota");
        let view = state.sms_quota(&r.iccid).unwrap();
        assert_eq!((sms.remaining, sms.total), (view.remaining.max(0), Some(view.total)), "{}", r.iccid);

        let link = store.sim_connectivity(local.id).await.unwrap().expect("connectivity");
        assert_eq!(link.status, r.connectivity.state.as_str(), "{}", r.iccid);
        assert_eq!(link.operator.as_deref(), Some(r.connectivity.operator.name), "{}", r.iccid);
        assert_eq!(link.country.as_deref(), Some(r.connectivity.operator.country), "{}", r.iccid);
    }
}

async fn second_sync_applies_exactly_the_changes(db: &TestDb) {
    let sim = simulator().await;
    let syncer = syncer(db, &sim);
    syncer.run(Job::Sims).await.unwrap();
    syncer.run(Job::Usage).await.unwrap();
    syncer.run(Job::Quotas).await.unwrap();
    let state = sim.state();
    let records = state.sims();
    let enabled = records.iter().find(|r| r.status == SimulatorStatus::Enabled).unwrap();
    let other = records.iter().find(|r| r.iccid != enabled.iccid).unwrap();
    let store = &db.store;
    let before_usage = store
        .sim_usage(
            store.get_sim(&other.iccid_with_luhn).await.unwrap().id,
            state.today() - chrono::Days::new(400),
            state.today(),
        )
        .await
        .unwrap();

    state.set_status(&enabled.iccid, SimulatorStatus::Disabled);
    state.top_up(&other.iccid).unwrap();
    let outcome = syncer.run(Job::Sims).await.unwrap();
    assert_eq!(outcome.status, "success");
    syncer.run(Job::Quotas).await.unwrap();
    syncer.run(Job::Usage).await.unwrap();

    let changed = store.get_sim(&enabled.iccid_with_luhn).await.unwrap();
    assert_eq!(changed.status, SimStatus::Suspended);
    let events = store
        .sim_events(&changed.iccid, PageRequest { limit: 5, cursor: None, with_total: false })
        .await
        .unwrap()
        .items;
    assert_eq!(events[0].kind, "STATUS_CHANGED_EXTERNALLY");
    assert_eq!(events[0].actor, "sync");
    let unchanged = store.get_sim(&other.iccid_with_luhn).await.unwrap();
    assert_eq!(
        store
            .sim_events(&unchanged.iccid, PageRequest { limit: 5, cursor: None, with_total: false })
            .await
            .unwrap()
            .items
            .len(),
        1,
        "only CREATED"
    );
    let data = store.sim_quotas(unchanged.id).await.unwrap().into_iter().find(|q| q.kind == "data").unwrap();
    let view = state.data_quota(&other.iccid).unwrap();
    let reported = bytes(view.remaining.max(0).unsigned_abs());
    assert!((data.remaining - reported).abs() <= 1, "top-up reached the store");
    let after_usage =
        store.sim_usage(unchanged.id, state.today() - chrono::Days::new(400), state.today()).await.unwrap();
    assert_eq!(before_usage, after_usage, "re-reading usage is idempotent");
    sim.shutdown().await;
}

async fn injected_faults_end_partial_with_errors_recorded(db: &TestDb) {
    let sim = simulator().await;
    let syncer = syncer(db, &sim);
    syncer.run(Job::Sims).await.unwrap();
    // Every SIM call fails: the job records each SIM's error and still finishes.
    sim.set_faults(onence_sim::Faults { error_rate: 1.0, ..Default::default() });
    let outcome = syncer.run(Job::Quotas).await.unwrap();
    assert!(outcome.status == "partial" || outcome.status == "failed", "{outcome:?}");
    let runs = db
        .store
        .list_job_runs(Some("quotas"), PageRequest { limit: 1, cursor: None, with_total: false })
        .await
        .unwrap();
    let run = &runs.items[0];
    assert_eq!(run.status, outcome.status);
    assert!(run.errors.as_deref().unwrap().contains("message"));
    // The outage opened the client's circuit breaker; once 1NCE answers again, the next run
    // (here with a fresh client, as after the breaker's cool-down) completes.
    sim.set_faults(onence_sim::Faults::default());
    assert_eq!(self::syncer(db, &sim).run(Job::Quotas).await.unwrap().status, "success");
    sim.shutdown().await;
}

async fn outbox_delivers_local_changes_once(db: &TestDb) {
    use simfleet_domain::Action;
    use simfleet_store::{ActionRequest, SimPatch};
    let sim = simulator().await;
    let syncer = syncer(db, &sim);
    syncer.run(Job::Sims).await.unwrap();
    let state = sim.state();
    let records = state.sims();
    let store = &db.store;
    let enabled: Vec<_> = records.iter().filter(|r| r.status == SimulatorStatus::Enabled && !r.expired).collect();
    let (a, b) = (enabled[0], enabled[1]);

    // Suspend locally: the provider action is queued with the change, delivered by the job.
    store.apply_action(&a.iccid_with_luhn, &ActionRequest::new(Action::Suspend, "alice")).await.unwrap();
    let local = store.get_sim(&a.iccid_with_luhn).await.unwrap();
    let queued = store.sim_outbox(local.id).await.unwrap();
    assert_eq!((queued.len(), queued[0].status.as_str()), (1, "pending"));
    assert_eq!(state.sim(&a.iccid).unwrap().status, SimulatorStatus::Enabled, "nothing sent yet");
    let outcome = syncer.run(Job::Outbox).await.unwrap();
    assert_eq!((outcome.status, outcome.items_ok), ("success", 1));
    assert_eq!(state.sim(&a.iccid).unwrap().status, SimulatorStatus::Disabled);
    assert_eq!(store.sim_outbox(local.id).await.unwrap()[0].status, "done");
    // The next SIM sync sees our own change, not an external one.
    syncer.run(Job::Sims).await.unwrap();
    let events = store
        .sim_events(&a.iccid_with_luhn, PageRequest { limit: 10, cursor: None, with_total: false })
        .await
        .unwrap()
        .items;
    assert!(events.iter().all(|e| e.kind != "STATUS_CHANGED_EXTERNALLY"), "{events:?}");
    assert_eq!(store.get_sim(&a.iccid_with_luhn).await.unwrap().status, SimStatus::Suspended);
    // Delivered once: running again sends nothing.
    assert_eq!(syncer.run(Job::Outbox).await.unwrap().items_ok, 0);

    // A label change reaches the provider too.
    let patch = SimPatch { label: Some(Some("Pump 12".into())), ..Default::default() };
    store.update_sim(&b.iccid_with_luhn, &patch, "alice").await.unwrap();
    syncer.run(Job::Outbox).await.unwrap();
    assert_eq!(state.sim(&b.iccid).unwrap().label.as_deref(), Some("Pump 12"));

    // An outage leaves the action pending; a later worker (as after a restart) delivers it.
    sim.set_faults(onence_sim::Faults { error_rate: 1.0, ..Default::default() });
    store.apply_action(&b.iccid_with_luhn, &ActionRequest::new(Action::Suspend, "alice")).await.unwrap();
    let outcome = syncer.run(Job::Outbox).await.unwrap();
    assert_eq!(outcome.status, "partial");
    let local_b = store.get_sim(&b.iccid_with_luhn).await.unwrap();
    let pending = &store.sim_outbox(local_b.id).await.unwrap()[0];
    assert_eq!((pending.status.as_str(), pending.attempts), ("pending", 1));
    assert!(pending.last_error.is_some());
    sim.set_faults(onence_sim::Faults::default());
    assert_eq!(syncer.run(Job::Outbox).await.unwrap().items_ok, 0, "not due before its backoff");
    tokio::time::sleep(std::time::Duration::from_millis(600)).await;
    let config =
        onence::ClientConfig::new(sim.base_url(), onence_sim::DEFAULT_CLIENT_ID, onence_sim::DEFAULT_CLIENT_SECRET);
    let restarted = Syncer::new(
        db.store.clone(),
        onence::Client::new(config).unwrap(),
        SyncConfig { outbox_backoff: std::time::Duration::ZERO, ..SyncConfig::default() },
    );
    assert_eq!(restarted.run(Job::Outbox).await.unwrap().items_ok, 1);
    assert_eq!(state.sim(&b.iccid).unwrap().status, SimulatorStatus::Disabled);
    sim.shutdown().await;
}

async fn provider_refusal_fails_the_action_and_says_why(db: &TestDb) {
    use simfleet_domain::Action;
    use simfleet_store::ActionRequest;
    let sim = simulator().await;
    let syncer = syncer(db, &sim);
    syncer.run(Job::Sims).await.unwrap();
    let state = sim.state();
    let Some(expired) = state.sims().into_iter().find(|r| r.expired && r.status == SimulatorStatus::Enabled) else {
        sim.shutdown().await;
        panic!("the seeded fleet has an expired, enabled SIM");
    };
    db.store.apply_action(&expired.iccid_with_luhn, &ActionRequest::new(Action::Suspend, "alice")).await.unwrap();
    let outcome = syncer.run(Job::Outbox).await.unwrap();
    assert_eq!(outcome.status, "partial");
    let local = db.store.get_sim(&expired.iccid_with_luhn).await.unwrap();
    let item = &db.store.sim_outbox(local.id).await.unwrap()[0];
    assert_eq!(item.status, "failed");
    assert!(item.last_error.as_deref().unwrap().contains("422"), "{:?}", item.last_error);
    let events = db
        .store
        .sim_events(&local.iccid, PageRequest { limit: 1, cursor: None, with_total: false })
        .await
        .unwrap()
        .items;
    assert_eq!(events[0].kind, "PROVIDER_ACTION_FAILED");
    sim.shutdown().await;
}

simfleet_store::backend_tests!(
    a_faulty_provider_does_not_change_the_result,
    network_events_are_read_incrementally,
    a_restarted_scheduler_waits_for_jobs_that_ran_recently,
    two_instances_take_turns,
    outbox_delivers_local_changes_once,
    provider_refusal_fails_the_action_and_says_why,
    first_sync_reproduces_the_simulator,
    second_sync_applies_exactly_the_changes,
    injected_faults_end_partial_with_errors_recorded,
);

/// Two runners (as two `simfleet serve` instances) on one database never run a job at once.
async fn two_instances_take_turns(db: &TestDb) {
    let sim = simulator().await;
    let make = |name: &str| {
        let config =
            onence::ClientConfig::new(sim.base_url(), onence_sim::DEFAULT_CLIENT_ID, onence_sim::DEFAULT_CLIENT_SECRET);
        let syncer = Syncer::new(
            db.store.clone(),
            onence::Client::new(config).unwrap(),
            SyncConfig { instance: name.into(), ..SyncConfig::default() },
        );
        simfleet_sync::Runner::new(syncer, Default::default())
    };
    let (a, b) = (make("instance-a"), make("instance-b"));
    let (ra, rb) = tokio::join!(a.run(Job::Usage), b.run(Job::Usage));
    let outcomes = [ra.is_ok(), rb.is_ok()];
    assert!(outcomes.contains(&true), "one of them ran: {ra:?} {rb:?}");
    if outcomes == [true, true] {
        // Only possible if the runs did not overlap: the second started after the first ended.
        let runs = db
            .store
            .list_job_runs(Some("usage"), PageRequest { limit: 2, cursor: None, with_total: false })
            .await
            .unwrap()
            .items;
        assert!(runs[1].finished_at.unwrap() <= runs[0].started_at, "{runs:?}");
    } else {
        let err = match (ra, rb) {
            (Err(e), _) | (_, Err(e)) => e,
            _ => unreachable!("one of them failed"),
        };
        assert!(matches!(err, simfleet_sync::RunError::Elsewhere("usage")), "{err}");
    }
    // Released after the run: either instance can run it again.
    assert!(b.run(Job::Usage).await.is_ok());
    assert!(a.run(Job::Usage).await.is_ok());
    sim.shutdown().await;
}

/// A restart does not re-read the whole account: jobs that ran within their interval wait for
/// their turn, the others (never run, or failed) run at once.
async fn a_restarted_scheduler_waits_for_jobs_that_ran_recently(db: &TestDb) {
    let sim = simulator().await;
    let runner = simfleet_sync::Runner::new(syncer(db, &sim), Default::default());
    runner.run(Job::Sims).await.unwrap();
    runner.run(Job::Usage).await.unwrap();
    let runs_before = db.store.last_job_runs().await.unwrap();

    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let scheduler = tokio::spawn(runner.clone().schedule(async move {
        let _ = stopped.await;
    }));
    // Long enough for the due jobs (quotas, connectivity, outbox) to run once.
    let due = ["quotas", "connectivity", "outbox"];
    for _ in 0..100 {
        let runs = db.store.last_job_runs().await.unwrap();
        if due.iter().all(|job| runs.iter().any(|r| r.job == *job && r.finished_at.is_some())) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    let _ = stop.send(());
    scheduler.await.unwrap();

    let runs = db.store.last_job_runs().await.unwrap();
    for job in due {
        assert!(runs.iter().any(|r| r.job == job), "{job} ran: {runs:?}");
    }
    for job in ["sims", "usage"] {
        let before = runs_before.iter().find(|r| r.job == job).unwrap();
        let after = runs.iter().find(|r| r.job == job).unwrap();
        assert_eq!(before.id, after.id, "{job} ran {:?} ago and was not repeated", before.started_at);
    }
    sim.shutdown().await;
}

/// The first events sync stores each SIM's history; the next one adds only what is new.
async fn network_events_are_read_incrementally(db: &TestDb) {
    let sim = simulator().await;
    let syncer = syncer(db, &sim);
    syncer.run(Job::Sims).await.unwrap();
    let outcome = syncer.run(Job::Events).await.unwrap();
    assert_eq!((outcome.status, outcome.items_ok), ("success", FLEET as i64));

    let client = onence::Client::new(onence::ClientConfig::new(
        sim.base_url(),
        onence_sim::DEFAULT_CLIENT_ID,
        onence_sim::DEFAULT_CLIENT_SECRET,
    ))
    .unwrap();
    let record = sim.state().sims().into_iter().find(|r| r.status == SimulatorStatus::Enabled).unwrap();
    let local = db.store.get_sim(&record.iccid_with_luhn).await.unwrap();
    let page = PageRequest { limit: 1000, cursor: None, with_total: true };
    let provider_total = client.list_events(&record.iccid, Some(1), Some(1), None).await.unwrap().total_count.unwrap();
    let stored = db.store.sim_network_events(local.id, page).await.unwrap();
    assert!(provider_total > 0, "the simulator generates a history");
    assert_eq!(stored.total, Some(provider_total as i64), "every event of the SIM is stored once");
    assert!(stored.items.windows(2).all(|w| w[0].occurred_at >= w[1].occurred_at), "newest first");

    // A status change at the provider is one new event; a second run adds exactly that.
    sim.state().set_status(&record.iccid, SimulatorStatus::Disabled);
    syncer.run(Job::Events).await.unwrap();
    let after = db.store.sim_network_events(local.id, page).await.unwrap();
    assert_eq!(after.total, Some(provider_total as i64 + 1));
    assert!(after.items[0].event_type.contains("Disabled"), "{:?}", after.items[0]);
    syncer.run(Job::Events).await.unwrap();
    assert_eq!(db.store.sim_network_events(local.id, page).await.unwrap().total, after.total, "idempotent");
    sim.shutdown().await;
}
