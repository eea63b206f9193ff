//! Provider account operations not covered by `provider_ops.rs`, through simfleet's API against
//! the 1NCE simulator on loopback: turning automatic top-up off through the outbox, the audit
//! rows of on-the-spot provider calls and SMS, and refusals of SMS, transfers and auto top-up
//! for an expired SIM (through the outbox) and of an order (on the spot).

mod common;

use common::provider::{actions, events, setup};
use common::TestApp;
use onence_sim::{SimHandle, SimRecord};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simfleet_store::Dialect;

async fn local_sim(app: &TestApp, iccid: &str) -> Value {
    let (status, res) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    res
}

/// Each SIM's automatic top-up flag at the provider, by ICCID.
fn auto_topup_at_provider(sim: &SimHandle) -> Vec<(String, bool)> {
    sim.state().sims().into_iter().map(|r| (r.iccid_with_luhn, r.auto_topup)).collect()
}

/// Automatic top-up turned off for some SIMs goes through the outbox: the provider shows it
/// off for exactly those SIMs, each SIM's history says so, and only admins may ask.
async fn auto_top_up_is_turned_off_for_exactly_the_chosen_sims(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (a, b, c) = (&records[0].iccid_with_luhn, &records[1].iccid_with_luhn, &records[2].iccid_with_luhn);

    for token in [&app.viewer, &app.operator] {
        let (s, res) = app.post("/api/v1/sims/auto-topup", token, json!({"iccids": [a], "enabled": false})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "only admins change auto top-up: {res}");
        let (s, res) = app.post("/api/v1/sims/topup", token, json!({"iccids": [a, b]})).await;
        assert_eq!(s, StatusCode::FORBIDDEN, "only admins top up in bulk: {res}");
    }
    assert!(actions(&app, a).await.is_empty(), "a refused request queues nothing");
    assert!(actions(&app, b).await.is_empty());

    // On for three SIMs first.
    let (s, res) = app.post("/api/v1/sims/auto-topup", &app.admin, json!({"iccids": [a, b, c], "enabled": true})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 3, "{run}");
    let before = auto_topup_at_provider(&sim);
    for (iccid, on) in &before {
        assert_eq!(*on, [a, b, c].contains(&iccid), "{iccid}: {before:?}");
    }

    // Off for two of them.
    let (s, res) = app.post("/api/v1/sims/auto-topup", &app.admin, json!({"iccids": [a, b], "enabled": false})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let queued = res["items"].as_array().unwrap();
    assert_eq!(queued.len(), 2, "{res}");
    for q in queued {
        assert_eq!(q["action"], "set_auto_top_up", "{q}");
        assert_eq!(q["payload"], json!({"enabled": false}), "{q}");
        assert_eq!(q["status"], "pending", "{q}");
        assert_eq!(q["requested_by"], "admin", "{q}");
    }
    assert_eq!(auto_topup_at_provider(&sim), before, "nothing reaches the provider before the outbox runs");
    let app = app.restart().await;
    let run = app.run_job("outbox").await;
    assert_eq!((run["items_ok"].as_i64(), run["items_failed"].as_i64()), (Some(2), Some(0)), "{run}");

    let after = auto_topup_at_provider(&sim);
    for ((iccid, was), (same, now)) in before.iter().zip(&after) {
        assert_eq!(iccid, same);
        let expected = if [a, b].contains(&iccid) { false } else { *was };
        assert_eq!(*now, expected, "{iccid}: before {before:?}, after {after:?}");
    }
    assert!(sim.state().sim(&records[2].iccid).unwrap().auto_topup, "the SIM left out keeps auto top-up");
    for iccid in [a, b] {
        let newest = &actions(&app, iccid).await[0];
        assert_eq!((newest["action"].as_str(), newest["status"].as_str()), (Some("set_auto_top_up"), Some("done")));
        assert_eq!(newest["payload"], json!({"enabled": false}));
        let applied = events(&app, iccid, "PROVIDER_ACTION_APPLIED").await;
        let notes: Vec<&str> = applied.iter().filter_map(|e| e["note"].as_str()).collect();
        assert_eq!(
            notes.iter().filter(|n| **n == "auto top-up disabled at the provider").count(),
            1,
            "{iccid}: {applied:?}"
        );
        assert_eq!(notes.iter().filter(|n| **n == "auto top-up enabled at the provider").count(), 1);
        assert!(applied.iter().all(|e| e["actor"] == "admin"), "{applied:?}");
    }
    let applied = events(&app, c, "PROVIDER_ACTION_APPLIED").await;
    assert!(applied.iter().all(|e| e["note"] != "auto top-up disabled at the provider"), "{applied:?}");

    // Delivered once: a further run changes nothing.
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 0, "{run}");
    assert_eq!(auto_topup_at_provider(&sim), after);
    app.stop().await;
    sim.shutdown().await;
}

/// The audit row of `method path` by `actor`, with its status; panics when there is none.
async fn audit_row(app: &TestApp, actor: &str, method: &str, path: &str, status: u16) -> Value {
    let (s, log) = app.get(&format!("/api/v1/audit-log?method={method}&path={path}&limit=100"), &app.admin).await;
    assert_eq!(s, StatusCode::OK, "{log}");
    let rows = log["items"].as_array().unwrap();
    rows.iter()
        .find(|r| r["actor"] == actor && r["method"] == method && r["path"] == path && r["status"] == status)
        .cloned()
        .unwrap_or_else(|| panic!("no audit row for {actor} {method} {path} {status}: {log}"))
}

/// Orders, limit changes, support tickets, SMS sent and SMS cancelled each leave an audit row
/// naming who did it, the method, the path and how it ended; refused attempts too.
async fn provider_calls_and_sms_are_audited(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (online, offline) = (&records[6], &records[8]);
    sim.state().set_link_state(&online.iccid, onence_sim::LinkState::Online);
    sim.state().set_link_state(&offline.iccid, onence_sim::LinkState::Offline);
    let (io, ioff) = (&online.iccid_with_luhn, &offline.iccid_with_luhn);

    // An order, confirmed.
    let order =
        json!({"products": [{"product_id": 1001, "quantity": 10}], "customer_reference": "PO-audit", "confirm": true});
    let (s, _) = app.post("/api/v1/orders", &app.operator, order.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, placed) = app.post("/api/v1/orders", &app.admin, order).await;
    assert_eq!(s, StatusCode::CREATED, "{placed}");
    let row = audit_row(&app, "admin", "POST", "/api/v1/orders", 201).await;
    assert_eq!(row["role"], "admin", "{row}");
    assert_eq!(row["route"], "/api/v1/orders", "{row}");
    audit_row(&app, "operator", "POST", "/api/v1/orders", 403).await;

    // A limit change.
    let (s, _) = app.patch("/api/v1/limits", &app.operator, json!({"data_limit_id": 2})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, limits) = app.patch("/api/v1/limits", &app.admin, json!({"data_limit_id": 2})).await;
    assert_eq!(s, StatusCode::OK, "{limits}");
    assert_eq!(sim.state().limits().data, 2);
    audit_row(&app, "admin", "PATCH", "/api/v1/limits", 200).await;
    audit_row(&app, "operator", "PATCH", "/api/v1/limits", 403).await;

    // A support ticket.
    let ticket = json!({"subject": "Audit me", "text": "Please check.", "iccids": [io]});
    let (s, created) = app.post("/api/v1/support-tickets", &app.operator, ticket).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let row = audit_row(&app, "operator", "POST", "/api/v1/support-tickets", 201).await;
    assert_eq!(row["role"], "operator", "{row}");

    // SMS sent (queued), to a reachable SIM and to one that buffers it.
    for iccid in [io, ioff] {
        let (s, res) = app.post(&format!("/api/v1/sims/{iccid}/sms"), &app.operator, json!({"payload": "PING"})).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{res}");
        let row = audit_row(&app, "operator", "POST", &format!("/api/v1/sims/{iccid}/sms"), 202).await;
        assert_eq!(row["route"], "/api/v1/sims/{iccid}/sms", "{row}");
    }
    let (s, _) = app.post(&format!("/api/v1/sims/{io}/sms"), &app.viewer, json!({"payload": "PING"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    audit_row(&app, "viewer", "POST", &format!("/api/v1/sims/{io}/sms"), 403).await;
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 2, "{run}");

    // SMS cancelled: the buffered one.
    let (_, pending) = app.get(&format!("/api/v1/sims/{ioff}/sms?status=PENDING"), &app.viewer).await;
    let buffered = pending["items"].as_array().unwrap().iter().find(|m| m["payload"] == "PING").cloned();
    let id = buffered.unwrap_or_else(|| panic!("the buffered SMS is listed: {pending}"))["id"].as_i64().unwrap();
    let path = format!("/api/v1/sims/{ioff}/sms/{id}");
    let (s, res) = app.delete(&path, &app.operator).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{res}");
    let row = audit_row(&app, "operator", "DELETE", &path, 204).await;
    assert_eq!(row["role"], "operator", "{row}");
    // Cancelling it again: the provider no longer has it, and that attempt is audited too.
    let (s, res) = app.delete(&path, &app.operator).await;
    assert!(s.is_client_error(), "{s} {res}");
    audit_row(&app, "operator", "DELETE", &path, s.as_u16()).await;

    // Reads are not audited.
    let (_, log) = app.get("/api/v1/audit-log?method=GET&limit=10", &app.admin).await;
    assert!(log["items"].as_array().unwrap().is_empty(), "{log}");
    app.stop().await;
    sim.shutdown().await;
}

/// What a refusal must leave behind: the action failed as `sim-expired`, one
/// `PROVIDER_ACTION_FAILED` event on the SIM naming the extension, nothing applied.
async fn assert_refused_as_expired(app: &TestApp, iccid: &str, action: &str, status_before: &Value) {
    let all = actions(app, iccid).await;
    assert_eq!(all.len(), 1, "{all:?}");
    let a = &all[0];
    assert_eq!((a["action"].as_str(), a["status"].as_str()), (Some(action), Some("failed")), "{a}");
    assert_eq!(a["error_type"], "https://simfleet.dev/problems/sim-expired", "{a}");
    assert_eq!(a["attempts"], 1, "a refusal is not retried: {a}");
    let error = a["last_error"].as_str().unwrap_or_default();
    assert!(error.contains(action) && error.contains("POST /api/v1/sims/extension"), "{a}");
    let failed = events(app, iccid, "PROVIDER_ACTION_FAILED").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    let note = failed[0]["note"].as_str().unwrap();
    assert!(note.contains("expired") && note.contains("POST /api/v1/sims/extension"), "{note}");
    assert!(events(app, iccid, "PROVIDER_ACTION_APPLIED").await.is_empty());
    let sim = local_sim(app, iccid).await;
    assert_eq!(&sim["status"], status_before, "{sim}");
    let (_, orders) = app.get(&format!("/api/v1/orders?iccid={iccid}"), &app.viewer).await;
    assert!(orders["items"].as_array().unwrap().is_empty(), "no order recorded for a refusal: {orders}");
}

/// An expired SIM accepts only an extension: an SMS, a transfer and turning on automatic
/// top-up are refused through the outbox as `sim-expired`, and the provider applied none.
async fn expired_sims_refuse_sms_transfers_and_auto_top_up(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (texted, moved, auto): (&SimRecord, &SimRecord, &SimRecord) = (&records[3], &records[4], &records[5]);
    for r in [texted, moved, auto] {
        assert!(sim.state().set_expired(&r.iccid, true));
    }
    sim.state().set_link_state(&texted.iccid, onence_sim::LinkState::Online);
    let (it, im, ia) = (&texted.iccid_with_luhn, &moved.iccid_with_luhn, &auto.iccid_with_luhn);
    let statuses = [
        local_sim(&app, it).await["status"].clone(),
        local_sim(&app, im).await["status"].clone(),
        local_sim(&app, ia).await["status"].clone(),
    ];
    let sms_before = sim.state().sms(&texted.iccid).unwrap();
    let orders_before = sim.state().orders().len();

    let (s, res) = app.post(&format!("/api/v1/sims/{it}/sms"), &app.operator, json!({"payload": "WAKE UP"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, res) =
        app.post("/api/v1/sims/transfer", &app.admin, json!({"iccids": [im], "target_organisation": 77})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, res) = app.post("/api/v1/sims/auto-topup", &app.admin, json!({"iccids": [ia], "enabled": true})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let run = app.run_job("outbox").await;
    assert_eq!((run["items_ok"].as_i64(), run["items_failed"].as_i64()), (Some(0), Some(3)), "{run}");

    assert_refused_as_expired(&app, it, "send_sms", &statuses[0]).await;
    assert_refused_as_expired(&app, im, "transfer", &statuses[1]).await;
    assert_refused_as_expired(&app, ia, "set_auto_top_up", &statuses[2]).await;

    // The provider applied nothing.
    assert_eq!(sim.state().sms(&texted.iccid).unwrap(), sms_before, "no SMS was sent");
    assert!(sim.state().transfers().is_empty(), "no transfer was requested");
    assert!(!sim.state().sim(&auto.iccid).unwrap().auto_topup, "auto top-up stays off");
    assert_eq!(sim.state().orders().len(), orders_before);
    // Nor does simfleet show anything as done: no sent SMS in the SIM's list.
    let (_, listed) = app.get(&format!("/api/v1/sims/{it}/sms?direction=MT"), &app.viewer).await;
    assert!(listed["items"].as_array().unwrap().iter().all(|m| m["payload"] != "WAKE UP"), "{listed}");
    // A further outbox run does not try again.
    let run = app.run_job("outbox").await;
    assert_eq!((run["items_ok"].as_i64(), run["items_failed"].as_i64()), (Some(0), Some(0)), "{run}");
    app.stop().await;
    sim.shutdown().await;
}

/// An order the provider refuses on the spot (a product it no longer sells, still in the
/// cached catalogue) answers with the provider's reason as a problem, and records nothing.
async fn an_order_the_provider_refuses_records_nothing(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 3).await else { return };
    let (s, products) = app.get("/api/v1/products", &app.viewer).await;
    assert_eq!(s, StatusCode::OK, "{products}");
    // The catalogue was cached when the provider still sold product 1004.
    let mut cached = app.db.store.list_products().await.unwrap();
    assert_eq!(cached.len(), 3);
    cached.push(simfleet_store::ProductRow {
        id: 1004,
        name: "1NCE IoT FlexSIM - Discontinued".into(),
        material: Some("1NCE FlexSIM".into()),
        package_size: Some(1),
        min_quantity: Some(1),
        max_quantity: Some(100),
        max_quantity_per_customer: None,
        min_contract_duration: Some(120),
        one_time_charges: json!([{"name": "provisionCharge", "amount": "12.00", "currency": "EUR"}]).to_string(),
        recurring_charges: "[]".into(),
        refreshed_at: simfleet_store::now(),
    });
    app.db.store.replace_products(&cached).await.unwrap();
    let (_, orders_before) = app.get("/api/v1/orders?count=true", &app.viewer).await;
    let at_provider = sim.state().orders().len();

    let body = json!({"products": [{"product_id": 1004, "quantity": 2}]});
    let (s, quote) = app.post("/api/v1/orders", &app.admin, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "the quote comes from the cached catalogue: {quote}");
    assert_eq!(quote["total"], "24.00", "{quote}");
    let mut confirmed = body;
    confirmed["confirm"] = json!(true);
    let res = app
        .http
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(&app.admin)
        .json(&confirmed)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let problem: Value = res.json().await.unwrap();
    assert_eq!(problem["type"], "https://simfleet.dev/problems/provider-rejected", "{problem}");
    assert_eq!(problem["status"], 422, "{problem}");
    let detail = problem["detail"].as_str().unwrap_or_default();
    assert!(
        detail.starts_with("the provider answered:") && detail.contains("Invalid product or quantity"),
        "the provider's own reason: {problem}"
    );

    assert_eq!(sim.state().orders().len(), at_provider, "the provider placed nothing");
    let (_, orders_after) = app.get("/api/v1/orders?count=true", &app.viewer).await;
    assert_eq!(orders_after["total"], orders_before["total"], "no order recorded: {orders_after}");
    assert!(orders_after["items"].as_array().unwrap().iter().all(|o| o["order_type"] != "ADDITIONAL_ORDER"));
    audit_row(&app, "admin", "POST", "/api/v1/orders", 422).await;
    // A direct call leaves no queued action behind either.
    let (_, backlog) = app.call(Method::GET, "/api/v1/sims?limit=10", Some(&app.viewer), None).await;
    for s in backlog["items"].as_array().unwrap() {
        assert!(actions(&app, s["iccid"].as_str().unwrap()).await.is_empty());
    }
    app.stop().await;
    sim.shutdown().await;
}

dialect_tests!(
    auto_top_up_is_turned_off_for_exactly_the_chosen_sims,
    provider_calls_and_sms_are_audited,
    expired_sims_refuse_sms_transfers_and_auto_top_up,
    an_order_the_provider_refuses_records_nothing,
);
