//! Provider account data in the store (queued actions, orders, tickets, SMS), on SQLite and
//! PostgreSQL alike.

use simfleet_domain::Provider;
use simfleet_store::testing::TestDb;
use simfleet_store::*;

fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload))
}

fn page(limit: u32) -> PageRequest<'static> {
    PageRequest { limit, cursor: None, with_total: true }
}

/// Three provider SIMs (refs `ref-1` …) and one of simfleet's own stock.
async fn fleet(store: &Store) {
    let sims: Vec<ProviderSim> = (1..=3)
        .map(|n| ProviderSim {
            iccid: iccid(n),
            provider_ref: format!("ref-{n}"),
            imsi: None,
            msisdn: None,
            imei: None,
            imei_lock: None,
            ip_address: None,
            enabled: true,
            label: None,
        })
        .collect();
    store.sync_provider_sims(Provider::OneNce, &sims, "sync").await.unwrap();
    store.create_sim(&NewSim::available(iccid(9)), "alice").await.unwrap();
}

async fn queued_actions_are_all_or_nothing(db: &TestDb) {
    let s = &db.store;
    fleet(s).await;
    let action = ProviderAction::TopUp { payment_method: Some("banktransfer".into()) };
    for bad in [vec![iccid(1), iccid(7)], vec![iccid(1), iccid(9)]] {
        let err = s.queue_provider_actions(&bad, &action, "admin").await.unwrap_err();
        assert!(matches!(err, StoreError::Rule(_)), "{err:?}");
    }
    assert!(s.sim_outbox(s.get_sim(&iccid(1)).await.unwrap().id).await.unwrap().is_empty(), "nothing half-queued");

    let items = s.queue_provider_actions(&[iccid(2), iccid(1), iccid(2)], &action, "admin").await.unwrap();
    assert_eq!(items.iter().map(|i| i.iccid.as_str()).collect::<Vec<_>>(), [iccid(2), iccid(1)]);
    assert!(items.iter().all(|i| i.status == "pending" && i.action == "top_up"));
    assert_eq!(items[0].requested_by.as_deref(), Some("admin"));
    let events = s.sim_events(&iccid(1), page(10)).await.unwrap().items;
    assert_eq!(events[0].kind, "PROVIDER_ACTION_REQUESTED");
    assert_eq!(events[0].actor, "admin");

    // Completion stores the order, links it to the SIM and records the event, together.
    let order = ProviderOrder {
        order_number: 77,
        order_type: Some("TOPUP".into()),
        status: Some("COMPLETED".into()),
        order_date: Some(now()),
        invoice_number: Some("1".into()),
        invoice_amount_e4: Some(100_000),
        currency: Some("EUR".into()),
        delivery_address: None,
        products: "[]".into(),
        customer_reference: None,
        created_by: Some("admin".into()),
        sim_refs: vec!["ref-1".into()],
    };
    let claimed = s.claim_outbox(10, chrono::TimeDelta::minutes(1)).await.unwrap();
    let one = claimed.iter().find(|i| i.iccid == iccid(1)).unwrap();
    let applied = Applied {
        result: Some(serde_json::json!({"order_number": 77})),
        event_note: Some("top-up applied".into()),
        order: Some(order),
        ..Applied::default()
    };
    s.complete_outbox_with(one, applied).await.unwrap();
    let (row, sims) = s.get_order(77).await.unwrap();
    assert_eq!((row.invoice_amount_e4, sims), (Some(100_000), vec![iccid(1)]));
    let sim1 = s.get_sim(&iccid(1)).await.unwrap();
    let filter = OrderFilter { sim_id: Some(sim1.id), ..OrderFilter::default() };
    assert_eq!(s.list_orders(&filter, page(10)).await.unwrap().total, Some(1));
    let done = s.outbox_item(one.id).await.unwrap();
    assert_eq!((done.status.as_str(), done.result.as_deref()), ("done", Some(r#"{"order_number":77}"#)));
    assert_eq!(s.sim_events(&iccid(1), page(10)).await.unwrap().items[0].kind, "PROVIDER_ACTION_APPLIED");
}

async fn tickets_and_sms_follow_the_provider(db: &TestDb) {
    let s = &db.store;
    fleet(s).await;
    let sim = s.get_sim(&iccid(1)).await.unwrap();
    // Opened here before the provider listed the case: the next refresh gives it its case id.
    let draft = ProviderTicket {
        case_id: String::new(),
        subject: "No data".into(),
        text: "Since Monday".into(),
        status: "OPEN".into(),
        created_at: now(),
        solved_at: None,
        communications: "[]".into(),
    };
    let row = s.create_ticket(&draft, Some("ops@example.com"), false, &[sim.id], "operator").await.unwrap();
    assert_eq!(row.case_id, None);
    let listed = ProviderTicket { case_id: "42".into(), status: "IN_PROGRESS".into(), ..draft.clone() };
    s.upsert_tickets(std::slice::from_ref(&listed)).await.unwrap();
    s.upsert_tickets(&[listed]).await.unwrap();
    let all = s.list_tickets(None, None, page(10)).await.unwrap();
    assert_eq!(all.total, Some(1), "adopted, not duplicated");
    let (t, sims) = s.get_ticket(row.id).await.unwrap();
    assert_eq!(
        (t.case_id.as_deref(), t.status.as_str(), t.reply_to.as_deref()),
        (Some("42"), "IN_PROGRESS", Some("ops@example.com"))
    );
    assert_eq!(sims, vec![iccid(1)]);

    let sms = |id: i64, status: &str| ProviderSms {
        provider_id: id,
        direction: "MT".into(),
        status: status.into(),
        payload: Some(format!("m{id}")),
        udh: None,
        dcs: Some(0),
        source_address: None,
        submitted_at: Some(now()),
        delivered_at: None,
        expires_at: None,
    };
    s.replace_sim_sms(&[(sim.id, vec![sms(1, "PENDING"), sms(2, "PENDING")])]).await.unwrap();
    // The provider delivered one and no longer lists the other (cancelled).
    s.replace_sim_sms(&[(sim.id, vec![sms(1, "DELIVERED")])]).await.unwrap();
    let filter = SmsFilter { sim_id: Some(sim.id), ..SmsFilter::default() };
    let items = s.list_sms(&filter, page(10)).await.unwrap().items;
    assert_eq!(items.len(), 1);
    assert_eq!((items[0].provider_id, items[0].status.as_str()), (1, "DELIVERED"));
}

simfleet_store::backend_tests!(queued_actions_are_all_or_nothing, tickets_and_sms_follow_the_provider);
