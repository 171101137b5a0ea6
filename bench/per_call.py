"""Per call: get_batch, count_runs, list_runs and execute_query through cargo-mcp (in memory, stdio,
streamable HTTP) against a direct httpx call to the same sandbox endpoint, and against Cargo's CLI pattern (a
fresh Node process running the official client per command). One interleaved run: every round calls every
variant of every operation once, in the same order."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any
from unittest import mock

import httpx
from mcp import Client, StdioServerParameters

from bench import procs
from bench.context import Run
from bench.interleave import interleaved, median
from bench.profile import profile, shares
from bench.report import Row, Section, Target
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings
from tests.loopback import mcp_over_http

VARIANTS = ("direct", "in memory", "stdio", "streamable HTTP", "CLI pattern")
STDIO_TARGET = 1.5
CLI_TARGET = 50.0
PROFILED_CALLS = 20


@dataclass
class Op:
    tool: str
    args: dict[str, Any]
    method: str  # the direct call: HTTP method, path under /v1 and JSON body
    path: str
    body: dict[str, Any] | None
    cli: tuple[str, list[Any]]  # the official client's method and its arguments


def operations(batch: dict[str, Any]) -> list[Op]:
    b, w = batch["uuid"], batch["workflowUuid"]
    sql = f"SELECT status, count() AS n FROM runs WHERE batch_uuid = '{b}' GROUP BY status"
    count = {"workflowUuid": w, "batchUuid": b, "statuses": ["error"]}
    page = {"workflowUuid": w, "batchUuid": b, "limit": 10}
    return [
        Op("get_batch", {"batch_uuid": b}, "GET", f"/orchestration/batches/{b}", None, ("orchestration.batch.get", [b])),
        Op("count_runs", {"batch_uuid": b, "statuses": ["failed"]}, "POST", "/orchestration/runs/count", count,
           ("orchestration.run.count", [count])),
        Op("list_runs", {"batch_uuid": b, "limit": 10}, "POST", "/orchestration/runs/list", page,
           ("orchestration.run.list", [page])),
        Op("execute_query", {"sql": sql}, "POST", "/orchestration/query", {"query": sql},
           ("orchestration.query.execute", [{"query": sql}])),
    ]  # fmt: skip


def pick_batch(run: Run, sb: procs.SandboxProcess) -> dict[str, Any]:
    """A finished batch with failures, the largest under 5,000 runs (what a user asks about most)."""
    fit = [b for b in run.batches(sb) if b["status"] == "success" and b["failedRunsCount"] and b["runsCount"] < 5000]
    return max(fit, key=lambda b: b["runsCount"])


def tool_call(client: Client, op: Op) -> Callable[[], Awaitable[None]]:
    async def call() -> None:
        r = await client.call_tool(op.tool, op.args)
        if r.is_error:
            raise RuntimeError(f"{op.tool} failed: {r.content}")

    return call


async def api_calls(client: Client, op: Op) -> int:
    """How many Cargo API requests one tool call makes (the in-memory server runs in this process)."""
    sent = 0
    original = httpx.AsyncClient.send

    async def counting(self: httpx.AsyncClient, *a: Any, **kw: Any) -> httpx.Response:
        nonlocal sent
        sent += 1
        return await original(self, *a, **kw)

    with mock.patch.object(httpx.AsyncClient, "send", counting):
        await tool_call(client, op)()
    return sent


async def measure(run: Run) -> Section:
    sb = run.sandbox()
    batch = pick_batch(run, sb)
    ops = operations(batch)
    cli = run.cli()
    rounds, node_every = run.n(200, 10), run.n(10, 5)
    async with AsyncExitStack() as stack:
        direct = await stack.enter_async_context(
            httpx.AsyncClient(base_url=f"{sb.url}/v1", headers=sb.headers, timeout=60)
        )
        settings = Settings(token=sb.token, base_url=sb.url, results_dir=run.tmp / "results-memory")
        memory = await stack.enter_async_context(Client(build_server(settings)))
        params = StdioServerParameters(
            command=procs.PYTHON, args=["-m", "cargo_mcp.cli", "serve"],
            env=sb.server_env(CARGO_MCP_RESULTS_DIR=str(run.tmp / "results-stdio")),
        )  # fmt: skip
        stdio = await stack.enter_async_context(Client(params))
        url, _ = stack.enter_context(procs.http_server(sb.server_env(), run.tmp, "per-call"))
        http = await stack.enter_async_context(mcp_over_http(url))

        variants: dict[str, Callable[[], Awaitable[object]]] = {}
        for op in ops:

            async def call_direct(op: Op = op) -> None:
                (await direct.request(op.method, op.path, json=op.body)).raise_for_status()

            async def call_cli(op: Op = op) -> None:
                await cli.run(op.cli[0], *op.cli[1])

            variants[f"{op.tool}|direct"] = call_direct
            variants[f"{op.tool}|in memory"] = tool_call(memory, op)
            variants[f"{op.tool}|stdio"] = tool_call(stdio, op)
            variants[f"{op.tool}|streamable HTTP"] = tool_call(http, op)
            variants[f"{op.tool}|CLI pattern"] = call_cli
        every = {name: node_every for name in variants if name.endswith("|CLI pattern")}
        samples = await interleaved(variants, rounds, warmup=2, every=every)
        calls = {op.tool: await api_calls(memory, op) for op in ops}
        profiles = {op.tool: await profile(_repeat(tool_call(memory, op), PROFILED_CALLS)) for op in ops}
    node_alone, node_client = cli.fixed_cost()

    rows: list[Row] = []
    for op in ops:
        ms = {v: median(samples[f"{op.tool}|{v}"]) * 1000 for v in VARIANTS}
        n_api = calls[op.tool]
        note = f"{n_api} API call{'s' * (n_api > 1)}"

        def why_stdio(ms: dict[str, float] = ms, tool: str = op.tool) -> str:
            return (
                f"median {ms['stdio']:.2f} ms = the direct call {ms['direct']:.2f} ms + cargo-mcp's own work "
                f"{ms['in memory'] - ms['direct']:.2f} ms (the in-memory client: validation, "
                f"{calls[tool]} API call(s), rendering) + the stdio transport {ms['stdio'] - ms['in memory']:.2f} ms "
                f"(JSON-RPC framing, the pipe, a second process); profile of {PROFILED_CALLS} in-memory calls: "
                f"{shares(profiles[tool])}."
            )

        def why_cli(ms: dict[str, float] = ms) -> str:
            return (
                f"the CLI pattern's {ms['CLI pattern']:.0f} ms per command are mostly fixed cost: starting Node "
                f"takes {node_alone * 1000:.0f} ms, starting it and loading @cargo-ai/api {node_client * 1000:.0f} ms; "
                f"cargo-mcp over stdio answers in {ms['stdio']:.2f} ms."
            )

        rows += [
            Row(f"`{op.tool}` in memory", ms["in memory"], "ms", ms["direct"], "direct", note=note),
            Row(f"`{op.tool}` over stdio", ms["stdio"], "ms", ms["direct"], "direct",
                Target("<=", STDIO_TARGET, "ratio"), note=note, why=why_stdio),
            Row(f"`{op.tool}` over streamable HTTP", ms["streamable HTTP"], "ms", ms["direct"], "direct", note=note),
            Row(f"`{op.tool}` over stdio vs the CLI pattern", ms["stdio"], "ms", ms["CLI pattern"], "CLI pattern",
                Target(">=", CLI_TARGET, "speedup"), why=why_cli),
        ]  # fmt: skip
    node_n = len(samples[f"{ops[0].tool}|CLI pattern"])
    return Section(
        "Per call",
        rows,
        intro=(
            f"Median latency of one call on a finished batch of {batch['runsCount']:,} runs "
            f"({batch['failedRunsCount']:,} failed), the sandbox in its own process. Baselines: a direct httpx call "
            "to the same sandbox endpoint (what the tool's first API call costs; the note says how many API calls "
            "the tool makes), and Cargo's CLI pattern: a fresh `node` process per command running the official "
            "`@cargo-ai/api` client and printing its JSON (a lower bound for the CLI itself, which loads more). "
            f"Interleaved in one process: {rounds} rounds after 2 warm-up rounds, each calling every variant of "
            f"every operation once in the same order; the CLI pattern in every {node_every}th round ({node_n} "
            "commands per operation)."
        ),
        notes=[
            f"A Node process alone starts in {node_alone * 1000:.0f} ms; with the client loaded, "
            f"{node_client * 1000:.0f} ms. The streamable HTTP server is `cargo-mcp serve --http` on loopback "
            "(sessions, no authentication: loopback)."
        ],
    )


def _repeat(call: Callable[[], Awaitable[None]], n: int) -> Callable[[], Awaitable[None]]:
    async def calls() -> None:
        for _ in range(n):
            await call()

    return calls
