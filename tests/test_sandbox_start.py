"""`serve` on the sandbox as a client meets it over stdio: progress and logs while the sandbox starts, the
sandbox marker on every answer, the cache on the second start, and a settable sandbox port."""

from __future__ import annotations

import itertools
import os
import socket
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.stdio import stdio_client
from mcp.types import LoggingMessageNotificationParams

from cargo_mcp.sandbox.cache import SandboxCache
from cargo_mcp.server.health import SANDBOX_MARK
from tests.support import tool_text

pytestmark = pytest.mark.anyio


async def first_call(
    cache: Path, *args: str
) -> tuple[Any, list[tuple[float, float | None, str | None]], list[str], str]:
    """The first tools/call of a fresh `serve`; its progress and log notifications; the server's stderr."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env["CARGO_MCP_SANDBOX_CACHE"] = str(cache)
    params = StdioServerParameters(command=sys.executable, args=["-m", "cargo_mcp.cli", "serve", *args], env=env)
    errlog = cache.parent / "stderr.txt"
    notes: list[tuple[float, float | None, str | None]] = []
    logs: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        notes.append((progress, total, message))

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        logs.append(f"{params.level}: {params.data}")

    with anyio.fail_after(240), open(errlog, "w") as err:
        async with Client(stdio_client(params, errlog=err), mode="legacy", logging_callback=on_log) as client:
            result = await client.call_tool("list_workflows", {}, progress_callback=on_progress)
            second = await client.call_tool("execute_query", {"sql": "SELECT count() AS n FROM batches"})
            assert not second.is_error and tool_text(second).startswith(SANDBOX_MARK)
            if "--sandbox-port" in args:
                port = int(args[args.index("--sandbox-port") + 1])
                answer = httpx.get(f"http://127.0.0.1:{port}/v1/orchestration/workflows/list")
                assert answer.status_code == 401 and "errorMessage" in answer.json()
    return result, notes, logs, errlog.read_text()


async def test_the_first_start_reports_progress_and_the_second_reads_the_cache(tmp_path: Path) -> None:
    result, progress, logs, stderr = await first_call(tmp_path / "cache", "--sandbox")
    text = result.content[0].text
    assert not result.is_error and text.splitlines()[0] == SANDBOX_MARK and "workflow(s)" in text.splitlines()[1]
    assert len(progress) >= 3 and progress[-1][:2] == (100, 100)
    assert all(b[0] > a[0] for a, b in itertools.pairwise(progress))  # always growing
    assert any("generating the synthetic workspaces" in (m or "") for _, _, m in progress)
    assert logs[0].startswith("info: waiting for the embedded sandbox")
    assert any(line.startswith("info: the embedded sandbox is ready") and "built and cached" in line for line in logs)
    assert "built and cached" in stderr and SandboxCache(tmp_path / "cache", 7, 1.0).ready()

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result, _, _, stderr = await first_call(tmp_path / "cache", "--sandbox-port", str(port))  # no token: sandbox
    assert not result.is_error and result.content[0].text.startswith(SANDBOX_MARK)
    assert f"embedded sandbox ready at http://127.0.0.1:{port} in" in stderr and "loaded from the cache" in stderr
