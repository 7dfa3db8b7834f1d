#!/usr/bin/env bash
# Bring up the local stack on Debian 12: PostgreSQL, RabbitMQ, Redis, NATS (JetStream)
# and SecantusDB (a MongoDB wire-protocol server), then the per-service databases.
#
# Idempotent: a server whose port already accepts connections is left alone; a missing
# one is installed (apt-get, or pip into .stack/venv for SecantusDB) and started. Every
# wait is bounded. Prints one line per server, and stops with an error naming the log.
#
# Environment:
#   STACK_WAIT_SECS     how long to wait for a server to accept connections (default 60)
#   RABBITMQ_WAIT_SECS  the same for RabbitMQ, slower to boot (default 120)
#   SECANTUS_VERSION    the SecantusDB release to install (default 0.7.0b3)
#   PYTHON              the interpreter to build .stack/venv with (default python3)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

HOST=127.0.0.1
WAIT_SECS=${STACK_WAIT_SECS:-60}
RABBITMQ_WAIT_SECS=${RABBITMQ_WAIT_SECS:-120}
SECANTUS_VERSION=${SECANTUS_VERSION:-0.7.0b3}
VENV="$STACK_DIR/venv"

mkdir -p "$STACK_LOGS" "$STACK_PIDS"

# True when a process whose command line contains PATTERN is alive (no procps needed).
process_running() {
    local f
    for f in /proc/[0-9]*/cmdline; do
        { tr '\0' ' ' <"$f"; } 2>/dev/null | grep -qF -- "$1" && return 0
    done
    return 1
}

# --- PostgreSQL ---------------------------------------------------------------------

# The installed cluster version that listens on 5432 (the highest one if none says so).
pg_cluster_version() {
    local conf ver='' best=''
    for conf in /etc/postgresql/*/main/postgresql.conf; do
        [[ -e "$conf" ]] || continue
        ver=$(basename "$(dirname "$(dirname "$conf")")")
        if grep -Eq '^[[:space:]]*port[[:space:]]*=[[:space:]]*5432\b' "$conf"; then
            best=$ver
        fi
    done
    if [[ -z "$best" ]]; then
        best=$(find /etc/postgresql -mindepth 2 -maxdepth 2 -name main -printf '%h\n' 2>/dev/null |
            xargs -r -n1 basename | sort -V | tail -n1)
    fi
    printf '%s' "$best"
}

# Local development: trust connections from loopback (first matching line wins, so the
# block goes on top). Only done for a cluster this script installed or created.
pg_trust_loopback() {
    local hba="/etc/postgresql/$1/main/pg_hba.conf"
    local marker='# scripts/stack-up.sh: local development, trust on loopback'
    grep -qF "$marker" "$hba" 2>/dev/null && return 0
    # shellcheck disable=SC2016  # expanded by the inner bash
    as_root bash -c '
        hba=$1 marker=$2
        tmp=$(mktemp)
        { printf "%s\n" "$marker" \
            "host    all    all    127.0.0.1/32    trust" \
            "host    all    all    ::1/128         trust" ""
          cat "$hba"; } >"$tmp"
        cat "$tmp" >"$hba"   # keeps the file owner and mode
        rm -f "$tmp"' _ "$hba" "$marker"
}

ensure_postgres() {
    if port_open "$HOST" 5432; then
        say postgres "already running"
        return
    fi
    local log="$STACK_LOGS/postgres.log" fresh=0 ver state=started
    if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null || ! command -v pg_ctlcluster >/dev/null; then
        apt_install postgresql
        fresh=1
        state="installed and started"
    fi
    ver=$(pg_cluster_version)
    if [[ -z "$ver" ]]; then
        # The server is installed but has no cluster (dropped, or created elsewhere).
        ver=$(find /usr/lib/postgresql -mindepth 1 -maxdepth 1 -printf '%f\n' | sort -V | tail -n1)
        [[ -n "$ver" ]] || die postgres "no PostgreSQL server version under /usr/lib/postgresql"
        as_root pg_createcluster "$ver" main >>"$log" 2>&1 ||
            { show_log_tail "$log"; die postgres "pg_createcluster $ver main failed (log: $log)"; }
        fresh=1
        [[ "$state" == started ]] && state="cluster created and started"
    fi
    if ((fresh)); then
        pg_trust_loopback "$ver"
    fi
    if port_open "$HOST" 5432; then
        # Started by the package's own scripts: pick up the pg_hba.conf change.
        as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main reload >>"$log" 2>&1 || true
    else
        if ! as_root pg_ctlcluster --skip-systemctl-redirect "$ver" main start >>"$log" 2>&1; then
            show_log_tail "$log"
            show_log_tail "/var/log/postgresql/postgresql-$ver-main.log"
            die postgres "pg_ctlcluster $ver main start failed (log: $log)"
        fi
        wait_for_port postgres "$HOST" 5432 "$WAIT_SECS" "" "/var/log/postgresql/postgresql-$ver-main.log"
    fi
    say postgres "$state (cluster $ver/main)"
}

# --- Redis --------------------------------------------------------------------------

ensure_redis() {
    if port_open "$HOST" 6379; then
        say redis "already running"
        return
    fi
    local state=started
    if ! command -v redis-server >/dev/null; then
        apt_install redis-server
        state="installed and started"
    fi
    if ! port_open "$HOST" 6379; then
        as_root mkdir -p /var/lib/redis /var/log/redis
        as_root redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
            --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log >/dev/null ||
            { show_log_tail /var/log/redis/ci.log; die redis "redis-server did not start (log: /var/log/redis/ci.log)"; }
        wait_for_port redis "$HOST" 6379 "$WAIT_SECS" "" /var/log/redis/ci.log
    fi
    say redis "$state"
}

# --- RabbitMQ -----------------------------------------------------------------------

# Before a first install: a loopback-only node named rabbit@localhost (it then needs no
# resolvable host name), as on the CI machines. The package keeps files already there.
rabbitmq_preseed_config() {
    [[ -e /etc/rabbitmq/rabbitmq-env.conf || -e /etc/rabbitmq/rabbitmq.conf ]] && return 0
    as_root mkdir -p /etc/rabbitmq
    printf '%s\n' '# scripts/stack-up.sh: local development, loopback only' \
        'NODENAME=rabbit@localhost' \
        'ERL_EPMD_ADDRESS=127.0.0.1' \
        'export ERL_FLAGS="-kernel inet_dist_use_interface {127,0,0,1}"' |
        as_root tee /etc/rabbitmq/rabbitmq-env.conf >/dev/null
    printf '%s\n' '# scripts/stack-up.sh: local development, loopback only' \
        'listeners.tcp.local = 127.0.0.1:5672' |
        as_root tee /etc/rabbitmq/rabbitmq.conf >/dev/null
}

# The node's own log, which says why it did not come up.
rabbitmq_node_log() {
    local node
    node=$(sed -n 's/^[[:space:]]*NODENAME=//p' /etc/rabbitmq/rabbitmq-env.conf 2>/dev/null | tail -n1 | tr -d '"')
    printf '/var/log/rabbitmq/%s.log' "${node:-rabbit@${HOSTNAME%%.*}}"
}

ensure_rabbitmq() {
    if port_open "$HOST" 5672; then
        say rabbitmq "already running"
        return
    fi
    local log="$STACK_LOGS/rabbitmq.log" state=started
    if ! command -v rabbitmq-server >/dev/null; then
        rabbitmq_preseed_config
        apt_install rabbitmq-server
        state="installed and started"
    fi
    if port_open "$HOST" 5672; then
        :
    elif process_running '-s rabbit boot'; then
        state="was starting"   # a node is booting: don't start a second one, just wait
    else
        as_root rabbitmq-server -detached >>"$log" 2>&1 ||
            { show_log_tail "$log"; die rabbitmq "rabbitmq-server -detached failed (log: $log)"; }
    fi
    wait_for_port rabbitmq "$HOST" 5672 "$RABBITMQ_WAIT_SECS" "" "$(rabbitmq_node_log)"
    say rabbitmq "$state"
}

# --- NATS (JetStream) ---------------------------------------------------------------

# The INFO line a NATS server sends on connect says whether JetStream is on.
nats_jetstream_enabled() {
    local line
    # shellcheck disable=SC2016  # expanded by the inner bash
    line=$(timeout 3 bash -c 'exec 3<>"/dev/tcp/$1/4222"; IFS= read -r -t 2 line <&3; printf "%s" "$line"' _ "$HOST" 2>/dev/null) || return 2
    [[ "$line" == *'"jetstream":true'* ]]
}

ensure_nats() {
    local state
    if port_open "$HOST" 4222; then
        state="already running"
    else
        state=started
        if ! command -v nats-server >/dev/null && [[ ! -x /usr/sbin/nats-server ]]; then
            apt_install nats-server
            state="installed and started"
        fi
        local bin
        bin=$(command -v nats-server || echo /usr/sbin/nats-server)
        as_root mkdir -p /var/lib/nats-server
        as_root start-stop-daemon --start --oknodo --background --exec "$bin" -- \
            -a 127.0.0.1 -p 4222 -js -sd /var/lib/nats-server -l /var/log/nats-server.log ||
            die nats "start-stop-daemon could not start $bin"
        wait_for_port nats "$HOST" 4222 "$WAIT_SECS" "" /var/log/nats-server.log
    fi
    if ! nats_jetstream_enabled; then
        state="$state (WARNING: JetStream looks disabled on 127.0.0.1:4222; it needs -js)"
    fi
    say nats "$state"
}

# --- SecantusDB (MongoDB wire protocol) ---------------------------------------------

secantus_installed_version() {
    "$VENV/bin/python" - <<'EOF' 2>/dev/null
import importlib.metadata as m
import secantus  # noqa: F401  (fails when the package is broken)
print(m.version("secantusdb"))
EOF
}

ensure_secantus_venv() {
    local log="$STACK_LOGS/pip.log" python=${PYTHON:-python3}
    [[ "$(secantus_installed_version || true)" == "$SECANTUS_VERSION" ]] && return 0
    if [[ ! -x "$VENV/bin/python" ]]; then
        if ! command -v "$python" >/dev/null; then
            apt_install python3 python3-venv
            python=python3
        fi
        if ! "$python" -m venv "$VENV" >>"$log" 2>&1; then
            # Debian's python3 ships venv's pip bootstrap separately.
            rm -rf "$VENV"
            apt_install python3-venv
            "$python" -m venv "$VENV" >>"$log" 2>&1 ||
                { show_log_tail "$log"; die mongo "$python -m venv $VENV failed (log: $log)"; }
        fi
    fi
    if ! "$VENV/bin/python" -m pip install -q --disable-pip-version-check --pre \
        "secantusdb==$SECANTUS_VERSION" </dev/null >>"$log" 2>&1; then
        show_log_tail "$log"
        die mongo "pip install secantusdb==$SECANTUS_VERSION failed (log: $log)"
    fi
}

ensure_mongo() {
    if port_open "$HOST" 27017; then
        say mongo "already running"
        return
    fi
    local log="$STACK_LOGS/mongo.log" pidfile="$STACK_PIDS/mongo.pid" pid
    if [[ -f "$pidfile" ]] && pid_matches "$(cat "$pidfile")" secantus; then
        # Ours, still starting up.
        pid=$(cat "$pidfile")
    else
        ensure_secantus_venv
        mkdir -p "$STACK_DIR/mongo"
        # setsid: its own session, so a Ctrl-C in this terminal does not reach it; every
        # descriptor redirected, so it never holds a caller's pipe open.
        (cd "$STACK_DIR" && exec setsid "$VENV/bin/python" -m secantus --host "$HOST" --port 27017 \
            --storage-path "$STACK_DIR/mongo" </dev/null >>"$log" 2>&1) &
        pid=$!
        echo "$pid" >"$pidfile"
    fi
    wait_for_port mongo "$HOST" 27017 "$WAIT_SECS" "$pid" "$log"
    say mongo "started SecantusDB $SECANTUS_VERSION (pid $pid, data in .stack/mongo)"
}

ensure_postgres
ensure_rabbitmq
ensure_redis
ensure_nats
ensure_mongo

bash "$REPO/scripts/db-bootstrap.sh"
