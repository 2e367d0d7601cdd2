//! `/proc` text parsing (pure) and the few reads the agent makes (I/O, at the bottom).

use std::path::Path;

/// Linux capability names by bit number (include/uapi/linux/capability.h).
pub const CAPABILITY_NAMES: [&str; 41] = [
    "CAP_CHOWN",
    "CAP_DAC_OVERRIDE",
    "CAP_DAC_READ_SEARCH",
    "CAP_FOWNER",
    "CAP_FSETID",
    "CAP_KILL",
    "CAP_SETGID",
    "CAP_SETUID",
    "CAP_SETPCAP",
    "CAP_LINUX_IMMUTABLE",
    "CAP_NET_BIND_SERVICE",
    "CAP_NET_BROADCAST",
    "CAP_NET_ADMIN",
    "CAP_NET_RAW",
    "CAP_IPC_LOCK",
    "CAP_IPC_OWNER",
    "CAP_SYS_MODULE",
    "CAP_SYS_RAWIO",
    "CAP_SYS_CHROOT",
    "CAP_SYS_PTRACE",
    "CAP_SYS_PACCT",
    "CAP_SYS_ADMIN",
    "CAP_SYS_BOOT",
    "CAP_SYS_NICE",
    "CAP_SYS_RESOURCE",
    "CAP_SYS_TIME",
    "CAP_SYS_TTY_CONFIG",
    "CAP_MKNOD",
    "CAP_LEASE",
    "CAP_AUDIT_WRITE",
    "CAP_AUDIT_CONTROL",
    "CAP_SETFCAP",
    "CAP_MAC_OVERRIDE",
    "CAP_MAC_ADMIN",
    "CAP_SYSLOG",
    "CAP_WAKE_ALARM",
    "CAP_BLOCK_SUSPEND",
    "CAP_AUDIT_READ",
    "CAP_PERFMON",
    "CAP_BPF",
    "CAP_CHECKPOINT_RESTORE",
];

pub const CAP_SYS_PTRACE: u32 = 19;
pub const CAP_SYS_ADMIN: u32 = 21;
pub const CAP_NET_ADMIN: u32 = 12;

/// A capability set as the kernel prints it in `/proc/<pid>/status` (`CapEff: 00000000a80425fb`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CapSet(pub u64);

impl CapSet {
    pub fn parse_hex(text: &str) -> Option<CapSet> {
        u64::from_str_radix(text.trim(), 16).ok().map(CapSet)
    }

    pub fn has(self, bit: u32) -> bool {
        bit < 64 && self.0 & (1u64 << bit) != 0
    }

    /// True when every capability of `other` is also in `self`.
    pub fn contains_all(self, other: CapSet) -> bool {
        other.0 & !self.0 == 0
    }

    /// Capability names, lowest bit first; unknown bits as `CAP_<n>`.
    pub fn names(self) -> Vec<String> {
        (0..64u32)
            .filter(|bit| self.has(*bit))
            .map(|bit| match CAPABILITY_NAMES.get(bit as usize) {
                Some(name) => (*name).to_string(),
                None => format!("CAP_{bit}"),
            })
            .collect()
    }
}

/// The fields of `/proc/<pid>/status` the agent needs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ProcStatus {
    pub name: String,
    pub ppid: u32,
    /// Real, effective, saved, filesystem UID.
    pub uid: [u32; 4],
    pub gid: [u32; 4],
    pub cap_prm: CapSet,
    pub cap_eff: CapSet,
    /// `NSpid`: the PID in each nested PID namespace, outermost first.
    pub ns_pids: Vec<u32>,
    /// `NoNewPrivs` (kernel >= 4.10): execve cannot grant privileges (setuid, file capabilities).
    pub no_new_privs: Option<bool>,
    /// `Seccomp`: 0 disabled, 1 strict, 2 filter.
    pub seccomp: Option<u8>,
}

/// A field of `/proc/<pid>/status` present but unreadable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field {key}: cannot read {value:?}")]
pub struct BadField {
    pub key: String,
    pub value: String,
}

impl ProcStatus {
    /// Parses the text of `/proc/<pid>/status`. Missing fields stay at their defaults; a field that
    /// is present but malformed is an error naming it.
    pub fn parse(text: &str) -> Result<ProcStatus, BadField> {
        let mut status = ProcStatus::default();
        for line in text.lines() {
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            let bad = || BadField {
                key: key.to_string(),
                value: value.to_string(),
            };
            match key {
                "Name" => status.name = value.to_string(),
                "PPid" => status.ppid = value.parse().map_err(|_| bad())?,
                "Uid" => status.uid = four_ids(value).ok_or_else(bad)?,
                "Gid" => status.gid = four_ids(value).ok_or_else(bad)?,
                "CapPrm" => status.cap_prm = CapSet::parse_hex(value).ok_or_else(bad)?,
                "CapEff" => status.cap_eff = CapSet::parse_hex(value).ok_or_else(bad)?,
                "NoNewPrivs" => status.no_new_privs = Some(value != "0"),
                "Seccomp" => status.seccomp = Some(value.parse().map_err(|_| bad())?),
                "NSpid" => {
                    status.ns_pids = value
                        .split_whitespace()
                        .map(str::parse)
                        .collect::<Result<_, _>>()
                        .map_err(|_| bad())?
                }
                _ => {}
            }
        }
        Ok(status)
    }

    pub fn effective_uid(&self) -> u32 {
        self.uid[1]
    }
}

fn four_ids(value: &str) -> Option<[u32; 4]> {
    let ids: Vec<u32> = value
        .split_whitespace()
        .map(str::parse)
        .collect::<Result<_, _>>()
        .ok()?;
    ids.try_into().ok()
}

/// `/proc/<pid>/cmdline` (NUL-separated) as one space-separated line.
pub fn cmdline_text(raw: &[u8]) -> String {
    let trimmed = raw.strip_suffix(&[0]).unwrap_or(raw);
    String::from_utf8_lossy(trimmed).replace('\0', " ")
}

/// A variable from `/proc/<pid>/environ` (NUL-separated `KEY=value`).
pub fn environ_var(raw: &[u8], key: &str) -> Option<String> {
    raw.split(|b| *b == 0)
        .filter_map(|entry| std::str::from_utf8(entry).ok())
        .find_map(|entry| entry.strip_prefix(key)?.strip_prefix('='))
        .map(str::to_string)
}

/// Pause processes (the pod sandbox) are never the target: their command is `/pause` (or
/// `pause` from another image path).
pub fn is_pause(cmdline: &str) -> bool {
    let argv0 = cmdline.split(' ').next().unwrap_or("");
    argv0.rsplit('/').next() == Some("pause")
}

// ---- I/O -----------------------------------------------------------------------------------

/// One process as seen in `/proc` at one moment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProcEntry {
    pub pid: u32,
    pub cgroup: String,
    pub cmdline: String,
    pub status: Option<ProcStatus>,
    /// Identity of the process' root directory (`None` when it cannot be read).
    pub root: Option<RootId>,
}

/// A directory's identity: (device, inode) of `stat(/proc/<pid>/root)`. Two processes with the
/// same value share a root; readlink text cannot tell container roots apart.
pub type RootId = (u64, u64);

/// The identity of `/proc/<pid>/root` (or `/proc/self/root`).
pub fn root_id(proc: &Path, pid: &str) -> Option<RootId> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::metadata(proc.join(pid).join("root")).ok()?;
    Some((meta.dev(), meta.ino()))
}

/// The PIDs in `proc` (normally `/proc`), ascending.
pub fn list_pids(proc: &Path) -> std::io::Result<Vec<u32>> {
    let mut pids: Vec<u32> = std::fs::read_dir(proc)?
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse().ok())
        .collect();
    pids.sort_unstable();
    Ok(pids)
}

/// Reads what identification needs about one process; `None` when it has exited meanwhile.
pub fn read_entry(proc: &Path, pid: u32) -> Option<ProcEntry> {
    let dir = proc.join(pid.to_string());
    let cgroup = std::fs::read_to_string(dir.join("cgroup")).ok()?;
    let cmdline = std::fs::read(dir.join("cmdline"))
        .map(|raw| cmdline_text(&raw))
        .unwrap_or_default();
    let status = std::fs::read_to_string(dir.join("status"))
        .ok()
        .and_then(|text| ProcStatus::parse(&text).ok());
    Some(ProcEntry {
        pid,
        cgroup,
        cmdline,
        status,
        root: root_id(proc, &pid.to_string()),
    })
}

pub fn read_status(proc: &Path, pid: &str) -> std::io::Result<ProcStatus> {
    let text = std::fs::read_to_string(proc.join(pid).join("status"))?;
    ProcStatus::parse(&text).map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

/// The start time of a process (field 22 of `/proc/<pid>/stat`, in clock ticks since boot):
/// with the PID, it names one process even if the PID is reused.
pub fn start_time(proc: &Path, pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(proc.join(pid.to_string()).join("stat")).ok()?;
    parse_start_time(&stat)
}

/// Field 22 of a `/proc/<pid>/stat` line; the command (field 2) may contain spaces and ')'.
pub fn parse_start_time(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    // After the comm come fields 3.. ; starttime is field 22, the 20th after the comm.
    after_comm.split_whitespace().nth(19)?.parse().ok()
}

/// `env_start` and `env_end` (fields 50 and 51 of `/proc/<pid>/stat`): where the process'
/// initial environment lies in its memory. The kernel shows 0 to readers without ptrace access.
pub fn parse_env_range(stat: &str) -> Option<(u64, u64)> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(47);
    let start = fields.next()?.parse().ok()?;
    let end = fields.next()?.parse().ok()?;
    (start > 0 && end > start).then_some((start, end))
}

#[cfg(test)]
mod tests {
    use super::*;

    const STATUS: &str = "Name:\tnginx\nUmask:\t0022\nState:\tS (sleeping)\nTgid:\t42\nNgid:\t0\n\
Pid:\t42\nPPid:\t17\nTracerPid:\t0\nUid:\t101\t101\t101\t101\nGid:\t102\t102\t102\t102\n\
NSpid:\t9912\t42\nCapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\n\
CapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\n\
NoNewPrivs:\t1\nSeccomp:\t2\nSeccomp_filters:\t1\n";

    #[test]
    fn parses_status_fields() {
        let s = ProcStatus::parse(STATUS).unwrap();
        assert_eq!(s.name, "nginx");
        assert_eq!(s.ppid, 17);
        assert_eq!(s.uid, [101; 4]);
        assert_eq!(s.gid, [102; 4]);
        assert_eq!(s.effective_uid(), 101);
        assert_eq!(s.ns_pids, vec![9912, 42]);
        assert_eq!(s.cap_eff, CapSet(0xa80425fb));
        assert_eq!(s.no_new_privs, Some(true));
        assert_eq!(s.seccomp, Some(2));
        let old_kernel = ProcStatus::parse("Name:\tx\n").unwrap();
        assert_eq!((old_kernel.no_new_privs, old_kernel.seccomp), (None, None));
    }

    #[test]
    fn malformed_status_field_is_named() {
        let err = ProcStatus::parse("Uid:\t1\t2\n").unwrap_err();
        assert_eq!(err.key, "Uid");
        let err = ProcStatus::parse("CapEff:\tzz\n").unwrap_err();
        assert_eq!(err.to_string(), "field CapEff: cannot read \"zz\"");
    }

    #[test]
    fn decodes_the_container_default_capabilities() {
        // containerd's default set for a root container.
        let names = CapSet(0xa80425fb).names();
        assert_eq!(
            names,
            [
                "CAP_CHOWN",
                "CAP_DAC_OVERRIDE",
                "CAP_FOWNER",
                "CAP_FSETID",
                "CAP_KILL",
                "CAP_SETGID",
                "CAP_SETUID",
                "CAP_SETPCAP",
                "CAP_NET_BIND_SERVICE",
                "CAP_NET_RAW",
                "CAP_SYS_CHROOT",
                "CAP_MKNOD",
                "CAP_AUDIT_WRITE",
                "CAP_SETFCAP"
            ]
        );
        assert!(!CapSet(0xa80425fb).has(CAP_SYS_ADMIN));
        assert!(CapSet(0x1ffffffffff).has(CAP_SYS_ADMIN));
        assert!(CapSet(0x1ffffffffff).has(CAP_NET_ADMIN));
        assert_eq!(CapSet(1 << 50).names(), ["CAP_50"]);
        assert!(CapSet(0).names().is_empty());
    }

    #[test]
    fn capability_subset() {
        assert!(CapSet(0b111).contains_all(CapSet(0b101)));
        assert!(!CapSet(0b101).contains_all(CapSet(0b111)));
        assert!(CapSet(0).contains_all(CapSet(0)));
    }

    #[test]
    fn cmdline_and_environ() {
        assert_eq!(
            cmdline_text(b"/bin/app\0--port\08080\0"),
            "/bin/app --port 8080"
        );
        assert_eq!(cmdline_text(b""), "");
        let env = b"HOME=/root\0PATH=/usr/bin:/bin\0PATHX=no\0";
        assert_eq!(environ_var(env, "PATH").as_deref(), Some("/usr/bin:/bin"));
        assert_eq!(environ_var(env, "TERM"), None);
    }

    #[test]
    fn pause_processes() {
        assert!(is_pause("/pause"));
        assert!(is_pause("/usr/bin/pause"));
        assert!(!is_pause("/bin/pauser"));
        assert!(!is_pause("sleep pause"));
    }

    #[test]
    fn environment_range_from_stat() {
        let stat = std::fs::read_to_string("/proc/self/stat").unwrap();
        let (start, end) = parse_env_range(&stat).unwrap();
        assert!(end > start);
        // Hidden (0 0) from readers without ptrace access, and malformed lines.
        let hidden = "1 (x) S 1 1 1 0 -1 0 0 0 0 0 0 0 0 0 20 0 1 0 5 0 0 0 0 0 0 0 0 0 0 0 0 0 \
                      0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0";
        assert_eq!(parse_env_range(hidden), None);
        assert_eq!(parse_env_range("garbage"), None);
    }

    #[test]
    fn start_time_survives_odd_command_names() {
        let stat = "42 (a) b) S 1 42 42 0 -1 4194560 100 0 0 0 1 2 0 0 20 0 1 0 123456 1000 10";
        assert_eq!(parse_start_time(stat), Some(123456));
        assert_eq!(parse_start_time("garbage"), None);
    }
}
