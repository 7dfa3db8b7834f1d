#!/usr/bin/env bash
# Create each service's PostgreSQL role and database, isolated from the others.
#
# For every service SVC in DB_SERVICES: a LOGIN role SVC_svc, a database SVC_svc owned by
# it, CONNECT revoked from PUBLIC and granted to that role only (with trust auth on
# loopback this is what keeps one service out of another's database), and the database's
# public schema owned by the role so that its migrations can create tables (PostgreSQL 15
# no longer grants CREATE on public to everyone).
#
# Idempotent: existing roles and databases are kept and only brought to this state.
#
# Environment:
#   PGADMIN_URL        superuser connection (default postgres://postgres@127.0.0.1:5432/postgres)
#   DB_SERVICES        the services (default "inventory order user payment notification analytics saga")
#   <SVC>_DB_PASSWORD  e.g. INVENTORY_DB_PASSWORD: when set, becomes that role's password
#                      (passed to psql through its environment, never on a command line or
#                      in output); when unset, the role's password is left as it is (none
#                      for a new role: local trust auth).
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

PGADMIN_URL=${PGADMIN_URL:-postgres://postgres@127.0.0.1:5432/postgres}
DB_SERVICES=${DB_SERVICES:-inventory order user payment notification analytics saga}

command -v psql >/dev/null || die db "psql not found (apt-get install postgresql-client)"

# -X: no ~/.psqlrc (it could turn on ECHO); -q: no command tags; -w: never prompt;
# VERBOSITY=terse: an error never quotes the statement text back.
psql_admin() {
    psql "$PGADMIN_URL" -X -q -w -v ON_ERROR_STOP=1 -v VERBOSITY=terse "$@"
}

# The URL without its password, for messages.
admin_url_shown=$(sed -E 's#(://[^:/@]*):[^@]*@#\1:***@#' <<<"$PGADMIN_URL")

if ! err=$(psql_admin -Atc 'SELECT 1' 2>&1 >/dev/null); then
    die db "cannot connect as the PostgreSQL superuser ($admin_url_shown): $err
    Local development expects trust auth on 127.0.0.1 (scripts/stack-up.sh sets it up when it installs PostgreSQL)."
fi

for svc in $DB_SERVICES; do
    [[ "$svc" =~ ^[a-z][a-z0-9_]*$ ]] || die db "invalid service name '$svc' (want [a-z][a-z0-9_]*)"
    name="${svc}_svc"
    password_var="$(tr '[:lower:]' '[:upper:]' <<<"$svc")_DB_PASSWORD"

    existed=$(psql_admin -Atc "SELECT count(*) FROM pg_database WHERE datname = '$name'")

    # The password, when given, reaches psql through the environment (\getenv, psql 15+),
    # so it never appears in a process listing, in this script's output or in psql's.
    if [[ -n "${!password_var:-}" ]]; then
        set_password=1
    else
        set_password=0
    fi

    # CREATE DATABASE cannot run inside a transaction: \gexec runs each generated
    # statement on its own, and generates nothing when the object already exists.
    if ! out=$(DB_PASSWORD="${!password_var:-}" psql_admin -v name="$name" -v set_password="$set_password" 2>&1 <<'SQL'
SELECT format('CREATE ROLE %I LOGIN', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = :'name') \gexec
ALTER ROLE :"name" LOGIN;
\if :set_password
\getenv db_password DB_PASSWORD
ALTER ROLE :"name" PASSWORD :'db_password';
\unset db_password
\endif
SELECT format('CREATE DATABASE %I OWNER %I', :'name', :'name')
 WHERE NOT EXISTS (SELECT 1 FROM pg_database WHERE datname = :'name') \gexec
ALTER DATABASE :"name" OWNER TO :"name";
REVOKE CONNECT ON DATABASE :"name" FROM PUBLIC;
GRANT CONNECT ON DATABASE :"name" TO :"name";
\connect :"name"
ALTER SCHEMA public OWNER TO :"name";
SQL
    ); then
        die db "$name: $out"
    fi

    if [[ "$existed" == 1 ]]; then
        say db "$name ready (existed)"
    else
        say db "$name created"
    fi
    if [[ "$set_password" == 1 ]]; then
        say db "$name password set from $password_var"
    fi
done
