//! Imports in the store, on SQLite and PostgreSQL alike.

use simfleet_domain::{EventKind, SimType};
use simfleet_store::testing::TestDb;
use simfleet_store::*;

fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload))
}

fn row(n: u32, iccid: String) -> ImportRow {
    ImportRow {
        row: n,
        iccid,
        msisdn: None,
        imsi: None,
        imei: None,
        pin_enc: None,
        puk_enc: None,
        sim_type: None,
        label: None,
        tags: None,
        customer_email: None,
        tariff_plan: None,
    }
}

fn input(hash: &str, rows: Vec<ImportRow>) -> NewImport {
    NewImport {
        file_name: "sims.csv".into(),
        file_hash: hash.into(),
        format: "csv".into(),
        total_rows: rows.len() as i64,
        rows,
        errors: Vec::new(),
        invalid_rows: 0,
        warnings: Vec::new(),
    }
}

/// Sealed values are compared as they are (tests seal nothing).
fn same(a: &str, b: &str) -> bool {
    a == b
}

async fn preview_then_commit_creates_and_updates_in_bulk(db: &TestDb) {
    let s = &db.store;
    let mut existing = NewSim::available(iccid(1));
    existing.label = Some("old".into());
    existing.tags = vec!["keep".into()];
    s.create_sim(&existing, "t").await.unwrap();
    s.create_sim(&NewSim::available(iccid(2)), "t").await.unwrap();

    let mut rows: Vec<ImportRow> = (10..1210).map(|n| row(n, iccid(n as u64))).collect();
    let mut update = row(2, iccid(1));
    update.label = Some("new".into());
    update.tags = Some(vec!["a".into(), "b".into()]);
    update.sim_type = Some(SimType::Prepaid);
    update.pin_enc = Some("sealed-pin".into());
    rows.push(update);
    rows.push(row(3, iccid(2))); // nothing to change
    let preview = s.preview_import(&input("h1", rows), &same, "alice").await.unwrap();
    assert_eq!((preview.to_create, preview.to_update, preview.unchanged, preview.invalid), (1200, 1, 1, 0));
    assert_eq!(preview.status, ImportStatus::Previewed);
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 2);

    let done = s.commit_import(preview.id, false, &same, "bob").await.unwrap();
    assert_eq!((done.status, done.created, done.updated), (ImportStatus::Committed, Some(1200), Some(1)));
    assert_eq!(done.committed_by.as_deref(), Some("bob"));
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 1202);
    let sim = s.get_sim(&iccid(1)).await.unwrap();
    assert_eq!(
        (sim.label.as_deref(), sim.sim_type, sim.pin_enc.as_deref()),
        (Some("new"), SimType::Prepaid, Some("sealed-pin"))
    );
    assert_eq!(sim.tags, vec!["a", "b"]);
    let ev =
        &s.sim_events(&iccid(500), PageRequest { limit: 1, cursor: None, with_total: false }).await.unwrap().items[0];
    assert_eq!((ev.kind.as_str(), ev.actor.as_str()), (EventKind::Imported.as_str(), "bob"));
    assert_eq!(ev.note.as_deref(), Some(format!("import #{} (sims.csv)", preview.id).as_str()));

    // Updates in bulk across several statements, each row changing different fields.
    let rows: Vec<ImportRow> = (10..1210)
        .map(|n| {
            let mut r = row(n, iccid(n as u64));
            match n % 3 {
                0 => r.label = Some(format!("L{n}")),
                1 => r.msisdn = Some(format!("4915{n:08}")),
                _ => r.tags = Some(vec![format!("t{n}")]),
            }
            r
        })
        .collect();
    let p = s.preview_import(&input("h-upd", rows), &same, "alice").await.unwrap();
    assert_eq!((p.to_create, p.to_update, p.unchanged), (0, 1200, 0));
    let done = s.commit_import(p.id, false, &same, "bob").await.unwrap();
    assert_eq!(done.updated, Some(1200));
    let (a, b, c) = (
        s.get_sim(&iccid(12)).await.unwrap(),
        s.get_sim(&iccid(13)).await.unwrap(),
        s.get_sim(&iccid(14)).await.unwrap(),
    );
    assert_eq!((a.label.as_deref(), a.msisdn.as_deref()), (Some("L12"), None));
    assert_eq!(b.msisdn.as_deref(), Some("491500000013"));
    assert_eq!(c.tags, vec!["t14"]);
    assert!(c.updated_at > c.created_at);
    let ev =
        &s.sim_events(&iccid(13), PageRequest { limit: 1, cursor: None, with_total: false }).await.unwrap().items[0];
    assert_eq!(
        (ev.kind.as_str(), ev.note.as_deref()),
        ("UPDATED", Some(format!("import #{} (sims.csv)", p.id).as_str()))
    );

    // Same hash again: refused, naming the first import; nothing created.
    let again = s.preview_import(&input("h1", vec![row(2, iccid(5000))]), &same, "alice").await.unwrap();
    match s.commit_import(again.id, false, &same, "bob").await {
        Err(StoreError::Conflict { field: Some("file"), message }) => {
            assert!(message.contains(&format!("import #{}", preview.id)), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.get_sim(&iccid(5000)).await, Err(StoreError::NotFound(_))));
    let list = s.list_imports(PageRequest { limit: 10, cursor: None, with_total: true }).await.unwrap();
    assert_eq!(list.total, Some(3));
    assert_eq!(list.items[0].id, again.id, "newest first");
}

async fn database_checks_and_all_or_nothing(db: &TestDb) {
    let s = &db.store;
    let mut taken = NewSim::available(iccid(1));
    taken.msisdn = Some("491510000001".into());
    s.create_sim(&taken, "t").await.unwrap();
    s.create_customer(&CustomerInput { name: "ACME".into(), email: Some("Ops@Acme.test".into()), phone: None })
        .await
        .unwrap();

    let mut dup_msisdn = row(2, iccid(2));
    dup_msisdn.msisdn = Some("491510000001".into());
    let mut unknown_customer = row(3, iccid(3));
    unknown_customer.customer_email = Some("nobody@x.test".into());
    let mut known_customer = row(4, iccid(4));
    known_customer.customer_email = Some("ops@acme.TEST".into());
    let mut unknown_plan = row(5, iccid(5));
    unknown_plan.tariff_plan = Some("Gold".into());
    let mut new = input("h2", vec![dup_msisdn, unknown_customer, known_customer, unknown_plan]);
    new.errors.push(ImportIssue { row: 6, column: "iccid".into(), value: "1".into(), reason: "bad".into() });
    new.invalid_rows = 1;
    new.total_rows = 5;
    let p = s.preview_import(&new, &same, "alice").await.unwrap();
    assert_eq!((p.to_create, p.invalid), (1, 4));
    let cols: Vec<(u32, &str)> = p.errors.iter().map(|e| (e.row, e.column.as_str())).collect();
    assert_eq!(cols, vec![(2, "msisdn"), (3, "customer_email"), (5, "tariff_plan"), (6, "iccid")]);

    let err = s.commit_import(p.id, false, &same, "bob").await.unwrap_err();
    assert!(
        matches!(err, StoreError::Rule(RuleViolation::Precondition { field: Some("skip_invalid"), .. })),
        "{err:?}"
    );
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 1, "nothing written");

    // The inventory changes between preview and commit: refused, nothing written.
    s.create_sim(&NewSim::available(iccid(4)), "t").await.unwrap();
    let err = s.commit_import(p.id, true, &same, "bob").await.unwrap_err();
    assert!(err.to_string().contains("changed since"), "{err}");
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 2);

    // A fresh preview, committed with skip_invalid: only the valid row.
    let mut only = row(7, iccid(7));
    only.customer_email = Some("OPS@acme.test".into());
    let mut bad = row(8, iccid(8));
    bad.tariff_plan = Some("Gold".into());
    let p = s.preview_import(&input("h3", vec![only, bad]), &same, "alice").await.unwrap();
    let done = s.commit_import(p.id, true, &same, "bob").await.unwrap();
    assert_eq!(done.created, Some(1));
    assert!(s.get_sim(&iccid(7)).await.unwrap().customer_id.is_some());
    assert!(matches!(s.get_sim(&iccid(8)).await, Err(StoreError::NotFound(_))));

    // A dry run records nothing.
    let before = s.list_imports(PageRequest { limit: 100, cursor: None, with_total: true }).await.unwrap().total;
    let check = s.check_import(&input("h4", vec![row(2, iccid(9))]), &same).await.unwrap();
    assert_eq!(check.to_create, 1);
    let after = s.list_imports(PageRequest { limit: 100, cursor: None, with_total: true }).await.unwrap().total;
    assert_eq!(before, after);
}

/// The command line's import: planned and committed in one transaction.
async fn import_now_validates_and_commits_at_once(db: &TestDb) {
    let s = &db.store;
    let mut existing = NewSim::available(iccid(1));
    existing.label = Some("old".into());
    s.create_sim(&existing, "t").await.unwrap();
    let mut update = row(2, iccid(1));
    update.label = Some("new".into());
    let mut rows: Vec<ImportRow> = (10..2010).map(|n| row(n, iccid(n as u64))).collect();
    rows.push(update);

    let done = s.import_now(&input("now-1", rows.clone()), false, &same, "cli").await.unwrap();
    assert_eq!(
        (done.status, done.created, done.updated, done.to_create),
        (ImportStatus::Committed, Some(2000), Some(1), 2000)
    );
    assert_eq!(done.committed_by.as_deref(), Some("cli"));
    assert_eq!(s.count_sims(&SimFilter::default()).await.unwrap(), 2001);
    assert_eq!(s.get_sim(&iccid(1)).await.unwrap().label.as_deref(), Some("new"));
    let ev =
        &s.sim_events(&iccid(700), PageRequest { limit: 1, cursor: None, with_total: false }).await.unwrap().items[0];
    assert_eq!((ev.kind.as_str(), ev.actor.as_str()), (EventKind::Imported.as_str(), "cli"));
    assert_eq!(ev.note.as_deref(), Some(format!("import #{} (sims.csv)", done.id).as_str()));
    assert_eq!(s.get_import(done.id).await.unwrap(), done, "recorded as committed");

    // The same file again is refused and changes nothing.
    match s.import_now(&input("now-1", vec![row(2, iccid(5000))]), false, &same, "cli").await {
        Err(StoreError::Conflict { field: Some("file"), message }) => {
            assert!(message.contains(&format!("import #{}", done.id)), "{message}")
        }
        other => panic!("{other:?}"),
    }
    assert!(matches!(s.get_sim(&iccid(5000)).await, Err(StoreError::NotFound(_))));

    // Invalid rows: without skip_invalid nothing is applied and the import stays previewed;
    // with it, the valid rows are.
    let mut bad = row(3, iccid(6001));
    bad.tariff_plan = Some("Gold".into());
    let mixed = vec![row(2, iccid(6000)), bad];
    let kept = s.import_now(&input("now-2", mixed.clone()), false, &same, "cli").await.unwrap();
    assert_eq!((kept.status, kept.invalid, kept.to_create), (ImportStatus::Previewed, 1, 1));
    assert!(matches!(s.get_sim(&iccid(6000)).await, Err(StoreError::NotFound(_))));
    let applied = s.import_now(&input("now-3", mixed), true, &same, "cli").await.unwrap();
    assert_eq!((applied.status, applied.created), (ImportStatus::Committed, Some(1)));
    assert!(s.get_sim(&iccid(6000)).await.is_ok());
    assert!(matches!(s.get_sim(&iccid(6001)).await, Err(StoreError::NotFound(_))));
}

simfleet_store::backend_tests!(
    preview_then_commit_creates_and_updates_in_bulk,
    database_checks_and_all_or_nothing,
    import_now_validates_and_commits_at_once,
);
