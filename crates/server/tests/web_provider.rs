//! The dashboard's provider pages over plain HTTP against the 1NCE simulator, on both engines:
//! products, orders (quote, then confirm), support requests, limits, the fleet's SMS, and a
//! SIM's SMS, support, top-up (linked to its order), reset, extension and data-traffic-limit
//! state; role checks, CSRF and the provider's refusals as messages.

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
    let key = html
        .split("name=\"idempotency_key\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the confirmation carries a one-time key")
        .to_owned();
    let confirmed: Vec<(&str, &str)> = form.iter().copied().chain([("idempotency_key", key.as_str())]).collect();
    let (to, html) = follow(&app, &admin, post(&app, &admin, "/provider/orders", &confirmed).await).await;
    assert_eq!(sim.state().orders().len(), before + 1);
    assert!(flash(&html).contains("placed with the provider"));
    let number = to.rsplit('/').next().unwrap().to_owned();
    // The confirmation sent twice (a double click, a reload) orders once.
    let (again, html) = follow(&app, &admin, post(&app, &admin, "/provider/orders", &confirmed).await).await;
    assert_eq!(sim.state().orders().len(), before + 1, "ordered once");
    assert_eq!(again, to);
    assert!(flash(&html).contains("was placed already"), "{}", flash(&html));
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
    for form in ["/sms\"", "/topup\"", "/reset-connectivity\"", "/imei-lock\"", "/extend\""] {
        assert!(!page.contains(&format!("action=\"/sims/{iccid}{form}")), "no {form} form for a viewer");
    }
    assert!(!page.contains("action=\"/provider/support\""), "no support form for a viewer");
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

/// The SIM with the least data used this month (under every monthly limit the provider offers).
fn lightest(sim: &SimHandle) -> onence_sim::SimRecord {
    let today = sim.state().today();
    let first = chrono::Datelike::with_day(&today, 1).unwrap();
    let used = |r: &onence_sim::SimRecord| -> u64 {
        sim.state().usage(&r.iccid, first, today).unwrap().iter().map(|(_, u)| u.data_umb()).sum()
    };
    sim.state().sims().into_iter().min_by_key(used).unwrap()
}

/// The text of the SIM page's data-traffic-limit fact.
fn data_limit_fact(html: &str) -> String {
    let start = html.find("id=\"data-traffic-limit\"").expect("the data-traffic-limit fact");
    html[start..].split("</dd>").next().unwrap().to_owned()
}

async fn sim_page_shows_the_data_traffic_limit(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let light = lightest(&sim);
    let heavy = sim.state().sims().into_iter().find(|r| r.iccid != light.iccid).unwrap();
    let big_day = onence_sim::DayUsage { rx_umb: 600 * onence_sim::UMB_PER_MB, tx_umb: 0, sms_mo: 0, sms_mt: 0 };
    sim.state().set_day_usage(&heavy.iccid, sim.state().today(), big_day);
    let viewer = sign_in(&app, "viewer").await;

    // Read from the provider for every role: over 500 MB this month is over any limit.
    let (status, page) = get(&app, &viewer.cookie, &format!("/sims/{}", heavy.iccid_with_luhn)).await;
    assert_eq!(status, StatusCode::OK);
    let fact = data_limit_fact(&page);
    assert!(fact.contains("data-state=\"REACHED\"") && fact.contains(">Reached<"), "{fact}");
    let (_, page) = get(&app, &viewer.cookie, &format!("/sims/{}", light.iccid_with_luhn)).await;
    let fact = data_limit_fact(&page);
    assert!(fact.contains("data-state=\"NOT_REACHED\"") && fact.contains("Not reached"), "{fact}");
    let (_, api) = app.get(&format!("/api/v1/sims/{}/data-traffic-limit", light.iccid_with_luhn), &app.viewer).await;
    assert_eq!(api["state"], "NOT_REACHED", "the same answer as the API");

    // A SIM of the own stock has no provider to ask.
    let own = app.sim(900, serde_json::json!({})).await;
    let (status, page) = get(&app, &viewer.cookie, &format!("/sims/{own}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!page.contains("id=\"data-traffic-limit\""));

    // A provider that does not answer in time: the page still comes, quickly, and says so.
    sim.set_faults(onence_sim::Faults { latency_ms: 8_000, ..Default::default() });
    let started = std::time::Instant::now();
    let (status, page) = get(&app, &viewer.cookie, &format!("/sims/{}", heavy.iccid_with_luhn)).await;
    let took = started.elapsed();
    sim.set_faults(onence_sim::Faults::default());
    assert_eq!(status, StatusCode::OK);
    assert!(took < std::time::Duration::from_secs(5), "the page waited {took:?}");
    let fact = data_limit_fact(&page);
    assert!(fact.contains("provider unreachable"), "{fact}");
    assert!(page.contains("id=\"history\""), "the rest of the page is there");

    app.stop().await;
    sim.shutdown().await;
}

fn sms(provider_id: i64, direction: &str, status: &str, payload: &str) -> simfleet_store::ProviderSms {
    let at = simfleet_store::now() - chrono::Duration::minutes(100 - provider_id.min(99));
    simfleet_store::ProviderSms {
        provider_id,
        direction: direction.into(),
        status: status.into(),
        payload: Some(payload.into()),
        udh: None,
        dcs: None,
        source_address: (direction == "MT").then(|| "simfleet".into()),
        submitted_at: Some(at),
        delivered_at: (status == "DELIVERED").then_some(at),
        expires_at: None,
    }
}

async fn fleet_sms_page_lists_filters_and_pages(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let records = sim.state().sims();
    let (ia, ib) = (&records[0].iccid_with_luhn, &records[1].iccid_with_luhn);
    let (a, b) = (app.db.store.get_sim(ia).await.unwrap(), app.db.store.get_sim(ib).await.unwrap());
    let mut many: Vec<_> = (10..62).map(|n| sms(n, "MT", "DELIVERED", &format!("CONFIG {n}"))).collect();
    many.push(sms(7, "MO", "DELIVERED", "TEMP 21C"));
    let few = vec![sms(1, "MT", "PENDING", "REBOOT NOW"), sms(2, "MT", "FAILED", "PING FAILED")];
    app.db.store.replace_sim_sms(&[(a.id, many), (b.id, few)]).await.unwrap();

    // Every role reads it; the menu leads there.
    let viewer = sign_in(&app, "viewer").await;
    let (status, html) = get(&app, &viewer.cookie, "/sms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("href=\"/sms\" class=\"active\""), "in the navigation");
    assert!(html.contains("55 messages"), "the total");
    let (_, api) = app.get("/api/v1/sms?count=true", &app.viewer).await;
    assert_eq!(api["total"], 55, "as the API counts them");
    assert_eq!(html.matches("data-sms=").count(), 50, "a page of 50");
    for newest in ["REBOOT NOW", "PING FAILED", "TEMP 21C", "CONFIG 61"] {
        assert!(html.contains(newest), "{newest} on the first page");
    }
    let row = html.split("<tr data-sms=").find(|r| r.contains("REBOOT NOW")).unwrap();
    assert!(row.contains(&format!("href=\"/sims/{ib}#sms\"")), "the SIM is linked: {row}");
    assert!(row.contains(">MT<") && row.contains("sms-pending") && row.contains("UTC"), "{row}");
    let row = html.split("<tr data-sms=").find(|r| r.contains("TEMP 21C")).unwrap();
    assert!(row.contains("data-direction=\"MO\"") && row.contains("sms-delivered") && row.contains("delivered "));
    assert!(!html.contains("<form method=\"post\" action=\"/sims/"), "nothing to submit here");

    // The next page, and back to the newest.
    let next = html.split("href=\"/sms?").find(|h| h.contains("rel=\"next\"")).unwrap().split('"').next().unwrap();
    let (status, older) = get(&app, &viewer.cookie, &format!("/sms?{}", next.replace("&amp;", "&"))).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(older.matches("data-sms=").count(), 5);
    assert!(older.contains("CONFIG 10") && !older.contains("REBOOT NOW") && older.contains("← Newest"));
    assert!(!older.contains("rel=\"next\""));

    // Filters: direction, status and SIM.
    let (_, mo) = get(&app, &viewer.cookie, "/sms?direction=MO").await;
    assert_eq!(mo.matches("data-sms=").count(), 1);
    assert!(mo.contains("TEMP 21C") && mo.contains("<option value=\"MO\" selected"));
    let (_, pending) = get(&app, &viewer.cookie, "/sms?direction=MT&status=PENDING").await;
    assert_eq!(pending.matches("data-sms=").count(), 1);
    assert!(pending.contains("REBOOT NOW") && pending.contains("1 message matches these filters"));
    let (_, of_b) = get(&app, &viewer.cookie, &format!("/sms?iccid={ib}")).await;
    assert_eq!(of_b.matches("data-sms=").count(), 2);
    let (_, none) = get(&app, &viewer.cookie, "/sms?status=EXPIRED").await;
    assert!(none.contains("No SMS matches these filters"));
    assert_eq!(get(&app, &viewer.cookie, "/sms?direction=XX").await.0, StatusCode::BAD_REQUEST);

    app.stop().await;
    sim.shutdown().await;
}

async fn sms_forms_take_udh_dcs_and_expiry(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let records = sim.state().sims();
    let (a, b) = (&records[1], &records[2]);
    let (ia, ib) = (&a.iccid_with_luhn, &b.iccid_with_luhn);
    let operator = sign_in(&app, "operator").await;
    let viewer = sign_in(&app, "viewer").await;
    let (_, page) = get(&app, &operator.cookie, &format!("/sims/{ia}")).await;
    assert!(page.contains("name=\"udh\"") && page.contains("name=\"dcs\""), "the SIM page's SMS form");
    let (_, list) = get(&app, &operator.cookie, "/sims").await;
    assert!(list.contains("name=\"expiry\" type=\"datetime-local\""), "the bulk SMS form");
    let (_, page) = get(&app, &viewer.cookie, &format!("/sims/{ia}")).await;
    assert!(!page.contains("name=\"udh\""), "no SMS form for a viewer");

    // The API's rules, as messages; nothing is queued.
    let send = format!("/sims/{ia}/sms");
    for (udh, dcs, says) in [
        ("ZZ", "", "udh: must be hex octets"),
        ("050", "", "udh: must be hex octets"),
        ("", "300", "dcs: must be between 0 and 255"),
        ("", "x", "dcs: must be a whole number"),
    ] {
        let form = [("payload", "CFG"), ("expiry", ""), ("udh", udh), ("dcs", dcs)];
        let message = flash(&follow(&app, &operator, post(&app, &operator, &send, &form).await).await.1);
        assert!(message.contains(says), "{udh}/{dcs}: {message}");
    }
    let (_, actions) = app.get(&format!("/api/v1/sims/{ia}/provider-actions"), &app.viewer).await;
    assert!(actions["items"].as_array().unwrap().is_empty(), "nothing was queued");
    let form = [("payload", "CFG"), ("expiry", ""), ("udh", "050003CC0201"), ("dcs", "0")];
    assert_eq!(post(&app, &viewer, &send, &form).await.status(), StatusCode::FORBIDDEN);

    // A valid one reaches the provider with its header and coding.
    let message = flash(&follow(&app, &operator, post(&app, &operator, &send, &form).await).await.1);
    assert!(message.contains("SMS queued"), "{message}");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    let sent = sim.state().sms(&a.iccid).unwrap().into_iter().find(|m| m.payload == "CFG").expect("delivered");
    assert_eq!((sent.udh.as_str(), sent.dcs), ("050003CC0201", 0));

    // The bulk form's expiry: checked as the API checks it, then carried to each SIM.
    let past = (chrono::Utc::now() - chrono::Duration::days(1)).format("%Y-%m-%dT%H:%M").to_string();
    let expiry = (chrono::Utc::now() + chrono::Duration::days(2)).format("%Y-%m-%dT%H:%M").to_string();
    let bulk = |expiry: &str| -> Vec<(String, String)> {
        [
            ("action", "sms"),
            ("iccid", ia.as_str()),
            ("iccid", ib.as_str()),
            ("payload", "WAKE"),
            ("expiry", expiry),
            ("back", "/sims"),
        ]
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .to_vec()
    };
    let (late, good) = (bulk(&past), bulk(&expiry));
    let late: Vec<(&str, &str)> = late.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let good: Vec<(&str, &str)> = good.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let message = flash(&follow(&app, &operator, post(&app, &operator, "/sims/bulk", &late).await).await.1);
    assert!(message.contains("expiry_date: must be in the future"), "{message}");
    assert_eq!(post(&app, &viewer, "/sims/bulk", &good).await.status(), StatusCode::FORBIDDEN);
    let message = flash(&follow(&app, &operator, post(&app, &operator, "/sims/bulk", &good).await).await.1);
    assert!(message.contains("SMS queued for 2 SIM(s)"), "{message}");
    let (_, actions) = app.get(&format!("/api/v1/sims/{ib}/provider-actions"), &app.viewer).await;
    let queued = &actions["items"][0];
    assert_eq!(queued["action"], "send_sms");
    assert!(queued["payload"]["expiry_date"].as_str().is_some_and(|e| e.starts_with(&expiry[..10])), "{queued}");
    assert_eq!(app.run_job("outbox").await["items_ok"], 2);
    let sent = sim.state().sms(&b.iccid).unwrap().into_iter().find(|m| m.payload == "WAKE").expect("delivered");
    assert_eq!(sent.expiry.format("%Y-%m-%dT%H:%M").to_string(), expiry, "with the expiry asked for");

    app.stop().await;
    sim.shutdown().await;
}

async fn extension_from_the_sim_list_and_page(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let records = sim.state().sims();
    let (a, b, c) = (&records[1], &records[2], &records[3]);
    let (ia, ib, ic) = (&a.iccid_with_luhn, &b.iccid_with_luhn, &c.iccid_with_luhn);
    let admin = sign_in(&app, "admin").await;
    let operator = sign_in(&app, "operator").await;
    let viewer = sign_in(&app, "viewer").await;

    // Admins only, on the list and on the page.
    let (_, list) = get(&app, &admin.cookie, "/sims").await;
    assert!(list.contains("<option value=\"extend\">") && list.contains("data-for=\"topup extend\""));
    for s in [&operator, &viewer] {
        assert!(!get(&app, &s.cookie, "/sims").await.1.contains("value=\"extend\""));
        let (_, page) = get(&app, &s.cookie, &format!("/sims/{ia}")).await;
        assert!(!page.contains("id=\"extend-action\""), "no Extend action below admin");
    }
    let bulk = [("action", "extend"), ("iccid", ib.as_str()), ("iccid", ic.as_str()), ("payment_method", "")];
    for s in [&operator, &viewer] {
        assert_eq!(post(&app, s, "/sims/bulk", &bulk).await.status(), StatusCode::FORBIDDEN);
        let res = post(&app, s, &format!("/sims/{ia}/extend"), &[("payment_method", "")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN);
    }
    let (_, actions) = app.get(&format!("/api/v1/sims/{ib}/provider-actions"), &app.viewer).await;
    assert!(actions["items"].as_array().unwrap().is_empty(), "nothing was queued");

    // The SIM page offers it at all times, plainly while the SIM is not expired.
    let (_, page) = get(&app, &admin.cookie, &format!("/sims/{ia}")).await;
    assert!(page.contains("id=\"extend-action\"") && page.contains("id=\"extend-confirm\""));
    assert!(!page.contains("action-extend attention") && !page.contains("id=\"sim-expired\""));

    // From the list: the payment method is checked as the API checks it, then each SIM is extended.
    let mut bad = bulk.to_vec();
    bad[3] = ("payment_method", "cash");
    bad.push(("back", "/sims"));
    let message = flash(&follow(&app, &admin, post(&app, &admin, "/sims/bulk", &bad).await).await.1);
    assert!(message.starts_with("Not queued.") && message.contains("payment_method: must be one of"), "{message}");
    let mut good = bulk.to_vec();
    good[3] = ("payment_method", "banktransfer");
    good.push(("back", "/sims"));
    let (to, html) = follow(&app, &admin, post(&app, &admin, "/sims/bulk", &good).await).await;
    assert_eq!(to, "/sims");
    assert!(flash(&html).contains("Extension queued for 2 SIM(s)"), "{}", flash(&html));
    for i in [ib, ic] {
        let (_, actions) = app.get(&format!("/api/v1/sims/{i}/provider-actions"), &app.viewer).await;
        assert_eq!(actions["items"][0]["action"], "extend");
        assert_eq!(actions["items"][0]["payload"]["payment_method"], "banktransfer", "{actions}");
    }
    sim.state().set_expired(&b.iccid, true);
    assert_eq!(app.run_job("outbox").await["items_ok"], 2);
    assert!(!sim.state().sim(&b.iccid).unwrap().expired, "the expired SIM was extended");

    // After an expired refusal the page's Extend is highlighted; it extends from there.
    sim.state().set_expired(&a.iccid, true);
    let res = post(&app, &admin, &format!("/sims/{ia}/topup"), &[("payment_method", "")]).await;
    assert!(flash(&follow(&app, &admin, res).await.1).contains("Top-up queued"));
    assert_eq!(app.run_job("outbox").await["items_failed"], 1);
    let (_, page) = get(&app, &admin.cookie, &format!("/sims/{ia}")).await;
    assert!(page.contains("action-extend attention") && page.contains("id=\"sim-expired\""));
    let res = post(&app, &admin, &format!("/sims/{ia}/extend"), &[("payment_method", "")]).await;
    let (_, html) = follow(&app, &admin, res).await;
    assert!(flash(&html).contains("Extension queued") && !html.contains("action-extend attention"));
    assert!(html.contains("id=\"extend-action\""), "still offered while one is on its way");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    assert!(!sim.state().sim(&a.iccid).unwrap().expired);

    app.stop().await;
    sim.shutdown().await;
}

async fn delivered_top_up_links_its_order(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let iccid = sim.state().sims()[5].iccid_with_luhn.clone();
    let admin = sign_in(&app, "admin").await;
    let res = post(&app, &admin, &format!("/sims/{iccid}/topup"), &[("payment_method", "")]).await;
    assert!(flash(&follow(&app, &admin, res).await.1).contains("Top-up queued"));
    let (_, page) = get(&app, &admin.cookie, &format!("/sims/{iccid}")).await;
    assert!(!page.contains("data-order-link="), "no order before the provider confirmed it");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);

    let (_, actions) = app.get(&format!("/api/v1/sims/{iccid}/provider-actions"), &app.viewer).await;
    let number = actions["items"][0]["result"]["order_number"].as_i64().expect("the top-up's order");
    let viewer = sign_in(&app, "viewer").await;
    let (_, page) = get(&app, &viewer.cookie, &format!("/sims/{iccid}")).await;
    let link = format!("href=\"/provider/orders/{number}\" data-order-link=\"{number}\">Order {number}</a>");
    assert!(page.contains(&link), "the delivered top-up links its order");
    let (status, order) = get(&app, &viewer.cookie, &format!("/provider/orders/{number}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(order.contains(&number.to_string()) && order.contains(&format!("href=\"/sims/{iccid}\"")), "the order");

    app.stop().await;
    sim.shutdown().await;
}

/// The SIM page shows automatic top-up as last set through simfleet, and an admin turns it
/// on and off there through the outbox.
async fn sim_page_turns_auto_top_up_on_and_off(dialect: Dialect) {
    let Some((sim, app)) = setup(dialect).await else { return };
    let record = sim.state().sims()[4].clone();
    let iccid = record.iccid_with_luhn.as_str();
    let path = format!("/sims/{iccid}");
    let admin = sign_in(&app, "admin").await;
    let operator = sign_in(&app, "operator").await;
    let state = |html: &str| {
        html.split("id=\"auto-top-up\" data-state=\"").nth(1).unwrap().split('"').next().unwrap().to_owned()
    };

    let (_, page) = get(&app, &operator.cookie, &path).await;
    assert_eq!(state(&page), "none");
    assert!(page.contains("not set through simfleet") && !page.contains("id=\"auto-top-up-toggle\""), "admins only");
    let res = post(&app, &operator, &format!("{path}/auto-topup"), &[("auto_top_up", "on")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let (_, page) = get(&app, &admin.cookie, &path).await;
    assert!(page.contains(">Turn on</button>"));
    let (_, html) =
        follow(&app, &admin, post(&app, &admin, &format!("{path}/auto-topup"), &[("auto_top_up", "on")]).await).await;
    assert!(flash(&html).contains("Automatic top-up queued"), "{}", flash(&html));
    assert_eq!(state(&html), "on");
    assert!(html.contains("on its way to the provider"));
    assert!(!sim.state().sim(&record.iccid).unwrap().auto_topup, "nothing reaches the provider before the outbox runs");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    assert!(sim.state().sim(&record.iccid).unwrap().auto_topup);
    let (_, page) = get(&app, &admin.cookie, &path).await;
    assert!(page.contains("set by admin") && page.contains(">Turn off</button>"));

    let res = post(&app, &admin, &format!("{path}/auto-topup"), &[("auto_top_up", "off")]).await;
    assert_eq!(state(&follow(&app, &admin, res).await.1), "off");
    assert_eq!(app.run_job("outbox").await["items_ok"], 1);
    assert!(!sim.state().sim(&record.iccid).unwrap().auto_topup);

    app.stop().await;
    sim.shutdown().await;
}

dialect_tests!(
    catalogue_orders_and_limits,
    viewers_read_operators_act_admins_spend,
    sim_page_sms_support_topups_and_refusals,
    sim_page_lists_alerts_and_network_events,
    sim_page_shows_the_data_traffic_limit,
    fleet_sms_page_lists_filters_and_pages,
    sms_forms_take_udh_dcs_and_expiry,
    extension_from_the_sim_list_and_page,
    delivered_top_up_links_its_order,
    sim_page_turns_auto_top_up_on_and_off,
);
