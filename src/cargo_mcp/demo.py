"""`cargo-ai-mcp demo`: an MCP client drives the server (over stdio, on the sandbox) through the journeys."""

from __future__ import annotations

import os
import sys
import time
from typing import Any

import anyio
from mcp import Client, StdioServerParameters

from cargo_mcp.server.health import SANDBOX_MARK

WIDTH = 110
MAX_LINES = 18


async def _demo() -> int:
    # No Cargo settings reach the demo's server (it runs on the sandbox), except where the sandbox is cached.
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_") or k == "CARGO_MCP_SANDBOX_CACHE"}
    params = StdioServerParameters(command=sys.executable, args=["-m", "cargo_mcp.cli", "serve", "--sandbox"], env=env)
    started = time.perf_counter()
    async with Client(params) as client:
        tools = await client.list_tools()
        took = time.perf_counter() - started
        print(f"Connected to cargo-mcp over stdio: {len(tools.tools)} tools ({took:.1f} s)")
        backend_line = next((ln for ln in (client.instructions or "").splitlines() if ln.startswith("BACKEND")), "")
        print(backend_line or "BACKEND: not announced by the server")
        print(f"Every tool answer starts with: {SANDBOX_MARK}")

        async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
            t0 = time.perf_counter()
            result = await client.call_tool(name, args)
            took = time.perf_counter() - t0
            shown = ", ".join(f"{k}={v!r}" for k, v in args.items())
            print(f"\n→ {name}({shown})  [{took * 1000:.0f} ms]")
            text = result.content[0].text if result.content else ""  # type: ignore[union-attr]
            lines = text.splitlines()
            if lines[:1] == [SANDBOX_MARK]:  # every answer starts with it; shown once, above
                lines = lines[1:]
            for line in lines[:MAX_LINES]:
                print("  " + (line if len(line) <= WIDTH else line[: WIDTH - 1] + "…"))
            if len(lines) > MAX_LINES:
                print(f"  … ({len(lines) - MAX_LINES} more lines)")
            if result.is_error:
                raise SystemExit(f"demo step {name} failed")
            return result.structured_content or {}

        print("\n## Journey 1 — find a workflow's node slugs")
        workflows = (await call("list_workflows", {}))["workflows"]
        tool = next(w for w in workflows if w["kind"] == "tool")
        await call("get_workflow_nodes", {"workflow": tool["name"]})

        print("\n## Journey 2 — inspect failures")
        sql = (
            "SELECT uuid, workflow_uuid, status, failed_runs_count, runs_count FROM batches "
            "WHERE failed_runs_count > 0 AND status = 'success' ORDER BY created_at DESC LIMIT 3"
        )
        batch = (await call("execute_query", {"sql": sql}))["rows"][0]
        await call("get_batch", {"batch_uuid": batch["uuid"]})
        report = await call("inspect_failures", {"batch_uuid": batch["uuid"]})
        await call("trace_run", {"run_uuid": report["error_groups"][0]["exemplar_runs"][0]})
        await call("list_runs", {"batch_uuid": batch["uuid"], "statuses": ["failed"], "limit": 3})

        print("\n## Journey 3 — retrieve results")
        week = {"workflow": tool["name"], "created_after": "7d"}
        await call("count_runs", {**week, "statuses": ["finished"]})
        page = await call("download_outputs", {**week, "statuses": ["success"], "limit": 5})
        await call("read_result", {"result_id": page["result_id"], "where": {"qualified": "true"}, "limit": 3})
        spans_sql = (
            "SELECT node_slug, count() AS executions, countIf(execution_status = 'error') AS errors "
            f"FROM spans WHERE workflow_uuid = '{tool['workflow_uuid']}' "
            "AND execution_started_at > now() - INTERVAL 7 DAY GROUP BY node_slug ORDER BY errors DESC"
        )
        await call("execute_query", {"sql": spans_sql})
    print(f"\nDemo finished in {time.perf_counter() - started:.1f} s.")
    return 0


def run_demo() -> int:
    """Run the demo; return the process exit code."""
    return anyio.run(_demo)
