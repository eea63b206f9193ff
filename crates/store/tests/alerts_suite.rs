//! Alert rules, evaluation and the notification queue, on SQLite and PostgreSQL.

use chrono::{Days, TimeDelta};
use simfleet_domain::alerts::Baseline;
use simfleet_domain::{AlertKind, AlertState, Severity, SimStatus};
use simfleet_store::testing::TestDb;
use simfleet_store::*;

const MIB: i64 = 1_048_576;

fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    let check = simfleet_domain::ids::luhn_check_digit(&payload);
    format!("{payload}{check}")
}

fn page(limit: u32) -> PageRequest<'static> {
    PageRequest { limit, cursor: None, with_total: false }
}

async fn active_sim(store: &Store, n: u64, tags: &[&str]) -> Sim {
    let mut new = NewSim::available(iccid(n));
    new.status = SimStatus::Active;
    new.tags = tags.iter().map(|t| t.to_string()).collect();
    store.create_sim(&new, "t").await.unwrap()
}

fn quota(kind: &str, remaining: i64, total: i64) -> Quota {
    Quota {
        kind: kind.into(),
        remaining,
        total: Some(total),
        expiry_date: None,
        last_added: None,
        threshold_percentage: None,
        updated_at: now(),
    }
}

fn usage(day: chrono::NaiveDate, bytes: i64) -> DailyUsage {
    DailyUsage { day, data_rx: bytes / 2, data_tx: bytes - bytes / 2, data_total: bytes, sms_mo: 0, sms_mt: 0 }
}

async fn active_kinds(store: &Store, sim_id: i64) -> Vec<String> {
    let f = AlertFilter { active: true, sim_id: Some(sim_id), ..Default::default() };
    let mut kinds: Vec<String> =
        store.list_alerts(&f, page(100)).await.unwrap().items.into_iter().map(|a| a.kind).collect();
    kinds.sort();
    kinds
}

async fn rules_are_seeded_and_editable(db: &TestDb) {
    let s = &db.store;
    let rules = s.alert_rules().await.unwrap();
    assert_eq!(rules.len(), AlertKind::ALL.len());
    let low = rules.iter().find(|r| r.kind == "data_quota_low").unwrap();
    assert_eq!((low.threshold, low.severity.as_str(), low.enabled), (20, "warning", true));
    // Seeding again (a restart) keeps edits.
    let u = RuleUpdate { threshold: Some(30), severity: Some(Severity::Critical), ..Default::default() };
    s.update_alert_rule(AlertKind::DataQuotaLow, &u, "alice").await.unwrap();
    s.migrate().await.unwrap();
    let r = s.alert_rule(AlertKind::DataQuotaLow).await.unwrap();
    assert_eq!((r.threshold, r.severity.as_str(), r.updated_by.as_deref()), (30, "critical", Some("alice")));
}

async fn quota_alerts_open_refresh_resolve_and_reopen(db: &TestDb) {
    let s = &db.store;
    let low = active_sim(s, 1, &[]).await;
    let fine = active_sim(s, 2, &[]).await;
    let empty = active_sim(s, 3, &[]).await;
    s.upsert_quotas(&[
        (low.id, quota("data", 10 * MIB, 100 * MIB)),
        (fine.id, quota("data", 50 * MIB, 100 * MIB)),
        (empty.id, quota("data", -1, 100 * MIB)),
        (empty.id, quota("sms", 0, 250)),
    ])
    .await
    .unwrap();
    let t0 = now();
    let out = s.evaluate_alerts(t0).await.unwrap();
    assert_eq!((out.opened, out.resolved, out.active), (2, 0, 2));
    assert_eq!(active_kinds(s, low.id).await, vec!["data_quota_low"]);
    assert_eq!(active_kinds(s, fine.id).await, Vec::<String>::new());
    assert_eq!(active_kinds(s, empty.id).await, vec!["quota_exhausted"]);
    let alert =
        &s.list_alerts(&AlertFilter { sim_id: Some(empty.id), ..Default::default() }, page(10)).await.unwrap().items[0];
    assert_eq!(alert.message, "Data and SMS quotas used up");
    assert_eq!(alert.severity, "critical");
    assert_eq!(alert.iccid.as_deref(), Some(low.iccid.as_str()).map(|_| empty.iccid.as_str()));

    // Still true: the same alert, seen again.
    let t1 = t0 + TimeDelta::seconds(60);
    let out = s.evaluate_alerts(t1).await.unwrap();
    assert_eq!((out.opened, out.resolved), (0, 0));
    let again = s.get_alert(alert.id).await.unwrap();
    assert_eq!((again.first_seen, again.last_seen), (t0, t1));

    // Top-up: resolved by the system.
    s.upsert_quotas(&[(low.id, quota("data", 510 * MIB, 510 * MIB))]).await.unwrap();
    let out = s.evaluate_alerts(t1 + TimeDelta::seconds(60)).await.unwrap();
    assert_eq!((out.opened, out.resolved), (0, 1));
    let resolved =
        s.list_alerts(&AlertFilter { sim_id: Some(low.id), ..Default::default() }, page(10)).await.unwrap().items;
    assert_eq!(resolved.len(), 1);
    assert_eq!((resolved[0].state.as_str(), resolved[0].resolved_by.as_deref()), ("resolved", Some("system")));

    // The condition returns: a new alert, the old one stays resolved.
    s.upsert_quotas(&[(low.id, quota("data", 5 * MIB, 510 * MIB))]).await.unwrap();
    let out = s.evaluate_alerts(t1 + TimeDelta::seconds(120)).await.unwrap();
    assert_eq!(out.opened, 1);
    let all = s.list_alerts(&AlertFilter { sim_id: Some(low.id), ..Default::default() }, page(10)).await.unwrap().items;
    assert_eq!(all.iter().map(|a| a.state.as_str()).collect::<Vec<_>>(), vec!["open", "resolved"]);
    assert_ne!(all[0].id, all[1].id);
}

async fn one_open_alert_per_sim_and_kind_is_enforced(db: &TestDb) {
    let s = &db.store;
    let sim = active_sim(s, 1, &[]).await;
    s.upsert_quotas(&[(sim.id, quota("data", 1, 100))]).await.unwrap();
    s.evaluate_alerts(now()).await.unwrap();
    let subject = format!("sim:{}", sim.id);
    let dup = format!(
        "INSERT INTO alerts (kind, subject, sim_id, severity, state, message, first_seen, last_seen) \
         SELECT kind, subject, sim_id, severity, 'acknowledged', message, first_seen, last_seen FROM alerts WHERE subject = '{subject}'"
    );
    assert!(s.execute_raw(&dup).await.is_err(), "a second unresolved alert must be refused by the index");
}

async fn acknowledge_and_resolve_record_the_actor(db: &TestDb) {
    let s = &db.store;
    let sim = active_sim(s, 1, &[]).await;
    s.upsert_quotas(&[(sim.id, quota("data", 0, 100))]).await.unwrap();
    s.evaluate_alerts(now()).await.unwrap();
    let id = s.list_alerts(&AlertFilter::default(), page(10)).await.unwrap().items[0].id;
    let a = s.transition_alert(id, AlertState::Acknowledged, "olga").await.unwrap();
    assert_eq!((a.state.as_str(), a.acknowledged_by.as_deref()), ("acknowledged", Some("olga")));
    assert!(matches!(s.transition_alert(id, AlertState::Acknowledged, "olga").await, Err(StoreError::Rule(_))));
    // An acknowledged alert still counts as the open one: no duplicate on re-evaluation.
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().opened, 0);
    let a = s.transition_alert(id, AlertState::Resolved, "olga").await.unwrap();
    assert_eq!((a.state.as_str(), a.resolved_by.as_deref()), ("resolved", Some("olga")));
    assert!(matches!(s.transition_alert(id, AlertState::Resolved, "olga").await, Err(StoreError::Rule(_))));
    // Still exhausted: a manual resolution is followed by a new alert.
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().opened, 1);
}

async fn scopes_and_mutes(db: &TestDb) {
    let s = &db.store;
    let tagged = active_sim(s, 1, &["fleet-a"]).await;
    let other = active_sim(s, 2, &["fleet-b"]).await;
    s.upsert_quotas(&[(tagged.id, quota("data", 0, 100)), (other.id, quota("data", 0, 100))]).await.unwrap();
    let u = RuleUpdate { scope_tag: Some(Some("fleet-a".into())), ..Default::default() };
    s.update_alert_rule(AlertKind::QuotaExhausted, &u, "t").await.unwrap();
    s.evaluate_alerts(now()).await.unwrap();
    assert_eq!(active_kinds(s, tagged.id).await, vec!["quota_exhausted"]);
    assert!(active_kinds(s, other.id).await.is_empty());

    s.mute_alerts(tagged.id, AlertKind::QuotaExhausted, "t").await.unwrap();
    assert_eq!(s.alert_mutes(tagged.id).await.unwrap()[0].kind, "quota_exhausted");
    let out = s.evaluate_alerts(now()).await.unwrap();
    assert_eq!(out.resolved, 1, "muting clears the alert");
    assert!(active_kinds(s, tagged.id).await.is_empty());
    assert!(s.unmute_alerts(tagged.id, AlertKind::QuotaExhausted).await.unwrap());
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().opened, 1);

    // A disabled rule resolves what it raised.
    let off = RuleUpdate { enabled: Some(false), ..Default::default() };
    s.update_alert_rule(AlertKind::QuotaExhausted, &off, "t").await.unwrap();
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().resolved, 1);
}

async fn offline_forecast_expiry_events_and_jobs(db: &TestDb) {
    let s = &db.store;
    let t = now();
    let today = t.date_naive();
    let gone = active_sim(s, 1, &[]).await;
    let seen = active_sim(s, 2, &[]).await;
    let conn = |hours: i64| Connectivity {
        status: "OFFLINE".into(),
        operator: None,
        country: None,
        rat: None,
        last_seen_at: Some(t - TimeDelta::hours(hours)),
        updated_at: t,
    };
    s.upsert_connectivity(&[(gone.id, conn(49)), (seen.id, conn(47))]).await.unwrap();

    // 10 MiB a day for 14 days; 95 MiB left runs out in 9.5 days: within 14.
    let burner = active_sim(s, 3, &[]).await;
    let slow = active_sim(s, 4, &[]).await;
    let mut rows = Vec::new();
    for d in 0..14 {
        rows.push((burner.id, usage(today - Days::new(d), 10 * MIB)));
        rows.push((slow.id, usage(today - Days::new(d), MIB)));
    }
    s.upsert_usage(&rows).await.unwrap();
    // As the usage sync does after writing: the rollups and the stored anomalies follow.
    s.refresh_usage_rollups(today - Days::new(60)).await.unwrap();
    let mut expiring = quota("data", 95 * MIB, 1000 * MIB);
    expiring.expiry_date = Some(today + Days::new(10));
    s.upsert_quotas(&[(burner.id, expiring), (slow.id, quota("data", 95 * MIB, 1000 * MIB))]).await.unwrap();

    let run = s.start_job_run("usage", "test").await.unwrap();
    s.finish_job_run(run, "failed", 0, 1, &serde_json::json!([])).await.unwrap();

    s.evaluate_alerts(t).await.unwrap();
    assert_eq!(active_kinds(s, gone.id).await, vec!["offline"]);
    assert!(active_kinds(s, seen.id).await.is_empty());
    // 9.5 % left is also below the 20 % rule.
    assert_eq!(active_kinds(s, burner.id).await, vec!["data_quota_low", "forecast_exhaustion", "quota_expiring"]);
    assert_eq!(active_kinds(s, slow.id).await, vec!["data_quota_low"]);
    let jobs = s
        .list_alerts(&AlertFilter { kind: Some(AlertKind::SyncJobFailed), ..Default::default() }, page(10))
        .await
        .unwrap()
        .items;
    assert_eq!((jobs.len(), jobs[0].job.as_deref(), jobs[0].sim_id), (1, Some("usage"), None));

    let at_risk = s.sims_at_risk(today, 30, 10).await.unwrap();
    assert_eq!(at_risk.iter().map(|r| r.sim_id).collect::<Vec<_>>(), vec![burner.id]);
    assert_eq!((at_risk[0].window_used, at_risk[0].window_days), (140 * MIB, 14));

    // A later successful run clears the job alert.
    let run = s.start_job_run("usage", "test").await.unwrap();
    s.finish_job_run(run, "success", 1, 0, &serde_json::json!([])).await.unwrap();
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().resolved, 1);
}

async fn anomalies_match_the_domain_baseline(db: &TestDb) {
    let s = &db.store;
    let t = now();
    let day = t.date_naive() - Days::new(1);
    let mut rows = Vec::new();
    let mut sims = Vec::new();
    for n in 0..12u64 {
        let sim = active_sim(s, 10 + n, &[]).await;
        let mut window = Vec::new();
        for d in 1..=28u64 {
            // Deterministic, uneven daily use; even and odd window lengths.
            if n % 2 == 1 && d > 27 {
                continue;
            }
            let v = ((n as i64 + 1) * 3 * MIB / 2) + ((d as i64 * 7919 * (n as i64 + 3)) % (2 * MIB));
            window.push(v);
            rows.push((sim.id, usage(day - Days::new(d), v)));
        }
        let spike = if n % 3 == 0 { 60 * MIB } else { window[0] };
        rows.push((sim.id, usage(day, spike)));
        sims.push((sim, window, spike));
    }
    s.upsert_usage(&rows).await.unwrap();
    s.refresh_usage_rollups(day - Days::new(40)).await.unwrap();
    let found = s.usage_anomalies(day, 5, 100).await.unwrap();
    for (sim, window, spike) in &sims {
        let b = Baseline::of(window).unwrap();
        let expected = b.is_anomaly(*spike, 5);
        let got = found.iter().find(|a| a.sim_id == sim.id);
        assert_eq!(got.is_some(), expected, "{}", sim.iccid);
        if let Some(a) = got {
            assert_eq!((a.median, a.mad, a.baseline_days), (b.median, b.mad, window.len() as i64));
            assert_eq!(a.threshold, b.threshold(5));
        }
    }
    assert_eq!(found.len(), 4);
    s.evaluate_alerts(t).await.unwrap();
    let raised = s
        .list_alerts(&AlertFilter { kind: Some(AlertKind::UsageAnomaly), ..Default::default() }, page(100))
        .await
        .unwrap();
    assert_eq!(raised.items.len(), 4);

    // The range query lists the same days of `day`, and a stricter k keeps only the larger spikes.
    let ranged = s.usage_anomalies_between(day - Days::new(30), day, 5, 1000).await.unwrap();
    let of_day: Vec<_> = ranged.iter().filter(|a| a.day == day).cloned().collect();
    let by_sim = |v: &[simfleet_store::Anomaly]| {
        let mut ids: Vec<i64> = v.iter().map(|a| a.sim_id).collect();
        ids.sort();
        ids
    };
    assert_eq!(by_sim(&of_day), by_sim(&found));
    assert!(ranged.windows(2).all(|w| w[0].day >= w[1].day), "newest day first");
    let strict = s.usage_anomalies(day, 1000, 100).await.unwrap();
    assert!(strict.len() < found.len());

    // The provider revises a spike away: the next refresh from that day drops the anomaly.
    let (revised, window, _) = sims.iter().find(|(sim, _, _)| found.iter().any(|a| a.sim_id == sim.id)).unwrap();
    s.upsert_usage(&[(revised.id, usage(day, window[0]))]).await.unwrap();
    s.refresh_usage_rollups(day).await.unwrap();
    let after = s.usage_anomalies(day, 5, 100).await.unwrap();
    assert_eq!(after.len(), 3);
    assert!(after.iter().all(|a| a.sim_id != revised.id));
}

/// Usage stored before the anomalies were (the migration leaves a pending backfill) gets
/// them computed at the next start, once.
async fn stored_history_is_backfilled_at_start(db: &TestDb) {
    let s = &db.store;
    let day = now().date_naive() - Days::new(1);
    let sim = active_sim(s, 40, &[]).await;
    let mut rows: Vec<_> =
        (1..=20i64).map(|d| (sim.id, usage(day - Days::new(d as u64), 2 * MIB + d % 3 * 1000))).collect();
    rows.push((sim.id, usage(day, 80 * MIB)));
    // Written without the refresh that follows a sync, as by an older version.
    s.upsert_usage(&rows).await.unwrap();
    assert!(s.usage_anomalies(day, 5, 10).await.unwrap().is_empty());
    s.execute_raw("INSERT INTO pending_backfills (name) VALUES ('usage_anomalies')").await.unwrap();
    s.migrate().await.unwrap();
    let found = s.usage_anomalies(day, 5, 10).await.unwrap();
    assert_eq!(found.iter().map(|a| (a.sim_id, a.baseline_days)).collect::<Vec<_>>(), vec![(sim.id, 20)]);
    s.migrate().await.unwrap();
    assert_eq!(s.usage_anomalies(day, 5, 10).await.unwrap().len(), 1);
}

async fn notifications_are_queued_with_the_alert_and_claimed_once(db: &TestDb) {
    let s = &db.store;
    let input = |name: &str, severities: Vec<&str>, kinds: Vec<&str>| ChannelInput {
        name: name.into(),
        kind: "webhook".into(),
        enabled: true,
        severities: severities.into_iter().map(str::to_owned).collect(),
        kinds: kinds.into_iter().map(str::to_owned).collect(),
        config: serde_json::json!({ "url": "http://127.0.0.1:9/hook" }),
        secret_enc: Some("sealed".into()),
        digest_minutes: None,
    };
    let all = s.create_channel(&input("all", vec![], vec![])).await.unwrap();
    let critical = s.create_channel(&input("critical", vec!["critical"], vec![])).await.unwrap();
    let offline = s.create_channel(&input("offline", vec![], vec!["offline"])).await.unwrap();
    assert_eq!(critical.severity_list(), vec!["critical"]);
    let low = active_sim(s, 1, &[]).await;
    let empty = active_sim(s, 2, &[]).await;
    s.upsert_quotas(&[(low.id, quota("data", 1, 100)), (empty.id, quota("data", 0, 100))]).await.unwrap();
    let out = s.evaluate_alerts(now()).await.unwrap();
    assert_eq!(out.notifications_queued, 3, "all: 2 alerts, critical: 1, offline: 0");
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().notifications_queued, 0, "only new alerts notify");

    let claimed = s.claim_notifications(100, TimeDelta::minutes(5)).await.unwrap();
    assert_eq!(claimed.len(), 3);
    assert!(s.claim_notifications(100, TimeDelta::minutes(5)).await.unwrap().is_empty(), "claimed rows are leased");
    let (to_all, rest): (Vec<_>, Vec<_>) = claimed.iter().partition(|n| n.channel_id == all.id);
    s.complete_notifications(&to_all.iter().map(|n| n.id).collect::<Vec<_>>(), all.id, None).await.unwrap();
    s.retry_notifications(&[rest[0].id], "HTTP 500", now() - TimeDelta::seconds(1), false).await.unwrap();
    let again = s.claim_notifications(100, TimeDelta::minutes(5)).await.unwrap();
    assert_eq!((again.len(), again[0].attempts), (1, 2));
    let log = s.channel_deliveries(all.id, page(10)).await.unwrap().items;
    assert_eq!(log.iter().map(|d| d.status.as_str()).collect::<Vec<_>>(), vec!["delivered", "delivered"]);
    assert!(s.channel_deliveries(offline.id, page(10)).await.unwrap().items.is_empty());
    assert!(s.delete_channel(critical.id).await.unwrap());
    assert!(matches!(s.channel(critical.id).await, Err(StoreError::NotFound(_))));
}

fn sms(id: i64, direction: &str, submitted: chrono::DateTime<chrono::Utc>) -> ProviderSms {
    ProviderSms {
        provider_id: id,
        direction: direction.into(),
        status: "DELIVERED".into(),
        payload: Some(format!("message {id}")),
        udh: None,
        dcs: None,
        source_address: None,
        submitted_at: Some(submitted),
        delivered_at: Some(submitted),
        expires_at: None,
    }
}

async fn mo_sms_raises_sms_received_only_when_enabled(db: &TestDb) {
    let s = &db.store;
    let rule = s.alert_rule(AlertKind::SmsReceived).await.unwrap();
    assert!(!rule.enabled, "off by default");
    assert_eq!((rule.severity.as_str(), rule.threshold), ("info", 24));
    let device = active_sim(s, 1, &[]).await;
    let quiet = active_sim(s, 2, &[]).await;
    let t0 = now();
    // The sms sync mirrors an MO message from `device` and an MT one to `quiet`.
    s.replace_sim_sms(&[(device.id, vec![sms(1, "MO", t0 - TimeDelta::hours(1))]), (quiet.id, vec![sms(2, "MT", t0)])])
        .await
        .unwrap();
    s.evaluate_alerts(t0).await.unwrap();
    assert!(active_kinds(s, device.id).await.is_empty(), "a disabled rule raises nothing");

    let on = RuleUpdate { enabled: Some(true), ..Default::default() };
    s.update_alert_rule(AlertKind::SmsReceived, &on, "alice").await.unwrap();
    let out = s.evaluate_alerts(t0).await.unwrap();
    assert_eq!(out.opened, 1, "{out:?}");
    assert_eq!(active_kinds(s, device.id).await, vec!["sms_received"]);
    assert!(active_kinds(s, quiet.id).await.is_empty(), "MT messages do not count");
    let f = AlertFilter { kind: Some(AlertKind::SmsReceived), ..Default::default() };
    let alert = s.list_alerts(&f, page(10)).await.unwrap().items.remove(0);
    assert_eq!(alert.severity, "info");
    assert!(alert.message.starts_with("1 SMS received"), "{}", alert.message);

    // Older than the window: the alert resolves itself.
    let out = s.evaluate_alerts(t0 + TimeDelta::hours(25)).await.unwrap();
    assert_eq!(out.resolved, 1, "{out:?}");
    assert!(active_kinds(s, device.id).await.is_empty());

    // Turned off again, a new MO message raises nothing.
    s.replace_sim_sms(&[(device.id, vec![sms(3, "MO", t0)])]).await.unwrap();
    let off = RuleUpdate { enabled: Some(false), ..Default::default() };
    s.update_alert_rule(AlertKind::SmsReceived, &off, "alice").await.unwrap();
    assert_eq!(s.evaluate_alerts(t0).await.unwrap().opened, 0);
    assert!(active_kinds(s, device.id).await.is_empty());
}

/// The SMS quota rule on its own: below the threshold opens one alert with the count left, a
/// top-up above it resolves the alert at the next evaluation, and the threshold is the rule's.
async fn sms_quota_low_opens_below_the_threshold_and_a_top_up_resolves_it(db: &TestDb) {
    let s = &db.store;
    let rule = s.alert_rule(AlertKind::SmsQuotaLow).await.unwrap();
    assert_eq!((rule.enabled, rule.threshold, rule.severity.as_str()), (true, 20, "warning"));
    let low = active_sim(s, 1, &[]).await;
    let edge = active_sim(s, 2, &[]).await;
    let plenty = active_sim(s, 3, &[]).await;
    let sms_only = |remaining, total| quota("sms", remaining, total);
    // 25 of 250 left is 10 %; exactly 20 % is not below 20 %; 60 % is fine.
    s.upsert_quotas(&[(low.id, sms_only(25, 250)), (edge.id, sms_only(50, 250)), (plenty.id, sms_only(150, 250))])
        .await
        .unwrap();
    let t0 = now();
    let out = s.evaluate_alerts(t0).await.unwrap();
    assert_eq!((out.opened, out.resolved), (1, 0), "{out:?}");
    assert_eq!(active_kinds(s, low.id).await, vec!["sms_quota_low"]);
    assert!(active_kinds(s, edge.id).await.is_empty(), "exactly at the threshold is not below it");
    assert!(active_kinds(s, plenty.id).await.is_empty());
    let f = AlertFilter { kind: Some(AlertKind::SmsQuotaLow), ..Default::default() };
    let alert = s.list_alerts(&f, page(10)).await.unwrap().items.remove(0);
    assert_eq!((alert.severity.as_str(), alert.state.as_str()), ("warning", "open"));
    assert_eq!(alert.iccid.as_deref(), Some(low.iccid.as_str()));
    assert_eq!(alert.message, "SMS quota at 10 % (25 left)");

    // Still low on the next run: the same alert, its message following the count.
    s.upsert_quotas(&[(low.id, sms_only(20, 250))]).await.unwrap();
    let out = s.evaluate_alerts(t0 + TimeDelta::seconds(60)).await.unwrap();
    assert_eq!((out.opened, out.resolved), (0, 0), "{out:?}");
    let again = s.get_alert(alert.id).await.unwrap();
    assert_eq!((again.state.as_str(), again.message.as_str()), ("open", "SMS quota at 8 % (20 left)"));
    assert_eq!(s.list_alerts(&f, page(10)).await.unwrap().items.len(), 1, "no duplicate");

    // A top-up to 270 of 500 (54 %) resolves it at the next evaluation, by the system.
    s.upsert_quotas(&[(low.id, sms_only(270, 500))]).await.unwrap();
    let out = s.evaluate_alerts(t0 + TimeDelta::seconds(120)).await.unwrap();
    assert_eq!((out.opened, out.resolved), (0, 1), "{out:?}");
    let resolved = s.get_alert(alert.id).await.unwrap();
    assert_eq!((resolved.state.as_str(), resolved.resolved_by.as_deref()), ("resolved", Some("system")));
    assert!(active_kinds(s, low.id).await.is_empty());
    // An SMS quota is not a data quota: the data rules stay quiet throughout.
    assert!(s
        .list_alerts(&AlertFilter::default(), page(10))
        .await
        .unwrap()
        .items
        .iter()
        .all(|a| a.kind == "sms_quota_low"));

    // A stricter rule (below 30 %) catches the SIM that sat exactly at 20 %.
    let u = RuleUpdate { threshold: Some(30), ..Default::default() };
    s.update_alert_rule(AlertKind::SmsQuotaLow, &u, "alice").await.unwrap();
    assert_eq!(s.evaluate_alerts(now()).await.unwrap().opened, 1);
    assert_eq!(active_kinds(s, edge.id).await, vec!["sms_quota_low"]);
    assert!(active_kinds(s, low.id).await.is_empty() && active_kinds(s, plenty.id).await.is_empty());
}

simfleet_store::backend_tests!(
    rules_are_seeded_and_editable,
    quota_alerts_open_refresh_resolve_and_reopen,
    one_open_alert_per_sim_and_kind_is_enforced,
    acknowledge_and_resolve_record_the_actor,
    scopes_and_mutes,
    offline_forecast_expiry_events_and_jobs,
    anomalies_match_the_domain_baseline,
    stored_history_is_backfilled_at_start,
    notifications_are_queued_with_the_alert_and_claimed_once,
    mo_sms_raises_sms_received_only_when_enabled,
    sms_quota_low_opens_below_the_threshold_and_a_top_up_resolves_it,
);
