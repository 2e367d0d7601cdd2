//! Headless Chromium for the tests that load a report page in a real browser (the eval crate's
//! HTML test and the end-to-end audit test include this file), and where they keep screenshots.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const HINT: &str = "needs chromium: scripts/test-all installs it (apt_ensure chromium); \
                    SIDESCAN_CHROMIUM names another binary";

/// The Chromium binary (`$SIDESCAN_CHROMIUM`, else `chromium`), checked to run.
pub fn chromium() -> String {
    let bin = std::env::var("SIDESCAN_CHROMIUM").unwrap_or_else(|_| "chromium".into());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(found, "{bin} not found: {HINT}");
    bin
}

/// Runs headless Chromium with a fresh profile on `url` (killed after 90 s); returns stdout and
/// stderr.
pub fn run_chromium(extra: &[&str], url: &str) -> (String, String) {
    let profile = tempfile::tempdir().unwrap();
    let child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--enable-logging=stderr",
            "--v=0",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(extra)
        .arg(url)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let id = child.id();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let out = match rx.recv_timeout(Duration::from_secs(90)) {
        Ok(out) => out.unwrap(),
        Err(_) => {
            let _ = Command::new("kill")
                .args(["-KILL", &id.to_string()])
                .status();
            panic!("chromium did not finish within 90 s on {url}");
        }
    };
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Where tests keep screenshots: `$SIDESCAN_ARTIFACTS_DIR`, else `<target>/tmp/artifacts`.
pub fn artifacts() -> PathBuf {
    let dir = std::env::var_os("SIDESCAN_ARTIFACTS_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("artifacts"));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
