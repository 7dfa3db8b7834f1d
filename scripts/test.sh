#!/usr/bin/env bash
# The whole test suite: bring up the local stack, then run every test of the workspace
# with cargo-nextest (profile "ci", .config/nextest.toml) or, without it, cargo test.
# Extra arguments go to the test runner, e.g. `scripts/test.sh -E 'binary(e2e)'` with
# nextest or `scripts/test.sh -- --nocapture` with cargo test.
#
# Environment:
#   CHECK_LINT=1     also run `cargo fmt --check` and clippy with -D warnings, before the tests
#   RUST_LOG         log filter of the code under test (default warn)
#   NEXTEST_PROFILE  nextest profile (default ci)
set -euo pipefail

# shellcheck source=scripts/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$REPO"

export RUST_LOG=${RUST_LOG:-warn}

if [[ "${CHECK_LINT:-0}" == 1 ]]; then
    say lint "cargo fmt --all -- --check"
    cargo fmt --all -- --check
    say lint "cargo clippy --workspace --all-targets -- -D warnings"
    cargo clippy --workspace --all-targets -- -D warnings
fi

bash "$REPO/scripts/stack-up.sh"

# The kill tests run service binaries as child processes (to SIGKILL them): built here,
# a test finds them up to date instead of compiling them mid-run.
SERVICE_PACKAGES=(-p saga -p payment -p inventory -p order -p user -p notification -p provider -p bridge -p query -p analytics)
say build "cargo build --bins ${SERVICE_PACKAGES[*]}"
cargo build --bins "${SERVICE_PACKAGES[@]}"

# The fault-injection suite (tests/faults) restarts servers and loads the machine: it
# runs after the rest of the suite, alone, and a failure of either run fails the script.
status=0
if cargo nextest --version >/dev/null 2>&1; then
    profile=${NEXTEST_PROFILE:-ci}
    say test "cargo nextest run --workspace --profile $profile -E 'not binary(faults)'"
    cargo nextest run --workspace --profile "$profile" -E 'not binary(faults)' "$@" || status=$?
    say test "cargo nextest run --profile $profile -p e2e --test faults"
    cargo nextest run --profile "$profile" -p e2e --test faults "$@" || status=$?
else
    say test "cargo test --workspace (cargo-nextest not installed), faults after the rest"
    cargo test --workspace --exclude e2e "$@" || status=$?
    RUST_TEST_THREADS=1 cargo test -p e2e --lib --test e2e "$@" || status=$?
    RUST_TEST_THREADS=1 cargo test -p e2e --test faults "$@" || status=$?
fi
exit "$status"
