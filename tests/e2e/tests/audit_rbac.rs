//! The audit under exactly the RBAC `sidescan-gen render audit-job` renders, not the admin
//! kubeconfig: the runner built from this tree runs with the audit ServiceAccount's own token
//! (`placement.mode: workload-namespace` across two namespaces, the cinc backend with a profile
//! ConfigMap, so clones outside the audit's namespace get their own copy), records every API
//! request it makes, and the tests assert on what the cluster and the store hold:
//!
//! - every request was granted, and every granted verb was used (an audit that finishes, with a
//!   clone that misses its deadline; an audit interrupted and resumed);
//! - an audit SIGTERMed while clones run in both namespaces leaves no clone and no ConfigMap.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`.

use futures::FutureExt;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Pod};
use kube::api::{DeleteParams, ListParams, PostParams};
use kube::{Api, Client};
use serde_json::{Value, json};
use sidescan_core::audit::record::{AuditRecord, Verdict};
use sidescan_e2e::audit::{
    audit_objects, audit_objects_after, cinc_profile_config_map, cinc_profile_spec,
    clones_running_in, extra_namespace, get, runner_bin, s3, spec_yaml,
};
use sidescan_e2e::harness::with_temp_ns;
use sidescan_e2e::manifests::{delete_cluster_scoped, render_audit, server_version};
use sidescan_e2e::rbac::{self, grants, never_used, not_granted, read_requests};
use sidescan_e2e::workloads;
use sidescan_gen::audit::AuditKind;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};

/// Everything one audit test set up.
struct Setup {
    client: Client,
    /// The audit's namespace (and one audited namespace) and the other audited namespace.
    a: String,
    b: String,
    name: String,
    prefix: String,
    docs: Vec<Value>,
    spec: PathBuf,
    kubeconfig: PathBuf,
    dir: tempfile::TempDir,
}

/// Renders the audit for namespaces `a` (its own) and `b`, applies its RBAC (and the profile
/// ConfigMap), and writes the spec and a kubeconfig of the audit's ServiceAccount.
async fn setup(client: Client, a: String, b: String, pause: u32, extra: &str) -> Setup {
    let name = format!("e2e{:06x}", rand::random::<u32>() & 0xffffff);
    let prefix = format!("e2e-audit-rbac/{a}");
    let profile = format!("{name}-profile");
    cinc_profile_config_map(&client, &a, &profile, pause).await;
    let text = spec_yaml(
        &a,
        &prefix,
        &format!(
            "name: {name}\nselect: {{namespaces: [{a}, {b}]}}\n\
             placement: {{mode: workload-namespace}}\n{}{extra}",
            cinc_profile_spec(&profile)
        ),
    )
    .replace("scanner: {backend: builtin,", "scanner: {backend: cinc,");
    let spec = sidescan_runner::audit::input::parse_spec(&text, "audit.yaml").unwrap();
    let kube = server_version(&client).await;
    let docs = render_audit(&spec, kube, AuditKind::Job);
    let rbac_kinds = [
        "ServiceAccount",
        "ClusterRole",
        "ClusterRoleBinding",
        "Role",
        "RoleBinding",
    ];
    let rbac_docs: Vec<Value> = docs
        .iter()
        .filter(|d| rbac_kinds.contains(&d["kind"].as_str().unwrap()))
        .cloned()
        .collect();
    rbac::apply(&client, &rbac_docs).await;
    let dir = tempfile::tempdir().unwrap();
    let spec_path = dir.path().join("audit.yaml");
    std::fs::write(&spec_path, &text).unwrap();
    let kubeconfig =
        rbac::service_account_kubeconfig(&client, &a, &format!("sidescan-{name}"), dir.path())
            .await;
    Setup {
        client,
        a,
        b,
        name,
        prefix,
        docs: rbac_docs,
        spec: spec_path,
        kubeconfig,
        dir,
    }
}

impl Setup {
    fn requests_file(&self) -> PathBuf {
        self.dir.path().join("requests.jsonl")
    }

    /// `sidescan-runner audit` as the audit's ServiceAccount, recording its requests.
    fn audit(&self, resume: Option<&str>) -> tokio::process::Command {
        let mut command = tokio::process::Command::new(runner_bin());
        command
            .args(["audit", "--spec"])
            .arg(&self.spec)
            .env("KUBECONFIG", &self.kubeconfig)
            .env("SIDESCAN_API_REQUESTS", self.requests_file())
            .kill_on_drop(true);
        if let Some(id) = resume {
            command.args(["--resume", id]);
        }
        command
    }

    /// Every request the runner made was granted by the rendered roles.
    fn assert_granted(&self) -> Vec<rbac::Request> {
        let requests = read_requests(&self.requests_file());
        let grants = grants(&self.docs, &self.a, &format!("sidescan-{}", self.name));
        let refused = not_granted(&requests, &grants);
        assert!(refused.is_empty(), "requests not granted: {refused:#?}");
        requests
    }
}

/// A target whose clone is never scheduled (its pod template's node selector matches no node).
async fn unschedulable(client: &Client, ns: &str) {
    let mut pod = workloads::template("stuck", &[("app", "target-musl")]);
    pod["metadata"]["name"] = "stuck".into();
    pod["spec"]["nodeSelector"] = json!({"sidescan.io/e2e-no-such-node": "true"});
    Api::<Pod>::namespaced(client.clone(), ns)
        .create(
            &PostParams::default(),
            &serde_json::from_value::<Pod>(pod).unwrap(),
        )
        .await
        .unwrap();
}

/// Runs `body` with the set-up audit, removing the cluster-scoped objects and the second
/// namespace whatever happens.
async fn with_setup<F, Fut>(prefix: &'static str, pause: u32, extra: &'static str, body: F)
where
    F: FnOnce(Setup) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Setup> + Send + 'static,
{
    with_temp_ns(prefix, move |client, a| async move {
        let b = extra_namespace(&client, prefix).await;
        let s = setup(client.clone(), a.clone(), b.clone(), pause, extra).await;
        let docs = s.docs.clone();
        let outcome = std::panic::AssertUnwindSafe(body(s)).catch_unwind().await;
        delete_cluster_scoped(&client, &docs).await;
        let _ = Api::<Namespace>::all(client.clone())
            .delete(&b, &DeleteParams::default())
            .await;
        if let Err(panic) = outcome {
            std::panic::resume_unwind(panic);
        }
    })
    .await;
}

/// Reads the audit's first line; returns the audit id.
async fn audit_id_from(
    lines: &mut tokio::io::Lines<BufReader<tokio::process::ChildStdout>>,
) -> String {
    let line = lines
        .next_line()
        .await
        .unwrap()
        .expect("the audit's first line");
    eprintln!("audit: {line}");
    line.strip_prefix("audit ")
        .and_then(|l| l.split_whitespace().next())
        .expect("audit <id> -> <store>")
        .to_string()
}

fn stdout_of(out: &std::process::Output) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    eprintln!("{stdout}{}", String::from_utf8_lossy(&out.stderr));
    stdout
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn the_rendered_rbac_grants_exactly_what_the_audit_calls() {
    // All four targets at once: a clone is deleted as soon as its scanner ends, so with fewer
    // slots the clones of the two namespaces need not overlap when the unschedulable one holds a
    // slot (the order of the targets follows the random namespace names).
    let extra = "targetDeadlineSeconds: 30\nretries: 0\nconcurrency: 4\n";
    with_setup("audit-rbac", 4, extra, |s| async move {
        workloads::deployment(&s.client, &s.a, "web", 0, &[("app", "target-distroless")]).await;
        workloads::deployment(&s.client, &s.b, "api", 0, &[("app", "target-musl")]).await;
        workloads::deployment(&s.client, &s.b, "batch", 0, &[("app", "target-glibc")]).await;
        unschedulable(&s.client, &s.b).await;

        // 1. Interrupted while clones run in both namespaces.
        let mut child = s.audit(None).stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let audit_id = audit_id_from(&mut lines).await;
        clones_running_in(&s.client, &[&s.a, &s.b], &audit_id).await;
        let pid = child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = child.wait().await.unwrap();
        assert_eq!(status.code(), Some(3), "interrupted");

        // 2. Resumed to the end: the unschedulable target misses its deadline.
        let out = s.audit(Some(&audit_id)).output().await.unwrap();
        let stdout = stdout_of(&out);
        assert_eq!(out.status.code(), Some(3), "one target not scanned");
        let s3 = s3();
        let audit: AuditRecord = serde_json::from_slice(
            &get(&s3, &format!("{}/audits/{audit_id}/audit.json", s.prefix))
                .await
                .expect("audit.json"),
        )
        .unwrap();
        assert_eq!(audit.targets.len(), 4, "{stdout}");
        for t in &audit.targets {
            if t.workload == "stuck" {
                assert_eq!(t.verdict, Verdict::NotScanned);
                let reason = t.reason.clone().unwrap_or_default();
                assert!(reason.contains("deadline of 30 s passed"), "{reason}");
            } else {
                assert_ne!(t.verdict, Verdict::NotScanned, "{}: {:?}", t.id, t.reason);
            }
        }
        let left =
            audit_objects_after(&s.client, &[&s.a, &s.b], &audit_id, Duration::from_secs(30)).await;
        assert!(left.is_empty(), "left behind: {left:?}");

        // 3. What the runner asked for, against what the rendered roles grant.
        let requests = s.assert_granted();
        let grants = grants(&s.docs, &s.a, &format!("sidescan-{}", s.name));
        let unused = never_used(&requests, &grants);
        assert!(
            unused.is_empty(),
            "granted but never used: {unused:#?}\nrequests: {requests:#?}"
        );
        // The copies of the profile are created in the other namespace only.
        assert!(requests.iter().any(|r| r.verb == "create"
            && r.resource == "configmaps"
            && r.namespace.as_deref() == Some(&s.b)));
        assert!(
            !requests.iter().any(|r| r.resource == "configmaps"
                && r.namespace.as_deref() == Some(&s.a)
                && r.verb != "get"),
            "the audit's namespace mounts the profile as it is"
        );
        s
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, the S3 server and images (scripts/test-all)"]
async fn a_sigtermed_audit_across_two_namespaces_leaves_nothing() {
    with_setup("audit-term", 20, "concurrency: 4\n", |s| async move {
        for (ns, name, image) in [
            (&s.a, "a1", "target-distroless"),
            (&s.a, "a2", "target-musl"),
            (&s.b, "b1", "target-glibc"),
            (&s.b, "b2", "target-distroless"),
        ] {
            workloads::deployment(&s.client, ns, name, 0, &[("app", image)]).await;
        }
        let mut child = s.audit(None).stdout(Stdio::piped()).spawn().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let audit_id = audit_id_from(&mut lines).await;
        clones_running_in(&s.client, &[&s.a, &s.b], &audit_id).await;
        // Each clone has its profile copy (outside the audit's namespace) while it runs.
        let copies: Api<ConfigMap> = Api::namespaced(s.client.clone(), &s.b);
        let sel = format!("sidescan.io/audit-id={audit_id}");
        let held = copies
            .list(&ListParams::default().labels(&sel))
            .await
            .unwrap()
            .items;
        assert!(
            !held.is_empty(),
            "the clones in {} have profile copies",
            s.b
        );
        for cm in &held {
            let owner = &cm.metadata.owner_references.as_ref().unwrap()[0];
            assert_eq!(owner.kind, "Pod", "owned by its clone");
        }
        let pid = child.id().unwrap().to_string();
        std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        let status = child.wait().await.unwrap();
        let mut rest = String::new();
        while let Ok(Some(line)) = lines.next_line().await {
            rest.push_str(&line);
            rest.push('\n');
        }
        assert_eq!(status.code(), Some(3), "interrupted: {rest}");
        // The runner waited until its clones were gone: none is left when it exits.
        let clones: Vec<String> = audit_objects(&s.client, &[&s.a, &s.b], &audit_id)
            .await
            .into_iter()
            .filter(|l| l.starts_with("pod "))
            .collect();
        assert!(clones.is_empty(), "clones left: {clones:?}");
        // The copies go with their clones (the garbage collector, within seconds).
        let left =
            audit_objects_after(&s.client, &[&s.a, &s.b], &audit_id, Duration::from_secs(30)).await;
        assert!(left.is_empty(), "left behind: {left:?}");
        assert!(
            get(&s3(), &format!("{}/audits/{audit_id}/audit.json", s.prefix))
                .await
                .is_none(),
            "an interrupted audit writes no audit files"
        );
        s.assert_granted();
        s
    })
    .await;
}
