//! The monthly fleet report: JSON, the workbook (read back with calamine) and the printable
//! dashboard page, on both engines.

mod common;

use calamine::{Data, Reader, Xlsx};
use chrono::{Datelike, Utc};
use common::TestApp;
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_TYPE, COOKIE};
use reqwest::StatusCode;
use serde_json::{json, Value};
use simfleet_store::DailyUsage;

const MB: i64 = 1_048_576;

/// Two customers' SIMs with a month of lifecycle and usage: ACME has an active SIM that used
/// 300 MB and 5 SMS, and a terminated one; Beta has an active SIM that used 40 MB.
async fn fleet(app: &TestApp) -> (i64, String, String) {
    let acme = app.customer("ACME Logistics").await;
    let beta = app.customer("Beta Meters").await;
    let [a1, a2, b1] = [1, 2, 3].map(common::iccid);
    for (n, customer) in [(1, acme), (2, acme), (3, beta)] {
        app.sim(n, json!({"label": format!("Tracker {n}")})).await;
        let (s, b) = app
            .post(
                &format!("/api/v1/sims/{}/reserve", common::iccid(n)),
                &app.operator,
                json!({"customer_id": customer}),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    for iccid in [&a1, &b1] {
        let (s, b) = app.post(&format!("/api/v1/sims/{iccid}/activate"), &app.operator, json!({})).await;
        assert_eq!(s, StatusCode::OK, "{b}");
    }
    let (s, b) = app.post(&format!("/api/v1/sims/{a2}/terminate"), &app.operator, json!({"reason": "broken"})).await;
    assert_eq!(s, StatusCode::OK, "{b}");
    app.sim(4, json!({})).await; // own stock, no customer, no usage

    let store = &app.db.store;
    let today = Utc::now().date_naive();
    let id = |iccid: String| async move { store.get_sim(&iccid).await.unwrap().id };
    let row = |bytes: i64, sms: i64| DailyUsage {
        day: today,
        data_rx: bytes * 3 / 4,
        data_tx: bytes / 4,
        data_total: bytes,
        sms_mo: sms,
        sms_mt: 0,
    };
    store
        .upsert_usage(&[(id(a1.clone()).await, row(300 * MB, 5)), (id(b1.clone()).await, row(40 * MB, 0))])
        .await
        .unwrap();
    store.refresh_usage_rollups(today.with_day(1).unwrap()).await.unwrap();
    (acme, a1, b1)
}

fn this_month() -> String {
    Utc::now().format("%Y-%m").to_string()
}

async fn json_and_errors(app: &TestApp) {
    let (acme, a1, b1) = fleet(app).await;
    let month = this_month();

    let (status, r) = app.get(&format!("/api/v1/reports/monthly?month={month}&customer_id={acme}"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert_eq!((r["month"].as_str(), r["scope"].as_str()), (Some(month.as_str()), Some("ACME Logistics")));
    let count = |r: &Value, st: &str| {
        r["sims_by_status"].as_array().unwrap().iter().find(|s| s["status"] == st).unwrap()["count"].clone()
    };
    assert_eq!((count(&r, "ACTIVE"), count(&r, "TERMINATED"), count(&r, "AVAILABLE")), (json!(1), json!(1), json!(0)));
    assert_eq!((r["activations"].clone(), r["terminations"].clone()), (json!(1), json!(1)));
    assert_eq!(r["totals"]["data_total"], 300 * MB);
    assert_eq!(r["totals"]["sms_mo"], 5);
    assert_eq!(r["usage"].as_array().unwrap().len(), 1);
    assert_eq!(r["usage"][0]["iccid"], a1.as_str());
    assert_eq!(r["usage"][0]["customer"], "ACME Logistics");

    let (_, fleet) = app.get(&format!("/api/v1/reports/monthly?month={month}"), &app.viewer).await;
    assert_eq!(fleet["scope"], "Whole fleet");
    assert_eq!(fleet["totals"]["data_total"], 340 * MB);
    let heaviest: Vec<&str> = fleet["usage"].as_array().unwrap().iter().map(|u| u["iccid"].as_str().unwrap()).collect();
    assert_eq!(heaviest, [a1.as_str(), b1.as_str()]);
    assert_eq!(count(&fleet, "AVAILABLE"), json!(1), "own stock counts in the fleet");

    // Without a month: the last complete one, where nothing happened.
    let (_, last) = app.get("/api/v1/reports/monthly", &app.viewer).await;
    let previous = Utc::now().date_naive().with_day(1).unwrap() - chrono::Days::new(1);
    assert_eq!(last["month"], previous.format("%Y-%m").to_string());
    assert_eq!((last["activations"].clone(), last["totals"]["data_total"].clone()), (json!(0), json!(0)));

    for (query, field) in
        [("month=2026-13", "month"), ("month=soon", "month"), ("month=2999-01", "month"), ("format=pdf", "format")]
    {
        let (status, p) = app.get(&format!("/api/v1/reports/monthly?{query}"), &app.viewer).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{query}: {p}");
        assert_eq!(p["errors"][0]["field"], field, "{p}");
    }
    let (status, _) = app.get("/api/v1/reports/monthly?customer_id=999999", &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let res = app.http.get(format!("{}/api/v1/reports/monthly", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
}

fn cell(sheet: &calamine::Range<Data>, row: usize, col: usize) -> String {
    sheet.get((row, col)).map(|c| c.to_string()).unwrap_or_default()
}

async fn workbook(app: &TestApp) {
    let (acme, a1, _) = fleet(app).await;
    let res = app
        .http
        .get(format!("{}/api/v1/reports/monthly?month={}&customer_id={acme}&format=xlsx", app.base, this_month()))
        .bearer_auth(&app.viewer)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()[CONTENT_TYPE].to_str().unwrap().contains("spreadsheetml"));
    let disposition = res.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_owned();
    assert!(disposition.contains(&format!("fleet-report-{}-customer-{acme}.xlsx", this_month())), "{disposition}");
    let bytes = res.bytes().await.unwrap().to_vec();
    // Zip entries keep their names in the clear: the summary and the top consumers have charts.
    let has = |name: &[u8]| bytes.windows(name.len()).any(|w| w == name);
    assert!(has(b"xl/charts/chart1.xml") && has(b"xl/charts/chart2.xml"), "two charts");

    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    assert_eq!(book.sheet_names(), ["Summary", "Usage per SIM", "Top consumers", "Quota risk", "Open alerts"]);
    let summary = book.worksheet_range("Summary").unwrap();
    assert_eq!(cell(&summary, 1, 0), "ACME Logistics");
    let figure = |name: &str| {
        (0..summary.height()).find(|r| cell(&summary, *r, 0) == name).map(|r| cell(&summary, r, 1)).unwrap_or_default()
    };
    assert_eq!(figure("ACTIVE"), "1");
    assert_eq!(figure("Activations"), "1");
    assert_eq!(figure("Terminations"), "1");
    assert_eq!(figure("Data used (MB)"), "300");
    let usage = book.worksheet_range("Usage per SIM").unwrap();
    assert_eq!(usage.height(), 2, "a header and ACME's one SIM with usage");
    assert_eq!((cell(&usage, 1, 0), cell(&usage, 1, 1), cell(&usage, 1, 4)), (a1, "Tracker 1".into(), "300".into()));
    assert_eq!(cell(&usage, 1, 5), (225 * MB).to_string(), "received bytes, exact");
}

/// The dashboard page: a viewer's session shows the report and downloads the workbook.
async fn printable_page(app: &TestApp) {
    let (acme, a1, _) = fleet(app).await;
    let session = common::web::sign_in(app, "viewer").await;
    let http = common::web::client();
    let page = |path: String| {
        let (http, cookie) = (http.clone(), session.cookie.clone());
        async move { http.get(format!("{}{path}", app.base)).header(COOKIE, cookie).send().await.unwrap() }
    };

    let res = page(format!("/reports?month={}&customer_id={acme}", this_month())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let html = res.text().await.unwrap();
    assert!(html.contains("<span id=\"report-scope\">ACME Logistics</span>"), "{html}");
    assert!(html.contains("<span class=\"kpi-value\" id=\"report-activations\">1</span>"));
    assert!(html.contains("<span class=\"kpi-value\" id=\"report-data\">300 MB</span>"), "{html}");
    assert!(html.contains(&a1), "the SIM is listed");
    assert!(html.contains("data-print"), "a print button");
    assert!(html.contains(&format!("/reports/monthly.xlsx?month={}&amp;customer_id={acme}", this_month())));

    let res = page(format!("/reports/monthly.xlsx?month={}&customer_id={acme}", this_month())).await;
    assert_eq!(res.status(), StatusCode::OK);
    let book: Xlsx<_> =
        calamine::open_workbook_from_rs(std::io::Cursor::new(res.bytes().await.unwrap().to_vec())).unwrap();
    assert_eq!(book.sheet_names().len(), 5);

    let html = page("/reports?month=2999-01".into()).await.text().await.unwrap();
    assert!(html.contains("id=\"report-error\">month: 2999-01 has not begun yet"), "{html}");
}

/// Daily usage of one SIM and of the fleet for a range, zeros included, as CSV and XLSX.
async fn usage_exports(app: &TestApp) {
    let (_, a1, _) = fleet(app).await;
    let today = Utc::now().date_naive();
    let from = today - chrono::Days::new(2);
    let download = |query: String| async move {
        let res = app
            .http
            .get(format!("{}/api/v1/exports/usage?{query}", app.base))
            .bearer_auth(&app.viewer)
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{query}");
        let name = res.headers()[CONTENT_DISPOSITION].to_str().unwrap().to_owned();
        (name, res.bytes().await.unwrap().to_vec())
    };

    let (name, csv) = download(format!("iccid={a1}&from={from}&to={today}")).await;
    assert!(name.contains(&format!("usage-{a1}-{from}-{today}.csv")), "{name}");
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "day,data_rx,data_tx,data_total,sms_mo,sms_mt");
    assert_eq!(lines.len(), 4, "a header and three days: {csv}");
    assert_eq!(lines[1], format!("{from},0,0,0,0,0"));
    assert_eq!(lines[3], format!("{today},{},{},{},5,0", 225 * MB, 75 * MB, 300 * MB));

    let (_, fleet_csv) = download(format!("from={today}&to={today}")).await;
    let fleet_csv = String::from_utf8(fleet_csv).unwrap();
    assert_eq!(fleet_csv.lines().nth(1).unwrap(), format!("{today},{},{},{},5,0,2", 255 * MB, 85 * MB, 340 * MB));

    let (name, bytes) = download(format!("iccid={a1}&from={from}&to={today}&format=xlsx")).await;
    assert!(name.ends_with(".xlsx\""), "{name}");
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(std::io::Cursor::new(bytes)).unwrap();
    let sheet = book.worksheet_range("Usage").unwrap();
    assert_eq!(sheet.height(), 4);
    assert_eq!(cell(&sheet, 3, 3), (300 * MB).to_string());

    for (query, field) in [(format!("from={today}&to={from}"), "from"), ("format=ods".to_owned(), "format")] {
        let (status, p) = app.get(&format!("/api/v1/exports/usage?{query}"), &app.viewer).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{p}");
        assert_eq!(p["errors"][0]["field"], field);
    }
    let (status, _) = app.get(&format!("/api/v1/exports/usage?iccid={}", common::iccid(999)), &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

api_tests!(json_and_errors, workbook, printable_page, usage_exports);
