//! Names derived from a spec: the scan pod, the run's other objects, ConfigMap keys of profile
//! files.

use crate::names;

/// Length of a run id made by [`RunId::from_entropy`].
pub const GENERATED_RUN_ID_LEN: usize = 12;

/// The scan pod's name: one scan per target and namespace at a time, so the scanner's Role can
/// name it in `resourceNames`.
pub fn scan_pod_name(target: &str) -> String {
    let name = format!("sidescan-scan-{target}");
    let cut = name.len().min(names::DNS_LABEL_MAX);
    name[..cut].trim_end_matches('-').to_string()
}

/// A name derived from the target for the run's other objects (`sidescan-<target>-<kind>`).
pub fn object_name(target: &str, kind: &str) -> String {
    let base = format!("sidescan-{target}");
    names::label_with_suffix(&base, kind)
}

/// The ConfigMap key of a profile file: `/` becomes `__` (keys may not hold `/`); the volume's
/// `items` restore the tree. `None` when the path cannot be encoded reversibly.
pub fn profile_key(path: &str) -> Option<String> {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | '/');
    if path.is_empty()
        || !path.chars().all(valid_char)
        || path.contains("__")
        || path
            .split('/')
            .any(|s| s.is_empty() || s.ends_with('_') || s.starts_with('_'))
    {
        return None;
    }
    let key = path.replace('/', "__");
    (key.len() <= names::DNS_SUBDOMAIN_MAX).then_some(key)
}

/// The relative path a [`profile_key`] stands for.
pub fn profile_path(key: &str) -> String {
    key.replace("__", "/")
}
