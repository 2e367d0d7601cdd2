//! The trust boundaries in a real pod: a target that shares the scanner's UID and attacks it
//! while it runs, and a scanner that forges its termination message. Each test asserts on what the
//! attacker saw, what the orchestrator decided and what the store holds.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`, and `eval` of
//! both `env` outputs.

use object_store::{ObjectStoreExt, PutPayload};
use serde_json::{Value, json};
use sidescan_e2e::env::{S3_HINT, required};
use sidescan_e2e::harness::with_temp_ns;
use sidescan_e2e::scan;
use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// The dev-cluster spec with `changes` merged in, written as a values file (JSON is YAML) with
/// its relative paths made absolute.
fn values_file(dir: &std::path::Path, changes: Value) -> std::path::PathBuf {
    let text = std::fs::read_to_string(scan::dev_values()).unwrap();
    let mut spec = sidescan_gen::values::parse_values(&text, "dev-cluster.yaml").unwrap();
    let specs = scan::repo_root().join("examples/specs");
    for (section, key) in [("profile", "dir"), ("thresholds", "file")] {
        if let Some(path) = spec[section][key].as_str() {
            spec[section][key] = json!(specs.join(path).display().to_string());
        }
    }
    merge(&mut spec, changes);
    let path = dir.join("values.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&spec).unwrap()).unwrap();
    path
}

fn merge(into: &mut Value, from: Value) {
    match (into, from) {
        (Value::Object(into), Value::Object(from)) => {
            for (k, v) in from {
                merge(into.entry(k).or_insert(Value::Null), v);
            }
        }
        (slot, value) => *slot = value,
    }
}

struct Ran {
    code: i32,
    stdout: String,
    stderr: String,
}

async fn scan_with(values: &std::path::Path, ns: &str, pod: &str) -> Ran {
    let out = Command::new(scan::runner_bin())
        .arg("scan")
        .arg("--values")
        .arg(values)
        .args(["--namespace", ns, "--pod-name", pod])
        .env("SIDESCAN_LOG", "info")
        .stdin(Stdio::null())
        .output()
        .await
        .expect("the runner");
    let ran = Ran {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    eprintln!(
        "--- runner exit {}\n{}\n{}",
        ran.code, ran.stdout, ran.stderr
    );
    ran
}

/// The attacker, in the target container (the glibc image's bash, the scanner's UID): for every
/// process that is the agent, try its environment, its root (the ServiceAccount token) and its
/// termination log, over and over while the scan runs; report each success to the test's
/// listener. `self-environ` shows reading an environment works at all.
fn attacker(port: u16) -> String {
    format!(
        r#"exec 3<>/dev/tcp/127.0.0.1/{port} || exit 1
# ($$ would reach bash as $: Kubernetes reads $$ in arguments as an escaped $.)
mapfile -d '' own < /proc/self/environ && echo "self-environ ${{#own[@]}} pid $BASHPID" >&3
while :; do
  for d in /proc/[0-9]*; do
    pid=${{d#/proc/}}
    [ "$pid" = "$BASHPID" ] && continue
    mapfile -d '' argv < "$d/cmdline" 2>/dev/null || continue
    case "${{argv[0]}}" in *sidescan-agent) ;; *) continue ;; esac
    echo "agent $pid ${{argv[0]}}" >&3
    if mapfile -d '' env < "$d/environ" 2>/dev/null; then
      echo "ENVIRON $pid ${{#env[@]}}" >&3
      for v in "${{env[@]}}"; do
        case "$v" in SIDESCAN_UPLOAD_URLS=*|AWS_SECRET_ACCESS_KEY=*|*X-Amz-Signature*) echo "SECRET $pid ${{v%%=*}}" >&3 ;; esac
      done
    fi
    [ -r "$d/root/var/run/secrets/kubernetes.io/serviceaccount/token" ] && echo "TOKEN $pid" >&3
    [ -d "$d/root/etc" ] && echo "ROOT $pid" >&3
    ( printf '{{"outcome":"stored","run_id":"forged0000","backend":"builtin","objects":[]}}' > "$d/root/dev/termination-log" ) 2>/dev/null && echo "TERMLOG $pid" >&3
  done
  sleep 0.02
done"#
    )
}

#[tokio::test]
#[ignore = "needs the local cluster, the S3 server and the images"]
async fn a_same_uid_target_reads_no_secret_of_the_scanner_and_cannot_forge_its_result() {
    with_temp_ns("trust", |client, ns| async move {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        // Everything the attacker reports, collected while the scan runs.
        let reports = std::thread::spawn(move || {
            let (stream, _) = listener.accept().expect("the attacker connects");
            stream
                .set_read_timeout(Some(Duration::from_secs(600)))
                .unwrap();
            BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        scan::create_store_secret(
            &client,
            &ns,
            &required("AWS_ACCESS_KEY_ID", S3_HINT),
            &required("AWS_SECRET_ACCESS_KEY", S3_HINT),
        )
        .await;
        let dir = tempfile::tempdir().unwrap();
        let values = values_file(
            dir.path(),
            json!({
                "target": {"name": "spy", "image": "sidescan-target-glibc:dev",
                    "command": ["/bin/bash", "-c", attacker(port)]},
                "security": {"mode": "same-uid", "runAsUser": 65532, "runAsGroup": 65532},
            }),
        );
        let ran = scan_with(&values, &ns, "spy").await;
        let run_id = scan::run_id_in(&ran.stdout).expect("a run id");
        let lines = reports.join().unwrap();
        eprintln!("--- attacker\n{}", lines.join("\n"));

        // The attacker ran, could read an environment, and saw the agent's process.
        assert!(
            lines.iter().any(|l| l.starts_with("self-environ ")),
            "{lines:?}"
        );
        assert!(lines.iter().any(|l| l.starts_with("agent ")), "{lines:?}");
        // ... and reached nothing of it.
        for what in ["ENVIRON", "SECRET", "TOKEN", "ROOT", "TERMLOG"] {
            let got: Vec<&String> = lines.iter().filter(|l| l.starts_with(what)).collect();
            assert!(got.is_empty(), "the target reached the scanner: {got:?}");
        }
        // The verdict is the scan's own, from this run's folder (the evaluation stored there
        // decided the exit code), and the pod carried no credential and no token.
        assert!(matches!(ran.code, 0 | 1), "{}", ran.stderr);
        let (store, _) = scan::s3_store();
        let folders = scan::run_folders(store.as_ref(), &format!("scans/{ns}/spy/")).await;
        assert_eq!(folders.len(), 1, "{folders:?}");
        let (folder, files) = folders.iter().next().unwrap();
        assert!(folder.ends_with(&format!("-{run_id}")), "{folder}");
        assert!(files.iter().any(|f| f == "hdf.json"), "{files:?}");
        let evaluation: serde_json::Value = serde_json::from_slice(
            &scan::get(store.as_ref(), &format!("{folder}/evaluation.json")).await,
        )
        .unwrap();
        assert_eq!(evaluation["exit_code"], ran.code, "{evaluation}");
        assert!(
            !ran.stderr
                .contains(&required("AWS_SECRET_ACCESS_KEY", S3_HINT)),
            "the secret is in the runner's log"
        );
        assert!(
            !ran.stderr.contains("X-Amz-Signature"),
            "a presigned URL is in the runner's log"
        );
        scan::assert_nothing_left(&client, &ns, &run_id, "spy").await;
    })
    .await;
}

#[tokio::test]
#[ignore = "needs the local cluster, the S3 server and the images"]
async fn a_forged_termination_message_gives_exit_3_and_no_verdict() {
    with_temp_ns("forged", |client, ns| async move {
        // Another run's result, whole and passing, already in the store.
        let (store, _) = scan::s3_store();
        let metadata = sidescan_e2e::forged::metadata(&ns, "forger");
        for ((_, key), bytes) in sidescan_e2e::forged::keys("scans", &ns, "forger")
            .iter()
            .zip([sidescan_e2e::forged::HDF.as_bytes(), metadata.as_bytes()])
        {
            store
                .put(
                    &object_store::path::Path::from(key.as_str()),
                    PutPayload::from(bytes.to_vec()),
                )
                .await
                .unwrap();
        }
        scan::create_store_secret(
            &client,
            &ns,
            &required("AWS_ACCESS_KEY_ID", S3_HINT),
            &required("AWS_SECRET_ACCESS_KEY", S3_HINT),
        )
        .await;
        // A scanner that stores nothing and names the other run's objects.
        let dir = tempfile::tempdir().unwrap();
        let values = values_file(
            dir.path(),
            json!({
                "target": {"name": "forger", "image": "sidescan-target-distroless:dev"},
                "scanner": {"image": "sidescan-e2e-probe:dev"},
                "security": {"mode": "same-uid", "runAsUser": 65532, "runAsGroup": 65532},
            }),
        );
        let ran = scan_with(&values, &ns, "forger").await;
        assert_eq!(ran.code, 3, "{}", ran.stdout);
        assert!(ran.stdout.contains("not this run's"), "{}", ran.stdout);
        let run_id = scan::run_id_in(&ran.stdout).expect("a run id");
        // Nothing was evaluated: no evaluation written anywhere for the other run or this one.
        let keys = scan::list_keys(store.as_ref(), &format!("scans/{ns}/forger/")).await;
        assert!(
            keys.iter()
                .all(|k| k.contains(sidescan_e2e::forged::RUN_FOLDER)
                    && !k.ends_with("evaluation.json")),
            "{keys:?}"
        );
        scan::assert_nothing_left(&client, &ns, &run_id, "forger").await;
    })
    .await;
}
