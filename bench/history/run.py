#!/usr/bin/env python3
"""History benchmark: the server's revision endpoints against git on the same repository.

usage: run.py --bin target/release/palimpsest --repo /tmp/hist-bench/repo.git [--requests 200]

Measures, in one run and on one machine:
- references: `git log --follow --format=%H -- posts/<slug>.md` for the chosen post, and the
  whole `git log --name-status --no-renames`;
- cold start (no saved index) to a 200 from /readyz, and the index build time the server logs;
- warm restart (saved index) to ready;
- RSS of the server after each start (/proc/<pid>/status: VmRSS, VmHWM);
- over HTTP with keep-alive: a post's revisions (all of them, per_page=100) and the diff of
  two revisions, p50 and p99 over --requests requests each.
Prints a Markdown section for BENCHMARKS.md.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import statistics
import subprocess
import time


TOKEN = "history-benchmark-token-0123456789abcdef"


def git(repo, *args):
    return subprocess.run(
        ["git", "--git-dir", repo, *args], check=True, capture_output=True, text=True
    ).stdout


def timed(command, runs=3):
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def memory(pid):
    fields = {}
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            key, _, value = line.partition(":")
            if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                fields[key] = int(value.split()[0]) / 1024
    return fields


class Server:
    def __init__(self, binary, repo, port, log, branch="main"):
        self.port = port
        self.log = open(log, "w")
        env = dict(os.environ, RUST_LOG="info", PALIMPSEST_TOKEN=TOKEN)
        self.started = time.perf_counter()
        self.process = subprocess.Popen(
            [binary, "serve", "--repo", repo, "--branch", branch, "--listen", f"127.0.0.1:{port}"],
            stdout=self.log,
            stderr=self.log,
            env=env,
        )
        self.ready_after = self.wait_ready()

    def wait_ready(self, timeout=600):
        while time.perf_counter() - self.started < timeout:
            if self.process.poll() is not None:
                raise SystemExit(f"server exited: see {self.log.name}")
            try:
                connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=1)
                connection.request("GET", "/readyz")
                if connection.getresponse().status == 200:
                    return time.perf_counter() - self.started
            except OSError:
                pass
            time.sleep(0.005)
        raise SystemExit("server never became ready")

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=30)
        self.log.close()


def latencies(port, paths, requests):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    times = []
    body = b""
    for n in range(requests):
        path = paths[n % len(paths)]
        start = time.perf_counter()
        connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
        response = connection.getresponse()
        body = response.read()
        times.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"{path}: {response.status} {body[:200]!r}")
    times.sort()
    p50 = times[len(times) // 2]
    p99 = times[min(len(times) - 1, int(len(times) * 0.99))]
    return p50, p99, body


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=18480)
    parser.add_argument("--logs", default="/tmp")
    args = parser.parse_args()
    repo = os.path.abspath(args.repo)

    commits = int(git(repo, "rev-list", "--count", "main"))
    posts = [line.split("\t")[1] for line in git(repo, "ls-tree", "main", "posts/").splitlines()]
    # A published post with a typical number of revisions (drafts are every tenth post).
    slug = next(
        os.path.basename(p)[:-3]
        for p in posts[len(posts) // 2 :]
        if "status: published" in git(repo, "show", f"main:{p}")
    )
    path = f"posts/{slug}.md"
    follow = git(repo, "log", "--follow", "--format=%H", "main", "--", path).split()

    git_follow = timed(["git", "--git-dir", repo, "log", "--follow", "--format=%H", "main", "--", path])
    git_name_status = timed(
        ["git", "--git-dir", repo, "log", "--name-status", "--no-renames", "main"], runs=1
    )

    shutil.rmtree(os.path.join(repo, "palimpsest"), ignore_errors=True)
    cold = Server(args.bin, repo, args.port, f"{args.logs}/history-bench-cold.log")
    try:
        measured = measure(args, cold, slug, posts, follow)
    finally:
        cold.stop()
    warm = Server(args.bin, repo, args.port, f"{args.logs}/history-bench-warm.log")
    warm_memory = memory(warm.process.pid)
    warm.stop()
    # Baseline for memory: the same posts in a branch of one commit, so the difference is
    # what 100k commits of history cost.
    tree = git(repo, "rev-parse", "main^{tree}").strip()
    flat = subprocess.run(
        ["git", "--git-dir", repo, "commit-tree", tree, "-m", "flat"],
        check=True, capture_output=True, text=True,
        env=dict(os.environ, GIT_AUTHOR_NAME="b", GIT_AUTHOR_EMAIL="b@x", GIT_COMMITTER_NAME="b", GIT_COMMITTER_EMAIL="b@x"),
    ).stdout.strip()
    git(repo, "update-ref", "refs/heads/bench-flat", flat)
    index_file = os.path.join(repo, "palimpsest", "history-v1.bin")
    measured["index_size"] = os.path.getsize(index_file)
    shutil.rmtree(os.path.join(repo, "palimpsest"))
    baseline = Server(args.bin, repo, args.port, f"{args.logs}/history-bench-flat.log", branch="bench-flat")
    measured["baseline_memory"] = memory(baseline.process.pid)
    baseline.stop()
    git(repo, "update-ref", "-d", "refs/heads/bench-flat")
    report(args, repo, commits, posts, slug, follow, git_follow, git_name_status, cold, warm, warm_memory, measured)


def measure(args, cold, slug, posts, follow):
    cold_memory = memory(cold.process.pid)
    with open(cold.log.name) as log:
        text = re.sub(r"\x1b\[[0-9;]*m", "", log.read())
        built = re.findall(r"history index updated.*elapsed_ms=(\d+)", text)
    index_build = int(built[0]) / 1000 if built else float("nan")

    revisions_path = f"/api/v1/posts/{slug}/revisions?per_page=100"
    p50, p99, body = latencies(args.port, [revisions_path], args.requests)
    served = [r["commit"] for r in json.loads(body)["revisions"]]
    if served != follow[:100]:
        raise SystemExit(f"revisions differ from git log --follow for {slug}")
    # First requests for other posts: nothing about them is cached yet.
    other_posts = [
        f"/api/v1/posts/{os.path.basename(p)[:-3]}/revisions?per_page=100"
        for p in posts[::10]
        if os.path.basename(p)[:-3] != slug
    ]
    many_p50, many_p99, _ = latencies(args.port, other_posts, len(other_posts))
    a, b = follow[len(follow) // 2], follow[0]
    diff_p50, diff_p99, _ = latencies(
        args.port, [f"/api/v1/posts/{slug}/diff?from={a}&to={b}"], args.requests
    )
    log_p50, log_p99, _ = latencies(args.port, ["/api/v1/history?page=50"], args.requests)
    after_requests = memory(cold.process.pid)
    return dict(
        cold_memory=cold_memory, index_build=index_build, p50=p50, p99=p99,
        other_posts=other_posts, many_p50=many_p50, many_p99=many_p99,
        diff_p50=diff_p50, diff_p99=diff_p99, log_p50=log_p50, log_p99=log_p99,
        after_requests=after_requests,
    )


def report(args, repo, commits, posts, slug, follow, git_follow, git_name_status, cold, warm, warm_memory, m):
    cold_memory, index_build, p50, p99 = m["cold_memory"], m["index_build"], m["p50"], m["p99"]
    other_posts, many_p50, many_p99 = m["other_posts"], m["many_p50"], m["many_p99"]
    diff_p50, diff_p99, log_p50, log_p99 = m["diff_p50"], m["diff_p99"], m["log_p50"], m["log_p99"]
    after_requests = m["after_requests"]
    ms = lambda seconds: f"{seconds * 1000:.1f} ms"
    print(f"""## History

Generated repository: {commits:,} commits, {len(posts):,} posts at the tip
(`bench/history/make-repo.sh`, deterministic). Post measured: `{slug}`, {len(follow)} revisions.
Release build, one machine (2 shared cores), {args.requests} keep-alive requests per endpoint.

| measure | Palimpsest | git reference | ratio |
| --- | --- | --- | --- |
| a post's revisions (all {len(follow)}, per_page=100), repeated, p50 | {ms(p50)} | `git log --follow`: {ms(git_follow)} | {git_follow / p50:,.0f}x faster |
| the same, p99 | {ms(p99)} | | {git_follow / p99:,.0f}x faster |
| first request for each of {len(other_posts)} other posts (nothing cached), p50 / p99 | {ms(many_p50)} / {ms(many_p99)} | | {git_follow / many_p50:,.0f}x / {git_follow / many_p99:,.0f}x faster |
| diff of two revisions, p50 / p99 | {ms(diff_p50)} / {ms(diff_p99)} | | |
| site-wide log, page 50, p50 / p99 | {ms(log_p50)} / {ms(log_p99)} | | |
| cold index build (server log) | {index_build:.2f} s | `git log --name-status --no-renames`: {git_name_status:.2f} s | {index_build / git_name_status:.2f}x |
| cold start to ready (`/readyz`) | {cold.ready_after:.2f} s | | |
| warm restart to ready | {warm.ready_after:.2f} s | | |
| RSS after cold start (anonymous + file-backed) | {cold_memory['VmRSS']:.0f} MiB ({cold_memory['RssAnon']:.0f} + {cold_memory['RssFile']:.0f}) | | |
| RSS after the requests (anonymous + file-backed) | {after_requests['VmRSS']:.0f} MiB ({after_requests['RssAnon']:.0f} + {after_requests['RssFile']:.0f}) | | |
| RSS after warm restart (anonymous + file-backed; peak) | {warm_memory['VmRSS']:.0f} MiB ({warm_memory['RssAnon']:.0f} + {warm_memory['RssFile']:.0f}; {warm_memory['VmHWM']:.0f}) | | |
| RSS of the same posts as a one-commit branch (anonymous) | {m['baseline_memory']['RssAnon']:.0f} MiB | | |
| history of {commits:,} commits, in memory (warm anonymous RSS minus that) | {warm_memory['RssAnon'] - m['baseline_memory']['RssAnon']:.0f} MiB | | |
| saved index | {m['index_size'] / 2**20:.1f} MiB | | |
""")


if __name__ == "__main__":
    main()
