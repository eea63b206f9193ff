//! The sync jobs against the 1NCE simulator, on SQLite and PostgreSQL.

use chrono::NaiveDate;
use onence_sim::{SimConfig, SimHandle, SimStatus as SimulatorStatus};
use simfleet_domain::{Provider, SimStatus};
use simfleet_store::testing::TestDb;
use simfleet_store::{PageRequest, SimFilter};
use simfleet_sync::{Job, SyncConfig, Syncer};

const FLEET: usize = 300;

async fn simulator() -> SimHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    onence_sim::spawn(SimConfig::new(FLEET, 7), listener).await.unwrap()
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
    let sim = simulator().await;
    let syncer = syncer(db, &sim);
    for job in Job::ALL {
        let outcome = syncer.run(job).await.unwrap();
        assert_eq!(outcome.status, "success", "{job:?}: {outcome:?}");
    }
    let state = sim.state();
    let records = state.sims();
    let store = &db.store;
    let filter = SimFilter { provider: Some(Provider::OneNce), ..Default::default() };
    assert_eq!(store.count_sims(&filter).await.unwrap(), FLEET as i64);

    let today = state.today();
    let from = today - chrono::Days::new(200);
    for r in &records {
        let local = store.get_sim(&r.iccid_with_luhn).await.unwrap();
        assert_eq!(local.msisdn.as_deref(), Some(r.msisdn.as_str()));
        assert_eq!(local.imsi.as_deref(), Some(r.imsi.as_str()));
        let expected = if r.status == SimulatorStatus::Enabled { SimStatus::Active } else { SimStatus::Suspended };
        assert_eq!(local.status, expected, "{}", r.iccid);

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
        assert!(
            (data.remaining - view.remaining.signum() * bytes(view.remaining.unsigned_abs())).abs() <= 1,
            "{}",
            r.iccid
        );
        assert!(store.sim_connectivity(local.id).await.unwrap().is_some());
    }
    let runs = store.list_job_runs(None, PageRequest { limit: 10, cursor: None, with_total: false }).await.unwrap();
    assert_eq!(runs.items.len(), Job::ALL.len());
    assert!(runs.items.iter().all(|r| r.status == "success" && r.finished_at.is_some()));
    sim.shutdown().await;
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
    assert!(
        (data.remaining - view.remaining.signum() * bytes(view.remaining.unsigned_abs())).abs() <= 1,
        "top-up reached the store"
    );
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
