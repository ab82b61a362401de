#!/usr/bin/env bash
# Creates the benchmark repository: bench/history/make-repo.sh DIR [COMMITS] [POSTS]
# A bare repository whose `main` holds a deterministic generated blog history, in one pack
# with a commit-graph. fast-import chains each file's versions oldest-first; with
# REDELTA=1 the deltas are recomputed (`git repack -f`, as `git gc --aggressive` does), so
# recent versions are stored whole, the layout git itself produces when it packs.
set -euo pipefail
dir=$1
commits=${2:-100000}
posts=${3:-1000}
here=$(cd "$(dirname "$0")" && pwd)
rm -rf "$dir"
git init --quiet --bare --initial-branch=main "$dir"
python3 "$here/generate.py" --commits "$commits" --posts "$posts" | git -C "$dir" fast-import --quiet
if [ "${REDELTA:-0}" = 1 ]; then
  git -C "$dir" repack -a -d -f -q --depth=50 --window=10
else
  git -C "$dir" repack -a -d -q
fi
git -C "$dir" commit-graph write --reachable
git -C "$dir" count-objects -vH
