//! Names derived from a spec: the scan pod and the run's other objects.

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
