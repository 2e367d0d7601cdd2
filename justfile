# sidescan tasks. `just --list` shows them; README.md and .ci/run use the same scripts.

default:
    @just --list

# The whole test suite (what CI runs): unit tests, then the real cluster, S3 server and SAF CLI.
test:
    scripts/test-all

# The main job: the whole workflow on the local cluster (leaves the cluster and S3 server up).
demo:
    scripts/main-job

# The main job's quick variant: the agent against a local target, no cluster.
demo-local:
    scripts/main-job --local

# Pure, fast tests only (no services).
unit:
    cargo test --workspace

fmt:
    cargo fmt --all

lint: lint-shell architecture lint-ci
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

# The crates' import rules of ARCHITECTURE.md, checked with cargo tree.
architecture:
    scripts/check-architecture

# shellcheck -x on every shell script in the repository (installs Debian's shellcheck on first use).
lint-shell:
    scripts/lint-shell

# The CI files (action.yml, examples/ci/, templates/): actionlint, zizmor, check-jsonschema and
# shellcheck, each installed on first use under ~/.cache/sidescan/.
lint-ci:
    scripts/lint-ci

# Evaluator: differential test against the real SAF CLI (installs @mitre/saf 1.5.3 on first use).
eval-saf:
    SIDESCAN_SAF_BIN="$(scripts/install-saf)" cargo test -p sidescan-eval --test saf_differential -- --ignored --nocapture

# Evaluator: validate/generate side by side with the SAF CLI (needs hyperfine).
eval-bench:
    scripts/bench-eval

# Generator: render manifests/examples/ from examples/specs/ (a test checks they match).
examples:
    scripts/render-examples

# Generator: rewrite the golden files after an intended output change (review the diff).
gen-golden:
    SIDESCAN_UPDATE_GOLDEN=1 cargo test -p sidescan-gen --test golden

# Generator: render 1,000 specs, every document (criterion).
gen-bench:
    cargo bench -p sidescan-gen --bench render

# Generator: the binary on 1,000 specs in one process, and one render with startup (hyperfine).
gen-bench-cli:
    scripts/bench-gen

# Generator: rendered documents against the API server's JSON schemas per release
# (kubernetes-validate from PyPI, installed on first use).
gen-validate:
    SIDESCAN_KUBE_VALIDATE="$(scripts/kube-validate)" cargo test -p sidescan-gen --test kube_validate -- --ignored

# Agent: host tests as root (targets in their own root, PRoot + Ruby view, cinc-auditor double,
# S3 server, SAF CLI); installs proot, ruby, busybox-static and musl-tools on first use.
agent-host:
    #!/usr/bin/env bash
    set -euo pipefail
    . scripts/lib/common.sh
    apt_ensure proot ruby busybox-static musl-tools gcc libc6-dev
    scripts/dev-s3 up >&2
    eval "$(scripts/dev-s3 env)"
    SIDESCAN_SAF_BIN="$(scripts/install-saf)" cargo test -p sidescan-agent -- --include-ignored

# Agent: builtin baseline on a >= 10,000-file Debian tree, and target start -> identified (root).
agent-bench:
    #!/usr/bin/env bash
    set -euo pipefail
    . scripts/lib/common.sh
    apt_ensure busybox-static
    cargo bench -p sidescan-agent --bench agent

# Orchestrator: a full scan per phase beside a bare pod's lifecycle, and API requests per scan.
orchestrator-bench:
    scripts/bench-orchestrator

# Batch audits: 42 targets at concurrency 1, 2, 4 and 8 (targets/min, API requests, peak RSS).
audit-bench:
    scripts/bench-audit 42 1 2 4 8

# End to end: local cluster, S3 server and images up, the e2e tests, teardown (as CI does).
e2e:
    scripts/test-all --e2e

# The local services for manual work; then eval the env lines printed; `just dev-down` stops them.
dev-up:
    scripts/dev-cluster up
    scripts/dev-s3 up
    scripts/build-images
    @echo 'eval "$(scripts/dev-cluster env)"; eval "$(scripts/dev-s3 env)"'

dev-down:
    scripts/dev-s3 down
    scripts/dev-cluster down
