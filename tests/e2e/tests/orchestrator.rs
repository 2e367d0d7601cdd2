//! The orchestrator end to end on the local cluster: `sidescan-runner orchestrate` in generated
//! Jobs and CronJobs (under its generated Role), `sidescan-runner scan` from outside the cluster,
//! and the faults it must survive. Every test asserts on what the cluster and the object store
//! hold afterwards, and checks the results with the evaluator library and the real SAF CLI.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images` (also builds the
//! release runner these tests run), `eval` of both `env` outputs, and
//! `SIDESCAN_SAF_BIN="$(scripts/install-saf)"`.

use futures::StreamExt;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use k8s_openapi::api::events::v1::Event;
use kube::api::{Api, DeleteParams, ListParams, LogParams, PostParams};
use kube::runtime::watcher;
use kube::{Client, ResourceExt};
use serde_json::{Value, json};
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::{WAIT, wait_for, with_temp_ns};
use sidescan_e2e::manifests::{api_for, apply_all, render_example_as, server_version};
use sidescan_e2e::scan::{self, DISTROLESS, RUN_FILES};
use sidescan_gen::KubeVersion;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};
use tokio::process::Command;

/// The gate every example uses: compliance at least 80 %, no critical or high failure. The
/// distroless target passes it, the glibc target (root, a shell, a package manager) does not.
fn gate() -> PathBuf {
    scan::repo_root().join("examples/thresholds/gate.yml")
}

/// The dev-cluster example rendered into `ns` with `sets`, as JSON documents (`render all`).
fn render(ns: &str, kube: KubeVersion, sets: &[String]) -> Vec<Value> {
    let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
    render_example_as("dev-cluster", ns, kube, &sets, &[None])
}

/// The documents of `kinds`, in rendering order.
fn only(docs: &[Value], kinds: &[&str]) -> Vec<Value> {
    docs.iter()
        .filter(|d| kinds.contains(&d["kind"].as_str().unwrap_or_default()))
        .cloned()
        .collect()
}

fn s3_credentials() -> (String, String, String) {
    (
        required("AWS_ACCESS_KEY_ID", S3_HINT),
        required("AWS_SECRET_ACCESS_KEY", S3_HINT),
        required("SIDESCAN_S3_BUCKET", S3_HINT),
    )
}

/// What a finished `sidescan-runner` process said.
struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
    took: Duration,
}

impl Ran {
    fn run_id(&self) -> String {
        scan::run_id_in(&self.stdout).unwrap_or_else(|| panic!("no run id in: {}", self.stdout))
    }
}

/// `sidescan-runner scan` with the dev-cluster spec in `ns`, as a child process.
fn scan_command(ns: &str, pod: &str, args: &[&str]) -> Command {
    let mut cmd = Command::new(scan::runner_bin());
    cmd.arg("scan")
        .arg("--values")
        .arg(scan::dev_values())
        .args(["--namespace", ns, "--pod-name", pod])
        .args(args)
        .env("SIDESCAN_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    cmd
}

async fn finish(child: tokio::process::Child, started: Instant) -> Ran {
    let out = child
        .wait_with_output()
        .await
        .expect("waiting for the runner");
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took: started.elapsed(),
    };
    eprintln!(
        "--- runner exit {} after {:?}\n{}",
        ran.code, ran.took, ran.stdout
    );
    ran
}

async fn run_scan(ns: &str, pod: &str, args: &[&str]) -> Ran {
    let started = Instant::now();
    finish(
        scan_command(ns, pod, args).spawn().expect("runner"),
        started,
    )
    .await
}

fn signal(pid: u32, name: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{name}"), pid.to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{name} {pid}");
}

/// Waits until pod `name` exists and `condition` holds.
async fn wait_pod(
    client: &Client,
    ns: &str,
    name: &str,
    what: &str,
    condition: impl Fn(&Pod) -> bool,
) -> Pod {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    wait_for(&pods, name, what, move |p: Option<&Pod>| {
        p.is_some_and(&condition)
    })
    .await
}

/// Waits until the runner has created pod `name`; a runner that exits first fails the test with
/// what it said.
async fn created_by(
    client: &Client,
    ns: &str,
    name: &str,
    child: &mut tokio::process::Child,
) -> Pod {
    let status = tokio::select! {
        pod = wait_pod(client, ns, name, "created", |_| true) => return pod,
        status = child.wait() => status,
    };
    use tokio::io::AsyncReadExt;
    let mut out = String::new();
    let mut err = String::new();
    if let Some(mut o) = child.stdout.take() {
        let _ = o.read_to_string(&mut out).await;
    }
    if let Some(mut e) = child.stderr.take() {
        let _ = e.read_to_string(&mut err).await;
    }
    panic!("the runner exited ({status:?}) before creating pod {name}:\n{out}\n{err}");
}

/// Waits until the scanner container's log holds `needle`.
async fn scanner_logged(client: &Client, ns: &str, pod: &str, needle: &str) {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = LogParams {
        container: Some("sidescan-scanner".into()),
        ..LogParams::default()
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        if let Ok(log) = pods.logs(pod, &params).await
            && log.contains(needle)
        {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the scanner of {pod} never logged {needle}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

fn scanner_state(pod: &Pod) -> Option<k8s_openapi::api::core::v1::ContainerState> {
    pod.status
        .as_ref()?
        .container_statuses
        .as_ref()?
        .iter()
        .find(|c| c.name == "sidescan-scanner")?
        .state
        .clone()
}

/// The SAF CLI's summary and threshold verdict on an HDF file.
async fn saf(hdf: &Path, threshold: &Path) -> (Value, i32) {
    let saf = scan::saf_bin();
    let summary = Command::new(&saf)
        .args(["view", "summary", "-i"])
        .arg(hdf)
        .args(["--format", "json", "--stdout"])
        .output();
    let verdict = Command::new(&saf)
        .args(["validate", "threshold", "-i"])
        .arg(hdf)
        .arg("-T")
        .arg(threshold)
        .output();
    let (summary, verdict) = tokio::join!(summary, verdict);
    let summary = summary.expect("saf view summary");
    assert!(
        summary.status.success(),
        "saf view summary: {}",
        String::from_utf8_lossy(&summary.stderr)
    );
    let text = String::from_utf8_lossy(&summary.stdout);
    // The JSON array is printed first; a log line may follow it.
    let end = text.rfind(']').expect("saf summary JSON");
    let parsed: Value = serde_json::from_str(&text[..=end]).expect("saf summary JSON");
    (
        parsed[0].clone(),
        verdict.expect("saf validate").status.code().unwrap_or(-1),
    )
}

/// Checks a stored run folder against the evaluator library and the SAF CLI; returns
/// `evaluation.json`.
async fn check_folder(
    store: &dyn object_store::ObjectStore,
    folder: &str,
    threshold: &Path,
) -> Value {
    let hdf = scan::get(store, &format!("{folder}/hdf.json")).await;
    let evaluation: Value =
        serde_json::from_slice(&scan::get(store, &format!("{folder}/evaluation.json")).await)
            .unwrap();
    let metadata: Value =
        serde_json::from_slice(&scan::get(store, &format!("{folder}/metadata.json")).await)
            .unwrap();
    // The file the orchestrator evaluated is the one stored.
    assert_eq!(evaluation["hdf"]["sha256"], sha256(&hdf), "{folder}");
    assert_eq!(evaluation["run_id"], metadata["run_id"]);
    // The evaluator library, run by the test on what the store holds.
    let parsed = sidescan_eval::hdf::parse(&hdf).expect("stored hdf.json parses");
    let ours = sidescan_eval::summary::summarize(&parsed);
    let threshold_text = std::fs::read_to_string(threshold).unwrap();
    let thresholds =
        sidescan_eval::threshold::parse_threshold(&threshold_text, "gate.yml").unwrap();
    let verdict = sidescan_eval::validate::validate(&ours, &thresholds);
    assert_eq!(evaluation["summary"]["compliance"], ours.compliance);
    assert_eq!(
        evaluation["summary"]["totals"],
        serde_json::to_value(ours.totals).unwrap()
    );
    assert_eq!(evaluation["thresholds"]["passed"], verdict.passed);
    assert_eq!(evaluation["exit_code"], if verdict.passed { 0 } else { 1 });
    // The SAF CLI on the same bytes.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("hdf.json");
    std::fs::write(&file, &hdf).unwrap();
    let (saf_summary, saf_code) = saf(&file, threshold).await;
    assert_eq!(
        saf_summary["compliance"],
        evaluation["summary"]["compliance"]
    );
    for (saf_key, our_key) in [
        ("passed", "passed"),
        ("failed", "failed"),
        ("skipped", "skipped"),
        ("error", "error"),
        ("no_impact", "no_impact"),
    ] {
        assert_eq!(
            saf_summary[saf_key]["total"], evaluation["summary"]["totals"][our_key],
            "{saf_key}"
        );
    }
    assert_eq!(
        saf_code,
        evaluation["exit_code"].as_i64().unwrap() as i32,
        "saf validate threshold"
    );
    evaluation
}

fn sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Applies the Job for `target_sets`, waits for it to finish and checks everything it left.
async fn job_scan(client: Client, ns: String, target: &'static str, sets: &[&str], expected: i32) {
    let (access, secret, bucket) = s3_credentials();
    scan::create_store_secret(&client, &ns, &access, &secret).await;
    let kube = server_version(&client).await;
    let mut all: Vec<String> = vec![format!("results.storeUrl=s3://{bucket}/orch")];
    all.extend(sets.iter().map(|s| s.to_string()));
    let docs = render(&ns, kube, &all);
    // RBAC, the profile, thresholds and spec ConfigMaps, then the Job (not the bare scan pod).
    apply_all(
        &client,
        &ns,
        &only(
            &docs,
            &["ServiceAccount", "Role", "RoleBinding", "ConfigMap"],
        ),
        false,
    )
    .await;

    // Watch the scan pod while the Job runs, to see what the orchestrator created.
    let pod_name = format!("sidescan-scan-{target}");
    let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
    let seen = {
        let config = watcher::Config::default().fields(&format!("metadata.name={pod_name}"));
        let mut stream = watcher::watcher(pods.clone(), config).boxed();
        tokio::spawn(async move {
            while let Some(event) = stream.next().await {
                if let Ok(watcher::Event::Apply(pod) | watcher::Event::InitApply(pod)) = event {
                    return Some(pod);
                }
            }
            None
        })
    };
    apply_all(&client, &ns, &only(&docs, &["Job"]), false).await;
    let job_name = format!("sidescan-{target}-scan");
    let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
    let finished = |job: Option<&Job>| {
        job.and_then(|j| j.status.as_ref())
            .and_then(|s| s.conditions.as_ref())
            .is_some_and(|c| {
                c.iter()
                    .any(|c| (c.type_ == "Complete" || c.type_ == "Failed") && c.status == "True")
            })
    };
    let job = wait_for(&jobs, &job_name, "finished", finished).await;

    // The Job's status is the verdict.
    let conditions = job.status.as_ref().unwrap().conditions.clone().unwrap();
    let complete = conditions
        .iter()
        .any(|c| c.type_ == "Complete" && c.status == "True");
    assert_eq!(complete, expected == 0, "{conditions:?}");
    let orchestrators = pods
        .list(&ListParams::default().labels(&format!("job-name={job_name}")))
        .await
        .unwrap();
    assert_eq!(orchestrators.items.len(), 1, "backoffLimit 0: one attempt");
    let orchestrator = &orchestrators.items[0];
    let terminated = orchestrator
        .status
        .as_ref()
        .unwrap()
        .container_statuses
        .as_ref()
        .unwrap()[0]
        .state
        .as_ref()
        .unwrap()
        .terminated
        .clone()
        .unwrap();
    let log = pods
        .logs(&orchestrator.name_any(), &LogParams::default())
        .await
        .unwrap();
    eprintln!("--- orchestrator log\n{log}");
    assert_eq!(terminated.exit_code, expected, "orchestrator exit code");
    for phase in [
        "deploy", "identify", "scan", "retrieve", "process", "cleanup",
    ] {
        assert!(
            log.contains(&format!("\"phase\":\"{phase}\"")),
            "no {phase} line in the orchestrator's log"
        );
    }

    // The scan pod it made: owned by the Job (no blockOwnerDeletion), stopping at its deadline.
    let pod = seen.await.unwrap().expect("the scan pod was seen");
    let owner = &pod.metadata.owner_references.as_ref().expect("owner")[0];
    assert_eq!(
        (owner.kind.as_str(), owner.name.as_str()),
        ("Job", job_name.as_str())
    );
    assert_eq!(Some(&owner.uid), job.metadata.uid.as_ref());
    assert_eq!(owner.block_owner_deletion, None);
    assert_eq!(
        pod.spec.as_ref().unwrap().active_deadline_seconds,
        Some(480)
    );
    let run_id = pod.labels()["sidescan.io/run-id"].clone();

    // The store holds one complete run folder, and the test's own evaluation agrees with it.
    let (store, _) = scan::s3_store();
    let prefix = format!("orch/{ns}/{target}/");
    let folders = scan::run_folders(store.as_ref(), &prefix).await;
    assert_eq!(folders.len(), 1, "{folders:?}");
    let (folder, files) = folders.iter().next().unwrap();
    assert_eq!(files, &RUN_FILES, "{folder}");
    assert!(folder.ends_with(&run_id), "{folder} is not run {run_id}'s");
    let evaluation = check_folder(store.as_ref(), folder, &gate()).await;
    assert_eq!(evaluation["exit_code"], expected);

    // Nothing of the run is left; one Event per phase was recorded on the scan pod.
    scan::assert_nothing_left(&client, &ns, &run_id, &pod_name).await;
    let events: Api<Event> = Api::namespaced(client.clone(), &ns);
    let reasons: Vec<String> = events
        .list(&ListParams::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().and_then(|r| r.name.as_deref()) == Some(pod_name.as_str())
                && e.reporting_controller.as_deref() == Some("sidescan-orchestrator")
        })
        .filter_map(|e| e.reason)
        .collect();
    for reason in [
        "Deployed",
        "Identified",
        "Scanned",
        "Retrieved",
        "Processed",
        "CleanedUp",
    ] {
        assert!(
            reasons.iter().any(|r| r == reason),
            "no {reason} event in {reasons:?}"
        );
    }
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and SAF CLI: see the module docs"]
async fn a_job_scans_the_distroless_target_and_completes_on_a_passing_threshold() {
    with_temp_ns("orchjob", |client, ns| async move {
        job_scan(client, ns, "distroless", &DISTROLESS, 0).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and SAF CLI: see the module docs"]
async fn a_job_scans_the_glibc_target_and_fails_on_a_failing_threshold() {
    with_temp_ns("orchjob", |client, ns| async move {
        job_scan(client, ns, "glibc", &[], 1).await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster: see the module docs"]
async fn the_orchestrator_role_refuses_what_the_orchestrator_does_not_need() {
    with_temp_ns("orchrbac", |client, ns| async move {
        let kube = server_version(&client).await;
        let docs = render(&ns, kube, &[]);
        apply_all(
            &client,
            &ns,
            &only(&docs, &["ServiceAccount", "Role", "RoleBinding"]),
            false,
        )
        .await;
        // The orchestrator's identity: its ServiceAccount, as its token authenticates it.
        let mut config = kube::Config::infer().await.unwrap();
        config.auth_info.impersonate = Some(format!(
            "system:serviceaccount:{ns}:sidescan-glibc-orchestrator"
        ));
        config.auth_info.impersonate_groups = Some(vec![
            "system:serviceaccounts".into(),
            format!("system:serviceaccounts:{ns}"),
            "system:authenticated".into(),
        ]);
        let sa = Client::try_from(config).unwrap();
        let code = |r: Result<(), kube::Error>| match r {
            Ok(()) => 200,
            Err(kube::Error::Api(s)) => s.code,
            Err(e) => panic!("no API answer: {e}"),
        };
        let pods: Api<Pod> = Api::namespaced(sa.clone(), &ns);
        let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(sa.clone(), &ns);
        let cms: Api<ConfigMap> = Api::namespaced(sa.clone(), &ns);
        let jobs: Api<Job> = Api::namespaced(sa.clone(), &ns);
        // Allowed: watching the scan pod by name (a list with its name as field selector), its
        // log, the profile ConfigMap, Jobs (the objects do not exist: 404, not 403).
        let by_name = ListParams::default().fields("metadata.name=sidescan-scan-glibc");
        assert_eq!(code(pods.list(&by_name).await.map(drop)), 200);
        assert_eq!(
            code(
                pods.logs("sidescan-scan-glibc", &LogParams::default())
                    .await
                    .map(drop)
            ),
            404
        );
        assert_eq!(code(cms.get("sidescan-glibc-profile").await.map(drop)), 404);
        assert_eq!(code(jobs.get("any").await.map(drop)), 404);
        // Refused: exec, Secrets, other pods, listing all pods, changing ConfigMaps.
        let exec = pods
            .create_subresource::<Value, Value>(
                "exec",
                "sidescan-scan-glibc",
                &PostParams::default(),
                &json!({}),
            )
            .await
            .map(drop);
        assert_eq!(code(exec), 403, "pods/exec");
        assert_eq!(
            code(secrets.list(&ListParams::default()).await.map(drop)),
            403,
            "list secrets"
        );
        assert_eq!(
            code(secrets.get("sidescan-s3").await.map(drop)),
            403,
            "get secret"
        );
        assert_eq!(
            code(pods.get("another-pod").await.map(drop)),
            403,
            "another pod"
        );
        assert_eq!(
            code(pods.get("sidescan-scan-glibc").await.map(drop)),
            403,
            "get: not used"
        );
        let other = ListParams::default().fields("metadata.name=another-pod");
        assert_eq!(
            code(pods.list(&other).await.map(drop)),
            403,
            "watch another pod"
        );
        assert_eq!(
            code(pods.list(&ListParams::default()).await.map(drop)),
            403,
            "list pods"
        );
        assert_eq!(
            code(
                cms.delete("sidescan-glibc-profile", &DeleteParams::default())
                    .await
                    .map(drop)
            ),
            403
        );
        let cm = serde_json::from_value::<ConfigMap>(json!({"metadata": {"name": "x"}})).unwrap();
        assert_eq!(
            code(cms.create(&PostParams::default(), &cm).await.map(drop)),
            403,
            "create configmap"
        );
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and SAF CLI: see the module docs"]
async fn the_cinc_backend_runs_the_double_with_a_directory_profile_from_its_configmap() {
    with_temp_ns("orchcinc", |client, ns| async move {
        let (access, secret, bucket) = s3_credentials();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        // Watch the namespace's ConfigMaps: the run's profile ConfigMap holds the profile tree.
        let cms: Api<ConfigMap> = Api::namespaced(client.clone(), &ns);
        let seen = {
            let mut stream = watcher::watcher(cms.clone(), watcher::Config::default()).boxed();
            tokio::spawn(async move {
                while let Some(event) = stream.next().await {
                    if let Ok(watcher::Event::Apply(cm) | watcher::Event::InitApply(cm)) = event
                        && cm.name_any().ends_with("-profile")
                    {
                        return Some(cm);
                    }
                }
                None
            })
        };
        let profile = scan::repo_root().join("examples/profiles/baseline");
        let store = format!("s3://{bucket}/orch");
        let ran = run_scan(
            &ns,
            "cinc",
            &["--profile", profile.to_str().unwrap(), "--store", &store],
        )
        .await;
        // The double reports one failed control: below the gate's 80 % compliance.
        assert_eq!(ran.code, 1, "{}", ran.stderr);
        let cm = seen
            .await
            .unwrap()
            .expect("a profile ConfigMap was created");
        let data = cm.data.clone().unwrap();
        for (key, path) in [
            ("inspec.yml", "inspec.yml"),
            ("controls__os.rb", "controls/os.rb"),
        ] {
            assert_eq!(
                data[key],
                std::fs::read_to_string(profile.join(path)).unwrap()
            );
        }
        let run_id = ran.run_id();
        assert_eq!(cm.labels()["sidescan.io/run-id"], run_id);
        let (s3, _) = scan::s3_store();
        // The dev-cluster spec's target: glibc, scanned in ptrace mode.
        let folders = scan::run_folders(s3.as_ref(), &format!("orch/{ns}/glibc/")).await;
        let (folder, files) = folders.iter().next().expect("a run folder");
        assert_eq!(files, &RUN_FILES);
        let hdf: Value =
            serde_json::from_slice(&scan::get(s3.as_ref(), &format!("{folder}/hdf.json")).await)
                .unwrap();
        let control = &hdf["profiles"][0]["controls"][0];
        assert_eq!(control["id"], "double-1");
        let desc = control["results"][0]["code_desc"].as_str().unwrap();
        // The double ran in the target's view: its file read and its spawned `cat` saw Debian.
        assert!(
            desc.contains("file read saw debian") && desc.contains("spawned cat saw debian"),
            "{desc}"
        );
        let metadata: Value = serde_json::from_slice(
            &scan::get(s3.as_ref(), &format!("{folder}/metadata.json")).await,
        )
        .unwrap();
        assert_eq!(metadata["versions"]["cinc-auditor"], "0.0.0-test-double");
        assert_eq!(metadata["versions"]["profile sidescan-baseline"], "0.1.0");
        let evaluation = check_folder(s3.as_ref(), folder, &gate()).await;
        assert_eq!(evaluation["exit_code"], 1);
        scan::assert_nothing_left(&client, &ns, &run_id, "cinc").await;
        assert!(cms.get_opt(&cm.name_any()).await.unwrap().is_none());
    })
    .await;
}

/// Starts a distroless scan, waits until its pod exists, sends `sig`; the run must clean up.
async fn interrupted_scan(client: &Client, ns: &str, pod: &str, sig: &str) {
    let started = Instant::now();
    let child = scan_command(ns, pod, &["--profile", "builtin"])
        .args(DISTROLESS.iter().flat_map(|s| ["--set", s]))
        .spawn()
        .unwrap();
    let mut child = child;
    let pid = child.id().unwrap();
    created_by(client, ns, pod, &mut child).await;
    signal(pid, sig);
    let ran = finish(child, started).await;
    assert_eq!(ran.code, 3, "{}", ran.stderr);
    assert!(
        ran.stdout
            .contains(&format!("error: interrupted by SIG{sig}")),
        "{}",
        ran.stdout
    );
    assert!(ran.stdout.contains("cleanup") && ran.stdout.contains("deleted and gone"));
    scan::assert_nothing_left(client, ns, &ran.run_id(), pod).await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: see the module docs"]
async fn sigterm_and_sigint_mid_run_clean_up_everything() {
    with_temp_ns("orchsig", |client, ns| async move {
        let (access, secret, _) = s3_credentials();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        interrupted_scan(&client, &ns, "term", "TERM").await;
        interrupted_scan(&client, &ns, "int", "INT").await;
        let all = scan::objects_with(&client, &ns, "app.kubernetes.io/managed-by=sidescan").await;
        assert!(all.is_empty(), "{all:?}");
    })
    .await;
}

/// Short phases, so that a scan pod left by a killed run stops soon.
const SHORT: [&str; 8] = [
    "--set",
    "orchestrator.deadlines.deploySeconds=15",
    "--set",
    "orchestrator.deadlines.scanSeconds=10",
    "--set",
    "orchestrator.deadlines.retrieveSeconds=5",
    "--set",
    "orchestrator.deadlines.cleanupSeconds=10",
];

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: see the module docs"]
async fn after_sigkill_the_pod_stops_at_its_deadline_and_the_next_run_removes_it() {
    with_temp_ns("orchkill", |client, ns| async move {
        let (access, secret, _) = s3_credentials();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let distroless: Vec<&str> = DISTROLESS.iter().flat_map(|s| ["--set", *s]).collect();
        let mut args = vec!["--profile", "builtin"];
        args.extend(&distroless);
        args.extend(SHORT);
        let started = Instant::now();
        let mut child = scan_command(&ns, "killed", &args).spawn().unwrap();
        let pid = child.id().unwrap();
        let pod = created_by(&client, &ns, "killed", &mut child).await;
        let first_run = pod.labels()["sidescan.io/run-id"].clone();
        signal(pid, "KILL");
        let killed = finish(child, started).await;
        assert_eq!(killed.code, -1, "killed by a signal");

        // A second run while the first one's pod is alive: refused, naming it.
        let refused = run_scan(&ns, "killed", &args).await;
        assert_eq!(refused.code, 3, "{}", refused.stderr);
        assert!(
            refused
                .stdout
                .contains("killed exists and may belong to a live run")
                && refused.stdout.contains("stops at its deadline"),
            "{}",
            refused.stdout
        );
        assert!(
            refused.stdout.contains("nothing was created"),
            "{}",
            refused.stdout
        );
        // The orphan stops by itself at its deadline (the sum of the phases: 40 s).
        let pod = wait_pod(&client, &ns, "killed", "stopped at its deadline", |p| {
            p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Failed")
        })
        .await;
        assert_eq!(
            pod.status.unwrap().reason.as_deref(),
            Some("DeadlineExceeded")
        );
        // The next run removes it and what the killed run created, then scans.
        let next = run_scan(&ns, "killed", &args).await;
        assert_eq!(next.code, 0, "{}", next.stderr);
        for run in [first_run, next.run_id()] {
            scan::assert_nothing_left(&client, &ns, &run, "killed").await;
        }
        let all = scan::objects_with(&client, &ns, "app.kubernetes.io/managed-by=sidescan").await;
        assert!(all.is_empty(), "{all:?}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: see the module docs"]
async fn a_crashing_scanner_is_reported_and_cleaned_up() {
    with_temp_ns("orchcrash", |client, ns| async move {
        let (access, secret, _) = s3_credentials();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        // A target that exits at once: the agent waits for it (up to 120 s) and is then killed
        // from outside, as the kernel's OOM killer would: no termination message.
        let started = Instant::now();
        let child = scan_command(
            &ns,
            "crash",
            &[
                "--profile",
                "builtin",
                "--set",
                "target.command.0=/bin/false",
            ],
        )
        .spawn()
        .unwrap();
        let pod = wait_pod(&client, &ns, "crash", "scanner running", |p| {
            scanner_state(p).is_some_and(|s| s.running.is_some())
        })
        .await;
        let run_id = pod.labels()["sidescan.io/run-id"].clone();
        let agent =
            find_process(&["sidescan-agent", "scan", &run_id]).expect("the agent's process");
        signal(agent, "KILL");
        let ran = finish(child, started).await;
        assert_eq!(ran.code, 3, "{}", ran.stderr);
        assert!(
            ran.stdout
                .contains("the scanner ended without a result summary: exit code 137"),
            "{}",
            ran.stdout
        );
        scan::assert_nothing_left(&client, &ns, &run_id, "crash").await;
    })
    .await;
}

/// The PID of the process whose command line holds all of `parts`.
fn find_process(parts: &[&str]) -> Option<u32> {
    let deadline = Instant::now() + WAIT;
    while Instant::now() < deadline {
        for entry in std::fs::read_dir("/proc").ok()?.flatten() {
            let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
                continue;
            };
            let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if parts.iter().all(|p| cmdline.contains(p)) {
                return Some(pid);
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    None
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server: see the module docs"]
async fn a_target_image_that_never_starts_fails_within_the_deploy_deadline() {
    with_temp_ns("orchimage", |client, ns| async move {
        let ran = run_scan(
            &ns,
            "noimage",
            &[
                "--profile",
                "builtin",
                "--image",
                "sidescan-no-such-image:dev",
            ],
        )
        .await;
        assert_eq!(ran.code, 3, "{}", ran.stderr);
        assert!(
            ran.stdout
                .contains("container target cannot start: ErrImageNeverPull"),
            "{}",
            ran.stdout
        );
        // Well within the dev spec's 60 s deploy deadline: the reason is final at once.
        assert!(ran.took < Duration::from_secs(60), "{:?}", ran.took);
        scan::assert_nothing_left(&client, &ns, &ran.run_id(), "noimage").await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and SeaweedFS (scripts/dev-s3 up installs it): see the module docs"]
async fn a_store_that_stops_during_the_upload_loses_no_result() {
    with_temp_ns("orchs3", |client, ns| async move {
        let mut own = sidescan_e2e::seaweed::OwnS3::start().await;
        use sidescan_e2e::seaweed::{ACCESS_KEY, SECRET_KEY};
        scan::create_store_secret(&client, &ns, ACCESS_KEY, SECRET_KEY).await;
        let store = format!("s3://{}/orch", own.bucket);
        let endpoint = format!("results.endpoint={}", own.endpoint());
        // The cinc double pauses before writing its report (a hook file the profile ConfigMap
        // carries), so the store can go away after the scanner's preflight found it.
        let profile = tempfile::tempdir().unwrap();
        std::fs::write(
            profile.path().join("inspec.yml"),
            "name: outage\nversion: 0.1.0\n",
        )
        .unwrap();
        std::fs::create_dir(profile.path().join("files")).unwrap();
        std::fs::write(profile.path().join("files/sidescan-double-pause"), "8").unwrap();
        let started = Instant::now();
        let mut child = scan_command(
            &ns,
            "outage",
            &[
                "--profile",
                profile.path().to_str().unwrap(),
                "--store",
                &store,
                "--set",
                &endpoint,
                "--set",
                "thresholds=null",
            ],
        )
        .args(DISTROLESS.iter().flat_map(|s| ["--set", s]))
        // The runner's environment names the store it reads back (the spec's endpoint is what
        // the scanner pod uses).
        .env("AWS_ENDPOINT_URL", own.endpoint())
        .env("AWS_ACCESS_KEY_ID", ACCESS_KEY)
        .env("AWS_SECRET_ACCESS_KEY", SECRET_KEY)
        .spawn()
        .unwrap();
        // The store goes away once the view is proven (the preflight found the store), while
        // the tool runs, before the scanner uploads...
        created_by(&client, &ns, "outage", &mut child).await;
        scanner_logged(&client, &ns, "outage", "\"phase\":\"prove\"").await;
        own.stop().await;
        let pod = wait_pod(&client, &ns, "outage", "scanner ended", |p| {
            scanner_state(p).is_some_and(|s| s.terminated.is_some())
        })
        .await;
        let state = scanner_state(&pod).unwrap().terminated.unwrap();
        let message = state.message.unwrap_or_default();
        assert_eq!(state.exit_code, 3, "{message}");
        assert!(
            message.contains("kept-locally") && message.contains("\"in_log\":true"),
            "{message}"
        );
        // ...and comes back while the orchestrator retries.
        own.restart().await;
        let ran = finish(child, started).await;
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        assert!(
            ran.stdout.contains("(read from the scanner's log)"),
            "{}",
            ran.stdout
        );
        let s3 = own.store();
        let folders = scan::run_folders(&s3, &format!("orch/{ns}/distroless/")).await;
        let (folder, files) = folders.iter().next().expect("the run's folder");
        assert_eq!(files, &RUN_FILES);
        let hdf = scan::get(&s3, &format!("{folder}/hdf.json")).await;
        let summary: Value = serde_json::from_str(&message).unwrap();
        assert_eq!(summary["objects"][0]["sha256"], sha256(&hdf));
        scan::assert_nothing_left(&client, &ns, &ran.run_id(), "outage").await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster: see the module docs"]
async fn bad_input_fails_before_anything_is_deployed() {
    with_temp_ns("orchbad", |client, ns| async move {
        let dir = tempfile::tempdir().unwrap();
        let threshold = dir.path().join("threshold.yml");
        std::fs::write(
            &threshold,
            "compliance:\n  min: 80\nfailed:\n  critcal:\n    max: 0\n",
        )
        .unwrap();
        let values = dir.path().join("values.yaml");
        std::fs::write(&values, "target:\n  name: web\n  imag: x\n").unwrap();
        let threshold_arg = threshold.to_str().unwrap().to_string();
        let cases: Vec<(Vec<String>, String)> = vec![
            (
                vec![
                    "--profile".into(),
                    "builtin".into(),
                    "--threshold".into(),
                    threshold_arg.clone(),
                ],
                format!("{threshold_arg}: unknown threshold key(s): failed.critcal.max"),
            ),
            (
                vec!["--profile".into(), "/no/such/profile".into()],
                "--profile /no/such/profile: No such file or directory".into(),
            ),
        ];
        let no_ns = (
            vec!["--profile".to_string(), "builtin".to_string()],
            "namespace sidescan-no-such-ns: does not exist".to_string(),
        );
        for (i, (args, expected)) in cases.into_iter().chain([no_ns]).enumerate() {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let target_ns = if i == 2 {
                "sidescan-no-such-ns"
            } else {
                ns.as_str()
            };
            let ran = run_scan(target_ns, "bad", &args).await;
            assert_eq!(ran.code, 2, "{args:?}: {}", ran.stderr);
            let lines: Vec<&str> = ran.stderr.lines().filter(|l| !l.starts_with('{')).collect();
            assert_eq!(lines.len(), 1, "{args:?}: {}", ran.stderr);
            assert!(lines[0].contains(&expected), "{args:?}: {}", lines[0]);
        }
        // A spec that does not parse: the file and the key.
        let mut cmd = Command::new(scan::runner_bin());
        let out = cmd
            .args([
                "scan",
                "--namespace",
                &ns,
                "--pod-name",
                "bad",
                "--profile",
                "builtin",
                "--values",
            ])
            .arg(&values)
            .output()
            .await
            .unwrap();
        assert_eq!(out.status.code(), Some(2));
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.trim().contains(&format!(
                "{}: target.imag: unknown field `imag`",
                values.display()
            )),
            "{stderr}"
        );
        // Nothing was created.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        assert!(
            pods.list(&ListParams::default())
                .await
                .unwrap()
                .items
                .is_empty()
        );
        let all = scan::objects_with(&client, &ns, "app.kubernetes.io/managed-by=sidescan").await;
        assert!(all.is_empty(), "{all:?}");
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images and S3 server (about two minutes: the CronJob fires every minute): see the module docs"]
async fn a_cronjob_fires_twice_and_keeps_both_result_folders() {
    with_temp_ns("orchcron", |client, ns| async move {
        let (access, secret, bucket) = s3_credentials();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let kube = server_version(&client).await;
        let mut sets: Vec<String> = DISTROLESS.iter().map(|s| s.to_string()).collect();
        sets.push(format!("results.storeUrl=s3://{bucket}/orch"));
        sets.push("schedule.cron=* * * * *".into());
        let docs = render(&ns, kube, &sets);
        apply_all(
            &client,
            &ns,
            &only(
                &docs,
                &[
                    "ServiceAccount",
                    "Role",
                    "RoleBinding",
                    "ConfigMap",
                    "CronJob",
                ],
            ),
            false,
        )
        .await;
        let (store, _) = scan::s3_store();
        let prefix = format!("orch/{ns}/distroless/");
        // Watch the namespace's Jobs until two have completed.
        let jobs: Api<Job> = Api::namespaced(client.clone(), &ns);
        let mut stream = watcher::watcher(jobs.clone(), watcher::Config::default()).boxed();
        let mut complete = std::collections::BTreeSet::new();
        let mut first_folder: Option<(String, Vec<u8>)> = None;
        let deadline = tokio::time::Instant::now() + Duration::from_secs(200);
        while complete.len() < 2 {
            let event = tokio::time::timeout_at(deadline, stream.next())
                .await
                .expect("two CronJob runs within 200 s")
                .expect("watch")
                .expect("watch event");
            if let watcher::Event::Apply(job) | watcher::Event::InitApply(job) = event {
                let conditions = job
                    .status
                    .as_ref()
                    .and_then(|s| s.conditions.clone())
                    .unwrap_or_default();
                assert!(
                    !conditions
                        .iter()
                        .any(|c| c.type_ == "Failed" && c.status == "True"),
                    "job {} failed",
                    job.name_any()
                );
                if conditions
                    .iter()
                    .any(|c| c.type_ == "Complete" && c.status == "True")
                    && complete.insert(job.name_any())
                    && first_folder.is_none()
                {
                    // The first run's files, to compare after the second run.
                    let folders = scan::run_folders(store.as_ref(), &prefix).await;
                    let (folder, _) = folders.iter().next().expect("first folder");
                    let hdf = scan::get(store.as_ref(), &format!("{folder}/hdf.json")).await;
                    first_folder = Some((folder.clone(), hdf));
                }
            }
        }
        // Stop further runs.
        let (api, _, name) = api_for(&client, &ns, &only(&docs, &["CronJob"])[0]).await;
        api.delete(&name, &DeleteParams::background())
            .await
            .unwrap();
        let folders = scan::run_folders(store.as_ref(), &prefix).await;
        assert!(folders.len() >= 2, "{folders:?}");
        for (folder, files) in &folders {
            if files.len() == RUN_FILES.len() {
                check_folder(store.as_ref(), folder, &gate()).await;
            }
        }
        let (first, hdf) = first_folder.unwrap();
        assert_eq!(folders[&first], RUN_FILES, "{first}");
        assert_eq!(
            scan::get(store.as_ref(), &format!("{first}/hdf.json")).await,
            hdf,
            "{first} was rewritten"
        );
        // Every scan pod goes: cleaned up by its run, or collected with its deleted Job.
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        let config = watcher::Config::default().labels("app.kubernetes.io/component=scan-pod");
        let mut stream = watcher::watcher(pods, config).boxed();
        let mut live = std::collections::BTreeSet::new();
        let mut synced = false;
        let deadline = tokio::time::Instant::now() + WAIT;
        while !(synced && live.is_empty()) {
            let event = tokio::time::timeout_at(deadline, stream.next())
                .await
                .unwrap_or_else(|_| panic!("scan pods left: {live:?}"))
                .expect("watch")
                .expect("watch event");
            match event {
                watcher::Event::Init => live.clear(),
                watcher::Event::InitApply(p) | watcher::Event::Apply(p) => {
                    live.insert(p.name_any());
                }
                watcher::Event::Delete(p) => {
                    live.remove(&p.name_any());
                }
                watcher::Event::InitDone => synced = true,
            }
        }
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and SAF CLI: see the module docs"]
async fn the_scan_with_sidecar_script_takes_the_reference_arguments() {
    with_temp_ns("orchscript", |client, ns| async move {
        let (access, secret, _) = s3_credentials();
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let script = scan::repo_root().join("scripts/scan-with-sidecar.sh");
        let out = Command::new(&script)
            .args([ns.as_str(), "scripted", "builtin"])
            .arg(gate())
            .env("SIDESCAN_RUNNER", scan::runner_bin())
            .env("SIDESCAN_VALUES", scan::dev_values())
            .env("SIDESCAN_IMAGE", "sidescan-target-distroless:dev")
            .env(
                "SIDESCAN_SCAN_ARGS",
                "--set security.mode=same-uid --set security.runAsUser=65532 --set security.runAsGroup=65532",
            )
            .output()
            .await
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        eprintln!("{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(0), "{stdout}");
        assert!(stdout.contains("verdict: passed"), "{stdout}");
        let run_id = scan::run_id_in(&stdout).unwrap();
        scan::assert_nothing_left(&client, &ns, &run_id, "scripted").await;
        // Usage errors are exit 2, as for every sidescan program.
        let out = Command::new(&script).arg(&ns).output().await.unwrap();
        assert_eq!(out.status.code(), Some(2));
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster: see the module docs"]
async fn a_scan_ships_local_input_and_waiver_files_to_the_scanner() {
    with_temp_ns("orchwaive", |client, ns| async move {
        let access = required("AWS_ACCESS_KEY_ID", S3_HINT);
        let secret = required("AWS_SECRET_ACCESS_KEY", S3_HINT);
        let bucket = required("SIDESCAN_S3_BUCKET", S3_HINT);
        scan::create_store_secret(&client, &ns, &access, &secret).await;
        let dir = tempfile::tempdir().unwrap();
        let waivers = dir.path().join("waivers.yml");
        std::fs::write(
            &waivers,
            "SIDESCAN-FS-003:\n  run: false\n  justification: accepted for this image\n",
        )
        .unwrap();
        let inputs = dir.path().join("inputs.yml");
        std::fs::write(&inputs, "allowed_setid_binaries: []\n").unwrap();
        let store = format!("s3://{bucket}/orch");
        let set_waivers = format!("profile.waiverFiles=[{}]", waivers.display());
        let set_inputs = format!("profile.inputFiles=[{}]", inputs.display());
        let mut args = vec![
            "--profile",
            "builtin",
            "--store",
            &store,
            "--set",
            &set_waivers,
            "--set",
            &set_inputs,
            "--set",
            "thresholds=null",
        ];
        args.extend(DISTROLESS.iter().flat_map(|s| ["--set", s]));
        let ran = run_scan(&ns, "waived", &args).await;
        assert_eq!(ran.code, 0, "{}", ran.stderr);
        // What the store holds: the waived control skipped with the waiver's justification.
        let (s3, _) = scan::s3_store();
        let folders = scan::run_folders(s3.as_ref(), &format!("orch/{ns}/distroless/")).await;
        let (folder, _) = folders.iter().next().expect("a run folder");
        let hdf: Value =
            serde_json::from_slice(&scan::get(s3.as_ref(), &format!("{folder}/hdf.json")).await)
                .unwrap();
        let control = hdf["profiles"][0]["controls"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "SIDESCAN-FS-003")
            .expect("SIDESCAN-FS-003 in the report");
        assert_eq!(
            control["waiver_data"]["skipped_due_to_waiver"], true,
            "{control}"
        );
        assert_eq!(
            control["waiver_data"]["justification"], "accepted for this image",
            "{control}"
        );
        assert_eq!(control["results"][0]["status"], "skipped", "{control}");
        scan::assert_nothing_left(&client, &ns, &ran.run_id(), "waived").await;
    })
    .await;
}
