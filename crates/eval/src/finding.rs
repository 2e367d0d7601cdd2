//! Findings: the failing evidence of a failed control, each with a key that stays the same from
//! one scan of a target to the next (no timestamps, run ids or line numbers in it).
//!
//! A failed HDF result is one finding. When its text names a path inside the target (the builtin
//! scanner's findings, InSpec's `File /path ...` results) the finding is keyed by that path, else by
//! the result's `code_desc`. Results of one control with the same key are one finding.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::hdf::{Control, Status};

/// What identifies a finding within its control.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum FindingKey {
    /// An absolute path inside the target (`/etc/shadow`).
    Path(String),
    /// The result's `code_desc`, for results that name no path.
    Check(String),
}

impl FindingKey {
    pub fn path(&self) -> Option<&str> {
        match self {
            FindingKey::Path(p) => Some(p),
            FindingKey::Check(_) => None,
        }
    }

    /// The key as one line of text: the path, or the `code_desc`.
    pub fn text(&self) -> &str {
        match self {
            FindingKey::Path(s) | FindingKey::Check(s) => s,
        }
    }
}

/// One failing piece of evidence of a control.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding<'a> {
    pub key: FindingKey,
    /// The first failing result's `code_desc`.
    pub code_desc: &'a str,
    /// The failing results' messages (their `code_desc` when they have none), in result order.
    pub messages: Vec<&'a str>,
}

/// The failing findings of a control, in result order, one per key. Empty unless the control is
/// Failed (a Not Applicable or errored control's failed results are not findings).
pub fn failing(control: &Control) -> Vec<Finding<'_>> {
    if control.status != Status::Failed {
        return Vec::new();
    }
    let mut out: Vec<Finding<'_>> = Vec::new();
    for r in control.results.iter().filter(|r| r.status == "failed") {
        let key = match path_of(&r.code_desc, r.message.as_deref()) {
            Some(p) => FindingKey::Path(p),
            None => FindingKey::Check(r.code_desc.clone()),
        };
        let message = r.message.as_deref().unwrap_or(&r.code_desc);
        match out.iter_mut().find(|f| f.key == key) {
            Some(f) => {
                if !f.messages.contains(&message) {
                    f.messages.push(message);
                }
            }
            None => out.push(Finding {
                key,
                code_desc: &r.code_desc,
                messages: vec![message],
            }),
        }
    }
    out
}

/// The words that end a path in the builtin scanner's messages (`/etc/shadow: owner is uid 5`,
/// `/tmp/x has mode 0777`, `/usr/bin/su is setuid`, `/root/.ssh/id_rsa holds a private key`).
const PATH_ENDS: [&str; 5] = [": ", " is ", " has ", " holds ", " was "];

/// The path inside the target that a failed result names, if any.
///
/// - Builtin findings: the message starts with the path, and the `code_desc` names the same path
///   as a word of its own (`/etc/shadow is owned by root ...` / `/etc/shadow: mode is 0644`).
/// - InSpec results on the `file` and `directory` resources: `File /etc/shadow ...`.
pub fn path_of(code_desc: &str, message: Option<&str>) -> Option<String> {
    if let Some(message) = message
        && message.starts_with('/')
    {
        let end = PATH_ENDS
            .iter()
            .filter_map(|sep| message.find(sep))
            .min()
            .unwrap_or(message.len());
        let path = message[..end].trim_end_matches(':');
        if is_path(path) && names_word(code_desc, path) {
            return Some(path.to_string());
        }
    }
    for resource in ["File ", "Directory "] {
        if let Some(rest) = code_desc.strip_prefix(resource) {
            let path = rest.split_whitespace().next().unwrap_or("");
            if is_path(path) {
                return Some(path.to_string());
            }
        }
    }
    None
}

fn is_path(p: &str) -> bool {
    p.starts_with('/') && !p.chars().any(char::is_control)
}

/// `text` holds `word` with a space or an end of text on both sides.
fn names_word(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        matches!(before, None | Some(' ')) && matches!(after, None | Some(' ' | ':' | ','))
    })
}

/// Name of the stable fingerprint (SARIF `partialFingerprints` key; Code Quality `fingerprint`).
pub const FINGERPRINT_NAME: &str = "sidescanFindingHash/v1";

/// sha256 (hex) of the control id and the finding's key: the same finding of the same control
/// has the same fingerprint in every scan.
pub fn fingerprint(control_id: &str, key: &FindingKey) -> String {
    let (kind, value) = match key {
        FindingKey::Path(p) => ("path", p.as_str()),
        FindingKey::Check(c) => ("check", c.as_str()),
    };
    let mut h = Sha256::new();
    for part in [FINGERPRINT_NAME, control_id, kind, value] {
        h.update(part.as_bytes());
        h.update([0u8]);
    }
    hex::encode(h.finalize())
}

/// A path inside the target as a relative URI reference (no leading slash; characters that
/// are not allowed in a URI path percent-encoded). The root itself is `.`.
pub fn relative_uri(path: &str) -> String {
    let rel = path.trim_start_matches('/');
    if rel.is_empty() {
        return ".".to_string();
    }
    let mut out = String::with_capacity(rel.len());
    for b in rel.bytes() {
        let keep = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'/' | b'-'
                    | b'.'
                    | b'_'
                    | b'~'
                    | b'!'
                    | b'$'
                    | b'&'
                    | b'\''
                    | b'('
                    | b')'
                    | b'*'
                    | b'+'
                    | b','
                    | b';'
                    | b'='
                    | b'@'
            );
        if keep {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    // A first segment with a colon would read as a scheme; none is kept above, so none can occur.
    out
}

/// A path inside the target as a relative file path (no leading slash); the root is `.`.
pub fn relative_path(path: &str) -> String {
    match path.trim_start_matches('/') {
        "" => ".".to_string(),
        rel => rel.to_string(),
    }
}

/// Text on one line: runs of whitespace (line breaks included) become one space.
pub fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::hdf::Outcome;

    fn outcome(status: &str, code_desc: &str, message: Option<&str>) -> Outcome {
        Outcome {
            status: status.into(),
            code_desc: code_desc.into(),
            message: message.map(str::to_string),
        }
    }

    #[test]
    fn builtin_findings_name_their_paths() {
        let cases = [
            (
                "/etc/shadow is owned by root with mode 0640 or stricter",
                "/etc/shadow: owner is uid 5, mode is 0644",
                Some("/etc/shadow"),
            ),
            (
                "file /srv/my data/x is not world-writable",
                "/srv/my data/x has mode 0666",
                Some("/srv/my data/x"),
            ),
            (
                "/usr/bin/su has neither setuid nor setgid",
                "/usr/bin/su is setuid (mode 4755, owner 0:0)",
                Some("/usr/bin/su"),
            ),
            (
                "/root/.ssh/id_rsa holds no private key",
                "/root/.ssh/id_rsa holds a private key: RSA (mode 0600, owner uid 0)",
                Some("/root/.ssh/id_rsa"),
            ),
            (
                "shell /bin/sh is not present",
                "/bin/sh is an executable shell",
                Some("/bin/sh"),
            ),
            (
                "account games has UID 0",
                "account games has UID 0 (shell /bin/sh)",
                None,
            ),
            (
                "3 more findings",
                "3 further findings were not listed",
                None,
            ),
            (
                "File /etc/sssd/pki/sssd_auth_ca_db.pem is expected to exist",
                "expected File /etc/sssd/pki/sssd_auth_ca_db.pem to exist",
                Some("/etc/sssd/pki/sssd_auth_ca_db.pem"),
            ),
            (
                "/dev/xvda1: PARTUUID=\"fac7\" is expected to match /crypto_LUKS/",
                "expected \"/dev/xvda1: PARTUUID=\\\"fac7\\\"\" to match",
                None,
            ),
            // A message that starts with a path the code_desc does not name is not a finding path.
            ("some check", "/etc/passwd: something", None),
        ];
        for (code_desc, message, want) in cases {
            assert_eq!(
                path_of(code_desc, Some(message)).as_deref(),
                want,
                "{code_desc:?} / {message:?}"
            );
        }
    }

    #[test]
    fn findings_are_keyed_and_merged_per_key() {
        let control = Control {
            id: "C-1".into(),
            title: None,
            desc: None,
            check: None,
            fix: None,
            nist: vec![],
            cci: vec![],
            impact: 0.5,
            status: Status::Failed,
            severity: "medium".into(),
            results: vec![
                outcome("failed", "/a is owned by root", Some("/a: mode is 0777")),
                outcome("passed", "/b is owned by root", None),
                outcome("failed", "/a is owned by root", Some("/a: owner is uid 1")),
                outcome("failed", "port 22 is closed", None),
            ],
        };
        let f = failing(&control);
        assert_eq!(f.len(), 2);
        assert_eq!(f[0].key, FindingKey::Path("/a".into()));
        assert_eq!(f[0].messages, ["/a: mode is 0777", "/a: owner is uid 1"]);
        assert_eq!(f[1].key, FindingKey::Check("port 22 is closed".into()));
        assert_eq!(f[1].messages, ["port 22 is closed"]);
        let passed = Control {
            status: Status::Passed,
            ..control
        };
        assert!(failing(&passed).is_empty());
    }

    #[test]
    fn fingerprints_depend_on_control_and_key_only() {
        let a = fingerprint("C-1", &FindingKey::Path("/a".into()));
        assert_eq!(a.len(), 64);
        assert_eq!(a, fingerprint("C-1", &FindingKey::Path("/a".into())));
        assert_ne!(a, fingerprint("C-2", &FindingKey::Path("/a".into())));
        assert_ne!(a, fingerprint("C-1", &FindingKey::Check("/a".into())));
        // No ambiguity between the id and the key.
        assert_ne!(
            fingerprint("C-1a", &FindingKey::Path("b".into())),
            fingerprint("C-1", &FindingKey::Path("ab".into()))
        );
    }

    #[test]
    fn uris_are_relative_and_escaped() {
        assert_eq!(relative_uri("/etc/shadow"), "etc/shadow");
        assert_eq!(relative_uri("/srv/my data/50%"), "srv/my%20data/50%25");
        assert_eq!(relative_uri("/caf\u{e9}"), "caf%C3%A9");
        assert_eq!(relative_uri("/"), ".");
        assert_eq!(relative_uri("/a#b?c"), "a%23b%3Fc");
        assert_eq!(relative_path("/srv/my data"), "srv/my data");
    }
}
