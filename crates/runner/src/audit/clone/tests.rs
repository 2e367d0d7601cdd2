use super::*;
use crate::audit::discover::Target;
use k8s_openapi::api::core::v1::{EnvVar, PodTemplateSpec, SecurityContext, Volume};
use serde_json::{Value, json};
use sidescan_core::audit::record::VolumeNote;
use sidescan_core::audit::{AuditSpec, PlacementMode, WorkloadKind};
use sidescan_core::names;
use sidescan_core::spec::ScanBackend;

pub(crate) fn spec(extra: Value) -> AuditSpec {
    let mut base = json!({
        "scanner": {"backend": "builtin", "image": "localhost/sidescan-scanner:dev"},
        "results": {"storeUrl": "s3://audits/prod", "endpoint": "http://127.0.0.1:8333",
                    "allowHttp": true, "credentialsSecret": {"name": "store"}},
        "cluster": {"hostNetwork": true},
    });
    if let (Some(base), Some(extra)) = (base.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            base.insert(k.clone(), v.clone());
        }
    }
    sidescan_core::audit::from_value(base).unwrap()
}

pub(crate) fn template() -> PodTemplateSpec {
    serde_json::from_value(json!({
        "metadata": {
            "labels": {"app": "web", "tier": "front"},
            "annotations": {
                "vault.hashicorp.com/agent-inject": "true",
                "container.apparmor.security.beta.kubernetes.io/app": "runtime/default",
                "container.apparmor.security.beta.kubernetes.io/proxy": "unconfined",
            },
        },
        "spec": {
            "serviceAccountName": "web",
            "hostPID": true,
            "priorityClassName": "critical",
            "imagePullSecrets": [{"name": "regcred"}],
            "securityContext": {"runAsUser": 1000, "runAsGroup": 3000, "fsGroup": 2000},
            "nodeSelector": {"kubernetes.io/arch": "amd64"},
            "tolerations": [{"key": "dedicated", "operator": "Exists"}],
            "affinity": {
                "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "disk", "operator": "In", "values": ["ssd"]}]}]}},
                "podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
                    {"labelSelector": {"matchLabels": {"app": "web"}}, "topologyKey": "kubernetes.io/hostname"}]},
            },
            "initContainers": [{"name": "migrate", "image": "web:1", "command": ["/migrate"]}],
            "containers": [{
                "name": "app",
                "image": "localhost/sidescan-target-distroless:dev",
                "command": ["/app/server"],
                "args": ["--serve"],
                "workingDir": "/srv",
                "env": [
                    {"name": "MODE", "value": "prod"},
                    {"name": "DB_PASSWORD", "valueFrom": {"secretKeyRef": {"name": "db", "key": "pw"}}},
                    {"name": "POD_IP", "valueFrom": {"fieldRef": {"fieldPath": "status.podIP"}}},
                ],
                "envFrom": [{"configMapRef": {"name": "web-config"}}],
                "securityContext": {"readOnlyRootFilesystem": true, "allowPrivilegeEscalation": false,
                                    "capabilities": {"drop": ["ALL"]}},
                "ports": [{"containerPort": 8080, "hostPort": 8080}],
                "livenessProbe": {"httpGet": {"path": "/", "port": 8080}},
                "lifecycle": {"preStop": {"exec": {"command": ["/deregister"]}}},
                "resources": {"requests": {"cpu": "4", "memory": "16Gi"}},
                "volumeMounts": [
                    {"name": "config", "mountPath": "/etc/web"},
                    {"name": "creds", "mountPath": "/etc/creds"},
                    {"name": "data", "mountPath": "/data"},
                    {"name": "host", "mountPath": "/host", "mountPropagation": "HostToContainer"},
                    {"name": "token", "mountPath": "/var/run/tokens"},
                    {"name": "cache", "mountPath": "/cache"},
                ],
            }, {
                "name": "proxy", "image": "envoy:1.30",
                "volumeMounts": [{"name": "proxy-config", "mountPath": "/etc/envoy"}],
            }],
            "volumes": [
                {"name": "config", "configMap": {"name": "web-config"}},
                {"name": "creds", "secret": {"secretName": "web-creds"}},
                {"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
                {"name": "host", "hostPath": {"path": "/var/log"}},
                {"name": "token", "projected": {"sources": [
                    {"serviceAccountToken": {"path": "token", "audience": "vault"}},
                    {"configMap": {"name": "ca"}},
                ]}},
                {"name": "cache", "emptyDir": {}},
                {"name": "proxy-config", "configMap": {"name": "envoy"}},
            ],
        },
    }))
    .unwrap()
}

pub(crate) fn target() -> Target {
    Target {
        namespace: "shop".into(),
        kind: WorkloadKind::Deployment,
        workload: "web".into(),
        workload_uid: Some("uid-web".into()),
        container: "app".into(),
        image: "localhost/sidescan-target-distroless:dev".into(),
        template: template(),
        service_account_pull_secrets: vec!["sa-cred".into(), "regcred".into()],
        running_digests: vec![],
    }
}

/// A clone's run binding as the audit makes it: the folder and a grant for its two objects
/// (URLs made up).
fn binding() -> crate::binding::RunBinding {
    let t = target();
    let location = sidescan_core::RunLocation::new(
        "",
        &t.namespace,
        &t.segment(),
        "2026-11-26T03:00:00Z".parse().unwrap(),
        RunId::parse("abc123def456").unwrap(),
    )
    .unwrap();
    let objects = ["hdf.json", "metadata.json"]
        .iter()
        .map(|f| {
            let key = format!("prod/{}/{f}", location.folder());
            let object = sidescan_store::ObjectGrant {
                key: key.clone(),
                content_type: "application/json".into(),
                put: format!("https://s3.test/audits/{key}?X-Amz-Signature=p"),
                get: format!("https://s3.test/audits/{key}?X-Amz-Signature=g"),
            };
            (f.to_string(), object)
        })
        .collect();
    crate::binding::RunBinding {
        location,
        store_prefix: Some("prod".into()),
        grant: Some(sidescan_store::UploadGrant {
            store: "s3://audits/prod".into(),
            expires: "2026-11-26T04:00:00Z".into(),
            objects,
        }),
    }
}

pub(crate) fn build_with(spec: &AuditSpec, namespace: &str) -> Clone {
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let run = RunId::parse("abc123def456").unwrap();
    let binding = binding();
    let req = CloneRequest {
        spec,
        audit_id: &audit,
        run_id: &run,
        namespace,
        owner: None,
        // What the audit copies beside clones for a cinc profile without a URL.
        profile: (spec.scanner.backend == ScanBackend::Cinc).then(|| ProfileMount {
            config_map: format!("sidescan-{audit}-profile"),
            files: vec!["inspec.yml".into(), "controls/a.rb".into()],
        }),
        seccomp_field: true,
        now: "2026-11-26T03:00:00Z".parse().unwrap(),
        binding: Some(&binding),
    };
    build(&target(), &req).unwrap()
}

fn container<'a>(pod: &'a Pod, name: &str) -> &'a Container {
    pod.spec
        .as_ref()
        .unwrap()
        .containers
        .iter()
        .find(|c| c.name == name)
        .unwrap()
}

#[test]
fn the_clone_carries_only_sidescan_labels_and_no_token() {
    let clone = build_with(
        &spec(json!({"placement": {"mode": "workload-namespace"}})),
        "shop",
    );
    let meta = &clone.pod.metadata;
    assert_eq!(meta.namespace.as_deref(), Some("shop"));
    assert_eq!(meta.name.as_deref(), Some("sidescan-web-abc123def456"));
    let labels = meta.labels.as_ref().unwrap();
    assert!(
        labels
            .keys()
            .all(|k| k.starts_with("app.kubernetes.io/") || k.starts_with("sidescan.io/"))
    );
    assert!(!labels.contains_key("app") && !labels.contains_key("tier"));
    assert_eq!(
        labels["sidescan.io/audit-id"],
        "audit-20261126-030000-abcdef"
    );
    let annotations = meta.annotations.as_ref().unwrap();
    assert!(!annotations.contains_key("vault.hashicorp.com/agent-inject"));
    assert_eq!(
        annotations["container.apparmor.security.beta.kubernetes.io/app"],
        "runtime/default"
    );
    assert!(!annotations.contains_key("container.apparmor.security.beta.kubernetes.io/proxy"));
    assert_eq!(annotations["sidescan.io/expires"], "2026-11-26T03:12:00Z");
    let spec = clone.pod.spec.as_ref().unwrap();
    assert_eq!(spec.automount_service_account_token, Some(false));
    assert_eq!(spec.service_account_name, None);
    assert_eq!(spec.share_process_namespace, Some(true));
    assert_eq!(spec.restart_policy.as_deref(), Some("Never"));
    // No projected ServiceAccount token survives anywhere.
    let text = serde_json::to_string(&clone.pod).unwrap();
    assert!(!text.contains("serviceAccountToken"), "{text}");
}

#[test]
fn the_target_keeps_image_env_workdir_and_security_context_and_runs_hold() {
    let clone = build_with(
        &spec(json!({"placement": {"mode": "workload-namespace"}})),
        "shop",
    );
    let app = container(&clone.pod, "app");
    let original = &template().spec.unwrap().containers[0];
    assert_eq!(app.image, original.image);
    // Every variable but the Secret reference (clones read no Secret).
    let mut env = original.env.clone().unwrap();
    env.retain(|e| e.name != "DB_PASSWORD");
    assert_eq!(app.env.as_ref(), Some(&env));
    assert_eq!(clone.env_not_reproduced, ["DB_PASSWORD"]);
    assert_eq!(app.env_from, original.env_from);
    assert_eq!(app.working_dir.as_deref(), Some("/srv"));
    assert_eq!(app.security_context, original.security_context);
    assert_eq!(app.command.as_ref().unwrap(), &["/.sidescan-hold/hold"]);
    assert_eq!(app.args.as_ref().unwrap(), &["660"]);
    assert!(app.ports.is_none() && app.liveness_probe.is_none() && app.lifecycle.is_none());
    let requests = app.resources.as_ref().unwrap().requests.as_ref().unwrap();
    assert_eq!(requests["memory"].0, "16Mi");
    let spec = clone.pod.spec.as_ref().unwrap();
    assert_eq!(
        spec.security_context,
        template().spec.unwrap().security_context
    );
    assert_eq!(spec.containers.len(), 2, "only the target and the scanner");
    let init = spec.init_containers.as_ref().unwrap();
    assert_eq!(init.len(), 1);
    assert_eq!(init[0].name, HOLD_CONTAINER);
    assert_eq!(
        init[0].image.as_deref(),
        Some("localhost/sidescan-scanner:dev")
    );
    assert_eq!(
        init[0].args.as_ref().unwrap(),
        &["install-hold", "/.sidescan-hold/hold"]
    );
    let hold_mount = app
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == HOLD_VOLUME)
        .unwrap();
    assert_eq!(hold_mount.read_only, Some(true));
    assert!(
        clone
            .not_reproduced
            .iter()
            .any(|n| n.starts_with("hostPID"))
    );
    assert!(
        clone
            .not_reproduced
            .iter()
            .any(|n| n.starts_with("init containers"))
    );
}

#[test]
fn entrypoint_mode_keeps_the_workloads_command_and_resources() {
    let clone = build_with(&spec(json!({"target": {"run": "entrypoint"}})), "sidescan");
    let app = container(&clone.pod, "app");
    assert_eq!(app.command.as_ref().unwrap(), &["/app/server"]);
    assert_eq!(app.args.as_ref().unwrap(), &["--serve"]);
    assert_eq!(
        app.resources.as_ref().unwrap().requests.as_ref().unwrap()["cpu"].0,
        "4"
    );
    assert!(clone.pod.spec.as_ref().unwrap().init_containers.is_none());
    assert!(
        !app.volume_mounts
            .iter()
            .flatten()
            .any(|m| m.name == HOLD_VOLUME)
    );
}

#[test]
fn unsafe_volumes_become_empty_directories_and_are_listed() {
    let clone = build_with(
        &spec(json!({"placement": {"mode": "workload-namespace"}})),
        "shop",
    );
    let volumes = clone.pod.spec.as_ref().unwrap().volumes.clone().unwrap();
    let by_name = |n: &str| volumes.iter().find(|v| v.name == n).cloned().unwrap();
    assert!(by_name("config").config_map.is_some());
    assert!(by_name("creds").empty_dir.is_some() && by_name("creds").secret.is_none());
    assert!(
        by_name("data").empty_dir.is_some() && by_name("data").persistent_volume_claim.is_none()
    );
    assert!(by_name("host").empty_dir.is_some() && by_name("host").host_path.is_none());
    assert!(by_name("cache").empty_dir.is_some());
    let token = by_name("token").projected.unwrap().sources.unwrap();
    assert_eq!(token.len(), 1);
    assert!(token[0].config_map.is_some());
    assert!(
        !volumes.iter().any(|v| v.name == "proxy-config"),
        "only the target's volumes"
    );
    let noted: Vec<(&str, &str)> = clone
        .volumes_not_scanned
        .iter()
        .map(|n| (n.name.as_str(), n.kind.as_str()))
        .collect();
    assert_eq!(
        noted,
        [
            ("creds", "secret"),
            ("data", "persistentVolumeClaim"),
            ("host", "hostPath"),
            ("token", "projected")
        ]
    );
    assert_eq!(clone.volumes_not_scanned[0].reason, SECRETS_NOT_MOUNTED);
    let app = container(&clone.pod, "app");
    let host = app
        .volume_mounts
        .iter()
        .flatten()
        .find(|m| m.name == "host")
        .unwrap();
    assert_eq!(host.mount_propagation, None);
}

#[test]
fn a_scan_namespace_clone_leaves_out_the_workloads_objects() {
    let clone = build_with(&spec(json!({})), "sidescan");
    assert_eq!(clone.pod.metadata.namespace.as_deref(), Some("sidescan"));
    let noted: Vec<&str> = clone
        .volumes_not_scanned
        .iter()
        .map(|n| n.name.as_str())
        .collect();
    assert_eq!(noted, ["config", "creds", "data", "host", "token"]);
    assert_eq!(
        clone.env_not_reproduced,
        ["DB_PASSWORD", "envFrom ConfigMap web-config"]
    );
    let app = container(&clone.pod, "app");
    let names: Vec<&str> = app.env.iter().flatten().map(|e| e.name.as_str()).collect();
    assert_eq!(names, ["MODE", "POD_IP"]);
    assert!(app.env_from.is_none());
}

#[test]
fn scheduling_keeps_node_placement_and_drops_pod_affinity() {
    let clone = build_with(&spec(json!({})), "sidescan");
    let spec = clone.pod.spec.as_ref().unwrap();
    assert_eq!(spec.node_selector, template().spec.unwrap().node_selector);
    assert_eq!(spec.tolerations, template().spec.unwrap().tolerations);
    let affinity = spec.affinity.as_ref().unwrap();
    assert!(affinity.node_affinity.is_some());
    assert!(affinity.pod_anti_affinity.is_none() && affinity.pod_affinity.is_none());
    assert_eq!(spec.priority_class_name, None);
    assert_eq!(spec.host_pid, None);
    assert_eq!(spec.host_network, Some(true), "cluster.hostNetwork");
    let secrets: Vec<&str> = spec
        .image_pull_secrets
        .iter()
        .flatten()
        .map(|r| r.name.as_str())
        .collect();
    assert_eq!(secrets, ["regcred", "sa-cred"]);
}

#[test]
fn the_scanner_runs_the_agent_with_the_least_it_needs() {
    let clone = build_with(&spec(json!({})), "sidescan");
    let scanner = container(&clone.pod, "sidescan-scanner");
    let args = scanner.args.as_ref().unwrap().join(" ");
    assert!(
        args.starts_with("scan --backend builtin --identify heuristic --target-container app"),
        "{args}"
    );
    assert!(
        args.contains("--target-name deployment.web.app --run-id abc123def456"),
        "{args}"
    );
    assert!(args.contains("--store s3://audits/prod"), "{args}");
    // The template names UID 1000 at pod level: same-uid, no capabilities.
    assert_eq!(clone.security_mode, "same-uid");
    let sc = scanner.security_context.as_ref().unwrap();
    assert_eq!((sc.run_as_user, sc.run_as_group), (Some(1000), Some(3000)));
    assert_eq!(sc.capabilities.as_ref().unwrap().add, None);
    let env: BTreeMap<&str, &EnvVar> = scanner
        .env
        .iter()
        .flatten()
        .map(|e| (e.name.as_str(), e))
        .collect();
    assert_eq!(
        env["POD_NAMESPACE"].value.as_deref(),
        Some("shop"),
        "results under the workload's namespace"
    );
    assert!(
        !env.contains_key("AWS_SECRET_ACCESS_KEY") && !env.contains_key("AWS_ACCESS_KEY_ID"),
        "no credentials in a clone"
    );
    // Instead: the run's presigned uploads, for the folder the arguments name.
    let grant = sidescan_store::UploadGrant::parse(
        env[sidescan_core::scanner::env::UPLOAD_URLS]
            .value
            .as_deref()
            .unwrap(),
        "env",
    )
    .unwrap();
    assert_eq!(grant, binding().grant.unwrap());
    assert!(
        args.contains("--run-folder 20261126T030000Z-abc123def456"),
        "{args}"
    );
    let context: Value =
        serde_json::from_str(env[AUDIT_CONTEXT_ENV].value.as_deref().unwrap()).unwrap();
    assert_eq!(context["workload"]["kind"], "Deployment");
    assert_eq!(context["volumes_not_scanned"].as_array().unwrap().len(), 5);
}

#[test]
fn security_modes() {
    let mut t = target();
    t.template.spec.as_mut().unwrap().security_context = None;
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let run = RunId::parse("abc123def456").unwrap();
    let auto = spec(json!({}));
    let req = |spec| CloneRequest {
        spec,
        audit_id: &audit,
        run_id: &run,
        namespace: "sidescan",
        owner: None,
        profile: None,
        seccomp_field: false,
        now: "2026-11-26T03:00:00Z".parse().unwrap(),
        binding: None,
    };
    let clone = build(&t, &req(&auto)).unwrap();
    assert_eq!(clone.security_mode, "ptrace");
    let sc = container(&clone.pod, "sidescan-scanner")
        .security_context
        .clone()
        .unwrap();
    assert_eq!(sc.capabilities.unwrap().add.unwrap(), ["SYS_PTRACE"]);
    assert_eq!(sc.run_as_user, Some(0));
    assert!(sc.seccomp_profile.is_none(), "annotation before 1.19");
    assert!(
        clone
            .pod
            .metadata
            .annotations
            .unwrap()
            .contains_key("container.seccomp.security.alpha.kubernetes.io/sidescan-scanner")
    );
    let strict = spec(json!({"security": {"mode": "same-uid"}}));
    let refused = build(&t, &req(&strict)).unwrap_err();
    assert!(refused.0.contains("same-uid"), "{refused}");
    let ptrace = spec(json!({"security": {"mode": "ptrace"}}));
    assert_eq!(
        build(&target(), &req(&ptrace)).unwrap().security_mode,
        "ptrace"
    );
}

#[test]
fn cinc_needs_a_profile_config_map_in_the_clones_namespace() {
    let cinc =
        spec(json!({"scanner": {"backend": "cinc", "image": "s:1"}, "profile": {"dir": "p"}}));
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let run = RunId::parse("abc123def456").unwrap();
    let mut req = CloneRequest {
        spec: &cinc,
        audit_id: &audit,
        run_id: &run,
        namespace: "sidescan",
        owner: None,
        profile: None,
        seccomp_field: true,
        now: "2026-11-26T03:00:00Z".parse().unwrap(),
        binding: None,
    };
    assert!(build(&target(), &req).is_err());
    req.profile = Some(ProfileMount {
        config_map: "sidescan-audit-profile".into(),
        files: vec!["inspec.yml".into(), "controls/a.rb".into()],
    });
    let clone = build(&target(), &req).unwrap();
    let volume = clone
        .pod
        .spec
        .unwrap()
        .volumes
        .unwrap()
        .into_iter()
        .find(|v| v.name == PROFILE_VOLUME)
        .unwrap();
    let items = volume.config_map.unwrap().items.unwrap();
    assert_eq!(items[1].key, "controls__a.rb");
    assert_eq!(items[1].path, "controls/a.rb");
}

/// The audit specs the clone tests build clones for (added to [`spec`]'s base).
pub(crate) fn spec_variants() -> Vec<Value> {
    vec![
        json!({}),
        json!({"placement": {"mode": "workload-namespace"}}),
        json!({"target": {"run": "entrypoint"}}),
        json!({"security": {"mode": "ptrace"}}),
        json!({"security": {"mode": "same-uid"}, "cluster": {"hostNetwork": false}}),
        json!({"placement": {"mode": "workload-namespace"}, "select": {"namespaces": ["shop"]},
               "scanner": {"backend": "cinc", "image": "s:1"}, "profile": {"dir": "p"}}),
    ]
}

#[test]
fn every_clone_is_a_valid_pod_object() {
    for extra in spec_variants() {
        let spec = spec(extra);
        let clone = build_with(&spec, spec.clone_namespace("shop"));
        let value = serde_json::to_value(&clone.pod).unwrap();
        let back: Pod = serde_json::from_value(value.clone()).unwrap();
        assert_eq!(serde_json::to_value(&back).unwrap(), value);
        names::check_dns_label("name", clone.pod.metadata.name.as_deref().unwrap()).unwrap();
    }
}

#[test]
fn secrets_privileges_and_unplaced_namespaces_never_reach_a_clone() {
    let mut t = target();
    let pod = t.template.spec.as_mut().unwrap();
    pod.volumes.as_mut().unwrap().push(
        serde_json::from_value(json!({"name": "mixed", "projected": {"sources": [
            {"secret": {"name": "tls"}}, {"downwardAPI": {"items": [
                {"path": "labels", "fieldRef": {"fieldPath": "metadata.labels"}}]}}]}}))
        .unwrap(),
    );
    let app = &mut pod.containers[0];
    app.volume_mounts
        .as_mut()
        .unwrap()
        .push(serde_json::from_value(json!({"name": "mixed", "mountPath": "/etc/mixed"})).unwrap());
    app.env_from = Some(
        serde_json::from_value(json!([
            {"configMapRef": {"name": "web-config"}},
            {"secretRef": {"name": "web-secrets"}},
        ]))
        .unwrap(),
    );
    app.security_context = Some(
        serde_json::from_value(json!({"privileged": true, "runAsUser": 1000,
            "capabilities": {"add": ["NET_BIND_SERVICE", "SYS_ADMIN", "NET_ADMIN"]}}))
        .unwrap(),
    );
    let audit = AuditId::parse("audit-20261126-030000-abcdef").unwrap();
    let run = RunId::parse("abc123def456").unwrap();
    let workload_ns = spec(json!({"placement": {"mode": "workload-namespace"}}));
    let req = |spec, namespace| CloneRequest {
        spec,
        audit_id: &audit,
        run_id: &run,
        namespace,
        owner: None,
        profile: None,
        seccomp_field: true,
        now: "2026-11-26T03:00:00Z".parse().unwrap(),
        binding: None,
    };
    let clone = build(&t, &req(&workload_ns, "shop")).unwrap();
    let app = container(&clone.pod, "app");
    let sc = app.security_context.as_ref().unwrap();
    assert_eq!(sc.privileged, None);
    assert_eq!(
        sc.capabilities.as_ref().unwrap().add.as_deref(),
        Some(&["NET_BIND_SERVICE".to_string()][..])
    );
    assert_eq!(sc.run_as_user, Some(1000), "the rest of the context stays");
    assert!(
        clone
            .not_reproduced
            .contains(&"privileged (clones are never privileged)".to_string())
    );
    assert!(
        clone
            .not_reproduced
            .iter()
            .any(|n| n.starts_with("capabilities SYS_ADMIN, NET_ADMIN"))
    );
    assert_eq!(
        clone.env_not_reproduced,
        ["DB_PASSWORD", "envFrom Secret web-secrets"]
    );
    assert_eq!(
        app.env_from.as_ref().unwrap()[0]
            .config_map_ref
            .as_ref()
            .unwrap()
            .name,
        "web-config"
    );
    // The pod names no Secret at all: not even the store's credentials (the scanner uploads
    // through the run's presigned URLs).
    fn secret_names(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                for (k, v) in map {
                    match (k.as_str(), v) {
                        ("secretKeyRef" | "secretRef" | "secret", Value::Object(r)) => {
                            let name = r.get("name").or_else(|| r.get("secretName"));
                            out.push(name.and_then(Value::as_str).unwrap_or("").to_string());
                        }
                        _ => secret_names(v, out),
                    }
                }
            }
            Value::Array(items) => items.iter().for_each(|v| secret_names(v, out)),
            _ => {}
        }
    }
    let mut names = Vec::new();
    secret_names(&serde_json::to_value(&clone.pod.spec).unwrap(), &mut names);
    assert!(names.is_empty(), "{names:?}");
    let mixed = clone
        .pod
        .spec
        .as_ref()
        .unwrap()
        .volumes
        .as_ref()
        .unwrap()
        .iter()
        .find(|v| v.name == "mixed")
        .unwrap()
        .clone();
    assert_eq!(mixed.projected.unwrap().sources.unwrap().len(), 1);
    assert!(
        clone
            .volumes_not_scanned
            .iter()
            .any(|n| n.name == "mixed" && n.reason.starts_with("partly mounted: left out a Secret"))
    );

    // kube-system only when the spec names it; nowhere the spec does not place clones.
    let refused = build(&t, &req(&workload_ns, "kube-system")).unwrap_err();
    assert!(refused.0.contains("kube-system only when"), "{refused}");
    let named = spec(json!({"placement": {"mode": "workload-namespace"},
        "select": {"namespaces": ["kube-system"]}}));
    assert!(build(&t, &req(&named, "kube-system")).is_ok());
    assert!(build(&t, &req(&named, "shop")).is_err());
    let scan_ns = spec(json!({}));
    assert!(build(&t, &req(&scan_ns, "shop")).is_err());
    assert!(build(&t, &req(&scan_ns, "sidescan")).is_ok());
}

// The builders on their own.

fn volume(value: Value) -> Volume {
    serde_json::from_value(value).unwrap()
}

#[test]
fn a_secret_volume_is_replaced_wherever_the_clone_runs() {
    let creds = volume(json!({"name": "creds", "secret": {"secretName": "web-creds"}}));
    for placement in [
        PlacementMode::WorkloadNamespace,
        PlacementMode::ScanNamespace,
    ] {
        let (cloned, note) = volumes::clone_volume(&creds, placement, "shop");
        assert_eq!(cloned.name, "creds");
        assert!(cloned.secret.is_none() && cloned.empty_dir.is_some());
        let note = note.unwrap();
        assert_eq!(
            (note.kind.as_str(), note.reason.as_str()),
            ("secret", SECRETS_NOT_MOUNTED)
        );
    }
}

#[test]
fn a_host_path_is_replaced_by_an_empty_directory_without_a_size_limit() {
    let host = volume(json!({"name": "host", "hostPath": {"path": "/var/log"}}));
    let (cloned, note) = volumes::clone_volume(&host, PlacementMode::WorkloadNamespace, "shop");
    assert!(cloned.host_path.is_none());
    assert_eq!(cloned.empty_dir.unwrap().size_limit, None);
    let note = note.unwrap();
    assert_eq!(note.kind, "hostPath");
    assert_eq!(note.reason, "host paths are never mounted into clones");
}

#[test]
fn a_config_map_is_mounted_only_in_the_workloads_namespace() {
    let config = volume(json!({"name": "config", "configMap": {"name": "web-config"}}));
    let (same, note) = volumes::clone_volume(&config, PlacementMode::WorkloadNamespace, "shop");
    assert_eq!(same, config);
    assert_eq!(note, None);
    let (other, note) = volumes::clone_volume(&config, PlacementMode::ScanNamespace, "sidescan");
    assert!(other.config_map.is_none() && other.empty_dir.is_some());
    let reason = note.unwrap().reason;
    assert!(reason.contains("clones run in sidescan"), "{reason}");
}

#[test]
fn a_projected_volume_keeps_its_safe_sources_and_lists_the_others() {
    let token = volume(json!({"name": "token", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}},
        {"configMap": {"name": "ca"}},
        {"downwardAPI": {"items": [{"path": "l", "fieldRef": {"fieldPath": "metadata.labels"}}]}},
    ]}}));
    let (narrowed, note) = volumes::clone_volume(&token, PlacementMode::ScanNamespace, "sidescan");
    let sources = narrowed.projected.unwrap().sources.unwrap();
    assert_eq!(sources.len(), 1);
    assert!(sources[0].downward_api.is_some());
    let reason = note.unwrap().reason;
    assert!(
        reason.starts_with(
            "partly mounted: left out a ServiceAccount token (clones mount none); a ConfigMap:"
        ),
        "{reason}"
    );
    // Nothing safe left: the volume is replaced, not mounted with no sources.
    let unsafe_only = volume(json!({"name": "token", "projected": {"sources": [
        {"serviceAccountToken": {"path": "token"}}, {"secret": {"name": "tls"}}]}}));
    let (replaced, note) =
        volumes::clone_volume(&unsafe_only, PlacementMode::WorkloadNamespace, "shop");
    assert!(replaced.projected.is_none() && replaced.empty_dir.is_some());
    assert!(
        note.unwrap()
            .reason
            .starts_with("its sources are not mounted: ")
    );
}

#[test]
fn only_replaced_volumes_lose_their_mount_propagation() {
    let mut original = template().spec.unwrap().containers[0].clone();
    for m in original.volume_mounts.iter_mut().flatten() {
        m.mount_propagation = Some("HostToContainer".into());
    }
    let note = |name: &str, reason: &str| VolumeNote {
        name: name.into(),
        kind: "projected".into(),
        reason: reason.into(),
    };
    let notes = [
        note("host", "host paths are never mounted"),
        note("token", "partly mounted: x"),
    ];
    let built = target::container(&original, &notes, &spec(json!({})));
    let propagation = |name: &str| {
        let mounts = built.container.volume_mounts.iter().flatten();
        mounts
            .filter(|m| m.name == name)
            .map(|m| m.mount_propagation.clone())
            .next()
            .unwrap()
    };
    assert_eq!(propagation("host"), None);
    assert_eq!(propagation("token").as_deref(), Some("HostToContainer"));
    assert_eq!(propagation("config").as_deref(), Some("HostToContainer"));
}

#[test]
fn the_target_container_drops_ports_probes_lifecycle_and_devices_and_lists_them() {
    let original: Container = serde_json::from_value(json!({
        "name": "app", "image": "web:1", "tty": true, "stdin": true,
        "ports": [{"containerPort": 8080}],
        "readinessProbe": {"tcpSocket": {"port": 8080}},
        "lifecycle": {"preStop": {"exec": {"command": ["/bye"]}}},
        "volumeDevices": [{"name": "raw", "devicePath": "/dev/xvda"}],
    }))
    .unwrap();
    let (kept, dropped) = target::without_production_settings(&original);
    assert_eq!(kept.image.as_deref(), Some("web:1"));
    assert!(kept.ports.is_none() && kept.readiness_probe.is_none() && kept.lifecycle.is_none());
    assert!(kept.volume_devices.is_none() && kept.tty.is_none() && kept.stdin.is_none());
    assert_eq!(
        dropped,
        [
            "ports",
            "probes",
            "lifecycle hooks",
            "volumeDevices (raw block devices)"
        ]
    );
    // Nothing to drop, nothing listed (tty and stdin are not worth a note).
    let plain: Container = serde_json::from_value(json!({"name": "app", "tty": true})).unwrap();
    assert!(target::without_production_settings(&plain).1.is_empty());
}

#[test]
fn config_map_references_stay_only_in_the_workloads_namespace() {
    let original: Container = serde_json::from_value(json!({
        "name": "app",
        "env": [
            {"name": "A", "valueFrom": {"configMapKeyRef": {"name": "c", "key": "a"}}},
            {"name": "B", "valueFrom": {"secretKeyRef": {"name": "s", "key": "b"}}},
        ],
        "envFrom": [{"configMapRef": {"name": "c"}}, {"secretRef": {"name": "s"}}],
    }))
    .unwrap();
    let mut here = original.clone();
    let left_out = target::leave_out_references(&mut here, false);
    assert_eq!(left_out, ["B", "envFrom Secret s"]);
    assert_eq!(here.env.unwrap().len(), 1);
    assert_eq!(here.env_from.unwrap().len(), 1);
    let mut elsewhere = original;
    let left_out = target::leave_out_references(&mut elsewhere, true);
    assert_eq!(
        left_out,
        ["A", "B", "envFrom ConfigMap c", "envFrom Secret s"]
    );
    assert_eq!(elsewhere.env, Some(vec![]));
    assert_eq!(elsewhere.env_from, None, "no empty envFrom");
}

#[test]
fn privileges_beyond_baseline_are_dropped_and_an_empty_add_goes() {
    let mut sc: SecurityContext = serde_json::from_value(json!({
        "privileged": true, "runAsUser": 1000,
        "capabilities": {"add": ["SYS_ADMIN"], "drop": ["ALL"]},
    }))
    .unwrap();
    let dropped = target::narrow_privileges(&mut sc);
    assert_eq!(sc.privileged, None);
    assert_eq!(sc.run_as_user, Some(1000));
    let caps = sc.capabilities.unwrap();
    assert_eq!((caps.add, caps.drop), (None, Some(vec!["ALL".to_string()])));
    assert_eq!(dropped.len(), 2);
    assert!(
        dropped[1].starts_with("capabilities SYS_ADMIN "),
        "{dropped:?}"
    );
}

#[test]
fn sidescan_volumes_come_in_order_and_hold_only_when_the_target_runs_it() {
    let names = |spec: &AuditSpec, profile: Option<&ProfileMount>| -> Vec<String> {
        volumes::sidescan_volumes(spec, profile)
            .into_iter()
            .map(|v| v.name)
            .collect()
    };
    let profile = ProfileMount {
        config_map: "p".into(),
        files: vec!["inspec.yml".into()],
    };
    assert_eq!(
        names(&spec(json!({})), Some(&profile)),
        [PROFILE_VOLUME, RESULTS_VOLUME, TMP_VOLUME, HOLD_VOLUME]
    );
    assert_eq!(
        names(&spec(json!({"target": {"run": "entrypoint"}})), None),
        [RESULTS_VOLUME, TMP_VOLUME]
    );
    assert!(hold::init_container(&spec(json!({"target": {"run": "entrypoint"}})), true).is_none());
}

#[test]
fn the_hold_installer_is_restricted_and_its_seccomp_profile_follows_the_cluster() {
    let installer = hold::init_container(&spec(json!({})), true).unwrap();
    let sc = installer.security_context.unwrap();
    assert_eq!(
        (sc.run_as_user, sc.run_as_non_root),
        (Some(INSTALLER_UID), Some(true))
    );
    assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
    let old = hold::init_container(&spec(json!({})), false).unwrap();
    assert!(old.security_context.unwrap().seccomp_profile.is_none());
}

#[test]
fn host_network_is_listed_only_when_the_cluster_setting_drops_it() {
    let mut pod = template().spec.unwrap();
    pod.host_network = Some(true);
    let kept = placement::not_reproduced(&pod, &spec(json!({})));
    assert!(!kept.iter().any(|n| n == "hostNetwork"), "{kept:?}");
    let off = spec(json!({"cluster": {"hostNetwork": false}}));
    let dropped = placement::not_reproduced(&pod, &off);
    assert!(dropped.iter().any(|n| n == "hostNetwork"), "{dropped:?}");
    assert_eq!(
        placement::pod_spec(&pod, &target(), &off).host_network,
        None
    );
}
