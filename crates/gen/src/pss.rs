//! The Pod Security Standards, rule by rule, as the Kubernetes documentation defines them
//! (<https://kubernetes.io/docs/concepts/security/pod-security-standards/>): a pure check of a
//! pod (spec plus the annotations older releases read) against the `baseline` or `restricted`
//! level. The generator uses it to refuse target settings its security mode cannot admit, and
//! the tests check every rendered pod with it.

use k8s_openapi::api::core::v1::{
    PodSecurityContext, PodSpec, PodTemplateSpec, SELinuxOptions, SeccompProfile, SecurityContext,
};
use std::collections::BTreeMap;

/// A Pod Security level (`privileged` has no rules).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Baseline,
    Restricted,
}

/// The rules, named as in the documentation's tables.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    HostProcess,
    HostNamespaces,
    PrivilegedContainers,
    Capabilities,
    HostPathVolumes,
    HostPorts,
    AppArmor,
    SeLinux,
    ProcMountType,
    Seccomp,
    Sysctls,
    VolumeTypes,
    PrivilegeEscalation,
    RunningAsNonRoot,
    RunningAsNonRootUser,
    SeccompRestricted,
    CapabilitiesRestricted,
    /// Listed as optional in the documentation: not enforced by Pod Security Admission.
    NonRootGroups,
}

impl Rule {
    pub const fn level(self) -> Level {
        match self {
            Rule::HostProcess
            | Rule::HostNamespaces
            | Rule::PrivilegedContainers
            | Rule::Capabilities
            | Rule::HostPathVolumes
            | Rule::HostPorts
            | Rule::AppArmor
            | Rule::SeLinux
            | Rule::ProcMountType
            | Rule::Seccomp
            | Rule::Sysctls => Level::Baseline,
            _ => Level::Restricted,
        }
    }

    /// The rule's name in the documentation.
    pub const fn title(self) -> &'static str {
        match self {
            Rule::HostProcess => "HostProcess",
            Rule::HostNamespaces => "Host Namespaces",
            Rule::PrivilegedContainers => "Privileged Containers",
            Rule::Capabilities => "Capabilities",
            Rule::HostPathVolumes => "HostPath Volumes",
            Rule::HostPorts => "Host Ports",
            Rule::AppArmor => "AppArmor",
            Rule::SeLinux => "SELinux",
            Rule::ProcMountType => "/proc Mount Type",
            Rule::Seccomp => "Seccomp",
            Rule::Sysctls => "Sysctls",
            Rule::VolumeTypes => "Volume Types",
            Rule::PrivilegeEscalation => "Privilege Escalation",
            Rule::RunningAsNonRoot => "Running as Non-root",
            Rule::RunningAsNonRootUser => "Running as Non-root user",
            Rule::SeccompRestricted => "Seccomp (restricted)",
            Rule::CapabilitiesRestricted => "Capabilities (restricted)",
            Rule::NonRootGroups => "Non-root groups (optional)",
        }
    }

    /// Whether Pod Security Admission enforces the rule.
    pub const fn enforced(self) -> bool {
        !matches!(self, Rule::NonRootGroups)
    }
}

/// One broken rule: where (`spec.containers[name].securityContext.privileged`) and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: Rule,
    pub field: String,
    pub detail: String,
}

/// Capabilities `baseline` allows adding.
pub const BASELINE_CAPABILITIES: [&str; 13] = [
    "AUDIT_WRITE",
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "FSETID",
    "KILL",
    "MKNOD",
    "NET_BIND_SERVICE",
    "SETFCAP",
    "SETGID",
    "SETPCAP",
    "SETUID",
    "SYS_CHROOT",
];

/// Sysctls `baseline` allows (the "safe" set).
pub const SAFE_SYSCTLS: [&str; 10] = [
    "kernel.shm_rmid_forced",
    "net.ipv4.ip_local_port_range",
    "net.ipv4.ip_unprivileged_port_start",
    "net.ipv4.tcp_syncookies",
    "net.ipv4.ping_group_range",
    "net.ipv4.ip_local_reserved_ports",
    "net.ipv4.tcp_keepalive_time",
    "net.ipv4.tcp_fin_timeout",
    "net.ipv4.tcp_keepalive_intvl",
    "net.ipv4.tcp_keepalive_probes",
];

/// Volume types `restricted` allows.
pub const RESTRICTED_VOLUME_TYPES: [&str; 8] = [
    "configMap",
    "csi",
    "downwardAPI",
    "emptyDir",
    "ephemeral",
    "persistentVolumeClaim",
    "projected",
    "secret",
];

const SELINUX_TYPES: [&str; 5] = [
    "",
    "container_t",
    "container_init_t",
    "container_kvm_t",
    "container_engine_t",
];

const SECCOMP_POD_ANNOTATION: &str = "seccomp.security.alpha.kubernetes.io/pod";
const SECCOMP_CONTAINER_ANNOTATION: &str = "container.seccomp.security.alpha.kubernetes.io/";
const APPARMOR_CONTAINER_ANNOTATION: &str = "container.apparmor.security.beta.kubernetes.io/";

/// One container of the pod, with the path prefix its fields are reported under.
struct Container<'a> {
    prefix: String,
    name: &'a str,
    security_context: Option<&'a SecurityContext>,
    host_ports: Vec<i32>,
}

/// Every container of the pod: containers, init containers, ephemeral containers.
fn containers(spec: &PodSpec) -> Vec<Container<'_>> {
    let mut out = Vec::new();
    for c in &spec.containers {
        out.push(Container {
            prefix: format!("spec.containers[{}]", c.name),
            name: c.name.as_str(),
            security_context: c.security_context.as_ref(),
            host_ports: host_ports(c.ports.as_deref()),
        });
    }
    for c in spec.init_containers.iter().flatten() {
        out.push(Container {
            prefix: format!("spec.initContainers[{}]", c.name),
            name: c.name.as_str(),
            security_context: c.security_context.as_ref(),
            host_ports: host_ports(c.ports.as_deref()),
        });
    }
    for c in spec.ephemeral_containers.iter().flatten() {
        out.push(Container {
            prefix: format!("spec.ephemeralContainers[{}]", c.name),
            name: c.name.as_str(),
            security_context: c.security_context.as_ref(),
            host_ports: host_ports(c.ports.as_deref()),
        });
    }
    out
}

fn host_ports(ports: Option<&[k8s_openapi::api::core::v1::ContainerPort]>) -> Vec<i32> {
    ports
        .unwrap_or_default()
        .iter()
        .filter_map(|p| p.host_port)
        .filter(|p| *p != 0)
        .collect()
}

/// The rules `pod` breaks at `level` (`restricted` includes `baseline`), optional rules
/// included (see [`Rule::enforced`]). Pod-level rules first, then each container's, in the
/// order of the documentation's tables.
pub fn pss_violations(pod: &PodTemplateSpec, level: Level) -> Vec<Violation> {
    let empty_spec = PodSpec::default();
    let spec = pod.spec.as_ref().unwrap_or(&empty_spec);
    let no_annotations = BTreeMap::new();
    let annotations = pod
        .metadata
        .as_ref()
        .and_then(|m| m.annotations.as_ref())
        .unwrap_or(&no_annotations);
    let mut out = Vec::new();
    let mut add = |rule: Rule, field: String, detail: String| {
        if rule.level() <= level {
            out.push(Violation {
                rule,
                field,
                detail,
            });
        }
    };
    let pod_sc = spec.security_context.clone().unwrap_or_default();
    let pod_seccomp = pod_seccomp(&pod_sc, annotations);

    check_host_access(&mut add, spec, &pod_sc);
    check_pod_profiles(&mut add, &pod_sc, pod_seccomp);
    check_volumes(&mut add, spec);
    check_pod_users(&mut add, &pod_sc);
    for container in &containers(spec) {
        let default_sc = SecurityContext::default();
        let sc = container.security_context.unwrap_or(&default_sc);
        let at = |rest: &str| format!("{}.{rest}", container.prefix);
        check_container_privileges(&mut add, sc, &container.host_ports, &at);
        check_container_profiles(&mut add, sc, container.name, annotations, pod_seccomp, &at);
        check_container_users(&mut add, sc, &pod_sc, &at);
    }
    out
}

/// The pod's seccomp profile type: the field, else the annotation of releases before 1.19.
fn pod_seccomp<'a>(
    pod_sc: &'a PodSecurityContext,
    annotations: &BTreeMap<String, String>,
) -> Option<&'a str> {
    seccomp_type(pod_sc.seccomp_profile.as_ref()).or_else(|| {
        annotations
            .get(SECCOMP_POD_ANNOTATION)
            .map(|a| annotation_seccomp(a))
    })
}

/// HostProcess and Host Namespaces, at the pod level.
fn check_host_access(
    add: &mut impl FnMut(Rule, String, String),
    spec: &PodSpec,
    pod_sc: &PodSecurityContext,
) {
    if pod_sc.windows_options.as_ref().and_then(|w| w.host_process) == Some(true) {
        add(
            Rule::HostProcess,
            "spec.securityContext.windowsOptions.hostProcess".into(),
            "true".into(),
        );
    }
    for (field, value) in [
        ("hostNetwork", spec.host_network),
        ("hostPID", spec.host_pid),
        ("hostIPC", spec.host_ipc),
    ] {
        if value == Some(true) {
            add(Rule::HostNamespaces, format!("spec.{field}"), "true".into());
        }
    }
}

/// The pod's AppArmor, SELinux and seccomp profiles and its sysctls.
fn check_pod_profiles(
    add: &mut impl FnMut(Rule, String, String),
    pod_sc: &PodSecurityContext,
    pod_seccomp: Option<&str>,
) {
    check_app_armor_profile(
        add,
        "spec.securityContext.appArmorProfile",
        pod_sc.app_armor_profile.as_ref().map(|p| p.type_.as_str()),
    );
    check_se_linux(
        add,
        "spec.securityContext.seLinuxOptions",
        pod_sc.se_linux_options.as_ref(),
    );
    if pod_seccomp == Some("Unconfined") {
        add(
            Rule::Seccomp,
            "spec.securityContext.seccompProfile.type".into(),
            "Unconfined".into(),
        );
    }
    for sysctl in pod_sc.sysctls.iter().flatten() {
        if !SAFE_SYSCTLS.contains(&sysctl.name.as_str()) {
            add(
                Rule::Sysctls,
                "spec.securityContext.sysctls".into(),
                format!("{} is not a safe sysctl", sysctl.name),
            );
        }
    }
}

/// HostPath Volumes and Volume Types.
fn check_volumes(add: &mut impl FnMut(Rule, String, String), spec: &PodSpec) {
    for volume in spec.volumes.iter().flatten() {
        // The volume's kind is its one key besides the name.
        let value = serde_json::to_value(volume).unwrap_or_default();
        let kinds: Vec<&str> = value
            .as_object()
            .map(|m| {
                m.keys()
                    .map(String::as_str)
                    .filter(|k| *k != "name")
                    .collect()
            })
            .unwrap_or_default();
        let field = format!("spec.volumes[{}]", volume.name);
        if volume.host_path.is_some() {
            add(Rule::HostPathVolumes, field.clone(), "hostPath".into());
        }
        for kind in kinds {
            if !RESTRICTED_VOLUME_TYPES.contains(&kind) {
                add(
                    Rule::VolumeTypes,
                    field.clone(),
                    format!("{kind} is not an allowed volume type"),
                );
            }
        }
    }
}

/// Non-root groups (optional) and the non-root user, at the pod level.
fn check_pod_users(add: &mut impl FnMut(Rule, String, String), pod_sc: &PodSecurityContext) {
    for (field, gid) in [
        ("runAsGroup", pod_sc.run_as_group),
        ("fsGroup", pod_sc.fs_group),
    ] {
        if gid == Some(0) {
            add(
                Rule::NonRootGroups,
                format!("spec.securityContext.{field}"),
                "0".into(),
            );
        }
    }
    if pod_sc.supplemental_groups.iter().flatten().any(|g| *g == 0) {
        add(
            Rule::NonRootGroups,
            "spec.securityContext.supplementalGroups".into(),
            "0".into(),
        );
    }
    if pod_sc.run_as_user == Some(0) {
        add(
            Rule::RunningAsNonRootUser,
            "spec.securityContext.runAsUser".into(),
            "0".into(),
        );
    }
}

/// A container's HostProcess, Privileged, Capabilities (both levels) and Host Ports.
fn check_container_privileges(
    add: &mut impl FnMut(Rule, String, String),
    sc: &SecurityContext,
    ports: &[i32],
    at: &impl Fn(&str) -> String,
) {
    if sc.windows_options.as_ref().and_then(|w| w.host_process) == Some(true) {
        add(
            Rule::HostProcess,
            at("securityContext.windowsOptions.hostProcess"),
            "true".into(),
        );
    }
    if sc.privileged == Some(true) {
        add(
            Rule::PrivilegedContainers,
            at("securityContext.privileged"),
            "true".into(),
        );
    }
    let caps = sc.capabilities.clone().unwrap_or_default();
    for cap in caps.add.iter().flatten() {
        let bare = cap.trim_start_matches("CAP_");
        if !BASELINE_CAPABILITIES.contains(&bare) {
            add(
                Rule::Capabilities,
                at("securityContext.capabilities.add"),
                format!("{cap} is not in the baseline set"),
            );
        }
        if bare != "NET_BIND_SERVICE" {
            add(
                Rule::CapabilitiesRestricted,
                at("securityContext.capabilities.add"),
                format!("{cap}: only NET_BIND_SERVICE may be added"),
            );
        }
    }
    if !caps.drop.iter().flatten().any(|c| c == "ALL") {
        add(
            Rule::CapabilitiesRestricted,
            at("securityContext.capabilities.drop"),
            "ALL is not dropped".into(),
        );
    }
    if !ports.is_empty() {
        add(
            Rule::HostPorts,
            at("ports"),
            format!("host ports {ports:?}"),
        );
    }
}

/// A container's AppArmor (field and annotation), SELinux, /proc mount and seccomp (both
/// levels; the pod's profile counts when the container sets none).
fn check_container_profiles(
    add: &mut impl FnMut(Rule, String, String),
    sc: &SecurityContext,
    name: &str,
    annotations: &BTreeMap<String, String>,
    pod_seccomp: Option<&str>,
    at: &impl Fn(&str) -> String,
) {
    check_app_armor_profile(
        add,
        &at("securityContext.appArmorProfile"),
        sc.app_armor_profile.as_ref().map(|p| p.type_.as_str()),
    );
    if let Some(value) = annotations.get(&format!("{APPARMOR_CONTAINER_ANNOTATION}{name}"))
        && !(value == "runtime/default" || value.starts_with("localhost/"))
    {
        add(
            Rule::AppArmor,
            format!("metadata.annotations.{APPARMOR_CONTAINER_ANNOTATION}{name}"),
            value.clone(),
        );
    }
    check_se_linux(
        add,
        &at("securityContext.seLinuxOptions"),
        sc.se_linux_options.as_ref(),
    );
    if sc.proc_mount.as_deref().is_some_and(|m| m != "Default") {
        add(
            Rule::ProcMountType,
            at("securityContext.procMount"),
            sc.proc_mount.clone().unwrap_or_default(),
        );
    }
    let seccomp = seccomp_type(sc.seccomp_profile.as_ref()).or_else(|| {
        annotations
            .get(&format!("{SECCOMP_CONTAINER_ANNOTATION}{name}"))
            .map(|a| annotation_seccomp(a))
    });
    if seccomp == Some("Unconfined") {
        add(
            Rule::Seccomp,
            at("securityContext.seccompProfile.type"),
            "Unconfined".into(),
        );
    }
    let effective = seccomp.or(pod_seccomp);
    if !matches!(effective, Some("RuntimeDefault" | "Localhost")) {
        add(
            Rule::SeccompRestricted,
            at("securityContext.seccompProfile.type"),
            format!(
                "{} (RuntimeDefault or Localhost required, here or for the pod)",
                effective.unwrap_or("unset")
            ),
        );
    }
}

/// A container's Privilege Escalation, Running as Non-root (the pod's setting counts when the
/// container has none), Non-root user and Non-root groups.
fn check_container_users(
    add: &mut impl FnMut(Rule, String, String),
    sc: &SecurityContext,
    pod_sc: &PodSecurityContext,
    at: &impl Fn(&str) -> String,
) {
    if sc.allow_privilege_escalation != Some(false) {
        add(
            Rule::PrivilegeEscalation,
            at("securityContext.allowPrivilegeEscalation"),
            format!(
                "{} (false required)",
                sc.allow_privilege_escalation
                    .map_or("unset".to_string(), |v| v.to_string())
            ),
        );
    }
    let non_root = sc.run_as_non_root.or(pod_sc.run_as_non_root);
    if non_root != Some(true) {
        add(
            Rule::RunningAsNonRoot,
            at("securityContext.runAsNonRoot"),
            format!(
                "{} (true required, here or for the pod)",
                non_root.map_or("unset".to_string(), |v| v.to_string())
            ),
        );
    }
    if sc.run_as_user == Some(0) {
        add(
            Rule::RunningAsNonRootUser,
            at("securityContext.runAsUser"),
            "0".into(),
        );
    }
    if sc.run_as_group == Some(0) {
        add(
            Rule::NonRootGroups,
            at("securityContext.runAsGroup"),
            "0".into(),
        );
    }
}

fn seccomp_type(profile: Option<&SeccompProfile>) -> Option<&str> {
    profile.map(|p| p.type_.as_str())
}

/// The seccomp annotations of releases before 1.19, in the field's terms.
fn annotation_seccomp(value: &str) -> &'static str {
    match value {
        "runtime/default" | "docker/default" => "RuntimeDefault",
        v if v.starts_with("localhost/") => "Localhost",
        _ => "Unconfined",
    }
}

fn check_app_armor_profile(
    add: &mut impl FnMut(Rule, String, String),
    field: &str,
    profile_type: Option<&str>,
) {
    if let Some(t) = profile_type
        && !matches!(t, "RuntimeDefault" | "Localhost")
    {
        add(Rule::AppArmor, format!("{field}.type"), t.to_string());
    }
}

fn check_se_linux(
    add: &mut impl FnMut(Rule, String, String),
    field: &str,
    options: Option<&SELinuxOptions>,
) {
    let Some(o) = options else { return };
    if let Some(t) = &o.type_
        && !SELINUX_TYPES.contains(&t.as_str())
    {
        add(Rule::SeLinux, format!("{field}.type"), t.clone());
    }
    for (name, value) in [("user", &o.user), ("role", &o.role)] {
        if value.as_deref().is_some_and(|v| !v.is_empty()) {
            add(
                Rule::SeLinux,
                format!("{field}.{name}"),
                value.clone().unwrap_or_default(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(value: serde_json::Value) -> PodTemplateSpec {
        serde_json::from_value(value).unwrap()
    }

    fn rules(p: &PodTemplateSpec, level: Level) -> Vec<Rule> {
        let mut r: Vec<Rule> = pss_violations(p, level)
            .into_iter()
            .map(|v| v.rule)
            .collect();
        r.sort();
        r.dedup();
        r
    }

    fn restricted_container() -> serde_json::Value {
        json!({"name": "c", "image": "i", "securityContext": {
            "allowPrivilegeEscalation": false, "runAsNonRoot": true, "runAsUser": 1000,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}})
    }

    #[test]
    fn a_restricted_pod_passes_both_levels() {
        let p = pod(json!({"spec": {"containers": [restricted_container()],
            "volumes": [{"name": "v", "emptyDir": {}}, {"name": "s", "secret": {"secretName": "x"}}]}}));
        assert_eq!(pss_violations(&p, Level::Restricted), vec![]);
    }

    #[test]
    fn an_empty_container_passes_baseline_but_not_restricted() {
        let p = pod(json!({"spec": {"containers": [{"name": "c", "image": "i"}]}}));
        assert_eq!(rules(&p, Level::Baseline), vec![]);
        assert_eq!(
            rules(&p, Level::Restricted),
            vec![
                Rule::PrivilegeEscalation,
                Rule::RunningAsNonRoot,
                Rule::SeccompRestricted,
                Rule::CapabilitiesRestricted
            ]
        );
    }

    #[test]
    fn each_baseline_rule_fires() {
        let cases = [
            (json!({"hostPID": true}), Rule::HostNamespaces),
            (
                json!({"volumes": [{"name": "h", "hostPath": {"path": "/"}}]}),
                Rule::HostPathVolumes,
            ),
            (
                json!({"securityContext": {"sysctls": [{"name": "kernel.msgmax", "value": "1"}]}}),
                Rule::Sysctls,
            ),
            (
                json!({"securityContext": {"seccompProfile": {"type": "Unconfined"}}}),
                Rule::Seccomp,
            ),
            (
                json!({"securityContext": {"seLinuxOptions": {"type": "spc_t"}}}),
                Rule::SeLinux,
            ),
            (
                json!({"securityContext": {"windowsOptions": {"hostProcess": true}}}),
                Rule::HostProcess,
            ),
            (
                json!({"securityContext": {"appArmorProfile": {"type": "Unconfined"}}}),
                Rule::AppArmor,
            ),
        ];
        for (spec, rule) in cases {
            let mut spec = spec;
            spec["containers"] = json!([restricted_container()]);
            let p = pod(json!({"spec": spec}));
            assert!(rules(&p, Level::Baseline).contains(&rule), "{rule:?}");
        }
        let container_cases = [
            (json!({"privileged": true}), Rule::PrivilegedContainers),
            (
                json!({"capabilities": {"add": ["SYS_PTRACE"]}}),
                Rule::Capabilities,
            ),
            (json!({"procMount": "Unmasked"}), Rule::ProcMountType),
            (json!({"seLinuxOptions": {"user": "root"}}), Rule::SeLinux),
        ];
        for (sc, rule) in container_cases {
            let p = pod(
                json!({"spec": {"containers": [{"name": "c", "image": "i", "securityContext": sc}]}}),
            );
            assert!(rules(&p, Level::Baseline).contains(&rule), "{rule:?}");
        }
        let p = pod(json!({"spec": {"containers": [{"name": "c", "image": "i",
            "ports": [{"containerPort": 80, "hostPort": 80}]}]}}));
        assert_eq!(rules(&p, Level::Baseline), vec![Rule::HostPorts]);
        let p = pod(json!({"metadata": {"annotations": {
            "container.apparmor.security.beta.kubernetes.io/c": "unconfined"}},
            "spec": {"containers": [{"name": "c", "image": "i"}]}}));
        assert_eq!(rules(&p, Level::Baseline), vec![Rule::AppArmor]);
    }

    #[test]
    fn the_pod_seccomp_field_wins_over_the_old_annotation() {
        let sc = |t: Option<&str>| PodSecurityContext {
            seccomp_profile: t.map(|t| SeccompProfile {
                type_: t.into(),
                ..SeccompProfile::default()
            }),
            ..PodSecurityContext::default()
        };
        let annotation = |v: &str| BTreeMap::from([(SECCOMP_POD_ANNOTATION.into(), v.into())]);
        let unconfined = annotation("unconfined");
        assert_eq!(
            pod_seccomp(&sc(Some("RuntimeDefault")), &unconfined),
            Some("RuntimeDefault")
        );
        assert_eq!(pod_seccomp(&sc(None), &unconfined), Some("Unconfined"));
        assert_eq!(
            pod_seccomp(&sc(None), &annotation("docker/default")),
            Some("RuntimeDefault")
        );
        assert_eq!(pod_seccomp(&sc(None), &BTreeMap::new()), None);
    }

    #[test]
    fn a_host_path_volume_breaks_both_volume_rules_under_its_name() {
        let p = pod(json!({"spec": {"containers": [],
            "volumes": [{"name": "root", "hostPath": {"path": "/"}}, {"name": "e", "emptyDir": {}}]}}));
        let mut found = Vec::new();
        check_volumes(
            &mut |rule, field, detail| found.push((rule, field, detail)),
            p.spec.as_ref().unwrap(),
        );
        assert_eq!(
            found,
            vec![
                (
                    Rule::HostPathVolumes,
                    "spec.volumes[root]".to_string(),
                    "hostPath".to_string()
                ),
                (
                    Rule::VolumeTypes,
                    "spec.volumes[root]".to_string(),
                    "hostPath is not an allowed volume type".to_string()
                ),
            ]
        );
    }

    #[test]
    fn restricted_rules_fire_and_allow_what_the_documentation_allows() {
        let mut c = restricted_container();
        c["securityContext"]["capabilities"]["add"] = json!(["NET_BIND_SERVICE"]);
        let p = pod(json!({"spec": {"containers": [c]}}));
        assert_eq!(rules(&p, Level::Restricted), vec![]);
        let mut c = restricted_container();
        c["securityContext"]["runAsUser"] = json!(0);
        c["securityContext"]["runAsGroup"] = json!(0);
        let p = pod(
            json!({"spec": {"containers": [c], "volumes": [{"name": "n", "nfs": {"server": "s", "path": "/"}}]}}),
        );
        assert_eq!(
            rules(&p, Level::Restricted),
            vec![
                Rule::VolumeTypes,
                Rule::RunningAsNonRootUser,
                Rule::NonRootGroups
            ]
        );
        // Pod-level settings count for every container; the old annotations count before 1.19.
        let p = pod(json!({
            "metadata": {"annotations": {"seccomp.security.alpha.kubernetes.io/pod": "runtime/default"}},
            "spec": {"securityContext": {"runAsNonRoot": true},
            "containers": [{"name": "c", "image": "i", "securityContext": {
                "allowPrivilegeEscalation": false, "capabilities": {"drop": ["ALL"]}}}]}}));
        assert_eq!(rules(&p, Level::Restricted), vec![]);
    }
}
