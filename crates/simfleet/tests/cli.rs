//! The `simfleet` command line as a user runs it: a real process.

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Output, Stdio};

fn simfleet(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simfleet"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIMFLEET_DATABASE_URL", format!("sqlite://{}/simfleet.db", dir.path().display()))
        .current_dir(dir.path());
    cmd
}

fn run_with_stdin(mut cmd: Command, input: &str) -> Output {
    let mut child = cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn every_command_has_help() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--help"][..],
        &["serve", "--help"],
        &["migrate", "--help"],
        &["user", "--help"],
        &["user", "create", "--help"],
    ] {
        let out = simfleet(&dir).args(args).output().unwrap();
        assert!(out.status.success(), "{args:?}");
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains("Usage: simfleet"), "{args:?}: {text}");
    }
}

#[test]
fn usage_errors_exit_with_2() {
    let dir = tempfile::tempdir().unwrap();
    for args in [
        &["--no-such-flag"][..],
        &["frobnicate"],
        &["user", "create", "--username", "x"],
        &["user", "create", "--username", "x", "--role", "king"],
    ] {
        let out = simfleet(&dir).args(args).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
    }
}

#[test]
fn migrate_and_create_users() {
    let dir = tempfile::tempdir().unwrap();
    let out = simfleet(&dir).arg("migrate").output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(dir.path().join("simfleet.db").exists());

    let mut cmd = simfleet(&dir);
    cmd.args(["user", "create", "--username", "root", "--role", "admin", "--password-stdin"]);
    let out = run_with_stdin(cmd, "a long enough password\n");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("created user root with role admin"));

    let mut cmd = simfleet(&dir);
    cmd.args(["user", "create", "--username", "root", "--role", "viewer", "--password-stdin"]);
    let out = run_with_stdin(cmd, "another long password\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("already exists"));

    let mut cmd = simfleet(&dir);
    cmd.args(["user", "create", "--username", "shorty", "--role", "viewer", "--password-stdin"]);
    let out = run_with_stdin(cmd, "short\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 10 characters"));
}

#[test]
fn bad_configuration_is_explained() {
    let dir = tempfile::tempdir().unwrap();
    let out = simfleet(&dir).env("SIMFLEET_DATABASE_URL", "mysql://x").arg("migrate").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "a wrong configuration value is a usage error");
    assert!(String::from_utf8_lossy(&out.stderr).contains("sqlite:// or postgres://"));
}

#[test]
fn serve_answers_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = simfleet(&dir)
        .args(["serve", "--listen", "127.0.0.1:0"])
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    let addr = loop {
        let line = lines.next().expect("server exited early").unwrap();
        if let Some(rest) = line.split("serving on http://").nth(1) {
            break rest.split_whitespace().next().unwrap().to_owned();
        }
    };
    let body = http_get(&addr, "/health/ready");
    assert!(body.contains("\"database\":\"ok\""), "{body}");
    assert!(dir.path().join("secret.key").exists(), "a secret key is generated on first start");
    let pid = child.id().to_string();
    assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
    let status = child.wait().unwrap();
    assert!(status.success(), "{status:?}");
}

fn http_get(addr: &str, path: &str) -> String {
    use std::io::Read;
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}
