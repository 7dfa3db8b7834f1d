#!/usr/bin/env bash
# Stop what the scripts of this folder started and recorded in .stack/pids/: services
# left running by scripts/demo.sh (and its `commerce demo`), and the SecantusDB started
# by scripts/stack-up.sh.
# Nothing else: system servers (PostgreSQL, RabbitMQ, Redis, NATS) and a SecantusDB
# started by other means are left alone. A PID is signalled only while its command line
# still names the program it was recorded for.
#
# Environment:
#   STOP_WAIT_SECS  how long each process gets after SIGTERM before SIGKILL (default 20)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

STOP_WAIT_SECS=${STOP_WAIT_SECS:-20}

shopt -s nullglob
pidfiles=("$STACK_PIDS"/*.pid)
if ((${#pidfiles[@]} == 0)); then
    say stack "nothing to stop"
    exit 0
fi

for pidfile in "${pidfiles[@]}"; do
    name=$(basename "$pidfile" .pid)
    case "$name" in
        mongo) pattern=secantus ;;
        *) pattern=$name ;;
    esac
    pid=$(cat "$pidfile" 2>/dev/null || true)
    if pid_matches "$pid" "$pattern"; then
        stop_pid "$name" "$pid" "$STOP_WAIT_SECS"
        say "$name" "stopped (pid $pid)"
    else
        say "$name" "not running"
    fi
    rm -f "$pidfile"
done
