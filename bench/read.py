#!/usr/bin/env python3
"""The read benchmark's driver (run it through bench/read.sh, which builds the binaries).

On a generated repository of --posts posts it starts `palimpsest serve`, records the exact
responses of one post and of the default list page, starts the reference server replaying
those bytes with the same headers, checks that both answer identically, then loads each
endpoint on each server with wrk (same threads, connections and duration, after a warm-up),
interleaving the servers round by round so background load hits both alike. It prints the
median throughput and latencies and the palimpsest/reference ratios against the targets.
"""

import argparse
import os
import pathlib
import re
import socket
import statistics
import subprocess
import sys
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent

# What the issue asks of a warm read, as a fraction of the reference server's throughput.
TARGETS = {"post": 0.85, "list": 0.75}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until_up(url: str, process: subprocess.Popen, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            sys.exit(f"{process.args[0]} exited with {process.returncode} before answering")
        try:
            with urllib.request.urlopen(url, timeout=1) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.1)
    sys.exit(f"{url} did not answer within {seconds} s")


def record(url: str, into: pathlib.Path, name: str, path: str) -> None:
    """Saves the exact status line, headers and body of GET url as NAME.{path,headers,body}."""
    (into / f"{name}.path").write_text(path + "\n")
    subprocess.run(
        ["curl", "-sS", "--fail", "-D", into / f"{name}.headers", "-o", into / f"{name}.body", url],
        check=True,
    )


def fetch(url: str) -> tuple[dict, bytes]:
    with urllib.request.urlopen(url) as response:
        # Both differ per response by design: the time, and palimpsest's request id (the
        # reference replays a recorded one of the same length).
        per_response = ("date", "x-request-id")
        headers = {k.lower(): v for k, v in response.getheaders() if k.lower() not in per_response}
        return headers, response.read()


UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3}


def wrk(url: str, args: argparse.Namespace, duration: int) -> dict:
    """Runs wrk and returns requests/s and p50/p99 latency in milliseconds."""
    out = subprocess.run(
        ["wrk", f"-t{args.threads}", f"-c{args.connections}", f"-d{duration}s", "--latency", url],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    if "Non-2xx or 3xx responses" in out or "Socket errors" in out:
        sys.exit(f"wrk reported errors against {url}:\n{out}")

    def latency(percent: str) -> float:
        value, unit = re.search(rf"^\s+{percent}%\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * UNITS[unit]

    rps = float(re.search(r"^Requests/sec:\s+([\d.]+)", out, re.M).group(1))
    return {"rps": rps, "p50": latency("50"), "p99": latency("99")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--palimpsest", required=True, type=pathlib.Path)
    parser.add_argument("--reference", required=True, type=pathlib.Path)
    parser.add_argument("--work-dir", type=pathlib.Path, default=pathlib.Path("/tmp/palimpsest-bench"))
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=2, help="HTTP workers of both servers")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--connections", type=int, default=32, help="wrk connections")
    parser.add_argument("--duration", type=int, default=10, help="seconds per measured run")
    parser.add_argument("--warmup", type=int, default=3, help="seconds of warm-up per server and endpoint")
    parser.add_argument("--rounds", type=int, default=3, help="measured runs per server and endpoint")
    args = parser.parse_args()

    work = args.work_dir
    repo, recordings = work / "content.git", work / "recordings"
    subprocess.run(["rm", "-rf", str(work)], check=True)
    recordings.mkdir(parents=True)
    subprocess.run(
        [sys.executable, HERE / "generate_posts.py", "--out", work / "posts", "--count", str(args.posts)],
        check=True,
    )
    subprocess.run([args.palimpsest, "init", "--repo", repo, "--from", work / "posts"], check=True)

    servers = []
    try:
        port = free_port()
        # Default logging (`info`: a line per request) into a file, as an operator runs it.
        environment = {k: v for k, v in os.environ.items() if k != "RUST_LOG"}
        log = open(work / "palimpsest.log", "wb")
        palimpsest = subprocess.Popen(
            [args.palimpsest, "serve", "--repo", repo, "--listen", f"127.0.0.1:{port}",
             "--workers", str(args.workers)],
            env=environment,
            stderr=log,
        )
        servers.append(palimpsest)
        base = f"http://127.0.0.1:{port}"
        wait_until_up(f"{base}/readyz", palimpsest)

        # The post read is the newest published post: the first entry of the default list.
        list_path = "/api/v1/posts"
        record(base + list_path, recordings, "list", list_path)
        first = re.search(rb'"slug":"([a-z0-9-]+)"', (recordings / "list.body").read_bytes())
        post_path = f"/api/v1/posts/{first.group(1).decode()}"
        record(base + post_path, recordings, "post", post_path)

        ref_port = free_port()
        reference = subprocess.Popen(
            [args.reference, f"127.0.0.1:{ref_port}", str(args.workers), recordings],
            stderr=subprocess.DEVNULL,
        )
        servers.append(reference)
        ref_base = f"http://127.0.0.1:{ref_port}"
        wait_until_up(ref_base + list_path, reference)

        endpoints = {"post": post_path, "list": list_path}
        for name, path in endpoints.items():
            ours, theirs = fetch(base + path), fetch(ref_base + path)
            if ours != theirs:
                sys.exit(f"the reference server does not replay {path} byte for byte:\n{ours[0]}\n{theirs[0]}")
            print(f"{name}: {path}: {len(ours[1])} body bytes, identical on both servers")

        targets = {"palimpsest": base, "reference": ref_base}
        results = {(e, s): [] for e in endpoints for s in targets}
        for endpoint, path in endpoints.items():
            for server, url in targets.items():
                wrk(url + path, args, args.warmup)
        for round_ in range(1, args.rounds + 1):
            load = os.getloadavg()[0]
            for endpoint, path in endpoints.items():
                # Alternate who goes first, so a drift in background load favours neither.
                order = list(targets.items())
                if round_ % 2 == 0:
                    order.reverse()
                for server, url in order:
                    result = wrk(url + path, args, args.duration)
                    results[(endpoint, server)].append(result)
                    print(f"round {round_} (load {load:.2f}) {endpoint:4} {server:10} "
                          f"{result['rps']:9.0f} req/s  p50 {result['p50']:.3f} ms  p99 {result['p99']:.3f} ms")
    finally:
        for server in servers:
            server.terminate()
            server.wait()

    print()
    print(f"wrk -t{args.threads} -c{args.connections} -d{args.duration}s --latency, "
          f"{args.workers} workers per server, median of {args.rounds} rounds, {os.cpu_count()} cores shared "
          "by the server and wrk")
    print()
    print("| endpoint | server | req/s | p50 (ms) | p99 (ms) | ratio | target |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    missed = []
    for endpoint in endpoints:
        median = {
            server: {k: statistics.median(r[k] for r in results[(endpoint, server)]) for k in ("rps", "p50", "p99")}
            for server in targets
        }
        ratio = median["palimpsest"]["rps"] / median["reference"]["rps"]
        per_round = [
            p["rps"] / r["rps"] for p, r in zip(results[(endpoint, "palimpsest")], results[(endpoint, "reference")])
        ]
        for server in targets:
            m = median[server]
            shown = (f"{ratio:.2f} ({min(per_round):.2f}–{max(per_round):.2f})", f"≥ {TARGETS[endpoint]}") \
                if server == "palimpsest" else ("", "")
            print(f"| `GET {endpoints[endpoint]}` | {server} | {m['rps']:.0f} | {m['p50']:.3f} | "
                  f"{m['p99']:.3f} | {shown[0]} | {shown[1]} |")
        if ratio < TARGETS[endpoint]:
            missed.append(endpoint)
    if missed:
        print(f"\ntarget missed: {', '.join(missed)}")
        sys.exit(1)


if __name__ == "__main__":
    main()
