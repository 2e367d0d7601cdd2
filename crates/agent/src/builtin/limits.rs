//! Every bound on the work the target's data drives, in one place.
//!
//! The target controls every byte the builtin scan reads: the size and shape of its tree, the
//! length of its account and package files, its `PATH`. Each quantity it could inflate has a
//! limit here. A limit that is reached never turns into a silent pass or an invented failure:
//! what was not examined is reported as a `skipped` result saying "not checked", naming the path,
//! the figure and the limit (docs/agent.md, "Limits").

/// The limits of one builtin scan. [`Limits::DEFAULT`] is what the agent uses; tests lower them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Bytes read of an account file (`/etc/passwd`, `/etc/shadow`): about 15,000 accounts.
    pub account_file: u64,
    /// Bytes read of a small configuration file (`os-release`, `/etc/login.defs`).
    pub config_file: u64,
    /// Bytes read of one package database file (dpkg `status`, a `status.d` file, apk
    /// `installed`): a Debian image with 3,000 packages has a status file of about 4 MiB.
    pub package_db: u64,
    /// Files of `/var/lib/dpkg/status.d` read (distroless images have a few dozen).
    pub package_files: usize,
    /// Largest regular file the walk reads for keys and credentials. Private keys are small (a
    /// 16384-bit RSA key in PEM is about 12.5 KiB; a key with its certificate chain a few dozen
    /// KiB), and the largest common text files that may hold one (CA bundles, about 220 KiB) fit
    /// well below it. Larger files are not read, so one pass costs at most one buffer of this size
    /// per walk thread; in key directories and under key-like names they are reported as not
    /// checked.
    pub content_file: u64,
    /// Bytes read from the target in one scan, every file together.
    pub scan_bytes: u64,
    /// Directory entries the walk examines in one scan.
    pub entries: u64,
    /// Entries examined in one directory.
    pub dir_entries: u64,
    /// Directories below the root the walk descends (each level keeps one directory descriptor
    /// open per walk thread).
    pub depth: usize,
    /// Findings listed per control (and per kind, in the walk-based controls); the rest are
    /// counted in one more result.
    pub findings: usize,
    /// Results of the package inventory (one per package).
    pub packages: usize,
    /// Directories of the target's `PATH` searched for programs, after the standard ones.
    pub path_dirs: usize,
    /// Bytes of the target process' environment read to find its `PATH`.
    pub environ: u64,
    /// Bytes of the target process' `mountinfo` read (a target allowed to mount can list up to
    /// the kernel's 100,000 mounts).
    pub mountinfo: u64,
}

const KIB: u64 = 1024;
const MIB: u64 = 1024 * KIB;
const GIB: u64 = 1024 * MIB;

impl Limits {
    pub const DEFAULT: Limits = Limits {
        account_file: MIB,
        config_file: 64 * KIB,
        package_db: 16 * MIB,
        package_files: 4096,
        content_file: MIB,
        scan_bytes: 4 * GIB,
        entries: 1_000_000,
        dir_entries: 100_000,
        depth: 128,
        findings: 500,
        packages: 20_000,
        path_dirs: 64,
        environ: MIB,
        mountinfo: 4 * MIB,
    };
}

impl Default for Limits {
    fn default() -> Self {
        Limits::DEFAULT
    }
}

/// Why a file or directory was not examined: a limit was reached, or the entry is not what the
/// check reads (a FIFO, a device, a symlink loop). Rendered as a `skipped` "not checked" result.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct NotChecked {
    /// The path inside the target.
    pub path: String,
    /// What happened, naming the figure and the limit (`is 2097152 bytes, over the 1048576 byte
    /// limit for account files`).
    pub why: String,
}

impl NotChecked {
    pub fn new(path: impl Into<String>, why: impl Into<String>) -> NotChecked {
        NotChecked {
            path: path.into(),
            why: why.into(),
        }
    }
}

impl std::fmt::Display for NotChecked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: not checked", self.path, self.why)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_far_below_what_a_scan_can_afford() {
        let l = Limits::default();
        assert_eq!(l, Limits::DEFAULT);
        assert!(l.account_file < l.package_db && l.package_db < 64 * MIB);
        assert!(l.config_file < l.account_file);
        assert!(l.content_file < l.scan_bytes);
        assert!(l.dir_entries < l.entries);
        assert_eq!(
            NotChecked::new("/etc/passwd", "is a FIFO").to_string(),
            "/etc/passwd is a FIFO: not checked"
        );
    }
}
