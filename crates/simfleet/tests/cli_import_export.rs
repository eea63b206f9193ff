//! `simfleet import` and `simfleet export` on a temporary SQLite database, as a user runs them.

use std::process::{Command, Output};

fn simfleet(dir: &tempfile::TempDir) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_simfleet"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("SIMFLEET_DATABASE_URL", format!("sqlite://{}/simfleet.db", dir.path().display()))
        .env("SIMFLEET_LOG", "warn")
        .current_dir(dir.path());
    cmd
}

fn run(dir: &tempfile::TempDir, args: &[&str]) -> Output {
    simfleet(dir).args(args).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn iccid(n: u64) -> String {
    let payload = format!("8988{n:014}");
    format!("{payload}{}", simfleet_domain::ids::luhn_check_digit(&payload))
}

#[test]
fn import_dry_run_commit_and_export() {
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.csv");
    std::fs::write(
        &good,
        format!("iccid;msisdn;pin;label\n{};491510000001;1234;=evil\n{};;;Truck\n", iccid(1), iccid(2)),
    )
    .unwrap();
    // One invalid row (a formula label): exit 1, nothing committed.
    let out = run(&dir, &["import", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("1 to create") && stdout.contains("1 invalid"), "{stdout}");
    assert!(stdout.contains("row 2, label") && stdout.contains("formula"), "{stdout}");
    assert!(text(&out.stderr).contains("nothing was committed"));

    let out = run(&dir, &["import", "--dry-run", "--skip-invalid", good.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "a dry run with invalid rows fails too");

    let out = run(&dir, &["import", "--skip-invalid", good.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("1 created"), "{}", text(&out.stdout));

    let out = run(&dir, &["export"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let csv = text(&out.stdout);
    assert!(csv.starts_with("iccid,"), "{csv}");
    assert!(csv.contains(&iccid(2)) && !csv.contains(&iccid(1)), "{csv}");

    // The export imported again: nothing to do.
    let back = dir.path().join("back.csv");
    std::fs::write(&back, &csv).unwrap();
    let out = run(&dir, &["import", "--dry-run", back.to_str().unwrap()]);
    assert!(out.status.success(), "{}{}", text(&out.stdout), text(&out.stderr));
    assert!(text(&out.stdout).contains("0 to create, 0 to update, 1 unchanged"), "{}", text(&out.stdout));

    let xlsx = dir.path().join("sims.xlsx");
    let out = run(&dir, &["export", "--format", "xlsx", "--out", xlsx.to_str().unwrap(), "--status", "AVAILABLE"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let parsed = simfleet_io::parse(&std::fs::read(&xlsx).unwrap(), simfleet_io::Format::Xlsx, None).unwrap();
    assert_eq!(parsed.total_rows, 1);

    assert_eq!(run(&dir, &["export", "--format", "xlsx"]).status.code(), Some(2), "XLSX needs --out");
    let out = run(&dir, &["import", dir.path().join("missing.csv").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("cannot read"));
    for args in [&["import", "--help"][..], &["export", "--help"]] {
        let out = run(&dir, args);
        assert!(out.status.success() && text(&out.stdout).contains("Usage: simfleet"), "{args:?}");
    }
}

/// A reader that stops early (`simfleet export | head -1`) ends the export quietly, with the
/// status of a process killed by SIGPIPE, as `cat` ends.
#[test]
fn export_into_a_closed_pipe_stops_quietly() {
    use std::io::{BufRead, BufReader};
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("many.csv");
    let rows: String = (1..=3000).map(|n| format!("{};Tracker number {n} of the northern depot\n", iccid(n))).collect();
    std::fs::write(&file, format!("iccid;label\n{rows}")).unwrap();
    let out = run(&dir, &["import", file.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));

    let mut child = simfleet(&dir)
        .args(["export", "--format", "csv"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut header = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut header).unwrap();
    assert!(header.starts_with("iccid,"), "{header}");
    // The reader is dropped here: the pipe closes with more than 64 KB still to write.
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(141), "{}", text(&out.stderr));
    assert_eq!(text(&out.stderr), "", "no error message for a reader that went away");
}
