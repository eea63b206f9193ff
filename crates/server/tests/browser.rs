//! The dashboard in a real browser: headless Chromium driven over WebDriver (chromedriver).
//!
//! One scenario walks through the product as a user would, on SQLite with a fleet synced
//! from the 1NCE simulator, and saves screenshots to `target/screenshots/`. Without
//! chromedriver the test is skipped, except under `CI=true`, where it fails.

mod common;

use common::{TestApp, PASSWORD};
use fantoccini::{Client, ClientBuilder, Locator};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simfleet_store::Dialect;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Starts chromedriver and a headless Chromium session, or `None` (skip) outside CI.
async fn browser() -> Option<(Driver, Client)> {
    let ci = std::env::var("CI").is_ok_and(|v| v == "true");
    let driver_path = std::env::var("CHROMEDRIVER").unwrap_or_else(|_| CHROMEDRIVER.into());
    if !std::path::Path::new(&driver_path).exists() {
        assert!(!ci, "chromedriver not found at {driver_path}: the browser tests must run in CI");
        eprintln!("skipping the browser test: no chromedriver at {driver_path}");
        return None;
    }
    let port = free_port();
    let child = Command::new(&driver_path)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start chromedriver");
    let driver = Driver(child);
    let mut caps = serde_json::Map::new();
    let binary = std::env::var("CHROMIUM").unwrap_or_else(|_| CHROMIUM.into());
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": binary,
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                     "--window-size=1440,900", "--hide-scrollbars", "--force-device-scale-factor=1"]
        }),
    );
    // fantoccini's TLS stack pulls in two crypto providers; chromedriver is plain HTTP anyway.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if let Ok(client) = ClientBuilder::rustls().expect("tls").capabilities(caps.clone()).connect(&url).await {
            return Some((driver, client));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start a session");
}

fn screenshot_dir() -> PathBuf {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Saves the whole page at `width` (the window grows to the page's height, up to a limit).
async fn screenshot(c: &Client, name: &str, width: u32, height: u32) {
    c.set_window_size(width, height).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await; // charts redraw on resize
    let full = c.execute("return Math.ceil(document.documentElement.scrollHeight)", vec![]).await.unwrap();
    let full = full.as_u64().unwrap_or(u64::from(height)).clamp(u64::from(height), 5000) as u32;
    c.set_window_size(width, full).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let png = c.screenshot().await.unwrap();
    std::fs::write(screenshot_dir().join(format!("{name}.png")), png).unwrap();
    c.set_window_size(1440, 900).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
}

async fn shots(c: &Client, name: &str) {
    screenshot(c, &format!("{name}-desktop"), 1440, 900).await;
    screenshot(c, &format!("{name}-phone"), 390, 844).await;
}

async fn css(c: &Client, selector: &str) -> fantoccini::elements::Element {
    c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Css(selector)).await.unwrap_or_else(|e| {
        panic!("no element {selector}: {e}");
    })
}

/// Clicks something that loads a new page, and waits until the new page is there.
async fn click_through(c: &Client, selector: &str) {
    c.execute("window.__previous_page = true", vec![]).await.unwrap();
    css(c, selector).await.click().await.unwrap();
    for _ in 0..200 {
        let gone = c
            .execute("return window.__previous_page === undefined && document.readyState === 'complete'", vec![])
            .await;
        if gone.is_ok_and(|v| v == Value::Bool(true)) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("clicking {selector} did not load a page");
}

async fn count(c: &Client, selector: &str) -> usize {
    c.find_all(Locator::Css(selector)).await.unwrap().len()
}

async fn text(c: &Client, selector: &str) -> String {
    css(c, selector).await.text().await.unwrap()
}

async fn login(c: &Client, base: &str, username: &str) {
    c.goto(&format!("{base}/login")).await.unwrap();
    fill_login(c, username).await;
}

async fn fill_login(c: &Client, username: &str) {
    css(c, "input[name=username]").await.send_keys(username).await.unwrap();
    css(c, "input[name=password]").await.send_keys(PASSWORD).await.unwrap();
    click_through(c, "form button[type=submit]").await;
    css(c, ".sidebar").await;
}

async fn logout(c: &Client) {
    click_through(c, ".sidebar-foot button").await;
    css(c, "input[name=username]").await;
}

async fn wait_for_run(app: &TestApp, job: &str) {
    for _ in 0..400 {
        let (_, runs) = app.get(&format!("/api/v1/jobs/runs?job={job}"), &app.viewer).await;
        if runs["items"].as_array().and_then(|a| a.first()).is_some_and(|r| r["status"] != "running") {
            assert_eq!(runs["items"][0]["status"], "success", "{runs}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{job} did not finish");
}

/// A fleet worth looking at: SIMs, usage, quotas and connectivity synced from the simulator,
/// own stock, customers, tariff plans, and activations spread over the last 90 days.
async fn seed(app: &TestApp) {
    for job in ["sims", "usage", "quotas", "connectivity"] {
        let (status, body) =
            app.call(Method::POST, &format!("/api/v1/jobs/{job}/run"), Some(&app.operator), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        wait_for_run(app, job).await;
    }
    let mut plans = vec![];
    for (name, price) in [("IoT Flex 1 GB", "2.49"), ("Fleet 10 GB", "7.90"), ("Tracker Lite", "0.99")] {
        let (s, p) = app.post("/api/v1/tariff-plans", &app.admin, json!({"name": name, "monthly_price": price})).await;
        assert_eq!(s, StatusCode::CREATED, "{p}");
        plans.push(p["id"].as_i64().unwrap());
    }
    let mut customers = vec![];
    for name in ["Nordwind Logistics", "Acme Metering", "Helios Solar", "CityBikes"] {
        customers.push(app.customer(name).await);
    }
    let (_, page) = app.get("/api/v1/sims?limit=1000", &app.viewer).await;
    let iccids: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|s| s["iccid"].as_str().unwrap().to_owned()).collect();
    for (i, chunk) in iccids.chunks(iccids.len().div_ceil(6)).enumerate() {
        let tag = ["fleet-a", "meters", "trackers"][i % 3];
        let changes = json!({
            "tariff_plan_id": plans[i % plans.len()],
            "customer_id": customers[i % customers.len()],
            "tags": [tag],
        });
        let (s, b) = app.post("/api/v1/sims/bulk", &app.operator, json!({"iccids": chunk, "changes": changes})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    for n in 0..24 {
        app.sim(900 + n, json!({"label": format!("Stock card {n}"), "pin": "1234", "puk": "12345678"})).await;
    }
    // Activation history: the simulator's SIMs arrive already active, so their activations are
    // dated back over 90 days (more of them recently) to give the chart a realistic shape.
    app.db
        .store
        .execute_raw(
            "INSERT INTO sim_events (sim_id, kind, old_status, new_status, actor, created_at) \
             SELECT id, 'ACTIVATED', 'RESERVED', 'ACTIVE', 'seed', \
                    strftime('%Y-%m-%dT%H:%M:%f+00:00', 'now', '-' || ((abs(random()) % 90) * (abs(random()) % 90) / 90) || ' days') \
             FROM sims WHERE status = 'ACTIVE'",
        )
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn dashboard_in_a_browser() {
    let Some((_driver, c)) = browser().await else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(160, 42), listener).await.unwrap();
    let app = TestApp::spawn_with(Dialect::Sqlite, Some(sim.base_url().to_owned())).await.unwrap();
    seed(&app).await;
    let base = app.base.clone();
    let result = std::panic::AssertUnwindSafe(scenario(&app, &c, &base));
    let outcome = futures::FutureExt::catch_unwind(result).await;
    let _ = c.close().await;
    app.stop().await;
    if let Err(panic) = outcome {
        std::panic::resume_unwind(panic);
    }
}

async fn scenario(app: &TestApp, c: &Client, base: &str) {
    // Not signed in: pages send you to the login page, and back after.
    c.goto(&format!("{base}/sims")).await.unwrap();
    css(c, "input[name=username]").await;
    assert!(c.current_url().await.unwrap().as_str().contains("/login?next=/sims"));
    fill_login(c, "admin").await;
    assert!(c.current_url().await.unwrap().path().ends_with("/sims"));

    overview(app, c, base).await;
    let iccid = sim_list(app, c, base).await;
    sim_detail(app, c, base, &iccid).await;
    import_csv(c, base).await;
    analytics(c, base).await;
    acknowledge_alert(app, c, base).await;
    order_product(app, c, base).await;
    bulk_top_up(app, c, base).await;
    sim_sms(app, c, base, &iccid).await;
    sim_support(c, base, &iccid).await;
    monthly_report(app, c, base).await;
    role_matrix(app, c, base, &iccid).await;
}

async fn overview(app: &TestApp, c: &Client, base: &str) {
    c.goto(&format!("{base}/overview")).await.unwrap();
    css(c, ".chart-donut[data-drawn] svg").await;
    let (_, by_status) = app.get("/api/v1/stats/sim-by-status", &app.viewer).await;
    let present = by_status["items"].as_array().unwrap().iter().filter(|s| s["count"].as_i64().unwrap() > 0).count();
    assert!(present >= 2, "{by_status}");
    assert_eq!(count(c, ".chart-donut svg path.slice").await, present, "one donut slice per status present");
    // Every slice is bound to its status, e.g. data-status="ACTIVE".
    let active = c.find(Locator::Css(".chart-donut path.slice[data-status=ACTIVE]")).await;
    assert!(active.is_ok(), "the ACTIVE slice exists");
    assert_eq!(count(c, "[data-source=activations] svg rect.bar").await, 90, "one column per day over 90 days");
    assert!(count(c, "[data-source=usage] svg circle.point").await > 30, "a usage trend over the synced history");
    assert!(count(c, "[data-source=usage] svg path.avg").await == 1, "with its moving average");
    assert_eq!(
        count(c, "[data-source=tariff] svg rect.bar").await,
        4,
        "one bar per tariff plan, and one for SIMs without"
    );
    let total = text(c, ".kpi .kpi-value").await.replace(',', "");
    assert_eq!(total, "184", "160 synced + 24 own stock");
    shots(c, "overview").await;
}

/// Filters the list to the suspended SIMs, then to the active ones; returns an active SIM.
async fn sim_list(app: &TestApp, c: &Client, base: &str) -> String {
    c.goto(&format!("{base}/sims")).await.unwrap();
    css(c, "#sim-table").await;
    assert_eq!(count(c, "#sim-table tbody tr").await, 50, "a page of 50");
    assert!(c.find(Locator::Css("a[rel=next]")).await.is_ok(), "and a next page");
    css(c, "#filters select[name=status]").await.select_by_value("SUSPENDED").await.unwrap();
    click_through(c, "#filters button[type=submit]").await;
    css(c, "#sim-table").await;
    let (_, suspended) = app.get("/api/v1/sims?status=SUSPENDED&count=true&limit=1", &app.viewer).await;
    let expected = suspended["total"].as_i64().unwrap() as usize;
    assert!(expected > 0, "the simulator's fleet has disabled SIMs");
    assert_eq!(count(c, "#sim-table tbody tr").await, expected.min(50));
    for badge in c.find_all(Locator::Css("#sim-table tbody .badge")).await.unwrap() {
        assert_eq!(badge.text().await.unwrap(), "Suspended");
    }
    assert!(c.current_url().await.unwrap().as_str().contains("status=SUSPENDED"));
    // Search by prefix and tag filter through the URL, as the form builds it.
    c.goto(&format!("{base}/sims?status=ACTIVE&tag=meters&sort=-updated_at")).await.unwrap();
    let rows = c.find_all(Locator::Css("#sim-table tbody tr")).await.unwrap();
    assert!(!rows.is_empty());
    for row in &rows {
        assert!(row.text().await.unwrap().contains("meters"));
    }
    let iccid = rows[0].attr("data-iccid").await.unwrap().unwrap();
    // Bulk: select two rows with the JS-enhanced checkboxes and tag them.
    let boxes = c.find_all(Locator::Css("#sim-table tbody input[name=iccid]")).await.unwrap();
    boxes[0].click().await.unwrap();
    if boxes.len() > 1 {
        boxes[1].click().await.unwrap();
    }
    assert!(text(c, "[data-bulk-count]").await.contains("selected"));
    css(c, "#bulk-form select[name=action]").await.select_by_value("tag").await.unwrap();
    css(c, "#bulk-form input[name=tag]").await.send_keys("vip").await.unwrap();
    click_through(c, "#bulk-form button[type=submit]").await;
    let flash = text(c, ".flash").await;
    assert!(flash.contains("with “vip”"), "{flash}");
    let (_, tagged) = app.get("/api/v1/sims?tag=vip&count=true&limit=1", &app.viewer).await;
    assert_eq!(tagged["total"].as_i64().unwrap() as usize, boxes.len().min(2));
    c.goto(&format!("{base}/sims")).await.unwrap();
    shots(c, "sim-list").await;
    iccid
}

async fn sim_detail(app: &TestApp, c: &Client, base: &str, iccid: &str) {
    c.goto(&format!("{base}/sims?q={iccid}")).await.unwrap();
    click_through(c, &format!("#sim-table a[href='/sims/{iccid}']")).await;
    assert_eq!(text(c, ".sim-meta .badge").await, "Active");
    css(c, ".chart-usage[data-drawn] svg").await;
    assert!(count(c, ".chart-usage svg circle.point").await > 30, "daily usage points");
    assert_eq!(count(c, ".chart-usage .brush").await, 1, "with a brush to zoom");

    // Suspend with a reason, then re-activate: each shows up in the history.
    css(c, "details.action-suspend summary").await.click().await.unwrap();
    css(c, "details.action-suspend input[name=reason]").await.send_keys("customer asked for a pause").await.unwrap();
    click_through(c, "details.action-suspend button[type=submit]").await;
    let flash = text(c, ".flash").await;
    assert!(flash.contains("now Suspended"), "{flash}");
    assert_eq!(text(c, ".sim-meta .badge").await, "Suspended");
    assert_eq!(text(c, "#events li:first-child [data-kind]").await, "Suspended");
    assert!(text(c, "#events li:first-child .ev-note").await.contains("customer asked for a pause"));
    css(c, "details.action-activate summary").await.click().await.unwrap();
    click_through(c, "details.action-activate button[type=submit]").await;
    assert_eq!(text(c, ".sim-meta .badge").await, "Active");
    assert_eq!(text(c, "#events li:first-child [data-kind]").await, "Activated");
    let (_, events) = app.get(&format!("/api/v1/sims/{iccid}/events"), &app.viewer).await;
    let kinds: Vec<&str> =
        events["items"].as_array().unwrap().iter().take(2).map(|e| e["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["ACTIVATED", "SUSPENDED"]);
    shots(c, "sim-detail").await;

    // PIN/PUK: revealed on click for an admin, and the reveal is recorded.
    let stock = common::iccid(900);
    c.goto(&format!("{base}/sims/{stock}")).await.unwrap();
    assert!(!c.source().await.unwrap().contains("12345678"), "not in the page before the click");
    click_through(c, "#reveal-secrets").await;
    assert_eq!(text(c, "[data-secret=pin]").await, "1234");
    assert_eq!(text(c, "[data-secret=puk]").await, "12345678");
    assert_eq!(text(c, "#events li:first-child [data-kind]").await, "Secrets revealed");
}

async fn import_csv(c: &Client, base: &str) {
    let file = std::env::temp_dir().join(format!("simfleet-browser-{}.csv", std::process::id()));
    let rows = [
        format!(
            "iccid,msisdn,label,tags,tariff_plan\n{},+491510000001,Imported A,import,Fleet 10 GB",
            common::iccid(5001)
        ),
        format!("{},+491510000002,Imported B,import,Tracker Lite", common::iccid(5002)),
        "12345,+49151,Broken row,,".to_owned(),
    ];
    std::fs::write(&file, rows.join("\n") + "\n").unwrap();
    c.goto(&format!("{base}/imports")).await.unwrap();
    css(c, "#import-file").await.send_keys(file.to_str().unwrap()).await.unwrap();
    click_through(c, "#upload-btn").await;
    css(c, "#row-errors").await;
    assert_eq!(text(c, "#count-create").await, "2");
    assert_eq!(text(c, "#count-invalid").await, "1");
    assert!(text(c, "#row-errors").await.contains("iccid"));
    screenshot(c, "import-preview-desktop", 1440, 900).await;
    css(c, "label.check").await.click().await.unwrap();
    assert!(css(c, "input[name=skip_invalid]").await.is_selected().await.unwrap());
    click_through(c, "#commit-import").await;
    assert!(text(c, ".flash").await.contains("2 SIM(s) created"));
    assert_eq!(text(c, "#import-status").await, "Committed");
    c.goto(&format!("{base}/sims?tag=import")).await.unwrap();
    assert_eq!(count(c, "#sim-table tbody tr").await, 2);
    let _ = std::fs::remove_file(file);
}

async fn analytics(c: &Client, base: &str) {
    c.goto(&format!("{base}/analytics")).await.unwrap();
    css(c, "[data-source=trend][data-drawn] svg").await;
    // Today has a point once its first traffic is synced, so not in the first minutes after midnight.
    let points = count(c, "[data-source=trend] svg circle.point").await;
    assert!((29..=30).contains(&points), "the last 30 days by default, not {points}");
    assert!(count(c, ".table tbody tr").await >= 10, "top consumers");
    shots(c, "analytics").await;
    // The range picker changes what is shown.
    c.goto(&format!("{base}/analytics")).await.unwrap();
    click_through(c, ".presets a:first-child").await;
    css(c, "[data-source=trend][data-drawn] svg").await;
    let points = count(c, "[data-source=trend] svg circle.point").await;
    assert!((6..=7).contains(&points), "the last 7 days, not {points}");
}

/// Runs a job over the API and waits for that run (not an earlier one) to succeed.
async fn run_provider_job(app: &TestApp, job: &str) {
    let latest = |runs: &Value| runs["items"].as_array().and_then(|a| a.first()).cloned();
    let (_, runs) = app.get(&format!("/api/v1/jobs/runs?job={job}&limit=1"), &app.viewer).await;
    let before = latest(&runs).map_or(0, |r| r["id"].as_i64().unwrap());
    for _ in 0..100 {
        let (status, _) = app.call(Method::POST, &format!("/api/v1/jobs/{job}/run"), Some(&app.operator), None).await;
        if status == StatusCode::ACCEPTED {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    for _ in 0..400 {
        let (_, runs) = app.get(&format!("/api/v1/jobs/runs?job={job}&limit=1"), &app.viewer).await;
        if let Some(run) = latest(&runs).filter(|r| r["id"].as_i64().unwrap() > before && r["status"] != "running") {
            assert_eq!(run["status"], "success", "{run}");
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("{job} did not finish");
}

/// Orders from the catalogue: the confirmation page states the cost; the order is listed.
async fn order_product(app: &TestApp, c: &Client, base: &str) {
    c.goto(&format!("{base}/provider/products")).await.unwrap();
    assert_eq!(count(c, "#products .product").await, 3, "the simulator's catalogue");
    shots(c, "provider-products").await;
    click_through(c, "#new-order").await;
    css(c, "#order-form select[name=product_id]").await.select_by_value("1003").await.unwrap();
    css(c, "#order-form input[name=quantity]").await.send_keys("30").await.unwrap();
    css(c, "#order-form input[name=customer_reference]").await.send_keys("PO-2026-117").await.unwrap();
    shots(c, "provider-order-new").await;
    click_through(c, "#quote-order").await;
    assert_eq!(text(c, "#quote-total").await, "450.00 EUR", "30 × 15.00");
    let (_, before) = app.get("/api/v1/orders?count=true&limit=1", &app.viewer).await;
    shots(c, "provider-order-confirm").await;
    click_through(c, "#confirm-order").await;
    assert!(text(c, ".flash").await.contains("placed with the provider"));
    let number = c.current_url().await.unwrap().path().rsplit('/').next().unwrap().to_owned();
    assert!(text(c, "#order-products").await.contains("1NCE IoT FlexSIM - Industrial"));
    shots(c, "provider-order-detail").await;
    let (_, after) = app.get("/api/v1/orders?count=true&limit=1", &app.viewer).await;
    assert_eq!(after["total"].as_i64().unwrap(), before["total"].as_i64().unwrap() + 1);
    c.goto(&format!("{base}/provider/orders")).await.unwrap();
    click_through(c, "#refresh-orders").await;
    assert!(text(c, ".flash").await.contains("Orders read from the provider"));
    assert_eq!(count(c, &format!("#order-table tr[data-order='{number}']")).await, 1, "the new order is listed");
    shots(c, "provider-orders").await;
}

/// Tops up two SIMs selected on the SIM list; the outbox delivers them as orders.
async fn bulk_top_up(app: &TestApp, c: &Client, base: &str) {
    c.goto(&format!("{base}/sims?status=ACTIVE&tag=fleet-a")).await.unwrap();
    let boxes = c.find_all(Locator::Css("#sim-table tbody input[name=iccid]")).await.unwrap();
    let mut iccids = vec![];
    for b in &boxes[..2] {
        b.click().await.unwrap();
        iccids.push(b.attr("value").await.unwrap().unwrap());
    }
    css(c, "#bulk-form select[name=action]").await.select_by_value("topup").await.unwrap();
    assert!(css(c, "#bulk-form input[name=tag]").await.attr("hidden").await.unwrap().is_some(), "only what applies");
    css(c, "#bulk-form select[name=payment_method]").await.select_by_value("monthlyinvoice").await.unwrap();
    screenshot(c, "sim-list-bulk-topup-desktop", 1440, 900).await;
    click_through(c, "#bulk-form button[type=submit]").await;
    assert!(text(c, ".flash").await.contains("Top-up queued for 2 SIM(s)"));
    for iccid in &iccids {
        let (_, actions) = app.get(&format!("/api/v1/sims/{iccid}/provider-actions"), &app.viewer).await;
        assert_eq!(actions["items"][0]["action"], "top_up", "{actions}");
        assert_eq!(actions["items"][0]["payload"]["payment_method"], "monthlyinvoice");
    }
    run_provider_job(app, "outbox").await;
    for iccid in &iccids {
        let (_, orders) = app.get(&format!("/api/v1/orders?iccid={iccid}&type=TOPUP"), &app.viewer).await;
        assert_eq!(orders["items"].as_array().unwrap().len(), 1, "one top-up order for {iccid}: {orders}");
    }
}

/// Sends an SMS from the SIM's SMS tab; once delivered it is listed there.
async fn sim_sms(app: &TestApp, c: &Client, base: &str, iccid: &str) {
    c.goto(&format!("{base}/sims/{iccid}#sms")).await.unwrap();
    css(c, "#sms-form input[name=payload]").await.send_keys("CONFIG interval=300").await.unwrap();
    click_through(c, "#send-sms").await;
    assert!(text(c, ".flash").await.contains("SMS queued"));
    assert!(text(c, "#sms-table .sms-queued").await.contains("CONFIG interval=300"), "listed as queued");
    for job in ["outbox", "sms", "events"] {
        run_provider_job(app, job).await;
    }
    c.goto(&format!("{base}/sims/{iccid}")).await.unwrap();
    assert_eq!(count(c, "#sms-table .sms-queued").await, 0);
    let rows = c.find_all(Locator::Css("#sms-table tr[data-sms]")).await.unwrap();
    let mut found = false;
    for row in rows {
        found |= row.text().await.unwrap().contains("CONFIG interval=300");
    }
    assert!(found, "the sent SMS is listed with its delivery status");
    let (_, api) = app.get(&format!("/api/v1/sims/{iccid}/sms?direction=MT"), &app.viewer).await;
    assert!(api["items"].as_array().unwrap().iter().any(|m| m["payload"] == "CONFIG interval=300"), "{api}");
    // The fleet's SMS page lists it too, and links back to the SIM.
    c.goto(&format!("{base}/sms?direction=MT&iccid={iccid}")).await.unwrap();
    assert!(text(c, "#fleet-sms").await.contains("CONFIG interval=300"));
    click_through(c, &format!("#fleet-sms a[href='/sims/{iccid}#sms']")).await;
    assert!(c.current_url().await.unwrap().path().ends_with(iccid));
}

/// Opens a support request from a SIM's page; it is listed with the SIM referenced.
async fn sim_support(c: &Client, base: &str, iccid: &str) {
    c.goto(&format!("{base}/sims/{iccid}")).await.unwrap();
    css(c, "#open-ticket summary").await.click().await.unwrap();
    css(c, "#open-ticket input[name=subject]").await.send_keys("Tracker offline every night").await.unwrap();
    css(c, "#open-ticket textarea[name=text]").await.send_keys("Drops off the network at 23:00 UTC.").await.unwrap();
    css(c, "#open-ticket input[name=reply_to]").await.send_keys("noc@example.com").await.unwrap();
    click_through(c, "#open-ticket button[type=submit]").await;
    assert!(text(c, ".flash").await.contains("Support request sent"));
    assert!(text(c, "#ticket-sims").await.contains(iccid));
    shots(c, "provider-support-detail").await;
    c.goto(&format!("{base}/provider/support")).await.unwrap();
    let row = text(c, "#ticket-table tbody tr:first-child").await;
    assert!(row.contains("Tracker offline every night") && row.contains(iccid), "{row}");
    shots(c, "provider-support").await;
    c.goto(&format!("{base}/sims/{iccid}")).await.unwrap();
    assert!(text(c, "#sim-tickets").await.contains("Tracker offline every night"));
    shots(c, "sim-detail-provider").await;
    c.goto(&format!("{base}/provider/limits")).await.unwrap();
    assert_eq!(count(c, "#limits-form select").await, 3);
    shots(c, "provider-limits").await;
}

/// A viewer sees no action buttons and no PIN/PUK; forged posts are refused.
async fn role_matrix(app: &TestApp, c: &Client, base: &str, iccid: &str) {
    logout(c).await;
    login(c, base, "viewer").await;
    let stock = common::iccid(900);
    c.goto(&format!("{base}/sims/{stock}")).await.unwrap();
    css(c, ".sim-meta").await;
    assert_eq!(count(c, ".lifecycle").await, 0, "no lifecycle buttons");
    assert_eq!(count(c, "#reveal-secrets").await, 0, "no PIN/PUK reveal");
    c.goto(&format!("{base}/sims")).await.unwrap();
    assert_eq!(count(c, "#bulk-form option[value=suspend]").await, 0, "no bulk lifecycle actions");
    assert_eq!(count(c, "#bulk-form option[value=export]").await, 1, "but export");

    let post = |body: &'static str| {
        format!(
            "return fetch('/sims/{iccid}/actions/suspend', {{method: 'POST', credentials: 'same-origin', \
             headers: {{'content-type': 'application/x-www-form-urlencoded'}}, body: {body}}}).then(r => r.status)"
        )
    };
    let status = |v: Value| v.as_u64().unwrap();
    // Without a token, with a wrong one, and with the viewer's real one (the role stops it).
    assert_eq!(status(c.execute(&post("'reason=x'"), vec![]).await.unwrap()), 403);
    assert_eq!(status(c.execute(&post("'reason=x&_csrf=00ff'"), vec![]).await.unwrap()), 403);
    let real = "'reason=x&_csrf=' + document.querySelector('input[name=_csrf]').value";
    assert_eq!(status(c.execute(&post(real), vec![]).await.unwrap()), 403);
    let (_, sim) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(sim["status"], "ACTIVE", "nothing changed");

    // The session cookie does not authenticate mutating API calls (no CSRF token there).
    let api = format!(
        "return fetch('/api/v1/sims/{iccid}/suspend', {{method: 'POST', credentials: 'same-origin', \
         headers: {{'content-type': 'application/json'}}, body: '{{}}'}}).then(r => r.status)"
    );
    logout(c).await;
    login(c, base, "admin").await;
    assert_eq!(status(c.execute(&api, vec![]).await.unwrap()), 401);
    let read = format!("return fetch('/api/v1/sims/{iccid}', {{credentials: 'same-origin'}}).then(r => r.status)");
    assert_eq!(status(c.execute(&read, vec![]).await.unwrap()), 200, "but reads are");
}

/// Raises alerts from the synced fleet, acknowledges one on /alerts, and checks the rules,
/// channels, the heatmap and the overview's live tiles on the way.
async fn acknowledge_alert(app: &TestApp, c: &Client, base: &str) {
    let run_alerts = || async {
        let (status, body) = app.call(Method::POST, "/api/v1/jobs/alerts/run", Some(&app.operator), None).await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        wait_for_run(app, "alerts").await;
        app.get("/api/v1/alerts?state=open&count=true&limit=1", &app.viewer).await.1["total"].as_i64().unwrap()
    };
    if run_alerts().await == 0 {
        // Every SIM with a data quota then counts as low.
        let (s, b) = app.patch("/api/v1/alert-rules/data_quota_low", &app.operator, json!({"threshold": 100})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
        assert!(run_alerts().await > 0, "the fleet raises alerts");
    }
    c.goto(&format!("{base}/alerts")).await.unwrap();
    css(c, "tr[data-alert]").await;
    let pick = "return document.querySelector(\"form[action$='/acknowledge']\").closest('tr').dataset.alert";
    let id = c.execute(pick, vec![]).await.unwrap().as_str().unwrap().to_owned();
    let row = format!("tr[data-alert='{id}']");
    assert_eq!(text(c, &format!("{row} [class*=alert-state]")).await, "Open");
    click_through(c, &format!("{row} form[action$='/acknowledge'] button")).await;
    assert!(text(c, ".flash").await.contains("now acknowledged"));
    assert_eq!(text(c, &format!("{row} [class*=alert-state]")).await, "Acknowledged");
    assert!(text(c, &row).await.contains("by admin"));
    assert_eq!(count(c, &format!("{row} form[action$='/acknowledge']")).await, 0, "no second acknowledge");
    let (_, alert) = app.get(&format!("/api/v1/alerts/{id}"), &app.viewer).await;
    assert_eq!((alert["state"].as_str(), alert["acknowledged_by"].as_str()), (Some("acknowledged"), Some("admin")));
    shots(c, "alerts").await;

    c.goto(&format!("{base}/alerts/rules")).await.unwrap();
    assert_eq!(count(c, "tr[data-rule]").await, simfleet_domain::AlertKind::ALL.len(), "one rule per kind");
    shots(c, "alert-rules").await;
    click_through(c, "tr[data-rule=offline] a.btn").await;
    css(c, "input[name=threshold]").await;
    shots(c, "alert-rule-edit").await;
    for (name, kind, config, secret) in [
        ("NOC on-call", "webhook", json!({"url": "https://hooks.example.com/simfleet"}), "whsec-browser-test"),
        (
            "Fleet ops e-mail",
            "email",
            json!({"host": "smtp.example.com", "port": 587, "security": "starttls",
            "from": "simfleet@example.com", "to": ["ops@example.com", "noc@example.com"]}),
            "unused",
        ),
    ] {
        let body = json!({"name": name, "kind": kind, "config": config, "secret": secret, "severities": ["critical", "warning"]});
        let (s, b) = app.post("/api/v1/notification-channels", &app.admin, body).await;
        assert_eq!(s, StatusCode::CREATED, "{b}");
    }
    c.goto(&format!("{base}/alerts/channels")).await.unwrap();
    assert_eq!(count(c, "tr[data-channel]").await, 2);
    assert!(!c.source().await.unwrap().contains("whsec-browser-test"), "secrets never reach the page");
    shots(c, "channels").await;
    click_through(c, "tr[data-channel] a.btn").await;
    css(c, "#deliveries").await;
    shots(c, "channel-edit").await;

    c.goto(&format!("{base}/analytics")).await.unwrap();
    css(c, "[data-chart=heatmap][data-drawn] svg").await;
    assert_eq!(count(c, "[data-chart=heatmap] svg rect.cell").await, 30, "one cell per day of the 30-day range");

    // The overview's tiles refresh from /overview.json without a reload.
    c.goto(&format!("{base}/overview")).await.unwrap();
    css(c, "[data-kpi='alerts.acknowledged']").await;
    c.execute("window.__same_page = true; document.dispatchEvent(new Event('simfleet:refresh'))", vec![])
        .await
        .unwrap();
    css(c, "[data-live][data-refreshed]").await;
    assert_eq!(c.execute("return window.__same_page === true", vec![]).await.unwrap(), Value::Bool(true));
    let acknowledged = text(c, "[data-kpi='alerts.acknowledged']").await;
    assert!(acknowledged.parse::<i64>().unwrap() >= 1, "{acknowledged}");

    c.goto(&format!("{base}/settings")).await.unwrap();
    assert_eq!(text(c, "[data-circuit] .badge").await, "Closed");
    assert!(!text(c, "tr[data-job=usage]").await.contains("never"), "the usage sync succeeded");
    shots(c, "settings").await;
}

/// The monthly report: last month by default, then one customer's month through the form;
/// its figures match the API's, and its workbook link serves a workbook.
async fn monthly_report(app: &TestApp, c: &Client, base: &str) {
    c.goto(&format!("{base}/reports")).await.unwrap();
    let (_, last) = app.get("/api/v1/reports/monthly", &app.viewer).await;
    assert_eq!(text(c, "#report-month").await, last["month"].as_str().unwrap(), "the last complete month by default");
    assert_eq!(text(c, "#report-scope").await, "Whole fleet");
    assert!(count(c, "#report-usage tbody tr").await > 0, "last month's usage from the synced history");

    let month = last["month"].as_str().unwrap();
    c.goto(&format!("{base}/reports?month={month}")).await.unwrap();
    css(c, "#report-form select[name=customer_id]").await.select_by_label("Nordwind Logistics").await.unwrap();
    click_through(c, "#report-form button").await;
    assert_eq!(text(c, "#report-scope").await, "Nordwind Logistics");
    let customer =
        c.current_url().await.unwrap().query_pairs().find(|(k, _)| k == "customer_id").unwrap().1.to_string();
    let (_, api) = app.get(&format!("/api/v1/reports/monthly?month={month}&customer_id={customer}"), &app.viewer).await;
    assert_eq!(text(c, "#report-activations").await, api["activations"].to_string());
    let rows = count(c, "#report-usage tbody tr").await;
    assert_eq!(rows, api["usage"].as_array().unwrap().len().min(25));
    assert_eq!(count(c, "#report-status tbody tr").await, 6, "every status");
    shots(c, "report").await;
    let kind = c
        .execute(
            "return fetch(document.querySelector('#report-xlsx').href, {credentials: 'same-origin'})\
             .then(r => r.status + ' ' + r.headers.get('content-type'))",
            vec![],
        )
        .await
        .unwrap();
    assert_eq!(kind.as_str().unwrap(), "200 application/vnd.openxmlformats-officedocument.spreadsheetml.sheet");
}
