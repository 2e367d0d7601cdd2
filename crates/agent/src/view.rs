//! The target view: running one of the scanner's programs so that the target's root is `/` for
//! its file reads *and* for the commands it spawns, without writing into the target and without
//! privileges.
//!
//! Mechanism: PRoot (user-space chroot/bind by ptrace; no capabilities, no mount namespace):
//!
//! ```text
//! proot -r /proc/self/fd/<n>/          target's root (a descriptor the agent holds) becomes /
//!       -b /:/.sidescan-scanner         scanner's own root, reachable under a reserved name
//!       -b /proc -b /dev -b /sys        kernel filesystems (the pod's shared PID namespace)
//!       -w /
//!       /.sidescan-scanner/<ld.so> --library-path <scanner libs> /.sidescan-scanner/<ruby> \
//!           -I<scanner ruby load path> /.sidescan-scanner/<script> args...
//! ```
//!
//! Why a descriptor: `/proc/<pid>/root` of a `pivot_root`ed container reads back as `/`, and PRoot
//! canonicalizes `-r` with `realpath()`, so it would end up in the scanner's own root. The agent
//! opens the root once ([`crate::root`]), PRoot and its tracees inherit descriptor `<n>`,
//! and a small interposer preloaded into PRoot only (`images/scanner/proot-view-root.c`) keeps
//! `realpath()` from rewriting that one string. Landlock ([`crate::sandbox`]) makes the
//! whole view read-only except the scan's scratch directory, and every view is proven to be the
//! target's before it is used ([`crate::proof`]).
//!
//! Why the loader: inside the view, a dynamically linked program's `PT_INTERP`
//! (`/lib64/ld-linux-x86-64.so.2`) would be looked up in the *target* (absent in distroless,
//! another libc in musl or glibc images). Invoking the scanner's own loader by its prefixed path,
//! with `--library-path` (which also governs `dlopen` of Ruby's native extensions, and unlike
//! `LD_LIBRARY_PATH` is not inherited by spawned commands), runs the scanner's Ruby with the
//! scanner's libraries while every path it opens resolves in the target. Ruby's load path is
//! compiled in as absolute paths, so it is passed with `-I` (prefixed); `rbconfig.rb` then derives
//! its prefix from its own location, so RubyGems finds the scanner's gems.
//!
//! Spawned commands see the target's programs first (`PATH` of the target process), then the
//! scanner's static fallback directory (`/.sidescan-scanner/<fallback bin dir>`, static busybox
//! applets), so `cat`, `stat`, `find` work on distroless targets too. Nothing of the scanner
//! appears at a target path other than `/.sidescan-scanner`; `HOME` and `TMPDIR` point into the
//! scanner's scratch directory, and so do PRoot's own temporary files (the interposer moves them
//! there from the `/tmp` PRoot 5.1.0 has compiled in), which is the only place the view may write.
//!
//! The first program PRoot starts is the agent's own binary, `sidescan-agent view-exec`
//! ([`ViewConfig::seal`]): it installs the seccomp filter every program of the view keeps (no
//! metadata changes at all, [`crate::seccomp`]) and then executes the scanner's program, so
//! PRoot alone keeps the one call it needs for its loader.

use crate::procfs;
use std::ffi::OsString;
use std::path::{Path, PathBuf};

/// Where the scanner's own root appears inside the view.
pub const SCANNER_PREFIX: &str = "/.sidescan-scanner";
/// PATH used when the target's own cannot be read.
pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// The environment variable the interposer reads the view root from.
pub const VIEW_ROOT_ENV: &str = "SIDESCAN_PROOT_VIEW_ROOT";
/// The environment variable the interposer reads PRoot's temporary directory from (PRoot 5.1.0
/// ignores `PROOT_TMP_DIR` and writes into `/tmp`, which the view may not write).
pub const PROOT_TMP_ENV: &str = "SIDESCAN_PROOT_TMP_DIR";

/// The hidden subcommand that seals the view: `sidescan-agent view-exec <program> [args...]`
/// installs the filter of every program in the view, then executes `program`.
pub const VIEW_EXEC_SUBCOMMAND: &str = "view-exec";

/// How the view is set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ViewConfig {
    pub proot: PathBuf,
    /// The descriptor of the target's root that PRoot and its tracees inherit.
    pub root_fd: i32,
    /// The interposer that keeps PRoot from canonicalizing the view root (`LD_PRELOAD` of PRoot).
    pub preload: Option<PathBuf>,
    /// The scanner's directory of static helper programs (busybox applets).
    pub fallback_bin: Option<PathBuf>,
    /// Scanner-side scratch directory (HOME, TMPDIR, PRoot's own temp files).
    pub scratch: PathBuf,
    /// The target process' PATH (from its environment), if readable.
    pub target_path: Option<String>,
    /// How to start `sidescan-agent` in the view: run first (`view-exec`), it installs the
    /// filter that refuses every metadata call to every program of the view. `None` leaves only
    /// PRoot's own filter (which allows `fchmod(fd, 0500)`); the agent always seals.
    pub seal: Option<Launch>,
}

/// How to start a scanner program in the view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Launch {
    /// Scanner-side path of the program's dynamic loader (None for static programs).
    pub loader: Option<PathBuf>,
    /// Scanner-side library directories for the loader.
    pub library_path: Vec<PathBuf>,
    /// Scanner-side path of the program.
    pub program: PathBuf,
    /// Arguments placed before `args` (e.g. Ruby's `-I` load path, the script path).
    pub leading_args: Vec<OsString>,
}

impl ViewConfig {
    /// PRoot's `-r`: the inherited descriptor, with the trailing slash (without it PRoot treats
    /// the magic link itself as the root and `ls /` fails with ELOOP).
    pub fn view_root(&self) -> String {
        format!("/proc/self/fd/{}/", self.root_fd)
    }
}

/// A scanner-side path as seen inside the view.
pub fn in_view(scanner_path: &Path) -> PathBuf {
    let rel = scanner_path.strip_prefix("/").unwrap_or(scanner_path);
    Path::new(SCANNER_PREFIX).join(rel)
}

/// The full command line (program first) and environment for running `launch` with `args` in the
/// view. Pure: same input, same command.
pub fn command_line(
    view: &ViewConfig,
    launch: &Launch,
    args: &[OsString],
) -> (Vec<OsString>, Vec<(String, OsString)>) {
    let mut argv: Vec<OsString> = vec![
        view.proot.clone().into(),
        "-r".into(),
        view.view_root().into(),
        "-b".into(),
        format!("/:{SCANNER_PREFIX}").into(),
        "-b".into(),
        "/proc".into(),
        "-b".into(),
        "/dev".into(),
        "-b".into(),
        "/sys".into(),
        "-w".into(),
        "/".into(),
    ];
    if let Some(seal) = &view.seal {
        argv.extend(launch_argv(seal));
        argv.push(VIEW_EXEC_SUBCOMMAND.into());
    }
    argv.extend(launch_argv(launch));
    argv.extend(args.iter().cloned());

    let mut path = view
        .target_path
        .clone()
        .unwrap_or_else(|| DEFAULT_PATH.to_string());
    if let Some(fallback) = &view.fallback_bin {
        path = format!("{path}:{}", in_view(fallback).display());
    }
    let scratch_in_view = in_view(&view.scratch);
    let mut env = vec![
        ("PATH".to_string(), OsString::from(path)),
        ("HOME".to_string(), scratch_in_view.join("home").into()),
        ("TMPDIR".to_string(), scratch_in_view.join("tmp").into()),
        ("LANG".to_string(), "C.UTF-8".into()),
        // PRoot itself runs on the scanner's side: its glue, its loader and its other temporary
        // files go to the scratch directory (5.1.0 ignores this: the interposer moves them).
        ("PROOT_TMP_DIR".to_string(), proot_tmp(view).into()),
    ];
    if let Some(preload) = &view.preload {
        // Read and removed by the interposer in PRoot: the tracees never see them.
        env.push(("LD_PRELOAD".to_string(), preload.clone().into()));
        env.push((VIEW_ROOT_ENV.to_string(), view.view_root().into()));
        env.push((PROOT_TMP_ENV.to_string(), proot_tmp(view).into()));
    }
    (argv, env)
}

/// Where PRoot keeps its temporary files: `proot/` in the scan's scratch directory.
pub fn proot_tmp(view: &ViewConfig) -> PathBuf {
    view.scratch.join("proot")
}

/// The view's command line of a launch: the scanner's loader with its library path (dynamic
/// programs), the program, its leading arguments; every path prefixed.
fn launch_argv(launch: &Launch) -> Vec<OsString> {
    let mut argv: Vec<OsString> = Vec::new();
    if let Some(loader) = &launch.loader {
        argv.push(in_view(loader).into());
        let libs: Vec<String> = launch
            .library_path
            .iter()
            .map(|d| in_view(d).display().to_string())
            .collect();
        argv.push("--library-path".into());
        argv.push(libs.join(":").into());
    }
    argv.push(in_view(&launch.program).into());
    argv.extend(launch.leading_args.iter().cloned());
    argv
}

/// Reads the program interpreter (`PT_INTERP`) of an ELF file; `None` for static executables.
pub fn elf_interpreter(bytes: &[u8]) -> Result<Option<String>, String> {
    const PT_INTERP: u32 = 3;
    if bytes.len() < 64 || &bytes[..4] != b"\x7fELF" {
        return Err("not an ELF file".into());
    }
    if bytes[4] != 2 || bytes[5] != 1 {
        return Err("only 64-bit little-endian ELF is supported".into());
    }
    let u16_at = |o: usize| {
        bytes
            .get(o..o + 2)
            .map(|b| u16::from_le_bytes([b[0], b[1]]))
    };
    let u32_at = |o: usize| {
        bytes
            .get(o..o + 4)
            .map(|b| u32::from_le_bytes(b.try_into().unwrap()))
    };
    let u64_at = |o: usize| {
        bytes
            .get(o..o + 8)
            .map(|b| u64::from_le_bytes(b.try_into().unwrap()))
    };
    let phoff = u64_at(32).ok_or("truncated header")? as usize;
    let phentsize = u16_at(54).ok_or("truncated header")? as usize;
    let phnum = u16_at(56).ok_or("truncated header")? as usize;
    for i in 0..phnum {
        let ph = phoff + i * phentsize;
        if u32_at(ph).ok_or("truncated program header")? == PT_INTERP {
            let offset = u64_at(ph + 8).ok_or("truncated program header")? as usize;
            let size = u64_at(ph + 32).ok_or("truncated program header")? as usize;
            let raw = bytes
                .get(offset..offset + size)
                .ok_or("PT_INTERP outside the file")?;
            let text = raw.split(|b| *b == 0).next().unwrap_or_default();
            return Ok(Some(String::from_utf8_lossy(text).into_owned()));
        }
    }
    Ok(None)
}

/// The scanner's library directories: where the loader resolves the program's libraries
/// (`ld.so --list`), then the usual system directories.
pub fn library_dirs(loader: &Path, program: &Path) -> Vec<PathBuf> {
    let mut dirs: Vec<PathBuf> = Vec::new();
    if let Ok(out) = std::process::Command::new(loader)
        .arg("--list")
        .arg(program)
        .output()
    {
        for line in String::from_utf8_lossy(&out.stdout).lines() {
            if let Some((_, rest)) = line.split_once("=> ")
                && let Some(path) = rest.split_whitespace().next()
                && let Some(dir) = Path::new(path).parent()
                && path.starts_with('/')
            {
                dirs.push(dir.to_path_buf());
            }
        }
    }
    for d in [
        "/lib/x86_64-linux-gnu",
        "/usr/lib/x86_64-linux-gnu",
        "/lib/aarch64-linux-gnu",
        "/usr/lib/aarch64-linux-gnu",
        "/lib64",
        "/usr/lib64",
        "/lib",
        "/usr/lib",
    ] {
        dirs.push(PathBuf::from(d));
    }
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| d.is_dir() && seen.insert(d.clone()));
    dirs
}

/// How to launch `program` (an ELF, or a script whose `#!` line names an ELF interpreter) from the
/// scanner's side. A Ruby interpreter also gets its load path as `-I` flags.
pub fn launch_for(program: &Path) -> Result<Launch, String> {
    // Absolute symlinks (/usr/bin/ruby -> /etc/alternatives/...) would resolve in the target.
    let program = &canonical(program)?;
    let head = read_head(program)?;
    let (interpreter, script) = if head.starts_with(b"#!") {
        let line = head[2..].split(|b| *b == b'\n').next().unwrap_or_default();
        let line = String::from_utf8_lossy(line);
        let mut words = line.split_whitespace();
        let mut interp = PathBuf::from(words.next().ok_or("empty #! line")?);
        if interp.ends_with("env") {
            let name = words.next().ok_or("#!/usr/bin/env without a program")?;
            interp = which(name).ok_or_else(|| format!("{name} (from #!) not found in PATH"))?;
        }
        (canonical(&interp)?, Some(program.to_path_buf()))
    } else {
        (program.to_path_buf(), None)
    };
    let interp_bytes = read_head_full(&interpreter)?;
    let loader = elf_interpreter(&interp_bytes)
        .map_err(|e| format!("{}: {e}", interpreter.display()))?
        .map(|l| canonical(Path::new(&l)))
        .transpose()?;
    let library_path = loader
        .as_deref()
        .map(|l| library_dirs(l, &interpreter))
        .unwrap_or_default();
    let mut leading_args: Vec<OsString> = Vec::new();
    if interpreter
        .file_name()
        .and_then(|n| n.to_str())
        .is_some_and(|n| n.starts_with("ruby"))
    {
        for dir in ruby_load_path(&interpreter)? {
            leading_args.push(format!("-I{}", in_view(&dir).display()).into());
        }
    }
    if let Some(script) = script {
        leading_args.push(in_view(&script).into());
    }
    Ok(Launch {
        loader,
        library_path,
        program: interpreter,
        leading_args,
    })
}

/// Ruby's compiled-in `$LOAD_PATH`, asked from the interpreter itself on the scanner's side.
pub fn ruby_load_path(ruby: &Path) -> Result<Vec<PathBuf>, String> {
    let out = std::process::Command::new(ruby)
        .args(["--disable-gems", "-e", "print $LOAD_PATH.join(\"\\n\")"])
        .env_clear()
        .output()
        .map_err(|e| format!("{}: {e}", ruby.display()))?;
    if !out.status.success() {
        return Err(format!(
            "{} could not report its load path: {}",
            ruby.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with('/'))
        .map(PathBuf::from)
        .collect())
}

fn canonical(path: &Path) -> Result<PathBuf, String> {
    std::fs::canonicalize(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn read_head(path: &Path) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let mut buf = vec![0u8; 512];
    let mut file = std::fs::File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let n = file
        .read(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    buf.truncate(n);
    Ok(buf)
}

fn read_head_full(path: &Path) -> Result<Vec<u8>, String> {
    // Program headers sit near the start; PT_INTERP's string right after them.
    use std::io::Read;
    let mut buf = Vec::new();
    std::fs::File::open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?
        .take(64 * 1024)
        .read_to_end(&mut buf)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(buf)
}

/// A program in the scanner's PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

/// The target process' PATH, read from its environment.
pub fn target_path(proc: &Path, pid: u32) -> Option<String> {
    let raw = std::fs::read(proc.join(pid.to_string()).join("environ")).ok()?;
    procfs::environ_var(&raw, "PATH").filter(|p| !p.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn view() -> ViewConfig {
        ViewConfig {
            proot: "/usr/bin/proot".into(),
            root_fd: 7,
            preload: Some("/usr/local/lib/sidescan/proot-view-root.so".into()),
            fallback_bin: Some("/opt/sidescan/bin".into()),
            scratch: "/results/.work/run1".into(),
            target_path: Some("/usr/bin:/bin".into()),
            seal: None,
        }
    }

    #[test]
    fn command_runs_the_scanner_loader_in_the_target_root() {
        let launch = Launch {
            loader: Some("/lib64/ld-linux-x86-64.so.2".into()),
            library_path: vec!["/usr/lib/x86_64-linux-gnu".into()],
            program: "/opt/cinc-auditor/embedded/bin/ruby".into(),
            leading_args: vec!["/.sidescan-scanner/opt/cinc-auditor/bin/cinc-auditor".into()],
        };
        let (argv, env) = command_line(&view(), &launch, &["exec".into(), "/p".into()]);
        let argv: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(
            argv,
            [
                "/usr/bin/proot",
                "-r",
                "/proc/self/fd/7/",
                "-b",
                "/:/.sidescan-scanner",
                "-b",
                "/proc",
                "-b",
                "/dev",
                "-b",
                "/sys",
                "-w",
                "/",
                "/.sidescan-scanner/lib64/ld-linux-x86-64.so.2",
                "--library-path",
                "/.sidescan-scanner/usr/lib/x86_64-linux-gnu",
                "/.sidescan-scanner/opt/cinc-auditor/embedded/bin/ruby",
                "/.sidescan-scanner/opt/cinc-auditor/bin/cinc-auditor",
                "exec",
                "/p"
            ]
        );
        let env: std::collections::BTreeMap<String, String> = env
            .into_iter()
            .map(|(k, v)| (k, v.to_string_lossy().into()))
            .collect();
        assert_eq!(
            env["PATH"],
            "/usr/bin:/bin:/.sidescan-scanner/opt/sidescan/bin"
        );
        assert_eq!(env["HOME"], "/.sidescan-scanner/results/.work/run1/home");
        assert_eq!(env["TMPDIR"], "/.sidescan-scanner/results/.work/run1/tmp");
        assert_eq!(env["PROOT_TMP_DIR"], "/results/.work/run1/proot");
        assert!(!env.contains_key("LD_LIBRARY_PATH"));
        assert_eq!(
            env["LD_PRELOAD"],
            "/usr/local/lib/sidescan/proot-view-root.so"
        );
        assert_eq!(env[VIEW_ROOT_ENV], "/proc/self/fd/7/");
        assert_eq!(env[PROOT_TMP_ENV], "/results/.work/run1/proot");
    }

    #[test]
    fn the_runner_seals_the_view_before_the_program_runs() {
        let runner = Launch {
            loader: Some("/lib64/ld-linux-x86-64.so.2".into()),
            library_path: vec!["/lib/x86_64-linux-gnu".into()],
            program: "/usr/local/bin/sidescan-agent".into(),
            leading_args: vec![],
        };
        let ruby = Launch {
            loader: Some("/lib64/ld-linux-x86-64.so.2".into()),
            library_path: vec!["/usr/lib/x86_64-linux-gnu".into()],
            program: "/usr/bin/ruby3.1".into(),
            leading_args: vec!["-I/.sidescan-scanner/usr/lib/ruby/3.1.0".into()],
        };
        let mut v = view();
        v.seal = Some(runner);
        let (argv, _) = command_line(&v, &ruby, &["-e".into(), "p 1".into()]);
        let argv: Vec<String> = argv.iter().map(|a| a.to_string_lossy().into()).collect();
        assert_eq!(
            argv[13..],
            [
                "/.sidescan-scanner/lib64/ld-linux-x86-64.so.2",
                "--library-path",
                "/.sidescan-scanner/lib/x86_64-linux-gnu",
                "/.sidescan-scanner/usr/local/bin/sidescan-agent",
                "view-exec",
                "/.sidescan-scanner/lib64/ld-linux-x86-64.so.2",
                "--library-path",
                "/.sidescan-scanner/usr/lib/x86_64-linux-gnu",
                "/.sidescan-scanner/usr/bin/ruby3.1",
                "-I/.sidescan-scanner/usr/lib/ruby/3.1.0",
                "-e",
                "p 1"
            ]
        );
    }

    #[test]
    fn static_programs_need_no_loader() {
        let launch = Launch {
            loader: None,
            library_path: vec![],
            program: "/bin/busybox".into(),
            leading_args: vec![],
        };
        let mut v = view();
        v.target_path = None;
        let (argv, env) = command_line(&v, &launch, &["cat".into()]);
        assert_eq!(argv[13], OsString::from("/.sidescan-scanner/bin/busybox"));
        assert_eq!(argv.len(), 15);
        assert!(env[0].1.to_string_lossy().starts_with(DEFAULT_PATH));
    }

    #[test]
    fn reads_pt_interp_of_real_binaries() {
        let ls = std::fs::read("/bin/ls").unwrap();
        let interp = elf_interpreter(&ls).unwrap().unwrap();
        assert!(
            interp.contains("ld-linux") || interp.contains("ld-musl"),
            "{interp}"
        );
        assert!(elf_interpreter(b"#!/bin/sh\n").is_err());
        let mut fake = vec![0u8; 64];
        fake[..4].copy_from_slice(b"\x7fELF");
        fake[4] = 2;
        fake[5] = 1;
        assert_eq!(elf_interpreter(&fake), Ok(None));
    }

    #[test]
    fn in_view_prefixes_scanner_paths() {
        assert_eq!(
            in_view(Path::new("/usr/bin/ruby")),
            Path::new("/.sidescan-scanner/usr/bin/ruby")
        );
    }
}
