//! The REST API driven over real HTTP, on SQLite and PostgreSQL alike.

mod common;

use common::{iccid, TestApp};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use simfleet_domain::{Action, SimStatus};

/// Brings a fresh SIM into `status` through the API.
async fn sim_in(app: &TestApp, n: u64, status: SimStatus, customer: i64) -> String {
    let op = app.operator.clone();
    let id = app.sim(n, json!({ "msisdn": format!("49151{n:07}") })).await;
    let steps: &[(&str, Value)] = match status {
        SimStatus::Available => &[],
        SimStatus::Reserved => &[("reserve", json!({ "customer_id": customer }))],
        SimStatus::Active => &[("reserve", json!({ "customer_id": customer })), ("activate", json!({}))],
        SimStatus::Suspended => {
            &[("reserve", json!({ "customer_id": customer })), ("activate", json!({})), ("suspend", json!({}))]
        }
        SimStatus::LostStolen => &[("report-lost", json!({}))],
        SimStatus::Terminated => &[("terminate", json!({}))],
    };
    for (action, body) in steps {
        let (s, b) = app.post(&format!("/api/v1/sims/{id}/{action}"), &op, body.clone()).await;
        assert_eq!(s, StatusCode::OK, "{action}: {b}");
    }
    id
}

async fn every_transition_allowed_and_forbidden(app: &TestApp) {
    let customer = app.customer("ACME").await;
    let mut n = 100;
    for from in SimStatus::ALL {
        for action in Action::ALL {
            n += 1;
            let id = sim_in(app, n, from, customer).await;
            let body = match action {
                Action::Reserve => json!({ "customer_id": customer }),
                Action::Swap => {
                    n += 1;
                    json!({ "new_iccid": app.sim(n, json!({})).await })
                }
                _ => json!({}),
            };
            let (status, res) = app.post(&format!("/api/v1/sims/{id}/{}", action.as_str()), &app.operator, body).await;
            match action.target_from(from) {
                Ok(target) => {
                    assert_eq!(status, StatusCode::OK, "{action} from {from}: {res}");
                    assert_eq!(res["status"], target.as_str(), "{action} from {from}");
                    let (_, events) = app.get(&format!("/api/v1/sims/{id}/events?limit=1"), &app.viewer).await;
                    assert_eq!(events["items"][0]["old_status"], from.as_str());
                    assert_eq!(events["items"][0]["new_status"], target.as_str());
                    assert_eq!(events["items"][0]["actor"], "operator");
                }
                Err(e) => {
                    assert_eq!(status, StatusCode::CONFLICT, "{action} from {from}: {res}");
                    assert_eq!(res["type"], "https://simfleet.dev/problems/invalid-transition");
                    assert_eq!(res["current_status"], from.as_str());
                    let allowed: Vec<Value> = e.allowed.iter().map(|a| json!(a.as_str())).collect();
                    assert_eq!(res["allowed_actions"], Value::Array(allowed));
                    assert!(res["detail"].as_str().unwrap().contains(from.as_str()));
                }
            }
        }
    }
}

async fn swap_failure_midway_changes_nothing(app: &TestApp) {
    let customer = app.customer("ACME").await;
    let old = sim_in(app, 1, SimStatus::Active, customer).await;
    let new = app.sim(2, json!({})).await;
    // Make the second half of the swap fail inside the database.
    let trigger = match app.db.store.dialect() {
        simfleet_store::Dialect::Sqlite => format!(
            "CREATE TRIGGER fail_swap BEFORE UPDATE OF status ON sims WHEN NEW.iccid = '{new}' BEGIN SELECT RAISE(ABORT, 'injected'); END;"
        ),
        simfleet_store::Dialect::Postgres => format!(
            "CREATE FUNCTION fail_swap() RETURNS trigger AS $$ BEGIN IF NEW.iccid = '{new}' THEN RAISE EXCEPTION 'injected'; END IF; RETURN NEW; END $$ LANGUAGE plpgsql;
             CREATE TRIGGER fail_swap BEFORE UPDATE ON sims FOR EACH ROW EXECUTE FUNCTION fail_swap();"
        ),
    };
    app.db.store.execute_raw(&trigger).await.unwrap();
    let (_, before_old) = app.get(&format!("/api/v1/sims/{old}"), &app.viewer).await;
    let (status, res) = app.post(&format!("/api/v1/sims/{old}/swap"), &app.operator, json!({ "new_iccid": new })).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{res}");
    assert!(!res.to_string().contains("injected"), "internals do not leak: {res}");
    let (_, after_old) = app.get(&format!("/api/v1/sims/{old}"), &app.viewer).await;
    let (_, after_new) = app.get(&format!("/api/v1/sims/{new}"), &app.viewer).await;
    assert_eq!(after_old, before_old, "old SIM untouched");
    assert_eq!(after_new["status"], "AVAILABLE");
    assert_eq!(after_new["msisdn"], Value::Null);
    let (_, events) = app.get(&format!("/api/v1/sims/{old}/events"), &app.viewer).await;
    assert!(events["items"].as_array().unwrap().iter().all(|e| e["kind"] != "SWAPPED"));

    let drop = match app.db.store.dialect() {
        simfleet_store::Dialect::Sqlite => "DROP TRIGGER fail_swap;",
        simfleet_store::Dialect::Postgres => "DROP TRIGGER fail_swap ON sims; DROP FUNCTION fail_swap();",
    };
    app.db.store.execute_raw(drop).await.unwrap();
    let (status, res) = app.post(&format!("/api/v1/sims/{old}/swap"), &app.operator, json!({ "new_iccid": new })).await;
    assert_eq!(status, StatusCode::OK, "{res}");
    assert_eq!(res["status"], "TERMINATED");
    let (_, moved) = app.get(&format!("/api/v1/sims/{new}"), &app.viewer).await;
    assert_eq!(moved["status"], "ACTIVE");
    assert_eq!(moved["msisdn"], before_old["msisdn"]);
    assert_eq!(moved["customer_id"], customer);
}

/// (method, path, body, least role that may call it)
fn route_matrix(sim: &str) -> Vec<(Method, String, Value, Option<&'static str>)> {
    let r = |m: Method, p: &str, b: Value, role: Option<&'static str>| (m, p.to_owned(), b, role);
    vec![
        r(Method::GET, "/api/v1/sims", Value::Null, Some("viewer")),
        r(Method::POST, "/api/v1/sims", json!({}), Some("operator")),
        r(Method::GET, &format!("/api/v1/sims/{sim}"), Value::Null, Some("viewer")),
        r(Method::PATCH, &format!("/api/v1/sims/{sim}"), json!({ "label": "x" }), Some("operator")),
        r(Method::POST, "/api/v1/sims/bulk", json!({ "iccids": [], "changes": {} }), Some("operator")),
        r(Method::GET, &format!("/api/v1/sims/{sim}/events"), Value::Null, Some("viewer")),
        r(Method::GET, &format!("/api/v1/sims/{sim}/secrets"), Value::Null, Some("operator")),
        r(Method::POST, &format!("/api/v1/sims/{sim}/reserve"), json!({}), Some("operator")),
        r(Method::POST, &format!("/api/v1/sims/{sim}/activate"), json!({}), Some("operator")),
        r(Method::POST, &format!("/api/v1/sims/{sim}/suspend"), json!({}), Some("operator")),
        r(Method::POST, &format!("/api/v1/sims/{sim}/swap"), json!({ "new_iccid": "" }), Some("operator")),
        r(Method::GET, "/api/v1/customers", Value::Null, Some("viewer")),
        r(Method::POST, "/api/v1/customers", json!({ "name": "" }), Some("operator")),
        r(Method::GET, "/api/v1/customers/999999", Value::Null, Some("viewer")),
        r(Method::PATCH, "/api/v1/customers/999999", json!({}), Some("operator")),
        r(Method::DELETE, "/api/v1/customers/999999", Value::Null, Some("operator")),
        r(Method::GET, "/api/v1/tariff-plans", Value::Null, Some("viewer")),
        r(Method::POST, "/api/v1/tariff-plans", json!({}), Some("admin")),
        r(Method::PATCH, "/api/v1/tariff-plans/999999", json!({}), Some("admin")),
        r(Method::DELETE, "/api/v1/tariff-plans/999999", Value::Null, Some("admin")),
        r(Method::GET, "/api/v1/activation-codes", Value::Null, Some("viewer")),
        r(Method::POST, "/api/v1/activation-codes", json!({}), Some("operator")),
        r(Method::DELETE, "/api/v1/activation-codes/999999", Value::Null, Some("operator")),
        r(Method::GET, "/api/v1/users", Value::Null, Some("admin")),
        r(Method::POST, "/api/v1/users", json!({}), Some("admin")),
        r(Method::PATCH, "/api/v1/users/nobody", json!({}), Some("admin")),
        r(Method::DELETE, "/api/v1/users/nobody", Value::Null, Some("admin")),
        r(Method::GET, "/api/v1/api-keys", Value::Null, Some("viewer")),
        r(Method::POST, "/api/v1/api-keys", json!({ "name": "" }), Some("viewer")),
        r(Method::DELETE, "/api/v1/api-keys/999999", Value::Null, Some("viewer")),
        r(Method::GET, "/api/v1/audit-log", Value::Null, Some("admin")),
        r(Method::GET, "/api/v1/stats/sim-by-status", Value::Null, Some("viewer")),
        r(Method::GET, "/api/v1/stats/sim-by-tariff", Value::Null, Some("viewer")),
        r(Method::GET, "/api/v1/stats/activations-over-time", Value::Null, Some("viewer")),
        r(Method::GET, "/api/v1/auth/me", Value::Null, Some("viewer")),
        r(Method::POST, "/api/v1/auth/logout", Value::Null, Some("viewer")),
        r(Method::GET, "/health/live", Value::Null, None),
        r(Method::GET, "/health/ready", Value::Null, None),
    ]
}

async fn role_route_matrix(app: &TestApp) {
    let sim = app.sim(1, json!({ "pin": "1234" })).await;
    let rank = |r: &str| ["viewer", "operator", "admin"].iter().position(|x| *x == r).unwrap();
    for (method, path, body, least) in route_matrix(&sim) {
        let body = (!body.is_null()).then_some(body);
        let (status, res) = app.call(method.clone(), &path, None, body.clone()).await;
        match least {
            None => assert_eq!(status, StatusCode::OK, "{method} {path} anonymous"),
            Some(_) => assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} anonymous: {res}"),
        }
        let (status, _) = app.call(method.clone(), &path, Some("sft_forged"), body.clone()).await;
        if least.is_some() {
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{method} {path} with a forged token");
        }
        let Some(least) = least else { continue };
        if path.ends_with("/logout") {
            continue; // would end the shared sessions
        }
        for (role, token) in [("viewer", &app.viewer), ("operator", &app.operator), ("admin", &app.admin)] {
            let (status, res) = app.call(method.clone(), &path, Some(token), body.clone()).await;
            if rank(role) < rank(least) {
                assert_eq!(status, StatusCode::FORBIDDEN, "{method} {path} as {role}: {res}");
                assert_eq!(res["type"], "https://simfleet.dev/problems/forbidden");
            } else {
                assert!(
                    status != StatusCode::FORBIDDEN && status != StatusCode::UNAUTHORIZED,
                    "{method} {path} as {role}: {status} {res}"
                );
            }
        }
    }
}

async fn pin_and_puk_are_sealed_and_revealed_to_operators_only(app: &TestApp) {
    let sim = app.sim(1, json!({ "pin": "4711", "puk": "12345678" })).await;
    let (_, view) = app.get(&format!("/api/v1/sims/{sim}"), &app.viewer).await;
    assert_eq!(view["has_pin"], true);
    assert!(!view.to_string().contains("4711"), "the SIM view never carries the PIN");
    let (status, _) = app.get(&format!("/api/v1/sims/{sim}/secrets"), &app.viewer).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, secrets) = app.get(&format!("/api/v1/sims/{sim}/secrets"), &app.operator).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!((secrets["pin"].as_str(), secrets["puk"].as_str()), (Some("4711"), Some("12345678")));
    let (_, events) = app.get(&format!("/api/v1/sims/{sim}/events?limit=1"), &app.viewer).await;
    assert_eq!(events["items"][0]["kind"], "SECRETS_REVEALED");
    assert_eq!(events["items"][0]["actor"], "operator");
    // At rest the PIN is ciphertext.
    let stored = app.db.store.get_sim(&sim).await.unwrap();
    assert!(stored.pin_enc.as_deref().unwrap().starts_with("v1:"));
    assert!(!stored.pin_enc.unwrap().contains("4711"));
}

async fn invalid_identifiers_get_field_errors(app: &TestApp) {
    let good = iccid(5);
    let bad_luhn = format!("{}{}", &good[..good.len() - 1], (good.as_bytes()[good.len() - 1] - b'0' + 1) % 10);
    let cases = [
        (json!({ "iccid": bad_luhn }), "iccid", "Luhn"),
        (json!({ "iccid": "8988228066602" }), "iccid", "19 or 20 digits"),
        (json!({ "iccid": "89882280666023067AB" }), "iccid", "digits only"),
        (json!({ "iccid": good, "imsi": "90140510000" }), "imsi", "15 digits"),
        (json!({ "iccid": good, "msisdn": "0151 123" }), "msisdn", "digits"),
        (json!({ "iccid": good, "imei": "490154203237519" }), "imei", "Luhn"),
        (json!({ "iccid": good, "pin": "12" }), "pin", "4 to 8 digits"),
        (json!({ "iccid": good, "type": "satellite" }), "type", "prepaid"),
    ];
    for (body, field, text) in cases {
        let (status, res) = app.post("/api/v1/sims", &app.operator, body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {res}");
        assert_eq!(res["type"], "https://simfleet.dev/problems/validation");
        let errors = res["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["field"] == field && e["message"].as_str().unwrap().contains(text)),
            "{body}: {res}"
        );
    }
    // Several bad fields are reported together.
    let (_, res) = app.post("/api/v1/sims", &app.operator, json!({ "iccid": "1", "imsi": "x", "imei": "1" })).await;
    assert_eq!(res["errors"].as_array().unwrap().len(), 3, "{res}");
    let (status, _) = app.get("/api/v1/sims?status=FLYING", &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(app.db.store.count_sims(&Default::default()).await.unwrap(), 0, "nothing was written");
}

async fn duplicates_are_conflicts(app: &TestApp) {
    app.sim(1, json!({ "msisdn": "+491510000001" })).await;
    let (status, res) = app.post("/api/v1/sims", &app.operator, json!({ "iccid": iccid(1) })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    assert_eq!(res["errors"][0]["field"], "iccid");
    let (status, res) =
        app.post("/api/v1/sims", &app.operator, json!({ "iccid": iccid(2), "msisdn": "491510000001" })).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    assert_eq!(res["errors"][0]["field"], "msisdn");
    let (status, res) = app
        .patch(
            &format!("/api/v1/sims/{}", app.sim(3, json!({})).await),
            &app.operator,
            json!({ "msisdn": "491510000001" }),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
}

async fn malformed_requests_are_400(app: &TestApp) {
    let raw = |body: &'static str| {
        app.http
            .post(format!("{}/api/v1/sims", app.base))
            .bearer_auth(&app.operator)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for body in ["{\"iccid\": ", "not json", "[1,2]", "{\"iccid\": 42}", "{\"iccid\": \"x\", \"lable\": \"typo\"}"] {
        let res = raw(body).await.unwrap();
        assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(res.headers()["content-type"], "application/problem+json");
        let problem: Value = res.json().await.unwrap();
        assert_eq!(problem["type"], "https://simfleet.dev/problems/bad-request");
        assert!(!problem["detail"].as_str().unwrap().is_empty());
    }
    let (status, _) = app.call(Method::POST, "/api/v1/sims/x/suspend", Some(&app.operator), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "an action without a body is fine; the SIM is missing");
    let (status, _) = app.get("/api/v1/sims?limit=5000", &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get("/api/v1/sims?limit=abc", &app.viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = app.get("/api/v1/nowhere", &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

async fn mutations_are_audited(app: &TestApp) {
    let sim = app.sim(1, json!({})).await;
    app.post(&format!("/api/v1/sims/{sim}/suspend"), &app.operator, json!({})).await; // refused: 409
    let (_, log) = app.get("/api/v1/audit-log?limit=10", &app.admin).await;
    let items = log["items"].as_array().unwrap();
    let suspend = items.iter().find(|e| e["route"] == "/api/v1/sims/{iccid}/suspend").expect("suspend audited");
    assert_eq!(suspend["actor"], "operator");
    assert_eq!(suspend["role"], "operator");
    assert_eq!(suspend["status"], 409);
    assert_eq!(suspend["ip"], "127.0.0.1");
    assert!(suspend["request_id"].as_str().is_some_and(|s| !s.is_empty()));
    let create = items.iter().find(|e| e["method"] == "POST" && e["path"] == "/api/v1/sims").unwrap();
    assert_eq!(create["status"], 201);
    let login = items.iter().find(|e| e["path"] == "/api/v1/auth/login").unwrap();
    assert_eq!(login["actor"], "viewer", "a login names who tried");
    // Reads are not audited.
    assert!(items.iter().all(|e| e["method"] != "GET"));
}

async fn api_keys_work_until_revoked(app: &TestApp) {
    let (status, key) = app.post("/api/v1/api-keys", &app.operator, json!({ "name": "ci", "role": "viewer" })).await;
    assert_eq!(status, StatusCode::CREATED, "{key}");
    let secret = key["secret"].as_str().unwrap().to_owned();
    assert!(secret.starts_with("sfk_"));
    let (status, me) = app.get("/api/v1/auth/me", &secret).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        (me["username"].as_str(), me["role"].as_str(), me["api_key"].as_str()),
        (Some("operator"), Some("viewer"), Some("ci"))
    );
    let (status, _) = app.post("/api/v1/customers", &secret, json!({ "name": "x" })).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the key's role, not the owner's, applies");
    let (_, list) = app.get("/api/v1/api-keys", &app.operator).await;
    assert!(!list.to_string().contains(&secret), "the secret is shown once only");
    assert!(list["items"][0]["last_used_at"].is_string());
    let (status, _) = app.post("/api/v1/api-keys", &app.viewer, json!({ "name": "x", "role": "admin" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a key cannot exceed its owner");
    let id = key["id"].as_i64().unwrap();
    let (status, _) = app.delete(&format!("/api/v1/api-keys/{id}"), &app.viewer).await;
    assert_eq!(status, StatusCode::NOT_FOUND, "someone else's key");
    let (status, _) = app.delete(&format!("/api/v1/api-keys/{id}"), &app.operator).await;
    assert_eq!(status, StatusCode::OK);
    let (status, res) = app.get("/api/v1/auth/me", &secret).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(res["detail"].as_str().unwrap().contains("revoked"));
}

async fn login_logout_and_throttling(app: &TestApp) {
    let token = app.login("viewer").await;
    let (status, _) = app.call(Method::POST, "/api/v1/auth/logout", Some(&token), None).await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, _) = app.get("/api/v1/auth/me", &token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    let attempt = |password: &'static str| {
        app.call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "username": "viewer", "password": password })))
    };
    let (status, res) = attempt("wrong").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(res["detail"], "invalid username or password");
    let (status, _) =
        app.call(Method::POST, "/api/v1/auth/login", None, Some(json!({ "username": "ghost", "password": "x" }))).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "unknown users look the same");
    attempt("wrong").await;
    attempt("wrong").await; // the third failure locks (the test app allows 3)
    let res = app
        .http
        .post(format!("{}/api/v1/auth/login", app.base))
        .json(&json!({ "username": "viewer", "password": common::PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::TOO_MANY_REQUESTS, "even the right password is refused while locked");
    let retry: u64 = res.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry > 0 && retry <= 15 * 60);
    // An admin lifts the lock by resetting the password.
    let (status, _) = app.patch("/api/v1/users/viewer", &app.admin, json!({ "password": "a brand new secret" })).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = app
        .call(
            Method::POST,
            "/api/v1/auth/login",
            None,
            Some(json!({ "username": "viewer", "password": "a brand new secret" })),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
}

async fn list_filters_search_and_cursor(app: &TestApp) {
    let customer = app.customer("ACME").await;
    for n in 0..30u64 {
        let extra = json!({
            "label": format!("Meter {n:02}"),
            "tags": if n % 3 == 0 { json!(["north"]) } else { json!([]) },
            "type": if n % 2 == 0 { "prepaid" } else { "postpaid" },
            "customer_id": if n < 10 { json!(customer) } else { Value::Null },
        });
        app.sim(n, extra).await;
    }
    let mut seen = Vec::new();
    let mut url = "/api/v1/sims?limit=7&type=prepaid&count=true".to_owned();
    loop {
        let (status, page) = app.get(&url, &app.viewer).await;
        assert_eq!(status, StatusCode::OK, "{page}");
        assert_eq!(page["total"], 15);
        seen.extend(page["items"].as_array().unwrap().iter().map(|s| s["iccid"].as_str().unwrap().to_owned()));
        match page["next_cursor"].as_str() {
            Some(c) => url = format!("/api/v1/sims?limit=7&type=prepaid&count=true&cursor={c}"),
            None => break,
        }
    }
    let expected: Vec<String> = (0..30).filter(|n| n % 2 == 0).map(iccid).collect();
    assert_eq!(seen, expected);
    let count = |q: &'static str| async move {
        app.get(&format!("/api/v1/sims?count=true&{q}"), &app.viewer).await.1["total"].as_i64().unwrap()
    };
    assert_eq!(count("tag=north").await, 10);
    assert_eq!(count("q=meter%201").await, 10);
    assert_eq!(count("customer_id=1&status=AVAILABLE").await, 10);
    let (_, page) = app.get("/api/v1/sims?sort=-iccid&limit=1", &app.viewer).await;
    assert_eq!(page["items"][0]["iccid"], iccid(29));
    let (_, detail) = app.get(&format!("/api/v1/customers/{customer}"), &app.viewer).await;
    assert_eq!(detail["sim_count"], 10);
    assert_eq!(detail["sims"].as_array().unwrap().len(), 10);

    // Bulk update: all or nothing.
    let (status, res) = app
        .post(
            "/api/v1/sims/bulk",
            &app.operator,
            json!({ "iccids": [iccid(1), iccid(2)], "changes": { "tags": ["south"] } }),
        )
        .await;
    assert_eq!((status, res["updated"].as_i64()), (StatusCode::OK, Some(2)));
    let (status, _) = app
        .post(
            "/api/v1/sims/bulk",
            &app.operator,
            json!({ "iccids": [iccid(3), iccid(999)], "changes": { "tags": ["west"] } }),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(count("tag=west").await, 0);
}

async fn reference_data_crud(app: &TestApp) {
    let (status, plan) = app
        .post(
            "/api/v1/tariff-plans",
            &app.admin,
            json!({ "name": "IoT 1GB", "monthly_price": "2.5", "type": "data_only" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{plan}");
    assert_eq!(plan["monthly_price"], "2.50");
    assert_eq!(plan["currency"], "EUR");
    let plan_id = plan["id"].as_i64().unwrap();
    let (status, res) =
        app.post("/api/v1/tariff-plans", &app.admin, json!({ "name": "Bad", "monthly_price": "1.23456" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "monthly_price");
    let (_, plan) =
        app.patch(&format!("/api/v1/tariff-plans/{plan_id}"), &app.admin, json!({ "monthly_price": "3.00" })).await;
    assert_eq!((plan["monthly_price"].as_str(), plan["name"].as_str()), (Some("3.00"), Some("IoT 1GB")));

    let customer = app.customer("Umbrella").await;
    let (status, res) =
        app.patch(&format!("/api/v1/customers/{customer}"), &app.operator, json!({ "email": "not-an-email" })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{res}");
    let (_, c) = app
        .patch(&format!("/api/v1/customers/{customer}"), &app.operator, json!({ "email": "ops@umbrella.example" }))
        .await;
    assert_eq!(c["email"], "ops@umbrella.example");
    let (_, found) = app.get("/api/v1/customers?q=UMBREL", &app.viewer).await;
    assert_eq!(found["items"].as_array().unwrap().len(), 1);

    let sim = app.sim(1, json!({ "customer_id": customer, "tariff_plan_id": plan_id })).await;
    let (status, res) = app.delete(&format!("/api/v1/customers/{customer}"), &app.operator).await;
    assert_eq!(status, StatusCode::CONFLICT, "{res}");
    let (status, _) = app.delete(&format!("/api/v1/tariff-plans/{plan_id}"), &app.admin).await;
    assert_eq!(status, StatusCode::CONFLICT);
    let (status, res) =
        app.post("/api/v1/sims", &app.operator, json!({ "iccid": iccid(2), "customer_id": 424242 })).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "customer_id");

    // Activation codes: consumed once, expired ones refused.
    let (status, code) = app.post("/api/v1/activation-codes", &app.operator, json!({ "code": "WELCOME-1" })).await;
    assert_eq!(status, StatusCode::CREATED, "{code}");
    app.post(
        "/api/v1/activation-codes",
        &app.operator,
        json!({ "code": "OLD-CODE", "expires_at": "2020-01-01T00:00:00Z" }),
    )
    .await;
    let (status, _) = app.post("/api/v1/activation-codes", &app.operator, json!({ "code": "WELCOME-1" })).await;
    assert_eq!(status, StatusCode::CONFLICT);
    app.post(&format!("/api/v1/sims/{sim}/reserve"), &app.operator, json!({})).await;
    let (status, res) = app
        .post(&format!("/api/v1/sims/{sim}/activate"), &app.operator, json!({ "activation_code": "OLD-CODE" }))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(res["errors"][0]["field"], "activation_code");
    assert!(res["detail"].as_str().unwrap().contains("expired"));
    let (status, activated) = app
        .post(&format!("/api/v1/sims/{sim}/activate"), &app.operator, json!({ "activation_code": "WELCOME-1" }))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(activated["activation_code"], "WELCOME-1");
    let (_, used) = app.get("/api/v1/activation-codes?status=USED", &app.viewer).await;
    assert_eq!(used["items"][0]["iccid"], sim.as_str());
    let (_, expired) = app.get("/api/v1/activation-codes?status=EXPIRED", &app.viewer).await;
    assert_eq!(expired["items"][0]["code"], "OLD-CODE");
    let code_id = code["id"].as_i64().unwrap();
    let (status, _) = app.delete(&format!("/api/v1/activation-codes/{code_id}"), &app.operator).await;
    assert_eq!(status, StatusCode::CONFLICT, "a used code stays");
}

async fn stats_for_charts(app: &TestApp) {
    let customer = app.customer("ACME").await;
    sim_in(app, 1, SimStatus::Active, customer).await;
    sim_in(app, 2, SimStatus::Active, customer).await;
    sim_in(app, 3, SimStatus::Suspended, customer).await;
    let (_, by_status) = app.get("/api/v1/stats/sim-by-status", &app.viewer).await;
    let active = by_status["items"].as_array().unwrap().iter().find(|i| i["status"] == "ACTIVE").unwrap();
    assert_eq!(active["count"], 2);
    let (_, series) = app.get("/api/v1/stats/activations-over-time?bucket=week", &app.viewer).await;
    let total: i64 = series["items"].as_array().unwrap().iter().map(|i| i["count"].as_i64().unwrap()).sum();
    assert_eq!(total, 3, "{series}");
    let (status, _) = app.get("/api/v1/stats/activations-over-time?bucket=year", &app.viewer).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    let (status, _) = app.get("/api/v1/stats/activations-over-time?from=2026-13-01", &app.viewer).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (_, by_tariff) = app.get("/api/v1/stats/sim-by-tariff", &app.viewer).await;
    assert_eq!(by_tariff["items"][0]["count"], 3);
}

async fn health_endpoints(app: &TestApp) {
    let (status, live) = app.call(Method::GET, "/health/live", None, None).await;
    assert_eq!((status, live["status"].as_str()), (StatusCode::OK, Some("ok")));
    let (status, ready) = app.call(Method::GET, "/health/ready", None, None).await;
    assert_eq!((status, ready["database"].as_str()), (StatusCode::OK, Some("ok")));
}

api_tests!(
    every_transition_allowed_and_forbidden,
    swap_failure_midway_changes_nothing,
    role_route_matrix,
    pin_and_puk_are_sealed_and_revealed_to_operators_only,
    invalid_identifiers_get_field_errors,
    duplicates_are_conflicts,
    malformed_requests_are_400,
    mutations_are_audited,
    api_keys_work_until_revoked,
    login_logout_and_throttling,
    list_filters_search_and_cursor,
    reference_data_crud,
    stats_for_charts,
    health_endpoints,
);
