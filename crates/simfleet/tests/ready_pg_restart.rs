//! `/health/ready` of a real `simfleet serve` follows a real PostgreSQL server: the test starts
//! its own PostgreSQL cluster (initdb + pg_ctl on a free port, so the shared server of the
//! other tests is untouched), stops it with `pg_ctl stop -m fast`, and starts it again.
//! Readiness answers 503 while the database is down, liveness stays 200, and both recover
//! without restarting simfleet. Needs PostgreSQL's server binaries; under `CI=true` their
//! absence fails the test instead of skipping it.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};
use support::{simfleet, Server};

/// PostgreSQL's server binaries (Debian keeps them out of PATH).
fn pg_bin_dir() -> Option<PathBuf> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin")))
        .filter(|d| d.join("initdb").exists() && d.join("pg_ctl").exists())
        .collect();
    dirs.sort();
    dirs.pop()
}

/// A private cluster owned by the `postgres` user when the test runs as root (initdb refuses root).
struct Cluster {
    bin: PathBuf,
    data: PathBuf,
    port: u16,
    as_postgres: bool,
    _dir: tempfile::TempDir,
}

impl Cluster {
    fn command(&self, program: &str) -> Command {
        let path = self.bin.join(program);
        if self.as_postgres {
            let mut cmd = Command::new("runuser");
            cmd.args(["-u", "postgres", "--"]).arg(path);
            cmd
        } else {
            Command::new(path)
        }
    }

    fn run(&self, program: &str, args: &[&str]) {
        let out = self.command(program).args(args).output().unwrap_or_else(|e| panic!("{program}: {e}"));
        assert!(
            out.status.success(),
            "{program} {args:?} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn create(bin: PathBuf) -> Cluster {
        let dir = tempfile::tempdir().unwrap();
        let as_postgres = is_root();
        if as_postgres {
            let ok = Command::new("chown").args(["-R", "postgres:postgres"]).arg(dir.path()).status().unwrap();
            assert!(ok.success(), "chown the cluster directory to postgres");
        }
        let port = free_port();
        let cluster = Cluster { bin, data: dir.path().join("data"), port, as_postgres, _dir: dir };
        let data = cluster.data.display().to_string();
        cluster.run("initdb", &["-D", &data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8"]);
        cluster
    }

    fn start(&self) {
        let data = self.data.display().to_string();
        let socket_dir = self.data.parent().unwrap().display().to_string();
        let options = format!("-p {} -k {socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off", self.port);
        let log = self.data.parent().unwrap().join("server.log").display().to_string();
        self.run("pg_ctl", &["-D", &data, "-l", &log, "-o", &options, "-w", "-t", "30", "start"]);
    }

    fn stop(&self) {
        let data = self.data.display().to_string();
        self.run("pg_ctl", &["-D", &data, "-m", "fast", "-w", "-t", "30", "stop"]);
    }

    fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let data = self.data.display().to_string();
        let _ = self.command("pg_ctl").args(["-D", &data, "-m", "immediate", "stop"]).output();
    }
}

fn is_root() -> bool {
    Command::new("id").arg("-u").output().map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0").unwrap_or(false)
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

async fn readiness(http: &reqwest::Client, server: &Server) -> (u16, Value) {
    let res = http.get(server.url("/health/ready")).send().await.expect("simfleet answers");
    let status = res.status().as_u16();
    (status, res.json().await.expect("JSON body"))
}

async fn wait_for(http: &reqwest::Client, server: &Server, want: u16, within: Duration) -> (Value, Duration) {
    let started = Instant::now();
    loop {
        let (status, body) = readiness(http, server).await;
        if status == want {
            return (body, started.elapsed());
        }
        assert!(started.elapsed() < within, "readiness stayed {status} {body} instead of {want}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn data_dir(dir: &Path) -> Command {
    let mut cmd = simfleet(dir);
    cmd.env("SIMFLEET_DATA_DIR", dir).env("SIMFLEET_LOG", "info,sqlx=warn");
    cmd
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn readiness_follows_a_real_postgres_stop_and_start() {
    let Some(bin) = pg_bin_dir() else {
        assert!(std::env::var("CI").is_err(), "CI needs PostgreSQL's server binaries (initdb, pg_ctl)");
        eprintln!("skipped: no PostgreSQL server binaries under /usr/lib/postgresql");
        return;
    };
    let cluster = Cluster::create(bin);
    cluster.start();

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = data_dir(dir.path());
    cmd.env("SIMFLEET_DATABASE_URL", cluster.url());
    let server = Server::start(cmd);
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build().unwrap();

    let (status, body) = readiness(&http, &server).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["database"], "ok");

    cluster.stop();
    let (body, after) = wait_for(&http, &server, 503, Duration::from_secs(10)).await;
    assert_eq!(body["status"], "unavailable", "{body}");
    assert!(["unreachable", "timeout"].contains(&body["database"].as_str().unwrap_or_default()), "{body}");
    assert!(after < Duration::from_secs(5), "readiness noticed the stop within {after:?}");
    let live = http.get(server.url("/health/live")).send().await.unwrap();
    assert_eq!(live.status().as_u16(), 200, "liveness does not depend on the database");
    // An API call waits for a connection as long as the pool's acquire timeout (10 s), then
    // says the database is unreachable instead of failing with a 500.
    let api = http
        .get(server.url("/api/v1/sims"))
        .bearer_auth("sfk_unknown")
        .timeout(Duration::from_secs(30))
        .send()
        .await
        .unwrap();
    assert_eq!(api.status().as_u16(), 503, "an API call while the database is down says so");
    assert_eq!(api.headers()["content-type"], "application/problem+json");

    cluster.start();
    let (body, _) = wait_for(&http, &server, 200, Duration::from_secs(30)).await;
    assert_eq!(body["database"], "ok", "{body}");
    let (status, log) = server.stop(Duration::from_secs(15));
    assert!(status.success(), "simfleet stops cleanly after the outage:\n{log}");
}
