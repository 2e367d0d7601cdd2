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
