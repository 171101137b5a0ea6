"""HTTP load: concurrent MCP sessions for a fixed time against one `cargo-mcp serve --http --stateless`
process and against two such replicas (each session on one of them, round-robin), loopback only; the
configurations interleaved in rounds. Every session runs the mix of calls a polling agent makes."""

from __future__ import annotations

import random
import time
from collections import Counter
from collections.abc import Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any

import anyio

from bench import procs
from bench.context import Run
from bench.interleave import median, quantile
from bench.report import Row, Target
from tests.loopback import mcp_over_http

SESSIONS = (1, 10, 50)
LAYOUTS = ("one server", "two replicas")


@dataclass
class Traffic:
    latencies: list[float] = field(default_factory=list)
    errors: Counter[str] = field(default_factory=Counter)
    seconds: float = 0.0

    @property
    def calls(self) -> int:
        return len(self.latencies)


def mix(run: Run, sb: procs.SandboxProcess) -> list[tuple[str, dict[str, Any]]]:
    batches = run.batches(sb)
    small = min((b for b in batches if b["status"] == "success"), key=lambda b: b["runsCount"])
    busy = max(batches, key=lambda b: b["runsCount"])
    sql = "SELECT status, count() AS n FROM runs WHERE created_at > now() - INTERVAL 1 DAY GROUP BY status"
    return [
        ("list_workflows", {}),
        ("get_batch", {"batch_uuid": busy["uuid"]}),
        ("count_runs", {"batch_uuid": busy["uuid"], "statuses": ["failed"]}),
        ("list_runs", {"batch_uuid": busy["uuid"], "limit": 10}),
        ("get_workflow_nodes", {"batch_uuid": small["uuid"]}),
        ("execute_query", {"sql": sql}),
        ("download_outputs", {"batch_uuid": small["uuid"], "limit": 5}),
    ]


async def session(n: int, url: str, plan: list[tuple[str, dict[str, Any]]], load: Traffic, until: float) -> None:
    rng = random.Random(n)
    try:
        async with mcp_over_http(url) as client:
            first = True
            while first or time.monotonic() < until:  # at least one call, however slow the start
                first = False
                tool, args = rng.choice(plan)
                t = time.perf_counter()
                try:
                    r = await client.call_tool(tool, args)
                    if r.is_error:
                        load.errors[f"{tool}: {getattr(r.content[0], 'text', '')[:80]}"] += 1
                    elif tool == "download_outputs" and r.structured_content:
                        handle = {"result_id": r.structured_content["result_id"], "limit": 5}
                        if (await client.call_tool("read_result", handle)).is_error:
                            load.errors["read_result of a download's handle"] += 1
                except Exception as e:  # a transport failure is that call's error
                    load.errors[f"{tool}: {type(e).__name__}"] += 1
                load.latencies.append(time.perf_counter() - t)
    except Exception as e:  # at connect or close
        load.errors[f"session: {type(e).__name__}"] += 1


async def drive(urls: Sequence[str], sessions: int, seconds: float, plan: list[tuple[str, dict[str, Any]]]) -> Traffic:
    load = Traffic()
    until = time.monotonic() + seconds
    t0 = time.monotonic()
    async with anyio.create_task_group() as tg:
        for n in range(sessions):
            tg.start_soon(session, n, urls[n % len(urls)], plan, load, until)
    load.seconds = time.monotonic() - t0
    return load


async def measure(run: Run) -> tuple[list[Row], list[str]]:
    sb = run.sandbox()
    plan = mix(run, sb)
    rounds, seconds = run.n(2, 1), run.n(10.0, 3.0)
    loads: dict[tuple[str, int], list[Traffic]] = {(lay, s): [] for s in SESSIONS for lay in LAYOUTS}
    with ExitStack() as stack:
        servers = [stack.enter_context(procs.http_server(sb.server_env(), run.tmp, f"replica-{i}", stateless=True))
                   for i in range(2)]  # fmt: skip
        urls = {"one server": [servers[0][0]], "two replicas": [u for u, _ in servers]}
        for url, _ in servers:  # warm-up: each server answers each call once (first imports, caches)
            async with mcp_over_http(url) as client:
                for tool, args in plan:
                    await client.call_tool(tool, args)
        rss_start = [procs.rss_mb(pid) for _, pid in servers]
        for _ in range(rounds):  # interleaved: every (sessions, layout) once per round
            for s in SESSIONS:
                for lay in LAYOUTS:
                    loads[(lay, s)].append(await drive(urls[lay], s, seconds, plan))
        rss_end = [procs.rss_mb(pid) for _, pid in servers]

    def total(lay: str, s: int) -> tuple[float, float, Counter[str]]:
        runs = loads[(lay, s)]
        lat = [x for r in runs for x in r.latencies]
        errors: Counter[str] = sum((r.errors for r in runs), Counter())
        return sum(r.calls for r in runs) / sum(r.seconds for r in runs), quantile(lat, 0.99) * 1000, errors

    rows: list[Row] = []
    for s in SESSIONS:
        (t1, p1, e1), (t2, p2, e2) = total("one server", s), total("two replicas", s)
        rows += [
            Row(f"{s} session{'s' * (s > 1)}: throughput, two replicas", t2, "/s", t1, "one server",
                note="calls per second"),
            Row(f"{s} session{'s' * (s > 1)}: p99 latency, two replicas", p2, "ms", p1, "one server"),
        ]  # fmt: skip
        if s == SESSIONS[-1]:
            errors = e1 + e2
            rows.append(
                Row(f"{s} sessions: errors (both layouts)", sum(errors.values()), "errors", target=Target("<=", 0),
                    why="; ".join(f"{k} (×{v})" for k, v in errors.most_common(5)))
            )  # fmt: skip
    p50 = {lay: median([x for r in loads[(lay, 50)] for x in r.latencies]) * 1000 for lay in LAYOUTS}
    notes = [
        f"HTTP load: {rounds} round(s), each running every configuration for {seconds:.0f} s (sessions × layout, "
        "in the same order). Each session is one MCP client on one server (round-robin over the replicas) calling "
        f"a random mix: {', '.join(t for t, _ in plan)} (a download is followed by read_result of its handle). "
        f"p50 at 50 sessions: one server {p50['one server']:.0f} ms, two replicas {p50['two replicas']:.0f} ms. "
        f"Replica memory: {rss_start[0]:.0f}/{rss_start[1]:.0f} MB at start, {rss_end[0]:.0f}/{rss_end[1]:.0f} MB at "
        "the end. The clients and the sandbox share the machine's cores with the servers: on 2 cores a second "
        "replica adds no CPU, so throughput is that of the whole machine; the error count is the figure to watch."
    ]
    return rows, notes
