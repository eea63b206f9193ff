//! The OpenAPI document: complete, and changes to it are visible in review.

use serde_json::Value;

fn doc() -> Value {
    serde_json::to_value(simfleet_server::openapi()).unwrap()
}

#[test]
fn every_route_is_described_with_its_errors() {
    let doc = doc();
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/api/v1/sims",
        "/api/v1/sims/{iccid}",
        "/api/v1/sims/bulk",
        "/api/v1/sims/{iccid}/events",
        "/api/v1/sims/{iccid}/secrets",
        "/api/v1/sims/{iccid}/reserve",
        "/api/v1/sims/{iccid}/activate",
        "/api/v1/sims/{iccid}/suspend",
        "/api/v1/sims/{iccid}/report-lost",
        "/api/v1/sims/{iccid}/terminate",
        "/api/v1/sims/{iccid}/swap",
        "/api/v1/customers",
        "/api/v1/customers/{id}",
        "/api/v1/tariff-plans",
        "/api/v1/tariff-plans/{id}",
        "/api/v1/activation-codes",
        "/api/v1/activation-codes/{id}",
        "/api/v1/users",
        "/api/v1/users/{username}",
        "/api/v1/api-keys",
        "/api/v1/api-keys/{id}",
        "/api/v1/audit-log",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/auth/me",
        "/api/v1/stats/sim-by-status",
        "/api/v1/stats/sim-by-tariff",
        "/api/v1/stats/activations-over-time",
        "/api/v1/stats/usage-trend",
        "/api/v1/stats/top-consumers",
        "/api/v1/sims/{iccid}/usage",
        "/api/v1/sims/{iccid}/quota",
        "/api/v1/sims/{iccid}/connectivity",
        "/api/v1/sims/{iccid}/provider-actions",
        "/api/v1/jobs",
        "/api/v1/jobs/runs",
        "/api/v1/jobs/{job}/run",
        "/api/v1/imports",
        "/api/v1/imports/{id}",
        "/api/v1/imports/{id}/commit",
        "/api/v1/exports",
        "/api/v1/products",
        "/api/v1/products/refresh",
        "/api/v1/orders",
        "/api/v1/orders/refresh",
        "/api/v1/orders/{order_number}",
        "/api/v1/support-tickets",
        "/api/v1/support-tickets/refresh",
        "/api/v1/support-tickets/{id}",
        "/api/v1/sims/{iccid}/support-tickets",
        "/api/v1/sims/{iccid}/topup",
        "/api/v1/sims/topup",
        "/api/v1/sims/auto-topup",
        "/api/v1/limits",
        "/api/v1/sims/{iccid}/sms",
        "/api/v1/sims/sms",
        "/api/v1/sims/{iccid}/sms/{sms_id}",
        "/api/v1/sms",
        "/api/v1/sims/transfer",
        "/api/v1/sims/extension",
        "/api/v1/sims/{iccid}/reset-connectivity",
        "/api/v1/sims/reset-connectivity",
        "/api/v1/alert-rules",
        "/api/v1/alert-rules/{kind}",
        "/api/v1/alerts",
        "/api/v1/alerts/{id}",
        "/api/v1/alerts/{id}/acknowledge",
        "/api/v1/alerts/{id}/resolve",
        "/api/v1/sims/{iccid}/alerts",
        "/api/v1/sims/{iccid}/alert-mutes",
        "/api/v1/sims/{iccid}/alert-mutes/{kind}",
        "/api/v1/sims/{iccid}/forecast",
        "/api/v1/notification-channels",
        "/api/v1/notification-channels/{id}",
        "/api/v1/notification-channels/{id}/test",
        "/api/v1/notification-channels/{id}/deliveries",
        "/api/v1/stats/sims-at-risk",
        "/api/v1/stats/usage-heatmap",
        "/api/v1/stats/anomalies",
    ] {
        assert!(paths.contains_key(path), "{path} is missing from the OpenAPI document");
    }
    for (path, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let responses = op["responses"].as_object().unwrap();
            assert!(responses.keys().any(|k| k.starts_with('2')), "{method} {path} has no success response");
            if method != "get" || path.contains('{') {
                assert!(responses.keys().any(|k| k.starts_with('4')), "{method} {path} documents no error");
            }
        }
    }
    assert!(doc["components"]["schemas"]["Problem"].is_object());
    assert!(doc["components"]["securitySchemes"]["bearer"].is_object());
}

#[test]
fn openapi_snapshot() {
    insta::assert_json_snapshot!("openapi", doc());
}
