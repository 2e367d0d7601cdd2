//! Inputs and waivers for the builtin baseline, in the files InSpec and CINC Auditor read
//! (`--input-file`, `--waiver-file`), so one set of files serves both backends and SAF tooling.
//!
//! Input file (YAML mapping of input names to values; later files override earlier ones):
//!
//! ```yaml
//! allowed_setid_binaries: [/usr/bin/passwd, /usr/bin/su]
//! ```
//!
//! Waiver file (control id to waiver, as InSpec reads it):
//!
//! ```yaml
//! SIDESCAN-SW-001:
//!   justification: "the image's entrypoint is a shell script"
//!   run: false
//!   expiration_date: 2027-06-30
//! ```
//!
//! As in InSpec, a waiver with `run: false` skips the control (it counts as Not Applicable), one
//! without `run: false` still runs it and only records the justification, and an expired waiver
//! (`expiration_date` before the scan) applies not at all.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Every input the baseline reads: name, what it allows, control.
pub const INPUTS: [(&str, &str); 10] = [
    (
        "allowed_setid_binaries",
        "paths of setuid/setgid files that are expected (SIDESCAN-FS-003)",
    ),
    (
        "allowed_world_writable_paths",
        "paths of world-writable files or directories that are expected (SIDESCAN-FS-002)",
    ),
    (
        "allowed_shells",
        "paths of shells that are expected (SIDESCAN-SW-001)",
    ),
    (
        "allowed_package_managers",
        "paths of package managers that are expected (SIDESCAN-SW-002)",
    ),
    (
        "allowed_private_keys",
        "paths of files whose private keys are expected (SIDESCAN-KEY-001)",
    ),
    (
        "allowed_credential_files",
        "paths of credential files that are expected (SIDESCAN-KEY-002)",
    ),
    (
        "allowed_uid0_accounts",
        "account names other than root allowed UID 0 (SIDESCAN-ACCT-001)",
    ),
    (
        "allowed_shell_accounts",
        "system account names allowed a login shell (SIDESCAN-ACCT-003)",
    ),
    (
        "allowed_unreadable_paths",
        "paths of directories or files the scanner may fail to read: reported as skipped, not \
         error (SIDESCAN-FS-002, FS-003, KEY-001, KEY-002)",
    ),
    (
        "system_uid_max",
        "highest UID of a system account (default: UID_MIN of the target's /etc/login.defs \
         minus one, else 999) (SIDESCAN-ACCT-003)",
    ),
];

/// The inputs' values.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Inputs {
    /// Allow lists by input name (`allowed_*`).
    pub allowed: BTreeMap<&'static str, BTreeSet<String>>,
    pub system_uid_max: Option<u32>,
}

impl Inputs {
    /// True when `item` is in the allow list `input`.
    pub fn allows(&self, input: &str, item: &str) -> bool {
        self.allowed
            .get(input)
            .is_some_and(|set| set.contains(item))
    }
}

/// One control's waiver as written in the waiver file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Waiver {
    pub justification: Option<String>,
    pub run: Option<bool>,
    /// As written (`2027-06-30`).
    pub expiration_date: Option<String>,
    /// The end of the waiver: midnight UTC of the date, or the timestamp given.
    pub expires: Option<jiff::Timestamp>,
}

/// Inputs and waivers from the files the agent was given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Policy {
    pub inputs: Inputs,
    pub waivers: BTreeMap<String, Waiver>,
    /// Input names in the files that the baseline does not read (other profiles' inputs).
    pub unknown_inputs: Vec<String>,
}

impl Policy {
    /// Reads the input and waiver files, in order. Errors name the file and the key at fault.
    pub fn load(
        inputs: &[impl AsRef<Path>],
        waivers: &[impl AsRef<Path>],
    ) -> Result<Policy, crate::Error> {
        let mut policy = Policy::default();
        for path in inputs {
            let (name, text) = read(path.as_ref())?;
            policy
                .add_inputs(&text)
                .map_err(|detail| crate::Error::PolicyFile {
                    path: name.clone(),
                    detail,
                })?;
        }
        for path in waivers {
            let (name, text) = read(path.as_ref())?;
            policy
                .add_waivers(&text)
                .map_err(|detail| crate::Error::PolicyFile {
                    path: name.clone(),
                    detail,
                })?;
        }
        Ok(policy)
    }

    /// Adds the inputs of one input file's text.
    pub fn add_inputs(&mut self, text: &str) -> Result<(), String> {
        for (key, value) in mapping(text)? {
            if key == "system_uid_max" {
                let uid = value
                    .as_u64()
                    .and_then(|n| u32::try_from(n).ok())
                    .ok_or_else(|| format!("input {key}: expected a UID (a number)"))?;
                self.inputs.system_uid_max = Some(uid);
            } else if let Some((name, _)) = INPUTS.iter().find(|(name, _)| *name == key) {
                let list = string_list(&value)
                    .ok_or_else(|| format!("input {key}: expected a list of strings"))?;
                self.inputs.allowed.insert(name, list);
            } else if !self.unknown_inputs.contains(&key) {
                self.unknown_inputs.push(key);
            }
        }
        Ok(())
    }

    /// Adds the waivers of one waiver file's text.
    pub fn add_waivers(&mut self, text: &str) -> Result<(), String> {
        for (id, value) in mapping(text)? {
            let fields = value.as_object().ok_or_else(|| {
                format!("waiver {id}: expected a mapping (justification, run, expiration_date)")
            })?;
            let justification = match fields.get("justification") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(
                    scalar_text(v)
                        .ok_or_else(|| format!("waiver {id}: justification: expected text"))?,
                ),
            };
            let run = match fields.get("run") {
                None | Some(serde_json::Value::Null) => None,
                Some(serde_json::Value::Bool(b)) => Some(*b),
                Some(_) => return Err(format!("waiver {id}: run: expected true or false")),
            };
            let expiration_date = match fields.get("expiration_date") {
                None | Some(serde_json::Value::Null) => None,
                Some(v) => Some(scalar_text(v).ok_or_else(|| {
                    format!("waiver {id}: expiration_date: expected a date (YYYY-MM-DD)")
                })?),
            };
            let expires = match &expiration_date {
                None => None,
                Some(text) => Some(parse_expiry(text).ok_or_else(|| {
                    format!("waiver {id}: expiration_date {text:?} is not a date (YYYY-MM-DD) or an RFC 3339 time")
                })?),
            };
            self.waivers.insert(
                id,
                Waiver {
                    justification,
                    run,
                    expiration_date,
                    expires,
                },
            );
        }
        Ok(())
    }
}

fn read(path: &Path) -> Result<(String, String), crate::Error> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| crate::Error::PolicyFile {
        path: name.clone(),
        detail: format!("cannot read: {e}"),
    })?;
    Ok((name, text))
}

/// A YAML mapping at the top of a file (an empty file is an empty mapping).
fn mapping(text: &str) -> Result<Vec<(String, serde_json::Value)>, String> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let value: serde_json::Value =
        serde_saphyr::from_str(text).map_err(|e| format!("not YAML: {e}"))?;
    match value {
        serde_json::Value::Object(map) => Ok(map.into_iter().collect()),
        serde_json::Value::Null => Ok(Vec::new()),
        _ => Err("expected a mapping at the top level".into()),
    }
}

fn scalar_text(value: &serde_json::Value) -> Option<String> {
    match value {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Number(n) => Some(n.to_string()),
        serde_json::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn string_list(value: &serde_json::Value) -> Option<BTreeSet<String>> {
    match value {
        serde_json::Value::Null => Some(BTreeSet::new()),
        serde_json::Value::Array(items) => items
            .iter()
            .map(|v| v.as_str().map(str::to_string))
            .collect(),
        _ => None,
    }
}

/// `2027-06-30` (the waiver ends at that date's midnight UTC) or an RFC 3339 timestamp.
pub fn parse_expiry(text: &str) -> Option<jiff::Timestamp> {
    let text = text.trim();
    if let Ok(date) = text.parse::<jiff::civil::Date>() {
        return date
            .to_zoned(jiff::tz::TimeZone::UTC)
            .ok()
            .map(|z| z.timestamp());
    }
    text.parse::<jiff::Timestamp>().ok()
}

/// How a waiver applies to one control at scan time `now`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaiverEffect {
    /// `run: false`, not expired: the control is skipped.
    Skip,
    /// Not skipped (`run` not false): the control runs, the justification is recorded.
    Record,
    /// Expired: the control runs normally; the message says so.
    Expired { message: String },
}

impl Waiver {
    pub fn effect(&self, now: jiff::Timestamp) -> WaiverEffect {
        if let Some(expires) = self.expires
            && expires < now
        {
            return WaiverEffect::Expired {
                message: format!(
                    "Waiver expired on {}, evaluating control normally",
                    self.expiration_date.as_deref().unwrap_or("")
                ),
            };
        }
        if self.run == Some(false) {
            WaiverEffect::Skip
        } else {
            WaiverEffect::Record
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_are_read_and_validated() {
        let mut policy = Policy::default();
        policy
            .add_inputs(
                "allowed_setid_binaries:\n  - /usr/bin/passwd\n  - /usr/bin/su\n\
                 system_uid_max: 499\nsome_other_profile_input: 3\n",
            )
            .unwrap();
        assert!(
            policy
                .inputs
                .allows("allowed_setid_binaries", "/usr/bin/su")
        );
        assert!(
            !policy
                .inputs
                .allows("allowed_setid_binaries", "/usr/bin/mount")
        );
        assert!(!policy.inputs.allows("allowed_shells", "/bin/sh"));
        assert_eq!(policy.inputs.system_uid_max, Some(499));
        assert_eq!(policy.unknown_inputs, ["some_other_profile_input"]);
        // A later file replaces an input.
        policy
            .add_inputs("allowed_setid_binaries: [/usr/bin/mount]\n")
            .unwrap();
        assert!(
            !policy
                .inputs
                .allows("allowed_setid_binaries", "/usr/bin/su")
        );
        for (text, key) in [
            ("allowed_shells: /bin/sh\n", "allowed_shells"),
            ("allowed_shells: [1, 2]\n", "allowed_shells"),
            ("system_uid_max: many\n", "system_uid_max"),
        ] {
            let err = Policy::default().add_inputs(text).unwrap_err();
            assert!(err.contains(key), "{err}");
        }
        assert!(Policy::default().add_inputs("- a\n- b\n").is_err());
        assert!(Policy::default().add_inputs("").is_ok());
    }

    #[test]
    fn waivers_follow_inspec() {
        let mut policy = Policy::default();
        policy
            .add_waivers(
                "SIDESCAN-SW-001:\n  justification: entrypoint is a script\n  run: false\n  \
                 expiration_date: 2027-06-30\n\
                 SIDESCAN-FS-003:\n  justification: reviewed\n\
                 SIDESCAN-KEY-001:\n  justification: old\n  run: false\n  expiration_date: 2020-01-01\n",
            )
            .unwrap();
        let now: jiff::Timestamp = "2026-11-26T15:00:00Z".parse().unwrap();
        assert_eq!(
            policy.waivers["SIDESCAN-SW-001"].effect(now),
            WaiverEffect::Skip
        );
        assert_eq!(
            policy.waivers["SIDESCAN-FS-003"].effect(now),
            WaiverEffect::Record
        );
        assert_eq!(
            policy.waivers["SIDESCAN-KEY-001"].effect(now),
            WaiverEffect::Expired {
                message: "Waiver expired on 2020-01-01, evaluating control normally".into()
            }
        );
        // The day itself is still covered until its midnight UTC has passed.
        let w = &policy.waivers["SIDESCAN-SW-001"];
        assert_eq!(
            w.effect("2027-06-29T23:59:59Z".parse().unwrap()),
            WaiverEffect::Skip
        );
        assert!(matches!(
            w.effect("2027-06-30T00:00:01Z".parse().unwrap()),
            WaiverEffect::Expired { .. }
        ));
        for (text, needle) in [
            ("X: yes\n", "expected a mapping"),
            ("X:\n  run: maybe\n", "run"),
            ("X:\n  expiration_date: soon\n", "expiration_date"),
        ] {
            let err = Policy::default().add_waivers(text).unwrap_err();
            assert!(err.contains(needle), "{err}");
        }
    }

    #[test]
    fn files_are_named_in_errors() {
        let dir = tempfile::tempdir().unwrap();
        let bad = dir.path().join("waivers.yml");
        std::fs::write(&bad, "X:\n  run: sometimes\n").unwrap();
        let none: [&Path; 0] = [];
        let err = Policy::load(&none, &[&bad]).unwrap_err();
        assert!(
            matches!(&err, crate::Error::PolicyFile { path, detail }
                if path.ends_with("waivers.yml") && detail.contains("run")),
            "{err:?}"
        );
        assert_eq!(err.exit_status(), sidescan_core::ExitStatus::BadInput);
        let err = Policy::load(&[dir.path().join("missing.yml")], &none).unwrap_err();
        assert!(err.to_string().contains("missing.yml") && err.to_string().contains("cannot read"));
    }

    #[test]
    fn the_debian_example_reads() {
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/inputs/debian-setid.yml");
        let none: [&Path; 0] = [];
        let policy = Policy::load(&[&path], &none).unwrap();
        assert!(policy.unknown_inputs.is_empty());
        for binary in ["/usr/bin/passwd", "/usr/bin/su", "/usr/sbin/unix_chkpwd"] {
            assert!(
                policy.inputs.allows("allowed_setid_binaries", binary),
                "{binary}"
            );
        }
    }
}
