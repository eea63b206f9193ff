//! The `onence-sim` binary: help, usage errors (exit code 2), and a real start on loopback.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_onence-sim");

#[test]
fn help_lists_the_flags() {
    let out = Command::new(BIN).arg("--help").output().unwrap();
    assert!(out.status.success());
    let text = String::from_utf8_lossy(&out.stdout);
    for flag in [
        "--listen",
        "--sims",
        "--seed",
        "--rate-limit",
        "--fault-rate",
        "--latency-ms",
        "--token-ttl-secs",
        "--client-secret",
    ] {
        assert!(text.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    for args in [vec!["--bogus"], vec!["--sims", "many"], vec!["--fault-rate", "1.5"], vec!["--listen", "nowhere"]] {
        let out = Command::new(BIN).args(&args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
    }
}

#[test]
fn serves_on_loopback() {
    let mut child = Command::new(BIN)
        .args(["--listen", "127.0.0.1:0", "--sims", "50", "--seed", "3"])
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let result = std::panic::catch_unwind(|| {
        let url =
            line.split_whitespace().find(|w| w.starts_with("http://127.0.0.1:")).expect("base URL printed").to_string();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let http = reqwest::Client::new();
            let r = http.get(format!("{url}/v1/sims")).send().await.unwrap();
            assert_eq!(r.status(), 401);
            let r = http
                .post(format!("{url}/oauth/token"))
                .basic_auth("sim-client", Some("sim-secret"))
                .json(&serde_json::json!({"grant_type": "client_credentials"}))
                .send()
                .await
                .unwrap();
            assert_eq!(r.status(), 200);
        });
    });
    child.kill().unwrap();
    child.wait().unwrap();
    result.unwrap();
}
