//! The orchestration Job and CronJob: `sidescan-runner orchestrate` reading the resolved spec.

use super::*;

pub(crate) fn job_context(
    spec: &ScanSpec,
    kube: KubeVersion,
    run_id: &RunId,
    schedule: CronJobSchedule,
    thresholds_config_map: Option<String>,
) -> JobContext {
    let target = &spec.target.name;
    let mut args = vec![
        "orchestrate".to_string(),
        "--spec".into(),
        format!("{SPEC_MOUNT_PATH}/{SPEC_CONFIGMAP_KEY}"),
    ];
    if let Some(url) = &spec.results.store_url {
        args.extend(["--store".into(), url.clone()]);
    }
    let name = spec::object_name(target, "scan");
    // CronJob names are at most 52 characters: the controller appends an 11-character suffix.
    let cronjob_name = name[..name.len().min(52)].trim_end_matches('-').to_string();
    let mut template_annotations = spec.metadata.annotations.clone();
    if !kube.has_seccomp_field() {
        template_annotations.insert(
            "seccomp.security.alpha.kubernetes.io/pod".into(),
            "runtime/default".into(),
        );
    }
    JobContext {
        name,
        cronjob_name,
        labels: stable_labels(spec, run_id, Component::Orchestrator),
        annotations: spec.metadata.annotations.clone(),
        template_annotations,
        service_account: spec::object_name(target, ORCHESTRATOR_KIND),
        host_network: spec.cluster.host_network,
        priority_class_name: spec.orchestrator.priority_class_name.clone(),
        node_selector: spec.orchestrator.node_selector.clone(),
        tolerations: serde_json::to_value(&spec.orchestrator.tolerations).unwrap_or(Value::Null),
        affinity: spec.orchestrator.affinity.clone(),
        runner: RunnerJob {
            image: spec.images.reference(&spec.orchestrator.image),
            pull_policy: spec.images.pull_policy.as_str(),
            args,
            env: client_env(spec),
            credentials: credentials(&spec.results),
            resources: resources(&spec.orchestrator.resources),
            run_as_user: ORCHESTRATOR_UID,
            image_pull_secrets: image_pull_secrets(&spec.images),
            active_deadline_seconds: spec.orchestrator.active_deadline_seconds,
            backoff_limit: spec.orchestrator.backoff_limit,
            ttl_seconds_after_finished: spec.orchestrator.ttl_seconds_after_finished,
            thresholds_config_map,
        },
        termination_grace_period_seconds: spec.orchestrator.deadlines.cleanup_seconds
            + ORCHESTRATOR_GRACE_MARGIN_SECONDS,
        ca_bundle_volumes: ca_bundle_volume(&spec.results).into_iter().collect(),
        ca_bundle_mount_path: CA_BUNDLE_MOUNT_PATH,
        schedule,
    }
}
