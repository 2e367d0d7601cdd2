//! The scanner sidecar, described once: how `sidescan-agent scan` is invoked (its flags and the
//! environment it reads), its security context per mode, and the paths it mounts.
//!
//! The generator's templates and the audit's clones build the scanner container from these
//! functions, and the agent's command line parses what [`AgentInvocation::args`] renders (a
//! round-trip test in `crates/agent` holds the two together, field by field). A flag added here
//! and not to the agent fails that test, not a scan pod at run time.

use crate::spec::{ScanBackend, SecurityMode};
use serde_json::{Value, json};

/// The agent's subcommand in the scanner image (`sidescan-agent scan`).
pub const SCAN_SUBCOMMAND: &str = "scan";
/// The audit clones' init container subcommand (`sidescan-agent install-hold DEST`).
pub const INSTALL_HOLD_SUBCOMMAND: &str = "install-hold";
/// Where the scanner image keeps the agent.
pub const AGENT_PATH: &str = "/usr/local/bin/sidescan-agent";
/// The scanner's scratch directory (PRoot's glue, CINC Auditor's temporary files): an `emptyDir`,
/// the root filesystem being read-only.
pub const SCRATCH_MOUNT_PATH: &str = "/tmp";
/// Where a pod the user applies by hand mounts the store's credentials Secret (scanner only), as
/// the files `AWS_ACCESS_KEY_ID` and `AWS_SECRET_ACCESS_KEY`.
pub const STORE_CREDENTIALS_MOUNT_PATH: &str = "/var/run/sidescan/store-credentials";

/// Environment variables the agent reads besides its flags.
pub mod env {
    /// The agent's pod (downward API `metadata.name`).
    pub const POD_NAME: &str = "POD_NAME";
    /// The results' namespace (downward API `metadata.namespace`, or the workload's in clones).
    pub const POD_NAMESPACE: &str = "POD_NAMESPACE";
    /// The node (downward API `spec.nodeName`), recorded in `metadata.json`.
    pub const NODE_NAME: &str = "NODE_NAME";
    /// An audit clone's context (JSON), recorded in `metadata.json`.
    pub const AUDIT_CONTEXT: &str = "SIDESCAN_AUDIT_CONTEXT";
    /// The run's presigned upload URLs (JSON: file name to URL), handed over by the orchestrator
    /// or the audit runner; the agent removes it from its environment before anything else.
    pub const UPLOAD_URLS: &str = "SIDESCAN_UPLOAD_URLS";
    /// `text` or `json`: scan pods and clones log JSON lines for the cluster's log collectors.
    pub const LOG_FORMAT: &str = "SIDESCAN_LOG_FORMAT";
}

/// How the agent finds the target (`--identify`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Identify {
    /// The Kubernetes API when a token is mounted, else `--target-process`, else the heuristic.
    Auto,
    /// The target container's ID from the pod's status.
    Api,
    /// The one process whose root differs from the scanner's (pause excluded).
    Heuristic,
}

impl Identify {
    pub const fn as_str(self) -> &'static str {
        match self {
            Identify::Auto => "auto",
            Identify::Api => "api",
            Identify::Heuristic => "heuristic",
        }
    }
}

/// Everything a scan pod tells `sidescan-agent scan` through its arguments. `None` and empty
/// fields are left out, so the agent's own defaults apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentInvocation {
    pub backend: ScanBackend,
    pub identify: Option<Identify>,
    pub target_container: Option<String>,
    pub scanner_container: Option<String>,
    /// The target's name in result keys.
    pub target_name: Option<String>,
    pub run_id: Option<String>,
    /// The run's folder name (`<UTC timestamp>-<run id>`), fixed by the workflow that presigned
    /// the upload URLs for it.
    pub run_folder: Option<String>,
    pub results_dir: Option<String>,
    pub store: Option<String>,
    /// A directory of static store credentials (a Secret mounted as files); pods the workflow
    /// creates get presigned uploads instead.
    pub store_credentials: Option<String>,
    /// Print the result files to the log (no store).
    pub log_results: bool,
    /// Print them only when the upload fails (the orchestrator then stores them itself).
    pub log_results_on_failure: bool,
    pub wait_seconds: Option<u64>,
    /// cinc: the profile (a path in the scanner or a URL) and the digest of a fetched archive.
    pub profile: Option<String>,
    pub profile_sha256: Option<String>,
    pub input_files: Vec<String>,
    pub waiver_files: Vec<String>,
}

impl AgentInvocation {
    /// An invocation with only the backend set.
    pub fn new(backend: ScanBackend) -> AgentInvocation {
        AgentInvocation {
            backend,
            identify: None,
            target_container: None,
            scanner_container: None,
            target_name: None,
            run_id: None,
            run_folder: None,
            results_dir: None,
            store: None,
            store_credentials: None,
            log_results: false,
            log_results_on_failure: false,
            wait_seconds: None,
            profile: None,
            profile_sha256: None,
            input_files: Vec::new(),
            waiver_files: Vec::new(),
        }
    }

    /// The container's `args` (the image's entrypoint is the agent): the subcommand, then one
    /// flag per set field, in a fixed order.
    pub fn args(&self) -> Vec<String> {
        let mut args = vec![
            SCAN_SUBCOMMAND.to_string(),
            "--backend".into(),
            self.backend.as_str().into(),
        ];
        let mut flag = |name: &str, value: Option<&str>| {
            if let Some(value) = value {
                args.push(format!("--{name}"));
                args.push(value.to_string());
            }
        };
        flag("identify", self.identify.map(Identify::as_str));
        flag("target-container", self.target_container.as_deref());
        flag("scanner-container", self.scanner_container.as_deref());
        flag("target-name", self.target_name.as_deref());
        flag("run-id", self.run_id.as_deref());
        flag("run-folder", self.run_folder.as_deref());
        flag("results-dir", self.results_dir.as_deref());
        flag(
            "wait-seconds",
            self.wait_seconds.map(|s| s.to_string()).as_deref(),
        );
        flag("profile", self.profile.as_deref());
        flag("profile-sha256", self.profile_sha256.as_deref());
        for file in &self.input_files {
            flag("input-file", Some(file));
        }
        for file in &self.waiver_files {
            flag("waiver-file", Some(file));
        }
        flag("store", self.store.as_deref());
        flag("store-credentials", self.store_credentials.as_deref());
        if self.log_results {
            args.push("--log-results".into());
        }
        if self.log_results_on_failure {
            args.push("--log-results-on-failure".into());
        }
        args
    }
}

/// The scanner's security context, as JSON in the Kubernetes `SecurityContext` shape.
///
/// `same-uid`: the target's UID (and GID), every capability dropped: the whole pod stays Pod
/// Security "restricted". `ptrace`: UID 0 with `SYS_PTRACE` only (capabilities take effect for
/// UID 0 only: Kubernetes sets no ambient set), to read another UID's `/proc/<pid>/root`. Never
/// privileged, no privilege escalation, read-only root filesystem, the runtime's default seccomp
/// profile where the API has the field (older clusters take the annotation instead).
pub fn security_context(
    mode: SecurityMode,
    uid: Option<i64>,
    gid: Option<i64>,
    seccomp_field: bool,
) -> Value {
    let mut sc = json!({
        "privileged": false,
        "allowPrivilegeEscalation": false,
        "readOnlyRootFilesystem": true,
    });
    match mode {
        SecurityMode::SameUid => {
            sc["runAsNonRoot"] = json!(true);
            sc["runAsUser"] = json!(uid.unwrap_or_default());
            sc["capabilities"] = json!({"drop": ["ALL"]});
        }
        SecurityMode::Ptrace => {
            sc["runAsNonRoot"] = json!(false);
            sc["runAsUser"] = json!(0);
            sc["capabilities"] = json!({"drop": ["ALL"], "add": ["SYS_PTRACE"]});
        }
    }
    if let Some(gid) = gid {
        sc["runAsGroup"] = json!(gid);
    }
    if seccomp_field {
        sc["seccompProfile"] = json!({"type": "RuntimeDefault"});
    }
    sc
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn args_carry_each_set_field_once_in_a_fixed_order() {
        let mut inv = AgentInvocation::new(ScanBackend::Cinc);
        inv.identify = Some(Identify::Heuristic);
        inv.run_id = Some("abc123def456".into());
        inv.profile = Some("/etc/sidescan/profile".into());
        inv.input_files = vec!["/a.yml".into(), "/b.yml".into()];
        inv.log_results = true;
        assert_eq!(
            inv.args(),
            [
                "scan",
                "--backend",
                "cinc",
                "--identify",
                "heuristic",
                "--run-id",
                "abc123def456",
                "--profile",
                "/etc/sidescan/profile",
                "--input-file",
                "/a.yml",
                "--input-file",
                "/b.yml",
                "--log-results"
            ]
        );
    }

    #[test]
    fn security_context_per_mode() {
        let same = security_context(SecurityMode::SameUid, Some(65532), Some(65532), true);
        assert_eq!(same["runAsUser"], 65532);
        assert_eq!(same["runAsGroup"], 65532);
        assert_eq!(same["capabilities"], json!({"drop": ["ALL"]}));
        assert_eq!(same["seccompProfile"]["type"], "RuntimeDefault");
        let ptrace = security_context(SecurityMode::Ptrace, Some(1000), None, false);
        assert_eq!(ptrace["runAsUser"], 0);
        assert_eq!(ptrace["capabilities"]["add"], json!(["SYS_PTRACE"]));
        assert!(ptrace.get("seccompProfile").is_none());
        assert!(ptrace.get("runAsGroup").is_none());
        for sc in [same, ptrace] {
            assert_eq!(sc["privileged"], false);
            assert_eq!(sc["allowPrivilegeEscalation"], false);
            assert_eq!(sc["readOnlyRootFilesystem"], true);
        }
    }
}
