#!/usr/bin/env bash
# Creates the benchmark repository: bench/history/make-repo.sh DIR [COMMITS] [POSTS]
# A bare repository whose `main` holds a deterministic generated blog history, packed as
# `git gc` would leave it (with a commit-graph, which both git and libgit2 read).
set -euo pipefail
dir=$1
commits=${2:-100000}
posts=${3:-1000}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir"
git init --quiet --bare --initial-branch=main "$dir"
python3 "$here/generate.py" --commits "$commits" --posts "$posts" | git -C "$dir" fast-import --quiet
git -C "$dir" repack -a -d -q
git -C "$dir" commit-graph write --reachable
git -C "$dir" count-objects -vH
