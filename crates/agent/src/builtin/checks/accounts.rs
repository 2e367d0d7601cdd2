//! The account controls (SIDESCAN-ACCT-001 to 003), from `/etc/passwd`, `/etc/shadow` and
//! `/etc/login.defs` as gathered.

use super::{cap, judge, nothing_decided};
use crate::builtin::accounts::{self as parse, PasswdEntry};
use crate::builtin::gather::{Evidence, Text};
use crate::builtin::policy::Inputs;
use crate::builtin::report::Finding;

/// The entries of `/etc/passwd`, or the one finding that says why there are none.
fn entries(evidence: &Evidence, desc: &str) -> Result<Vec<PasswdEntry>, Finding> {
    match &evidence.accounts.passwd {
        Text::Read(text) => Ok(parse::parse_passwd(text)),
        Text::Absent => Err(Finding::skipped(desc, "no /etc/passwd in the target")),
        Text::Unreadable(e) => Err(Finding::error(desc, format!("cannot be read: {e}"))),
        Text::NotChecked(why) => Err(Finding::skipped(desc, why.to_string())),
    }
}

/// SIDESCAN-ACCT-001.
pub fn uid0_accounts(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    let desc = "only root has UID 0";
    let entries = match entries(evidence, desc) {
        Ok(entries) => entries,
        Err(finding) => return vec![finding],
    };
    let mut out = Vec::new();
    for e in parse::uid0_aliases(&entries) {
        judge(
            &mut out,
            inputs,
            "allowed_uid0_accounts",
            &e.name,
            format!("account {} does not have UID 0", e.name),
            format!("account {} has UID 0 (shell {})", e.name, e.shell),
        );
    }
    if out.is_empty() {
        out.push(Finding::passed(format!(
            "no account other than root has UID 0 ({} accounts)",
            entries.len()
        )));
    }
    cap(out, evidence.limits.findings)
}

/// SIDESCAN-ACCT-002.
pub fn empty_passwords(evidence: &Evidence) -> Vec<Finding> {
    let desc = "no account has an empty password";
    let entries = match entries(evidence, desc) {
        Ok(entries) => entries,
        Err(finding) => return vec![finding],
    };
    let mut names: Vec<String> = entries
        .iter()
        .filter(|e| e.password_empty)
        .map(|e| e.name.clone())
        .collect();
    let mut out = Vec::new();
    let shadow = &evidence.accounts.shadow;
    match shadow {
        Text::Read(text) => names.extend(parse::empty_shadow_passwords(text)),
        Text::Absent => {}
        Text::Unreadable(e) => out.push(Finding::error(
            "/etc/shadow was read",
            format!("password hashes cannot be checked: {e}"),
        )),
        Text::NotChecked(why) => {
            out.push(Finding::skipped("/etc/shadow was read", why.to_string()))
        }
    }
    names.sort();
    names.dedup();
    for name in names {
        out.push(Finding::failed(
            format!("account {name} has a password or is locked"),
            format!("account {name} has an empty password field: it logs in without a password"),
        ));
    }
    if nothing_decided(&out) {
        let files = match shadow {
            Text::Read(_) => "/etc/passwd and /etc/shadow",
            Text::NotChecked(_) => "/etc/passwd (/etc/shadow not checked)",
            _ => "/etc/passwd (no /etc/shadow)",
        };
        out.push(Finding::passed(format!(
            "no empty password field in {files}"
        )));
    }
    cap(out, evidence.limits.findings)
}

/// SIDESCAN-ACCT-003.
pub fn system_account_shells(evidence: &Evidence, inputs: &Inputs) -> Vec<Finding> {
    let desc = "system accounts have no login shell";
    let entries = match entries(evidence, desc) {
        Ok(entries) => entries,
        Err(finding) => return vec![finding],
    };
    let mut out = Vec::new();
    let bound = match (inputs.system_uid_max, &evidence.accounts.login_defs) {
        (Some(max), _) => max.saturating_add(1),
        (None, Text::Read(text)) => parse::uid_min(Some(text)),
        (None, Text::NotChecked(why)) => {
            let assumed = parse::uid_min(None);
            out.push(Finding::skipped(
                "UID_MIN was read from /etc/login.defs",
                format!("{why}; UID_MIN {assumed} assumed"),
            ));
            assumed
        }
        (None, _) => parse::uid_min(None),
    };
    for e in parse::system_accounts_with_shell(&entries, bound) {
        judge(
            &mut out,
            inputs,
            "allowed_shell_accounts",
            &e.name,
            format!("system account {} has no login shell", e.name),
            format!(
                "system account {} (UID {}) has the login shell {}",
                e.name, e.uid, e.shell
            ),
        );
    }
    if nothing_decided(&out) {
        out.push(Finding::passed(format!(
            "no system account (UID 1 to {}) has a login shell",
            bound.saturating_sub(1)
        )));
    }
    cap(out, evidence.limits.findings)
}
