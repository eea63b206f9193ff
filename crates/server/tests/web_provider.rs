//! The dashboard's provider pages over plain HTTP against the 1NCE simulator, on both engines:
//! products, orders (quote, then confirm), support requests, limits, and a SIM's SMS, support,
//! top-up, reset and extension; role checks, CSRF and the provider's refusals as messages.

mod common;

use common::web::*;
use common::TestApp;
use onence_sim::SimHandle;
use reqwest::header::COOKIE;
use reqwest::StatusCode;
use simfleet_store::Dialect;

async fn setup(dialect: Dialect) -> Option<(SimHandle, TestApp)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(8, 33), listener).await.unwrap();
    let app = TestApp::spawn_with(dialect, Some(sim.base_url().to_owned())).await?;
    assert_eq!(app.run_job("sims").await["status"], "success");
    Some((sim, app))
}

async fn catalogue_orders_and_limits(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let admin = sign_in(&app, "admin").await;

    let (status, html) = get(&app, &admin.cookie, "/provider/products").await;
    assert_eq!(status, StatusCode::OK);
    for words in ["1NCE IoT FlexSIM - Standard", "10.00 EUR", "120 months", "in packs of 10", "Refresh from provider"] {
        assert!(html.contains(words), "{words} in the catalogue");
    }
    let res = post(&app, &admin, "/provider/products/refresh", &[]).await;
    assert!(flash(&follow(&app, &admin, res).await.1).contains("3 product(s)"));

    // The order form, its quote page and the order.
    let before = sim.state().orders().len();
    let (status, html) = get(&app, &admin.cookie, "/provider/orders/new?product_id=1003").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<option value=\"1003\" selected"));
    let bad = post(&app, &admin, "/provider/orders/quote", &[("product_id", "1003"), ("quantity", "5")]).await;
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(bad.text().await.unwrap().contains("in steps of 10"), "the API's rule, next to the quantity");
    let form = [("product_id", "1001"), ("quantity", "10"), ("customer_reference", "PO-9"), ("city", "Lyon")];
    let res = post(&app, &admin, "/provider/orders/quote", &form).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"quote-total\">100.00 <small>EUR"), "the cost is stated");
    assert!(html.contains("Confirm and order for 100.00 EUR"));
    assert_eq!(sim.state().orders().len(), before, "a quote orders nothing");
    let (to, html) = follow(&app, &admin, post(&app, &admin, "/provider/orders", &form).await).await;
    assert_eq!(sim.state().orders().len(), before + 1);
    assert!(flash(&html).contains("placed with the provider"));
    let number = to.rsplit('/').next().unwrap().to_owned();
    assert!(html.contains("1NCE IoT FlexSIM - Standard") && html.contains("Lyon") && html.contains("PO-9"));
    let (_, list) = get(&app, &admin.cookie, "/provider/orders?type=ADDITIONAL_ORDER").await;
    assert!(list.contains(&format!("data-order=\"{number}\"")));
    let res = post(&app, &admin, "/provider/orders/refresh", &[]).await;
    assert!(flash(&follow(&app, &admin, res).await.1).contains("Orders read from the provider"));
    let (_, first) = get(&app, &admin.cookie, "/provider/orders?type=FIRST_ORDER").await;
    assert!(!first.contains(&format!("data-order=\"{number}\"")) && first.contains("data-order=\"2000000001\""));
    let (_, detail) = get(&app, &admin.cookie, "/provider/orders/2000000001").await;
    assert!(detail.contains("id=\"order-sims\"") && detail.contains("80.00 <small>EUR"), "the provider's order");

    // Limits: the provider's choices in selects; an admin changes them there.
    let (_, html) = get(&app, &admin.cookie, "/provider/limits").await;
    assert!(html.contains("name=\"data_limit_id\"") && html.contains("name=\"sms_mt_limit_id\""));
    let res = post(&app, &admin, "/provider/limits", &[("data_limit_id", "2"), ("sms_mo_limit_id", "1")]).await;
    assert!(flash(&follow(&app, &admin, res).await.1).contains("Limits changed"));
    assert_eq!((sim.state().limits().data, sim.state().limits().sms_mo), (2, 1));
    let res = post(&app, &admin, "/provider/limits", &[("data_limit_id", "99")]).await;
    let message = flash(&follow(&app, &admin, res).await.1);
    assert!(message.contains("Limits not changed") && message.contains("must be one of"), "{message}");

    app.stop().await;
    sim.shutdown().await;
}

async fn viewers_read_operators_act_admins_spend(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let iccid = sim.state().sims()[0].iccid_with_luhn.clone();
    let orders_before = sim.state().orders().len();
    let viewer = sign_in(&app, "viewer").await;
    for page in ["/provider/products", "/provider/orders", "/provider/support", "/provider/limits"] {
        let (status, html) = get(&app, &viewer.cookie, page).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert!(!html.contains("/refresh\"") && !html.contains("/provider/orders/new"), "no buttons on {page}");
    }
    assert!(!get(&app, &viewer.cookie, "/provider/limits").await.1.contains("<select"), "limits are read only");
    let (_, page) = get(&app, &viewer.cookie, &format!("/sims/{iccid}")).await;
    for form in ["/sms\"", "/topup\"", "/reset-connectivity\"", "/imei-lock\"", "action=\"/provider/support\""] {
        assert!(!page.contains(form), "no {form} form for a viewer");
    }
    assert!(!get(&app, &viewer.cookie, "/sims").await.1.contains("value=\"topup\""));
    let operator = sign_in(&app, "operator").await;
    let (_, page) = get(&app, &operator.cookie, &format!("/sims/{iccid}")).await;
    assert!(page.contains("id=\"send-sms\"") && page.contains("id=\"reset-connectivity\""));
    assert!(page.contains("id=\"imei-lock-toggle\""), "operators lock SIMs to their device");
    assert!(!page.contains("id=\"top-up\""), "top-ups are for admins");
    let (_, list) = get(&app, &operator.cookie, "/sims").await;
    assert!(list.contains("value=\"sms\"") && !list.contains("value=\"topup\""));

    let sms = format!("/sims/{iccid}/sms");
    let topup = format!("/sims/{iccid}/topup");
    let reset = format!("/sims/{iccid}/reset-connectivity");
    let bulk_topup = [("action", "topup"), ("iccid", iccid.as_str())];
    let bulk_transfer = [("action", "transfer"), ("iccid", iccid.as_str()), ("target_organisation", "42")];
    let bulk_auto = [("action", "auto-topup-on"), ("iccid", iccid.as_str())];
    let imei_lock = format!("/sims/{iccid}/imei-lock");
    let forbidden: [(&Session, &str, Form); 13] = [
        (&viewer, &sms, &[("payload", "hi")]),
        (&viewer, &reset, &[]),
        (&viewer, &imei_lock, &[("lock", "on")]),
        (&viewer, "/provider/support", &[("subject", "s"), ("text", "t")]),
        (&viewer, "/provider/products/refresh", &[]),
        (&operator, &topup, &[]),
        (&operator, "/provider/orders/quote", &[("product_id", "1001"), ("quantity", "1")]),
        (&operator, "/provider/orders", &[("product_id", "1001"), ("quantity", "1")]),
        (&operator, "/provider/limits", &[("data_limit_id", "2")]),
        (&operator, &format!("/sims/{iccid}/extend"), &[]),
        (&operator, "/sims/bulk", &bulk_topup),
        (&operator, "/sims/bulk", &bulk_transfer),
        (&operator, "/sims/bulk", &bulk_auto),
    ];
    for (s, path, form) in forbidden {
        assert_eq!(post(&app, s, path, form).await.status(), StatusCode::FORBIDDEN, "{path}");
    }
    let (_, actions) = app.get(&format!("/api/v1/sims/{iccid}/provider-actions"), &app.viewer).await;
    assert!(actions["items"].as_array().unwrap().is_empty(), "nothing was queued");

    // Without the form token nobody gets through, whatever the role.
    let admin = sign_in(&app, "admin").await;
    let res = client()
        .post(format!("{}{topup}", app.base))
        .header(COOKIE, &admin.cookie)
        .form(&[("payment_method", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let forged = [("_csrf", operator.csrf.as_str()), ("payload", "x")];
    let res = client().post(format!("{}{sms}", app.base)).header(COOKIE, &admin.cookie).form(&forged).send().await;
    assert_eq!(res.unwrap().status(), StatusCode::FORBIDDEN, "another session's token");
    assert_eq!(sim.state().orders().len(), orders_before, "nothing was ordered");

    // An operator locks the SIM to its device from the details; the next SIM sync shows it.
    let lock = if page.contains("value=\"off\"") { "off" } else { "on" };
    let message = flash(&follow(&app, &operator, post(&app, &operator, &imei_lock, &[("lock", lock)]).await).await.1);
    let expected = if lock == "on" { "IMEI lock queued" } else { "Release of the IMEI lock queued" };
    assert!(message.contains(expected), "{message}");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    app.run_job("sims").await;
    let (_, after) = get(&app, &operator.cookie, &format!("/sims/{iccid}")).await;
    let shown = if lock == "on" { ">Release</button>" } else { ">Lock to this device</button>" };
    assert!(after.contains(shown), "the page shows the new lock state");

    app.stop().await;
    sim.shutdown().await;
}

async fn sim_page_sms_support_topups_and_refusals(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let records = sim.state().sims();
    let (a, b, c) = (&records[1], &records[2], &records[3]);
    let (ia, ib, ic) = (&a.iccid_with_luhn, &b.iccid_with_luhn, &c.iccid_with_luhn);
    sim.state().set_link_state(&a.iccid, onence_sim::LinkState::Online);
    let operator = sign_in(&app, "operator").await;
    let admin = sign_in(&app, "admin").await;

    // SMS from the SIM page: queued at once, listed with its delivery status after delivery.
    let res = post(&app, &operator, &format!("/sims/{ia}/sms"), &[("payload", ""), ("expiry", "")]).await;
    assert!(flash(&follow(&app, &operator, res).await.1).contains("payload: must be 1 to 1600 characters"));
    let res = post(&app, &operator, &format!("/sims/{ia}/sms"), &[("payload", "PING 42"), ("expiry", "")]).await;
    let (to, html) = follow(&app, &operator, res).await;
    assert!(to.ends_with("#sms"));
    assert!(flash(&html).contains("SMS queued"));
    assert!(html.contains("sms-queued") && html.contains("PING 42"), "listed as queued");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    let (_, html) = get(&app, &operator.cookie, &format!("/sims/{ia}")).await;
    let row = html.split("data-sms=").find(|r| r.contains("PING 42")).expect("the sent SMS is listed");
    assert!(row.contains("sms-delivered"), "with its delivery status");
    // Cancelling a delivered message: the provider's refusal is shown, readably.
    let id = row.split('"').nth(1).unwrap();
    let res = post(&app, &operator, &format!("/sims/{ia}/sms/{id}/cancel"), &[]).await;
    let message = flash(&follow(&app, &operator, res).await.1);
    assert!(message.starts_with(&format!("SMS {id} not cancelled. Refused by the provider")), "{message}");

    // Support from the SIM page, prefilled with the SIM.
    let form = [("subject", "No data at night"), ("text", "Drops off after 22:00."), ("reply_to", ""), ("iccids", ia)];
    let (to, html) = follow(&app, &operator, post(&app, &operator, "/provider/support", &form).await).await;
    assert!(to.starts_with("/provider/support/"));
    assert!(flash(&html).contains("Support request sent"));
    assert!(html.contains(&format!("href=\"/sims/{ia}\"")), "the SIM is referenced");
    let (_, list) = get(&app, &operator.cookie, "/provider/support").await;
    assert!(list.contains("No data at night") && list.contains(&format!("href=\"/sims/{ia}\"")));
    let (_, page) = get(&app, &operator.cookie, &format!("/sims/{ia}")).await;
    assert!(page.contains("id=\"sim-tickets\"") && page.contains("No data at night"));
    let res = post(&app, &operator, "/provider/support", &[("subject", ""), ("text", ""), ("reply_to", "nope")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("must be 1 to 200 characters") && html.contains("must be an e-mail address"));

    // Bulk top-up and reset from the SIM list, through the outbox.
    let back = [("back", "/sims")];
    let mut bulk = vec![("action", "topup"), ("iccid", ib.as_str()), ("iccid", ic.as_str()), ("payment_method", "")];
    bulk.extend(back);
    let message = flash(&follow(&app, &admin, post(&app, &admin, "/sims/bulk", &bulk).await).await.1);
    assert!(message.contains("Top-up queued for 2 SIM(s)"), "{message}");
    let reset = [("action", "reset-connectivity"), ("iccid", ib.as_str()), ("back", "/sims")];
    let message = flash(&follow(&app, &operator, post(&app, &operator, "/sims/bulk", &reset).await).await.1);
    assert!(message.contains("Connectivity reset queued for 1 SIM(s)"), "{message}");
    assert_eq!(app.run_job("outbox").await["items_ok"], 3);
    for r in [b, c] {
        let orders = sim.state().orders();
        assert_eq!(orders.iter().filter(|o| o.order_type == "TOPUP" && o.sims.contains(&r.iccid)).count(), 1);
    }
    let (_, orders) = get(&app, &admin.cookie, "/provider/orders?type=TOPUP").await;
    assert_eq!(orders.matches("data-order=").count(), 2);

    // Automatic top-up for a selection, on at the provider once delivered.
    let auto = [("action", "auto-topup-on"), ("iccid", ib.as_str()), ("iccid", ic.as_str()), ("back", "/sims")];
    let message = flash(&follow(&app, &admin, post(&app, &admin, "/sims/bulk", &auto).await).await.1);
    assert!(message.contains("Automatic top-up on queued for 2 SIM(s)"), "{message}");
    assert_eq!(app.run_job("outbox").await["items_ok"], 2);
    assert!([b, c].iter().all(|r| sim.state().sim(&r.iccid).unwrap().auto_topup));

    // An expired SIM: the refusal leads to the offer of an extension, for an admin.
    sim.state().set_expired(&a.iccid, true);
    let res = post(&app, &admin, &format!("/sims/{ia}/topup"), &[("payment_method", "")]).await;
    assert!(flash(&follow(&app, &admin, res).await.1).contains("Top-up queued"));
    assert_eq!(app.run_job("outbox").await["items_failed"], 1);
    let (_, page) = get(&app, &admin.cookie, &format!("/sims/{ia}")).await;
    assert!(page.contains("id=\"sim-expired\"") && page.contains("id=\"extend-sim\""));
    let res = post(&app, &operator, &format!("/sims/{ia}/sms/refresh"), &[]).await;
    let message = flash(&follow(&app, &operator, res).await.1);
    assert!(message.starts_with("SMS not read. SIM expired at the provider"), "{message}");
    let (_, page) = get(&app, &operator.cookie, &format!("/sims/{ia}")).await;
    assert!(
        page.contains("id=\"sim-expired\"") && !page.contains("id=\"extend-sim\"") && page.contains("Ask an admin")
    );
    let res = post(&app, &admin, &format!("/sims/{ia}/extend"), &[("payment_method", "")]).await;
    let (_, html) = follow(&app, &admin, res).await;
    assert!(flash(&html).contains("Extension queued") && html.contains("id=\"sim-extension-pending\""));
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    assert!(!sim.state().sim(&a.iccid).unwrap().expired);
    let (_, page) = get(&app, &admin.cookie, &format!("/sims/{ia}")).await;
    assert!(!page.contains("id=\"sim-expired\""));
    let viewer = sign_in(&app, "viewer").await;
    let res = post(&app, &viewer, &format!("/sims/{ia}/sms/refresh"), &[]).await;
    assert_eq!(flash(&follow(&app, &viewer, res).await.1), "SMS read from the provider.", "a read, open to viewers");

    // Transfer from the SIM list (admin), delivered by the outbox.
    let transfer = [("action", "transfer"), ("iccid", ib.as_str()), ("target_organisation", "42"), ("back", "/sims")];
    let message = flash(&follow(&app, &admin, post(&app, &admin, "/sims/bulk", &transfer).await).await.1);
    assert!(message.contains("Transfer of 1 SIM(s) to organisation 42 queued"), "{message}");
    let bad = [("action", "transfer"), ("iccid", ib.as_str()), ("target_organisation", "x"), ("back", "/sims")];
    let message = flash(&follow(&app, &admin, post(&app, &admin, "/sims/bulk", &bad).await).await.1);
    assert!(message.contains("id of the organisation that receives the SIMs"), "{message}");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    assert_eq!(sim.state().transfers()[0]["iccids"], serde_json::json!([b.iccid]));

    app.stop().await;
    sim.shutdown().await;
}

async fn sim_page_lists_alerts_and_network_events(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let r = &sim.state().sims()[4];
    let iccid = &r.iccid_with_luhn;
    assert_eq!(app.run_job("events").await["status"], "success");
    let (_, api) = app.get(&format!("/api/v1/sims/{iccid}/network-events"), &app.viewer).await;
    let first = api["items"][0]["event_type"].as_str().expect("the simulator reports events").to_owned();
    let s = app.db.store.get_sim(iccid).await.unwrap();
    let low = common::data_quota(6 * 1_048_576, 100 * 1_048_576);
    app.db.store.upsert_quotas(&[(s.id, low)]).await.unwrap();
    assert_eq!(app.run_job("alerts").await["status"], "success");
    let viewer = sign_in(&app, "viewer").await;
    let (_, page) = get(&app, &viewer.cookie, &format!("/sims/{iccid}")).await;
    assert!(page.contains("id=\"network-events\"") && page.contains(&first));
    assert!(page.contains("id=\"sim-alerts\"") && page.contains("Data quota at 6 % (6 MiB left)"));
    for tab in ["#sms", "#support", "#alerts", "#network"] {
        assert!(page.contains(&format!("href=\"{tab}\"")), "a {tab} tab");
    }
    app.stop().await;
    sim.shutdown().await;
}

dialect_tests!(
    catalogue_orders_and_limits,
    viewers_read_operators_act_admins_spend,
    sim_page_sms_support_topups_and_refusals,
    sim_page_lists_alerts_and_network_events,
);
