//! Auth, retries, 429 handling, faults and the circuit breaker against the simulator.

mod common;

use std::collections::HashSet;
use std::time::{Duration, Instant};

use futures::future::join_all;
use futures::TryStreamExt;
use onence::models::SimListQuery;
use onence::{BreakerState, Client, Error};
use onence_sim::{Faults, SimConfig};

#[tokio::test]
async fn hundred_concurrent_calls_fetch_one_token() {
    let sim = common::sim(SimConfig::new(20, 1)).await;
    let client = common::client(&sim);
    let iccid = sim.state().sims()[0].iccid.clone();
    let results = join_all((0..100).map(|_| {
        let (c, i) = (client.clone(), iccid.clone());
        async move { c.get_sim(&i).await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(sim.counters().token_requests, 1, "single-flight token fetch");
    assert_eq!(client.metrics().token_refreshes, 1);
    assert_eq!(client.metrics().calls, 100);
}

#[tokio::test]
async fn revoked_token_is_recovered_transparently() {
    let sim = common::sim(SimConfig::new(20, 1)).await;
    let client = common::client(&sim);
    let iccid = sim.state().sims()[3].iccid.clone();
    client.get_sim(&iccid).await.unwrap();
    sim.state().revoke_tokens();
    // 20 concurrent callers hit the 401 together: one new token, all succeed.
    let results = join_all((0..20).map(|_| {
        let (c, i) = (client.clone(), iccid.clone());
        async move { c.get_data_quota(&i).await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert_eq!(sim.counters().token_requests, 2);
    assert!(sim.counters().unauthorized >= 1);
}

#[tokio::test]
async fn expiring_token_is_refreshed_before_expiry() {
    // TTL 2 s: the client refreshes after half of it (the 60 s margin is capped at TTL/2).
    let sim = common::sim(SimConfig { token_ttl_secs: 2, ..SimConfig::new(5, 1) }).await;
    let client = common::client(&sim);
    let iccid = sim.state().sims()[0].iccid.clone();
    for _ in 0..4 {
        client.get_sim(&iccid).await.unwrap();
        tokio::time::sleep(Duration::from_millis(600)).await;
    }
    assert!(sim.counters().token_requests >= 2, "refreshed: {:?}", sim.counters());
    assert_eq!(sim.counters().unauthorized, 0, "refreshed early, never rejected");
}

#[tokio::test]
async fn wrong_credentials_are_an_auth_error_without_secrets() {
    let sim = common::sim(SimConfig::new(5, 1)).await;
    let mut cfg = common::config(&sim);
    cfg.client_secret = "super-secret-value".to_string().into();
    let client = Client::new(cfg).unwrap();
    let err = client.get_sim(&sim.state().sims()[0].iccid).await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 401, .. }), "{err:?}");
    assert!(!format!("{err} {err:?}").contains("super-secret-value"));
    assert!(!format!("{client:?}").contains("super-secret-value"));
    let mut cfg = common::config(&sim);
    cfg.client_id = "nobody".into();
    let err = Client::new(cfg).unwrap().authenticate().await.unwrap_err();
    assert!(matches!(err, Error::Auth { status: 400, .. }), "{err:?}");
}

#[tokio::test]
async fn token_response_with_example_field_names_is_accepted() {
    let sim = common::sim(SimConfig { token_example_field_names: true, ..SimConfig::new(5, 1) }).await;
    let client = common::client(&sim);
    client.get_sim(&sim.state().sims()[0].iccid).await.unwrap();
}

#[tokio::test]
async fn storm_of_429_is_respected() {
    let sim = common::sim(SimConfig::new(30, 1)).await;
    let client = common::client(&sim);
    let iccid = sim.state().sims()[0].iccid.clone();
    client.authenticate().await.unwrap();
    sim.reset_counters();
    sim.set_faults(Faults { storm_secs: 2, ..Faults::default() });
    let started = Instant::now();
    let results = join_all((0..20).map(|_| {
        let (c, i) = (client.clone(), iccid.clone());
        async move { c.get_sim(&i).await }
    }))
    .await;
    assert!(results.iter().all(Result::is_ok), "{results:?}");
    assert!(started.elapsed() >= Duration::from_secs(2));
    // The storm answers 429 to *every* request that arrives during it, with Retry-After = the
    // seconds left. So each of the 20 callers may see exactly one 429: a second one would mean
    // somebody knocked again before Retry-After had elapsed.
    let log = sim.request_log();
    let limited = log.iter().filter(|e| e.status == 429).count();
    assert!((1..=20).contains(&limited), "429s: {limited} (log: {log:?})");
    let storm_end = log.iter().filter(|e| e.status == 429).map(|e| e.at).min().unwrap() + Duration::from_millis(1900);
    assert!(log.iter().filter(|e| e.status == 200).all(|e| e.at >= storm_end), "a success inside the storm window");
    assert_eq!(client.metrics().rate_limited, limited as u64);
}

#[tokio::test]
async fn server_rate_limit_and_client_rate_limit_agree() {
    // 151 requests against a server allowing 100/s with a 1 s burst: unthrottled, 8 requests
    // in flight would overrun it; the client's own 100/s limiter keeps every answer a 200.
    let sim = common::sim(SimConfig { rate_limit_per_sec: Some(100), ..SimConfig::new(1_500, 9) }).await;
    let mut cfg = common::config(&sim);
    cfg.rate_limit_per_sec = Some(100);
    let client = Client::new(cfg).unwrap();
    let started = Instant::now();
    let sims = client.all_sims(10, 8).await.unwrap();
    assert!(started.elapsed() >= Duration::from_millis(1400), "limited to 100/s: {:?}", started.elapsed());
    assert_eq!(sims.len(), 1_500);
    assert_eq!(sim.counters().rate_limited, 0);
    assert_eq!(client.metrics().rate_limited, 0);
}

#[tokio::test]
async fn twenty_percent_5xx_still_yields_complete_correct_results() {
    let sim = common::sim(SimConfig { fault_rate: 0.2, ..SimConfig::new(2_000, 11) }).await;
    let mut cfg = common::config(&sim);
    cfg.max_retries = 8; // P(9 faults in a row) = 0.2^9 ≈ 5e-7 per request
    let client = Client::new(cfg).unwrap();
    let got = client.all_sims(50, 6).await.unwrap();
    let expected = sim.state().sims();
    assert_eq!(got.len(), expected.len());
    for (g, e) in got.iter().zip(&expected) {
        assert_eq!(g.iccid.as_deref(), Some(e.iccid.as_str()));
        assert_eq!(g.imsi.as_deref(), Some(e.imsi.as_str()));
        assert_eq!(g.ip_address.as_deref(), Some(e.ip_address.as_str()));
        assert_eq!(g.label, e.label);
    }
    let unique: HashSet<_> = got.iter().map(|s| s.iccid.clone()).collect();
    assert_eq!(unique.len(), expected.len());
    assert!(sim.counters().errors_5xx > 0);
    assert!(client.metrics().retries > 0);
    assert_eq!(client.breaker_state(), BreakerState::Closed);
}

#[tokio::test]
async fn posts_are_not_retried_on_5xx() {
    let sim = common::sim(SimConfig::new(5, 1)).await;
    let client = common::client(&sim);
    let iccid = sim.state().sims()[0].iccid.clone();
    client.authenticate().await.unwrap();
    sim.set_faults(Faults { error_rate: 1.0, ..Faults::default() });
    let before = sim.counters().requests;
    let err = client.top_up(&iccid, None).await.unwrap_err();
    assert!(matches!(err, Error::Upstream { .. }), "{err:?}");
    assert_eq!(sim.counters().requests - before, 1, "a POST that creates is sent once");
    assert_eq!(sim.state().orders().len(), 1, "no order created");
}

#[tokio::test]
async fn malformed_and_truncated_bodies_are_decode_errors() {
    let sim = common::sim(SimConfig::new(5, 1)).await;
    let client = common::client(&sim);
    let iccid = sim.state().sims()[0].iccid.clone();
    client.authenticate().await.unwrap();
    for faults in
        [Faults { truncate_rate: 1.0, ..Faults::default() }, Faults { malformed_rate: 1.0, ..Faults::default() }]
    {
        sim.set_faults(faults);
        let err = client.get_sim(&iccid).await.unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        let err = client.list_sims(&SimListQuery::default()).await.unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        let err = client.get_usage(&iccid, None, None).await.unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn dropped_connections_are_retried_then_reported() {
    let sim = common::sim(SimConfig::new(5, 1)).await;
    let mut cfg = common::config(&sim);
    cfg.max_retries = 2;
    let client = Client::new(cfg).unwrap();
    let iccid = sim.state().sims()[0].iccid.clone();
    client.authenticate().await.unwrap();
    sim.set_faults(Faults { drop_rate: 1.0, ..Faults::default() });
    let err = client.get_sim(&iccid).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
    assert_eq!(sim.counters().dropped, 3, "1 try + 2 retries");
    sim.set_faults(Faults { drop_rate: 0.3, ..Faults::default() });
    let patient = common::client(&sim); // 5 retries
    for _ in 0..10 {
        patient.get_sim(&iccid).await.unwrap();
    }
}

#[tokio::test]
async fn circuit_breaker_opens_and_recovers() {
    let sim = common::sim(SimConfig::new(5, 1)).await;
    let mut cfg = common::config(&sim);
    cfg.max_retries = 0;
    cfg.breaker_threshold = 3;
    cfg.breaker_cooldown = Duration::from_millis(300);
    let client = Client::new(cfg).unwrap();
    let iccid = sim.state().sims()[0].iccid.clone();
    client.authenticate().await.unwrap();
    sim.set_faults(Faults { error_rate: 1.0, ..Faults::default() });
    for _ in 0..3 {
        assert!(matches!(client.get_sim(&iccid).await, Err(Error::Upstream { .. })));
    }
    assert_eq!(client.breaker_state(), BreakerState::Open);
    let before = sim.counters().requests;
    assert!(matches!(client.get_sim(&iccid).await, Err(Error::CircuitOpen)));
    assert_eq!(sim.counters().requests, before, "fails fast without a request");
    sim.set_faults(Faults::default());
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(client.breaker_state(), BreakerState::HalfOpen);
    client.get_sim(&iccid).await.unwrap();
    assert_eq!(client.breaker_state(), BreakerState::Closed);
    assert_eq!(client.metrics().breaker_opened, 1);
}

#[tokio::test]
async fn timeouts_are_typed_and_retried() {
    let sim = common::sim(SimConfig::new(5, 1)).await;
    let mut cfg = common::config(&sim);
    cfg.timeout = Duration::from_millis(150);
    cfg.max_retries = 1;
    let client = Client::new(cfg).unwrap();
    let iccid = sim.state().sims()[0].iccid.clone();
    client.authenticate().await.unwrap();
    sim.set_faults(Faults { latency_ms: 400, ..Faults::default() });
    let err = client.get_sim(&iccid).await.unwrap_err();
    assert!(matches!(err, Error::Timeout), "{err:?}");
    assert_eq!(client.metrics().retries, 1);
}

#[tokio::test]
async fn connection_refused_is_connect_error() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let mut cfg = onence::ClientConfig::new(format!("http://{addr}"), "a", "b");
    cfg.max_retries = 1;
    cfg.backoff_base = Duration::from_millis(1);
    let err = Client::new(cfg).unwrap().list_sims(&SimListQuery::default()).await.unwrap_err();
    assert!(matches!(err, Error::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn stream_reports_errors_instead_of_panicking() {
    let sim = common::sim(SimConfig::new(30, 1)).await;
    let client = common::client(&sim);
    client.authenticate().await.unwrap();
    sim.set_faults(Faults { malformed_rate: 1.0, ..Faults::default() });
    let r: Result<Vec<_>, _> = client.stream_sims(10, 2).try_collect().await;
    assert!(matches!(r, Err(Error::Decode { .. })));
}
