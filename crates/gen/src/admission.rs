//! The ValidatingAdmissionPolicies rendered beside the Roles (`admissionregistration.k8s.io/v1`,
//! Kubernetes 1.30 and newer): what a holder of sidescan's ServiceAccount tokens (the
//! orchestrator's, the scanner's, the audit runner's) may create and delete with the `create` and
//! `delete` rights RBAC cannot narrow by content.
//!
//! A [`Fence`] describes, from a spec, exactly what sidescan itself creates: its labels, the
//! pinned scanner image and invocation, the ServiceAccount and token, the Secrets, claims and
//! volumes the spec names. [`policies`] turns it into CEL, pure and deterministic; the templates
//! only lay the policies out. docs/security.md ("What pod create means") explains each rule.

use crate::KubeVersion;
use serde::Serialize;
use sidescan_core::audit::CloneNamespaces;
use sidescan_core::labels;
use std::collections::BTreeMap;

/// Capabilities Pod Security "baseline" allows a container to add; the scanner may add
/// `SYS_PTRACE` on top in `ptrace` mode. Anything else (`SYS_ADMIN`, `NET_ADMIN`, `ALL`, ...)
/// is refused.
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

/// The scanner's projected token may live this long at most (`scanner.identify: api`).
pub const MAX_TOKEN_SECONDS: i64 = 600;

/// The policies of one spec, or why there are none.
#[derive(Debug, Clone, Serialize)]
pub struct Admission {
    /// `admissionregistration.k8s.io/v1` exists: Kubernetes 1.30 and newer.
    pub enabled: bool,
    /// The release rendered for, named in the comment that replaces the policies before 1.30.
    pub kube_version: String,
    pub policies: Vec<Policy>,
}

/// One ValidatingAdmissionPolicy and its binding (same name).
#[derive(Debug, Clone, Serialize)]
pub struct Policy {
    pub name: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `pods` or `configmaps` (one resource per policy, so each type-checks against one schema).
    pub resource: &'static str,
    pub match_conditions: Vec<Named>,
    pub variables: Vec<Named>,
    pub validations: Vec<Validation>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Named {
    pub name: String,
    pub expression: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Validation {
    pub expression: String,
    pub message: String,
    pub reason: &'static str,
}

/// The target container of a scan pod, pinned (the scan workflow knows it from the spec).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PinnedTarget {
    pub container: String,
    pub image: String,
    pub command: Option<Vec<String>>,
    pub args: Option<Vec<String>>,
}

/// What sidescan itself creates under one set of ServiceAccounts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fence {
    /// `sidescan-<scan|clone>`: the policies are `<base>-pods.<name>.<namespace>` and
    /// `<base>-configmaps.<name>.<namespace>` (cluster-scoped: the namespace in the name; each
    /// dot-separated part a DNS label, whatever the lengths of the name and namespace).
    pub base_name: String,
    /// The target's (or audit's) name and namespace, in the policies' names.
    pub name_suffix: String,
    pub labels: BTreeMap<String, String>,
    pub annotations: BTreeMap<String, String>,
    /// `system:serviceaccount:<namespace>:<name>` of each ServiceAccount fenced.
    pub users: Vec<String>,
    pub namespaces: CloneNamespaces,
    /// `app.kubernetes.io/component` of the pods (`scan-pod`, `audit-clone`).
    pub pod_component: &'static str,
    /// The label carrying the id that names ConfigMaps (`sidescan.io/run-id`, `.../audit-id`).
    pub id_label: &'static str,
    /// `sidescan.io/target` of every object (the scan workflow: one target).
    pub target_label: Option<String>,
    /// The one pod name (the scan workflow's `sidescan-scan-<target>`).
    pub pod_name: Option<String>,
    pub service_account: String,
    /// The scanner's projected API token (`scanner.identify: api`, 1.22+).
    pub api_token_volume: Option<String>,
    pub scanner_container: String,
    pub scanner_image: String,
    /// `SYS_PTRACE` on the scanner (`ptrace` mode, or an audit's `auto`).
    pub ptrace: bool,
    pub target: Option<PinnedTarget>,
    /// The clones' hold installer: its container name and arguments.
    pub hold: Option<(String, Vec<String>)>,
    pub host_network: bool,
    /// Secrets volumes (and projected sources) may name.
    pub volume_secrets: Vec<String>,
    /// Secrets the scanner's `secretKeyRef` entries may name (the store credentials).
    pub scanner_env_secrets: Vec<String>,
    /// Secrets the target's `envFrom` may name.
    pub target_env_from_secrets: Vec<String>,
    /// PersistentVolumeClaims volumes may name.
    pub claims: Vec<String>,
    /// Volumes of other kinds (CSI, ephemeral, network) the spec names for the target.
    pub other_volumes: Vec<String>,
}

/// A CEL string literal: single quotes; backslash, quote and control characters escaped.
pub fn cel_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('\'');
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 || (0x7f..=0x9f).contains(&(c as u32)) => {
                out.push_str(&format!("\\u{:04x}", c as u32));
            }
            c if c.is_ascii() => out.push(c),
            c if (c as u32) <= 0xffff => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push_str(&format!("\\U{:08x}", c as u32)),
        }
    }
    out.push('\'');
    out
}

/// A CEL list of string literals.
pub fn cel_list<S: AsRef<str>>(items: &[S]) -> String {
    let inner: Vec<String> = items.iter().map(|s| cel_string(s.as_ref())).collect();
    format!("[{}]", inner.join(", "))
}

fn validation(expression: impl Into<String>, message: impl Into<String>) -> Validation {
    Validation {
        expression: expression.into(),
        message: message.into(),
        reason: "Forbidden",
    }
}

fn named(name: &str, expression: impl Into<String>) -> Named {
    Named {
        name: name.into(),
        expression: expression.into(),
    }
}

/// `has(<label key>) && labels[key] == value`, on `variables.labels`.
fn label_is(key: &str, value: &str) -> String {
    let k = cel_string(key);
    format!(
        "{k} in variables.labels && variables.labels[{k}] == {}",
        cel_string(value)
    )
}

fn namespaces_rule(fence: &Fence, what: &str) -> Validation {
    match &fence.namespaces {
        CloneNamespaces::Only(list) if list.len() == 1 => validation(
            format!("request.namespace == {}", cel_string(&list[0])),
            format!(
                "sidescan's ServiceAccounts create and delete {what} only in namespace {}",
                list[0]
            ),
        ),
        CloneNamespaces::Only(list) => validation(
            format!("request.namespace in {}", cel_list(list)),
            format!(
                "sidescan's ServiceAccounts create and delete {what} only in namespaces {}",
                list.join(", ")
            ),
        ),
        CloneNamespaces::AllBut(list) => validation(
            format!("!(request.namespace in {})", cel_list(list)),
            format!(
                "sidescan's ServiceAccounts create and delete no {what} in namespaces {} (kube-system only when the spec names it)",
                list.join(", ")
            ),
        ),
    }
}

fn common_head(fence: &Fence) -> (Vec<Named>, Vec<Named>) {
    let conditions = vec![named(
        "sidescan-service-accounts",
        format!("request.userInfo.username in {}", cel_list(&fence.users)),
    )];
    let variables = vec![
        named(
            "meta",
            "request.operation == 'DELETE' ? oldObject.metadata : object.metadata",
        ),
        named(
            "labels",
            "has(variables.meta.labels) ? variables.meta.labels : {'': ''}",
        ),
    ];
    (conditions, variables)
}

fn sidescan_labels_rule(what: &str) -> Validation {
    validation(
        format!(
            "[{}, {}].all(k, k in variables.labels && variables.labels[k] == 'sidescan')",
            cel_string(labels::APP_MANAGED_BY),
            cel_string(labels::APP_PART_OF)
        ),
        format!(
            "sidescan's ServiceAccounts create and delete only {what} labelled {}=sidescan and {}=sidescan",
            labels::APP_MANAGED_BY,
            labels::APP_PART_OF
        ),
    )
}

/// `component`, the target and the id label, as sidescan sets them.
fn run_labels_rule(fence: &Fence, component: &str, what: &str) -> Validation {
    let id = cel_string(fence.id_label);
    let mut parts = vec![label_is(labels::APP_COMPONENT, component)];
    let mut said = vec![format!("{}={component}", labels::APP_COMPONENT)];
    if let Some(target) = &fence.target_label {
        parts.push(label_is(labels::TARGET, target));
        said.push(format!("{}={target}", labels::TARGET));
    }
    parts.push(format!(
        "{id} in variables.labels && variables.labels[{id}].matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')"
    ));
    said.push(format!("a {} label", fence.id_label));
    validation(
        parts.join("\n&& "),
        format!(
            "{what} sidescan creates and deletes carry {}",
            said.join(", ")
        ),
    )
}

/// The pods policy: scan pods (or clones) exactly as sidescan builds them. Each group of rules
/// is its own function; their order is the order of the policy's validations.
fn pods_policy(fence: &Fence) -> Policy {
    let (match_conditions, mut variables) = common_head(fence);
    variables.push(named(
        "containers",
        "request.operation == 'CREATE' ? object.spec.containers + (has(object.spec.initContainers) ? object.spec.initContainers : []) : []",
    ));
    variables.push(named(
        "volumes",
        "request.operation == 'CREATE' && has(object.spec.volumes) ? object.spec.volumes : []",
    ));
    let mut validations = pod_identity_rules(fence);
    validations.push(pod_shape_rule(fence));
    validations.extend(pinned_image_rules(fence));
    validations.extend(privilege_rules(fence));
    validations.extend(volume_rules(fence));
    validations.push(env_secrets_rule(fence));
    Policy {
        name: format!("{}-pods.{}", fence.base_name, fence.name_suffix),
        labels: fence.labels.clone(),
        annotations: fence.annotations.clone(),
        resource: "pods",
        match_conditions,
        variables,
        validations,
    }
}

/// A rule on the pod's content, which only a create has (a delete is checked by its labels).
fn on_create(body: impl std::fmt::Display) -> String {
    format!("request.operation != 'CREATE' || (\n{body}\n)")
}

/// Where the pod is, its labels and name, its ServiceAccount and token, and the host
/// namespaces it does not use.
fn pod_identity_rules(fence: &Fence) -> Vec<Validation> {
    let mut validations = vec![
        namespaces_rule(fence, "pods"),
        sidescan_labels_rule("pods"),
        run_labels_rule(fence, fence.pod_component, "pods"),
    ];
    if let Some(name) = &fence.pod_name {
        validations.push(validation(
            on_create(format!("object.metadata.name == {}", cel_string(name))),
            format!("the scan pod is named {name}"),
        ));
    }
    let sa = cel_string(&fence.service_account);
    validations.push(validation(
        on_create(format!(
            "(!has(object.spec.serviceAccountName) || object.spec.serviceAccountName == {sa})\n\
             && (!has(object.spec.serviceAccount) || object.spec.serviceAccount == {sa})"
        )),
        format!(
            "a pod sidescan creates runs as ServiceAccount {}",
            fence.service_account
        ),
    ));
    validations.push(validation(
        on_create(
            "has(object.spec.automountServiceAccountToken) && !object.spec.automountServiceAccountToken",
        ),
        "a pod sidescan creates sets automountServiceAccountToken: false",
    ));
    let mut host = vec![
        "!(has(object.spec.hostPID) && object.spec.hostPID)".to_string(),
        "!(has(object.spec.hostIPC) && object.spec.hostIPC)".to_string(),
    ];
    let mut host_said = "hostPID or hostIPC";
    if !fence.host_network {
        host.push("!(has(object.spec.hostNetwork) && object.spec.hostNetwork)".into());
        host_said = "hostPID, hostIPC or hostNetwork";
    }
    validations.push(validation(
        on_create(host.join("\n&& ")),
        format!("a pod sidescan creates uses no {host_said}"),
    ));
    validations
}

/// The pod's shape: the target and the scanner, and for clones the hold installer.
fn pod_shape_rule(fence: &Fence) -> Validation {
    let mut shape = vec![
        "size(object.spec.containers) == 2".to_string(),
        format!(
            "object.spec.containers.exists(c, c.name == {})",
            cel_string(&fence.scanner_container)
        ),
    ];
    let no_init = "(!has(object.spec.initContainers) || size(object.spec.initContainers) == 0)";
    let shape_said = match (&fence.target, &fence.hold) {
        (Some(target), _) => {
            shape.push(format!(
                "object.spec.containers.exists(c, c.name == {})",
                cel_string(&target.container)
            ));
            shape.push(no_init.into());
            format!(
                "two containers, {} and {}, and no init container",
                target.container, fence.scanner_container
            )
        }
        (None, Some((hold, _))) => {
            shape.push(format!(
                "(!has(object.spec.initContainers) || (size(object.spec.initContainers) <= 1\n    && object.spec.initContainers.all(c, c.name == {})))",
                cel_string(hold)
            ));
            format!(
                "two containers, the target and {}, and at most the init container {hold}",
                fence.scanner_container
            )
        }
        (None, None) => {
            shape.push(no_init.into());
            format!(
                "two containers, the target and {}, and no init container",
                fence.scanner_container
            )
        }
    };
    shape.push("!has(object.spec.ephemeralContainers)".into());
    validation(
        on_create(shape.join("\n&& ")),
        format!("a pod sidescan creates has {shape_said}"),
    )
}

/// The scanner (and the hold installer) run the pinned image as sidescan invokes it; a pinned
/// target runs the spec's image, command and args.
fn pinned_image_rules(fence: &Fence) -> Vec<Validation> {
    let scanner = cel_string(&fence.scanner_container);
    let scanner_image = cel_string(&fence.scanner_image);
    let mut pinned = vec![format!(
        "variables.containers.all(c, c.name != {scanner} || (c.image == {scanner_image}\n    && !has(c.command) && has(c.args) && size(c.args) > 0 && c.args[0] == {}))",
        cel_string(sidescan_core::scanner::SCAN_SUBCOMMAND)
    )];
    let mut pinned_said = format!(
        "{} runs {} with `{}`",
        fence.scanner_container,
        fence.scanner_image,
        sidescan_core::scanner::SCAN_SUBCOMMAND
    );
    if let Some((hold, args)) = &fence.hold {
        pinned.push(format!(
            "variables.containers.all(c, c.name != {} || (c.image == {scanner_image}\n    && !has(c.command) && has(c.args) && c.args == {}))",
            cel_string(hold),
            cel_list(args)
        ));
        pinned_said.push_str(&format!(" and {hold} runs it with `{}`", args.join(" ")));
    }
    let mut validations = vec![validation(
        on_create(pinned.join("\n&& ")),
        format!("the scanner image is pinned: {pinned_said}"),
    )];
    if let Some(target) = &fence.target {
        let list_field = |field: &str, value: &Option<Vec<String>>| match value {
            Some(items) => format!("has(c.{field}) && c.{field} == {}", cel_list(items)),
            None => format!("!has(c.{field})"),
        };
        validations.push(validation(
            on_create(format!(
                "object.spec.containers.all(c, c.name != {} || (c.image == {}\n    && {}\n    && {}))",
                cel_string(&target.container),
                cel_string(&target.image),
                list_field("command", &target.command),
                list_field("args", &target.args),
            )),
            format!(
                "the target container {} runs {} with the spec's command and args",
                target.container, target.image
            ),
        ));
    }
    validations
}

/// No privileged container or Windows host process; only baseline capabilities (and
/// `SYS_PTRACE` on the scanner in `ptrace` mode).
fn privilege_rules(fence: &Fence) -> Vec<Validation> {
    let privileged = validation(
        on_create(
            "variables.containers.all(c, !has(c.securityContext)\n    || ((!has(c.securityContext.privileged) || !c.securityContext.privileged)\n    && !(has(c.securityContext.windowsOptions) && has(c.securityContext.windowsOptions.hostProcess) && c.securityContext.windowsOptions.hostProcess)))\n&& !(has(object.spec.securityContext) && has(object.spec.securityContext.windowsOptions)\n    && has(object.spec.securityContext.windowsOptions.hostProcess) && object.spec.securityContext.windowsOptions.hostProcess)",
        ),
        "no container of a pod sidescan creates is privileged (or a Windows host process)",
    );
    let ptrace = if fence.ptrace {
        format!(
            " || (c.name == {} && cap == 'SYS_PTRACE')",
            cel_string(&fence.scanner_container)
        )
    } else {
        String::new()
    };
    let capabilities = validation(
        on_create(format!(
            "variables.containers.all(c, !has(c.securityContext) || !has(c.securityContext.capabilities)\n    || !has(c.securityContext.capabilities.add)\n    || c.securityContext.capabilities.add.all(cap, cap in {}{ptrace}))",
            cel_list(&BASELINE_CAPABILITIES)
        )),
        format!(
            "containers add only the capabilities Pod Security baseline allows{}",
            if fence.ptrace {
                format!(", and {} SYS_PTRACE", fence.scanner_container)
            } else {
                String::new()
            }
        ),
    );
    vec![privileged, capabilities]
}

/// The volumes: no hostPath, only the spec's Secrets and claims, only the scanner's API token,
/// and no other kind the spec does not name.
fn volume_rules(fence: &Fence) -> Vec<Validation> {
    vec![
        validation(
            on_create("variables.volumes.all(v, !has(v.hostPath))"),
            "a pod sidescan creates mounts no hostPath volume",
        ),
        secret_volumes_rule(fence),
        claims_rule(fence),
        token_rule(fence),
        other_volumes_rule(fence),
    ]
}

fn secret_volumes_rule(fence: &Fence) -> Validation {
    let (secret_volume, secret_source, secrets_said) = if fence.volume_secrets.is_empty() {
        (
            "!has(v.secret)".to_string(),
            "!has(s.secret)".to_string(),
            "no Secret".to_string(),
        )
    } else {
        let list = cel_list(&fence.volume_secrets);
        (
            format!(
                "(!has(v.secret) || (has(v.secret.secretName) && v.secret.secretName in {list}))"
            ),
            format!("(!has(s.secret) || (has(s.secret.name) && s.secret.name in {list}))"),
            format!("only the Secrets {}", fence.volume_secrets.join(", ")),
        )
    };
    validation(
        on_create(format!(
            "variables.volumes.all(v, {secret_volume}\n    && (!has(v.projected) || !has(v.projected.sources) || v.projected.sources.all(s, {secret_source})))"
        )),
        format!("a pod sidescan creates mounts {secrets_said}"),
    )
}

fn claims_rule(fence: &Fence) -> Validation {
    let (claims, claims_said) = if fence.claims.is_empty() {
        (
            "!has(v.persistentVolumeClaim)".to_string(),
            "no PersistentVolumeClaim".to_string(),
        )
    } else {
        (
            format!(
                "!has(v.persistentVolumeClaim) || v.persistentVolumeClaim.claimName in {}",
                cel_list(&fence.claims)
            ),
            format!(
                "only the PersistentVolumeClaims {}",
                fence.claims.join(", ")
            ),
        )
    };
    validation(
        on_create(format!("variables.volumes.all(v, {claims})")),
        format!("a pod sidescan creates mounts {claims_said}"),
    )
}

/// No ServiceAccount token, or only the scanner's short-lived one for the API server.
fn token_rule(fence: &Fence) -> Validation {
    let Some(volume) = &fence.api_token_volume else {
        return validation(
            on_create(
                "variables.volumes.all(v, !has(v.projected) || !has(v.projected.sources)\n    || v.projected.sources.all(s, !has(s.serviceAccountToken)))",
            ),
            "a pod sidescan creates mounts no ServiceAccount token",
        );
    };
    let scanner = cel_string(&fence.scanner_container);
    let cel_volume = cel_string(volume);
    validation(
        on_create(format!(
            "variables.volumes.all(v, !has(v.projected) || !has(v.projected.sources)\n    || v.projected.sources.all(s, !has(s.serviceAccountToken)\n        || (v.name == {cel_volume} && !has(s.serviceAccountToken.audience)\n            && has(s.serviceAccountToken.expirationSeconds) && s.serviceAccountToken.expirationSeconds <= {MAX_TOKEN_SECONDS})))\n&& object.spec.containers.all(c, c.name == {scanner} || !has(c.volumeMounts)\n    || c.volumeMounts.all(m, m.name != {cel_volume}))\n&& (!has(object.spec.initContainers) || object.spec.initContainers.all(c, !has(c.volumeMounts)\n    || c.volumeMounts.all(m, m.name != {cel_volume})))"
        )),
        format!(
            "the only ServiceAccount token is the scanner's, in volume {volume}, for the API server, for at most {MAX_TOKEN_SECONDS} seconds, mounted in {} only",
            fence.scanner_container
        ),
    )
}

fn other_volumes_rule(fence: &Fence) -> Validation {
    let known = "has(v.emptyDir) || has(v.configMap) || has(v.downwardAPI) || has(v.secret)\n    || has(v.projected) || has(v.persistentVolumeClaim) || has(v.hostPath)";
    let (others, others_said) = if fence.other_volumes.is_empty() {
        (
            format!("variables.volumes.all(v, {known})"),
            "emptyDir, configMap, downwardAPI and the volumes above only".to_string(),
        )
    } else {
        (
            format!(
                "variables.volumes.all(v, {known}\n    || v.name in {})",
                cel_list(&fence.other_volumes)
            ),
            format!(
                "emptyDir, configMap, downwardAPI, the volumes above and the spec's {} only",
                fence.other_volumes.join(", ")
            ),
        )
    };
    validation(
        on_create(others),
        format!("a pod sidescan creates mounts {others_said}"),
    )
}

/// Secrets in the environment: only the scanner's store credentials and the target's
/// `envFrom` Secrets the spec names.
fn env_secrets_rule(fence: &Fence) -> Validation {
    let env_rule = if fence.scanner_env_secrets.is_empty() {
        "!has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef))"
            .to_string()
    } else {
        format!(
            "!has(c.env) || c.env.all(e, !has(e.valueFrom) || !has(e.valueFrom.secretKeyRef)\n        || (c.name == {} && has(e.valueFrom.secretKeyRef.name) && e.valueFrom.secretKeyRef.name in {}))",
            cel_string(&fence.scanner_container),
            cel_list(&fence.scanner_env_secrets)
        )
    };
    let env_from_rule = match (&fence.target, fence.target_env_from_secrets.is_empty()) {
        (Some(target), false) => format!(
            "!has(c.envFrom) || c.envFrom.all(f, !has(f.secretRef)\n        || (c.name == {} && has(f.secretRef.name) && f.secretRef.name in {}))",
            cel_string(&target.container),
            cel_list(&fence.target_env_from_secrets)
        ),
        _ => "!has(c.envFrom) || c.envFrom.all(f, !has(f.secretRef))".to_string(),
    };
    let mut env_said = Vec::new();
    if !fence.scanner_env_secrets.is_empty() {
        env_said.push(format!(
            "{} reads {}",
            fence.scanner_container,
            fence.scanner_env_secrets.join(", ")
        ));
    }
    if !fence.target_env_from_secrets.is_empty() {
        env_said.push(format!(
            "the target reads {}",
            fence.target_env_from_secrets.join(", ")
        ));
    }
    validation(
        on_create(format!(
            "variables.containers.all(c, ({env_rule})\n    && ({env_from_rule}))"
        )),
        if env_said.is_empty() {
            "no container of a pod sidescan creates reads a Secret into its environment".into()
        } else {
            format!(
                "Secrets reach the environment only as sidescan renders them: {}",
                env_said.join("; ")
            )
        },
    )
}

/// The ConfigMaps policy: only sidescan's own, named after their run (or audit).
fn config_maps_policy(fence: &Fence) -> Policy {
    let (match_conditions, variables) = common_head(fence);
    let id = cel_string(fence.id_label);
    let validations = vec![
        namespaces_rule(fence, "ConfigMaps"),
        sidescan_labels_rule("ConfigMaps"),
        run_labels_rule(fence, labels::Component::Profile.as_str(), "ConfigMaps"),
        validation(
            format!(
                "{id} in variables.labels && variables.meta.name.startsWith('sidescan-' + variables.labels[{id}] + '-')"
            ),
            format!(
                "a ConfigMap sidescan creates or deletes is named sidescan-<{}>-*",
                fence.id_label
            ),
        ),
    ];
    Policy {
        name: format!("{}-configmaps.{}", fence.base_name, fence.name_suffix),
        labels: fence.labels.clone(),
        annotations: fence.annotations.clone(),
        resource: "configmaps",
        match_conditions,
        variables,
        validations,
    }
}

/// The policies for `fence`, for Kubernetes 1.30 and newer; none before.
pub fn policies(fence: &Fence, kube: KubeVersion) -> Admission {
    let enabled = kube.has_validating_admission_policy();
    Admission {
        enabled,
        kube_version: kube.to_string(),
        policies: if enabled {
            vec![pods_policy(fence), config_maps_policy(fence)]
        } else {
            Vec::new()
        },
    }
}

/// `system:serviceaccount:<namespace>:<name>`: how a ServiceAccount's requests name their user.
pub fn service_account_user(namespace: &str, name: &str) -> String {
    format!("system:serviceaccount:{namespace}:{name}")
}

/// The names of the Secrets, PersistentVolumeClaims and other volumes `volumes` (Kubernetes
/// `Volume` objects as JSON) reference, sorted and without repeats.
pub fn volume_references(volumes: &[serde_json::Value]) -> VolumeReferences {
    let mut refs = VolumeReferences::default();
    let fenced = [
        "emptyDir",
        "configMap",
        "downwardAPI",
        "secret",
        "projected",
        "persistentVolumeClaim",
        "hostPath",
    ];
    for volume in volumes {
        if let Some(name) = volume["secret"]["secretName"].as_str() {
            refs.secrets.push(name.to_string());
        }
        for source in volume["projected"]["sources"]
            .as_array()
            .into_iter()
            .flatten()
        {
            if let Some(name) = source["secret"]["name"].as_str() {
                refs.secrets.push(name.to_string());
            }
        }
        if let Some(claim) = volume["persistentVolumeClaim"]["claimName"].as_str() {
            refs.claims.push(claim.to_string());
        }
        let kind_known = volume
            .as_object()
            .is_some_and(|m| m.keys().any(|k| fenced.contains(&k.as_str())));
        if !kind_known && let Some(name) = volume["name"].as_str() {
            refs.other_volumes.push(name.to_string());
        }
    }
    for list in [&mut refs.secrets, &mut refs.claims, &mut refs.other_volumes] {
        list.sort();
        list.dedup();
    }
    refs
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VolumeReferences {
    pub secrets: Vec<String>,
    pub claims: Vec<String>,
    pub other_volumes: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cel_strings_escape_what_would_end_or_break_them() {
        assert_eq!(cel_string("web"), "'web'");
        assert_eq!(cel_string("a'b\\c"), r"'a\'b\\c'");
        assert_eq!(cel_string("x\ny\u{7}"), r"'x\ny\u0007'");
        assert_eq!(cel_string("é😀"), r"'\u00e9\U0001f600'");
        assert_eq!(cel_list(&["a", "b"]), "['a', 'b']");
        assert_eq!(cel_list::<&str>(&[]), "[]");
    }

    /// A scan pod's fence: a pinned target, no hold installer, nothing else named.
    fn scan_fence() -> Fence {
        Fence {
            base_name: "sidescan-scan".into(),
            name_suffix: "web.team-a".into(),
            labels: BTreeMap::new(),
            annotations: BTreeMap::new(),
            users: vec![service_account_user("team-a", "sidescan-web-orchestrator")],
            namespaces: CloneNamespaces::Only(vec!["team-a".into()]),
            pod_component: "scan-pod",
            id_label: labels::RUN_ID,
            target_label: Some("web".into()),
            pod_name: Some("sidescan-scan-web".into()),
            service_account: "default".into(),
            api_token_volume: None,
            scanner_container: "sidescan-scanner".into(),
            scanner_image: "scanner:1".into(),
            ptrace: false,
            target: Some(PinnedTarget {
                container: "app".into(),
                image: "web:1".into(),
                command: None,
                args: None,
            }),
            hold: None,
            host_network: false,
            volume_secrets: vec![],
            scanner_env_secrets: vec![],
            target_env_from_secrets: vec![],
            claims: vec![],
            other_volumes: vec![],
        }
    }

    #[test]
    fn a_clone_may_have_the_hold_installer_as_its_one_init_container() {
        let scan = pod_shape_rule(&scan_fence());
        assert!(scan.expression.contains("c.name == 'app'"), "{scan:?}");
        assert!(
            scan.expression
                .contains("size(object.spec.initContainers) == 0")
        );
        assert_eq!(
            scan.message,
            "a pod sidescan creates has two containers, app and sidescan-scanner, and no init container"
        );
        let clone = Fence {
            target: None,
            hold: Some(("sidescan-hold".into(), vec!["hold".into()])),
            ..scan_fence()
        };
        let rule = pod_shape_rule(&clone);
        assert!(
            rule.expression
                .contains("object.spec.initContainers.all(c, c.name == 'sidescan-hold')"),
            "{rule:?}"
        );
        assert!(
            !rule
                .expression
                .contains("size(object.spec.initContainers) == 0")
        );
        assert!(
            rule.message
                .ends_with("at most the init container sidescan-hold")
        );
    }

    #[test]
    fn every_pod_rule_on_content_lets_a_delete_through() {
        // A delete has no object: only the namespace and label rules may judge it.
        for fence in [
            scan_fence(),
            Fence {
                target: None,
                hold: Some(("sidescan-hold".into(), vec!["hold".into()])),
                api_token_volume: Some("api-token".into()),
                ptrace: true,
                ..scan_fence()
            },
        ] {
            let policy = pods_policy(&fence);
            for v in &policy.validations[3..] {
                assert!(
                    v.expression
                        .starts_with("request.operation != 'CREATE' || (\n"),
                    "{v:?}"
                );
            }
        }
    }

    #[test]
    fn volume_references_name_secrets_claims_and_other_kinds() {
        let volumes = vec![
            serde_json::json!({"name": "a", "secret": {"secretName": "s1"}}),
            serde_json::json!({"name": "b", "projected": {"sources": [
                {"secret": {"name": "s2"}}, {"configMap": {"name": "c"}}]}}),
            serde_json::json!({"name": "c", "persistentVolumeClaim": {"claimName": "data"}}),
            serde_json::json!({"name": "d", "csi": {"driver": "x"}}),
            serde_json::json!({"name": "e", "configMap": {"name": "c"}}),
        ];
        let refs = volume_references(&volumes);
        assert_eq!(refs.secrets, ["s1", "s2"]);
        assert_eq!(refs.claims, ["data"]);
        assert_eq!(refs.other_volumes, ["d"]);
    }
}
