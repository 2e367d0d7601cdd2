//! End-to-end tests against the local cluster: `scripts/dev-cluster up`, `scripts/build-images`,
//! then `eval "$(scripts/dev-cluster env)"`.

use k8s_openapi::api::core::v1::{Pod, SecurityContext, ServiceAccount};
use k8s_openapi::api::rbac::v1::{PolicyRule, Role, RoleBinding, RoleRef, Subject};
use kube::api::{LogParams, ObjectMeta, PostParams};
use kube::{Api, Client};
use serde_json::Value;
use sidescan_e2e::env::image;
use sidescan_e2e::harness::{wait_for, wait_for_service_account_token, with_temp_ns};
use sidescan_e2e::pods::{container, container_ended, in_cluster_client_env, pod, terminated};

/// Runs in the scanner image's static busybox: finds the process whose argv[0] is `$1` in the
/// pod's shared PID namespace and prints that process's /etc/os-release through /proc/<pid>/root.
/// The target may start after the reader, so it looks again (bounded) until the process exists.
const READ_TARGET_OS_RELEASE: &str = r#"
PATH=/opt/sidescan/bin
tries=0
while :; do
  for dir in /proc/[0-9]*; do
    if [ "$(tr '\0' '\n' < "$dir/cmdline" 2>/dev/null | head -n 1)" = "$1" ]; then
      pid=${dir#/proc/}
      break 2
    fi
  done
  tries=$((tries + 1))
  [ "$tries" -lt 300 ] || { echo "no process $1 in the shared PID namespace" >&2; exit 1; }
  sleep 0.2
done
echo "pid=$pid"
cat "/proc/$pid/root/etc/os-release"
"#;

/// A target pod with the scanner image as a sidecar that reads the target's os-release through
/// the shared process namespace; returns what the reader printed.
async fn read_target_os_release(
    client: Client,
    ns: String,
    target: &str,
    entrypoint: &str,
    reader_uid: Option<i64>,
) -> String {
    let mut reader = container("reader", &image("scanner"));
    reader.command = Some(vec!["/opt/sidescan/bin/sh".into()]);
    reader.args = Some(vec![
        "-c".into(),
        READ_TARGET_OS_RELEASE.into(),
        "reader".into(),
        entrypoint.into(),
    ]);
    reader.security_context = reader_uid.map(|uid| SecurityContext {
        run_as_user: Some(uid),
        run_as_group: Some(uid),
        ..SecurityContext::default()
    });
    let mut spec = pod(
        "shared-pid",
        vec![
            container("target", &image(&format!("target-{target}"))),
            reader,
        ],
    );
    if let Some(s) = spec.spec.as_mut() {
        s.share_process_namespace = Some(true);
        s.automount_service_account_token = Some(false);
    }
    let pods: Api<Pod> = Api::namespaced(client, &ns);
    pods.create(&PostParams::default(), &spec)
        .await
        .expect("creating the shared-PID pod");
    let done = wait_for(
        &pods,
        "shared-pid",
        "reader ended",
        container_ended("reader"),
    )
    .await;
    let state = terminated(&done, "reader").expect("the reader container ended");
    assert_eq!(state.exit_code, 0, "reader failed: {state:?}");
    let params = LogParams {
        container: Some("reader".into()),
        ..LogParams::default()
    };
    pods.logs("shared-pid", &params).await.expect("reader logs")
}

/// Checks the reader saw the target's file, not its own (the scanner image's).
fn assert_target_os_release(output: &str, expected_lines: &[&str]) {
    assert!(
        output.lines().next().is_some_and(|l| l.starts_with("pid=")),
        "no target PID in: {output}"
    );
    for line in expected_lines {
        assert!(
            output.lines().any(|l| l == *line),
            "{line:?} missing from the target's os-release as read through /proc: {output}"
        );
    }
    assert!(
        !output.contains("sidescan scanner"),
        "read the scanner's own os-release: {output}"
    );
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/dev-cluster up"]
async fn sidecar_reads_glibc_target_root_through_shared_pid_namespace() {
    with_temp_ns("glibc", |client, ns| async move {
        let out =
            read_target_os_release(client, ns, "glibc", "/usr/local/bin/target-server", None).await;
        assert_target_os_release(&out, &["ID=debian", "VARIANT_ID=sidescan-target-glibc"]);
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/dev-cluster up"]
async fn sidecar_reads_musl_target_root_through_shared_pid_namespace() {
    with_temp_ns("musl", |client, ns| async move {
        let out =
            read_target_os_release(client, ns, "musl", "/usr/local/bin/target-server", None).await;
        assert_target_os_release(&out, &["ID=alpine", "VARIANT_ID=sidescan-target-musl"]);
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/dev-cluster up"]
async fn sidecar_with_the_same_uid_reads_distroless_target_root() {
    // The distroless target runs as 65532; a reader with the same UID needs no capability.
    with_temp_ns("distroless", |client, ns| async move {
        let out =
            read_target_os_release(client, ns, "distroless", "/app/server", Some(65532)).await;
        assert_target_os_release(
            &out,
            &[
                "PRETTY_NAME=\"Distroless\"",
                "VARIANT_ID=sidescan-target-distroless",
            ],
        );
    })
    .await;
}

fn meta(name: &str) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_string()),
        ..ObjectMeta::default()
    }
}

#[tokio::test]
#[ignore = "needs the local cluster: scripts/dev-cluster up"]
async fn in_cluster_client_gets_only_its_own_pod_and_is_refused_exec() {
    with_temp_ns("rbac", |client, ns| async move {
        let name = "probe";
        let post = PostParams::default();
        Api::<ServiceAccount>::namespaced(client.clone(), &ns)
            .create(
                &post,
                &ServiceAccount {
                    metadata: meta(name),
                    ..ServiceAccount::default()
                },
            )
            .await
            .expect("creating the ServiceAccount");
        let role = Role {
            metadata: meta(name),
            rules: Some(vec![PolicyRule {
                api_groups: Some(vec![String::new()]),
                resources: Some(vec!["pods".into()]),
                resource_names: Some(vec![name.into()]),
                verbs: vec!["get".into()],
                ..PolicyRule::default()
            }]),
        };
        Api::<Role>::namespaced(client.clone(), &ns)
            .create(&post, &role)
            .await
            .expect("creating the Role");
        let binding = RoleBinding {
            metadata: meta(name),
            role_ref: RoleRef {
                api_group: "rbac.authorization.k8s.io".into(),
                kind: "Role".into(),
                name: name.into(),
            },
            subjects: Some(vec![Subject {
                kind: "ServiceAccount".into(),
                name: name.into(),
                namespace: Some(ns.clone()),
                ..Subject::default()
            }]),
        };
        Api::<RoleBinding>::namespaced(client.clone(), &ns)
            .create(&post, &binding)
            .await
            .expect("creating the RoleBinding");
        wait_for_service_account_token(&client, &ns, name).await;

        let mut probe = container(name, &image("e2e-probe"));
        probe.env = Some(in_cluster_client_env());
        let mut spec = pod(name, vec![probe]);
        if let Some(s) = spec.spec.as_mut() {
            s.service_account_name = Some(name.into());
        }
        let pods: Api<Pod> = Api::namespaced(client.clone(), &ns);
        pods.create(&post, &spec)
            .await
            .expect("creating the probe pod");
        let done = wait_for(&pods, name, "probe ended", container_ended(name)).await;
        let state = terminated(&done, name).expect("the probe container ended");
        assert_eq!(state.exit_code, 0, "probe failed: {state:?}");
        let logs = pods
            .logs(name, &LogParams::default())
            .await
            .expect("probe logs");
        let report: Value = serde_json::from_str(logs.trim())
            .unwrap_or_else(|e| panic!("probe printed no JSON ({e}): {logs}"));

        let user = format!("system:serviceaccount:{ns}:{name}");
        let code = |key: &str| report[key]["code"].as_u64();
        let message = |key: &str| {
            report[key]["message"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        };
        assert_eq!(report["server"], "https://127.0.0.1:6443/", "{report}");
        assert_eq!(code("get_own_pod"), Some(200), "{report}");
        for refused in ["get_other_pod", "list_pods", "create_pod_exec"] {
            assert_eq!(code(refused), Some(403), "{refused}: {report}");
            assert!(
                message(refused).contains(&user),
                "{refused} not refused for {user}: {report}"
            );
        }
        assert!(message("create_pod_exec").contains("pods/exec"), "{report}");
    })
    .await;
}
