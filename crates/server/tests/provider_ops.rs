//! Provider account operations through simfleet's API against the 1NCE simulator on
//! loopback: top-ups, SMS, connectivity resets, transfers and extensions through the outbox
//! (exactly once across a restart of simfleet, refusals recorded precisely), and orders,
//! products, support tickets and limits on the spot.

mod common;

use common::provider::{actions, events, setup};
use common::TestApp;
use onence_sim::{SimHandle, SimRecord};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simfleet_store::Dialect;

fn topup_orders(sim: &SimHandle, r: &SimRecord) -> usize {
    sim.state().orders().iter().filter(|o| o.order_type == "TOPUP" && o.sims.contains(&r.iccid)).count()
}

async fn top_ups_are_delivered_exactly_once_across_a_restart(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (a, b, c) = (&records[0], &records[1], &records[2]);
    let (ia, ib, ic) = (&a.iccid_with_luhn, &b.iccid_with_luhn, &c.iccid_with_luhn);

    for token in [&app.viewer, &app.operator] {
        let (status, _) = app.post(&format!("/api/v1/sims/{ia}/topup"), token, json!({})).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "only admins top up");
    }
    let (status, res) =
        app.post(&format!("/api/v1/sims/{ia}/topup"), &app.admin, json!({"payment_method": "cash"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "payment_method", "{res}");
    let (status, res) =
        app.post("/api/v1/sims/topup", &app.admin, json!({"iccids": [ib, "89882280666023067760"]})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "an unknown SIM queues nothing: {res}");
    assert!(actions(&app, ib).await.is_empty(), "nothing half-queued");

    let (status, one) =
        app.post(&format!("/api/v1/sims/{ia}/topup"), &app.admin, json!({"payment_method": "banktransfer"})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{one}");
    assert_eq!(one["status"], "pending");
    assert_eq!(one["action"], "top_up");
    let (status, bulk) = app.post("/api/v1/sims/topup", &app.admin, json!({"iccids": [ib, ic]})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{bulk}");
    assert_eq!(bulk["items"].as_array().unwrap().len(), 2);
    let requested = events(&app, ia, "PROVIDER_ACTION_REQUESTED").await;
    assert_eq!(requested.len(), 1);
    assert_eq!(requested[0]["actor"], "admin");
    let (_, audit) = app.get("/api/v1/audit-log?limit=20", &app.admin).await;
    assert!(
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["path"] == format!("/api/v1/sims/{ia}/topup") && e["actor"] == "admin" && e["status"] == 202),
        "{audit}"
    );
    let (_, quota_before) = app.get(&format!("/api/v1/sims/{ia}/quota"), &app.viewer).await;
    assert_eq!(quota_before["items"].as_array().unwrap().len(), 0, "no quota read yet");
    assert_eq!(topup_orders(&sim, a), 0, "nothing reaches the provider before the outbox runs");

    // simfleet stops between the request and the delivery; a new process delivers.
    let app = app.restart().await;
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 3, "{run}");
    for r in [a, b, c] {
        assert_eq!(topup_orders(&sim, r), 1, "exactly one top-up of {}", r.iccid);
    }
    let done = &actions(&app, ia).await[0];
    assert_eq!(done["status"], "done", "{done}");
    let number = done["result"]["order_number"].as_i64().unwrap();
    let (status, order) = app.get(&format!("/api/v1/orders/{number}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{order}");
    assert_eq!(order["order_type"], "TOPUP");
    assert_eq!(order["sims"], json!([ia]));
    assert_eq!(order["created_by"], "admin");
    assert_eq!(order["invoice_amount"], "10.00");
    assert_eq!(order["currency"], "EUR");
    let (_, mine) = app.get(&format!("/api/v1/orders?iccid={ia}"), &app.viewer).await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1, "{mine}");
    let applied = events(&app, ia, "PROVIDER_ACTION_APPLIED").await;
    assert!(applied[0]["note"].as_str().unwrap().contains(&number.to_string()), "{applied:?}");
    assert_eq!(applied[0]["actor"], "admin");
    // The quota view shows the confirmed top-up.
    let (_, quota) = app.get(&format!("/api/v1/sims/{ia}/quota"), &app.viewer).await;
    let data = quota["items"].as_array().unwrap().iter().find(|q| q["kind"] == "data").unwrap().clone();
    assert_eq!(data["last_added"], 500 * 1_048_576, "{quota}");

    // Running the outbox again delivers nothing twice.
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 0, "{run}");
    assert_eq!(topup_orders(&sim, a), 1);

    // A worker that died after the provider applied a top-up but before recording it: the
    // action is claimed again, and the provider's orders show it was applied already.
    let id = done["id"].as_i64().unwrap();
    app.db
        .store
        .execute_raw(&format!(
            "UPDATE outbox SET status = 'pending', attempts = 1, done_at = NULL, result = NULL WHERE id = {id}"
        ))
        .await
        .unwrap();
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 1, "{run}");
    assert_eq!(topup_orders(&sim, a), 1, "the retry did not top up twice");
    assert_eq!(actions(&app, ia).await[0]["result"]["order_number"], number);

    app.stop().await;
    sim.shutdown().await;
}

async fn provider_refusals_are_precise(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (expired, card, foreign) = (&records[3], &records[4], &records[5]);
    sim.state().set_expired(&expired.iccid, true);
    sim.state().set_credit_card_on_file(false);
    // The SIM was handed to another customer at the provider since the last sync.
    let other = onence_sim::fleet::iccid_for(records.len());
    app.db
        .store
        .execute_raw(&format!("UPDATE sims SET provider_ref = '{other}' WHERE iccid = '{}'", foreign.iccid_with_luhn))
        .await
        .unwrap();
    let orders_before = sim.state().orders().len();

    let (ie, ic, iforeign) = (&expired.iccid_with_luhn, &card.iccid_with_luhn, &foreign.iccid_with_luhn);
    let (s, _) = app.post(&format!("/api/v1/sims/{ie}/topup"), &app.admin, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) =
        app.post(&format!("/api/v1/sims/{ic}/topup"), &app.admin, json!({"payment_method": "creditcard"})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, _) = app.post(&format!("/api/v1/sims/{iforeign}/reset-connectivity"), &app.operator, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_failed"], 3, "{run}");

    for (iccid, kind, words) in [
        (ie, "sim-expired", "POST /api/v1/sims/extension"),
        (ic, "invalid-payment-method", "payment method"),
        (iforeign, "sim-not-owned", "does not belong"),
    ] {
        let action = &actions(&app, iccid).await[0];
        assert_eq!(action["status"], "failed", "{action}");
        assert_eq!(action["error_type"], format!("https://simfleet.dev/problems/{kind}"), "{action}");
        let failed = events(&app, iccid, "PROVIDER_ACTION_FAILED").await;
        assert_eq!(failed.len(), 1);
        assert!(failed[0]["note"].as_str().unwrap().contains(words), "{failed:?}");
        assert!(events(&app, iccid, "PROVIDER_ACTION_APPLIED").await.is_empty());
        let (_, orders) = app.get(&format!("/api/v1/orders?iccid={iccid}"), &app.viewer).await;
        assert!(orders["items"].as_array().unwrap().is_empty(), "no order recorded for a refusal");
        let (_, quota) = app.get(&format!("/api/v1/sims/{iccid}/quota"), &app.viewer).await;
        assert!(quota["items"].as_array().unwrap().is_empty(), "no quota change recorded");
    }
    assert_eq!(sim.state().orders().len(), orders_before, "the provider applied nothing");

    // Calls made on the spot answer with the precise problem.
    let (status, problem) = app.get(&format!("/api/v1/sims/{ie}/sms?refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "https://simfleet.dev/problems/sim-expired");
    assert_eq!(problem["extension_endpoint"], "/api/v1/sims/extension");
    let (status, problem) = app.delete(&format!("/api/v1/sims/{ie}/sms/1"), &app.operator).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "https://simfleet.dev/problems/sim-expired");
    let (status, problem) = app.get(&format!("/api/v1/sims/{iforeign}/sms?refresh=true"), &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["type"], "https://simfleet.dev/problems/sim-not-owned");

    // The extension is what an expired SIM accepts; then a top-up goes through.
    let (s, _) = app.post("/api/v1/sims/extension", &app.operator, json!({"iccids": [ie]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only admins extend");
    let (s, res) = app.post("/api/v1/sims/extension", &app.admin, json!({"iccids": [ie]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let app = app.restart().await;
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 1, "{run}");
    assert!(!sim.state().sim(&expired.iccid).unwrap().expired);
    let extensions = sim.state().orders().iter().filter(|o| o.order_type == "TARIFF_CHANGE").count();
    assert_eq!(extensions, 1, "extended exactly once");
    let (s, _) = app.post(&format!("/api/v1/sims/{ie}/topup"), &app.admin, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 1, "{run}");
    assert_eq!(topup_orders(&sim, expired), 1);

    app.stop().await;
    sim.shutdown().await;
}

async fn sms_and_connectivity_resets(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (a, b, c) = (&records[6], &records[7], &records[8]);
    let (ia, ib, ic) = (&a.iccid_with_luhn, &b.iccid_with_luhn, &c.iccid_with_luhn);
    sim.state().set_link_state(&a.iccid, onence_sim::LinkState::Online);
    sim.state().set_link_state(&c.iccid, onence_sim::LinkState::Offline);
    let sms_before = |r: &SimRecord| sim.state().sms(&r.iccid).unwrap().len();
    let (before_a, before_c) = (sms_before(a), sms_before(c));

    let (s, _) = app.post(&format!("/api/v1/sims/{ia}/sms"), &app.viewer, json!({"payload": "hi"})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "viewers do not send SMS");
    let (s, res) =
        app.post(&format!("/api/v1/sims/{ia}/sms"), &app.operator, json!({"payload": "x", "udh": "zz"})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "udh");
    let (s, res) =
        app.post(&format!("/api/v1/sims/{ia}/sms"), &app.operator, json!({"payload": "REBOOT now", "dcs": 0})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, res) =
        app.post("/api/v1/sims/sms", &app.operator, json!({"iccids": [ib, ic], "payload": "CONFIG interval=60"})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, res) = app.post(&format!("/api/v1/sims/{ia}/reset-connectivity"), &app.operator, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, res) = app.post("/api/v1/sims/reset-connectivity", &app.operator, json!({"iccids": [ib]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, _) = app.post("/api/v1/sims/reset-connectivity", &app.viewer, json!({"iccids": [ib]})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);

    let app = app.restart().await;
    // The provider takes the SMS (the oldest action of each SIM) but its answers are lost:
    // the actions stay pending, to be retried.
    sim.set_faults(onence_sim::Faults { write_drop_rate: 1.0, ..Default::default() });
    let run = app.run_job("outbox").await;
    assert_eq!((run["items_ok"].as_i64(), run["items_failed"].as_i64()), (Some(0), Some(3)), "{run}");
    assert_eq!(sms_before(a), before_a + 1, "applied at the provider although unacknowledged");
    sim.set_faults(onence_sim::Faults::default());
    app.db.store.execute_raw("UPDATE outbox SET next_attempt_at = created_at WHERE status = 'pending'").await.unwrap();
    // Per SIM in order: A's SMS first, then its reset, so the outbox runs until both are done.
    let mut delivered = 0;
    for _ in 0..3 {
        delivered += app.run_job("outbox").await["items_ok"].as_i64().unwrap();
    }
    assert_eq!(delivered, 5);
    let sent: Vec<_> = sim.state().sms(&a.iccid).unwrap().into_iter().filter(|m| m.payload == "REBOOT now").collect();
    assert_eq!(sent.len(), 1, "sent exactly once");
    assert_eq!(sms_before(a), before_a + 1);
    assert_eq!(sms_before(c), before_c + 1);
    let mut resets = 0;
    for _ in 0..40 {
        resets = sim.state().events(&a.iccid).unwrap().iter().filter(|e| e.description == "Connectivity reset").count();
        if resets > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(resets, 1, "reset exactly once");
    let applied = events(&app, ia, "PROVIDER_ACTION_APPLIED").await;
    assert!(applied.iter().any(|e| e["note"] == "connectivity reset done by the provider"), "{applied:?}");
    assert!(applied.iter().all(|e| e["actor"] == "operator"));

    // The SMS tab: the sent message with its delivery status, synced after delivery.
    let (_, list) = app.get(&format!("/api/v1/sims/{ia}/sms?direction=MT"), &app.viewer).await;
    let mine = list["items"].as_array().unwrap().iter().find(|m| m["payload"] == "REBOOT now").cloned();
    assert_eq!(mine.expect("listed")["status"], "DELIVERED", "{list}");
    let (_, pending) = app.get(&format!("/api/v1/sims/{ic}/sms?status=PENDING"), &app.viewer).await;
    let buffered = pending["items"][0].clone();
    assert_eq!(buffered["payload"], "CONFIG interval=60", "{pending}");
    let (_, fleet) = app.get("/api/v1/sms?direction=MT&limit=1000", &app.viewer).await;
    let ours = fleet["items"].as_array().unwrap().iter().filter(|m| m["payload"] == "CONFIG interval=60").count();
    assert_eq!(ours, 2, "{fleet}");

    // Cancel the buffered one: gone at the provider and here.
    let id = buffered["id"].as_i64().unwrap();
    let (s, _) = app.delete(&format!("/api/v1/sims/{ic}/sms/{id}"), &app.viewer).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, res) = app.delete(&format!("/api/v1/sims/{ic}/sms/{id}"), &app.operator).await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{res}");
    assert!(sim.state().sms(&c.iccid).unwrap().iter().all(|m| m.id != id as u64));
    let (_, pending) = app.get(&format!("/api/v1/sims/{ic}/sms?status=PENDING"), &app.viewer).await;
    assert!(pending["items"].as_array().unwrap().is_empty());
    let cancelled = events(&app, ic, "PROVIDER_ACTION_APPLIED").await;
    assert!(cancelled
        .iter()
        .any(|e| e["note"] == format!("SMS {id} cancelled at the provider") && e["actor"] == "operator"));
    let (s, res) = app.delete(&format!("/api/v1/sims/{ia}/sms/{}", sent[0].id), &app.operator).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "a delivered SMS cannot be cancelled: {res}");
    assert_eq!(res["type"], "https://simfleet.dev/problems/provider-rejected");

    // The sms job mirrors every SIM's messages, MO included.
    let run = app.run_job("sms").await;
    assert_eq!(run["status"], "success", "{run}");
    assert_eq!(run["items_ok"], 12);
    let (_, all) = app.get("/api/v1/sms?count=true&limit=1", &app.viewer).await;
    let total: usize = records.iter().map(|r| sim.state().sms(&r.iccid).unwrap().len()).sum();
    assert_eq!(all["total"], total as i64);

    app.stop().await;
    sim.shutdown().await;
}

async fn orders_products_support_limits_and_transfers(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let a = &records[9];
    let ia = &a.iccid_with_luhn;

    // Products: fetched once, then cached.
    let (s, products) = app.get("/api/v1/products", &app.viewer).await;
    assert_eq!(s, StatusCode::OK, "{products}");
    let items = products["items"].as_array().unwrap();
    assert_eq!(items.len(), 3);
    assert_eq!(items[0]["one_time_charges"][0]["amount"], "10.00");
    assert_eq!(items[0]["min_contract_duration"], 120);
    let (s, _) = app.call(Method::POST, "/api/v1/products/refresh", Some(&app.viewer), None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = app.call(Method::POST, "/api/v1/products/refresh", Some(&app.operator), None).await;
    assert_eq!(s, StatusCode::OK);

    // Orders: a quote first, then the order.
    let orders_before = sim.state().orders().len();
    let body = json!({"products": [{"product_id": 1001, "quantity": 10}, {"product_id": 1003, "quantity": 20}],
        "delivery_address": {"company": "ACME", "city": "Lyon", "country": "FR"}, "customer_reference": "PO-7"});
    let (s, _) = app.post("/api/v1/orders", &app.operator, body.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "only admins order");
    let (s, quote) = app.post("/api/v1/orders", &app.admin, body.clone()).await;
    assert_eq!(s, StatusCode::OK, "{quote}");
    assert_eq!(quote["total"], "400.00", "10 × 10 + 20 × 15: {quote}");
    assert_eq!(quote["currency"], "EUR");
    assert_eq!(quote["confirmation_required"], true);
    assert_eq!(sim.state().orders().len(), orders_before, "a quote orders nothing");
    let (s, bad) = app
        .post("/api/v1/orders", &app.admin, json!({"products": [{"product_id": 1003, "quantity": 5}], "confirm": true}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "quantities come in packages of ten: {bad}");
    assert_eq!(bad["errors"][0]["field"], "products[0]");
    let mut confirmed = body.clone();
    confirmed["confirm"] = json!(true);
    let (s, order) = app.post("/api/v1/orders", &app.admin, confirmed).await;
    assert_eq!(s, StatusCode::CREATED, "{order}");
    assert_eq!(sim.state().orders().len(), orders_before + 1);
    assert_eq!(order["order_type"], "ADDITIONAL_ORDER");
    assert_eq!(order["created_by"], "admin");
    assert_eq!(order["customer_reference"], "PO-7");
    assert_eq!(order["delivery_address"]["city"], "Lyon");
    assert_eq!(order["products"], json!([{"product_id": 1001, "quantity": 10}, {"product_id": 1003, "quantity": 20}]));
    let (_, listed) = app.get("/api/v1/orders?refresh=true&count=true", &app.viewer).await;
    assert_eq!(listed["total"], sim.state().orders().len() as i64, "{listed}");
    let (_, first) = app.get("/api/v1/orders?type=FIRST_ORDER", &app.viewer).await;
    assert_eq!(first["items"].as_array().unwrap().len(), 1);
    let (_, progress) = app.get("/api/v1/orders?status=IN_PROGRESS", &app.viewer).await;
    assert_eq!(progress["items"][0]["order_number"], order["order_number"]);
    let today = chrono::Utc::now().date_naive();
    let (_, dated) = app.get(&format!("/api/v1/orders?from={today}&to={today}"), &app.viewer).await;
    assert!(dated["items"].as_array().unwrap().iter().all(|o| o["order_type"] != "FIRST_ORDER"), "{dated}");

    // Support: a ticket about a SIM, answered by the provider.
    let ticket = json!({"subject": "No data in Lyon", "text": "Device drops off at night.", "reply_to": "ops@example.com", "iccids": [ia]});
    let (s, _) = app.post("/api/v1/support-tickets", &app.viewer, ticket.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, bad) = app
        .post("/api/v1/support-tickets", &app.operator, json!({"subject": "", "text": "x", "reply_to": "nope"}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    let (s, created) = app.post("/api/v1/support-tickets", &app.operator, ticket).await;
    assert_eq!(s, StatusCode::CREATED, "{created}");
    let case_id = created["case_id"].as_str().expect("the provider's case was identified").to_owned();
    assert_eq!(created["sims"], json!([ia]));
    assert_eq!(created["status"], "OPEN");
    assert_eq!(created["reply_to"], "ops@example.com");
    let at_provider = sim.state().service_requests();
    assert!(at_provider.iter().any(|r| r.case_id == case_id && r.reply_to.as_deref() == Some("ops@example.com")));
    let (_, of_sim) = app.get(&format!("/api/v1/sims/{ia}/support-tickets"), &app.viewer).await;
    assert_eq!(of_sim["items"].as_array().unwrap().len(), 1);
    let opened = events(&app, ia, "SUPPORT_TICKET_OPENED").await;
    assert_eq!(opened.len(), 1);
    assert_eq!(opened[0]["actor"], "operator");
    assert!(sim.state().answer_service_request(&case_id, "We are looking into it.", "IN_PROGRESS"));
    let (_, refreshed) = app.get("/api/v1/support-tickets?refresh=true&status=IN_PROGRESS", &app.viewer).await;
    let id = refreshed["items"][0]["id"].as_i64().unwrap();
    assert_eq!(id, created["id"].as_i64().unwrap(), "{refreshed}");
    let (_, detail) = app.get(&format!("/api/v1/support-tickets/{id}"), &app.viewer).await;
    let thread = detail["communications"].as_array().unwrap();
    assert_eq!(thread.len(), 2, "{detail}");
    assert_eq!(thread[1]["direction"], "OUT");
    assert_eq!(thread[1]["text"], "We are looking into it.");
    let (_, all) = app.get("/api/v1/support-tickets?count=true", &app.viewer).await;
    assert_eq!(all["total"], at_provider.len() as i64, "the provider's older cases are listed too");

    // Limits: read with the choices, changed by an admin only.
    let (s, limits) = app.get("/api/v1/limits", &app.viewer).await;
    assert_eq!(s, StatusCode::OK, "{limits}");
    assert_eq!(limits["data"]["current"]["id"], 4);
    assert_eq!(limits["data"]["options"].as_array().unwrap().len(), 4);
    assert_eq!(limits["sms_mo"]["options"].as_array().unwrap().len(), 3);
    let (s, _) = app.patch("/api/v1/limits", &app.operator, json!({"data_limit_id": 2})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, bad) = app.patch("/api/v1/limits", &app.admin, json!({"data_limit_id": 99})).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{bad}");
    assert_eq!(sim.state().limits().data, 4, "nothing changed");
    let (s, changed) = app.patch("/api/v1/limits", &app.admin, json!({"data_limit_id": 2, "sms_mo_limit_id": 1})).await;
    assert_eq!(s, StatusCode::OK, "{changed}");
    assert_eq!(changed["data"]["current"]["limit"], "50");
    assert_eq!((sim.state().limits().data, sim.state().limits().sms_mo), (2, 1));
    // Per SIM: whether it reached the monthly data limit, as the provider reports it.
    let light = records
        .iter()
        .min_by_key(|r| {
            let today = sim.state().today();
            let first = chrono::Datelike::with_day(&today, 1).unwrap();
            sim.state().usage(&r.iccid, first, today).unwrap().iter().map(|(_, u)| u.data_umb()).sum::<u64>()
        })
        .unwrap();
    sim.state().set_day_usage(
        &light.iccid,
        sim.state().today(),
        onence_sim::DayUsage { rx_umb: 60_000_000, tx_umb: 0, sms_mo: 0, sms_mt: 0 },
    );
    let (s, state) = app.get(&format!("/api/v1/sims/{}/data-traffic-limit", light.iccid_with_luhn), &app.viewer).await;
    assert_eq!(s, StatusCode::OK, "{state}");
    assert_eq!(state["state"], "REACHED", "60 MB today is over the 50 MB limit");
    let (s, res) = app.patch("/api/v1/limits", &app.admin, json!({"data_limit_id": 4})).await;
    assert_eq!(s, StatusCode::OK, "{res}");
    let (_, state) = app.get(&format!("/api/v1/sims/{}/data-traffic-limit", light.iccid_with_luhn), &app.viewer).await;
    assert_eq!(state["state"], "NOT_REACHED", "500 MB is not reached: {state}");

    // Transfer to another organisation and auto top-up, through the outbox across a restart.
    let (s, _) =
        app.post("/api/v1/sims/transfer", &app.operator, json!({"iccids": [ia], "target_organisation": 42})).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, res) =
        app.post("/api/v1/sims/transfer", &app.admin, json!({"iccids": [ia], "target_organisation": 42})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let ib = &records[10].iccid_with_luhn;
    let (s, res) = app.post("/api/v1/sims/auto-topup", &app.admin, json!({"iccids": [ib], "enabled": true})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    assert!(sim.state().transfers().is_empty());
    let app = app.restart().await;
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 2, "{run}");
    let transfers = sim.state().transfers();
    assert_eq!(transfers.len(), 1, "transferred exactly once");
    assert_eq!(transfers[0]["target_organisation"], 42);
    assert_eq!(transfers[0]["iccids"], json!([a.iccid]));
    assert!(sim.state().sim(&records[10].iccid).unwrap().auto_topup);

    app.stop().await;
    sim.shutdown().await;
}

async fn imei_lock_of(app: &TestApp, iccid: &str) -> Value {
    app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await.1["imei_lock"].clone()
}

/// Locking a SIM to its device goes through the outbox to the provider, and the SIM sync
/// then shows it locked here; releasing it works the same way.
async fn imei_lock_goes_through_the_outbox(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let record = sim.state().sims().into_iter().find(|r| !r.imei_lock).expect("an unlocked SIM");
    let iccid = &record.iccid_with_luhn;
    let path = format!("/api/v1/sims/{iccid}/imei-lock");
    assert_eq!(imei_lock_of(&app, iccid).await, json!(false));

    let (s, _) = app.post(&path, &app.viewer, json!({"locked": true})).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "viewers change nothing");
    let (s, res) = app.post(&path, &app.operator, json!({"locked": "yes"})).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{res}");
    assert!(res["detail"].as_str().unwrap().contains("locked"), "{res}");
    let own = app.sim(90, json!({})).await;
    let (s, res) = app.post(&format!("/api/v1/sims/{own}/imei-lock"), &app.operator, json!({"locked": true})).await;
    assert!(s.is_client_error() && res["detail"].as_str().unwrap().contains("no provider"), "{s} {res}");

    let (s, res) = app.post(&path, &app.operator, json!({"locked": true})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    assert_eq!((res["action"].as_str(), res["status"].as_str()), (Some("set_imei_lock"), Some("pending")), "{res}");
    assert!(!sim.state().sim(&record.iccid).unwrap().imei_lock, "nothing reaches the provider before the outbox runs");
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 1, "{run}");
    assert!(sim.state().sim(&record.iccid).unwrap().imei_lock);
    let status_kept = sim.state().sim(&record.iccid).unwrap().status;
    assert_eq!(status_kept, record.status, "the lock leaves the SIM's status as it was");
    let applied = events(&app, iccid, "PROVIDER_ACTION_APPLIED").await;
    assert!(applied.iter().any(|e| e["note"] == "IMEI lock turned on at the provider"), "{applied:?}");
    app.run_job("sims").await;
    assert_eq!(imei_lock_of(&app, iccid).await, json!(true));

    let (s, _) = app.post(&path, &app.operator, json!({"locked": false})).await;
    assert_eq!(s, StatusCode::ACCEPTED);
    app.run_job("outbox").await;
    app.run_job("sims").await;
    assert!(!sim.state().sim(&record.iccid).unwrap().imei_lock);
    assert_eq!(imei_lock_of(&app, iccid).await, json!(false));
    app.stop().await;
    sim.shutdown().await;
}

/// Extensions and resets whose answers were lost are not applied twice when retried, and a
/// refused SMS cancellation stays in the SIM's history.
async fn lost_answers_are_not_applied_twice(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 12).await else { return };
    let records = sim.state().sims();
    let (a, b) = (&records[0], &records[1]);
    let (ia, ib) = (&a.iccid_with_luhn, &b.iccid_with_luhn);
    sim.state().set_expired(&a.iccid, true);
    let extensions =
        || sim.state().orders().iter().filter(|o| o.order_type == "TARIFF_CHANGE" && o.sims.contains(&a.iccid)).count();
    let resets =
        || sim.state().events(&b.iccid).unwrap().iter().filter(|e| e.description == "Connectivity reset").count();
    let (s, res) = app.post("/api/v1/sims/extension", &app.admin, json!({"iccids": [ia]})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");
    let (s, res) = app.post(&format!("/api/v1/sims/{ib}/reset-connectivity"), &app.operator, json!({})).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{res}");

    // The provider applies both, but its answers are lost: both stay pending.
    sim.set_faults(onence_sim::Faults { write_drop_rate: 1.0, ..Default::default() });
    let run = app.run_job("outbox").await;
    assert_eq!((run["items_ok"].as_i64(), run["items_failed"].as_i64()), (Some(0), Some(2)), "{run}");
    assert_eq!(extensions(), 1);
    assert!(!sim.state().sim(&a.iccid).unwrap().expired, "extended although unacknowledged");
    for _ in 0..40 {
        if resets() > 0 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    assert_eq!(resets(), 1);
    assert!(actions(&app, ia).await.iter().all(|x| x["status"] == "pending"));

    // simfleet restarts; the retries find the provider's records and send nothing again.
    sim.set_faults(onence_sim::Faults::default());
    let app = app.restart().await;
    app.db.store.execute_raw("UPDATE outbox SET next_attempt_at = created_at WHERE status = 'pending'").await.unwrap();
    let run = app.run_job("outbox").await;
    assert_eq!(run["items_ok"], 2, "{run}");
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    assert_eq!(extensions(), 1, "extended (and billed) exactly once");
    assert_eq!(resets(), 1, "reset exactly once");
    for (iccid, note) in [
        (ia, "extension applied by the provider (found after a retry)"),
        (ib, "connectivity reset done by the provider (found after a retry)"),
    ] {
        let applied = events(&app, iccid, "PROVIDER_ACTION_APPLIED").await;
        assert_eq!(applied.len(), 1, "{applied:?}");
        assert_eq!(applied[0]["note"], note);
        assert_eq!(actions(&app, iccid).await[0]["status"], "done");
    }

    // A cancellation the provider refuses answers its problem and is recorded on the SIM.
    let (s, problem) = app.delete(&format!("/api/v1/sims/{ib}/sms/999999"), &app.operator).await;
    assert!(s.is_client_error(), "{s} {problem}");
    let failed = events(&app, ib, "PROVIDER_ACTION_FAILED").await;
    assert_eq!(failed.len(), 1, "{failed:?}");
    assert!(
        failed[0]["note"].as_str().unwrap().starts_with("cancelling SMS 999999 refused by the provider"),
        "{failed:?}"
    );
    assert_eq!(failed[0]["actor"], "operator");

    app.stop().await;
    sim.shutdown().await;
}

/// `POST /orders` with an `Idempotency-Key` and the order confirmed.
async fn order_with_key(app: &TestApp, key: &str, body: &Value) -> (StatusCode, Value, bool) {
    let res = app
        .http
        .post(format!("{}/api/v1/orders", app.base))
        .bearer_auth(&app.admin)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .unwrap();
    let status = res.status();
    let replayed = res.headers().get("idempotent-replayed").is_some_and(|v| v == "true");
    (status, res.json().await.unwrap(), replayed)
}

async fn orders_with_an_idempotency_key_are_placed_once(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect, 3).await else { return };
    let additional = || sim.state().orders().iter().filter(|o| o.order_type == "ADDITIONAL_ORDER").count();
    let body =
        json!({"products": [{"product_id": 1001, "quantity": 10}], "customer_reference": "PO-8", "confirm": true});

    let (s, first, replayed) = order_with_key(&app, "po-8", &body).await;
    assert_eq!((s, replayed), (StatusCode::CREATED, false), "{first}");
    let (s, again, replayed) = order_with_key(&app, "po-8", &body).await;
    assert_eq!((s, replayed), (StatusCode::CREATED, true), "{again}");
    assert_eq!(again["order_number"], first["order_number"]);
    assert_eq!(additional(), 1, "a retried request orders once");
    let mut other = body.clone();
    other["products"][0]["quantity"] = json!(20);
    let (s, problem, _) = order_with_key(&app, "po-8", &other).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(problem["errors"][0]["field"], "Idempotency-Key");
    let (s, problem, _) = order_with_key(&app, "", &body).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{problem}");
    assert_eq!(additional(), 1);

    // A refused order frees its key: the corrected request may use it.
    let (s, _, _) =
        order_with_key(&app, "po-9", &json!({"products": [{"product_id": 1003, "quantity": 5}], "confirm": true}))
            .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);

    // The provider places an order but its answer is lost: the key cannot order again.
    sim.set_faults(onence_sim::Faults { write_drop_rate: 1.0, ..Default::default() });
    let (s, problem, _) = order_with_key(&app, "po-10", &body).await;
    assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{problem}");
    sim.set_faults(onence_sim::Faults::default());
    assert_eq!(additional(), 2);
    let (s, problem, _) = order_with_key(&app, "po-10", &body).await;
    assert_eq!(s, StatusCode::CONFLICT, "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("POST /api/v1/orders/refresh"), "{problem}");
    assert_eq!(additional(), 2, "the unknown outcome is not ordered again");
    let (_, listed) = app.get("/api/v1/orders?refresh=true&type=ADDITIONAL_ORDER", &app.viewer).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 2, "the lost order shows after a refresh: {listed}");

    app.stop().await;
    sim.shutdown().await;
}

dialect_tests!(
    top_ups_are_delivered_exactly_once_across_a_restart,
    provider_refusals_are_precise,
    sms_and_connectivity_resets,
    imei_lock_goes_through_the_outbox,
    orders_products_support_limits_and_transfers,
    lost_answers_are_not_applied_twice,
    orders_with_an_idempotency_key_are_placed_once,
);
