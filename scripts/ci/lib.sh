# The CI wrappers' shared part (scripts/ci/github-scan, scripts/ci/gitlab-scan): run
# `sidescan-runner scan` with the inputs from the environment, keep it alive and cleaning up
# whatever happens to the CI job's log, read its JSON run report, and turn the stored results
# into the CI system's reports with `sidescan-eval summary`. Source it; it defines functions only.
#
# Inputs (environment; every one optional except what the spec lacks):
#   SIDESCAN_NAMESPACE       --namespace
#   SIDESCAN_POD_NAME        --pod-name
#   SIDESCAN_PROFILE         --profile (a profile directory or archive, or `builtin`)
#   SIDESCAN_THRESHOLD       --threshold (a SAF threshold file)
#   SIDESCAN_VALUES          --values (a scan spec)
#   SIDESCAN_SET             newline-separated KEY=VALUE, each a --set
#   SIDESCAN_IMAGE           --image
#   SIDESCAN_RESULTS_STORE   --store (s3://bucket/prefix)
#   SIDESCAN_BIN_DIR         folder holding sidescan-runner and sidescan-eval (default: PATH)
#   SIDESCAN_RUN_ID          the run id (default: one made from the CI job's id and 6 random
#                            characters); cluster objects carry it as sidescan.io/run-id
#   SIDESCAN_OUTPUT_DIR      where report.json, run.log, junit.xml, results.sarif,
#                            codequality.json, summary.md go
# shellcheck shell=bash

ci_log() { printf '[sidescan] %s\n' "$*" >&2; }

# ci_tool NAME: the path of sidescan's NAME binary (SIDESCAN_BIN_DIR, else PATH); exit 3 when
# it is missing.
ci_tool() {
    local name=$1
    if [ -n "${SIDESCAN_BIN_DIR:-}" ]; then
        if [ -x "$SIDESCAN_BIN_DIR/$name" ]; then
            printf '%s\n' "$SIDESCAN_BIN_DIR/$name"
            return 0
        fi
        ci_log "error: $SIDESCAN_BIN_DIR/$name not found or not executable (SIDESCAN_BIN_DIR)"
        exit 3
    fi
    if command -v "$name" >/dev/null 2>&1; then
        command -v "$name"
        return 0
    fi
    ci_log "error: $name not found on PATH; set SIDESCAN_BIN_DIR to the folder that holds it"
    exit 3
}

# ci_run_id PREFIX JOB_ID: a run id as the spec takes it (6-32 of [a-z0-9]): PREFIX, the CI job's
# id (digits only) and 6 random characters, so that parallel jobs of one pipeline differ.
ci_run_id() {
    local prefix=$1 job=${2//[!0-9]/} random
    random=$(LC_ALL=C tr -dc 'a-z0-9' </dev/urandom 2>/dev/null | head -c 6 || true)
    printf '%s%s%s\n' "$prefix" "${job:0:20}" "$random"
}

# ci_valid_run_id ID: whether ID is a run id the spec accepts.
ci_valid_run_id() {
    [[ $1 =~ ^[a-z0-9]{6,32}$ ]]
}

# ci_scan_args: fills the array `scan_args` with the `sidescan-runner scan` options from the
# environment (see the top of this file); exit 2 on a malformed SIDESCAN_SET line.
ci_scan_args() {
    scan_args=()
    [ -n "${SIDESCAN_NAMESPACE:-}" ] && scan_args+=(--namespace "$SIDESCAN_NAMESPACE")
    [ -n "${SIDESCAN_POD_NAME:-}" ] && scan_args+=(--pod-name "$SIDESCAN_POD_NAME")
    [ -n "${SIDESCAN_PROFILE:-}" ] && scan_args+=(--profile "$SIDESCAN_PROFILE")
    [ -n "${SIDESCAN_THRESHOLD:-}" ] && scan_args+=(--threshold "$SIDESCAN_THRESHOLD")
    [ -n "${SIDESCAN_VALUES:-}" ] && scan_args+=(--values "$SIDESCAN_VALUES")
    [ -n "${SIDESCAN_IMAGE:-}" ] && scan_args+=(--image "$SIDESCAN_IMAGE")
    [ -n "${SIDESCAN_RESULTS_STORE:-}" ] && scan_args+=(--store "$SIDESCAN_RESULTS_STORE")
    local line
    while IFS= read -r line || [ -n "$line" ]; do
        line=${line%$'\r'}
        # Blank lines and comments are allowed, so a YAML block scalar reads naturally.
        [[ $line =~ ^[[:space:]]*(#|$) ]] && continue
        line=${line#"${line%%[![:space:]]*}"}
        if [[ $line != *=* ]] || [[ $line == =* ]]; then
            ci_log "error: set: \"$line\" is not KEY=VALUE"
            return 2
        fi
        scan_args+=(--set "$line")
    done <<<"${SIDESCAN_SET:-}"
    return 0
}

# ci_run_runner RUNNER LOG ARGS...: runs `RUNNER scan ARGS...` in a session of its own with its
# output in LOG, which is followed onto this script's output. The runner does not share this
# job's process group or output pipe: a cancelled job's SIGTERM/SIGINT/SIGHUP is passed on to it
# (it then cleans up and exits 3), a signal to the whole group does not hit it twice, and a CI
# log that goes away mid-run cannot stop it before its cleanup. Returns the runner's exit code.
ci_run_runner() {
    local runner=$1 log=$2 pid follower status sig
    shift 2
    : >"$log"
    setsid -w "$runner" scan "$@" </dev/null >"$log" 2>&1 &
    pid=$!
    tail -n +1 -f --pid="$pid" "$log" 2>/dev/null &
    follower=$!
    for sig in TERM INT HUP; do
        # shellcheck disable=SC2064 # the pid and signal are fixed now, on purpose
        trap "ci_log 'SIG$sig: stopping the scan (it cleans up first)'; kill -$sig $pid 2>/dev/null || true" "$sig"
    done
    while :; do
        if wait "$pid"; then status=0; else status=$?; fi
        # A trapped signal ends `wait` early (128+n) while the runner still runs: wait again.
        if [ "$status" -gt 128 ] && kill -0 "$pid" 2>/dev/null; then
            continue
        fi
        break
    done
    trap - TERM INT HUP
    wait "$follower" 2>/dev/null || true
    return "$status"
}

# ci_report_field FILE FILTER: a jq filter's raw value from the JSON run report ("" for null).
ci_report_field() {
    jq -r "($2) // empty | tostring" "$1" 2>/dev/null || true
}

# ci_verdict_of CODE: the verdict name of an exit code, as the run report spells it.
ci_verdict_of() {
    case $1 in
        0) echo passed ;;
        1) echo not-met ;;
        2) echo bad-input ;;
        *) echo infrastructure ;;
    esac
}

# ci_eval_supports EVAL FORMAT: whether `sidescan-eval summary` has --format FORMAT.
ci_eval_supports() {
    "$1" summary --help 2>/dev/null | grep -q -- "\b$2\b"
}

# ci_summary EVAL INPUT FORMAT OUT [ARGS...]: `sidescan-eval summary --format FORMAT ARGS...` of
# INPUT into OUT (atomically); on failure a warning, OUT absent, status 1.
ci_summary() {
    local eval=$1 input=$2 format=$3 out=$4
    shift 4
    if ! ci_eval_supports "$eval" "$format"; then
        ci_log "warning: this sidescan-eval has no summary --format $format: $(basename "$out") not written"
        return 1
    fi
    if "$eval" summary --input "$input" --format "$format" "$@" >"$out.tmp"; then
        mv "$out.tmp" "$out"
        return 0
    fi
    rm -f "$out.tmp"
    ci_log "warning: sidescan-eval summary --format $format failed: $(basename "$out") not written"
    return 1
}

# ci_reports EVAL HDF OUT: the CI reports of a stored run's HDF_URL into OUT: junit.xml (one
# test case per control), results.sarif (GitHub code scanning; with the run's metadata.json
# beside the hdf.json, so that each target is a category of its own) and codequality.json
# (GitLab Code Quality). A report the installed sidescan-eval cannot write is left out with a
# warning.
ci_reports() {
    local eval=$1 hdf=$2 out=$3
    ci_summary "$eval" "$hdf" junit "$out/junit.xml" || true
    ci_summary "$eval" "$hdf" sarif "$out/results.sarif" --metadata "${hdf%/*}/metadata.json" || true
    ci_summary "$eval" "$hdf" codequality "$out/codequality.json" || true
}

# ci_cleanup NAMESPACE RUN_ID: removes whatever run RUN_ID left in NAMESPACE (after a job was
# killed before the runner's own cleanup), by the sidescan.io/run-id label, with kubectl; the
# same kinds the runner creates. Without kubectl it says what remains responsible instead.
ci_cleanup() {
    local ns=$1 run_id=$2
    if ! ci_valid_run_id "$run_id"; then
        ci_log "cleanup: no run id recorded: nothing to clean up"
        return 0
    fi
    if ! command -v kubectl >/dev/null 2>&1; then
        ci_log "cleanup: kubectl not found; a scan pod of run $run_id left by a killed job stops at its activeDeadlineSeconds, and the next scan of the same target removes it and the run's objects"
        return 0
    fi
    local ns_args=()
    [ -n "$ns" ] && ns_args=(--namespace "$ns")
    ci_log "cleanup: removing what run $run_id left, if anything"
    kubectl delete "${ns_args[@]}" pods,configmaps,rolebindings,roles,serviceaccounts \
        --selector "sidescan.io/run-id=$run_id" --ignore-not-found --wait=true --timeout=120s
}
