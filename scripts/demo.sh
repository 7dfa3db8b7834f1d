#!/usr/bin/env bash
# shellcheck disable=SC2317,SC2329  # cleanup and on_signal run from traps
# The demo: bring up the stack, build the release binaries, start the services in the
# background, wait until each one's /health answers 200, then run `commerce demo` in the
# foreground. When it ends (or on Ctrl-C / SIGTERM) the services started here get
# SIGTERM and are waited for.
#
# Logs: .stack/logs/<service>.log (new each run)   PIDs: .stack/pids/<service>.pid
# (and commerce.pid while the demo runs; scripts/stack-down.sh stops what a killed run left)
# Extra arguments go to `commerce demo`.
#
# Environment:
#   SERVICE_WAIT_SECS  how long to wait for a service's /health (default 60)
#   STOP_WAIT_SECS     how long a service gets to stop after SIGTERM (default 20)
#   SKIP_BUILD=1       use the binaries already in target/release
set -euo pipefail

# Services: binary name and HTTP port, in start order. HTTP_ADDR=127.0.0.1:<port> is
# given to each and its health is read at http://127.0.0.1:<port>/health. A binary that
# is not built (yet) is skipped, so new services can be listed here ahead of time.
SERVICES=(
    "inventory-service 8081"
    "order-service 8082"
    "user-service 8083"
    "payment-provider 8086"
    "nats-bridge 8087"
    "payment-service 8084"
    "saga 8088"
    "notification-service 8085"
    "query-service 8080"
    "analytics-service 8089"
)
QUERY_PORT=8080 # QUERY_URL for the demo client
SAGA_PORT=8088  # SAGA_URL for the demo client (it watches each order's saga)

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

# Loopback traffic never goes through a developer's HTTP proxy.
export NO_PROXY="${NO_PROXY:+$NO_PROXY,}127.0.0.1,localhost"
export no_proxy="${no_proxy:+$no_proxy,}127.0.0.1,localhost"

SERVICE_WAIT_SECS=${SERVICE_WAIT_SECS:-60}
STOP_WAIT_SECS=${STOP_WAIT_SECS:-20}
BIN_DIR="${CARGO_TARGET_DIR:-$REPO/target}/release"

# 200 from http://127.0.0.1:PORT/health (curl when present, else bash's /dev/tcp).
# --noproxy: a developer's http_proxy must not capture loopback requests.
health_ok() {
    local port=$1
    if command -v curl >/dev/null 2>&1; then
        curl -fsS -o /dev/null --max-time 2 --noproxy '*' "http://127.0.0.1:$port/health" 2>/dev/null
    else
        # shellcheck disable=SC2016  # expanded by the inner bash
        timeout 3 bash -c '
            exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
            printf "GET /health HTTP/1.1\r\nHost: 127.0.0.1:%s\r\nConnection: close\r\n\r\n" "$1" >&3
            IFS= read -r status <&3
            [[ "$status" == "HTTP/1."?" 200"* ]]' _ "$port" 2>/dev/null
    fi
}

STARTED_NAMES=()
STARTED_PIDS=()
STARTED_PORTS=()
DEMO_PID=""
CLEANED_UP=0

cleanup() {
    ((CLEANED_UP)) && return 0
    CLEANED_UP=1
    local i name pid
    if [[ -n "$DEMO_PID" ]]; then
        stop_pid commerce "$DEMO_PID" "$STOP_WAIT_SECS"
        rm -f "$STACK_PIDS/commerce.pid"
    fi
    # Signal every service first, so they shut down in parallel, then wait for each.
    for i in "${!STARTED_PIDS[@]}"; do
        kill -TERM "${STARTED_PIDS[$i]}" 2>/dev/null || true
    done
    for i in "${!STARTED_PIDS[@]}"; do
        name=${STARTED_NAMES[$i]}
        pid=${STARTED_PIDS[$i]}
        wait_pid_gone "$name" "$pid" "$STOP_WAIT_SECS"
        rm -f "$STACK_PIDS/$name.pid"
        say "$name" "stopped"
    done
}
on_signal() {
    trap - INT TERM
    printf '\ndemo: interrupted, stopping\n'
    cleanup
    exit "$1"
}
trap cleanup EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM

bash "$REPO/scripts/stack-up.sh"

if [[ "${SKIP_BUILD:-0}" != 1 ]]; then
    say build "cargo build --release --workspace --bins"
    cargo build --release --workspace --bins
fi

[[ -x "$BIN_DIR/commerce" ]] || die demo "$BIN_DIR/commerce is not built: the demo client (binary 'commerce') is missing from the workspace"

mkdir -p "$STACK_LOGS" "$STACK_PIDS"

# A previous demo that was killed (SIGKILL) without cleaning up may have left processes.
stop_leftover() {
    local name=$1 pidfile="$STACK_PIDS/$1.pid" old
    [[ -f "$pidfile" ]] || return 0
    old=$(cat "$pidfile")
    if pid_matches "$old" "$name"; then
        say "$name" "stopping the instance left by an earlier run (pid $old)"
        stop_pid "$name" "$old" "$STOP_WAIT_SECS"
    fi
    rm -f "$pidfile"
}
stop_leftover commerce

for entry in "${SERVICES[@]}"; do
    read -r name port <<<"$entry"
    bin="$BIN_DIR/$name"
    pidfile="$STACK_PIDS/$name.pid"
    if [[ ! -x "$bin" ]]; then
        say "$name" "not built, skipped"
        continue
    fi
    stop_leftover "$name"
    if port_open 127.0.0.1 "$port"; then
        die "$name" "port $port is already in use by another program"
    fi
    log="$STACK_LOGS/$name.log"
    # setsid: Ctrl-C reaches only this script, which then stops the services in order.
    HTTP_ADDR="127.0.0.1:$port" setsid "$bin" </dev/null >"$log" 2>&1 &
    pid=$!
    echo "$pid" >"$pidfile"
    STARTED_NAMES+=("$name")
    STARTED_PIDS+=("$pid")
    STARTED_PORTS+=("$port")
    say "$name" "started (pid $pid, log .stack/logs/$name.log)"
done

for i in "${!STARTED_PIDS[@]}"; do
    name=${STARTED_NAMES[$i]}
    pid=${STARTED_PIDS[$i]}
    port=${STARTED_PORTS[$i]}
    deadline=$((SECONDS + SERVICE_WAIT_SECS))
    until health_ok "$port"; do
        if ! kill -0 "$pid" 2>/dev/null; then
            show_log_tail "$STACK_LOGS/$name.log"
            die "$name" "exited before it became healthy (log: .stack/logs/$name.log)"
        fi
        if ((SECONDS >= deadline)); then
            show_log_tail "$STACK_LOGS/$name.log"
            die "$name" "http://127.0.0.1:$port/health did not answer 200 within ${SERVICE_WAIT_SECS}s (log: .stack/logs/$name.log)"
        fi
        sleep 0.5
    done
    say "$name" "healthy on http://127.0.0.1:$port/health"
done

say demo "running $BIN_DIR/commerce demo $*"
export QUERY_URL=${QUERY_URL:-http://127.0.0.1:$QUERY_PORT}
export SAGA_URL=${SAGA_URL:-http://127.0.0.1:$SAGA_PORT}
# In the background and waited for, so that a SIGTERM to this script is handled at once
# (it stops the demo, then the services); not exec, so the EXIT trap stops the services.
"$BIN_DIR/commerce" demo "$@" &
DEMO_PID=$!
echo "$DEMO_PID" >"$STACK_PIDS/commerce.pid"
status=0
wait "$DEMO_PID" || status=$?
DEMO_PID=""
rm -f "$STACK_PIDS/commerce.pid"
exit "$status"
