//! The files in `deploy/` agree with this binary (`deploy/check.sh`: variables, command lines,
//! configurations, ports, probe paths, Dockerfile lint).

use std::process::Command;

fn available(cmd: &str, args: &[&str]) -> bool {
    Command::new(cmd).args(args).output().is_ok_and(|o| o.status.success())
}

#[test]
fn deployment_files_match_the_binary() {
    if !available("python3", &["-c", "import yaml"]) || !available("curl", &["--version"]) {
        eprintln!("note: deploy/check.sh needs python3 with PyYAML and curl; not run");
        return;
    }
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../../deploy/check.sh");
    let out = Command::new("bash").arg(script).env("SIMFLEET_BIN", env!("CARGO_BIN_EXE_simfleet")).output().unwrap();
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "{text}");
    assert!(text.contains("all deployment checks passed"), "{text}");
    assert!(!text.contains("FAIL"), "{text}");
}
