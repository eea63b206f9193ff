//! The dashboard's HTML handlers over plain HTTP, on both engines: login and sessions, CSRF,
//! role-based rendering and the limits of the session cookie on the API.

mod common;

use common::{TestApp, PASSWORD};
use reqwest::header::{CONTENT_TYPE, COOKIE, LOCATION, SET_COOKIE};
use reqwest::{redirect::Policy, Client, StatusCode};
use serde_json::json;

api_tests!(
    login_sets_a_strict_session_cookie_and_logout_ends_it,
    wrong_passwords_are_told_and_lock_the_account,
    forged_form_posts_are_refused,
    pages_follow_the_role,
    forms_show_errors_next_to_fields,
    the_cookie_only_reads_the_api,
    pages_render_with_data_and_escape_it,
    alerts_are_listed_and_operators_handle_them,
);

fn client() -> Client {
    Client::builder().redirect(Policy::none()).build().unwrap()
}

fn cookie_value(res: &reqwest::Response, name: &str) -> Option<(String, String)> {
    res.headers().get_all(SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).find_map(|v| {
        let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
        let (k, val) = kv.split_once('=')?;
        (k == name).then(|| (val.to_owned(), attrs.to_owned()))
    })
}

fn csrf_in(html: &str) -> String {
    let start = html.find("name=\"_csrf\" value=\"").expect("a form with a CSRF token") + 20;
    html[start..start + 64].to_owned()
}

/// A signed-in browser: its session cookie and the CSRF token its pages carry.
struct Session {
    cookie: String,
    csrf: String,
}

async fn login_page(app: &TestApp) -> (String, String) {
    let res = client().get(format!("{}/login", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let (pre, _) = cookie_value(&res, "simfleet_pre").expect("a pre-session cookie");
    let html = res.text().await.unwrap();
    (format!("simfleet_pre={pre}"), csrf_in(&html))
}

async fn post_login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    let (pre, csrf) = login_page(app).await;
    client()
        .post(format!("{}/login", app.base))
        .header(COOKIE, pre)
        .form(&[("_csrf", csrf.as_str()), ("username", username), ("password", password), ("next", "/sims")])
        .send()
        .await
        .unwrap()
}

async fn sign_in(app: &TestApp, username: &str) -> Session {
    let res = post_login(app, username, PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (token, _) = cookie_value(&res, "simfleet_session").expect("session cookie");
    let cookie = format!("simfleet_session={token}");
    let html = get(app, &cookie, "/overview").await.1;
    Session { csrf: csrf_in(&html), cookie }
}

async fn get(app: &TestApp, cookie: &str, path: &str) -> (StatusCode, String) {
    let res = client().get(format!("{}{path}", app.base)).header(COOKIE, cookie).send().await.unwrap();
    let status = res.status();
    (status, res.text().await.unwrap())
}

async fn post(app: &TestApp, s: &Session, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    client().post(format!("{}{path}", app.base)).header(COOKIE, &s.cookie).form(form).send().await.unwrap()
}

async fn login_sets_a_strict_session_cookie_and_logout_ends_it(app: &TestApp) {
    let res = client().get(format!("{}/overview", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/login?next=/overview");

    let res = post_login(app, "operator", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(res.headers()[LOCATION], "/sims", "back to where the user was going");
    let (token, attrs) = cookie_value(&res, "simfleet_session").unwrap();
    assert!(token.starts_with("sft_"), "the cookie holds a login token");
    assert!(attrs.contains("HttpOnly") && attrs.contains("SameSite=Strict") && attrs.contains("Path=/"), "{attrs}");
    assert!(!attrs.contains("Secure"), "plain HTTP unless configured");

    let s = sign_in(app, "operator").await;
    let (status, html) = get(app, &s.cookie, "/overview").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("<h1>Overview</h1>") && html.contains("operator"));

    let res = post(app, &s, "/logout", &[("_csrf", &s.csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, attrs) = cookie_value(&res, "simfleet_session").unwrap();
    assert!(attrs.contains("Max-Age=0"));
    let (status, _) = get(app, &s.cookie, "/overview").await;
    assert_eq!(status, StatusCode::SEE_OTHER, "the token is revoked, not just the cookie dropped");

    // An open redirect through `next` is not possible.
    let (pre, csrf) = login_page(app).await;
    let res = client()
        .post(format!("{}/login", app.base))
        .header(COOKIE, pre)
        .form(&[("_csrf", csrf.as_str()), ("username", "viewer"), ("password", PASSWORD), ("next", "//evil.example/")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()[LOCATION], "/overview");
}

async fn wrong_passwords_are_told_and_lock_the_account(app: &TestApp) {
    let res = post_login(app, "viewer", "wrong password").await;
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(cookie_value(&res, "simfleet_session").is_none());
    assert!(res.text().await.unwrap().contains("Wrong username or password."));
    for _ in 0..3 {
        post_login(app, "viewer", "wrong password").await;
    }
    // TestApp locks after three failures, as the API does: the right password is refused too.
    let res = post_login(app, "viewer", PASSWORD).await;
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(res.text().await.unwrap().contains("locked"));
}

async fn customers(app: &TestApp) -> i64 {
    app.get("/api/v1/customers?count=true", &app.operator).await.1["total"].as_i64().unwrap()
}

async fn forged_form_posts_are_refused(app: &TestApp) {
    let s = sign_in(app, "operator").await;
    let before = customers(app).await;
    let res = post(app, &s, "/customers", &[("name", "Forged Ltd")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no token");
    let res = post(app, &s, "/customers", &[("name", "Forged Ltd"), ("_csrf", &"0".repeat(64))]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "wrong token");
    let other = sign_in(app, "admin").await;
    let res = post(app, &s, "/customers", &[("name", "Forged Ltd"), ("_csrf", &other.csrf)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "another session's token");
    let res = client()
        .post(format!("{}/customers", app.base))
        .form(&[("name", "x"), ("_csrf", &s.csrf)])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "no session at all");
    // A multipart upload carries its token in the URL; without it, refused too.
    let res = client()
        .post(format!("{}/imports", app.base))
        .header(COOKIE, &s.cookie)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=x")
        .body("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.csv\"\r\n\r\niccid\n--x--\r\n")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    assert_eq!(customers(app).await, before, "nothing was created");

    let res = post(app, &s, "/customers", &[("name", "Real Ltd"), ("_csrf", &s.csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    assert_eq!(customers(app).await, before + 1);
    // Every dashboard change is in the audit log, forged attempts included.
    let (_, audit) = app.get("/api/v1/audit-log?limit=20", &app.admin).await;
    let rows = audit["items"].as_array().unwrap();
    assert!(
        rows.iter().any(|r| r["path"] == "/customers" && r["status"] == 303 && r["actor"] == "operator"),
        "{audit}"
    );
    assert!(rows.iter().any(|r| r["path"] == "/customers" && r["status"] == 403), "{audit}");
}

async fn pages_follow_the_role(app: &TestApp) {
    let iccid = app.sim(1, json!({"pin": "1234", "puk": "12345678"})).await;
    let customer = app.customer("Acme").await;
    app.post(&format!("/api/v1/sims/{iccid}/reserve"), &app.operator, json!({"customer_id": customer})).await;
    app.post(&format!("/api/v1/sims/{iccid}/activate"), &app.operator, json!({})).await;

    let viewer = sign_in(app, "viewer").await;
    let (status, html) = get(app, &viewer.cookie, &format!("/sims/{iccid}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(!html.contains("/actions/"), "no lifecycle forms for a viewer");
    assert!(!html.contains("reveal-secrets"), "no PIN/PUK reveal for a viewer");
    let (_, list) = get(app, &viewer.cookie, "/sims").await;
    assert!(!list.contains("value=\"suspend\""));
    assert!(!get(app, &viewer.cookie, "/settings").await.1.contains("Add a user"));
    assert_eq!(get(app, &viewer.cookie, "/settings/audit").await.0, StatusCode::FORBIDDEN);
    assert!(!get(app, &viewer.cookie, "/overview").await.1.contains("/settings/audit"), "no admin navigation");
    let res = post(app, &viewer, &format!("/sims/{iccid}/actions/suspend"), &[("_csrf", &viewer.csrf)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN, "a valid token does not lift the role check");
    let res = post(app, &viewer, &format!("/sims/{iccid}/secrets"), &[("_csrf", &viewer.csrf)]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let operator = sign_in(app, "operator").await;
    let (_, html) = get(app, &operator.cookie, &format!("/sims/{iccid}")).await;
    assert!(html.contains(&format!("/sims/{iccid}/actions/suspend")));
    assert!(!html.contains(&format!("/sims/{iccid}/actions/activate")), "only the actions the status allows");
    assert!(html.contains("reveal-secrets"));
    assert!(!html.contains("12345678"), "secrets are not in the page until revealed");
    let res = post(app, &operator, &format!("/sims/{iccid}/secrets"), &[("_csrf", &operator.csrf)]).await;
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.text().await.unwrap().contains("12345678"));
    let (_, events) = app.get(&format!("/api/v1/sims/{iccid}/events"), &app.viewer).await;
    assert_eq!(events["items"][0]["kind"], "SECRETS_REVEALED");
    assert_eq!(events["items"][0]["actor"], "operator");

    let res = post(
        app,
        &operator,
        &format!("/sims/{iccid}/actions/suspend"),
        &[("_csrf", &operator.csrf), ("reason", "unpaid")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, sim) = app.get(&format!("/api/v1/sims/{iccid}"), &app.viewer).await;
    assert_eq!(sim["status"], "SUSPENDED");
    let res = post(app, &operator, &format!("/sims/{iccid}/actions/suspend"), &[("_csrf", &operator.csrf)]).await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER, "a refused transition comes back as a message");
    let (flash, _) = cookie_value(&res, "simfleet_flash").expect("a flash message");
    let with_flash = format!("{}; simfleet_flash={flash}", operator.cookie);
    let res = client().get(format!("{}/sims/{iccid}", app.base)).header(COOKIE, &with_flash).send().await.unwrap();
    assert!(cookie_value(&res, "simfleet_flash").is_some_and(|(_, attrs)| attrs.contains("Max-Age=0")), "shown once");
    assert!(res.text().await.unwrap().contains("Not done"));
    assert_eq!(get(app, &operator.cookie, "/settings/audit").await.0, StatusCode::FORBIDDEN);
    let admin = sign_in(app, "admin").await;
    assert_eq!(get(app, &admin.cookie, "/settings/audit").await.0, StatusCode::OK);
}

async fn forms_show_errors_next_to_fields(app: &TestApp) {
    let s = sign_in(app, "operator").await;
    let res = post(app, &s, "/customers", &[("_csrf", &s.csrf), ("name", ""), ("email", "not-an-email")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"e-name\"") && html.contains("id=\"e-email\""), "errors sit by their fields");
    assert!(html.contains("is not an e-mail address"));
    assert!(html.contains("value=\"not-an-email\""), "what was typed is kept");
    // Tariff plans are an admin's: the operator cannot create one.
    let res = post(app, &s, "/tariff-plans", &[("_csrf", &s.csrf), ("name", "X"), ("monthly_price", "1")]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);
    let admin = sign_in(app, "admin").await;
    let res =
        post(app, &admin, "/tariff-plans", &[("_csrf", &admin.csrf), ("name", "Flex"), ("monthly_price", "abc")]).await;
    assert_eq!(res.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.text().await.unwrap().contains("id=\"e-monthly_price\""));
    let res = post(
        app,
        &admin,
        "/tariff-plans",
        &[("_csrf", &admin.csrf), ("name", "Flex"), ("monthly_price", "4.99"), ("type", "prepaid")],
    )
    .await;
    assert_eq!(res.status(), StatusCode::SEE_OTHER);
    let (_, plans) = app.get("/api/v1/tariff-plans", &app.viewer).await;
    assert_eq!(plans["items"][0]["monthly_price"], "4.99");
}

async fn the_cookie_only_reads_the_api(app: &TestApp) {
    let s = sign_in(app, "admin").await;
    let res = client().get(format!("{}/api/v1/auth/me", app.base)).header(COOKIE, &s.cookie).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let res = client()
        .post(format!("{}/api/v1/customers", app.base))
        .header(COOKIE, &s.cookie)
        .json(&json!({"name": "via cookie"}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "mutating API calls need an explicit credential");
}

async fn pages_render_with_data_and_escape_it(app: &TestApp) {
    let iccid = app.sim(2, json!({"label": "<script>alert(1)</script>", "tags": ["a&b"]})).await;
    let s = sign_in(app, "viewer").await;
    for path in [
        "/overview",
        "/sims",
        "/analytics",
        "/customers",
        "/tariff-plans",
        "/activation-codes",
        "/imports",
        "/jobs",
        "/settings",
    ] {
        let (status, html) = get(app, &s.cookie, path).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert!(!html.contains("<script>alert"), "{path} escapes");
    }
    let (_, html) = get(app, &s.cookie, &format!("/sims/{iccid}")).await;
    assert!(html.contains("&lt;script&gt;alert(1)&lt;"), "escaped");
    let (_, html) = get(app, &s.cookie, "/sims?status=AVAILABLE&tag=a%26b").await;
    assert!(html.contains(&iccid), "tag filter with a special character");
    let (status, _) = get(app, &s.cookie, "/sims?status=NOPE").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = get(app, &s.cookie, "/sims/8988000000000000000").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    // Assets: versioned, cached for a year.
    let (_, html) = get(app, &s.cookie, "/overview").await;
    let start = html.find("/assets/app.css?v=").unwrap();
    let url = &html[start..html[start..].find('"').unwrap() + start];
    let res = client().get(format!("{}{url}", app.base)).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert!(res.headers()["cache-control"].to_str().unwrap().contains("immutable"));
    assert!(res.headers()[CONTENT_TYPE].to_str().unwrap().starts_with("text/css"));
    let res = client().get(format!("{}/assets/vendor/d3.min.js", app.base)).send().await.unwrap();
    assert!(res.text().await.unwrap().len() > 200_000, "D3 is served by the binary");
}

/// A failed sync run raises a critical alert: everyone sees it, only operators act on it, and
/// acknowledging then resolving records who did it.
async fn alerts_are_listed_and_operators_handle_them(app: &TestApp) {
    let store = &app.db.store;
    let run = store.start_job_run("usage", "test").await.unwrap();
    store.finish_job_run(run, "failed", 0, 0, &json!([{"item": "job", "message": "provider down"}])).await.unwrap();
    store.evaluate_alerts(simfleet_store::now()).await.unwrap();

    let viewer = sign_in(app, "viewer").await;
    let (status, html) = get(app, &viewer.cookie, "/alerts").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Sync job failed") || html.contains("Sync Job Failed"), "{html}");
    assert!(html.contains("severity-critical"), "{html}");
    assert!(!html.contains("/acknowledge\""), "viewers get no action buttons");
    let id = {
        let start = html.find("data-alert=\"").unwrap() + 12;
        html[start..].split('"').next().unwrap().to_owned()
    };
    let res = post(app, &viewer, &format!("/alerts/{id}/acknowledge"), &[("_csrf", viewer.csrf.as_str())]).await;
    assert_eq!(res.status(), StatusCode::FORBIDDEN);

    let operator = sign_in(app, "operator").await;
    let forged =
        post(app, &operator, &format!("/alerts/{id}/acknowledge"), &[("_csrf", "0".repeat(64).as_str())]).await;
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
    for action in ["acknowledge", "resolve"] {
        let form = [("_csrf", operator.csrf.as_str()), ("back", "/alerts?state=all")];
        let res = post(app, &operator, &format!("/alerts/{id}/{action}"), &form).await;
        assert_eq!(res.status(), StatusCode::SEE_OTHER, "{action}");
        assert!(res.headers()[LOCATION].to_str().unwrap().starts_with("/alerts?state=all"));
    }
    let alert = store.get_alert(id.parse().unwrap()).await.unwrap();
    assert_eq!(alert.state, "resolved");
    assert_eq!(alert.acknowledged_by.as_deref(), Some("operator"));
    assert_eq!(alert.resolved_by.as_deref(), Some("operator"));
    let (_, html) = get(app, &operator.cookie, "/alerts").await;
    assert!(html.contains("No alerts here"), "a resolved alert leaves the default view: {html}");
}
