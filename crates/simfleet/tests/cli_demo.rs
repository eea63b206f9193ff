//! `simfleet demo` as a newcomer runs it: one command, then log in with the printed password.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};

struct KillOnDrop(Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Reads the demo's standard output up to the password line: (URL, password, every line read).
fn wait_until_ready(child: &mut Child) -> (String, String, Vec<String>) {
    let stdout = child.stdout.take().expect("piped stdout");
    let mut lines = Vec::new();
    let mut url = None;
    let mut reader = BufReader::new(stdout).lines();
    while let Some(line) = reader.next() {
        let line = line.expect("demo output");
        if let Some(rest) = line.strip_prefix("simfleet demo is ready: open ") {
            url = rest.split_whitespace().next().map(|u| u.trim_end_matches('/').to_owned());
        }
        if let Some(rest) = line.strip_prefix("username: admin  password: ") {
            let password = rest.trim().to_owned();
            lines.push(line);
            // Keep reading, or the demo's next line of output would hit a closed pipe.
            std::thread::spawn(move || reader.for_each(drop));
            return (url.expect("the URL is printed before the password"), password, lines);
        }
        lines.push(line);
    }
    panic!("the demo ended before printing the password: {lines:#?}");
}

fn start_demo(data_dir: &std::path::Path) -> KillOnDrop {
    let child = Command::new(env!("CARGO_BIN_EXE_simfleet"))
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIMFLEET_LOG", "warn")
        .args(["demo", "--sims", "40", "--listen", "127.0.0.1:0", "--data-dir"])
        .arg(data_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start simfleet demo");
    KillOnDrop(child)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_prints_a_working_login_and_serves_a_synced_fleet() {
    let dir = tempfile::tempdir().unwrap();
    let mut demo = start_demo(dir.path());
    let (url, password, lines) = tokio::task::block_in_place(|| wait_until_ready(&mut demo.0));
    assert!(lines.iter().any(|l| l.starts_with("sync sims") && l.contains("success")), "{lines:#?}");

    let http = reqwest::Client::new();
    let login: serde_json::Value = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap()
        .error_for_status()
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = login["token"].as_str().unwrap();
    let sims: serde_json::Value = http
        .get(format!("{url}/api/v1/sims?provider=1nce&count=true&limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(sims["total"], 40, "every simulated SIM is synced: {sims}");
    let stock: serde_json::Value = http
        .get(format!("{url}/api/v1/sims?provider=none&count=true&limit=1"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(stock["total"], 150, "the demo adds own stock: {stock}");
    drop(demo);

    // A second run on the same data directory keeps the data and prints a new password.
    let mut again = start_demo(dir.path());
    let (url, second_password, _) = tokio::task::block_in_place(|| wait_until_ready(&mut again.0));
    assert_ne!(second_password, password);
    let status = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": password }))
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401, "the old password no longer works");
    let customers: serde_json::Value = http
        .post(format!("{url}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": "admin", "password": second_password }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = customers["token"].as_str().unwrap().to_owned();
    let customers: serde_json::Value = http
        .get(format!("{url}/api/v1/customers?count=true"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(customers["total"], 5, "inventory is added once, not on every run: {customers}");
}
