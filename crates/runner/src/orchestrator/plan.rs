//! The objects a run creates, built from the generator library's own templates (no second copy
//! of them): the scan pod (with the owner Job and the deadline), and for `sidescan-runner scan`
//! a per-run profile ConfigMap and, only when the scanner identifies through the API
//! (`scanner.identify: api`), its ServiceAccount, Role and RoleBinding. Pure: spec and file
//! contents in, objects out.

use crate::Error;
use k8s_openapi::api::core::v1::{ConfigMap, Pod, ServiceAccount};
use k8s_openapi::api::rbac::v1::{Role, RoleBinding};
use serde_json::{Value, json};
use sidescan_core::RunId;
use sidescan_core::labels::{self, Component};
use sidescan_core::spec::{self, PROFILE_MOUNT_PATH, ProfileConfigMap, ScanSpec};
use sidescan_gen::context::{self, SCANNER_KIND};
use sidescan_gen::inputs::{CONFIGMAP_LIMIT, Inputs};
use sidescan_gen::{Generator, Kind, KubeVersion};

/// The Job that owns the scan pod (in-cluster runs), from the downward API.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerJob {
    pub name: String,
    pub uid: String,
}

/// A profile archive given to `sidescan-runner scan`, shipped in a ConfigMap's `binaryData`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Archive {
    /// The file name: the ConfigMap key and the name under the profile mount.
    pub name: String,
    pub bytes: Vec<u8>,
}

/// What the plan is built from.
#[derive(Debug, Clone)]
pub struct PlanInput<'a> {
    /// The spec with this run's id set.
    pub spec: &'a ScanSpec,
    /// The profile directory's files, when `spec.profile.dir` is set.
    pub inputs: &'a Inputs,
    pub kube: KubeVersion,
    pub pod_name: &'a str,
    pub owner: Option<&'a OwnerJob>,
    /// `sidescan-runner scan`: the profile ConfigMap and (with `scanner.identify: api`) the
    /// scanner's RBAC are the run's own.
    pub per_run: bool,
    pub archive: Option<&'a Archive>,
    /// The run's folder and, for an S3 store, its presigned uploads: the scanner gets those
    /// instead of any credentials.
    pub binding: Option<&'a RunBinding>,
}

pub use crate::binding::RunBinding;

/// Every object the run creates, in creation order.
#[derive(Debug, Clone)]
pub struct Plan {
    pub run_id: RunId,
    pub config_maps: Vec<ConfigMap>,
    pub service_account: Option<ServiceAccount>,
    pub role: Option<Role>,
    pub role_binding: Option<RoleBinding>,
    pub pod: Pod,
}

impl Plan {
    /// `kind/name` of everything but the pod.
    pub fn other_objects(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .config_maps
            .iter()
            .map(|c| format!("configmap/{}", name_of(&c.metadata)))
            .collect();
        if let Some(sa) = &self.service_account {
            out.push(format!("serviceaccount/{}", name_of(&sa.metadata)));
        }
        if let Some(r) = &self.role {
            out.push(format!("role/{}", name_of(&r.metadata)));
        }
        if let Some(rb) = &self.role_binding {
            out.push(format!("rolebinding/{}", name_of(&rb.metadata)));
        }
        out
    }
}

fn name_of(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> &str {
    meta.name.as_deref().unwrap_or_default()
}

/// The name of a run's own object: unique per run, short whatever the target's name.
pub fn run_object_name(run_id: &RunId, kind: &str) -> String {
    format!("sidescan-{run_id}-{kind}")
}

fn render(
    generator: &Generator,
    kind: Kind,
    ctx: &sidescan_gen::RenderContext,
) -> Result<Vec<Value>, Error> {
    let rendered = generator.render_kinds(Some(kind), ctx)?;
    Ok(sidescan_gen::documents(&sidescan_gen::to_stream(
        &rendered,
    ))?)
}

fn typed<T: serde::de::DeserializeOwned>(value: Value, what: &str) -> Result<T, Error> {
    serde_json::from_value(value).map_err(|e| {
        Error::Gen(sidescan_gen::GenError::Render {
            template: what.into(),
            message: e.to_string(),
        })
    })
}

/// Makes the pod's ConfigMap volume `volume` mount `config_map`.
fn point_volume_at(pod: &mut Value, volume: &str, config_map: &str) {
    if let Some(volumes) = pod["spec"]["volumes"].as_array_mut() {
        for v in volumes.iter_mut().filter(|v| v["name"] == volume) {
            v["configMap"]["name"] = json!(config_map);
        }
    }
}

fn labels_value(target: &str, run_id: &RunId, component: Component) -> Value {
    json!(labels::run_labels(target, run_id, component))
}

/// Builds the run's objects.
pub fn plan(generator: &Generator, input: PlanInput<'_>) -> Result<Plan, Error> {
    let (spec, run_id) = run_spec(&input);
    let mut ctx = context::build(&spec, input.inputs, input.kube)?;
    if let Some(binding) = input.binding {
        ctx.pod.scanner.bind_run(
            &binding.location.folder_name(),
            binding.grant.as_ref().map(|g| g.to_json()),
        );
    }
    let mut pod = scan_pod(generator, &ctx, input.pod_name, input.owner)?;
    let own = if input.per_run {
        run_objects(generator, &ctx, &spec, &input, &run_id, &mut pod)?
    } else {
        RunObjects::default()
    };
    Ok(Plan {
        run_id,
        config_maps: own.config_maps,
        service_account: own.service_account,
        role: own.role,
        role_binding: own.role_binding,
        pod: typed(pod, "scan pod")?,
    })
}

/// The objects only `sidescan-runner scan` creates for its run.
#[derive(Default)]
struct RunObjects {
    config_maps: Vec<ConfigMap>,
    service_account: Option<ServiceAccount>,
    role: Option<Role>,
    role_binding: Option<RoleBinding>,
}

/// The spec as this run renders it: its run id set, no thresholds (the orchestrator evaluates
/// them itself: the scan pod does not need them), and an archive's profile ConfigMap.
fn run_spec(input: &PlanInput<'_>) -> (ScanSpec, RunId) {
    let mut spec = input.spec.clone();
    let run_id = context::run_id(&spec);
    spec.run_id = Some(run_id.clone());
    spec.thresholds = None;
    if let Some(archive) = input.archive {
        spec.profile = Some(spec::Profile {
            config_map: Some(ProfileConfigMap {
                name: run_object_name(&run_id, "profile"),
                files: vec![archive.name.clone()],
            }),
            ..spec::Profile::default()
        });
    }
    (spec, run_id)
}

/// The scan pod, as the generator renders it, with this run's name and owner.
fn scan_pod(
    generator: &Generator,
    ctx: &sidescan_gen::RenderContext,
    pod_name: &str,
    owner: Option<&OwnerJob>,
) -> Result<Value, Error> {
    let mut pod = render(generator, Kind::ScanPod, ctx)?
        .into_iter()
        .next()
        .ok_or_else(|| {
            Error::Gen(sidescan_gen::GenError::Render {
                template: "scan-pod".into(),
                message: "the generator rendered no scan pod".into(),
            })
        })?;
    pod["metadata"]["name"] = json!(pod_name);
    if let Some(owner) = owner {
        pod["metadata"]["ownerReferences"] = json!([{
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": owner.name,
            "uid": owner.uid,
        }]);
    }
    Ok(pod)
}

/// `sidescan-runner scan`: the run's own profile and inputs ConfigMaps (existing ones named in
/// the spec stay as they are) and, with `scanner.identify: api`, the scanner's RBAC; the pod
/// is pointed at them.
fn run_objects(
    generator: &Generator,
    ctx: &sidescan_gen::RenderContext,
    spec: &ScanSpec,
    input: &PlanInput<'_>,
    run_id: &RunId,
    pod: &mut Value,
) -> Result<RunObjects, Error> {
    let mut own = RunObjects::default();
    // The heuristic needs no API access: the pod keeps the namespace's default
    // ServiceAccount and no token, and the run creates no RBAC.
    let api_identify = spec.scanner.identify == spec::ScannerIdentify::Api;
    let scanner = run_object_name(run_id, SCANNER_KIND);
    if api_identify {
        pod["spec"]["serviceAccountName"] = json!(scanner);
    }
    let profile_cm = run_object_name(run_id, "profile");
    let inputs_cm = run_object_name(run_id, "profile-inputs");
    let own_profile =
        input.archive.is_some() || spec.profile.as_ref().is_some_and(|p| p.dir.is_some());
    if own_profile {
        point_volume_at(pod, "profile", &profile_cm);
    }
    let own_inputs = input.inputs.profile_inputs.is_some();
    if own_inputs {
        point_volume_at(pod, "profile-inputs", &inputs_cm);
    }
    // The profile: a directory rendered by the generator, or an archive as binary data; and
    // the input and waiver files read on this machine.
    if spec.profile.as_ref().is_some_and(|p| p.dir.is_some()) || own_inputs {
        own.config_maps.extend(profile_config_maps(
            generator,
            ctx,
            &spec.target.name,
            run_id,
        )?);
    }
    if let Some(archive) = input.archive {
        own.config_maps.push(archive_config_map(
            archive,
            &profile_cm,
            &spec.namespace,
            labels_value(&spec.target.name, run_id, Component::Profile),
        )?);
        point_profile_at(pod, &format!("{PROFILE_MOUNT_PATH}/{}", archive.name));
    }
    if api_identify {
        scanner_rbac(
            generator,
            ctx,
            &spec.target.name,
            run_id,
            input.pod_name,
            &mut own,
        )?;
    }
    Ok(own)
}

/// The generator's profile and inputs ConfigMaps, renamed and labelled as this run's.
fn profile_config_maps(
    generator: &Generator,
    ctx: &sidescan_gen::RenderContext,
    target: &str,
    run_id: &RunId,
) -> Result<Vec<ConfigMap>, Error> {
    let generated_profile_cm = spec::object_name(target, "profile");
    let generated_inputs_cm = context::profile_inputs_name(target);
    let mut config_maps = Vec::new();
    for mut cm in render(generator, Kind::Profile, ctx)? {
        let name = if cm["metadata"]["name"] == generated_profile_cm.as_str() {
            run_object_name(run_id, "profile")
        } else if cm["metadata"]["name"] == generated_inputs_cm.as_str() {
            run_object_name(run_id, "profile-inputs")
        } else {
            continue;
        };
        cm["metadata"]["name"] = json!(name);
        cm["metadata"]["labels"] = labels_value(target, run_id, Component::Profile);
        config_maps.push(typed(cm, "profile ConfigMap")?);
    }
    Ok(config_maps)
}

/// A profile archive as the binary data of the run's profile ConfigMap, if it fits in one.
fn archive_config_map(
    archive: &Archive,
    name: &str,
    namespace: &str,
    labels: Value,
) -> Result<ConfigMap, Error> {
    if archive.bytes.len() + archive.name.len() > CONFIGMAP_LIMIT {
        return Err(Error::Input {
            path: archive.name.clone(),
            reason: format!(
                "the profile archive is {} bytes, above the ConfigMap limit of {CONFIGMAP_LIMIT} bytes; publish it to an object store and set profile.url instead",
                archive.bytes.len()
            ),
        });
    }
    use base64::Engine as _;
    typed(
        json!({
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": name,
                "namespace": namespace,
                "labels": labels,
            },
            "binaryData": {
                archive.name.clone(): base64::engine::general_purpose::STANDARD.encode(&archive.bytes),
            },
        }),
        "profile ConfigMap",
    )
}

/// The scanner's RBAC, as the generator renders it, renamed as this run's and limited to this
/// run's pod.
fn scanner_rbac(
    generator: &Generator,
    ctx: &sidescan_gen::RenderContext,
    target: &str,
    run_id: &RunId,
    pod_name: &str,
    own: &mut RunObjects,
) -> Result<(), Error> {
    let generated_scanner = spec::object_name(target, SCANNER_KIND);
    let scanner = run_object_name(run_id, SCANNER_KIND);
    for mut doc in render(generator, Kind::Rbac, ctx)? {
        if doc["metadata"]["name"] != generated_scanner.as_str() {
            continue;
        }
        doc["metadata"]["name"] = json!(scanner);
        doc["metadata"]["labels"] = labels_value(target, run_id, Component::Scanner);
        match doc["kind"].as_str() {
            Some("ServiceAccount") => own.service_account = Some(typed(doc, "ServiceAccount")?),
            Some("Role") => {
                if let Some(rules) = doc["rules"].as_array_mut() {
                    for rule in rules {
                        rule["resourceNames"] = json!([pod_name]);
                    }
                }
                own.role = Some(typed(doc, "Role")?);
            }
            Some("RoleBinding") => {
                doc["roleRef"]["name"] = json!(scanner);
                if let Some(subjects) = doc["subjects"].as_array_mut() {
                    for s in subjects {
                        s["name"] = json!(scanner);
                    }
                }
                own.role_binding = Some(typed(doc, "RoleBinding")?);
            }
            _ => {}
        }
    }
    Ok(())
}

/// Sets the agent's `--profile` argument (the archive inside the mounted ConfigMap).
fn point_profile_at(pod: &mut Value, path: &str) {
    let Some(containers) = pod["spec"]["containers"].as_array_mut() else {
        return;
    };
    for c in containers {
        if let Some(args) = c["args"].as_array_mut()
            && let Some(i) = args.iter().position(|a| a == "--profile")
            && i + 1 < args.len()
        {
            args[i + 1] = json!(path);
        }
    }
}

/// The run id a scan pod carries.
pub fn run_id_of(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
) -> Option<&str> {
    meta.labels
        .as_ref()?
        .get(labels::RUN_ID)
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sidescan_gen::inputs::read_profile_dir;
    use std::path::PathBuf;

    fn repo() -> PathBuf {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
    }

    fn spec(extra: Value) -> ScanSpec {
        let mut base = json!({
            "namespace": "team-a",
            "runId": "abc123def456",
            "target": {"name": "web", "image": "web:1"},
            "security": {"mode": "ptrace"},
            "scanner": {"backend": "builtin"},
            "thresholds": {"configMap": "t"},
            "orchestrator": {"activeDeadlineSeconds": 100, "deadlines": {"deploySeconds": 10,
                "scanSeconds": 20, "retrieveSeconds": 5, "cleanupSeconds": 5}},
        });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        let spec: ScanSpec = serde_json::from_value(base).unwrap();
        spec.validate().unwrap();
        spec
    }

    fn input<'a>(spec: &'a ScanSpec, inputs: &'a Inputs) -> PlanInput<'a> {
        PlanInput {
            spec,
            inputs,
            kube: KubeVersion::parse("1.20").unwrap(),
            pod_name: "sidescan-scan-web",
            owner: None,
            per_run: false,
            archive: None,
            binding: None,
        }
    }

    fn args(pod: &Pod) -> Vec<String> {
        pod.spec.as_ref().unwrap().containers[1]
            .args
            .clone()
            .unwrap_or_default()
    }

    #[test]
    fn the_run_s_spec_has_no_thresholds_and_ships_an_archive_in_the_run_s_configmap() {
        let s = spec(json!({"scanner": {"backend": "cinc"}, "profile": {"url": "s3://x/y.tgz"}}));
        let inputs = Inputs::default();
        let archive = Archive {
            name: "p.tgz".into(),
            bytes: vec![1],
        };
        let (run, id) = run_spec(&PlanInput {
            archive: Some(&archive),
            ..input(&s, &inputs)
        });
        assert_eq!(id.as_str(), "abc123def456");
        assert_eq!(run.run_id.as_ref(), Some(&id));
        assert!(s.thresholds.is_some() && run.thresholds.is_none());
        // The archive replaces the URL: the agent reads it from the mounted ConfigMap.
        let profile = run.profile.unwrap();
        assert_eq!(profile.url, None);
        assert_eq!(
            profile.config_map,
            Some(ProfileConfigMap {
                name: "sidescan-abc123def456-profile".into(),
                files: vec!["p.tgz".into()],
            })
        );
        let (run, _) = run_spec(&input(&s, &inputs));
        assert_eq!(run.profile, s.profile);
    }

    #[test]
    fn the_job_s_pod_is_owned_by_the_job_and_stops_at_its_deadline() {
        let g = Generator::new().unwrap();
        let s = spec(json!({}));
        let inputs = Inputs::default();
        let owner = OwnerJob {
            name: "sidescan-web-scan-27811234".into(),
            uid: "0b5c-uid".into(),
        };
        let plan = plan(
            &g,
            PlanInput {
                owner: Some(&owner),
                ..input(&s, &inputs)
            },
        )
        .unwrap();
        let pod = &plan.pod;
        let refs = pod.metadata.owner_references.as_ref().unwrap();
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].kind, "Job");
        assert_eq!(refs[0].api_version, "batch/v1");
        assert_eq!(refs[0].name, "sidescan-web-scan-27811234");
        assert_eq!(refs[0].uid, "0b5c-uid");
        // No blockOwnerDeletion: it would need update rights on the Job's finalizers.
        assert_eq!(refs[0].block_owner_deletion, None);
        let ps = pod.spec.as_ref().unwrap();
        assert_eq!(ps.active_deadline_seconds, Some(40));
        assert_eq!(ps.termination_grace_period_seconds, Some(1));
        // The heuristic: the namespace's default ServiceAccount and no token.
        assert_eq!(ps.service_account_name.as_deref(), Some("default"));
        assert_eq!(ps.automount_service_account_token, Some(false));
        assert!(args(pod).join(" ").contains("--identify heuristic"));
        // The pod does not mount the thresholds (the orchestrator evaluates them).
        assert!(!serde_json::to_string(pod).unwrap().contains("thresholds"));
        assert_eq!(plan.run_id.as_str(), "abc123def456");
        assert_eq!(run_id_of(&pod.metadata), Some("abc123def456"));
        assert!(plan.config_maps.is_empty() && plan.service_account.is_none());
        // No store: the agent is asked to print its results to its log.
        assert!(args(pod).contains(&"--log-results".to_string()));
    }

    #[test]
    fn a_scan_run_carries_local_input_and_waiver_files_in_its_own_configmap() {
        let g = Generator::new().unwrap();
        let s = spec(json!({"profile": {"inputFiles": ["inputs.yml"],
            "waiverFiles": ["waivers.yml"]}}));
        let inputs = Inputs {
            profile: None,
            profile_inputs: Some(sidescan_gen::inputs::ProfileInputs {
                input_files: vec![("inputs.yml".into(), "a: 1\n".into())],
                waiver_files: vec![("waivers.yml".into(), "x:\n  run: false\n".into())],
            }),
            thresholds: None,
        };
        let plan = plan(
            &g,
            PlanInput {
                per_run: true,
                ..input(&s, &inputs)
            },
        )
        .unwrap();
        let own = "sidescan-abc123def456-profile-inputs";
        let cm = plan
            .config_maps
            .iter()
            .find(|cm| cm.metadata.name.as_deref() == Some(own))
            .expect("the run's inputs ConfigMap");
        let data = cm.data.as_ref().unwrap();
        assert_eq!(data["inputs.yml"], "a: 1\n");
        assert_eq!(data["waivers.yml"], "x:\n  run: false\n");
        assert_eq!(run_id_of(&cm.metadata), Some("abc123def456"));
        let volume = plan.pod.spec.as_ref().unwrap().volumes.as_ref().unwrap();
        let inputs_volume = volume.iter().find(|v| v.name == "profile-inputs").unwrap();
        assert_eq!(inputs_volume.config_map.as_ref().unwrap().name, own);
        let args = args(&plan.pod);
        assert!(args.iter().any(|a| a.ends_with("inputs.yml")), "{args:?}");
        assert!(args.iter().any(|a| a.ends_with("waivers.yml")), "{args:?}");
    }

    #[test]
    fn a_scan_run_with_the_heuristic_creates_no_rbac_and_mounts_no_token() {
        let g = Generator::new().unwrap();
        let s = spec(json!({}));
        let inputs = Inputs::default();
        for kube in ["1.20", "1.33"] {
            let plan = plan(
                &g,
                PlanInput {
                    per_run: true,
                    kube: KubeVersion::parse(kube).unwrap(),
                    ..input(&s, &inputs)
                },
            )
            .unwrap();
            assert!(plan.service_account.is_none() && plan.role.is_none());
            assert!(plan.role_binding.is_none() && plan.other_objects().is_empty());
            let ps = plan.pod.spec.as_ref().unwrap();
            assert_eq!(ps.service_account_name.as_deref(), Some("default"));
            assert_eq!(ps.automount_service_account_token, Some(false));
            let text = serde_json::to_string(&plan.pod).unwrap();
            assert!(!text.contains("serviceAccountToken"), "{kube}: {text}");
        }
    }

    #[test]
    fn a_scan_run_makes_its_own_profile_configmap_and_scanner_rbac() {
        let g = Generator::new().unwrap();
        let dir = repo().join("examples/profiles/baseline");
        let s = spec(json!({"scanner": {"backend": "cinc", "identify": "api"},
            "profile": {"dir": dir.to_str().unwrap()},
            "results": {"storeUrl": "s3://b/scans"}}));
        let inputs = Inputs {
            profile: Some(read_profile_dir(&dir).unwrap()),
            profile_inputs: None,
            thresholds: None,
        };
        let plan = plan(
            &g,
            PlanInput {
                per_run: true,
                pod_name: "my-scan",
                ..input(&s, &inputs)
            },
        )
        .unwrap();
        assert_eq!(plan.pod.metadata.name.as_deref(), Some("my-scan"));
        let ps = plan.pod.spec.as_ref().unwrap();
        assert_eq!(
            ps.service_account_name.as_deref(),
            Some("sidescan-abc123def456-scanner")
        );
        let volume = ps
            .volumes
            .as_ref()
            .unwrap()
            .iter()
            .find(|v| v.name == "profile")
            .unwrap();
        assert_eq!(
            volume.config_map.as_ref().unwrap().name,
            "sidescan-abc123def456-profile"
        );
        assert_eq!(plan.config_maps.len(), 1);
        let cm = &plan.config_maps[0];
        assert_eq!(
            cm.metadata.name.as_deref(),
            Some("sidescan-abc123def456-profile")
        );
        assert_eq!(cm.metadata.namespace.as_deref(), Some("team-a"));
        let labels = cm.metadata.labels.as_ref().unwrap();
        assert_eq!(labels["sidescan.io/run-id"], "abc123def456");
        assert_eq!(labels["sidescan.io/target"], "web");
        assert!(cm.data.as_ref().unwrap().contains_key("controls__os.rb"));
        // RBAC: the scanner may read exactly this pod.
        let role = plan.role.as_ref().unwrap();
        assert_eq!(
            role.metadata.name.as_deref(),
            Some("sidescan-abc123def456-scanner")
        );
        let rules = role.rules.as_ref().unwrap();
        assert_eq!(rules.len(), 1);
        assert_eq!(rules[0].resource_names, Some(vec!["my-scan".to_string()]));
        assert_eq!(rules[0].verbs, vec!["get", "list", "watch"]);
        let rb = plan.role_binding.as_ref().unwrap();
        assert_eq!(rb.role_ref.name, "sidescan-abc123def456-scanner");
        assert_eq!(
            rb.subjects.as_ref().unwrap()[0].name,
            "sidescan-abc123def456-scanner"
        );
        assert_eq!(
            plan.service_account
                .as_ref()
                .unwrap()
                .metadata
                .name
                .as_deref(),
            Some("sidescan-abc123def456-scanner")
        );
        assert_eq!(
            plan.other_objects(),
            vec![
                "configmap/sidescan-abc123def456-profile",
                "serviceaccount/sidescan-abc123def456-scanner",
                "role/sidescan-abc123def456-scanner",
                "rolebinding/sidescan-abc123def456-scanner",
            ]
        );
        // A store: no log printing.
        assert!(!args(&plan.pod).contains(&"--log-results".to_string()));
        assert!(plan.pod.metadata.owner_references.is_none());
    }

    #[test]
    fn an_archive_profile_goes_in_binary_data_and_the_agent_gets_its_path() {
        let g = Generator::new().unwrap();
        let s = spec(json!({"scanner": {"backend": "cinc"}, "profile": {"url": "s3://x/y.tgz"}}));
        let archive = Archive {
            name: "baseline.tar.gz".into(),
            bytes: vec![0x1f, 0x8b, 0, 255],
        };
        let inputs = Inputs::default();
        let plan = plan(
            &g,
            PlanInput {
                per_run: true,
                archive: Some(&archive),
                binding: None,
                ..input(&s, &inputs)
            },
        )
        .unwrap();
        let cm = &plan.config_maps[0];
        let binary = cm.binary_data.as_ref().unwrap();
        assert_eq!(binary["baseline.tar.gz"].0, vec![0x1f, 0x8b, 0, 255]);
        let a = args(&plan.pod);
        let i = a.iter().position(|x| x == "--profile").unwrap();
        assert_eq!(a[i + 1], "/etc/sidescan/profile/baseline.tar.gz");
        let too_big = Archive {
            name: "big.tgz".into(),
            bytes: vec![0; CONFIGMAP_LIMIT],
        };
        let err = super::plan(
            &g,
            PlanInput {
                per_run: true,
                archive: Some(&too_big),
                binding: None,
                ..input(&s, &inputs)
            },
        )
        .unwrap_err();
        assert_eq!(err.exit_status(), sidescan_core::ExitStatus::BadInput);
        assert!(err.to_string().starts_with("big.tgz:"), "{err}");
    }
}
