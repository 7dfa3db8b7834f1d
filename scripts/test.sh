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

# The e2e kill tests run the saga and the payment service as child processes (to SIGKILL
# them); built here, a test finds them up to date instead of compiling them mid-run.
say build "cargo build --bins -p saga -p payment"
cargo build --bins -p saga -p payment

if cargo nextest --version >/dev/null 2>&1; then
    say test "cargo nextest run --workspace --profile ${NEXTEST_PROFILE:-ci}"
    exec cargo nextest run --workspace --profile "${NEXTEST_PROFILE:-ci}" "$@"
else
    say test "cargo test --workspace (cargo-nextest not installed)"
    exec cargo test --workspace "$@"
fi
