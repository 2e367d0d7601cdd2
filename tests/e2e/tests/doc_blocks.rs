//! The shell blocks of README.md and docs/*.md run as a reader would run them, against the
//! local cluster and S3 server.
//!
//! A block runs when its fence's info string is `sh runnable NAME [exit=N]` (GitHub highlights
//! it as `sh` and shows nothing of the rest): its lines run in order with `bash -euo pipefail`,
//! in a copy of the checkout (its tracked files, a git repository of one commit), one folder per
//! document, the blocks of one document one after the other in it; the exit code must be N (0
//! unless given). What the block implies is then checked against the cluster and the store
//! (`check` below). Every other `sh` block must be listed in [`NOT_RUN`] with the reason; a test
//! without services holds both lists to the documents.
//!
//! What differs from a reader's machine, and how ([`SUBSTITUTIONS`], each place of the block's
//! text replaced by the first entry that matches there, `{...}` being the test's values):
//!
//! | the docs say | here | why |
//! |---|---|---|
//! | `cargo build --release`, `cargo test -p` | `... --manifest-path {repo}/Cargo.toml` | build the checkout under test into its `CARGO_TARGET_DIR` (a copy would rebuild every crate) |
//! | `cargo install --path crates/eval` | `cargo build --release -p sidescan-eval ...` | the line's own alternative: `cargo install` writes to the machine's `~/.cargo/bin` |
//! | `target/release/`, `$PWD/target/release` | `{target}/release` | `CARGO_TARGET_DIR` |
//! | `render all --values scan.yaml` | `render all --kube-version 1.20 ...` | the local cluster is Kubernetes 1.20: CronJob `batch/v1beta1`, no admission policies |
//! | `--values scan.yaml` | `--values scan.yaml` and the local values | the "edit it" step: namespace `{ns}`, registry `localhost`, pullPolicy `Never`, the `:dev` images, `hostNetwork`, the API server at 127.0.0.1:6443, the builtin backend (the dev scanner image holds a CINC Auditor test double only), the distroless target (UID 65532, same-uid), the store `s3://{bucket}/{prefix}` at 127.0.0.1:8333 with the Secret `sidescan-s3` |
//! | `target.image=nginx:1.27` | `target.image=sidescan-target-distroless:dev` | an image the cluster holds (no registry here) |
//! | `--values specs/` | `--values examples/specs/` | a folder of specs |
//! | `SIDESCAN_LOCAL_NAMESPACE=default` | `SIDESCAN_LOCAL_NAMESPACE={ns}` | the test's namespace |
//! | the example run URLs (`s3://bucket/scans/ns/web/20261126T152045Z-ab12cd/`, ...) | `{run}` | the second of two runs the test made of one target (so `--base latest` has an earlier one) |
//! | `AWS_ACCESS_KEY_ID=...`, `AWS_SECRET_ACCESS_KEY=...` | the S3 server's | credentials |
//!
//! The environment: `kubectl` (the cluster's, from `scripts/dev-cluster`'s cache or
//! `SIDESCAN_KUBECTL`) with a kubeconfig whose current namespace is the test's; `sidescan-gen`,
//! `sidescan-runner`, `sidescan-eval` of `{target}/release` on PATH; the S3 server's `AWS_*`;
//! `GITHUB_STEP_SUMMARY` a file. In the document's folder before its blocks: `hdf.json`,
//! `metadata.json`, `old/hdf.json`, `new/hdf.json`, `old.json`, `new.json` (the two runs) and
//! `threshold.yml` (`examples/thresholds/gate.yml`).
//!
//! Not run (listed in [`NOT_RUN`]): the blocks that start, stop or rebuild the services these
//! tests run on (`scripts/main-job`, `scripts/test-all`, `scripts/dev-cluster up`,
//! `scripts/build-images`), synopses with placeholders (`--profile PATH|builtin`), the agent's
//! command line (it runs only inside a scan pod), the benchmarks (minutes each, on an idle
//! machine), and the blocks that need what is not here: a second cluster's audit, audits edited
//! by hand.
//!
//! Needs: `scripts/dev-cluster up`, `scripts/dev-s3 up`, `scripts/build-images`, `eval` of both
//! `env` outputs, release `sidescan-gen`, `sidescan-runner`, `sidescan-eval` (the README's first
//! block builds them), gitlab-ci-local (`scripts/install-gitlab-ci-local`).

use kube::Api;
use kube::api::ListParams;
use serde_json::Value;
use sidescan_e2e::harness::with_temp_ns;
use sidescan_e2e::scan::{self, DISTROLESS, RUN_FILES};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio::process::Command;

/// One fenced block of a document.
#[derive(Debug, Clone)]
struct Block {
    /// 1-based line of the opening fence.
    line: usize,
    info: String,
    body: String,
}

impl Block {
    fn is_shell(&self) -> bool {
        self.info.split_whitespace().next() == Some("sh")
    }

    /// `sh runnable NAME [exit=N]`: the name and the exit code expected.
    fn runnable(&self) -> Option<(String, i32)> {
        let mut words = self.info.split_whitespace();
        if words.next() != Some("sh") || words.next() != Some("runnable") {
            return None;
        }
        let name = words.next()?.to_string();
        let code = words
            .find_map(|w| w.strip_prefix("exit="))
            .map_or(0, |c| c.parse().expect("exit=N"));
        Some((name, code))
    }

    fn first_line(&self) -> &str {
        self.body.lines().next().unwrap_or_default()
    }
}

/// The fenced blocks of a Markdown text (fences of three or more backticks at the start of a
/// line).
fn blocks(text: &str) -> Vec<Block> {
    let mut out = Vec::new();
    let mut open: Option<(usize, String, String, Vec<&str>)> = None;
    for (i, line) in text.lines().enumerate() {
        let ticks = line.len() - line.trim_start_matches('`').len();
        match &mut open {
            None if ticks >= 3 => {
                open = Some((
                    i + 1,
                    "`".repeat(ticks),
                    line[ticks..].trim().to_string(),
                    Vec::new(),
                ));
            }
            None => {}
            Some((start, fence, info, body)) => {
                if line.trim_end() == fence.as_str() {
                    out.push(Block {
                        line: *start,
                        info: std::mem::take(info),
                        body: body.join("\n") + "\n",
                    });
                    open = None;
                } else {
                    body.push(line);
                }
            }
        }
    }
    out
}

/// The documents whose shell blocks are held to this test.
fn documents() -> Vec<PathBuf> {
    let root = scan::repo_root();
    let mut docs = vec![root.join("README.md")];
    let mut more: Vec<PathBuf> = std::fs::read_dir(root.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "md"))
        .collect();
    more.sort();
    docs.extend(more);
    docs
}

fn relative(path: &Path) -> String {
    path.strip_prefix(scan::repo_root())
        .unwrap_or(path)
        .display()
        .to_string()
}

/// The shell blocks that do not run here: (document, the block's first line, why).
const NOT_RUN: &[(&str, &str, &str)] = &[
    (
        "docs/benchmarks.md",
        "B=<before-split tree>/target/release/sidescan-runner; A=target/release/sidescan-agent",
        "a benchmark against a build of an earlier commit (a placeholder path)",
    ),
    (
        "README.md",
        "sidescan-runner scan -f spec.yaml --fail-on-new          # 1 only when something newly fails",
        "a synopsis of the gates (spec.yaml and audit.yaml are the reader's); tests/e2e/tests/history.rs runs scan and audit with --fail-on-new against the local cluster",
    ),
    (
        "docs/history.md",
        "# fail only when something newly fails since the previous run of this target",
        "a synopsis with example keys and audit ids; tests/e2e/tests/history.rs runs each form against the local cluster",
    ),
    (
        "docs/audit.md",
        "sidescan-runner exporter --store-url s3://bucket/scans --cluster prod   # :9464, refresh every 300 s",
        "a server that runs until stopped, against a production bucket; tests/e2e/tests/exporter.rs runs it against the local S3 server with Prometheus scraping it",
    ),
    (
        "docs/benchmarks.md",
        "# as root; the bench's Debian subset (17,127 files) and the 151,877-entry tree",
        "a benchmark (minutes, on an idle machine, with a hashed binary name)",
    ),
    (
        "docs/benchmarks.md",
        "scripts/bench-exporter 3                    # release build; hyperfine + /usr/bin/time -v",
        "a benchmark (minutes, on an idle machine)",
    ),
    (
        "README.md",
        "scripts/main-job     # a real scan end to end: local cluster, scan pod, S3, verdict, cleanup",
        "brings the services up and builds the images these tests run on; scripts/test-all is the whole suite",
    ),
    (
        "README.md",
        "sidescan-runner scan --namespace NS --pod-name NAME --profile PATH|builtin [--threshold FILE] \\",
        "a synopsis (placeholders, alternatives); the e2e orchestrator tests run `scan` and the script",
    ),
    (
        "README.md",
        "sidescan-gen values --audit > audit.yaml                  # select workloads, set store and thresholds",
        "the audit spec is edited by hand (`sidescan-runner audit` takes no --set) and its CronJob creates ClusterRoles; the audit e2e tests run both",
    ),
    (
        "docs/agent.md",
        "sidescan-agent scan --backend builtin --target-container app --run-id abc123def456 \\",
        "the agent runs inside a scan pod, beside the target's process (scripts/main-job --local runs it under runc)",
    ),
    (
        "docs/audit.md",
        "sidescan-gen values --audit > audit.yaml                 # the documented defaults; edit them",
        "the audit spec is edited by hand and its CronJob creates ClusterRoles; the audit e2e tests run both",
    ),
    (
        "docs/benchmarks.md",
        "scripts/bench-eval 10      # release build, hyperfine (Debian package) + /usr/bin/time -v",
        "a benchmark: minutes, on an idle machine",
    ),
    (
        "docs/benchmarks.md",
        "scripts/bench-gen 10       # or: just gen-bench-cli; release build, hyperfine (Debian package)",
        "a benchmark: minutes, on an idle machine",
    ),
    (
        "docs/benchmarks.md",
        "cargo bench -p sidescan-gen --bench render      # or: just gen-bench",
        "a benchmark: minutes, on an idle machine",
    ),
    (
        "docs/benchmarks.md",
        "scripts/bench-orchestrator 5      # release runner built by scripts/build-images; prints the table",
        "a benchmark: minutes, on an idle machine",
    ),
    (
        "docs/benchmarks.md",
        "# as root; the tree is built once under the given directory (minutes on this disk) and reused",
        "a benchmark: a 150,000-file tree, minutes",
    ),
    (
        "docs/benchmarks.md",
        "scripts/bench-audit 42 1 2 4 8      # release runner; /usr/bin/time -v for the peak RSS",
        "a benchmark: minutes, on an idle machine",
    ),
    (
        "docs/ci.md",
        "scripts/dev-cluster up && scripts/dev-s3 up && scripts/build-images",
        "brings the services up and builds the images these tests run on",
    ),
    (
        "docs/dev-environment.md",
        "scripts/test-all            # everything, as CI runs it: unit tests, services up, all tests, teardown",
        "starts and stops the services these tests run on",
    ),
    (
        "docs/dev-environment.md",
        "export AWS_ACCESS_KEY_ID=...",
        "what `scripts/dev-s3 env` prints, not a command to type",
    ),
    (
        "docs/evaluator.md",
        "# ... or of audits from the bucket (several --audit: one page across clusters)",
        "needs stored audits of two clusters",
    ),
    (
        "docs/orchestrator.md",
        "sidescan-runner scan --namespace NS --pod-name NAME --profile PATH|builtin [--threshold FILE] \\",
        "a synopsis; the e2e orchestrator tests run `scan`",
    ),
    (
        "docs/orchestrator.md",
        "sidescan-runner orchestrate [--spec /etc/sidescan/spec/scan-spec.yaml] [--store URL] \\",
        "a synopsis; `orchestrate` runs in the rendered Job (README's job-path block)",
    ),
    (
        "docs/scaling.md",
        "sidescan-eval report --audit s3://compliance/scans/east/audits/<id>/audit.json \\",
        "needs stored audits of two clusters",
    ),
];

/// What the docs say, what runs here (`{...}`: the test's values), in order. See the module
/// documentation for why.
const SUBSTITUTIONS: &[(&str, &str)] = &[
    (
        "cargo install --path crates/eval",
        "cargo build --release --manifest-path {repo}/Cargo.toml -p sidescan-eval",
    ),
    (
        "cargo build --release",
        "cargo build --release --manifest-path {repo}/Cargo.toml",
    ),
    (
        "cargo test -p",
        "cargo test --manifest-path {repo}/Cargo.toml -p",
    ),
    ("$PWD/target/release", "{target}/release"),
    ("target/release/", "{target}/release/"),
    (
        "render all --values scan.yaml",
        "render all --kube-version 1.20 --values scan.yaml {local}",
    ),
    ("--values scan.yaml", "--values scan.yaml {local}"),
    (
        "target.image=nginx:1.27",
        "target.image=sidescan-target-distroless:dev",
    ),
    ("--values specs/", "--values examples/specs/"),
    (
        "SIDESCAN_LOCAL_NAMESPACE=default",
        "SIDESCAN_LOCAL_NAMESPACE={ns}",
    ),
    ("s3://bucket/scans/ns/web/20261126T152045Z-ab12cd/", "{run}"),
    ("s3://bucket/scans/ns/web/<ts>-<run id>/", "{run}"),
    ("s3://bucket/scans/shop/web/<ts>-<run id>/", "{run}"),
    (
        "s3://bucket/scans/shop/web/20261126T152045Z-ab12cd/",
        "{run}",
    ),
    ("s3://sidescan/default/web/20260101T000000Z-ab12/", "{run}"),
    (
        "AWS_ACCESS_KEY_ID=... AWS_SECRET_ACCESS_KEY=...",
        "AWS_ACCESS_KEY_ID=\"$AWS_ACCESS_KEY_ID\" AWS_SECRET_ACCESS_KEY=\"$AWS_SECRET_ACCESS_KEY\"",
    ),
];

/// The test's values for [`SUBSTITUTIONS`].
struct Values {
    repo: String,
    target: String,
    ns: String,
    local: String,
    run: String,
}

/// The local cluster's spec values, as `--set`s after `--values scan.yaml`.
fn local_sets(ns: &str, bucket: &str, prefix: &str) -> String {
    [
        format!("namespace={ns}"),
        "images.registry=localhost".into(),
        "images.pullPolicy=Never".into(),
        "scanner.image=sidescan-scanner:dev".into(),
        "orchestrator.image=sidescan-runner:dev".into(),
        "scanner.backend=builtin".into(),
        "cluster.hostNetwork=true".into(),
        "cluster.apiServer.host=127.0.0.1".into(),
        "cluster.apiServer.port=6443".into(),
        "target.image=sidescan-target-distroless:dev".into(),
        "security.mode=same-uid".into(),
        "security.runAsUser=65532".into(),
        "security.runAsGroup=65532".into(),
        format!("results.storeUrl=s3://{bucket}/{prefix}"),
        "results.endpoint=http://127.0.0.1:8333".into(),
        "results.region=us-east-1".into(),
        "results.allowHttp=true".into(),
        "results.credentialsSecret.name=sidescan-s3".into(),
    ]
    .iter()
    .map(|s| format!("--set {s}"))
    .collect::<Vec<_>>()
    .join(" ")
}

fn expand(template: &str, v: &Values) -> String {
    template
        .replace("{repo}", &v.repo)
        .replace("{target}", &v.target)
        .replace("{ns}", &v.ns)
        .replace("{local}", &v.local)
        .replace("{run}", &v.run)
}

/// The block's text as it runs here: scanned once from the start, at each place the first entry
/// of [`SUBSTITUTIONS`] that matches there is replaced (what it is replaced with is not scanned
/// again).
fn substitute(body: &str, v: &Values) -> String {
    let mut out = String::new();
    let mut rest = body;
    'scan: while !rest.is_empty() {
        for (from, to) in SUBSTITUTIONS {
            if let Some(after) = rest.strip_prefix(from) {
                out.push_str(&expand(to, v));
                rest = after;
                continue 'scan;
            }
        }
        let c = rest.chars().next().unwrap();
        out.push(c);
        rest = &rest[c.len_utf8()..];
    }
    out
}

#[test]
fn fenced_blocks_are_found_with_their_info_strings() {
    let text = "a\n```sh runnable first exit=1\necho 1\n```\n\n````md\n```sh\nnested\n```\n````\n```sh\nb\n```\n";
    let found = blocks(text);
    assert_eq!(found.len(), 3, "{found:?}");
    assert_eq!(found[0].runnable(), Some(("first".into(), 1)));
    assert_eq!(found[0].line, 2);
    assert_eq!(found[1].info, "md");
    assert_eq!(found[1].body, "```sh\nnested\n```\n");
    assert!(found[2].is_shell() && found[2].runnable().is_none());
}

#[test]
fn each_place_is_substituted_once_by_the_first_entry_that_matches() {
    let v = Values {
        repo: "/r".into(),
        target: "/t".into(),
        ns: "ns1".into(),
        local: "--set namespace=ns1".into(),
        run: "s3://b/p/ns1/t/f/".into(),
    };
    assert_eq!(
        substitute(
            "x render all --values scan.yaml --set target.image=nginx:1.27\ny --values scan.yaml\n",
            &v
        ),
        "x render all --kube-version 1.20 --values scan.yaml --set namespace=ns1 --set \
         target.image=sidescan-target-distroless:dev\ny --values scan.yaml --set namespace=ns1\n"
    );
    assert_eq!(
        substitute("target/release/sidescan-gen", &v),
        "/t/release/sidescan-gen"
    );
}

#[test]
fn every_shell_block_runs_here_or_says_why_not() {
    let mut unlisted = Vec::new();
    let mut listed_seen = vec![false; NOT_RUN.len()];
    let mut names = std::collections::BTreeSet::new();
    let mut runnable = 0;
    let v = Values {
        repo: "/r".into(),
        target: "/t".into(),
        ns: "ns".into(),
        local: "--set x=y".into(),
        run: "s3://b/p/ns/t/f/".into(),
    };
    let mut used = vec![false; SUBSTITUTIONS.len()];
    for doc in documents() {
        let name = relative(&doc);
        for block in blocks(&std::fs::read_to_string(&doc).unwrap()) {
            if !block.is_shell() {
                continue;
            }
            if let Some((block_name, _)) = block.runnable() {
                runnable += 1;
                assert!(
                    names.insert(format!("{name}:{block_name}")),
                    "{name}:{}: a second block named {block_name}",
                    block.line
                );
                for (i, (from, _)) in SUBSTITUTIONS.iter().enumerate() {
                    used[i] |= block.body.contains(from);
                }
                // Nothing a reader would have to fill in is left.
                let text = substitute(&block.body, &v);
                for placeholder in ["<run id>", "<ts>", "<audit id>", "=...", " ... "] {
                    assert!(
                        !text.contains(placeholder),
                        "{name}:{}: {placeholder} left in\n{text}",
                        block.line
                    );
                }
                continue;
            }
            match NOT_RUN
                .iter()
                .position(|(d, first, _)| *d == name && *first == block.first_line())
            {
                Some(i) => listed_seen[i] = true,
                None => unlisted.push(format!("{name}:{}: {}", block.line, block.first_line())),
            }
        }
    }
    assert!(
        unlisted.is_empty(),
        "shell blocks neither `sh runnable NAME` nor in NOT_RUN:\n{}",
        unlisted.join("\n")
    );
    let stale: Vec<_> = NOT_RUN
        .iter()
        .zip(&listed_seen)
        .filter(|(_, seen)| !**seen)
        .map(|(entry, _)| entry)
        .collect();
    assert!(
        stale.is_empty(),
        "NOT_RUN names blocks the docs no longer have: {stale:?}"
    );
    let unused: Vec<_> = SUBSTITUTIONS
        .iter()
        .zip(&used)
        .filter(|(_, u)| !**u)
        .map(|(s, _)| s.0)
        .collect();
    assert!(
        unused.is_empty(),
        "substitutions no block needs: {unused:?}"
    );
    assert!(runnable >= 8, "only {runnable} runnable blocks");
}

/// The cluster's own kubectl (v1.20).
fn kubectl_bin() -> PathBuf {
    if let Ok(bin) = std::env::var("SIDESCAN_KUBECTL") {
        return PathBuf::from(bin);
    }
    let cache = std::env::var("SIDESCAN_CACHE_ROOT").map_or_else(
        |_| PathBuf::from(std::env::var("HOME").unwrap()).join(".cache/sidescan"),
        PathBuf::from,
    );
    let bin = cache.join("k8s-1.20.2/bin/kubectl");
    assert!(
        bin.is_file(),
        "{} not found: scripts/dev-cluster up builds it, or set SIDESCAN_KUBECTL",
        bin.display()
    );
    bin
}

fn target_dir() -> PathBuf {
    std::env::var("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| scan::repo_root().join("target"))
}

fn run_sync(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Where one document's blocks run: a copy of the checkout's tracked files as a git repository,
/// a bin folder, a kubeconfig whose namespace is `ns`.
struct Workspace {
    dir: tempfile::TempDir,
    env: Vec<(String, String)>,
}

impl Workspace {
    fn new(ns: &str) -> Workspace {
        let root = scan::repo_root();
        let dir = tempfile::tempdir().unwrap();
        let work = dir.path().join("checkout");
        std::fs::create_dir(&work).unwrap();
        let files = run_sync(
            std::process::Command::new("git")
                .args([
                    "ls-files",
                    "-z",
                    "--cached",
                    "--others",
                    "--exclude-standard",
                ])
                .current_dir(&root),
        );
        for file in files.split('\0').filter(|f| !f.is_empty()) {
            let from = root.join(file);
            if !from.is_file() {
                continue; // deleted in the working tree
            }
            let to = work.join(file);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(&from, &to).unwrap_or_else(|e| panic!("copying {file}: {e}"));
        }
        for args in [
            &["init", "-q"][..],
            &["add", "-A"],
            &[
                "-c",
                "user.name=sidescan",
                "-c",
                "user.email=docs@sidescan.invalid",
                "commit",
                "-qm",
                "checkout",
            ],
        ] {
            run_sync(
                std::process::Command::new("git")
                    .args(args)
                    .current_dir(&work),
            );
        }
        let bin = dir.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::os::unix::fs::symlink(kubectl_bin(), bin.join("kubectl")).unwrap();
        for name in ["sidescan-gen", "sidescan-runner", "sidescan-eval"] {
            std::os::unix::fs::symlink(target_dir().join("release").join(name), bin.join(name))
                .unwrap();
        }
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::copy(
            sidescan_e2e::env::required("KUBECONFIG", sidescan_e2e::env::CLUSTER_HINT),
            &kubeconfig,
        )
        .unwrap();
        run_sync(
            std::process::Command::new(kubectl_bin())
                .args(["config", "set-context", "--current", "--namespace", ns])
                .env("KUBECONFIG", &kubeconfig),
        );
        let path = format!(
            "{}:{}",
            bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let env = vec![
            ("PATH".to_string(), path),
            ("KUBECONFIG".into(), kubeconfig.display().to_string()),
            (
                "GITHUB_STEP_SUMMARY".into(),
                dir.path().join("step-summary.md").display().to_string(),
            ),
        ];
        Workspace { dir, env }
    }

    fn checkout(&self) -> PathBuf {
        self.dir.path().join("checkout")
    }

    /// Runs one block; returns (exit code, stdout and stderr).
    async fn run(&self, doc: &str, block: &Block, v: &Values) -> (i32, String) {
        let text = substitute(&block.body, v);
        eprintln!("--- {doc}:{} as run here:\n{text}", block.line);
        let script = self.dir.path().join("block.sh");
        std::fs::write(&script, format!("set -euo pipefail\n{text}")).unwrap();
        let mut cmd = Command::new("bash");
        cmd.arg(&script)
            .current_dir(self.checkout())
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (k, val) in &self.env {
            cmd.env(k, val);
        }
        let out = tokio::time::timeout(Duration::from_secs(1200), cmd.output())
            .await
            .unwrap_or_else(|_| panic!("{doc}:{}: still running after 20 min", block.line))
            .unwrap();
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        eprintln!("--- exit {:?}\n{text}", out.status.code());
        (out.status.code().unwrap_or(-1), text)
    }

    fn file(&self, name: &str) -> PathBuf {
        self.checkout().join(name)
    }
}

/// Two runs of the distroless target with `sidescan-runner scan`, stored under `prefix`; the
/// second one's folder URL. Their `hdf.json` and `metadata.json` go into the workspace as the
/// fixtures the blocks name.
async fn two_runs(client: &kube::Client, ns: &str, prefix: &str, ws: &Workspace) -> String {
    let (access, secret, bucket) = (
        sidescan_e2e::env::required("AWS_ACCESS_KEY_ID", sidescan_e2e::env::S3_HINT),
        sidescan_e2e::env::required("AWS_SECRET_ACCESS_KEY", sidescan_e2e::env::S3_HINT),
        sidescan_e2e::env::required("SIDESCAN_S3_BUCKET", sidescan_e2e::env::S3_HINT),
    );
    scan::create_store_secret(client, ns, &access, &secret).await;
    for pod in ["docs-first", "docs-second"] {
        let mut cmd = Command::new(scan::runner_bin());
        cmd.arg("scan")
            .arg("--values")
            .arg(scan::dev_values())
            .args(["--namespace", ns, "--pod-name", pod])
            .args(DISTROLESS.iter().flat_map(|s| ["--set", s]))
            .args(["--set", &format!("results.storeUrl=s3://{bucket}/{prefix}")])
            .stdin(Stdio::null())
            .kill_on_drop(true);
        let out = cmd.output().await.unwrap();
        assert_eq!(
            out.status.code(),
            Some(0),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let (store, _) = scan::s3_store();
    let folders = scan::run_folders(store.as_ref(), &format!("{prefix}/{ns}/distroless/")).await;
    assert_eq!(folders.len(), 2, "{folders:?}");
    let mut fixtures = Vec::new();
    for (folder, files) in &folders {
        assert_eq!(files, &RUN_FILES);
        fixtures.push((
            scan::get(store.as_ref(), &format!("{folder}/hdf.json")).await,
            scan::get(store.as_ref(), &format!("{folder}/metadata.json")).await,
        ));
    }
    let write = |name: &str, bytes: &[u8]| {
        let path = ws.file(name);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, bytes).unwrap();
    };
    write("old/hdf.json", &fixtures[0].0);
    write("old.json", &fixtures[0].0);
    write("new/hdf.json", &fixtures[1].0);
    write("new.json", &fixtures[1].0);
    write("hdf.json", &fixtures[1].0);
    write("metadata.json", &fixtures[1].1);
    std::fs::copy(
        scan::repo_root().join("examples/thresholds/gate.yml"),
        ws.file("threshold.yml"),
    )
    .unwrap();
    let second = folders.keys().last().unwrap();
    format!("s3://{bucket}/{second}/")
}

/// Runs the runnable blocks of `doc` in order; `check` is called after each with its name and
/// output.
async fn run_document<F, Fut>(prefix: &'static str, doc: &'static str, check: F)
where
    F: Fn(kube::Client, String, String, String, PathBuf) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = ()> + Send,
{
    with_temp_ns(prefix, move |client, ns| async move {
        let bucket = sidescan_e2e::env::required("SIDESCAN_S3_BUCKET", sidescan_e2e::env::S3_HINT);
        let store_prefix = format!("docs-{ns}");
        let ws = Workspace::new(&ns);
        let run = two_runs(&client, &ns, &store_prefix, &ws).await;
        let v = Values {
            repo: scan::repo_root().display().to_string(),
            target: target_dir().display().to_string(),
            ns: ns.clone(),
            local: local_sets(&ns, &bucket, &store_prefix),
            run,
        };
        let text = std::fs::read_to_string(scan::repo_root().join(doc)).unwrap();
        let mut ran = 0;
        for block in blocks(&text) {
            let Some((name, expected)) = block.runnable() else {
                continue;
            };
            let (code, output) = ws.run(doc, &block, &v).await;
            assert_eq!(code, expected, "{doc}:{} ({name}): {output}", block.line);
            check(client.clone(), ns.clone(), name, output, ws.checkout()).await;
            ran += 1;
        }
        assert!(ran > 0, "{doc} has no runnable block");
    })
    .await;
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(
        &std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn non_empty(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(!text.trim().is_empty(), "{} is empty", path.display());
    text
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and release binaries: see the module docs"]
async fn the_readme_blocks_run_as_shown() {
    run_document(
        "docreadme",
        "README.md",
        |client, ns, name, output, dir| async move {
            match name.as_str() {
                "job-path" => {
                    // The Job ran the scan to its end; its pod and the scan pod are what is left of
                    // it; the store holds the run's five files.
                    let jobs: Api<k8s_openapi::api::batch::v1::Job> =
                        Api::namespaced(client.clone(), &ns);
                    let job = jobs.get("sidescan-nginx-scan").await.unwrap();
                    assert_eq!(job.status.unwrap().succeeded, Some(1));
                    assert!(
                        output.contains(
                            "verdict: scanned and stored (no threshold file) (exit code 0)"
                        ),
                        "{output}"
                    );
                    let run_id = scan::run_id_in(&output).expect("the run line");
                    scan::assert_nothing_left(&client, &ns, &run_id, "sidescan-scan-nginx").await;
                    let (store, _) = scan::s3_store();
                    let folders =
                        scan::run_folders(store.as_ref(), &format!("docs-{ns}/{ns}/nginx/")).await;
                    assert_eq!(folders.len(), 1, "{folders:?}");
                    let (folder, files) = folders.iter().next().unwrap();
                    assert!(folder.ends_with(&run_id), "{folder}");
                    assert_eq!(files, &RUN_FILES);
                    // Every file render all wrote was applied: nothing named that it did not write.
                    for file in ["rbac.yaml", "job.yaml", "cronjob.yaml"] {
                        assert!(dir.join("out").join(file).is_file(), "out/{file}");
                    }
                    // ... and the CronJob (batch/v1beta1 on this cluster).
                    let gvk = kube::api::GroupVersionKind::gvk("batch", "v1beta1", "CronJob");
                    let cronjobs: Api<kube::api::DynamicObject> = Api::namespaced_with(
                        client.clone(),
                        &ns,
                        &kube::discovery::ApiResource::from_gvk(&gvk),
                    );
                    let names: Vec<String> = cronjobs
                        .list(&ListParams::default())
                        .await
                        .unwrap()
                        .items
                        .into_iter()
                        .filter_map(|c| c.metadata.name)
                        .collect();
                    assert_eq!(names.len(), 1, "{names:?}");
                }
                "gate" => {
                    let summary = non_empty(&dir.join("../step-summary.md"));
                    assert!(summary.contains("Compliance"), "{summary}");
                    assert!(non_empty(&dir.join("compliance.xml")).contains("<testsuite"));
                    let sarif = read_json(&dir.join("sidescan.sarif"));
                    assert_eq!(sarif["version"], "2.1.0");
                    assert!(read_json(&dir.join("gl-code-quality-report.json")).is_array());
                }
                other => panic!("README.md: no check for block {other}"),
            }
        },
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and release binaries: see the module docs"]
async fn the_generator_guide_blocks_run_as_shown() {
    run_document(
        "docgen",
        "docs/generator.md",
        |client, ns, name, _output, dir| async move {
            assert_eq!(name, "commands");
            // What render all wrote was applied: the Job and the CronJob exist.
            let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(client.clone(), &ns);
            assert!(jobs.get_opt("sidescan-nginx-scan").await.unwrap().is_some());
            for file in [
                "rbac.yaml",
                "job.yaml",
                "cronjob.yaml",
                "audit-cronjob.yaml",
            ] {
                non_empty(&dir.join("out").join(file));
            }
            assert!(dir.join("out/dev-cluster/job.yaml").is_file());
            let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(client, &ns);
            let _ = pods.list(&ListParams::default()).await.unwrap();
        },
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server and release binaries: see the module docs"]
async fn the_evaluator_guide_blocks_run_as_shown() {
    run_document(
        "doceval",
        "docs/evaluator.md",
        |_client, _ns, name, output, dir| async move {
            match name.as_str() {
                "commands" => {
                    non_empty(&dir.join("compliance-junit.xml"));
                    assert_eq!(read_json(&dir.join("sidescan.sarif"))["version"], "2.1.0");
                    assert!(non_empty(&dir.join("report.html")).contains("<html"));
                }
                "store" => assert!(output.contains("passed") || output.is_empty(), "{output}"),
                "sarif" => {
                    let sarif = read_json(&dir.join("sidescan.sarif"));
                    let id = sarif["runs"][0]["automationDetails"]["id"]
                        .as_str()
                        .unwrap();
                    assert!(id.starts_with("sidescan/"), "{id}");
                }
                "codequality" | "sarif-check" | "codequality-check" | "diff" => {}
                other => panic!("docs/evaluator.md: no check for block {other}"),
            }
        },
    )
    .await;
}

#[tokio::test]
#[ignore = "needs the dev cluster, images, S3 server, release binaries and gitlab-ci-local: see the module docs"]
async fn the_ci_guide_blocks_run_as_shown() {
    run_document(
        "docci",
        "docs/ci.md",
        |client, ns, name, output, dir| async move {
            assert_eq!(name, "gitlab-ci-local");
            let report = read_json(&dir.join("sidescan-report/report.json"));
            assert_eq!(report["verdict"], "not-met", "{output}");
            assert!(non_empty(&dir.join("sidescan-report/junit.xml")).contains("<failure"));
            let run_id = report["run_id"].as_str().unwrap();
            scan::assert_nothing_left(&client, &ns, run_id, "demo-scan").await;
        },
    )
    .await;
}
