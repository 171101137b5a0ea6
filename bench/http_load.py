"""Load on two stateless HTTP replicas: concurrent sessions for a fixed time, loopback only, stops by itself.

Usage: uv run python bench/http_load.py [--sessions 50] [--seconds 120]
Starts the sandbox (its own process), an S3-compatible server (moto, in this process) and two
`cargo-mcp serve --http --stateless` replicas sharing the bucket, then runs the sessions: each sends its
calls alternately to the two replicas (a mix of the tools a polling agent uses, a download on one replica
and read_result of that handle on the other). Records total calls, errors, latency percentiles and each
replica's resident memory at the start, middle and end. Writes the "HTTP load (two stateless replicas)"
section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import httpx
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

TOKEN = "bench-http-token-0123456789"
SANDBOX_TOKEN = "bench-sandbox-token"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_mb(pid: int) -> float:
    status = Path(f"/proc/{pid}/status").read_text()
    match = re.search(r"VmRSS:\s+(\d+) kB", status)
    return int(match[1]) / 1024 if match else float("nan")


def wait_for(url: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not come up")


def start_sandbox() -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "cargo_mcp.cli", "sandbox", "--port", str(port), "--token", SANDBOX_TOKEN]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/v1/orchestration/workflows/list")
    return proc, url


def start_replica(env: dict[str, str], results: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    cmd = [sys.executable, "-m", "cargo_mcp.cli", "serve", "--http", "--stateless", "--port", str(port)]
    proc = subprocess.Popen(
        cmd, env={**env, "CARGO_MCP_RESULTS_DIR": str(results)}, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    wait_for(f"{url}/readyz")
    return proc, url


class Stats:
    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.errors: Counter[str] = Counter()
        self.calls: Counter[str] = Counter()


async def session(n: int, urls: list[str], plan: dict[str, Any], stats: Stats, until: float) -> None:
    """One agent: calls alternate between the replicas; a download on one, its handle read on the other."""
    try:
        await _session(n, urls, plan, stats, until)
    except Exception as e:  # a transport failure outside a call (e.g. at close) is an error too
        stats.errors[f"session: {type(e).__name__}"] += 1


async def _session(n: int, urls: list[str], plan: dict[str, Any], stats: Stats, until: float) -> None:
    rng = random.Random(n)
    headers = {"authorization": f"Bearer {TOKEN}"}
    async with (
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0)) as h0,
        httpx2.AsyncClient(headers=headers, timeout=httpx2.Timeout(60.0)) as h1,
        Client(streamable_http_client(f"{urls[0]}/mcp", http_client=h0)) as c0,
        Client(streamable_http_client(f"{urls[1]}/mcp", http_client=h1)) as c1,
    ):
        clients = [c0, c1] if n % 2 == 0 else [c1, c0]
        i = 0
        while time.monotonic() < until:
            tool, args = rng.choice(plan["mix"])
            client = clients[i % 2]
            i += 1
            result = await timed(client, tool, args, stats)
            if tool == "download_outputs" and result is not None and time.monotonic() < until:
                handle = {"result_id": result["result_id"], "limit": 20, "order_by": "-recordId"}
                await timed(clients[i % 2], "read_result", handle, stats)  # the other replica
                i += 1


async def timed(client: Client, tool: str, args: dict[str, Any], stats: Stats) -> dict[str, Any] | None:
    started = time.perf_counter()
    try:
        result = await client.call_tool(tool, args)
    except Exception as e:  # a transport failure counts as an error of that call
        stats.errors[f"{tool}: {type(e).__name__}"] += 1
        return None
    finally:
        stats.latencies.append(time.perf_counter() - started)
        stats.calls[tool] += 1
    if result.is_error:
        first = result.content[0].text if result.content else ""  # type: ignore[union-attr]
        stats.errors[f"{tool}: {first[:80]}"] += 1
        return None
    return result.structured_content


def plan_for(sandbox_url: str) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {SANDBOX_TOKEN}"}
    with httpx.Client(base_url=f"{sandbox_url}/v1/orchestration", headers=headers, timeout=30) as http:
        batches = http.get("/batches/list").json()["batches"]
    small = min((b for b in batches if b["status"] == "success"), key=lambda b: b["runsCount"])
    busy = max(batches, key=lambda b: b["runsCount"])
    mix = [
        ("list_workflows", {}),
        ("get_batch", {"batch_uuid": busy["uuid"]}),
        ("count_runs", {"batch_uuid": busy["uuid"], "statuses": ["failed"]}),
        ("list_runs", {"batch_uuid": busy["uuid"], "limit": 10}),
        ("get_workflow_nodes", {"batch_uuid": small["uuid"]}),
        ("execute_query", {"sql": "SELECT status, count() AS n FROM runs WHERE created_at > now() - INTERVAL 1 DAY GROUP BY status"}),
        ("download_outputs", {"batch_uuid": small["uuid"], "limit": 5}),
    ]
    return {"mix": mix, "small_runs": small["runsCount"]}


async def run(sessions: int, seconds: float, sandbox_url: str, env: dict[str, str], tmp: Path) -> dict[str, Any]:
    procs = [start_replica(env, tmp / f"replica-{i}") for i in range(2)]
    urls = [url for _, url in procs]
    pids = [p.pid for p, _ in procs]
    plan = plan_for(sandbox_url)
    stats = Stats()
    memory: dict[str, list[float]] = {"start": [rss_mb(p) for p in pids]}
    load = {"start": os.getloadavg()[0]}
    until = time.monotonic() + seconds

    async def sample_middle() -> None:
        await asyncio.sleep(seconds / 2)
        memory["middle"] = [rss_mb(p) for p in pids]
        load["middle"] = os.getloadavg()[0]

    started = time.monotonic()
    try:
        await asyncio.gather(sample_middle(), *(session(n, urls, plan, stats, until) for n in range(sessions)))
        memory["end"] = [rss_mb(p) for p in pids]
        load["end"] = os.getloadavg()[0]
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)
    return {"stats": stats, "memory": memory, "load": load, "elapsed": time.monotonic() - started, "plan": plan}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sessions", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=120.0)
    args = parser.parse_args()
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # moto's per-request lines

    tmp = Path(os.environ.get("TMPDIR", "/tmp")) / f"cargo-mcp-http-load-{os.getpid()}"
    moto = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    moto.start()
    s3_url = "http://{}:{}".format(*moto.get_host_and_port())
    aws = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}
    boto3.client("s3", endpoint_url=s3_url, region_name="us-east-1", aws_access_key_id="bench",
                 aws_secret_access_key="bench").create_bucket(Bucket="bench-results")
    sandbox, sandbox_url = start_sandbox()
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("CARGO_", "AWS_"))},
        **aws,
        "CARGO_API_BASE_URL": sandbox_url,
        "CARGO_API_TOKEN": SANDBOX_TOKEN,
        "CARGO_MCP_HTTP_TOKENS": TOKEN,
        "CARGO_MCP_RESULTS_S3_BUCKET": "bench-results",
        "CARGO_MCP_RESULTS_S3_ENDPOINT_URL": s3_url,
    }
    try:
        out = asyncio.run(run(args.sessions, args.seconds, sandbox_url, env, tmp))
    finally:
        sandbox.terminate()
        sandbox.wait(10)
        moto.stop()
    stats: Stats = out["stats"]
    lat = sorted(stats.latencies)
    q = statistics.quantiles(lat, n=100)
    total = sum(stats.calls.values())
    errors = sum(stats.errors.values())
    mem, load = out["memory"], out["load"]
    per_tool = ", ".join(f"{t} {n:,}" for t, n in stats.calls.most_common())
    body = f"""
{args.sessions} concurrent sessions for {args.seconds:.0f} s against two `serve --http --stateless` replicas
(separate processes, server tokens, result handles in an S3-compatible bucket served by moto on loopback),
the sandbox in a third process; every session alternates its calls between the replicas and reads each
download's handle on the replica that did not make it. Target: 0 errors.

| Measurement | Result |
|---|---|
| Calls (all sessions) | {total:,} in {out["elapsed"]:.0f} s ({total / out["elapsed"]:.1f}/s) |
| Errors | {errors:,} |
| Latency p50 / p90 / p99 | {statistics.median(lat) * 1000:.0f} ms / {q[89] * 1000:.0f} ms / {q[98] * 1000:.0f} ms |
| RSS per replica, start | {mem["start"][0]:.0f} MB, {mem["start"][1]:.0f} MB |
| RSS per replica, middle | {mem["middle"][0]:.0f} MB, {mem["middle"][1]:.0f} MB |
| RSS per replica, end | {mem["end"][0]:.0f} MB, {mem["end"][1]:.0f} MB |
| Machine load (1-min average) start / middle / end | {load["start"]:.1f} / {load["middle"]:.1f} / {load["end"]:.1f} on {os.cpu_count()} cores |

Calls by tool: {per_tool}. Downloads are of a {out["plan"]["small_runs"]}-run batch.
{"Errors: " + "; ".join(f"{k} (x{v})" for k, v in stats.errors.most_common(5)) if errors else ""}
The machine's cores are shared with other work (the load row), and the {args.sessions} clients, moto and the
sandbox compete with the replicas for them: latency and throughput are those of a saturated, shared
machine, an upper bound for latency; memory and the error count are the figures to compare.
"""
    write_section("HTTP load (two stateless replicas)", body)
    print(body)


if __name__ == "__main__":
    main()
