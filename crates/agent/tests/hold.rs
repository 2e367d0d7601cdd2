//! The real `hold` program (compiled from images/hold/hold.c with the C compiler Rust links with)
//! installed by the real `sidescan-agent install-hold`, then run: it holds until SIGTERM or its
//! deadline and exits 0, and refuses bad arguments.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn compile_hold(dir: &Path) -> PathBuf {
    let source = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images/hold/hold.c");
    let out = dir.join("hold-built");
    let status = Command::new("cc")
        .args(["-O2", "-Wall", "-Werror", "-o"])
        .arg(&out)
        .arg(&source)
        .status()
        .expect("cc (the C compiler Rust links with) must be installed");
    assert!(status.success(), "compiling {}", source.display());
    out
}

fn installed_hold() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let built = compile_hold(dir.path());
    let volume = dir.path().join("volume");
    std::fs::create_dir(&volume).unwrap();
    let dest = volume.join("hold");
    let out = Command::new(env!("CARGO_BIN_EXE_sidescan-agent"))
        .arg("install-hold")
        .arg(&dest)
        .arg("--source")
        .arg(&built)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777,
        0o755
    );
    (dir, dest)
}

#[test]
fn hold_exits_at_once_on_sigterm_and_by_itself_at_its_deadline() {
    let (_dir, hold) = installed_hold();
    let mut child = Command::new(&hold)
        .arg("60")
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    // Wait for its start line, then stop it the way the kubelet does.
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.as_mut().unwrap()),
        &mut line,
    )
    .unwrap();
    assert!(line.starts_with("hold: pid"), "{line}");
    let sent = Instant::now();
    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(0));
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "{:?}",
        sent.elapsed()
    );

    let started = Instant::now();
    let out = Command::new(&hold).arg("1").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    assert!(started.elapsed() >= Duration::from_millis(900));
    assert!(String::from_utf8_lossy(&out.stdout).contains("deadline of 1 s reached"));
}

#[test]
fn hold_refuses_bad_arguments_and_install_hold_names_a_missing_source() {
    let (dir, hold) = installed_hold();
    for bad in [vec!["x"], vec!["0"], vec!["1", "2"], vec!["-5"]] {
        let out = Command::new(&hold).args(&bad).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad:?}");
    }
    let out = Command::new(env!("CARGO_BIN_EXE_sidescan-agent"))
        .arg("install-hold")
        .arg(dir.path().join("dest"))
        .arg("--source")
        .arg(dir.path().join("no-such-hold"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(3));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no-such-hold"), "{err}");
}
