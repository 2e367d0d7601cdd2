//! Agent benchmarks (run as root: `cargo bench -p sidescan-agent --bench agent`); prints figures
//! for docs/benchmarks.md.
//!
//! 1. Builtin baseline on a Debian root of at least 10,000 files: a copy of this machine's `/usr`
//!    (bin, sbin, lib, share subsets) and `/etc` in a temp dir, or `SIDESCAN_BENCH_ROOT` (e.g. a
//!    debootstrap tree). The agent binary scans a target started in that root; wall time of the
//!    scan phase and the agent's peak RSS (VmHWM) come from its log.
//! 2. Time from target start (spawn of `unshare ... --root`) to target identified by
//!    `wait_for_target` (pattern selector), over 20 starts.
//! 3. The cinc backend's target view (PRoot through the root descriptor with the view-root
//!    interposer, the seccomp filter and the Landlock ruleset) vs. plain `ruby -e`, and the view
//!    probe the agent runs before every cinc scan. `-- view` runs this one only.

use sidescan_agent::builtin;
use sidescan_agent::identify::{Selector, wait_for_target};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

const NEEDS: &str = "needs root, unshare, busybox-static";

fn copy_tree(from: &Path, to: &Path) {
    let dest = to.join(from.strip_prefix("/").unwrap());
    std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
    let status = Command::new("cp")
        .arg("-a")
        .arg(from)
        .arg(&dest)
        .status()
        .unwrap();
    assert!(status.success(), "cp {}", from.display());
}

fn count_files(root: &Path) -> u64 {
    let out = Command::new("find")
        .arg(root)
        .args(["-xdev", "-type", "f"])
        .output()
        .unwrap();
    out.stdout.iter().filter(|b| **b == b'\n').count() as u64
}

fn tree() -> (Option<tempfile::TempDir>, PathBuf) {
    if let Ok(root) = std::env::var("SIDESCAN_BENCH_ROOT") {
        return (None, PathBuf::from(root));
    }
    let dir = tempfile::tempdir().unwrap();
    for part in [
        "/etc",
        "/usr/bin",
        "/usr/sbin",
        "/usr/lib/x86_64-linux-gnu",
        "/usr/share/perl",
        "/usr/share/doc",
        "/usr/share/zoneinfo",
        "/usr/share/locale",
        "/var/lib/dpkg",
    ] {
        if Path::new(part).exists() {
            copy_tree(Path::new(part), dir.path());
        }
    }
    let root = dir.path().to_path_buf();
    (Some(dir), root)
}

fn field(line: &str, key: &str) -> Option<u64> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    v.get(key)?.as_u64()
}

/// Starts busybox `sleep` as `/benchtarget/sleep` in `root` (its own PID namespace), runs the
/// agent binary against it five times and returns what the agent logged: the scan phase's
/// durations (ms) and its peak RSS figures (KiB).
fn agent_runs_on(root: &Path) -> (Vec<u64>, Vec<u64>) {
    std::fs::create_dir_all(root.join("benchtarget")).unwrap();
    std::fs::copy("/bin/busybox", root.join("benchtarget/sleep")).expect(NEEDS);
    let mut target = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--root"])
        .arg(root)
        .args(["/benchtarget/sleep", "600"])
        .spawn()
        .expect(NEEDS);
    let results = tempfile::tempdir().unwrap();
    let mut scans = Vec::new();
    let mut rss = Vec::new();
    for _ in 0..5 {
        let out = Command::new(env!("CARGO_BIN_EXE_sidescan-agent"))
            .env("SIDESCAN_LOG_FORMAT", "json")
            .args([
                "scan",
                "--target-process",
                "/benchtarget/sleep",
                "--wait-seconds",
                "10",
            ])
            .arg("--results-dir")
            .arg(results.path())
            .arg("--termination-log")
            .arg(results.path().join("termination-log"))
            .output()
            .unwrap();
        let log = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "agent failed: {log}");
        for line in log.lines() {
            if line.contains("\"phase\":\"scan\"") {
                scans.push(field(line, "duration_ms").unwrap());
            }
            if let Some(kib) = field(line, "peak_rss_kib") {
                rss.push(kib);
            }
        }
    }
    let _ = target.kill();
    let _ = target.wait();
    (scans, rss)
}

fn builtin_on_debian_root() {
    let (_keep, root) = tree();
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let (mut scans, mut rss) = agent_runs_on(&root);
    let files = count_files(&root);
    scans.sort_unstable();
    rss.sort_unstable();
    println!(
        "builtin baseline: {files} files; scan phase median {} ms (min {}, max {}) over {} runs; \
         agent peak RSS max {:.1} MiB",
        scans[scans.len() / 2],
        scans[0],
        scans[scans.len() - 1],
        scans.len(),
        *rss.last().unwrap() as f64 / 1024.0
    );
}

/// Entries (files, directories, links) under `root` on its filesystem.
fn count_entries(root: &Path) -> u64 {
    let out = Command::new("find")
        .arg(root)
        .args(["-xdev", "-mindepth", "1"])
        .output()
        .unwrap();
    out.stdout.iter().filter(|b| **b == b'\n').count() as u64
}

/// A tree of at least `entries` entries: a hard-linked copy of this machine's `/usr` and `/etc`
/// (a plain copy when hard links cannot cross into the temp dir), topped up with generated small
/// text files (one in eight holding a PEM certificate block, so the content scan has work to do).
/// `SIDESCAN_BENCH_LARGE_ROOT` names a directory to build it in once and reuse (building costs
/// minutes on slow disks).
fn large_tree(entries: u64) -> (Option<tempfile::TempDir>, PathBuf) {
    let (dir, root) = match std::env::var("SIDESCAN_BENCH_LARGE_ROOT") {
        Ok(path) => (None, PathBuf::from(path)),
        Err(_) => {
            let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
            let root = dir.path().to_path_buf();
            (Some(dir), root)
        }
    };
    if root.join("proc").is_dir() && count_entries(&root) >= entries {
        return (dir, root);
    }
    for part in ["/usr", "/etc"] {
        if root.join(part.trim_start_matches('/')).exists() {
            continue;
        }
        let linked = Command::new("cp")
            .args(["-al", part])
            .arg(root.join(part.trim_start_matches('/')))
            .status()
            .unwrap()
            .success();
        if !linked {
            copy_tree(Path::new(part), &root);
        }
    }
    std::fs::create_dir_all(root.join("proc")).unwrap();
    let mut have = count_entries(&root);
    let mut i = 0u64;
    while have < entries {
        let sub = root.join(format!("srv/generated/{:03}", i / 1000));
        if i.is_multiple_of(1000) {
            std::fs::create_dir_all(&sub).unwrap();
            have += 1;
        }
        let text = if i.is_multiple_of(8) {
            format!("# item {i}\n-----BEGIN CERTIFICATE-----\nMIIB{i}\n-----END CERTIFICATE-----\n")
        } else {
            format!("item {i}\n")
        };
        std::fs::write(sub.join(format!("f{i}.txt")), text).unwrap();
        have += 1;
        i += 1;
    }
    (dir, root)
}

/// CPU time (user + system, all threads) this process has used, in milliseconds, from
/// `/proc/self/stat` (clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
    let after_comm = &stat[stat.rfind(')').unwrap() + 1..];
    let fields: Vec<u64> = after_comm
        .split_whitespace()
        .skip(11)
        .take(2)
        .map(|f| f.parse().unwrap())
        .collect();
    (fields[0] + fields[1]) as f64 * 10.0
}

fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    (v[v.len() / 2], v[0], v[v.len() - 1])
}

/// The builtin scan as a library call on a 150,000-entry root (warm page cache: one unmeasured
/// scan first), with one and two walk threads, then the agent binary on a target started in the
/// same root for the scan phase and peak RSS.
fn builtin_on_150k_entries() {
    let (_keep, root) = large_tree(150_000);
    let entries = count_entries(&root);
    let fd = builtin::root::open_dir_path(&root).unwrap();
    let policy = builtin::Policy::default();
    let target = builtin::Target {
        root: std::os::fd::AsFd::as_fd(&fd),
        process: None,
        target_id: None,
        policy: &policy,
    };
    let now = jiff::Timestamp::now();
    let warm = builtin::scan(target, now).unwrap();
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!("load average before the runs: {}", load.trim());
    for threads in [1, 2] {
        let mut cpu = Vec::new();
        let times: Vec<f64> = (0..5)
            .map(|_| {
                let (t, c) = (Instant::now(), cpu_ms());
                let scan = builtin::scan_with_threads(target, now, threads).unwrap();
                assert_eq!(scan.entries_walked, warm.entries_walked);
                cpu.push(cpu_ms() - c);
                t.elapsed().as_secs_f64() * 1000.0
            })
            .collect();
        let (med, min, max) = median(times);
        let (cpu_med, _, _) = median(cpu);
        println!(
            "builtin scan (library), {entries} entries, {} files read ({:.0} MiB), {threads} \
             thread(s): median {med:.0} ms (min {min:.0}, max {max:.0}) over 5 warm runs; CPU \
             time (user + system) median {cpu_med:.0} ms",
            warm.files_read,
            warm.bytes_read as f64 / (1024.0 * 1024.0)
        );
    }
    let (scans, rss) = agent_runs_on(&root);
    let scans = scans.into_iter().map(|ms| ms as f64).collect();
    let rss = rss.into_iter().map(|kib| kib as f64).collect();
    let (med, min, max) = median(scans);
    let (_, _, rss_max) = median(rss);
    println!(
        "builtin agent, {entries} entries: scan phase median {med:.0} ms (min {min:.0}, max \
         {max:.0}) over 5 runs; agent peak RSS max {:.1} MiB",
        rss_max / 1024.0
    );
}

fn start_to_identified() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("proc")).unwrap();
    std::fs::create_dir_all(dir.path().join("idbench")).unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("idbench/sleep")).expect(NEEDS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut times: Vec<Duration> = Vec::new();
    for _ in 0..20 {
        let start = Instant::now();
        let mut child = Command::new("unshare")
            .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--root"])
            .arg(dir.path())
            .args(["/idbench/sleep", "60"])
            .spawn()
            .expect(NEEDS);
        let found = rt
            .block_on(wait_for_target(
                Path::new("/proc"),
                || Selector::Pattern("/idbench/sleep".into()),
                start + Duration::from_secs(5),
            ))
            .unwrap();
        times.push(start.elapsed());
        assert!(found.pid > 0);
        let _ = child.kill();
        let _ = child.wait();
    }
    times.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "target start -> identified: median {:.1} ms, p95 {:.1} ms, max {:.1} ms over {} starts",
        ms(times[times.len() / 2]),
        ms(times[times.len() * 95 / 100]),
        ms(times[times.len() - 1]),
        times.len()
    );
}

/// Mean wall time of `runs` calls of `f`.
fn mean(runs: u32, mut f: impl FnMut()) -> Duration {
    let start = Instant::now();
    for _ in 0..runs {
        f();
    }
    start.elapsed() / runs
}

fn view_overhead() {
    use sidescan_agent::cinc::{self, Containment};
    use sidescan_agent::root::TargetRoot;
    use sidescan_agent::sandbox::ReadOnlyRuleset;
    use sidescan_agent::view::{self, ViewConfig};
    // Not under /tmp: the view may write there.
    let base = Path::new(env!("CARGO_TARGET_TMPDIR"));
    let dir = tempfile::tempdir_in(base).unwrap();
    std::fs::create_dir_all(dir.path().join("proc")).unwrap();
    std::fs::create_dir_all(dir.path().join("etc")).unwrap();
    std::fs::write(dir.path().join("etc/os-release"), "ID=viewbench\n").unwrap();
    std::fs::create_dir_all(dir.path().join("viewbench")).unwrap();
    std::fs::copy("/bin/busybox", dir.path().join("viewbench/sleep")).expect(NEEDS);
    let mut target = Command::new("unshare")
        .args(["--pid", "--fork", "--kill-child", "--mount-proc", "--root"])
        .arg(dir.path())
        .args(["/viewbench/sleep", "600"])
        .spawn()
        .expect(NEEDS);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let found = rt
        .block_on(wait_for_target(
            Path::new("/proc"),
            || Selector::Pattern("/viewbench/sleep".into()),
            Instant::now() + Duration::from_secs(10),
        ))
        .unwrap();
    let preload = dir.path().join("proot-view-root.so");
    let status = Command::new("cc")
        .args(["-O2", "-shared", "-fPIC", "-o"])
        .arg(&preload)
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../images/scanner/proot-view-root.c"))
        .arg("-ldl")
        .status()
        .expect("cc");
    assert!(status.success());
    let scratch = tempfile::tempdir().unwrap();
    let root = TargetRoot::open(Path::new("/proc"), found.pid).unwrap();
    let config = ViewConfig {
        proot: view::which("proot").expect("proot"),
        root_fd: root.raw_fd(),
        preload: Some(preload),
        fallback_bin: None,
        scratch: scratch.path().to_path_buf(),
        target_path: None,
        seal: Some(view::launch_for(Path::new(env!("CARGO_BIN_EXE_sidescan-agent"))).unwrap()),
    };
    let ruleset = ReadOnlyRuleset::for_view(scratch.path()).unwrap();
    let limits = Containment {
        timeout: Duration::from_secs(60),
        sweep_descendants_of: None,
    };
    let script = "require 'json'; File.read('/etc/os-release')";
    let runs = 10;
    let native = mean(runs, || {
        let out = Command::new("ruby").args(["-e", script]).output().unwrap();
        assert!(out.status.success());
    });
    let ruby = view::launch_for(Path::new("/usr/bin/ruby")).unwrap();
    let unsealed = ViewConfig {
        seal: None,
        ..config.clone()
    };
    let in_view = |config: &ViewConfig, ruleset: Option<&ReadOnlyRuleset>| {
        mean(runs, || {
            let out = rt
                .block_on(cinc::run_in_view(
                    config,
                    ruleset,
                    &ruby,
                    &["-e".into(), script.into()],
                    limits,
                ))
                .unwrap();
            assert_eq!(
                out.code,
                Some(0),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        })
    };
    let viewed = in_view(&config, Some(&ruleset));
    let unguarded = in_view(&config, None);
    let without_seal = in_view(&unsealed, Some(&ruleset));
    let probe_launch = view::launch_for(Path::new(env!("CARGO_BIN_EXE_sidescan-agent"))).unwrap();
    let probe = mean(runs, || {
        let out = rt
            .block_on(cinc::run_in_view(
                &config,
                Some(&ruleset),
                &probe_launch,
                &["probe-view".into(), "/etc/os-release".into()],
                limits,
            ))
            .unwrap();
        assert_eq!(out.code, Some(0));
    });
    let _ = target.kill();
    let _ = target.wait();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "target view, means of {runs}: ruby -e native {:.0} ms; in the view (PRoot + interposer + \
         seccomp + view-exec + Landlock) {:.0} ms ({:.1}x); same without the Landlock ruleset \
         {:.0} ms; same without view-exec {:.0} ms; view probe (sidescan-agent probe-view in the \
         view) {:.0} ms",
        ms(native),
        ms(viewed),
        viewed.as_secs_f64() / native.as_secs_f64(),
        ms(unguarded),
        ms(without_seal),
        ms(probe)
    );
}

fn main() {
    // `cargo bench` passes --bench; under `cargo test --all-targets` there is nothing to check.
    if !std::env::args().any(|a| a == "--bench") {
        println!(
            "agent benchmarks: run with `cargo bench -p sidescan-agent --bench agent` (as root)"
        );
        return;
    }
    // `cargo bench --bench agent -- view` (or SIDESCAN_BENCH_ONLY=view) runs the view overhead only.
    let only = if std::env::args().any(|a| a == "view") {
        "view".to_string()
    } else {
        std::env::var("SIDESCAN_BENCH_ONLY").unwrap_or_default()
    };
    if only.is_empty() || only == "debian" {
        builtin_on_debian_root();
    }
    if only.is_empty() || only == "150k" {
        builtin_on_150k_entries();
    }
    if only.is_empty() || only == "identify" {
        start_to_identified();
    }
    if only.is_empty() || only == "view" {
        view_overhead();
    }
}
