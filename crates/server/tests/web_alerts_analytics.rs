//! The dashboard's alert rules, notification channels, analytics heatmap and anomalies, the
//! overview's alert tiles and live JSON, and the settings' provider status, over plain HTTP
//! on both engines: real data, escaping, roles as the API enforces them, CSRF, field errors,
//! and secrets that never reach a page.

mod common;

use chrono::{Days, Utc};
use common::web::*;
use common::TestApp;
use reqwest::header::{CONTENT_TYPE, COOKIE};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simfleet_store::{DailyUsage, Dialect};

api_tests!(
    alert_rules_are_listed_and_operators_edit_them,
    channels_are_an_admins_and_never_show_secrets,
    analytics_shows_the_heatmap_and_anomalies_with_csv,
    overview_counts_open_alerts_live,
);

async fn alert_rules_are_listed_and_operators_edit_them(app: &TestApp) {
    let customer = app.customer("Acme <Metering>").await;
    let viewer = sign_in(app, "viewer").await;
    let (status, html) = get(app, &viewer.cookie, "/alerts/rules").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-rule=\"data_quota_low\"") && html.contains("below 20 %"), "{html}");
    assert!(html.contains("data-rule=\"offline\"") && html.contains("48 hours"));
    assert!(!html.contains(">Edit</a>"), "no edit buttons for a viewer");
    assert!(!html.contains("/alerts/channels"), "channels are an admin's");
    let (status, html) = get(app, &viewer.cookie, "/alerts/rules/data_quota_low").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<fieldset disabled") && !html.contains("Save rule"), "read-only for a viewer");
    let form = [("enabled", "on"), ("severity", "critical"), ("threshold", "30")];
    let res = post(app, &viewer, "/alerts/rules/data_quota_low", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a valid token does not lift the role check");
    assert_eq!(get(app, &viewer.cookie, "/alerts/rules/nope").await.0, StatusCode::NOT_FOUND);

    let operator = sign_in(app, "operator").await;
    let res = post_raw(app, &operator, "/alerts/rules/data_quota_low", &form).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token");
    for (threshold, message) in [("150", "must be between 0 and 100"), ("lots", "must be a whole number")] {
        let res =
            post(app, &operator, "/alerts/rules/data_quota_low", &[("severity", "warning"), ("threshold", threshold)])
                .await;
        assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
        let html = res.text().await.unwrap();
        assert!(html.contains("id=\"e-threshold\"") && html.contains(message), "{html}");
        assert!(html.contains(&format!("value=\"{threshold}\"")), "what was typed is kept");
    }
    let (_, rule) = app.get("/api/v1/alert-rules/data_quota_low", &app.viewer).await;
    assert_eq!(rule["threshold"], 20, "nothing saved from a refused form");

    let customer_id = customer.to_string();
    let form = [
        ("enabled", "on"),
        ("severity", "critical"),
        ("threshold", "30"),
        ("scope_tag", "<b>meters</b>"),
        ("scope_customer_id", customer_id.as_str()),
        ("scope_tariff_plan_id", ""),
    ];
    let (to, html) = follow(app, &operator, post(app, &operator, "/alerts/rules/data_quota_low", &form).await).await;
    assert_eq!(to, "/alerts/rules");
    assert!(html.contains("saved"), "a flash message");
    assert!(html.contains("#&lt;b&gt;meters&lt;") && !html.contains("<b>meters"), "the tag is escaped");
    assert!(html.contains("Acme &lt;Metering&gt;"), "the scope's customer by name");
    assert!(html.contains(">Edit</a>"));
    let (_, rule) = app.get("/api/v1/alert-rules/data_quota_low", &app.viewer).await;
    assert_eq!(rule["threshold"], 30);
    assert_eq!(rule["severity"], "critical");
    assert_eq!(rule["scope_tag"], "<b>meters</b>");
    assert_eq!(rule["scope_customer_id"], customer);
    assert_eq!(rule["updated_by"], "operator");

    // Unchecking "enabled" disables it; clearing the scope removes it.
    let form = [("severity", "warning"), ("threshold", "30"), ("scope_tag", ""), ("scope_customer_id", "")];
    follow(app, &operator, post(app, &operator, "/alerts/rules/data_quota_low", &form).await).await;
    let (_, rule) = app.get("/api/v1/alert-rules/data_quota_low", &app.viewer).await;
    assert_eq!(rule["enabled"], false);
    assert!(rule["scope_tag"].is_null() && rule["scope_customer_id"].is_null(), "{rule}");
    // A rule without a threshold takes none from the form.
    follow(
        app,
        &operator,
        post(app, &operator, "/alerts/rules/quota_exhausted", &[("enabled", "on"), ("severity", "warning")]).await,
    )
    .await;
    let (_, rule) = app.get("/api/v1/alert-rules/quota_exhausted", &app.viewer).await;
    assert_eq!((rule["severity"].as_str(), rule["threshold"].as_i64()), (Some("warning"), Some(0)));
}

async fn channel(app: &TestApp, id: i64) -> Value {
    let (status, c) = app.get(&format!("/api/v1/notification-channels/{id}"), &app.admin).await;
    assert_eq!(status, StatusCode::OK, "{c}");
    c
}

fn id_from(path: &str) -> i64 {
    path.rsplit('/').next().unwrap().parse().unwrap()
}

async fn channels_are_an_admins_and_never_show_secrets(app: &TestApp) {
    for user in ["viewer", "operator"] {
        let s = sign_in(app, user).await;
        assert_eq!(get(app, &s.cookie, "/alerts/channels").await.0, StatusCode::FORBIDDEN, "{user}");
        assert_eq!(get(app, &s.cookie, "/alerts/channels/new").await.0, StatusCode::FORBIDDEN, "{user}");
        let res = post(app, &s, "/alerts/channels", &[("kind", "webhook"), ("name", "x")]).await;
        assert_eq!(res.status(), StatusCode::FORBIDDEN, "{user}");
    }
    let admin = sign_in(app, "admin").await;
    let (status, html) = get(app, &admin.cookie, "/alerts/channels").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("No channels yet"));
    assert_eq!(get(app, &admin.cookie, "/alerts/channels/new?kind=webhook").await.0, StatusCode::OK);

    // Webhooks: a URL and a signing secret are required.
    let hook = [("kind", "webhook"), ("name", "NOC hook"), ("enabled", "on"), ("config.url", "ftp://x")];
    let res = post(app, &admin, "/alerts/channels", &hook).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"e-config.url\"") && html.contains("id=\"e-secret\""), "{html}");
    assert!(html.contains("value=\"NOC hook\""), "what was typed is kept");
    let res = post_raw(app, &admin, "/alerts/channels", &hook).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no CSRF token");

    let secret = "hmac-secret-do-not-show-9f2c";
    let hook = [
        ("kind", "webhook"),
        ("name", "NOC <hook>"),
        ("enabled", "on"),
        ("config.url", "http://127.0.0.1:9/simfleet"),
        ("secret", secret),
        ("severities", "critical"),
        ("severities", "warning"),
        ("kinds", "sync_job_failed"),
    ];
    let (to, html) = follow(app, &admin, post(app, &admin, "/alerts/channels", &hook).await).await;
    let id = id_from(&to);
    assert!(html.contains("created"), "{html}");
    assert!(html.contains("NOC &lt;hook&gt;") && !html.contains("NOC <hook>"), "escaped");
    assert!(!html.contains(secret), "the secret is not echoed back");
    assert!(html.contains("id=\"deliveries\""), "with its delivery log");
    let c = channel(app, id).await;
    assert_eq!(c["has_secret"], true);
    assert_eq!(c["severities"], json!(["critical", "warning"]));
    assert_eq!(c["kinds"], json!(["sync_job_failed"]));

    // Saving without a secret keeps the stored one; a failed test send says why.
    let edit: Vec<(&str, &str)> = hook.iter().filter(|(k, _)| *k != "secret").copied().collect();
    follow(app, &admin, post(app, &admin, &format!("/alerts/channels/{id}"), &edit).await).await;
    assert_eq!(channel(app, id).await["has_secret"], true);
    let (_, html) = follow(app, &admin, post(app, &admin, &format!("/alerts/channels/{id}/test"), &[]).await).await;
    assert!(html.contains("failed"), "the receiver is not there: {html}");
    assert!(!html.contains(secret));

    // E-mail: field errors next to the fields; the SMTP password is never shown.
    let mail = [
        ("kind", "email"),
        ("name", "Ops mail"),
        ("config.host", ""),
        ("config.port", "smtp"),
        ("config.security", "starttls"),
    ];
    let res = post(app, &admin, "/alerts/channels", &mail).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"e-config.port\""));
    let mail = [
        ("kind", "email"),
        ("name", "Ops mail"),
        ("enabled", "on"),
        ("config.host", "smtp.example.com"),
        ("config.port", "587"),
        ("config.security", "starttls"),
        ("config.username", "mailer"),
        ("config.from", "not an address"),
        ("config.to", "noc@example.com, oncall@example.com"),
        ("secret", "smtp-password-never-shown"),
    ];
    let res = post(app, &admin, "/alerts/channels", &mail).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"e-config.from\""), "{html}");
    assert!(!html.contains("smtp-password-never-shown"), "not even in a form with errors");
    let mut mail = mail.to_vec();
    mail[7].1 = "simfleet@example.com";
    let (to, html) = follow(app, &admin, post(app, &admin, "/alerts/channels", &mail).await).await;
    assert!(!html.contains("smtp-password-never-shown"));
    assert!(html.contains("value=\"noc@example.com, oncall@example.com\""));
    let c = channel(app, id_from(&to)).await;
    assert_eq!(c["config"]["to"], json!(["noc@example.com", "oncall@example.com"]));
    assert_eq!(c["has_secret"], true);

    let (_, list) = get(app, &admin.cookie, "/alerts/channels").await;
    assert!(list.contains("NOC &lt;hook&gt;") && list.contains("Ops mail") && list.contains("Send test"));
    assert!(!list.contains(secret) && !list.contains("smtp-password-never-shown"));
    let (to, _) = follow(app, &admin, post(app, &admin, &format!("/alerts/channels/{id}/delete"), &[]).await).await;
    assert_eq!(to, "/alerts/channels");
    assert_eq!(app.get(&format!("/api/v1/notification-channels/{id}"), &app.admin).await.0, StatusCode::NOT_FOUND);
}

fn usage(day: chrono::NaiveDate, bytes: i64) -> DailyUsage {
    DailyUsage { day, data_rx: bytes / 2, data_tx: bytes - bytes / 2, data_total: bytes, sms_mo: 0, sms_mt: 0 }
}

async fn analytics_shows_the_heatmap_and_anomalies_with_csv(app: &TestApp) {
    let store = &app.db.store;
    let steady = app.sim(31, json!({"label": "<i>steady</i>"})).await;
    let spiky = app.sim(32, json!({})).await;
    let yesterday = Utc::now().date_naive() - Days::new(1);
    let mut rows = vec![];
    for (iccid, spike) in [(&steady, 10), (&spiky, 500)] {
        let sim = store.get_sim(iccid).await.unwrap().id;
        for n in 1..=20 {
            rows.push((sim, usage(yesterday - Days::new(n), 10 << 20)));
        }
        rows.push((sim, usage(yesterday, spike << 20)));
    }
    store.upsert_usage(&rows).await.unwrap();
    store.refresh_usage_rollups(yesterday - Days::new(30)).await.unwrap();

    let s = sign_in(app, "viewer").await;
    let (status, html) = get(app, &s.cookie, "/analytics").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-chart=\"heatmap\"") && html.contains("\"heatmap\": [{\"week\""), "{html}");
    assert!(html.contains("Average per weekday"));
    let anomalies = &html[html.find("id=\"anomalies\"").unwrap()..];
    assert!(anomalies.contains(&format!("href=\"/sims/{spiky}\"")), "the spike, linking to its SIM");
    assert!(!anomalies.contains(&steady), "not the steady SIM");
    assert!(anomalies.contains("×50.0") && anomalies.contains("10.0 MB"), "factor and baseline median");
    assert!(!html.contains("<i>steady"), "escaped");

    let res = client()
        .get(format!("{}/analytics/heatmap.csv?from={}&to={yesterday}", app.base, yesterday - Days::new(6)))
        .header(COOKIE, &s.cookie)
        .send()
        .await
        .unwrap();
    assert!(res.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    let csv = res.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], "week,weekday,day,data_bytes,active_sims");
    assert_eq!(lines.len(), 8, "one line per day of the range: {csv}");
    assert!(lines[7].contains(&format!(",{yesterday},{},2", 510_i64 << 20)), "{csv}");
    let (_, csv) = get(app, &s.cookie, "/analytics/anomalies.csv").await;
    assert!(csv.starts_with("iccid,day,data_bytes,baseline_median_bytes,baseline_mad_bytes"), "{csv}");
    assert!(csv.contains(&format!("{spiky},{yesterday},{}", 500_i64 << 20)) && csv.contains(",50.00"), "{csv}");
    assert_eq!(csv.lines().count(), 2, "{csv}");
    // The range scan finds what the API's one-day query finds, with the same baseline.
    let (_, api) = app.get(&format!("/api/v1/stats/anomalies?day={yesterday}"), &app.viewer).await;
    let one = &api["items"][0];
    assert_eq!(one["iccid"], spiky.as_str());
    let baseline = format!(
        ",{:.0},{:.0},{},",
        one["median"].as_f64().unwrap(),
        one["mad"].as_f64().unwrap(),
        one["baseline_days"]
    );
    assert!(csv.contains(&baseline), "{csv} vs {api}");
    // The lists follow the range: before the spike there is none.
    let before = yesterday - Days::new(2);
    let (_, html) = get(app, &s.cookie, &format!("/analytics?from={}&to={before}", before - Days::new(10))).await;
    assert!(html.contains("No SIM used far more data"), "{html}");
}

async fn overview_counts_open_alerts_live(app: &TestApp) {
    let store = &app.db.store;
    let run = store.start_job_run("usage", "test").await.unwrap();
    store.finish_job_run(run, "failed", 0, 0, &json!([{"item": "job", "message": "down"}])).await.unwrap();
    store.evaluate_alerts(simfleet_store::now()).await.unwrap();

    let s = sign_in(app, "viewer").await;
    let (_, html) = get(app, &s.cookie, "/overview").await;
    assert!(html.contains("href=\"/alerts?state=open&amp;severity=critical\""), "a tile linking to the filtered list");
    assert!(html.contains("data-kpi=\"alerts.critical\">1<"), "{html}");
    assert!(html.contains("data-live=\"/overview.json\"") && html.contains("js/live.js"));
    let json = |cookie: Option<String>| async move {
        let mut req = client().get(format!("{}/overview.json", app.base));
        if let Some(c) = cookie {
            req = req.header(COOKIE, c);
        }
        let res = req.send().await.unwrap();
        (res.status(), res.json::<Value>().await.unwrap_or(Value::Null))
    };
    let (status, body) = json(Some(s.cookie.clone())).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["kpis"]["alerts"], json!({"critical": 1, "warning": 0, "info": 0, "acknowledged": 0}));
    assert_eq!(body["jobs"][0]["job"], "usage");
    assert_eq!(body["jobs"][0]["status"], "failed");
    assert_eq!(json(None).await.0, StatusCode::UNAUTHORIZED, "behind the session");

    let (_, alerts) = app.get("/api/v1/alerts?state=open", &app.viewer).await;
    let id = alerts["items"][0]["id"].as_i64().unwrap();
    app.call(Method::POST, &format!("/api/v1/alerts/{id}/acknowledge"), Some(&app.operator), None).await;
    let (_, body) = json(Some(s.cookie.clone())).await;
    assert_eq!(body["kpis"]["alerts"]["critical"], 0);
    assert_eq!(body["kpis"]["alerts"]["acknowledged"], 1);
}

/// With a provider: the settings page shows the client's circuit state and each job's last
/// successful sync (SQLite only; the provider side is the same on both engines).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_show_the_circuit_and_last_syncs() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sim = onence_sim::spawn(onence_sim::SimConfig::new(5, 7), listener).await.unwrap();
    let app = TestApp::spawn_with(Dialect::Sqlite, Some(sim.base_url().to_owned())).await.unwrap();
    let (status, body) = app.call(Method::POST, "/api/v1/jobs/sims/run", Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    for _ in 0..200 {
        let (_, runs) = app.get("/api/v1/jobs/runs?job=sims", &app.viewer).await;
        if runs["items"][0]["status"] == "success" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    let s = sign_in(&app, "viewer").await;
    let (status, html) = get(&app, &s.cookie, "/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("data-circuit=\"closed\""), "{html}");
    let row = |job: &str| {
        let start = html.find(&format!("data-job=\"{job}\"")).unwrap();
        html[start..start + html[start..].find("</tr>").unwrap()].to_owned()
    };
    assert!(row("sims").contains("just now"), "{}", row("sims"));
    assert!(row("usage").contains("never"), "{}", row("usage"));
    app.stop().await;
}
