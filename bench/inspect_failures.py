"""inspect_failures on a batch of >= 10,000 runs with >= 1,000 failures, and over the whole workspace: answer size
and latency.

Usage: uv run python bench/inspect_failures.py [--scale 10] [--repeat 5]
Writes the "Failure inspection" section of docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings


async def main(scale: float, repeat: int) -> None:
    t0 = time.perf_counter()
    sb = Sandbox(scale=scale)
    sb.serve_in_thread()
    built = time.perf_counter() - t0
    ws = sb.workspaces[0]
    try:
        batch = max(
            (b for b in ws.batches if b.runs_count >= 10_000 and b.failed_runs_count >= 1_000),
            key=lambda b: b.runs_count,
        )
        server = build_server(Settings(token=ws.token, base_url=sb.base_url))
        times, sizes, structured, wide = [], [], [], []
        async with Client(server) as client:
            for _ in range(repeat):
                t = time.perf_counter()
                r = await client.call_tool("inspect_failures", {"batch_uuid": batch.uuid})
                times.append(time.perf_counter() - t)
                assert not r.is_error, r.content
                sizes.append(len(r.content[0].text))  # type: ignore[union-attr]
                structured.append(len(json.dumps(r.structured_content)))
                rerun = (r.structured_content or {}).get("rerun") or {}
            for _ in range(repeat):
                t = time.perf_counter()
                w = await client.call_tool("inspect_failures", {"created_after": "7d"})
                wide.append(time.perf_counter() - t)
                assert not w.is_error, w.content
    finally:
        sb.close()
    body = f"""
Sandbox `scale={scale}` ({len(ws.runs):,} runs, built in {built:.1f} s); batch of {batch.runs_count:,} runs with
{batch.failed_runs_count:,} failed runs ({batch.workflow.spec.name}).

| Measurement | Result | Target |
|---|---|---|
| `inspect_failures(batch_uuid)` latency, first call (cold catalog) | {times[0] * 1000:.0f} ms | < 3 s |
| `inspect_failures(batch_uuid)` latency, median of {repeat} | {statistics.median(times) * 1000:.0f} ms | < 3 s |
| Answer text | {max(sizes):,} characters | ≤ 6,000 |
| Structured content (re-run body of {rerun.get("records", 0):,} records included) | {max(structured):,} bytes | — |
| `inspect_failures()` (whole workspace, last 7 days) latency, median of {repeat} | \
{statistics.median(wide) * 1000:.0f} ms | < 3 s |

One call = `get_batch`, the workflow's releases, the catalog, the metrics endpoint and eight capped SQL
queries over `runs`/`spans`/`batches` sent concurrently; each dependent step follows its own query at once:
the exemplar run of each filter node, for a tool one `runs/download` of the records still failing (their
start data for the re-run body), and when the scope spans releases the errors per release. The workspace
sweep is five queries.
"""
    write_section("Failure inspection", body)
    print(body)


if __name__ == "__main__":
    p = argparse.ArgumentParser()
    p.add_argument("--scale", type=float, default=10.0)
    p.add_argument("--repeat", type=int, default=5)
    a = p.parse_args()
    anyio.run(main, a.scale, a.repeat)
