//! The store's behaviour, run against SQLite and PostgreSQL alike.

use simfleet_domain::{Action, EventKind, Money, Provider, Role, SimStatus, SimType};
use simfleet_store::testing::TestDb;
use simfleet_store::*;
use std::time::Duration;

fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    let check = simfleet_domain::ids::luhn_check_digit(&payload);
    format!("{payload}{check}")
}

fn page(limit: u32) -> PageRequest<'static> {
    PageRequest { limit, cursor: None, with_total: false }
}

async fn customer(store: &Store, name: &str) -> Customer {
    store.create_customer(&CustomerInput { name: name.into(), email: None, phone: None }).await.unwrap()
}

async fn create_read_update(db: &TestDb) {
    let s = &db.store;
    let mut new = NewSim::available(iccid(1));
    new.msisdn = Some("491511234567".into());
    new.tags = vec!["b".into(), " a ".into(), "b".into()];
    new.pin_enc = Some("sealed".into());
    let sim = s.create_sim(&new, "alice").await.unwrap();
    assert_eq!(sim.status, SimStatus::Available);
    assert_eq!(sim.tags, vec!["a", "b"]);
    assert_eq!(sim.pin_enc.as_deref(), Some("sealed"));

    let patch =
        SimPatch { label: Some(Some("Truck 7".into())), tags: Some(vec!["fleet".into()]), ..Default::default() };
    let sim = s.update_sim(&sim.iccid, &patch, "alice").await.unwrap();
    assert_eq!(sim.label.as_deref(), Some("Truck 7"));
    assert_eq!(sim.tags, vec!["fleet"]);
    assert!(sim.updated_at >= sim.created_at);

    let events = s.sim_events(&sim.iccid, page(10)).await.unwrap().items;
    let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, vec!["UPDATED", "CREATED"]);
    assert_eq!(events[0].actor, "alice");
    assert!(events[0].note.as_deref().unwrap().contains("label"));
}

async fn duplicates_conflict_on_the_right_field(db: &TestDb) {
    let s = &db.store;
    let mut a = NewSim::available(iccid(1));
    a.msisdn = Some("491510000001".into());
    s.create_sim(&a, "t").await.unwrap();
    match s.create_sim(&NewSim::available(iccid(1)), "t").await {
        Err(StoreError::Conflict { field: Some("iccid"), .. }) => {}
        other => panic!("expected iccid conflict, got {other:?}"),
    }
    let mut b = NewSim::available(iccid(2));
    b.msisdn = a.msisdn.clone();
    match s.create_sim(&b, "t").await {
        Err(StoreError::Conflict { field: Some("msisdn"), .. }) => {}
        other => panic!("expected msisdn conflict, got {other:?}"),
    }
    // Nothing of the failed creation is left behind.
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 1);
}

async fn lifecycle_and_events(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "ACME").await;
    let sim = s.create_sim(&NewSim::available(iccid(3)), "t").await.unwrap();

    let err = s.apply_action(&sim.iccid, &ActionRequest::new(Action::Suspend, "t")).await.unwrap_err();
    match err {
        StoreError::Rule(RuleViolation::Transition(e)) => {
            assert_eq!(e.current, SimStatus::Available);
            assert_eq!(e.allowed, vec![Action::Reserve, Action::ReportLost, Action::Terminate]);
        }
        other => panic!("expected transition error, got {other:?}"),
    }
    let err = s.apply_action(&sim.iccid, &ActionRequest::new(Action::Reserve, "t")).await.unwrap_err();
    assert!(matches!(err, StoreError::Rule(RuleViolation::Precondition { field: Some("customer_id"), .. })), "{err:?}");

    let mut reserve = ActionRequest::new(Action::Reserve, "op");
    reserve.customer_id = Some(c.id);
    let sim = s.apply_action(&sim.iccid, &reserve).await.unwrap();
    assert_eq!((sim.status, sim.customer_id), (SimStatus::Reserved, Some(c.id)));

    let sim = s.apply_action(&sim.iccid, &ActionRequest::new(Action::Activate, "op")).await.unwrap();
    assert_eq!(sim.status, SimStatus::Active);
    let mut suspend = ActionRequest::new(Action::Suspend, "op");
    suspend.note = Some("unpaid".into());
    let sim = s.apply_action(&sim.iccid, &suspend).await.unwrap();
    assert_eq!(sim.status, SimStatus::Suspended);
    let sim = s.apply_action(&sim.iccid, &ActionRequest::new(Action::Activate, "op")).await.unwrap();
    let sim = s.apply_action(&sim.iccid, &ActionRequest::new(Action::ReportLost, "op")).await.unwrap();
    assert_eq!(sim.status, SimStatus::LostStolen);
    let sim = s.apply_action(&sim.iccid, &ActionRequest::new(Action::Terminate, "op")).await.unwrap();
    assert_eq!(sim.status, SimStatus::Terminated);
    assert!(s.apply_action(&sim.iccid, &ActionRequest::new(Action::Terminate, "op")).await.is_err());

    let events = s.sim_events(&sim.iccid, page(100)).await.unwrap().items;
    let trail: Vec<_> = events
        .iter()
        .rev()
        .map(|e| (e.kind.as_str(), e.old_status.as_deref().unwrap_or("-"), e.new_status.as_deref().unwrap_or("-")))
        .collect();
    assert_eq!(
        trail,
        vec![
            ("CREATED", "-", "AVAILABLE"),
            ("RESERVED", "AVAILABLE", "RESERVED"),
            ("ACTIVATED", "RESERVED", "ACTIVE"),
            ("SUSPENDED", "ACTIVE", "SUSPENDED"),
            ("ACTIVATED", "SUSPENDED", "ACTIVE"),
            ("REPORTED_LOST", "ACTIVE", "LOST_STOLEN"),
            ("TERMINATED", "LOST_STOLEN", "TERMINATED"),
        ]
    );
    assert_eq!(events.iter().find(|e| e.kind == "SUSPENDED").unwrap().note.as_deref(), Some("unpaid"));
}

async fn activation_codes_are_single_use(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "ACME").await;
    let code =
        |code: &str, status, expires_at| ActivationCodeInput { code: code.into(), status, expires_at, sim_id: None };
    s.create_activation_code(&code("GOOD", CodeStatus::Unused, None)).await.unwrap();
    s.create_activation_code(&code("OLD", CodeStatus::Unused, Some(now() - chrono::TimeDelta::days(1)))).await.unwrap();
    s.create_activation_code(&code("SPENT", CodeStatus::Used, None)).await.unwrap();

    let mut reserved = Vec::new();
    for n in 10..12 {
        let sim = s.create_sim(&NewSim::available(iccid(n)), "t").await.unwrap();
        let mut r = ActionRequest::new(Action::Reserve, "t");
        r.customer_id = Some(c.id);
        reserved.push(s.apply_action(&sim.iccid, &r).await.unwrap());
    }
    for (code, message) in [("OLD", "expired"), ("SPENT", "already been used"), ("NOPE", "unknown")] {
        let mut a = ActionRequest::new(Action::Activate, "t");
        a.activation_code = Some(code);
        match s.apply_action(&reserved[0].iccid, &a).await {
            Err(StoreError::Rule(RuleViolation::Precondition { field: Some("activation_code"), message: m })) => {
                assert!(m.contains(message), "{m}")
            }
            other => panic!("{code}: {other:?}"),
        }
    }
    // Failed activations changed nothing.
    assert_eq!(s.get_sim(&reserved[0].iccid).await.unwrap().status, SimStatus::Reserved);

    let mut a = ActionRequest::new(Action::Activate, "t");
    a.activation_code = Some("GOOD");
    let sim = s.apply_action(&reserved[0].iccid, &a).await.unwrap();
    assert_eq!(sim.activation_code.as_deref(), Some("GOOD"));
    assert!(s.apply_action(&reserved[1].iccid, &a).await.is_err(), "a code works once");
    let codes = s.list_activation_codes(Some(CodeStatus::Expired), page(10)).await.unwrap().items;
    assert_eq!(codes.iter().map(|c| c.code.as_str()).collect::<Vec<_>>(), vec!["OLD"]);
    let used = s.list_activation_codes(Some(CodeStatus::Used), page(10)).await.unwrap().items;
    assert_eq!(used.iter().find(|c| c.code == "GOOD").unwrap().iccid.as_deref(), Some(reserved[0].iccid.as_str()));
    // A code linked to a SIM cannot be deleted.
    let good = used.iter().find(|c| c.code == "GOOD").unwrap();
    assert!(matches!(s.delete_activation_code(good.id).await, Err(StoreError::Conflict { .. })));
}

/// A SIM shows its newest linked code whichever way the codes change: linked at creation,
/// renamed, moved to another SIM, unlinked, consumed by an activation.
async fn a_sims_activation_code_follows_its_codes(db: &TestDb) {
    let s = &db.store;
    let a = s.create_sim(&NewSim::available(iccid(20)), "t").await.unwrap();
    let b = s.create_sim(&NewSim::available(iccid(21)), "t").await.unwrap();
    let code = |code: &str, sim_id| ActivationCodeInput {
        code: code.into(),
        status: CodeStatus::Unused,
        expires_at: None,
        sim_id,
    };
    let shown = |iccid: String| async move {
        let one = s.get_sim(&iccid).await.unwrap().activation_code;
        let filter = SimFilter { q: Some(iccid.clone()), ..Default::default() };
        let listed = s.list_sims(&filter, SimSort::default(), page(10)).await.unwrap();
        assert_eq!(listed.items[0].activation_code, one, "list and get agree");
        one
    };
    assert_eq!(shown(a.iccid.clone()).await, None);

    let first = s.create_activation_code(&code("FIRST", Some(a.id))).await.unwrap();
    assert_eq!(shown(a.iccid.clone()).await.as_deref(), Some("FIRST"));
    let second = s.create_activation_code(&code("SECOND", Some(a.id))).await.unwrap();
    assert_eq!(shown(a.iccid.clone()).await.as_deref(), Some("SECOND"), "the newest code wins");

    s.update_activation_code(second.id, &code("RENAMED", Some(a.id))).await.unwrap();
    assert_eq!(shown(a.iccid.clone()).await.as_deref(), Some("RENAMED"));
    s.update_activation_code(second.id, &code("RENAMED", Some(b.id))).await.unwrap();
    assert_eq!(shown(a.iccid.clone()).await.as_deref(), Some("FIRST"), "the older code shows again");
    assert_eq!(shown(b.iccid.clone()).await.as_deref(), Some("RENAMED"));
    s.update_activation_code(first.id, &code("FIRST", None)).await.unwrap();
    assert_eq!(shown(a.iccid.clone()).await, None);
    s.delete_activation_code(first.id).await.unwrap();

    let c = customer(s, "ACME").await;
    s.create_activation_code(&code("WELCOME", None)).await.unwrap();
    let mut reserve = ActionRequest::new(Action::Reserve, "t");
    reserve.customer_id = Some(c.id);
    s.apply_action(&a.iccid, &reserve).await.unwrap();
    let mut activate = ActionRequest::new(Action::Activate, "t");
    activate.activation_code = Some("WELCOME");
    assert_eq!(s.apply_action(&a.iccid, &activate).await.unwrap().activation_code.as_deref(), Some("WELCOME"));
    assert_eq!(shown(a.iccid.clone()).await.as_deref(), Some("WELCOME"));
    assert_eq!(shown(b.iccid.clone()).await.as_deref(), Some("RENAMED"));
}

async fn swap_moves_service_atomically(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "ACME").await;
    let plan = s
        .create_tariff_plan(&TariffPlanInput {
            name: "IoT 500".into(),
            monthly_price: Money::parse("1.99").unwrap(),
            currency: "EUR".into(),
            plan_type: SimType::DataOnly,
            description: None,
        })
        .await
        .unwrap();
    let mut old = NewSim::available(iccid(20));
    old.msisdn = Some("491519999999".into());
    let old = s.create_sim(&old, "t").await.unwrap();
    let mut r = ActionRequest::new(Action::Reserve, "t");
    r.customer_id = Some(c.id);
    r.tariff_plan_id = Some(plan.id);
    s.apply_action(&old.iccid, &r).await.unwrap();
    s.apply_action(&old.iccid, &ActionRequest::new(Action::Activate, "t")).await.unwrap();
    let new = s.create_sim(&NewSim::available(iccid(21)), "t").await.unwrap();
    let busy = s.create_sim(&NewSim::available(iccid(22)), "t").await.unwrap();
    s.apply_action(&busy.iccid, &ActionRequest::new(Action::ReportLost, "t")).await.unwrap();

    // The new card must be AVAILABLE: nothing changes otherwise.
    let err = s.swap_sim(&old.iccid, &busy.iccid, None, "t").await.unwrap_err();
    assert!(matches!(err, StoreError::Rule(RuleViolation::Precondition { field: Some("new_iccid"), .. })));
    assert_eq!(s.get_sim(&old.iccid).await.unwrap().status, SimStatus::Active);

    let (o, n) = s.swap_sim(&old.iccid, &new.iccid, Some("broken modem"), "op").await.unwrap();
    assert_eq!((o.status, o.msisdn.as_deref()), (SimStatus::Terminated, None));
    assert_eq!(n.status, SimStatus::Active);
    assert_eq!(n.msisdn.as_deref(), Some("491519999999"));
    assert_eq!((n.customer_id, n.tariff_plan_id), (Some(c.id), Some(plan.id)));
    let ev = &s.sim_events(&n.iccid, page(1)).await.unwrap().items[0];
    assert_eq!(ev.kind, "SWAPPED");
    assert!(ev.note.as_deref().unwrap().contains(&old.iccid));
}

async fn keyset_pagination_filters_and_search(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "ACME").await;
    let sims: Vec<NewSim> = (0..250)
        .map(|n| {
            let mut sim = NewSim::available(iccid(1000 + n));
            sim.status = if n % 5 == 0 { SimStatus::Active } else { SimStatus::Available };
            sim.msisdn = Some(format!("4915{n:08}"));
            sim.label = Some(format!("Sensor {n:03}"));
            sim.tags = if n % 2 == 0 { vec!["even".into()] } else { vec![] };
            sim.customer_id = (n % 10 == 0).then_some(c.id);
            sim.provider = if n < 100 { Provider::OneNce } else { Provider::None };
            sim
        })
        .collect();
    assert_eq!(s.create_sims_bulk(&sims, EventKind::Created, None, "seed").await.unwrap(), 250);

    // Walk all ACTIVE SIMs 7 at a time: every one exactly once, in ICCID order.
    let filter = SimFilter { statuses: vec![SimStatus::Active], ..Default::default() };
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = s
            .list_sims(
                &filter,
                SimSort::default(),
                PageRequest { limit: 7, cursor: cursor.as_deref(), with_total: true },
            )
            .await
            .unwrap();
        assert_eq!(p.total, Some(50));
        seen.extend(p.items.into_iter().map(|x| x.iccid));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    let mut expected: Vec<String> =
        sims.iter().filter(|x| x.status == SimStatus::Active).map(|x| x.iccid.clone()).collect();
    expected.sort();
    assert_eq!(seen, expected);

    // Descending by creation time, across pages, still complete.
    let sort = SimSort::parse("-created_at").unwrap();
    let mut all = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let p = s
            .list_sims(
                &SimFilter::default(),
                sort,
                PageRequest { limit: 100, cursor: cursor.as_deref(), with_total: false },
            )
            .await
            .unwrap();
        all.extend(p.items.into_iter().map(|x| x.id));
        match p.next_cursor {
            Some(c) => cursor = Some(c),
            None => break,
        }
    }
    assert_eq!(all.len(), 250);
    let mut sorted = all.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(all, sorted, "same timestamp, so ids decide, descending");

    let count = |f: SimFilter| async move { s.count_sims(&f).await.unwrap() };
    assert_eq!(count(SimFilter { tag: Some("even".into()), ..Default::default() }).await, 125);
    assert_eq!(count(SimFilter { customer_id: Some(c.id), ..Default::default() }).await, 25);
    assert_eq!(count(SimFilter { provider: Some(Provider::OneNce), ..Default::default() }).await, 100);
    assert_eq!(count(SimFilter { q: Some("sensor 01".into()), ..Default::default() }).await, 10);
    assert_eq!(count(SimFilter { q: Some("+49150000012".into()), ..Default::default() }).await, 10);
    assert_eq!(count(SimFilter { q: Some(iccid(1042)), ..Default::default() }).await, 1);
    assert_eq!(count(SimFilter { q: Some("%".into()), ..Default::default() }).await, 0);

    assert!(matches!(
        s.list_sims(&filter, SimSort::default(), PageRequest { limit: 5, cursor: Some("garbage"), with_total: false })
            .await,
        Err(StoreError::Rule(RuleViolation::Precondition { field: Some("cursor"), .. }))
    ));
}

/// A search matches the ICCID, MSISDN, IMSI and label prefixes; walking its pages must show
/// each matching SIM once, in list order, whichever column (or columns) it matched on.
async fn search_walks_every_matching_column_once(db: &TestDb) {
    let s = &db.store;
    let prefix = "898800000000009"; // the ICCIDs of SIMs 9000..=9999
    let mut sims = Vec::new();
    for k in 0..40u64 {
        let mut sim = NewSim::available(iccid(20_000 + k));
        match k % 5 {
            0 => sim.iccid = iccid(9000 + k),
            1 => sim.msisdn = Some(format!("{prefix}{k:02}")),
            2 => sim.imsi = Some(format!("{prefix}{k}")),
            3 => sim.label = Some(format!("{prefix} box {k}")),
            _ => {
                // Matches twice: by ICCID and by IMSI.
                sim.iccid = iccid(9500 + k);
                sim.imsi = Some(format!("{prefix}{k}"));
            }
        }
        sim.status = if k % 3 == 0 { SimStatus::Active } else { SimStatus::Available };
        sims.push(sim);
    }
    for k in 0..20u64 {
        let mut other = NewSim::available(iccid(30_000 + k));
        other.imsi = Some(format!("90140{k:010}"));
        other.label = Some(format!("Sensor {k}"));
        sims.push(other);
    }
    s.create_sims_bulk(&sims, EventKind::Created, None, "seed").await.unwrap();

    let walk = |filter: SimFilter, sort: SimSort| async move {
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let p = s
                .list_sims(&filter, sort, PageRequest { limit: 3, cursor: cursor.as_deref(), with_total: false })
                .await
                .unwrap();
            seen.extend(p.items.into_iter().map(|x| (x.id, x.iccid)));
            match p.next_cursor {
                Some(c) => cursor = Some(c),
                None => break seen,
            }
        }
    };
    let search = SimFilter { q: Some(prefix.into()), ..Default::default() };
    let by_iccid = walk(search.clone(), SimSort::default()).await;
    let mut expected: Vec<String> = sims[..40].iter().map(|x| x.iccid.clone()).collect();
    expected.sort();
    assert_eq!(by_iccid.iter().map(|(_, i)| i.clone()).collect::<Vec<_>>(), expected);
    assert_eq!(s.count_sims(&search).await.unwrap(), 40);
    let with_total = PageRequest { limit: 3, cursor: None, with_total: true };
    assert_eq!(s.list_sims(&search, SimSort::default(), with_total).await.unwrap().total, Some(40));

    let newest_first = walk(search.clone(), SimSort::parse("-created_at").unwrap()).await;
    let ids: Vec<i64> = newest_first.iter().map(|(id, _)| *id).collect();
    let mut descending = ids.clone();
    descending.sort_by(|a, b| b.cmp(a));
    descending.dedup();
    assert_eq!(ids, descending, "each SIM once, newest first");
    assert_eq!(ids.len(), 40);

    let active = SimFilter { statuses: vec![SimStatus::Active], ..search };
    let found = walk(active.clone(), SimSort::default()).await;
    let mut expected: Vec<String> =
        sims[..40].iter().filter(|x| x.status == SimStatus::Active).map(|x| x.iccid.clone()).collect();
    expected.sort();
    assert_eq!(found.into_iter().map(|(_, i)| i).collect::<Vec<_>>(), expected);
    assert_eq!(s.count_sims(&active).await.unwrap(), 14);

    let msisdn = SimFilter { q: Some(format!("+{prefix}06")), ..Default::default() };
    let found = walk(msisdn, SimSort::default()).await;
    assert_eq!(found.into_iter().map(|(_, i)| i).collect::<Vec<_>>(), vec![sims[6].iccid.clone()]);
    let label = SimFilter { q: Some("SENSOR 1".into()), ..Default::default() };
    assert_eq!(walk(label, SimSort::default()).await.len(), 11, "Sensor 1 and Sensor 10..=19");
    let nothing = SimFilter { q: Some("77777".into()), ..Default::default() };
    assert!(walk(nothing.clone(), SimSort::default()).await.is_empty());
    assert_eq!(s.count_sims(&nothing).await.unwrap(), 0);
    assert_eq!(s.list_sims(&nothing, SimSort::default(), with_total).await.unwrap().total, Some(0));
}

/// Tags are free text: characters that PostgreSQL's array and COPY syntax treat specially
/// must come back as written, whether the SIM was created alone, in bulk, patched or tagged.
async fn tags_keep_every_character_on_every_write_path(db: &TestDb) {
    let s = &db.store;
    let odd: Vec<String> = ["a,b", "{x}", "say \"hi\"", "back\\slash", "NULL", "tab\there", "line\nbreak", "ünï €"]
        .into_iter()
        .map(String::from)
        .collect();
    let mut sorted = odd.clone();
    sorted.sort();

    let mut one = NewSim::available(iccid(41));
    one.tags = odd.clone();
    assert_eq!(s.create_sim(&one, "t").await.unwrap().tags, sorted);
    let bulk: Vec<NewSim> = (42..45u64)
        .map(|n| {
            let mut sim = NewSim::available(iccid(n));
            sim.tags = odd.iter().rev().cloned().chain(["  NULL ".to_string()]).collect();
            sim
        })
        .collect();
    s.create_sims_bulk(&bulk, EventKind::Created, None, "t").await.unwrap();
    for sim in &bulk {
        assert_eq!(s.get_sim(&sim.iccid).await.unwrap().tags, sorted, "bulk insert of {}", sim.iccid);
    }

    let tagged = |tag: &str| SimFilter { tag: Some(tag.into()), ..Default::default() };
    let page = PageRequest { limit: 10, cursor: None, with_total: true };
    for tag in &odd {
        let found = s.list_sims(&tagged(tag), SimSort::default(), page).await.unwrap();
        assert_eq!(found.total, Some(4), "tag {tag:?}");
        assert!(found.items.iter().all(|x| x.tags == sorted));
    }
    assert_eq!(s.list_sims(&tagged("a"), SimSort::default(), page).await.unwrap().total, Some(0));

    let patch = SimPatch { tags: Some(vec!["{}".into(), "\"".into()]), ..Default::default() };
    let patched = s.update_sim(&iccid(42), &patch, "t").await.unwrap();
    assert_eq!(patched.tags, vec!["\"".to_string(), "{}".to_string()]);
    assert_eq!(s.add_tag_to_sims(&[iccid(42), iccid(43)], "{}", "t").await.unwrap(), 1);
    let mut with_braces = sorted.clone();
    with_braces.push("{}".into());
    with_braces.sort();
    assert_eq!(s.get_sim(&iccid(43)).await.unwrap().tags, with_braces);
    assert_eq!(s.get_sim(&iccid(42)).await.unwrap().tags, patched.tags, "adding a tag it has changes nothing");
    assert_eq!(s.list_sims(&tagged("{}"), SimSort::default(), page).await.unwrap().total, Some(2));
}

async fn bulk_update_is_all_or_nothing(db: &TestDb) {
    let s = &db.store;
    let a = s.create_sim(&NewSim::available(iccid(31)), "t").await.unwrap();
    let b = s.create_sim(&NewSim::available(iccid(32)), "t").await.unwrap();
    let patch = SimPatch { tags: Some(vec!["batch-7".into()]), ..Default::default() };
    let err = s.bulk_update_sims(&[a.iccid.clone(), iccid(99)], &patch, "t").await.unwrap_err();
    assert!(err.to_string().contains(&iccid(99)), "{err}");
    assert!(s.get_sim(&a.iccid).await.unwrap().tags.is_empty());
    assert_eq!(s.bulk_update_sims(&[a.iccid.clone(), b.iccid.clone()], &patch, "t").await.unwrap(), 2);
    assert_eq!(s.get_sim(&b.iccid).await.unwrap().tags, vec!["batch-7"]);
}

async fn references_block_deletion(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "ACME").await;
    let mut sim = NewSim::available(iccid(40));
    sim.customer_id = Some(c.id);
    s.create_sim(&sim, "t").await.unwrap();
    assert!(matches!(s.delete_customer(c.id).await, Err(StoreError::Conflict { .. })));
    let other = customer(s, "Empty Inc").await;
    s.delete_customer(other.id).await.unwrap();
    assert!(matches!(s.get_customer(other.id).await, Err(StoreError::NotFound(_))));
    let found = s.list_customers(Some("acm"), page(10)).await.unwrap().items;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].sim_count, 1);
}

async fn users_tokens_and_keys(db: &TestDb) {
    let s = &db.store;
    let u = s.create_user("ops", "hash", Role::Operator).await.unwrap();
    assert!(matches!(
        s.create_user("ops", "hash", Role::Viewer).await,
        Err(StoreError::Conflict { field: Some("username"), .. })
    ));
    s.create_login_token(u.id, "tokhash", now() + chrono::TimeDelta::hours(1)).await.unwrap();
    s.create_login_token(u.id, "stale", now() - chrono::TimeDelta::hours(1)).await.unwrap();
    let fresh = Duration::ZERO;
    let recent = Duration::from_secs(3600);
    assert_eq!(s.principal_for_login_token("tokhash", fresh).await.unwrap().unwrap().username, "ops");
    assert!(s.principal_for_login_token("stale", recent).await.unwrap().is_none());
    assert!(s.principal_for_login_token("tokhash", recent).await.unwrap().is_some());
    // Logging out here is seen at once, even by a lookup that accepts an old answer.
    s.delete_login_token("tokhash").await.unwrap();
    assert!(s.principal_for_login_token("tokhash", recent).await.unwrap().is_none());

    // A key can ask for more than its owner has but never gets it.
    let key = s.create_api_key(u.id, "ci", "sfk_abc", "keyhash", Role::Admin, None).await.unwrap();
    let p = s.principal_for_api_key("keyhash", recent).await.unwrap().unwrap();
    assert_eq!(p.role, Role::Operator);
    assert!(s.get_api_key(key.id).await.unwrap().last_used_at.is_some());
    // A changed role applies at once, not when the cached answer gets old.
    s.update_user("ops", Some(Role::Viewer), None).await.unwrap();
    assert_eq!(s.principal_for_api_key("keyhash", recent).await.unwrap().unwrap().role, Role::Viewer);
    s.update_user("ops", Some(Role::Operator), None).await.unwrap();
    s.revoke_api_key(key.id).await.unwrap();
    assert!(s.principal_for_api_key("keyhash", recent).await.unwrap().is_none());

    // Another instance on the same database: its change reaches a cached answer only once
    // the answer is older than the caller accepts.
    s.create_api_key(u.id, "ci2", "sfk_def", "keyhash2", Role::Viewer, None).await.unwrap();
    let other = Store::connect(&db.url, &db.options).await.unwrap();
    assert!(s.principal_for_api_key("keyhash2", recent).await.unwrap().is_some());
    other.delete_user("ops").await.unwrap();
    assert!(s.principal_for_api_key("keyhash2", recent).await.unwrap().is_some(), "answered from the cache");
    assert!(s.principal_for_api_key("keyhash2", fresh).await.unwrap().is_none());
    other.close().await;
    let u = s.create_user("ops", "hash", Role::Operator).await.unwrap();

    for _ in 0..3 {
        s.record_login_failure(u.id, 3, chrono::TimeDelta::minutes(5)).await.unwrap();
    }
    let locked = s.user_by_name("ops").await.unwrap().unwrap();
    assert!(locked.locked_until.unwrap() > now());
    s.record_login_success(u.id).await.unwrap();
    assert!(s.user_by_name("ops").await.unwrap().unwrap().locked_until.is_none());
}

async fn stats(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "ACME").await;
    for n in 50..53 {
        let sim = s.create_sim(&NewSim::available(iccid(n)), "t").await.unwrap();
        let mut r = ActionRequest::new(Action::Reserve, "t");
        r.customer_id = Some(c.id);
        s.apply_action(&sim.iccid, &r).await.unwrap();
        if n < 52 {
            s.apply_action(&sim.iccid, &ActionRequest::new(Action::Activate, "t")).await.unwrap();
        }
    }
    let by_status = s.sims_by_status().await.unwrap();
    assert_eq!(by_status.len(), 6);
    assert!(by_status.contains(&(SimStatus::Active, 2)));
    assert!(by_status.contains(&(SimStatus::Reserved, 1)));
    assert!(by_status.contains(&(SimStatus::Terminated, 0)));
    let today = now().date_naive();
    let days = s.activations_over_time(today - chrono::Days::new(2), today, Bucket::Day).await.unwrap();
    assert_eq!(days.len(), 3);
    assert_eq!(days.last().unwrap().count, 2);
    assert_eq!(days[0].count, 0);
    let by_tariff = s.sims_by_tariff().await.unwrap();
    assert_eq!(by_tariff, vec![TariffCount { tariff_plan_id: None, name: None, count: 3 }]);
}

async fn audit_log(db: &TestDb) {
    let s = &db.store;
    for (i, method) in ["POST", "PATCH", "DELETE"].iter().enumerate() {
        s.append_audit(&NewAuditEntry {
            actor: Some("alice".into()),
            method: (*method).into(),
            path: format!("/api/v1/sims/{i}"),
            status: 200,
            ip: Some("127.0.0.1".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    }
    let p =
        s.list_audit(&AuditFilter::default(), PageRequest { limit: 2, cursor: None, with_total: true }).await.unwrap();
    assert_eq!(p.total, Some(3));
    assert_eq!(p.items[0].method, "DELETE", "newest first");
    let rest = s
        .list_audit(
            &AuditFilter::default(),
            PageRequest { limit: 2, cursor: p.next_cursor.as_deref(), with_total: false },
        )
        .await
        .unwrap();
    assert_eq!(rest.items.len(), 1);
    assert_eq!(rest.items[0].method, "POST");
    assert!(s.ready().await.unwrap());
}

async fn usage_upserts_rollups_and_retention(db: &TestDb) {
    let s = &db.store;
    let a = s.create_sim(&NewSim::available(iccid(60)), "t").await.unwrap();
    let b = s.create_sim(&NewSim::available(iccid(61)), "t").await.unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 1, d).unwrap();
    let usage = |d: u32, bytes: i64| DailyUsage {
        day: day(d),
        data_rx: bytes,
        data_tx: 0,
        data_total: bytes,
        sms_mo: 1,
        sms_mt: 0,
    };
    let dec = chrono::NaiveDate::from_ymd_opt(2025, 12, 31).unwrap();
    let rows = vec![
        (a.id, usage(1, 100)),
        (a.id, usage(2, 200)),
        (b.id, usage(2, 50)),
        (b.id, DailyUsage { day: dec, data_rx: 7, data_tx: 0, data_total: 7, sms_mo: 0, sms_mt: 0 }),
    ];
    s.upsert_usage(&rows).await.unwrap();
    // Re-sending a revised day replaces it.
    s.upsert_usage(&[(a.id, usage(2, 250))]).await.unwrap();
    assert_eq!(
        s.sim_usage(a.id, day(1), day(31)).await.unwrap().iter().map(|u| u.data_total).collect::<Vec<_>>(),
        vec![100, 250]
    );
    s.refresh_usage_rollups(dec).await.unwrap();
    let fleet = s.fleet_usage(dec, day(31)).await.unwrap();
    assert_eq!(
        fleet.iter().map(|f| (f.data_total, f.active_sims)).collect::<Vec<_>>(),
        vec![(7, 1), (100, 1), (300, 2)]
    );
    let top = s.top_consumers(day(1), day(31), 10).await.unwrap();
    assert_eq!(
        top.iter().map(|t| (t.iccid.clone(), t.data_total)).collect::<Vec<_>>(),
        vec![(a.iccid.clone(), 350), (b.iccid.clone(), 50)]
    );
    // Raw rows age out; the rollups stay.
    assert_eq!(s.prune_usage(day(2)).await.unwrap(), 2);
    assert_eq!(s.sim_usage(a.id, dec, day(31)).await.unwrap().len(), 1);
    assert_eq!(s.fleet_usage(dec, day(31)).await.unwrap().len(), 3);
    // A whole month's ranking still comes from the rollup; a part of it, from the rows left.
    let ranking =
        |top: Vec<simfleet_store::TopConsumer>| top.into_iter().map(|t| (t.iccid, t.data_total)).collect::<Vec<_>>();
    assert_eq!(
        ranking(s.top_consumers(day(1), day(31), 10).await.unwrap()),
        vec![(a.iccid.clone(), 350), (b.iccid.clone(), 50)]
    );
    assert_eq!(
        ranking(s.top_consumers(dec, day(31), 10).await.unwrap()),
        vec![(a.iccid.clone(), 350), (b.iccid.clone(), 50)]
    );
    assert_eq!(
        ranking(s.top_consumers(day(2), day(31), 10).await.unwrap()),
        vec![(a.iccid.clone(), 250), (b.iccid.clone(), 50)]
    );
}

/// One batch may revise stored days, add days after the last stored one and fill a gap before
/// it (PostgreSQL copies the new days straight in and merges the others); a batch naming a SIM
/// that does not exist is refused whole.
async fn usage_batches_mix_new_and_revised_days(db: &TestDb) {
    use chrono::Datelike;
    let s = &db.store;
    let a = s.create_sim(&NewSim::available(iccid(62)), "t").await.unwrap();
    let b = s.create_sim(&NewSim::available(iccid(63)), "t").await.unwrap();
    let day = |d: u32| chrono::NaiveDate::from_ymd_opt(2026, 3, d).unwrap();
    let usage = |d: u32, bytes: i64| DailyUsage {
        day: day(d),
        data_rx: bytes,
        data_tx: 0,
        data_total: bytes,
        sms_mo: 0,
        sms_mt: 2,
    };
    let stored = |id: i64| async move {
        s.sim_usage(id, day(1), day(31)).await.unwrap().iter().map(|u| (u.day.day(), u.data_total)).collect::<Vec<_>>()
    };
    s.upsert_usage(&[(a.id, usage(1, 100)), (a.id, usage(2, 200)), (b.id, usage(3, 30))]).await.unwrap();
    s.upsert_usage(&[(a.id, usage(2, 250)), (a.id, usage(3, 30)), (b.id, usage(1, 10)), (b.id, usage(3, 30))])
        .await
        .unwrap();
    assert_eq!(stored(a.id).await, vec![(1, 100), (2, 250), (3, 30)]);
    assert_eq!(stored(b.id).await, vec![(1, 10), (3, 30)]);

    let err = s.upsert_usage(&[(a.id, usage(4, 1)), (i64::MAX, usage(4, 1))]).await.unwrap_err();
    assert!(matches!(err, StoreError::Rule(_) | StoreError::Conflict { .. }), "{err:?}");
    assert_eq!(stored(a.id).await, vec![(1, 100), (2, 250), (3, 30)], "nothing of the refused batch was written");
}

/// The bulk path keeps every field, tag and event of each SIM, and a batch with one bad SIM
/// writes none of them.
async fn bulk_create_keeps_everything_and_is_all_or_nothing(db: &TestDb) {
    let s = &db.store;
    let c = customer(s, "Bulk Ltd").await;
    let mut odd = NewSim::available(iccid(7001));
    odd.label = Some("tab\there, line\nbreak, back\\slash, \\N, ünï".into());
    odd.tags = vec![" b ".into(), "a".into(), "b".into(), "".into()];
    odd.pin_enc = Some("sealed-pin".into());
    odd.customer_id = Some(c.id);
    odd.status = SimStatus::Active;
    odd.msisdn = Some("491517000001".into());
    odd.imei_lock = Some(false);
    let plain = NewSim::available(iccid(7002));
    s.create_sims_bulk(&[odd.clone(), plain], EventKind::Imported, Some("batch 1"), "importer").await.unwrap();

    let got = s.get_sim(&odd.iccid).await.unwrap();
    assert_eq!(got.label, odd.label);
    assert_eq!(got.tags, vec!["a", "b"]);
    assert_eq!(got.pin_enc.as_deref(), Some("sealed-pin"));
    assert_eq!(
        (got.customer_id, got.status, got.msisdn.as_deref()),
        (Some(c.id), SimStatus::Active, odd.msisdn.as_deref())
    );
    let plain = s.get_sim(&iccid(7002)).await.unwrap();
    assert_eq!((plain.label, plain.msisdn, plain.tags.len()), (None, None, 0));
    let ev = &s.sim_events(&odd.iccid, page(5)).await.unwrap().items;
    assert_eq!(ev.len(), 1);
    assert_eq!(
        (ev[0].kind.as_str(), ev[0].actor.as_str(), ev[0].note.as_deref()),
        ("IMPORTED", "importer", Some("batch 1"))
    );
    assert_eq!((ev[0].old_status.as_deref(), ev[0].new_status.as_deref()), (None, Some("ACTIVE")));

    // The third SIM repeats an ICCID already stored: nothing of this batch is kept.
    let batch = vec![NewSim::available(iccid(7003)), NewSim::available(iccid(7004)), NewSim::available(iccid(7001))];
    match s.create_sims_bulk(&batch, EventKind::Created, None, "t").await {
        Err(StoreError::Conflict { field: Some("iccid"), .. }) => {}
        other => panic!("expected an iccid conflict, got {other:?}"),
    }
    assert!(matches!(s.get_sim(&iccid(7003)).await, Err(StoreError::NotFound(_))));
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 2);
}

/// A month of one customer's SIMs, and of the fleet, computed by hand.
async fn monthly_report_of_a_customer_and_of_the_fleet(db: &TestDb) {
    let s = &db.store;
    let (acme, other) = (customer(s, "ACME").await, customer(s, "Other").await);
    let today = chrono::Utc::now().date_naive();
    let month = chrono::Datelike::with_day(&today, 1).unwrap();
    let [a1, a2, b1, own] = [1, 2, 3, 4].map(|n| NewSim::available(iccid(8100 + n)));
    for sim in [&a1, &a2, &b1, &own] {
        s.create_sim(sim, "t").await.unwrap();
    }
    for (sim, c) in [(&a1, acme.id), (&a2, acme.id), (&b1, other.id)] {
        let mut reserve = ActionRequest::new(Action::Reserve, "op");
        reserve.customer_id = Some(c);
        s.apply_action(&sim.iccid, &reserve).await.unwrap();
    }
    s.apply_action(&a1.iccid, &ActionRequest::new(Action::Activate, "op")).await.unwrap();
    s.apply_action(&b1.iccid, &ActionRequest::new(Action::Activate, "op")).await.unwrap();
    s.apply_action(&a2.iccid, &ActionRequest::new(Action::Terminate, "op")).await.unwrap();
    let id = |iccid: &str| {
        let iccid = iccid.to_owned();
        async move { s.get_sim(&iccid).await.unwrap().id }
    };
    let (a1_id, b1_id, own_id) = (id(&a1.iccid).await, id(&b1.iccid).await, id(&own.iccid).await);
    let day = |bytes: i64, sms: i64| DailyUsage {
        day: today,
        data_rx: bytes,
        data_tx: 0,
        data_total: bytes,
        sms_mo: sms,
        sms_mt: sms.min(1),
    };
    s.upsert_usage(&[(a1_id, day(900, 2)), (b1_id, day(50, 0)), (own_id, day(0, 0))]).await.unwrap();
    s.refresh_usage_rollups(month).await.unwrap();
    assert_eq!(s.sim_usage(own_id, today, today).await.unwrap().len(), 1, "the own SIM's day is stored");
    // a1 used 900 B today and has 1,000 B left: gone within 30 days.
    let quota = |remaining| Quota {
        kind: "data".into(),
        remaining,
        total: Some(10_000),
        expiry_date: None,
        last_added: None,
        threshold_percentage: None,
        updated_at: chrono::Utc::now(),
    };
    s.upsert_quotas(&[(a1_id, quota(1_000)), (b1_id, quota(9_000))]).await.unwrap();

    let r = s.monthly_report(ReportScope { month, customer_id: Some(acme.id) }, today, None).await.unwrap();
    let status = |r: &MonthlyReport, st: SimStatus| r.by_status.iter().find(|(x, _)| *x == st).unwrap().1;
    assert_eq!(
        (status(&r, SimStatus::Active), status(&r, SimStatus::Terminated), status(&r, SimStatus::Available)),
        (1, 1, 0)
    );
    assert_eq!((r.activations, r.terminations), (1, 1));
    assert_eq!(r.usage.iter().map(|u| u.iccid.as_str()).collect::<Vec<_>>(), [a1.iccid.as_str()]);
    assert_eq!(r.usage[0].customer.as_deref(), Some("ACME"));
    assert_eq!((r.totals.data_total, r.totals.sms_mo, r.totals.sms_mt, r.totals.sims_with_usage), (900, 2, 1, 1));
    assert_eq!(r.at_risk.iter().map(|a| a.iccid.as_str()).collect::<Vec<_>>(), [a1.iccid.as_str()]);

    let fleet = s.monthly_report(ReportScope { month, customer_id: None }, today, None).await.unwrap();
    assert_eq!((status(&fleet, SimStatus::Active), status(&fleet, SimStatus::Available)), (2, 1));
    assert_eq!((fleet.activations, fleet.terminations), (2, 1));
    let heaviest: Vec<_> = fleet.usage.iter().map(|u| (u.iccid.as_str(), u.data_total)).collect();
    assert_eq!(heaviest, [(a1.iccid.as_str(), 900), (b1.iccid.as_str(), 50)], "the SIM without usage is left out");
    assert_eq!(fleet.totals.data_total, 950);

    let before = month.checked_sub_months(chrono::Months::new(1)).unwrap();
    let earlier = s.monthly_report(ReportScope { month: before, customer_id: None }, today, None).await.unwrap();
    assert_eq!((earlier.activations, earlier.totals, earlier.usage.len()), (0, UsageTotals::default(), 0));
}

simfleet_store::backend_tests!(
    monthly_report_of_a_customer_and_of_the_fleet,
    bulk_create_keeps_everything_and_is_all_or_nothing,
    usage_upserts_rollups_and_retention,
    usage_batches_mix_new_and_revised_days,
    create_read_update,
    duplicates_conflict_on_the_right_field,
    lifecycle_and_events,
    activation_codes_are_single_use,
    a_sims_activation_code_follows_its_codes,
    swap_moves_service_atomically,
    keyset_pagination_filters_and_search,
    search_walks_every_matching_column_once,
    tags_keep_every_character_on_every_write_path,
    bulk_update_is_all_or_nothing,
    references_block_deletion,
    users_tokens_and_keys,
    stats,
    audit_log,
);
