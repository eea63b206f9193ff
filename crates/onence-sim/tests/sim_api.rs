//! Simulator behaviour over HTTP: auth edges, paging edges, async configuration, admin
//! endpoints, determinism.

use std::time::Duration;

use onence_sim::{Faults, SimConfig, SimStatus};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn token(http: &reqwest::Client, base: &str) -> String {
    let v: Value = http
        .post(format!("{base}/oauth/token"))
        .basic_auth("sim-client", Some("sim-secret"))
        .json(&json!({"grant_type": "client_credentials"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v["access_token"].as_str().unwrap().to_string()
}

fn addr() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

#[tokio::test]
async fn auth_edges() {
    let sim = onence_sim::spawn(SimConfig { token_ttl_secs: 1, ..SimConfig::new(3, 1) }, addr()).await.unwrap();
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let r = http
        .post(format!("{base}/oauth/token"))
        .basic_auth("sim-client", Some("sim-secret"))
        .body("grant_type=client_credentials")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert_eq!(r.json::<Value>().await.unwrap()["errorCode"], "UnsupportedContentTypeError");
    let t = token(&http, base).await;
    let get = |t: String| http.get(format!("{base}/v1/sims")).bearer_auth(t).send();
    assert_eq!(get(t.clone()).await.unwrap().status(), StatusCode::OK);
    assert_eq!(get("forged".into()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(get(t).await.unwrap().status(), StatusCode::UNAUTHORIZED, "token expired");
    let c = sim.counters();
    assert_eq!((c.token_requests, c.tokens_issued, c.unauthorized), (2, 1, 2));
}

#[tokio::test]
async fn paging_edges_and_admin_endpoints() {
    let sim = onence_sim::spawn(SimConfig::new(25, 2), addr()).await.unwrap();
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let t = token(&http, base).await;
    for (q, status) in
        [("pageSize=0", 400), ("pageSize=abc", 400), ("page=0", 400), ("pageSize=100", 200), ("page=99", 200)]
    {
        let r = http.get(format!("{base}/v1/sims?{q}")).bearer_auth(&t).send().await.unwrap();
        assert_eq!(r.status().as_u16(), status, "{q}");
    }
    let r = http.get(format!("{base}/v1/sims?page=3&pageSize=10")).bearer_auth(&t).send().await.unwrap();
    assert_eq!(r.headers()["x-total-count"], "25");
    assert_eq!(r.headers()["x-total-pages"], "3");
    assert_eq!(r.json::<Vec<Value>>().await.unwrap().len(), 5);

    // faults over HTTP
    let r = http.post(format!("{base}/_sim/faults")).json(&json!({"error_rate": 1.0})).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert!(http.get(format!("{base}/v1/sims")).bearer_auth(&t).send().await.unwrap().status().is_server_error());
    assert_eq!(sim.faults().error_rate, 1.0);
    http.post(format!("{base}/_sim/faults")).json(&json!({})).send().await.unwrap();
    let c: Value = http.get(format!("{base}/_sim/counters")).send().await.unwrap().json().await.unwrap();
    assert_eq!(c["errors_5xx"], 1);
    assert_eq!(c["faults_injected"], 1);

    // rate limit: 429 with Retry-After
    sim.set_faults(Faults { rate_limit_per_sec: Some(2), ..Faults::default() });
    let mut limited = None;
    for _ in 0..5 {
        let r = http.get(format!("{base}/v1/products")).bearer_auth(&t).send().await.unwrap();
        if r.status() == StatusCode::TOO_MANY_REQUESTS {
            limited = Some(r.headers()["retry-after"].to_str().unwrap().parse::<u64>().unwrap());
        }
    }
    assert!(limited.unwrap() >= 1);
    http.post(format!("{base}/_sim/tokens/revoke")).send().await.unwrap();
    sim.set_faults(Faults::default());
    assert_eq!(
        http.get(format!("{base}/v1/products")).bearer_auth(&t).send().await.unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
}

#[tokio::test]
async fn multiple_configuration_applies_asynchronously() {
    let sim = onence_sim::spawn(SimConfig { apply_delay_ms: 800, ..SimConfig::new(10, 3) }, addr()).await.unwrap();
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let t = token(&http, base).await;
    let s = sim.state().sims().into_iter().find(|s| s.status == SimStatus::Enabled && !s.expired).unwrap();
    let r = http
        .post(format!("{base}/v1/sims"))
        .bearer_auth(&t)
        .json(&json!([{"iccid": s.iccid, "status": "Disabled"}]))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    assert_eq!(sim.state().sim(&s.iccid).unwrap().status, SimStatus::Enabled, "not yet applied");
    for _ in 0..250 {
        if sim.state().sim(&s.iccid).unwrap().status == SimStatus::Disabled {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(sim.state().sim(&s.iccid).unwrap().status, SimStatus::Disabled);
    let events = sim.state().events(&s.iccid).unwrap();
    assert!(events.last().unwrap().description.contains("'Enabled' to 'Disabled'"));
    // validation happens up front: a missing status is a 400 and nothing is queued
    let r =
        http.post(format!("{base}/v1/sims")).bearer_auth(&t).json(&json!([{"iccid": s.iccid}])).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn same_seed_same_fleet_and_state_is_mutable() {
    let cfg = SimConfig { today: chrono::NaiveDate::from_ymd_opt(2026, 6, 1), ..SimConfig::new(50, 77) };
    let a = onence_sim::spawn(cfg.clone(), addr()).await.unwrap();
    let b = onence_sim::spawn(cfg, addr()).await.unwrap();
    assert_eq!(a.state().sims(), b.state().sims());
    let iccid = a.state().sims()[7].iccid.clone();
    let day = a.state().today();
    assert_eq!(a.state().day_usage(&iccid, day), b.state().day_usage(&iccid, day));
    let before = a.state().data_quota(&iccid).unwrap();
    a.state().set_day_usage(
        &iccid,
        day,
        onence_sim::DayUsage { rx_umb: 5_000_000, tx_umb: 1_000_000, sms_mo: 1, sms_mt: 0 },
    );
    let after = a.state().data_quota(&iccid).unwrap();
    let old = b.state().day_usage(&iccid, day).unwrap();
    assert_eq!(after.used, before.used - old.data_umb() + 6_000_000);
    let order = a.state().top_up(&iccid).unwrap();
    assert!(a.state().orders().iter().any(|o| o.number == order && o.order_type == "TOPUP"));
    assert_eq!(a.state().data_quota(&iccid).unwrap().accumulated, 1_000 * onence_sim::UMB_PER_MB);
}

#[tokio::test]
async fn fleet_shape_is_realistic() {
    let sim = onence_sim::spawn(SimConfig::new(2_000, 5), addr()).await.unwrap();
    let st = sim.state();
    let sims = st.sims();
    let disabled = sims.iter().filter(|s| s.status == SimStatus::Disabled).count();
    assert!((100..400).contains(&disabled), "{disabled}");
    let exhausted = sims.iter().filter(|s| st.data_quota(&s.iccid).unwrap().remaining <= 0).count();
    let low = sims.iter().filter(|s| st.data_quota(&s.iccid).unwrap().level() == 1).count();
    let sms_out = sims.iter().filter(|s| st.sms_quota(&s.iccid).unwrap().remaining <= 0).count();
    assert!(exhausted > 10 && low > 10 && sms_out > 5, "exhausted {exhausted}, low {low}, sms {sms_out}");
    let long_offline = sims.iter().filter(|s| (chrono::Utc::now() - s.connectivity.last_seen).num_days() >= 2).count();
    assert!(long_offline > 100, "{long_offline}");
}
