//! The orchestrator under exactly the RBAC `sidescan-gen render all` renders, not the admin
//! kubeconfig: the dev-cluster example for the distroless target is rendered into a temporary
//! namespace, only its RBAC and ConfigMaps are applied (with a placeholder Job, `parallelism: 0`,
//! as the scan pod's owner), and `sidescan-runner orchestrate` built from this tree runs from the
//! host with the orchestrator ServiceAccount's own token, the spec and thresholds its ConfigMaps
//! hold and the environment the rendered Job gives it. It records every API request it makes, and
//! the test asserts that the run ends with a verdict, that every request was granted and every
//! granted rule was used (but for the few only a path this run does not take uses, listed with
//! their reason), and that nothing of the run is left.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`.

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::{Api, PostParams};
use serde_json::{Value, json};
use sidescan_e2e::audit::runner_bin;
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::with_temp_ns;
use sidescan_e2e::manifests::{render_example_as, server_version};
use sidescan_e2e::rbac::{self, grants, never_used, not_granted, read_requests};
use sidescan_e2e::scan::{self, DISTROLESS};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Rules of the orchestrator's Role only a path this run does not take uses: `(rule, reason)`,
/// the rule as [`never_used`] names it after the role.
const ONLY_ON_OTHER_PATHS: [(&str, &str); 2] = [
    (
        "get /pods/log",
        "retrieve reads the scanner's log only without a store or after a failed upload",
    ),
    (
        "get batch/jobs",
        "read only when a scan pod of another Job already exists (stale or live run)",
    ),
];

/// Writes ConfigMap `name` of `docs` into `dir/<name>/`, one file per key; returns that folder.
fn write_config_map(docs: &[Value], name: &str, dir: &Path) -> PathBuf {
    let cm = docs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("ConfigMap {name} is not rendered"));
    let folder = dir.join(name);
    std::fs::create_dir_all(&folder).unwrap();
    for (key, value) in cm["data"].as_object().expect("data") {
        std::fs::write(folder.join(key), value.as_str().unwrap()).unwrap();
    }
    folder
}

/// A Job that runs nothing (`parallelism: 0`), so the scan pod has a real owner, as in the Job.
async fn placeholder_job(client: &kube::Client, ns: &str, name: &str) -> String {
    let job: Job = serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {
            "parallelism": 0,
            "template": {"spec": {
                "restartPolicy": "Never",
                "containers": [{"name": "placeholder", "image": "localhost/sidescan-runner:dev",
                                "imagePullPolicy": "Never"}],
            }},
        },
    }))
    .unwrap();
    let created = Api::<Job>::namespaced(client.clone(), ns)
        .create(&PostParams::default(), &job)
        .await
        .expect("creating the placeholder Job");
    created.metadata.uid.expect("the Job's uid")
}

#[tokio::test]
#[ignore = "needs the local cluster, the S3 server and the images"]
async fn the_rendered_rbac_grants_exactly_what_the_orchestrator_calls() {
    with_temp_ns("orch-rbac", |client, ns| async move {
        let access = required("AWS_ACCESS_KEY_ID", S3_HINT);
        let secret = required("AWS_SECRET_ACCESS_KEY", S3_HINT);
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let kube = server_version(&client).await;
        let mut sets = vec![format!("results.storeUrl=s3://{bucket}/orch-rbac")];
        sets.extend(DISTROLESS.iter().map(|s| s.to_string()));
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let docs = render_example_as("dev-cluster", &ns, kube, &sets, &[None]);
        let kinds = ["ServiceAccount", "Role", "RoleBinding", "ConfigMap"];
        let applied: Vec<Value> = docs
            .iter()
            .filter(|d| kinds.contains(&d["kind"].as_str().unwrap_or_default()))
            .cloned()
            .collect();
        assert!(
            !docs.iter().any(|d| d["kind"]
                .as_str()
                .unwrap_or_default()
                .starts_with("Cluster")),
            "the orchestrator's RBAC is namespaced"
        );
        rbac::apply(&client, &applied).await;

        // What the Job would run: its args, its plain environment, its mounted ConfigMaps.
        let job = docs
            .iter()
            .find(|d| d["kind"] == "Job")
            .expect("the rendered Job");
        let job_name = job["metadata"]["name"].as_str().unwrap();
        let pod_spec = &job["spec"]["template"]["spec"];
        let account = pod_spec["serviceAccountName"].as_str().unwrap().to_string();
        let container = &pod_spec["containers"][0];
        let dir = tempfile::tempdir().unwrap();
        let mut mounted = Vec::new();
        for volume in pod_spec["volumes"].as_array().unwrap() {
            if let Some(cm) = volume["configMap"]["name"].as_str() {
                mounted.push((
                    volume["name"].as_str().unwrap().to_string(),
                    write_config_map(&docs, cm, dir.path()),
                ));
            }
        }
        let folder = |volume: &str| {
            mounted
                .iter()
                .find(|(v, _)| v == volume)
                .map(|(_, f)| f.clone())
                .unwrap_or_else(|| panic!("no {volume} volume in the Job"))
        };
        // The Job's args, with the mount paths of its ConfigMaps turned into the local folders;
        // the thresholds file, which `orchestrate` finds at its mount path, given by name.
        let mounts: Vec<(String, PathBuf)> = container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| mounted.iter().any(|(v, _)| m["name"] == v.as_str()))
            .map(|m| {
                let path = m["mountPath"].as_str().unwrap().to_string();
                (path, folder(m["name"].as_str().unwrap()))
            })
            .collect();
        let args: Vec<String> = container["args"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| {
                let a = a.as_str().unwrap();
                mounts
                    .iter()
                    .find_map(|(path, local)| {
                        a.strip_prefix(path.as_str())
                            .map(|rest| format!("{}{rest}", local.display()))
                    })
                    .unwrap_or_else(|| a.to_string())
            })
            .collect();
        assert!(args.iter().any(|a| a == "--spec"), "{args:?}");
        let thresholds = folder("thresholds").join(sidescan_core::spec::THRESHOLDS_KEY);
        let kubeconfig = rbac::service_account_kubeconfig(&client, &ns, &account, dir.path()).await;
        let job_uid = placeholder_job(&client, &ns, job_name).await;
        let requests_file = dir.path().join("requests.jsonl");

        let mut command = tokio::process::Command::new(runner_bin());
        command.args(&args);
        for var in container["env"].as_array().unwrap() {
            if let Some(value) = var["value"].as_str() {
                command.env(var["name"].as_str().unwrap(), value);
            }
        }
        let out = command
            .arg("--thresholds")
            .arg(&thresholds)
            .env("KUBECONFIG", &kubeconfig)
            .env("SIDESCAN_API_REQUESTS", &requests_file)
            .env("POD_NAME", format!("{job_name}-host"))
            .env("POD_NAMESPACE", &ns)
            .env("JOB_NAME", job_name)
            .env("JOB_UID", &job_uid)
            .env("AWS_ACCESS_KEY_ID", &access)
            .env("AWS_SECRET_ACCESS_KEY", &secret)
            .env("SIDESCAN_LOG_FORMAT", "text")
            .kill_on_drop(true)
            .output()
            .await
            .expect("running sidescan-runner orchestrate");
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
        let code = out.status.code();
        assert!(
            matches!(code, Some(0 | 1)),
            "no verdict: exit {code:?}\n{stdout}"
        );
        let run_id = scan::run_id_in(&stdout).expect("the run id in the summary");

        // What the orchestrator asked for, against what its rendered Role grants.
        let requests = read_requests(&requests_file);
        let grants = grants(&docs, &ns, &account);
        assert!(!grants.is_empty(), "no rule is bound to {account}");
        let refused = not_granted(&requests, &grants);
        assert!(
            refused.is_empty(),
            "requests not granted: {refused:#?}\nrequests: {requests:#?}"
        );
        let never: BTreeSet<String> = never_used(&requests, &grants)
            .into_iter()
            .filter_map(|k| k.split_once(": ").map(|(_, rule)| rule.to_string()))
            .collect();
        let allowed: BTreeSet<String> = ONLY_ON_OTHER_PATHS
            .iter()
            .map(|(rule, _)| rule.to_string())
            .collect();
        let unused: Vec<&String> = never.difference(&allowed).collect();
        assert!(
            unused.is_empty(),
            "granted but never used: {unused:#?}\nrequests: {requests:#?}"
        );
        // The allow-list stays exact: each entry is granted, and unused on this path.
        for (rule, why) in ONLY_ON_OTHER_PATHS {
            assert!(
                grants.iter().any(|g| g.rule_key() == rule),
                "{rule} ({why}) is no longer granted: drop it from the list"
            );
            assert!(
                never.contains(rule),
                "{rule} ({why}) was used: drop it from the list"
            );
        }

        // Nothing of the run is left; the ConfigMaps it was given are as they were.
        let pod = sidescan_core::spec::scan_pod_name("distroless");
        scan::assert_nothing_left(&client, &ns, &run_id, &pod).await;
        let config_maps: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        for (_, folder) in &mounted {
            let name = folder.file_name().unwrap().to_str().unwrap();
            assert!(config_maps.get_opt(name).await.unwrap().is_some(), "{name}");
        }
    })
    .await;
}
