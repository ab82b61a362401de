#!/usr/bin/env bash
# The read benchmark: palimpsest against a minimal actix-web server replaying the same bytes.
# Builds both release binaries, then runs bench/read.py; extra arguments go to read.py
# (--rounds, --duration, --connections, ...). Results are explained in BENCHMARKS.md.
# Needs wrk (`apt-get install wrk`), curl and python3. Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "read.sh needs wrk: apt-get install -y wrk" >&2; exit 2; }

# One target directory for both, so the reference server reuses the compiled actix-web.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked --bin palimpsest
cargo build --release --locked --manifest-path bench/reference-server/Cargo.toml

exec python3 bench/read.py \
  --palimpsest "$CARGO_TARGET_DIR/release/palimpsest" \
  --reference "$CARGO_TARGET_DIR/release/reference-server" \
  "$@"
