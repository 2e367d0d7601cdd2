//! Accounts from `/etc/passwd`, `/etc/shadow` and `/etc/login.defs`: parsing and the decisions of
//! the account controls. Pure: text in, facts out. No password hash ever leaves this module; only
//! whether it is empty.

/// One `/etc/passwd` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PasswdEntry {
    pub name: String,
    /// The password field: `x` (in shadow), `*`/`!` (locked), empty (no password), or a hash.
    pub password_empty: bool,
    pub uid: u32,
    pub shell: String,
}

/// `/etc/passwd` entries; NIS (`+`/`-`) and malformed lines are skipped.
pub fn parse_passwd(text: &str) -> Vec<PasswdEntry> {
    text.lines()
        .filter(|l| !l.starts_with(['+', '-', '#']))
        .filter_map(|line| {
            let fields: Vec<&str> = line.split(':').collect();
            if fields.len() < 7 {
                return None;
            }
            Some(PasswdEntry {
                name: fields[0].to_string(),
                password_empty: fields[1].is_empty(),
                uid: fields[2].parse().ok()?,
                shell: fields[6].trim().to_string(),
            })
        })
        .collect()
}

/// Account names whose `/etc/shadow` password field is empty (log in without a password).
pub fn empty_shadow_passwords(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.starts_with(['+', '-', '#']))
        .filter_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            let hash = fields.next()?;
            (!name.is_empty() && hash.is_empty()).then(|| name.to_string())
        })
        .collect()
}

/// `UID_MIN` from `/etc/login.defs`: the first UID of regular users (1000 when absent).
pub fn uid_min(login_defs: Option<&str>) -> u32 {
    login_defs
        .and_then(|text| {
            text.lines().find_map(|line| {
                let mut words = line.split_whitespace();
                (words.next() == Some("UID_MIN"))
                    .then(|| words.next()?.parse().ok())
                    .flatten()
            })
        })
        .unwrap_or(1000)
}

/// Programs accounts use as "shell" to refuse logins or do one thing.
const NON_LOGIN_SHELLS: [&str; 6] = ["nologin", "false", "true", "sync", "halt", "shutdown"];

/// True when `shell` lets the account log in interactively: anything but an empty field and the
/// known refusers (`nologin`, `false`, `true`, `sync`, `halt`, `shutdown`).
pub fn is_login_shell(shell: &str) -> bool {
    let name = shell.rsplit('/').next().unwrap_or("");
    !shell.is_empty() && !NON_LOGIN_SHELLS.contains(&name)
}

/// Accounts other than `root` with UID 0.
pub fn uid0_aliases(entries: &[PasswdEntry]) -> Vec<&PasswdEntry> {
    entries
        .iter()
        .filter(|e| e.uid == 0 && e.name != "root")
        .collect()
}

/// System accounts (UID below `uid_min`, not UID 0) whose shell allows a login.
pub fn system_accounts_with_shell(entries: &[PasswdEntry], uid_min: u32) -> Vec<&PasswdEntry> {
    entries
        .iter()
        .filter(|e| e.uid != 0 && e.uid < uid_min && is_login_shell(&e.shell))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/bash\n\
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n\
sync:x:4:65534:sync:/bin:/bin/sync\n\
toor:x:0:0:alias:/root:/bin/sh\n\
backup:x:34:34:backup:/var/backups:/bin/sh\n\
nopw::1001:1001::/home/nopw:/bin/bash\n\
app:x:1000:1000::/home/app:\n\
broken:line\n\
+::::::\n";

    #[test]
    fn passwd_parsing() {
        let entries = parse_passwd(PASSWD);
        let names: Vec<&str> = entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(
            names,
            ["root", "daemon", "sync", "toor", "backup", "nopw", "app"]
        );
        assert!(entries[5].password_empty);
        assert!(!entries[0].password_empty);
        assert_eq!(entries[3].uid, 0);
    }

    #[test]
    fn account_decisions() {
        let entries = parse_passwd(PASSWD);
        let aliases: Vec<&str> = uid0_aliases(&entries)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(aliases, ["toor"]);
        let shells: Vec<&str> = system_accounts_with_shell(&entries, 1000)
            .iter()
            .map(|e| e.name.as_str())
            .collect();
        assert_eq!(shells, ["backup"]);
    }

    #[test]
    fn shadow_empty_hashes() {
        let shadow = "root:$y$j9T$abc:19000:0:99999:7:::\nnopw::19000::::::\n\
                      locked:!:19000::::::\nstar:*:19000::::::\n";
        assert_eq!(empty_shadow_passwords(shadow), ["nopw"]);
    }

    #[test]
    fn login_defs_uid_min() {
        assert_eq!(uid_min(None), 1000);
        assert_eq!(uid_min(Some("# x\nUID_MIN\t\t  500\nUID_MAX 60000\n")), 500);
        assert_eq!(uid_min(Some("UID_MIN bad\n")), 1000);
    }

    #[test]
    fn login_shells() {
        for shell in ["/bin/sh", "/bin/bash", "/usr/bin/zsh", "/opt/custom"] {
            assert!(is_login_shell(shell), "{shell}");
        }
        for shell in ["", "/usr/sbin/nologin", "/bin/false", "/bin/sync"] {
            assert!(!is_login_shell(shell), "{shell}");
        }
    }
}
