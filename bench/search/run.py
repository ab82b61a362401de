#!/usr/bin/env python3
"""Search benchmark: `GET /api/v1/search` on the generated history repository.

usage: run.py --bin target/release/palimpsest --repo /tmp/hist-bench/repo.git [--requests 200]

Measures, in one run and on one machine, against the release build over HTTP (keep-alive,
an author token, so drafts are searched too):
- a cold start (no saved indexes): time to ready, the current posts' index build and the
  full-history index build (the server's log lines), and how big each index is on disk;
- search latency, p50 and p99, over current posts and with history=true, for a few kinds
  of query; as references in the same run, the list's substring filter (`/api/v1/posts?q=`)
  and `git grep` over the tip, and `git log -S` over the whole history (once);
- how long an API write takes to become searchable;
- a warm restart (saved indexes): time to ready and until history search is back;
- a start with the history index saved but no search index: the current index build alone;
- RSS (/proc/<pid>/status) after each phase.
Prints a Markdown section for BENCHMARKS.md.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "history"))
from run import TOKEN, Server, git, latencies, memory, timed  # noqa: E402

QUERIES = [
    ("one common word", "attention"),
    ("two words", "learning rate"),
    ("a phrase", '"learning rate"'),
    ("three words", "gradient variance softmax"),
    ("a title number", "notes 517"),
    ("no match", "zebra"),
]


def search_path(q, history=False):
    query = urllib.parse.urlencode({"q": q, "history": "true" if history else "false"})
    return f"/api/v1/search?{query}"


def get_json(port, path):
    connection = http.client.HTTPConnection("127.0.0.1", port)
    connection.request("GET", path, headers={"Authorization": f"Bearer {TOKEN}"})
    response = connection.getresponse()
    return response.status, json.loads(response.read() or b"null")


def wait_history(port, timeout=3600):
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        status, body = get_json(port, search_path("attention", history=True))
        if status == 200 and body["meta"]["history_searched"]:
            return time.perf_counter() - start
        time.sleep(0.05)
    raise SystemExit("the history search index was never ready")


def log_seconds(server, message):
    with open(server.log.name) as log:
        text = re.sub(r"\x1b\[[0-9;]*m", "", log.read())
    found = re.findall(re.escape(message) + r".*?seconds=([0-9.]+)", text) or re.findall(
        r"seconds=([0-9.]+).*?" + re.escape(message), text
    )
    return float(found[-1]) if found else float("nan")


def size(path):
    total = 0
    for root, _, files in os.walk(path):
        total += sum(os.path.getsize(os.path.join(root, f)) for f in files)
    return total


def write_to_searchable(port, runs=10):
    times = []
    for n in range(runs):
        word = f"quokka{n}x{int(time.time())}"
        body = json.dumps({
            "front_matter": {"title": f"Bench {word}"},
            "markdown": f"## Question\n\nWhat is a {word}?\n",
        })
        connection = http.client.HTTPConnection("127.0.0.1", port)
        start = time.perf_counter()
        connection.request("POST", "/api/v1/posts", body=body, headers={
            "Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        if response.status != 201:
            raise SystemExit(f"create: {response.status}")
        while True:
            _, found = get_json(port, search_path(word))
            if found["meta"]["total"] == 1:
                break
            time.sleep(0.005)
        times.append(time.perf_counter() - start)
    times.sort()
    return times[len(times) // 2], times[-1]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--port", type=int, default=18490)
    parser.add_argument("--logs", default="/tmp")
    parser.add_argument("--git-log-timeout", type=int, default=300)
    args = parser.parse_args()
    repo = os.path.abspath(args.repo)
    commits = int(git(repo, "rev-list", "--count", "main"))
    posts = len(git(repo, "ls-tree", "main", "posts/").splitlines())
    search_dir = os.path.join(repo, "palimpsest", "search")
    # The writes measured below add posts: the branch is put back where it was at the end.
    tip = git(repo, "rev-parse", "main").strip()
    try:
        run(args, repo, commits, posts, search_dir)
    finally:
        git(repo, "update-ref", "refs/heads/main", tip)


def run(args, repo, commits, posts, search_dir):

    git_grep = timed(["git", "--git-dir", repo, "grep", "-l", "-i", "-w", "attention", "main", "--", "posts/"])
    try:
        start = time.perf_counter()
        subprocess.run(["git", "--git-dir", repo, "log", "--format=%H", "-Szebra", "main", "--", "posts/"],
                       check=True, stdout=subprocess.DEVNULL, timeout=args.git_log_timeout)
        git_log_s = f"{time.perf_counter() - start:.1f} s"
    except subprocess.TimeoutExpired:
        git_log_s = f"over {args.git_log_timeout} s (stopped)"

    shutil.rmtree(os.path.join(repo, "palimpsest"), ignore_errors=True)
    cold = Server(args.bin, repo, args.port, f"{args.logs}/search-bench-cold.log")
    rows = []
    try:
        cold_ready_memory = memory(cold.process.pid)
        history_wait = wait_history(args.port)
        current_build = log_seconds(cold, "search index of the current posts ready")
        history_build = log_seconds(cold, "history search index ready")
        built_memory = memory(cold.process.pid)
        sizes = (size(os.path.join(search_dir, "current")), size(os.path.join(search_dir, "history")))
        for label, q in QUERIES:
            _, body = get_json(args.port, search_path(q))
            _, past = get_json(args.port, search_path(q, history=True))
            p50, p99, _ = latencies(args.port, [search_path(q)], args.requests)
            h50, h99, _ = latencies(args.port, [search_path(q, history=True)], args.requests)
            rows.append((label, q, body["meta"]["total"], past["meta"]["total"], p50, p99, h50, h99))
        list_q = latencies(args.port, ["/api/v1/posts?q=attention"], args.requests)
        after_queries = memory(cold.process.pid)
        write_p50, write_max = write_to_searchable(args.port)
    finally:
        cold.stop()

    warm = Server(args.bin, repo, args.port, f"{args.logs}/search-bench-warm.log")
    try:
        warm_history = wait_history(args.port)
        warm_memory = memory(warm.process.pid)
    finally:
        warm.stop()

    shutil.rmtree(search_dir)
    alone = Server(args.bin, repo, args.port, f"{args.logs}/search-bench-current.log")
    try:
        current_alone = log_seconds(alone, "search index of the current posts ready")
    finally:
        alone.stop()

    ms = lambda seconds: f"{seconds * 1000:.1f} ms"
    mib = lambda m: f"{m['VmRSS']:.0f} MiB ({m['RssAnon']:.0f} + {m['RssFile']:.0f})"
    load = os.getloadavg()[0]
    print(f"""Generated repository: {commits:,} commits, {posts:,} posts at the tip
(`bench/history/make-repo.sh`); release build, {args.requests} keep-alive requests per query
with an author's token; load average {load:.1f} on 2 shared cores at the end of the run.

| query | q | posts matching now / ever | current p50 / p99 | history=true p50 / p99 |
| --- | --- | ---: | --- | --- |""")
    for label, q, now, ever, p50, p99, h50, h99 in rows:
        print(f"| {label} | `{q}` | {now} / {ever} | {ms(p50)} / {ms(p99)} | {ms(h50)} / {ms(h99)} |")
    print(f"""
| measure | value | reference in the same run |
| --- | --- | --- |
| `?q=attention` on `GET /api/v1/posts` (substring filter), p50 / p99 | {ms(list_q[0])} / {ms(list_q[1])} | |
| `git grep -l -i -w attention main -- posts/` | | {ms(git_grep)} |
| `git log -Szebra main -- posts/` (the history, once) | | {git_log_s} |
| current posts' index, cold build (server log) | {current_build:.2f} s | |
| the same with the history index already saved | {current_alone:.2f} s | |
| full-history index, background build (server log) | {history_build:.1f} s | |
| from ready to history search answering | {history_wait:.1f} s | |
| cold start to ready | {cold.ready_after:.2f} s | |
| warm restart to ready; to history search answering | {warm.ready_after:.2f} s; {warm_history:.2f} s after | |
| index size on disk: current / history | {sizes[0] / 2**20:.1f} MiB / {sizes[1] / 2**20:.1f} MiB | |
| API write to searchable, median / max of 10 | {ms(write_p50)} / {ms(write_max)} | |
| RSS (anonymous + file-backed): ready, cold | {mib(cold_ready_memory)} | |
| RSS after the history index was built | {mib(built_memory)} | |
| RSS after the queries | {mib(after_queries)} | |
| RSS after a warm restart, history search answering | {mib(warm_memory)} | |
""")


if __name__ == "__main__":
    main()
