# sidescan tasks. `just --list` shows them; README.md and .ci/run use the same scripts.

default:
    @just --list

# The whole test suite (what CI runs): unit tests, then the real cluster, S3 server and SAF CLI.
test:
    scripts/test-all

# The main job: a real scan end to end on embedded defaults.
demo:
    scripts/main-job

# Pure, fast tests only (no services).
unit:
    cargo test --workspace

fmt:
    cargo fmt --all

lint:
    cargo fmt --all -- --check
    cargo clippy --workspace --all-targets -- -D warnings

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
