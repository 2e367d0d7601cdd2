# Shared shell helpers for the scripts under scripts/. Source it; it defines functions only.
# shellcheck shell=bash

SIDESCAN_CACHE_ROOT=${SIDESCAN_CACHE_ROOT:-$HOME/.cache/sidescan}
# shellcheck disable=SC2034 # read by the scripts that source this file
SIDESCAN_STATE_ROOT=${SIDESCAN_STATE_DIR:-/tmp/sidescan}

log() { printf '[%s] %s\n' "${LOG_TAG:-sidescan}" "$*" >&2; }
die() {
    log "error: $*"
    exit "${DIE_STATUS:-3}"
}

# Installs the Debian packages that are not installed yet (one apt-get run, none if all are there).
apt_ensure() {
    local missing=() pkg
    for pkg in "$@"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    log "installing Debian packages: ${missing[*]}"
    if [ ! -d /var/lib/apt/lists ] || [ -z "$(find /var/lib/apt/lists -maxdepth 1 -name '*Packages*' -print -quit)" ]; then
        apt-get update -q=2
    fi
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q=2 --no-install-recommends "${missing[@]}" >/dev/null ||
        { apt-get update -q=2 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q=2 --no-install-recommends "${missing[@]}" >/dev/null; }
}

# wait_until DESCRIPTION TIMEOUT_SECONDS COMMAND...: polls COMMAND until it succeeds or the deadline
# passes (then returns 1). Polling a real condition with a deadline, never a fixed sleep.
wait_until() {
    local what=$1 timeout=$2
    shift 2
    local deadline=$((SECONDS + timeout))
    until "$@" >/dev/null 2>&1; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "timed out after ${timeout}s waiting for: $what"
            return 1
        fi
        sleep 0.2
    done
}

# pid_alive PIDFILE MARKER: the process in PIDFILE runs and its command line contains MARKER (so a
# recycled PID is not mistaken for ours).
pid_alive() {
    local pidfile=$1 marker=$2 pid
    [ -f "$pidfile" ] || return 1
    pid=$(cat "$pidfile")
    [ -n "$pid" ] && [ -r "/proc/$pid/cmdline" ] || return 1
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker"
}

# start_daemon NAME PIDFILE LOGFILE COMMAND...: starts COMMAND detached in its own session, stdin
# closed, output to LOGFILE, and records its PID.
start_daemon() {
    local name=$1 pidfile=$2 logfile=$3
    shift 3
    log "starting $name"
    # fd 9 is the scripts' lock: the daemon must not keep holding it.
    setsid "$@" </dev/null >>"$logfile" 2>&1 9>&- &
    echo $! >"$pidfile"
}

# stop_pidfile PIDFILE MARKER [TIMEOUT]: TERM, wait, then KILL the process if it still runs.
stop_pidfile() {
    local pidfile=$1 marker=$2 timeout=${3:-15} pid
    if pid_alive "$pidfile" "$marker"; then
        pid=$(cat "$pidfile")
        kill -TERM "$pid" 2>/dev/null || true
        if ! wait_until "pid $pid to exit" "$timeout" eval "! kill -0 $pid"; then
            kill -KILL "$pid" 2>/dev/null || true
        fi
    fi
    rm -f "$pidfile"
}

# Prints the last lines of every log in a folder (used when a start fails).
dump_logs() {
    local dir=$1 lines=${2:-40} f
    for f in "$dir"/*.log; do
        [ -f "$f" ] || continue
        printf '\n===== %s (last %s lines) =====\n' "$f" "$lines" >&2
        tail -n "$lines" "$f" >&2
    done
}

# Content hash of files and directories (relative paths and bytes), for cache keys.
hash_inputs() {
    local p
    for p in "$@"; do
        if [ -d "$p" ]; then
            (cd "$p" && find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum)
        elif [ -e "$p" ]; then
            sha256sum <"$p" # content only: the same file hashes alike wherever the checkout is
        else
            printf '%s\n' "$p"
        fi
    done | sha256sum | cut -c1-16
}
