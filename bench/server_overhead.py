"""Cold start to a first answered tools/list, and the per-call overhead of get_batch.

Usage: uv run python bench/server_overhead.py [--calls 200] [--starts 5]
Writes the "MCP server" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import anyio
import httpx
from mcp import Client, StdioServerParameters

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings


def ms(xs: list[float]) -> str:
    q = statistics.quantiles(xs, n=10) if len(xs) >= 10 else [max(xs)] * 9
    return f"{statistics.median(xs) * 1000:.2f} ms (p90 {q[8] * 1000:.2f} ms)"


async def cold_starts(env: dict[str, str], n: int, sandbox: bool) -> list[float]:
    args = ["-m", "cargo_mcp.cli", "serve"] + (["--sandbox"] if sandbox else [])
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        async with Client(StdioServerParameters(command=sys.executable, args=args, env=env)) as c:
            await c.list_tools()
            out.append(time.perf_counter() - t0)
    return out


async def per_call(sb: Sandbox, calls: int) -> tuple[list[float], list[float], list[float]]:
    ws = sb.workspaces[0]
    batch = ws.batches[0].uuid
    headers = {"authorization": f"Bearer {ws.token}"}
    direct, memory, stdio = [], [], []
    async with httpx.AsyncClient(base_url=sb.base_url + "/v1", headers=headers) as http:
        for i in range(calls + 20):
            t0 = time.perf_counter()
            (await http.get(f"/orchestration/batches/{batch}")).raise_for_status()
            if i >= 20:
                direct.append(time.perf_counter() - t0)
    server = build_server(Settings(token=ws.token, base_url=sb.base_url))
    async with Client(server) as c:
        for i in range(calls + 20):
            t0 = time.perf_counter()
            r = await c.call_tool("get_batch", {"batch_uuid": batch})
            assert not r.is_error
            if i >= 20:
                memory.append(time.perf_counter() - t0)
    env = {**os.environ, "CARGO_API_TOKEN": ws.token, "CARGO_API_BASE_URL": sb.base_url}
    params = StdioServerParameters(command=sys.executable, args=["-m", "cargo_mcp.cli", "serve"], env=env)
    async with Client(params) as c:
        for i in range(calls + 20):
            t0 = time.perf_counter()
            r = await c.call_tool("get_batch", {"batch_uuid": batch})
            assert not r.is_error
            if i >= 20:
                stdio.append(time.perf_counter() - t0)
    return direct, memory, stdio


async def main(calls: int, starts: int) -> None:
    sb = Sandbox()
    sb.serve_in_thread()
    ws = sb.workspaces[0]
    try:
        env = {**os.environ, "CARGO_API_TOKEN": ws.token, "CARGO_API_BASE_URL": sb.base_url}
        remote = await cold_starts(env, starts, sandbox=False)
        sandboxed = await cold_starts({k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}, starts, True)
        direct, memory, stdio = await per_call(sb, calls)
    finally:
        sb.close()
    overhead_mem = statistics.median(memory) - statistics.median(direct)
    overhead_stdio = statistics.median(stdio) - statistics.median(direct)
    body = f"""
| Measurement | Result |
|---|---|
| Cold start → first `tools/list` over stdio, token configured (n={starts}) | {ms(remote)} |
| Cold start → first `tools/list` over stdio, sandbox mode (sandbox builds in the background; n={starts}) | {ms(sandboxed)} |
| Direct httpx `GET /batches/{{uuid}}` to the sandbox (n={calls}) | {ms(direct)} |
| `get_batch` through an in-memory MCP client (n={calls}) | {ms(memory)} |
| `get_batch` through the stdio MCP client (n={calls}) | {ms(stdio)} |
| **Median overhead of `get_batch` over the direct call** | in-memory {overhead_mem * 1000:.2f} ms; stdio {overhead_stdio * 1000:.2f} ms |

`get_batch` makes one Cargo call per invocation (plus the workflow catalog, cached for 30 s), validates the
wire model, derives the headline and renders text + structured content.
"""
    write_section("MCP server", body)
    print(body)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--calls", type=int, default=200)
    p.add_argument("--starts", type=int, default=5)
    a = p.parse_args()
    anyio.run(main, a.calls, a.starts)
