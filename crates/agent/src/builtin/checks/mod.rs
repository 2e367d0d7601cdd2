//! Each control's decision: evidence in, findings out. Every check takes the gathered
//! [`Evidence`] (and the inputs) and returns findings; none touches a descriptor, so each is tested
//! on hand-made evidence. Evidence that could not be gathered is an `error` finding naming what
//! and why, never a pass; what a limit left unexamined is a `skipped` finding saying "not
//! checked", naming the path, the figure and the limit.

mod accounts;
mod coverage;
mod filesystem;
mod inventory;
mod process;
mod software;

pub use accounts::{empty_passwords, system_account_shells, uid0_accounts};
pub use filesystem::{
    ACCOUNT_FILES, KEY_DIRS, account_files, credential_files, private_keys, setid, world_writable,
};
pub use inventory::{os_identity, packages};
pub use process::{capabilities, lsm, no_new_privs, non_root, read_only_root, seccomp};
pub use software::{
    BIN_DIRS, PACKAGE_MANAGER_NAMES, SHELL_NAMES, package_managers, search_dirs,
    search_dirs_within, shells,
};

use super::controls::{self, ControlDef};
use super::gather::Evidence;
use super::policy::Inputs;
use super::report::Finding;
use crate::hdf::Status;

/// A control's check.
pub type Check = fn(&Evidence, &Inputs) -> Vec<Finding>;

/// One control: its definition, its check, and whether it is decided from the walk (the walk's
/// time is shared among those).
pub struct ControlCheck {
    pub def: ControlDef,
    pub check: Check,
    pub walk_based: bool,
}

/// Every control's check, in the report's order.
pub fn all() -> [ControlCheck; 18] {
    let c = |def, check: Check, walk_based| ControlCheck {
        def,
        check,
        walk_based,
    };
    [
        c(controls::SENSITIVE_FILES, |e, _| account_files(e), false),
        c(controls::WORLD_WRITABLE, world_writable, true),
        c(controls::SETID_BINARIES, setid, true),
        c(controls::NON_ROOT, |e, _| non_root(e), false),
        c(controls::CAPABILITIES, |e, _| capabilities(e), false),
        c(controls::NO_NEW_PRIVS, |e, _| no_new_privs(e), false),
        c(controls::SECCOMP, |e, _| seccomp(e), false),
        c(controls::READ_ONLY_ROOT, |e, _| read_only_root(e), false),
        c(controls::LSM_CONFINEMENT, |e, _| lsm(e), false),
        c(controls::SHELLS, shells, false),
        c(controls::PACKAGE_MANAGERS, package_managers, false),
        c(controls::PRIVATE_KEYS, private_keys, true),
        c(controls::CREDENTIAL_FILES, credential_files, true),
        c(controls::UID0_ACCOUNTS, uid0_accounts, false),
        c(controls::EMPTY_PASSWORDS, |e, _| empty_passwords(e), false),
        c(
            controls::SYSTEM_ACCOUNT_SHELLS,
            system_account_shells,
            false,
        ),
        c(controls::OS_IDENTITY, |e, _| os_identity(e), false),
        c(controls::PACKAGES, |e, _| packages(e), false),
    ]
}

/// The input that accepts named unreadable paths.
const UNREADABLE_INPUT: &str = "allowed_unreadable_paths";

/// Failed or allowed (passed, naming the input) for each finding.
fn judge(
    out: &mut Vec<Finding>,
    inputs: &Inputs,
    input: &str,
    path: &str,
    code_desc: String,
    message: String,
) {
    if inputs.allows(input, path) {
        out.push(Finding::passed_with(
            code_desc,
            format!("{message}; allowed by input {input}"),
        ));
    } else {
        out.push(Finding::failed(code_desc, message));
    }
}

/// True when `out` holds no pass/fail/error result (only skipped ones, or nothing).
fn nothing_decided(out: &[Finding]) -> bool {
    out.iter().all(|f| f.status == Status::Skipped)
}

/// The first `limit` findings; the others counted in one result per status, so a failure past
/// the cap still fails the control and nothing is invented.
fn cap(mut out: Vec<Finding>, limit: usize) -> Vec<Finding> {
    if out.len() <= limit {
        return out;
    }
    let rest = out.split_off(limit);
    for status in [
        Status::Failed,
        Status::Error,
        Status::Skipped,
        Status::Passed,
    ] {
        let n = rest.iter().filter(|f| f.status == status).count();
        if n == 0 {
            continue;
        }
        let desc = format!("{n} more findings");
        let why = format!("{n} further findings were not listed (limit {limit} per control)");
        out.push(match status {
            Status::Failed => Finding::failed(desc, why),
            Status::Error => Finding::error(desc, why),
            Status::Skipped => Finding::skipped(desc, why),
            _ => Finding::passed_with(desc, why),
        });
    }
    out
}

#[cfg(test)]
mod tests;
