//! `simfleet config check` and start-up validation, through the real binary.

mod support;

use support::simfleet;

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn stderr(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_check_prints_the_effective_configuration_with_secrets_masked() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("simfleet.toml");
    std::fs::write(
        &file,
        "listen = \"0.0.0.0:9000\"\ndb_max_connections = 25\nlog_format = \"json\"\nsync_interval_usage = 7200\n\
         onence_client_id = \"from-file\"\nonence_client_secret = \"file-secret-9f8e7d\"\n",
    )
    .unwrap();
    let out = simfleet(dir.path())
        .args(["config", "check", "--config"])
        .arg(&file)
        .env("SIMFLEET_DATABASE_URL", "postgres://simfleet:pg-pass-4c3b2a@db.internal:5432/simfleet")
        .env("SIMFLEET_SECRET_KEY", "master-key-a1b2c3d4e5f6a7b8c9d0")
        .env("SIMFLEET_DB_MAX_CONNECTIONS", "30")
        .env("SIMFLEET_LISTEN", "0.0.0.0:9000")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    // Environment beats the file; the file beats defaults.
    assert!(text.contains("db_max_connections = 30\n"), "{text}");
    assert!(text.contains("listen = \"0.0.0.0:9000\"\n"), "{text}");
    assert!(text.contains("log_format = \"json\"\n"), "{text}");
    assert!(text.contains("sync_interval_usage = 7200\n"), "{text}");
    assert!(text.contains("sync_interval_sims = 900\n"), "{text}");
    assert!(text.contains("onence_client_id = \"from-file\"\n"), "{text}");
    assert!(text.contains("database_url = \"postgres://simfleet:***@db.internal:5432/simfleet\""), "{text}");
    for secret in ["pg-pass-4c3b2a", "master-key-a1b2c3d4e5f6a7b8c9d0", "file-secret-9f8e7d"] {
        assert!(!text.contains(secret) && !stderr(&out).contains(secret), "{secret} shown:\n{text}");
    }
    assert!(text.contains("secret_key = \"***\"") && text.contains("onence_client_secret = \"***\""), "{text}");
    // The output is itself a valid configuration file (with the secrets to fill in again).
    let again = dir.path().join("again.toml");
    std::fs::write(&again, &text).unwrap();
    let out = simfleet(dir.path())
        .args(["config", "check", "--config"])
        .arg(&again)
        .env("SIMFLEET_SECRET_KEY", "master-key-a1b2c3d4e5f6a7b8c9d0")
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
}

#[test]
fn every_wrong_value_gets_its_own_message_and_exit_code_2() {
    let dir = tempfile::tempdir().unwrap();
    let out = simfleet(dir.path())
        .args(["config", "check"])
        .env("SIMFLEET_DATABASE_URL", "mysql://x@y/z")
        .env("SIMFLEET_LISTEN", "localhost:http")
        .env("SIMFLEET_LOG_FORMAT", "xml")
        .env("SIMFLEET_LOG", "info,[")
        .env("SIMFLEET_TLS_CERT", "/nonexistent/cert.pem")
        .env("SIMFLEET_SECRET_KEY", "short")
        .env("ONENCE_CLIENT_ID", "someone")
        .env("ONENCE_API_URL", "ftp://api")
        .env("SIMFLEET_SYNC_INTERVAL_OUTBOX", "soon")
        .env("SIMFLEET_SHUTDOWN_TIMEOUT", "0")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    for expected in [
        "SIMFLEET_DATABASE_URL must start with sqlite:// or postgres:// (got \"mysql://x@y/z\")",
        "SIMFLEET_LISTEN must be HOST:PORT",
        "the port is not a number",
        "SIMFLEET_LOG_FORMAT must be json or pretty (got \"xml\")",
        "SIMFLEET_LOG is not a valid log filter",
        "set both SIMFLEET_TLS_CERT and SIMFLEET_TLS_KEY",
        "SIMFLEET_SECRET_KEY is too short",
        "ONENCE_CLIENT_ID is set but ONENCE_CLIENT_SECRET is not",
        "ONENCE_API_URL must be an http:// or https:// URL (got \"ftp://api\")",
        "SIMFLEET_SYNC_INTERVAL_OUTBOX must be a positive number of seconds (got \"soon\")",
        "SIMFLEET_SHUTDOWN_TIMEOUT must be 1 to 3600 seconds (got 0)",
    ] {
        assert!(err.contains(expected), "missing {expected:?} in:\n{err}");
    }
    assert!(!err.contains("short\""), "the secret key's value is not echoed");

    // The same checks guard every command, and a bad value from clap is a usage error too.
    let out = simfleet(dir.path()).arg("migrate").env("SIMFLEET_LOG_FORMAT", "yaml").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let out = simfleet(dir.path()).arg("serve").env("SIMFLEET_DB_MAX_CONNECTIONS", "many").output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn config_file_problems_name_the_file_and_key() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bad.toml");
    std::fs::write(&file, "listen = \"127.0.0.1:8080\"\nlisten_port = 9\n").unwrap();
    let out = simfleet(dir.path()).args(["config", "check", "--config"]).arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("bad.toml") && err.contains("listen_port"), "{err}");
    let out = simfleet(dir.path()).args(["config", "check", "--config", "/nonexistent.toml"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("/nonexistent.toml: cannot read it"), "{}", stderr(&out));
}
