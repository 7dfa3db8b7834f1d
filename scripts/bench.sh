#!/usr/bin/env bash
# Every benchmark of the platform in one run against the local stack: brings the stack
# up (idempotent: servers already listening are left alone), builds in release mode,
# then runs commerce-bench (ceilings, append beside cqrs-es and disintegrate, relay,
# replay) and e2e-bench (orders/s and latency through every service as its own process,
# peak memory per service). The tables go to stdout, progress to stderr.
#
# Arguments go to commerce-bench, e.g.  scripts/bench.sh --only append,relay --seconds 10
# (scripts/bench.sh --help lists them).
#
# Environment:
#   E2E_BENCH=0      skip the end-to-end run
#   E2E_BENCH_ARGS   arguments of e2e-bench (default: its own; `e2e-bench --help`)
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/stack-up.sh >&2

# e2e-bench starts the services from target/release.
cargo build --release --bins -p bench -p inventory -p order -p user -p payment \
    -p notification -p saga -p query -p provider -p bridge -p analytics >&2

target/release/commerce-bench "$@"
if [[ "${E2E_BENCH:-1}" != 0 && " $* " != *" --help "* ]]; then
    # shellcheck disable=SC2086 # the arguments are meant to be split
    target/release/e2e-bench ${E2E_BENCH_ARGS:-}
fi
