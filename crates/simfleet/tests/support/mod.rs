//! `simfleet serve` as a child process: start it, find its address in its log, stop it
//! with SIGTERM, keep everything it logged.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub fn simfleet(dir: &std::path::Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simfleet"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIMFLEET_DATABASE_URL", format!("sqlite://{}/simfleet.db", dir.display()))
        .env("SIMFLEET_LISTEN", "127.0.0.1:0")
        .current_dir(dir);
    cmd
}

pub struct Server {
    child: Child,
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `cmd serve` and waits until it logs the address it serves on.
    pub fn start(cmd: Command) -> Server {
        Self::start_all(vec![cmd]).pop().unwrap()
    }

    /// Starts several servers at once (they race to migrate), then waits for each.
    pub fn start_all(cmds: Vec<Command>) -> Vec<Server> {
        let pending: Vec<_> = cmds.into_iter().map(Self::spawn).collect();
        pending.into_iter().map(|(child, log, rx)| Self::wait_ready(child, log, rx)).collect()
    }

    #[allow(clippy::type_complexity)]
    fn spawn(mut cmd: Command) -> (Child, Arc<Mutex<Vec<String>>>, std::sync::mpsc::Receiver<String>) {
        let mut child = cmd.arg("serve").stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("spawn simfleet");
        let stderr = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel::<String>();
        let sink = Arc::clone(&log);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let addr = serving_addr(&line);
                sink.lock().unwrap().push(line);
                // Only after the line is in the log, so a caller that was woken can read it.
                if let Some(addr) = addr {
                    let _ = tx.send(addr);
                }
            }
        });
        (child, log, rx)
    }

    fn wait_ready(mut child: Child, log: Arc<Mutex<Vec<String>>>, rx: std::sync::mpsc::Receiver<String>) -> Server {
        let addr = match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                panic!("simfleet serve did not start:\n{}", log.lock().unwrap().join("\n"));
            }
        };
        Server { child, addr, log }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn sigterm(&self) {
        let ok = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap().success();
        assert!(ok, "kill -TERM");
    }

    /// SIGTERM, then the exit status (the process must exit within `within`).
    pub fn stop(mut self, within: Duration) -> (std::process::ExitStatus, String) {
        self.sigterm();
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                std::thread::sleep(Duration::from_millis(50)); // let the reader drain
                return (status, self.log());
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("simfleet did not stop within {within:?}:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Server {
    /// SIGKILL (no chance to finish anything), then what it logged.
    pub fn sigkill(mut self) -> String {
        self.child.kill().expect("SIGKILL");
        self.child.wait().unwrap();
        std::thread::sleep(Duration::from_millis(50)); // let the reader drain
        self.log()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The address in the start-up line, in either log format.
fn serving_addr(line: &str) -> Option<String> {
    let at = line.find("is serving on http")?;
    let rest = &line[at..];
    let start = rest.find("://")? + 3;
    let addr: String = rest[start..].chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect();
    Some(addr.trim_end_matches(':').to_owned())
}

/// Creates a user through the CLI.
pub fn create_user(cmd: Command, username: &str, role: &str, password: &str) {
    use std::io::Write;
    let mut cmd = cmd;
    cmd.args(["user", "create", "--username", username, "--role", role, "--password-stdin"]);
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(format!("{password}\n").as_bytes()).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

/// A valid ICCID (Luhn) from a number.
pub fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload))
}

pub async fn login(http: &reqwest::Client, base: &str, username: &str, password: &str) -> String {
    let res = http
        .post(format!("{base}/api/v1/auth/login"))
        .json(&serde_json::json!({ "username": username, "password": password }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body: serde_json::Value = res.json().await.unwrap();
    body["token"].as_str().unwrap().to_owned()
}
