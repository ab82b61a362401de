#!/usr/bin/env python3
"""Ledger and as-of benchmark: GET /api/v1/questions and ?as_of= on a long history, and what
building the ledger costs start-up.

usage: ledger.py --bin target/release/palimpsest --repo /tmp/hist-bench/repo.git [--requests 200]

In one run, on one machine:
- reference: `git log --name-status --no-renames main` (what indexing the history reads);
- cold start (no `<gitdir>/palimpsest/`): time to a 200 from /readyz, the history index
  build time and the ledger build time (the server's log lines), and the time until
  /api/v1/questions first answers 200 (503 while the ledger is built in the background);
- over keep-alive, --requests each: the ledger's first page (all questions), open questions
  of one tag, the post list as of one date (repeated: a reader citing a date), and the post
  list as of --dates different dates (each the first request for that date);
- warm restart (saved index and ledger): time to ready, and whether /api/v1/questions
  answers 200 at once (the ledger loaded, not built: the log must not say "built").
Prints a Markdown table.
"""

import argparse
import http.client
import json
import os
import re
import shutil
import time

from run import Server, git, latencies, timed


def first_ok(port, path, started, timeout=600):
    """Seconds from `started` until `path` answers 200, and how many 503s came first."""
    unavailable = 0
    connection = http.client.HTTPConnection("127.0.0.1", port)
    while time.perf_counter() - started < timeout:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        if response.status == 200:
            return time.perf_counter() - started, unavailable
        if response.status != 503 or "retry-after" not in {k.lower() for k, _ in response.getheaders()}:
            raise SystemExit(f"{path}: {response.status}")
        unavailable += 1
        time.sleep(0.05)
    raise SystemExit(f"{path} never answered 200")


def log_text(server):
    with open(server.log.name) as log:
        return re.sub(r"\x1b\[[0-9;]*m", "", log.read())


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--bin", required=True)
    parser.add_argument("--repo", required=True)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--dates", type=int, default=50)
    parser.add_argument("--port", type=int, default=18482)
    parser.add_argument("--logs", default="/tmp")
    args = parser.parse_args()
    repo = os.path.abspath(args.repo)
    commits = int(git(repo, "rev-list", "--count", "main"))
    times = [int(t) for t in git(repo, "log", "--first-parent", "--format=%ct", "main").split()]
    git_name_status = timed(
        ["git", "--git-dir", repo, "log", "--name-status", "--no-renames", "main"], runs=1
    )

    shutil.rmtree(os.path.join(repo, "palimpsest"), ignore_errors=True)
    cold = Server(args.bin, repo, args.port, f"{args.logs}/ledger-bench-cold.log")
    try:
        ledger_ready, unavailable = first_ok(args.port, "/api/v1/questions", cold.started)
        text = log_text(cold)
        index_ms = re.findall(r"history index updated.*elapsed_ms=(\d+)", text)
        index_build = int(index_ms[0]) / 1000 if index_ms else float("nan")
        built = re.findall(r"open-questions ledger built.*seconds=([0-9.]+)", text)
        ledger_build = float(built[0]) if built else float("nan")

        page = json.loads(latencies(args.port, ["/api/v1/questions?per_page=100"], 1)[2])
        total = page["meta"]["total"]
        tag = next(q for q in page["questions"] if q["state"] == "open")["post"]
        tags = json.loads(latencies(args.port, [f"/api/v1/posts/{tag}"], 1)[2])["tags"]
        all_p50, all_p99, _ = latencies(args.port, ["/api/v1/questions"], args.requests)
        open_path = f"/api/v1/questions?state=open&tag={tags[0]}"
        open_p50, open_p99, body = latencies(args.port, [open_path], args.requests)
        open_total = json.loads(body)["meta"]["total"]

        middle = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(times[len(times) // 2]))
        same_p50, same_p99, body = latencies(
            args.port, [f"/api/v1/posts?as_of={middle}"], args.requests
        )
        listed = json.loads(body)["meta"]["total"]
        step = max(1, len(times) // (args.dates + 1))
        dates = [
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(times[n * step]))
            for n in range(1, args.dates + 1)
        ]
        many_p50, many_p99, _ = latencies(
            args.port, [f"/api/v1/posts?as_of={d}" for d in dates], len(dates)
        )
    finally:
        cold.stop()
    ledger_size = os.path.getsize(os.path.join(repo, "palimpsest", "questions.bin"))

    warm = Server(args.bin, repo, args.port, f"{args.logs}/ledger-bench-warm.log")
    try:
        warm_ledger, warm_unavailable = first_ok(args.port, "/api/v1/questions", warm.started)
        rebuilt = "open-questions ledger built" in log_text(warm)
        loaded = "open-questions ledger loaded" in log_text(warm)
        # Other dates than the cold server's: list keys loaded with the ledger, no parse
        # kept from before.
        later = [
            time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(times[n * step + step // 2]))
            for n in range(1, args.dates + 1)
        ]
        warm_p50, warm_p99, _ = latencies(
            args.port, [f"/api/v1/posts?as_of={d}" for d in later], len(later)
        )
    finally:
        warm.stop()

    ms = lambda seconds: f"{seconds * 1000:.1f} ms"
    print(f"""### Open-questions ledger and `?as_of=`

Generated repository: {commits:,} commits; {total:,} questions in the ledger, {open_total} open
in the tag `{tags[0]}`; {listed} posts listed as of {middle}. Release build, one machine
(2 shared cores), {args.requests} keep-alive requests per line unless said.

| measure | Palimpsest | git reference | ratio |
| --- | --- | --- | --- |
| cold start to ready (`/readyz`) | {cold.ready_after:.2f} s | `git log --name-status --no-renames`: {git_name_status:.2f} s | {cold.ready_after / git_name_status:.2f}x |
| cold history index build (server log) | {index_build:.2f} s | | {index_build / git_name_status:.2f}x |
| ledger build, in the background after ready (server log) | {ledger_build:.2f} s | | |
| cold start to the ledger's first 200 ({unavailable} answers 503 before) | {ledger_ready:.2f} s | | |
| `GET /api/v1/questions` (first page), p50 / p99 | {ms(all_p50)} / {ms(all_p99)} | | |
| `GET /api/v1/questions?state=open&tag=…`, p50 / p99 | {ms(open_p50)} / {ms(open_p99)} | | |
| `GET /api/v1/posts?as_of=` one date, repeated, p50 / p99 | {ms(same_p50)} / {ms(same_p99)} | | |
| `GET /api/v1/posts?as_of=` {len(dates)} different dates, first request each, p50 / p99 | {ms(many_p50)} / {ms(many_p99)} | | |
| `GET /api/v1/posts?as_of=` after the warm restart, {len(later)} other dates, first request each, p50 / p99 | {ms(warm_p50)} / {ms(warm_p99)} | | |
| warm restart to ready (saved index and ledger) | {warm.ready_after:.2f} s | | |
| warm restart to the ledger's first 200 ({warm_unavailable} answers 503 before; loaded: {loaded}, built again: {rebuilt}) | {warm_ledger:.2f} s | | |
| saved ledger | {ledger_size / 2**20:.2f} MiB | | |
""")


if __name__ == "__main__":
    main()
