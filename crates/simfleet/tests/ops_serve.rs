//! `simfleet serve` as operations sees it: log lines without secrets, native TLS, and a
//! SIGTERM that lets an import in flight finish.

mod support;

use reqwest::StatusCode;
use serde_json::{json, Value};
use std::time::{Duration, Instant};
use support::{create_user, iccid, login, simfleet, Server};

const ADMIN_PASSWORD: &str = "Adm1n-Pa55word-Zq8x";
const WRONG_PASSWORD: &str = "Wr0ng-Pa55word-Kv3m";
const PIN: &str = "73195286";
const PUK: &str = "19283746";
const SECRET_KEY: &str = "Sk-5d1c9e0a7b3f4c28a6e1d0f9b8c7a6e5";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_logs_carry_ids_and_never_secrets() {
    let dir = tempfile::tempdir().unwrap();
    let env = |mut c: std::process::Command| {
        c.env("SIMFLEET_SECRET_KEY", SECRET_KEY).env("SIMFLEET_LOG", "trace").env("SIMFLEET_LOG_FORMAT", "json");
        c
    };
    create_user(env(simfleet(dir.path())), "admin", "admin", ADMIN_PASSWORD);
    let server = Server::start(env(simfleet(dir.path())));
    let base = server.url("");
    let http = reqwest::Client::new();

    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&json!({ "username": "admin", "password": WRONG_PASSWORD }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    let token = login(&http, &base, "admin", ADMIN_PASSWORD).await;
    let sim = iccid(7);
    let res = http
        .post(format!("{base}/api/v1/sims"))
        .bearer_auth(&token)
        .header("x-request-id", "req-create-sim-0001")
        .json(&json!({ "iccid": sim, "pin": PIN, "puk": PUK }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    assert_eq!(res.headers()["x-request-id"], "req-create-sim-0001", "the request id is propagated");
    let res = http
        .post(format!("{base}/api/v1/api-keys"))
        .bearer_auth(&token)
        .json(&json!({ "name": "ci" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let key: Value = res.json().await.unwrap();
    let api_key = key["secret"].as_str().unwrap().to_owned();
    let res = http.get(format!("{base}/api/v1/sims/{sim}/secrets")).bearer_auth(&api_key).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let revealed: Value = res.json().await.unwrap();
    assert_eq!(revealed["pin"], PIN, "{revealed}");

    let (status, log) = server.stop(Duration::from_secs(20));
    assert!(status.success(), "{log}");
    for secret in [ADMIN_PASSWORD, WRONG_PASSWORD, PIN, PUK, SECRET_KEY, &token, &api_key] {
        assert!(!log.contains(secret), "a secret ({}…) is in the log", &secret[..4]);
    }
    // One JSON line per request, with the route template, status, latency, user and request id.
    let lines: Vec<Value> = log.lines().filter_map(|l| serde_json::from_str(l).ok()).collect();
    let requests: Vec<&Value> = lines.iter().filter(|l| l["message"] == "request").collect();
    let create = requests
        .iter()
        .find(|l| l["request_id"] == "req-create-sim-0001")
        .unwrap_or_else(|| panic!("no log line for the request id:\n{log}"));
    assert_eq!(create["method"], "POST");
    assert_eq!(create["route"], "/api/v1/sims");
    assert_eq!(create["status"], 201);
    assert_eq!(create["user"], "admin");
    assert!(create["latency_ms"].as_f64().is_some());
    let reveal = requests.iter().find(|l| l["route"] == "/api/v1/sims/{iccid}/secrets").expect("reveal logged");
    assert!(reveal["user"].as_str().unwrap().starts_with("admin (key"), "{reveal}");
    assert!(reveal["request_id"].as_str().is_some_and(|id| id.len() >= 32), "a request id is generated: {reveal}");
    assert!(!log.contains(&sim) || !requests.iter().any(|l| l["route"].as_str().unwrap_or("").contains(&sim)));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn native_tls_with_a_self_signed_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let (cert_path, key_path) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    std::fs::write(&cert_path, cert.cert.pem()).unwrap();
    std::fs::write(&key_path, cert.key_pair.serialize_pem()).unwrap();

    let mut cmd = simfleet(dir.path());
    cmd.env("SIMFLEET_TLS_CERT", &cert_path).env("SIMFLEET_TLS_KEY", &key_path);
    let server = Server::start(cmd);
    assert!(server.log().contains("serving on https://"));
    let port = server.addr.rsplit(':').next().unwrap().to_owned();
    let http = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(cert.cert.pem().as_bytes()).unwrap())
        .resolve("localhost", server.addr.parse().unwrap())
        .build()
        .unwrap();
    let res = http.get(format!("https://localhost:{port}/health/live")).send().await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let plain = reqwest::Client::new().get(format!("http://{}/health/live", server.addr)).send().await;
    assert!(plain.map(|r| !r.status().is_success()).unwrap_or(true), "plain HTTP is not served");

    // A key that is not PEM fails the start with a message naming the variable.
    std::fs::write(&key_path, "not a key").unwrap();
    let mut cmd = simfleet(dir.path());
    cmd.env("SIMFLEET_TLS_CERT", &cert_path).env("SIMFLEET_TLS_KEY", &key_path).arg("serve");
    let out = cmd.output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("SIMFLEET_TLS_KEY"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn csv(rows: usize) -> String {
    let mut s = String::from("iccid,label\n");
    for n in 0..rows {
        s.push_str(&format!("{},bulk {n}\n", iccid(1_000_000 + n as u64)));
    }
    s
}

fn multipart(name: &str, content: &str) -> (String, Vec<u8>) {
    let boundary = "simfleet-test-boundary-7d3f";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\nContent-Type: text/csv\r\n\r\n{content}\r\n--{boundary}--\r\n"
    );
    (format!("multipart/form-data; boundary={boundary}"), body.into_bytes())
}

/// SIGTERM while a large import commits: the server stops accepting, lets the commit finish
/// (one transaction) and exits 0; afterwards every row is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_drains_an_import_in_flight() {
    const ROWS: usize = 30_000;
    let dir = tempfile::tempdir().unwrap();
    let env = |mut c: std::process::Command| {
        c.env("SIMFLEET_SECRET_KEY", SECRET_KEY);
        c
    };
    create_user(env(simfleet(dir.path())), "admin", "admin", ADMIN_PASSWORD);
    let server = Server::start(env(simfleet(dir.path())));
    let base = server.url("");
    let http = reqwest::Client::new();
    let token = login(&http, &base, "admin", ADMIN_PASSWORD).await;
    let (content_type, body) = multipart("big.csv", &csv(ROWS));
    let res = http
        .post(format!("{base}/api/v1/imports"))
        .bearer_auth(&token)
        .header("content-type", content_type)
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::CREATED);
    let import: Value = res.json().await.unwrap();
    assert_eq!(import["to_create"], ROWS, "{import}");
    let id = import["id"].as_i64().unwrap();

    let started = Instant::now();
    let commit = tokio::spawn({
        let (http, base, token) = (http.clone(), base.clone(), token.clone());
        async move {
            http.post(format!("{base}/api/v1/imports/{id}/commit")).bearer_auth(&token).json(&json!({})).send().await
        }
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    server.sigterm();
    let res = commit.await.unwrap().expect("the commit in flight gets its answer");
    let took = started.elapsed();
    assert_eq!(res.status(), StatusCode::OK, "{}", res.text().await.unwrap());
    assert!(took > Duration::from_millis(150), "the signal came while the commit ran ({took:?})");
    let (status, log) = server.stop(Duration::from_secs(30));
    assert!(status.success(), "{log}");
    assert!(log.contains("shutting down"), "{log}");

    let out = env(simfleet(dir.path())).args(["export", "--format", "csv"]).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let exported = String::from_utf8_lossy(&out.stdout).lines().count() - 1;
    assert_eq!(exported, ROWS, "all rows of the import, not a part");
}
