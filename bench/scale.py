"""Scale: inspect_failures and download_outputs on sandboxes of scale 1× and 10× (how each grows), the peak
memory growth of a 100,000-row download, the SQL guard's latency and worst case, read_result on a large stored
result, and HTTP throughput and p99 with 1, 10 and 50 concurrent sessions on one server and on two replicas."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Awaitable, Callable
from contextlib import AsyncExitStack
from typing import Any

from mcp import Client

from bench import guard, http_load, procs, result_counts
from bench.context import Run
from bench.interleave import interleaved, median
from bench.profile import profile, shares
from bench.report import Row, Section, Target
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings

INSPECT_TARGET_S = 3.0
MEMORY_TARGET_MB = 100.0
BIG = 10.0  # the large sandbox's scale


def pick(run: Run, sb: procs.SandboxProcess, scale: float) -> dict[str, Any]:
    """The largest finished batch with failures (at 10×: of at least 10,000 runs and 1,000 failures)."""
    least = (10_000, 1_000) if scale >= BIG else (0, 1)
    fit = [b for b in run.batches(sb) if b["runsCount"] >= least[0] and b["failedRunsCount"] >= least[1]]
    return max((b for b in fit if b["status"] == "success"), key=lambda b: b["runsCount"])


async def sandbox_scale(run: Run) -> tuple[list[Row], list[str]]:
    scales = [1.0] if run.quick else [1.0, BIG]
    rounds = run.n(5, 2)
    variants: dict[str, Callable[[], Awaitable[object]]] = {}
    batches: dict[float, dict[str, Any]] = {}
    clients: dict[float, Client] = {}
    async with AsyncExitStack() as stack:
        for scale in scales:
            sb = run.sandbox(scale)
            batch = batches[scale] = pick(run, sb, scale)
            settings = Settings(token=sb.token, base_url=sb.url, results_dir=run.tmp / f"results-{scale:g}x")
            client = clients[scale] = await stack.enter_async_context(Client(build_server(settings)))
            calls = {
                "inspect": ("inspect_failures", {"batch_uuid": batch["uuid"]}),
                "sweep": ("inspect_failures", {"created_after": "7d"}),
                "download": ("download_outputs", {"batch_uuid": batch["uuid"], "limit": 20}),
            }
            for key, (tool, args) in calls.items():

                async def call(client: Client = client, tool: str = tool, args: dict[str, Any] = args) -> None:
                    r = await client.call_tool(tool, args)
                    if r.is_error:
                        raise RuntimeError(f"{tool} failed: {r.content}")

                variants[f"{key}|{scale:g}"] = call
        samples = await interleaved(variants, rounds, warmup=0)  # the first round's calls are the first calls
        big = scales[-1]
        inspect_profile = await profile(variants[f"inspect|{big:g}"])

    def first_and_rest(key: str, scale: float) -> tuple[float, float]:
        s = samples[f"{key}|{scale:g}"]
        return s[0], median(s[1:] or s)

    why = f"profile of one call at {big:g}× in this process (the sandbox's work shows as waiting): {shares(inspect_profile)}."
    rows: list[Row] = []
    for key, title in (("inspect", "`inspect_failures(batch_uuid)`"), ("sweep", "`inspect_failures()` last 7 days"),
                       ("download", "`download_outputs(batch_uuid)`, every row fetched")):  # fmt: skip
        first1, rest1 = first_and_rest(key, 1.0)
        target = Target("<=", INSPECT_TARGET_S) if key != "download" else None
        if big == 1.0:
            rows.append(Row(f"{title} at 1×", rest1, "s", note=f"first call {first1:.2f} s; 10× not run (quick)"))
            continue
        first10, rest10 = first_and_rest(key, big)
        rows += [
            Row(f"{title} at 10×", rest10, "s", rest1, "at 1×", target, note=f"median of {rounds - 1}", why=why),
            Row(f"{title} at 10×, first call", first10, "s", first1, "at 1×", target, why=why),
        ]
    sizes = "; ".join(
        f"{s:g}×: {run.sandbox(s).started_in:.0f} s to start, batch of {b['runsCount']:,} runs ({b['failedRunsCount']:,} failed)"
        for s, b in batches.items()
    )
    notes = [
        f"Sandbox scales: {sizes}. The 10× sandbox is built once per run and shared by its measurements; the "
        f"calls at both scales are interleaved over {rounds} rounds (the first round's are the first calls: cold "
        "catalog and releases)."
    ]
    return rows, notes


def memory(run: Run) -> tuple[list[Row], list[str]]:
    n = run.n(100_000, 10_000)
    rows = []
    for fmt in ("csv", "json"):
        out = subprocess.run([procs.PYTHON, "-m", "bench.memory", fmt, str(n)], capture_output=True, text=True,
                             check=True, timeout=900)  # fmt: skip
        r = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(
            Row(f"peak memory growth, {r['rows']:,}-row {fmt.upper()} download", r["growth_mb"], "MB", r["bytes"] / 1e6,
                "the file's size", Target("<", MEMORY_TARGET_MB), note=f"{r['seconds']:.1f} s",
                why=f"{r['fetch_growth_mb']:.0f} MB of the growth is reached while fetching; the rest parsing and storing.")
        )  # fmt: skip
    notes = [
        f"Memory: {n:,} rows of ~2 KB streamed from a loopback server through `fetch_to_file` → `read_rows` → "
        "`ResultStore.create` (the `download_outputs` pipeline), in a fresh process; growth of its peak resident size."
    ]
    return rows, notes


async def measure(run: Run) -> Section:
    rows: list[Row] = []
    notes: list[str] = []
    parts: list[tuple[list[Row], list[str]]] = [
        await sandbox_scale(run),
        memory(run),
        guard.measure(run.n(30, 3), run.n(3, 1)),
        result_counts.measure(run.n(200_000, 20_000), run.tmp / "result-counts"),
        await http_load.measure(run),
    ]
    for r, n in parts:
        rows += r
        notes += [*n, ""]
    return Section(
        "Scale",
        rows,
        intro="How the figures grow with the data and the load; each part's method is below the table.",
        notes=notes,
    )
