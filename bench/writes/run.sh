#!/usr/bin/env bash
# Write throughput benchmark (see bench/writes/main.rs); not run by CI.
# BENCH_SECONDS per measurement (default 5), BENCH_DIR for the repositories (default
# target/bench-writes: a real disk, so fsync costs what it costs in production).
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo build --release --example bench-writes
RUST_LOG=warn ./target/release/examples/bench-writes
