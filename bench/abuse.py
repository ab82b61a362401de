#!/usr/bin/env python3
"""The load-and-abuse benchmark's driver (run it through bench/abuse.sh, which builds the
release binary).

On the sample blog (`content-repo`), with one post whose history holds four pathological
versions (`&#`, `$x` and `*a` each repeated 500,000 times, and 20,000 footnote
definitions, about 1 MB each) before a normal last version, it starts `palimpsest serve`,
then alternates two runs per round:

- undisturbed: wrk loads `GET /api/v1/posts/{slug}` of a normal post;
- abused: the same wrk load while 8 anonymous clients loop over `?rev=` reads of the
  pathological versions and diffs between them.

The server runs with its default limits, among them each anonymous client address's share
of reads of the past (burst 40, then 240 a minute). The abusers all come from 127.0.0.1,
so they share one share; with `--distinct-addresses` the server trusts `X-Forwarded-For`
and each abuser names an address of its own, so each has its own share (the worst case for
that limit: eight hosts).

It samples the server's resident memory throughout, and prints per round and as medians:
warm read throughput (abused / undisturbed), p99 latency of the normal reads, peak RSS.
Before the rounds it times, through the API, the costliest writes the limits let in: each
pathological pattern cut to just under the 128 KiB body limit (accepted, or refused for
its HTML), so the bound on one post's rendering time is measured, not assumed.
"""

import argparse
import http.client
import json
import os
import pathlib
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from read import free_port, wait_until_up, wrk  # noqa: E402

TARGETS = {"ratio": 0.8, "rss_mb": 400, "p99_ms": 10.0}
PATHOLOGICAL = {
    "entities": "&#" * 500_000,
    "math": "$x" * 500_000,
    "emphasis": "*a" * 500_000,
    "footnotes": "".join(f"[^{i}]: note {i}\n\n" for i in range(20_000)),
}


def git(repo: pathlib.Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], check=True, capture_output=True, text=True).stdout.strip()


def pathological_history(bare: pathlib.Path, work: pathlib.Path) -> list[str]:
    """Commits the pathological versions of `posts/abuse.md`, then a normal one; returns the
    commits of the pathological versions."""
    clone = work / "clone"
    subprocess.run(["git", "clone", "-q", str(bare), str(clone)], check=True)
    git(clone, "config", "user.name", "Bench")
    git(clone, "config", "user.email", "bench@localhost")
    commits = []
    post = clone / "posts" / "abuse.md"
    for name, body in [*PATHOLOGICAL.items(), ("normal", "## Question\n\nWhy?\n")]:
        post.write_text(f"---\ntitle: Abuse\nstatus: published\n---\n\n{body}\n")
        git(clone, "add", "posts/abuse.md")
        git(clone, "commit", "-q", "-m", f"abuse: {name}")
        commits.append(git(clone, "rev-parse", "HEAD"))
    git(clone, "push", "-q", "origin", "HEAD:main")
    return commits[:-1]


MAX_BODY_BYTES = 128 * 1024


def costliest_writes(port: int, token: str) -> list[tuple[str, int, float]]:
    """POSTs each pattern cut to just under the body limit; returns (name, status, seconds)."""
    results = []
    for name, body in PATHOLOGICAL.items():
        cut = body[: MAX_BODY_BYTES - 16]
        payload = json.dumps({"slug": f"limit-{name}", "front_matter": {"title": f"Limit {name}"}, "markdown": cut})
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        start = time.monotonic()
        connection.request("POST", "/api/v1/posts", payload, {"Authorization": f"Bearer {token}", "Content-Type": "application/json"})
        response = connection.getresponse()
        response.read()
        results.append((name, response.status, time.monotonic() - start))
        connection.close()
    return results


def rss_mb(pid: int) -> float:
    for line in pathlib.Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


class Abusers:
    """8 anonymous clients looping over pathological past versions and their diffs."""

    def __init__(self, port: int, commits: list[str], clients: int, distinct: bool = False):
        paths = [f"/api/v1/posts/abuse?rev={c}" for c in commits]
        paths += [f"/api/v1/posts/abuse/diff?from={a}&to={b}" for a, b in zip(commits, commits[1:])]
        self.paths, self.port, self.stop = paths, port, threading.Event()
        self.distinct = distinct
        self.statuses: dict[int, int] = {}
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(clients)]

    def run(self, offset: int) -> None:
        n = offset
        while not self.stop.is_set():
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
            try:
                headers = {"X-Forwarded-For": f"198.51.100.{offset + 1}"} if self.distinct else {}
                connection.request("GET", self.paths[n % len(self.paths)], headers=headers)
                response = connection.getresponse()
                response.read()
                with self.lock:
                    self.statuses[response.status] = self.statuses.get(response.status, 0) + 1
            except OSError:
                with self.lock:
                    self.statuses[0] = self.statuses.get(0, 0) + 1
            finally:
                connection.close()
            n += 1

    def __enter__(self):
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_):
        self.stop.set()
        for t in self.threads:
            t.join()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--palimpsest", required=True)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=int, default=8)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--abusers", type=int, default=8)
    parser.add_argument("--distinct-addresses", action="store_true",
                        help="each abuser its own client address (the server trusts X-Forwarded-For)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        work = pathlib.Path(tmp)
        repo = work / "blog.git"
        root = pathlib.Path(__file__).resolve().parent.parent
        subprocess.run([args.palimpsest, "init", "--repo", str(repo), "--from", str(root / "content-repo")], check=True, capture_output=True)
        commits = pathological_history(repo, work)
        port = free_port()
        token = "bench-" + os.urandom(16).hex()
        env = {**os.environ, "RUST_LOG": "warn", "PALIMPSEST_TOKEN": token, "PALIMPSEST_AUTHOR": "Bench <bench@localhost>"}
        server = subprocess.Popen(
            [args.palimpsest, "serve", "--repo", str(repo), "--listen", f"127.0.0.1:{port}", "--workers", "2",
             *(["--trust-forwarded-for"] if args.distinct_addresses else [])],
            env=env, stdout=subprocess.DEVNULL, stderr=open(work / "server.log", "w"),
        )
        try:
            base = f"http://127.0.0.1:{port}"
            wait_until_up(f"{base}/readyz", server)
            url = f"{base}/api/v1/posts/attention-scaling"
            peak = {"rss": rss_mb(server.pid)}
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.is_set():
                    peak["rss"] = max(peak["rss"], rss_mb(server.pid))
                    time.sleep(0.05)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            for name, status, seconds in costliest_writes(port, token):
                print(f"write at the body limit, {name}: {status} in {seconds * 1000:.0f} ms")
            wrk(url, args, args.warmup)
            print(f"idle RSS {rss_mb(server.pid):.0f} MB; {len(commits)} pathological versions")
            rows = []
            for round_ in range(1, args.rounds + 1):
                calm = wrk(url, args, args.duration)
                with Abusers(port, commits, args.abusers, args.distinct_addresses) as abusers:
                    time.sleep(0.5)
                    abused = wrk(url, args, args.duration)
                statuses = dict(sorted(abusers.statuses.items()))
                ratio = abused["rps"] / calm["rps"]
                rows.append((calm, abused, ratio))
                print(
                    f"round {round_}: undisturbed {calm['rps']:,.0f} req/s p99 {calm['p99']:.2f} ms | "
                    f"abused {abused['rps']:,.0f} req/s p99 {abused['p99']:.2f} ms | ratio {ratio:.2f} | "
                    f"abusers' answers {statuses} | peak RSS {peak['rss']:.0f} MB"
                )
            sampling.set()
            sampler.join()
            ratio = statistics.median(r for _, _, r in rows)
            p99 = statistics.median(a["p99"] for _, a, _ in rows)
            calm_p99 = statistics.median(c["p99"] for c, _, _ in rows)
            print(f"median ratio {ratio:.2f} (target >= {TARGETS['ratio']}), "
                  f"median p99 abused {p99:.2f} ms / undisturbed {calm_p99:.2f} ms (target <= {TARGETS['p99_ms']} ms), "
                  f"peak RSS {peak['rss']:.0f} MB (target <= {TARGETS['rss_mb']} MB)")
        finally:
            server.terminate()
            server.wait()


if __name__ == "__main__":
    main()
