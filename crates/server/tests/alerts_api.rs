//! Alert rules, alerts, mutes and notification channels over HTTP, on SQLite and PostgreSQL.

mod common;

use common::TestApp;
use reqwest::{Method, StatusCode};
use serde_json::json;

async fn rules_are_listed_and_edited_by_operators(app: &TestApp) {
    let (status, rules) = app.get("/api/v1/alert-rules", &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    let items = rules["items"].as_array().unwrap();
    assert_eq!(items.len(), 11);
    let sms = items.iter().find(|r| r["kind"] == "sms_received").unwrap();
    assert_eq!((sms["enabled"].as_bool(), sms["severity"].as_str()), (Some(false), Some("info")), "off by default");
    let low = items.iter().find(|r| r["kind"] == "data_quota_low").unwrap();
    assert_eq!((low["threshold"].as_i64(), low["threshold_unit"].as_str()), (Some(20), Some("percent")));

    let path = "/api/v1/alert-rules/data_quota_low";
    let (status, _) = app.patch(path, &app.viewer, json!({ "threshold": 30 })).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, err) = app.patch(path, &app.operator, json!({ "threshold": 150 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err["errors"][0]["field"], "threshold");
    let (status, rule) =
        app.patch(path, &app.operator, json!({ "threshold": 30, "severity": "critical", "scope_tag": "fleet" })).await;
    assert_eq!(status, StatusCode::OK, "{rule}");
    assert_eq!((rule["threshold"].as_i64(), rule["severity"].as_str()), (Some(30), Some("critical")));
    assert_eq!((rule["scope_tag"].as_str(), rule["updated_by"].as_str()), (Some("fleet"), Some("operator")));
    let (_, rule) = app.patch(path, &app.operator, json!({ "scope_tag": null })).await;
    assert!(rule["scope_tag"].is_null());
    let (status, _) = app.get("/api/v1/alert-rules/no_such_kind", &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn alerts_are_filtered_acknowledged_and_resolved(app: &TestApp) {
    let low = app.sim(1, json!({})).await;
    let empty = app.sim(2, json!({})).await;
    let store = &app.db.store;
    let quota = |remaining| common::data_quota(remaining, 100);
    let id = |iccid: &str| {
        let iccid = iccid.to_owned();
        async move { store.get_sim(&iccid).await.unwrap().id }
    };
    store.upsert_quotas(&[(id(&low).await, quota(5)), (id(&empty).await, quota(0))]).await.unwrap();
    store.evaluate_alerts(simfleet_store::now()).await.unwrap();

    let (_, all) = app.get("/api/v1/alerts?state=open&count=true", &app.viewer).await;
    assert_eq!(all["total"], 2);
    let (_, critical) = app.get("/api/v1/alerts?severity=critical", &app.viewer).await;
    let critical = critical["items"].as_array().unwrap();
    assert_eq!(critical.len(), 1);
    assert_eq!(
        (critical[0]["kind"].as_str(), critical[0]["iccid"].as_str()),
        (Some("quota_exhausted"), Some(empty.as_str()))
    );
    let (_, by_sim) = app.get(&format!("/api/v1/alerts?iccid={low}&kind=data_quota_low"), &app.viewer).await;
    assert_eq!(by_sim["items"].as_array().unwrap().len(), 1);
    let (_, paged) = app.get("/api/v1/alerts?limit=1", &app.viewer).await;
    let (_, next) = app
        .get(&format!("/api/v1/alerts?limit=1&cursor={}", paged["next_cursor"].as_str().unwrap()), &app.viewer)
        .await;
    assert_ne!(paged["items"][0]["id"], next["items"][0]["id"]);
    assert!(next["next_cursor"].is_null());
    let (status, err) = app.get("/api/v1/alerts?state=sleeping", &app.viewer).await;
    assert_eq!((status, err["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("state")));
    let (status, _) = app.get("/api/v1/alerts/999999", &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    let alert = &critical[0];
    let (status, resolved) =
        app.post(&format!("/api/v1/alerts/{}/resolve", alert["id"]), &app.operator, json!({})).await;
    assert_eq!((status, resolved["resolved_by"].as_str()), (StatusCode::OK, Some("operator")));
    let (status, _) = app.post(&format!("/api/v1/alerts/{}/acknowledge", alert["id"]), &app.operator, json!({})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a resolved alert cannot be acknowledged");
    let (_, mine) = app.get(&format!("/api/v1/sims/{empty}/alerts"), &app.viewer).await;
    assert_eq!(mine["items"][0]["state"], "resolved");

    // Mutes: a muted kind resolves and stays quiet.
    let mute = format!("/api/v1/sims/{low}/alert-mutes/data_quota_low");
    let (status, _) = app.call(Method::PUT, &mute, Some(&app.viewer), None).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.call(Method::PUT, &mute, Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (_, mutes) = app.get(&format!("/api/v1/sims/{low}/alert-mutes"), &app.viewer).await;
    assert_eq!(mutes["items"][0]["kind"], "data_quota_low");
    store.evaluate_alerts(simfleet_store::now()).await.unwrap();
    let (_, active) = app.get(&format!("/api/v1/sims/{low}/alerts?state=active"), &app.viewer).await;
    assert!(active["items"].as_array().unwrap().is_empty());
    let (status, _) = app.delete(&mute, &app.operator).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.delete(&mute, &app.operator).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) =
        app.call(Method::PUT, &format!("/api/v1/sims/{low}/alert-mutes/bogus"), Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn channels_validate_and_never_show_secrets(app: &TestApp) {
    let path = "/api/v1/notification-channels";
    let (status, err) = app
        .post(path, &app.admin, json!({ "name": "h", "kind": "webhook", "config": { "url": "http://127.0.0.1:9/x" } }))
        .await;
    assert_eq!((status, err["errors"][0]["field"].as_str()), (StatusCode::UNPROCESSABLE_ENTITY, Some("secret")));
    let bad_mail = json!({ "name": "m", "kind": "email", "config": { "host": "h", "port": 25, "security": "ssl3", "from": "a@b.org", "to": ["c@d.org"] } });
    let (status, err) = app.post(path, &app.admin, bad_mail).await;
    assert_eq!(
        (status, err["errors"][0]["field"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("config.security"))
    );
    let mail = json!({
        "name": "mail", "kind": "email", "severities": ["critical", "warning"], "kinds": ["offline"],
        "config": { "host": "127.0.0.1", "port": 9, "security": "none", "username": "u", "from": "a@b.org", "to": ["c@d.org"] },
        "secret": "smtp-password-123"
    });
    let (status, created) = app.post(path, &app.admin, mail.clone()).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    assert_eq!(created["has_secret"], true);
    assert_eq!(created["kinds"], json!(["offline"]));
    let id = created["id"].as_i64().unwrap();
    let (_, listed) = app.get(path, &app.admin).await;
    assert!(!listed.to_string().contains("smtp-password-123"));
    let stored = app.db.store.channel(id).await.unwrap();
    assert!(!stored.secret_enc.unwrap().contains("smtp-password-123"), "sealed at rest");

    // Replacing without a secret keeps the stored one.
    let mut update = mail.clone();
    update.as_object_mut().unwrap().remove("secret");
    update["name"] = json!("renamed");
    let (status, updated) = app.call(Method::PUT, &format!("{path}/{id}"), Some(&app.admin), Some(update)).await;
    assert_eq!(
        (status, updated["name"].as_str(), updated["has_secret"].as_bool()),
        (StatusCode::OK, Some("renamed"), Some(true))
    );

    // Nothing listens on port 9: the test reports the failure instead of failing the request.
    let (status, test) = app.post(&format!("{path}/{id}/test"), &app.admin, json!({})).await;
    assert_eq!((status, test["ok"].as_bool()), (StatusCode::OK, Some(false)));
    assert!(!test["error"].as_str().unwrap().contains("smtp-password-123"));
    let (_, log) = app.get(&format!("{path}/{id}/deliveries"), &app.admin).await;
    assert!(log["items"].as_array().unwrap().is_empty());

    let (status, _) = app.get(&format!("{path}/{id}"), &app.operator).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, _) = app.delete(&format!("{path}/{id}"), &app.admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get(&format!("{path}/{id}"), &app.admin).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn analytics_validate_their_parameters(app: &TestApp) {
    let (status, _) = app.get("/api/v1/stats/sims-at-risk?days=0", &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, risk) = app.get("/api/v1/stats/sims-at-risk", &app.viewer).await;
    assert_eq!((status, risk["days"].as_i64()), (StatusCode::OK, Some(30)));
    let (status, _) = app.get("/api/v1/stats/usage-heatmap?weeks=60", &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, heat) = app.get("/api/v1/stats/usage-heatmap?weeks=1", &app.viewer).await;
    assert_eq!(status, StatusCode::OK);
    assert!(heat["items"].as_array().unwrap().iter().all(|c| c["data_total"] == 0));
    let (status, anomalies) = app.get("/api/v1/stats/anomalies", &app.viewer).await;
    assert_eq!((status, anomalies["items"].as_array().map(Vec::len)), (StatusCode::OK, Some(0)));
    let sim = app.sim(3, json!({})).await;
    let (status, _) = app.get(&format!("/api/v1/sims/{sim}/forecast"), &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "no quota known yet");
}

/// ICCIDs with an active alert of `kind`, as the alert list shows them.
async fn alerted(app: &TestApp, kind: &str) -> Vec<String> {
    let (status, page) = app.get(&format!("/api/v1/alerts?state=active&kind={kind}&limit=100"), &app.viewer).await;
    assert_eq!(status, StatusCode::OK, "{page}");
    let mut iccids: Vec<String> =
        page["items"].as_array().unwrap().iter().map(|a| a["iccid"].as_str().unwrap().to_owned()).collect();
    iccids.sort();
    iccids
}

fn sorted(mut v: Vec<&String>) -> Vec<String> {
    v.sort();
    v.into_iter().cloned().collect()
}

async fn plan(app: &TestApp, name: &str) -> i64 {
    let (status, plan) =
        app.post("/api/v1/tariff-plans", &app.admin, json!({ "name": name, "monthly_price": "1.00" })).await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    plan["id"].as_i64().unwrap()
}

/// A rule scoped (over the API) to a customer, a tariff plan or both raises alerts only for
/// the SIMs in scope; alerts outside a narrowed scope resolve; a SIM moved into the scope is
/// caught; a mute silences one SIM of the scope only.
async fn rule_scopes_by_customer_and_tariff_plan(app: &TestApp) {
    let (acme, globex) = (app.customer("Acme").await, app.customer("Globex").await);
    let (basic, pro) = (plan(app, "Basic").await, plan(app, "Pro").await);
    let acme_basic = app.sim(1, json!({ "customer_id": acme, "tariff_plan_id": basic })).await;
    let acme_pro = app.sim(2, json!({ "customer_id": acme, "tariff_plan_id": pro })).await;
    let globex_basic = app.sim(3, json!({ "customer_id": globex, "tariff_plan_id": basic })).await;
    let globex_pro = app.sim(4, json!({ "customer_id": globex, "tariff_plan_id": pro })).await;
    let loose = app.sim(5, json!({})).await;
    let all = [&acme_basic, &acme_pro, &globex_basic, &globex_pro, &loose];
    let store = &app.db.store;
    app.exhaust_data(all).await;
    let evaluate = || async { store.evaluate_alerts(simfleet_store::now()).await.unwrap() };
    let rule = "/api/v1/alert-rules/quota_exhausted";

    // Customer scope.
    let (status, r) = app.patch(rule, &app.operator, json!({ "scope_customer_id": acme })).await;
    assert_eq!((status, r["scope_customer_id"].as_i64()), (StatusCode::OK, Some(acme)), "{r}");
    evaluate().await;
    assert_eq!(alerted(app, "quota_exhausted").await, sorted(vec![&acme_basic, &acme_pro]));

    // Tariff plan scope instead: Acme's Pro SIM leaves the scope and its alert resolves.
    let (status, r) =
        app.patch(rule, &app.operator, json!({ "scope_customer_id": null, "scope_tariff_plan_id": basic })).await;
    assert_eq!(status, StatusCode::OK, "{r}");
    assert!(r["scope_customer_id"].is_null());
    let out = evaluate().await;
    assert_eq!((out.opened, out.resolved), (1, 1), "{out:?}");
    assert_eq!(alerted(app, "quota_exhausted").await, sorted(vec![&acme_basic, &globex_basic]));
    let (_, history) = app.get(&format!("/api/v1/sims/{acme_pro}/alerts"), &app.viewer).await;
    assert_eq!(history["items"][0]["state"], "resolved", "{history}");
    assert_eq!(history["items"][0]["resolved_by"], "system", "{history}");

    // Both scopes at once: only SIMs of that customer on that plan.
    let (status, _) = app.patch(rule, &app.operator, json!({ "scope_customer_id": globex })).await;
    assert_eq!(status, StatusCode::OK);
    evaluate().await;
    assert_eq!(alerted(app, "quota_exhausted").await, vec![globex_basic.clone()]);

    // A SIM moved to Globex on Basic comes into scope.
    let (status, moved) = app
        .patch(
            &format!("/api/v1/sims/{loose}"),
            &app.operator,
            json!({ "customer_id": globex, "tariff_plan_id": basic }),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{moved}");
    evaluate().await;
    assert_eq!(alerted(app, "quota_exhausted").await, sorted(vec![&globex_basic, &loose]));

    // A mute silences that one SIM; its neighbour in the scope keeps alerting.
    let mute = format!("/api/v1/sims/{loose}/alert-mutes/quota_exhausted");
    let (status, _) = app.call(Method::PUT, &mute, Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    evaluate().await;
    assert_eq!(alerted(app, "quota_exhausted").await, vec![globex_basic.clone()]);

    // Scopes are for the rule they were set on: another rule still sees the whole fleet.
    let (_, other) = app.get("/api/v1/alert-rules/data_quota_low", &app.viewer).await;
    assert!(other["scope_customer_id"].is_null() && other["scope_tariff_plan_id"].is_null(), "{other}");

    // No scope: every SIM but the muted one.
    let (status, _) =
        app.patch(rule, &app.operator, json!({ "scope_customer_id": null, "scope_tariff_plan_id": null })).await;
    assert_eq!(status, StatusCode::OK);
    evaluate().await;
    assert_eq!(alerted(app, "quota_exhausted").await, sorted(vec![&acme_basic, &acme_pro, &globex_basic, &globex_pro]));

    // A scope naming no customer is refused, not stored.
    let (status, err) = app.patch(rule, &app.operator, json!({ "scope_customer_id": 424242 })).await;
    assert!(status.is_client_error(), "{status} {err}");
    let (_, r) = app.get(rule, &app.viewer).await;
    assert!(r["scope_customer_id"].is_null(), "{r}");
}

/// Deleting the customer or tariff plan a rule is scoped to (one without SIMs, which could
/// otherwise be deleted) is refused while the rule names it: the rule would lose its scope
/// and alert for the whole fleet.
async fn deleting_a_scoped_customer_or_plan_is_refused(app: &TestApp) {
    let (newcomer, other) = (app.customer("Newcomer").await, app.customer("Other").await);
    let theirs = app.sim(1, json!({ "customer_id": other })).await;
    let store = &app.db.store;
    app.exhaust_data([&theirs]).await;
    let rule = "/api/v1/alert-rules/quota_exhausted";
    let (status, _) = app.patch(rule, &app.operator, json!({ "scope_customer_id": newcomer })).await;
    assert_eq!(status, StatusCode::OK);
    store.evaluate_alerts(simfleet_store::now()).await.unwrap();
    assert!(alerted(app, "quota_exhausted").await.is_empty(), "out of scope");

    let (status, res) = app.delete(&format!("/api/v1/customers/{newcomer}"), &app.operator).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    assert!(res["detail"].as_str().unwrap().contains("quota_exhausted"), "{res}");
    store.evaluate_alerts(simfleet_store::now()).await.unwrap();
    let (_, r) = app.get(rule, &app.viewer).await;
    assert!(
        alerted(app, "quota_exhausted").await.is_empty(),
        "a rule scoped to one customer now alerts for another customer's SIM (rule after the delete: {r})"
    );

    // The same for a tariff plan; once the rule no longer names it, the delete goes through.
    let unused = plan(app, "Unused").await;
    let (status, _) = app.patch(rule, &app.operator, json!({ "scope_tariff_plan_id": unused })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, res) = app.delete(&format!("/api/v1/tariff-plans/{unused}"), &app.admin).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    let (status, _) = app.patch(rule, &app.operator, json!({ "scope_tariff_plan_id": null })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, res) = app.delete(&format!("/api/v1/tariff-plans/{unused}"), &app.admin).await;
    assert_eq!(status, StatusCode::NO_CONTENT, "{res}");
}

api_tests!(
    rules_are_listed_and_edited_by_operators,
    alerts_are_filtered_acknowledged_and_resolved,
    channels_validate_and_never_show_secrets,
    analytics_validate_their_parameters,
    rule_scopes_by_customer_and_tariff_plan,
    deleting_a_scoped_customer_or_plan_is_refused,
);
