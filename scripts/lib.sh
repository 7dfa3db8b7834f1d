# shellcheck shell=bash
# shellcheck disable=SC2034  # the variables are for the scripts that source this file
# Helpers shared by the scripts in this folder. Source it, don't run it:
#   source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
# It sets REPO (the repository root) and STACK_DIR ($REPO/.stack, git-ignored).

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
STACK_DIR="$REPO/.stack"
STACK_LOGS="$STACK_DIR/logs"
STACK_PIDS="$STACK_DIR/pids"

# say NAME MESSAGE: the one line each step prints.
say() { printf '%s: %s\n' "$1" "$2"; }

# die NAME MESSAGE: print to stderr and stop.
die() {
    printf '%s: ERROR: %s\n' "$1" "$2" >&2
    exit 1
}

# port_open HOST PORT: true when a TCP connection succeeds (bounded to 2 s).
port_open() {
    # shellcheck disable=SC2016  # expanded by the inner bash
    timeout 2 bash -c 'exec 3<>"/dev/tcp/$1/$2"' _ "$1" "$2" 2>/dev/null
}

# show_log_tail FILE: the end of a log, to stderr, after a failure.
show_log_tail() {
    if [[ -s "$1" ]]; then
        printf -- '--- last lines of %s ---\n' "$1" >&2
        tail -n 25 "$1" >&2
        printf -- '---\n' >&2
    fi
}

# wait_for_port NAME HOST PORT SECONDS [PID] [LOG]: poll until the port accepts
# connections. Fails after SECONDS, or at once if PID is given and has exited.
wait_for_port() {
    local name=$1 host=$2 port=$3 secs=$4 pid=${5:-} log=${6:-}
    local deadline=$((SECONDS + secs))
    until port_open "$host" "$port"; do
        if [[ -n "$pid" ]] && ! kill -0 "$pid" 2>/dev/null; then
            [[ -n "$log" ]] && show_log_tail "$log"
            die "$name" "process $pid exited before $host:$port accepted connections${log:+ (log: $log)}"
        fi
        if ((SECONDS >= deadline)); then
            [[ -n "$log" ]] && show_log_tail "$log"
            die "$name" "$host:$port did not accept connections within ${secs}s${log:+ (log: $log)}"
        fi
        sleep 0.5
    done
}

# as_root CMD...: run as root (directly, or through sudo when not root).
as_root() {
    if [[ $EUID -eq 0 ]]; then
        "$@"
    elif command -v sudo >/dev/null 2>&1; then
        sudo "$@"
    else
        die stack "this step needs root (or sudo): $*"
    fi
}

# apt_install PKG...: install Debian packages non-interactively. 'apt-get update' runs
# once per script run. Output goes to .stack/logs/apt.log and is shown only on failure.
APT_UPDATED=${APT_UPDATED:-0}
apt_install() {
    command -v apt-get >/dev/null 2>&1 || die apt "apt-get not found: install $* by hand"
    mkdir -p "$STACK_LOGS"
    local log="$STACK_LOGS/apt.log"
    if [[ "$APT_UPDATED" != 1 ]]; then
        if ! as_root apt-get update -q >>"$log" 2>&1; then
            show_log_tail "$log"
            die apt "apt-get update failed (log: $log)"
        fi
        APT_UPDATED=1
        export APT_UPDATED
    fi
    if ! as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
        --no-install-recommends "$@" </dev/null >>"$log" 2>&1; then
        show_log_tail "$log"
        die apt "apt-get install $* failed (log: $log)"
    fi
}

# pid_matches PID PATTERN: true when PID is alive and its command line contains
# PATTERN (guards against a PID that was reused by another program).
pid_matches() {
    local pid=$1 pattern=$2
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    kill -0 "$pid" 2>/dev/null || return 1
    [[ -r "/proc/$pid/cmdline" ]] || return 1
    { tr '\0' ' ' <"/proc/$pid/cmdline"; } 2>/dev/null | grep -qF -- "$pattern"
}

# wait_pid_gone NAME PID [SECONDS]: wait (bounded, default 20 s) for PID to exit after
# it was sent SIGTERM, then SIGKILL it. Reaps it when it is a child of this shell.
wait_pid_gone() {
    local name=$1 pid=$2 secs=${3:-20}
    local deadline=$((SECONDS + secs))
    while kill -0 "$pid" 2>/dev/null; do
        # A child that exited is a zombie until reaped, and still answers kill -0.
        if grep -q '^State:[[:space:]]*Z' "/proc/$pid/status" 2>/dev/null; then
            break
        fi
        if ((SECONDS >= deadline)); then
            printf '%s: did not stop within %ss of SIGTERM, sending SIGKILL\n' "$name" "$secs" >&2
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.2
    done
    wait "$pid" 2>/dev/null || true
}

# stop_pid NAME PID [SECONDS]: SIGTERM, then wait_pid_gone.
stop_pid() {
    kill -TERM "$2" 2>/dev/null || return 0
    wait_pid_gone "$@"
}
