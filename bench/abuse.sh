#!/usr/bin/env bash
# The load-and-abuse benchmark: normal reads of the sample blog with and without 8
# anonymous clients asking for pathological past versions. Builds the release binary, then
# runs bench/abuse.py; extra arguments go to abuse.py (--rounds, --duration, ...). Results
# are in BENCHMARKS.md. Needs wrk, git and python3. Not part of .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v wrk >/dev/null || { echo "abuse.sh needs wrk: apt-get install -y wrk" >&2; exit 2; }
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
cargo build --release --locked --bin palimpsest
exec python3 bench/abuse.py --palimpsest "$CARGO_TARGET_DIR/release/palimpsest" "$@"
