#!/usr/bin/env bash
# Upstream-mode benchmark (see bench/upstream/main.rs); not run by CI.
# BENCH_SECONDS per throughput or latency measurement (default 5), BENCH_SAMPLES writes for
# the visibility measurement (default 20), BENCH_DIR for the repositories (default
# target/bench-upstream, removed at the start of each run).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --example bench-upstream
RUST_LOG=error ./target/release/examples/bench-upstream
