#!/usr/bin/env bash
# Runs commerce-bench against the local stack: brings the stack up (idempotent: servers
# already listening are left alone), then builds and runs the bench in release mode.
# Arguments go to the bench, e.g.  scripts/bench.sh --only append,relay --seconds 10
# (scripts/bench.sh --help lists them). The tables go to stdout, progress to stderr.
set -euo pipefail

cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/stack-up.sh >&2
exec cargo run --release -p bench --bin commerce-bench -- "$@"
