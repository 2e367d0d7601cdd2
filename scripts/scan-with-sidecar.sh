#!/usr/bin/env bash
# Scan a container image with the scanner sidecar on the current cluster, with the positional
# arguments of the shell script this project replaces:
#
#   scripts/scan-with-sidecar.sh NAMESPACE POD_NAME PROFILE_PATH [THRESHOLD_FILE]
#
# PROFILE_PATH is a profile directory or archive (CINC Auditor) or `builtin` (the native
# baseline); POD_NAME names the scan pod. It runs `sidescan-runner scan`, which deploys the pod,
# waits by watching, retrieves and evaluates the result, and always cleans up. Unlike the
# original, the exit code is the verdict: 0 passed, 1 thresholds not met, 2 bad input or usage,
# 3 infrastructure failure.
#
# Env: SIDESCAN_RUNNER  the sidescan-runner binary (default: on PATH, else target/release)
#      SIDESCAN_IMAGE   the target image (default: the spec's target.image)
#      SIDESCAN_VALUES  a scan spec (YAML) for everything else: security mode, store, cluster
#      SIDESCAN_SCAN_ARGS  more `sidescan-runner scan` options, e.g. "--set security.runAsUser=1000"
set -euo pipefail

usage() {
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}
if [ $# -lt 3 ] || [ $# -gt 4 ]; then usage; fi

runner=${SIDESCAN_RUNNER:-}
if [ -z "$runner" ]; then
    if command -v sidescan-runner >/dev/null; then
        runner=sidescan-runner
    else
        root=$(cd "$(dirname "$0")/.." && pwd)
        runner=${CARGO_TARGET_DIR:-$root/target}/release/sidescan-runner
    fi
fi

args=(scan --namespace "$1" --pod-name "$2" --profile "$3")
[ -n "${4:-}" ] && args+=(--threshold "$4")
[ -n "${SIDESCAN_VALUES:-}" ] && args+=(--values "$SIDESCAN_VALUES")
[ -n "${SIDESCAN_IMAGE:-}" ] && args+=(--image "$SIDESCAN_IMAGE")
# shellcheck disable=SC2206 # extra options are meant to be split into words
extra=(${SIDESCAN_SCAN_ARGS:-})
exec "$runner" "${args[@]}" "${extra[@]}"
