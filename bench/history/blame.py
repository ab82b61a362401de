#!/usr/bin/env python3
"""Blame benchmark: GET /api/v1/posts/{slug}/blame of the most-edited post against `git blame`.

usage: blame.py --bin target/release/palimpsest --repo /tmp/hist-bench/repo-gc.git [--requests 200]

In one run: the reference `git blame --porcelain main -- <path>` (median of 3); the server
started over the repository (its saved history index reused if there is one); the first
blame request (nothing cached), then --requests blame requests over keep-alive, p50 and
p99; the served line commits are checked equal to git blame's. Prints a Markdown table.
"""

import argparse
import collections
import json
import os

from run import Server, git, latencies, timed


def git_blame_commits(repo, path):
    commits = []
    current = None
    for line in git(repo, "blame", "--porcelain", "main", "--", path).splitlines():
        if line.startswith("\t"):
            commits.append(current)
            continue
        first = line.split(" ")[0]
        if len(first) == 40 and all(c in "0123456789abcdef" for c in first):
            current = first
    return commits


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=18481)
    parser.add_argument("--logs", default="/tmp")
    args = parser.parse_args()
    repo = os.path.abspath(args.repo)

    # The post file at the tip with the most first-parent commits touching it.
    at_tip = set(git(repo, "ls-tree", "--name-only", "main", "posts/").split())
    touched = collections.Counter(
        p for p in git(repo, "log", "--first-parent", "--format=", "--name-only", "main").split()
        if p in at_tip
    )
    path, edits = touched.most_common(1)[0]
    slug = os.path.basename(path)[:-3]
    expected = git_blame_commits(repo, path)
    git_blame = timed(["git", "--git-dir", repo, "blame", "--porcelain", "main", "--", path])

    server = Server(args.bin, repo, args.port, f"{args.logs}/blame-bench.log")
    try:
        blame_path = f"/api/v1/posts/{slug}/blame"
        first_p50, _, body = latencies(args.port, [blame_path], 1)
        served = [line["commit"] for line in json.loads(body)["lines"]]
        if served != expected:
            differ = sum(a != b for a, b in zip(served, expected))
            raise SystemExit(f"{slug}: {differ} of {len(expected)} lines differ from git blame")
        p50, p99, _ = latencies(args.port, [blame_path], args.requests)
    finally:
        server.stop()

    print(f"Post `{slug}`: {edits} first-parent commits touch it, {len(expected)} lines "
          f"(every line's commit equal to `git blame`'s); server ready after {server.ready_after:.2f} s.\n")
    print("| measure | Palimpsest | git reference | ratio |")
    print("| --- | --- | --- | --- |")
    print(f"| blame of the most-edited post, first request | {first_p50 * 1000:.1f} ms "
          f"| `git blame --porcelain`: {git_blame * 1000:.1f} ms | {git_blame / first_p50:,.0f}x faster |")
    print(f"| the same, repeated, p50 | {p50 * 1000:.1f} ms | | {git_blame / p50:,.0f}x faster |")
    print(f"| the same, p99 | {p99 * 1000:.1f} ms | | {git_blame / p99:,.0f}x faster |")


if __name__ == "__main__":
    main()
