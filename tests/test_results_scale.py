"""More than 25,000 matching runs: the stored result equals count_runs, with no duplicate or missing run.

The default sandbox's largest workflow has ~19,000 runs, so this module serves a larger sandbox from a
separate process (chdb allows one engine per process) and talks to it as to Cargo.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings

pytestmark = pytest.mark.anyio


@pytest.fixture(scope="module")
def big_sandbox(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str]]:
    cache = tmp_path_factory.mktemp("sandbox-cache")  # not the user's cache folder
    proc = subprocess.Popen(
        [sys.executable, "-m", "cargo_mcp.cli", "sandbox", "--port", "0", "--scale", "1.6"],
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1", "CARGO_MCP_SANDBOX_CACHE": str(cache)},
    )
    try:  # the process stops however the start goes
        assert proc.stderr is not None
        url = token = None
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (url and token):
            line = proc.stderr.readline()
            assert line or proc.poll() is None, "sandbox process exited"
            if m := re.search(r"CARGO_API_BASE_URL=(\S+)", line):
                url = m.group(1)
            if m := re.search(r"'Acme Revenue' .* token (\S+)", line):
                token = m.group(1)
        assert url and token
        yield url, token
    finally:
        proc.terminate()
        proc.wait(20)


async def test_more_than_25000_runs(big_sandbox: tuple[str, str], tmp_path: Any) -> None:
    url, token = big_sandbox
    headers = {"authorization": f"Bearer {token}"}
    workflows = httpx.get(f"{url}/v1/orchestration/tools/list", headers=headers).json()["tools"]
    wf = next(t["workflowUuid"] for t in workflows if t["name"] == "Company enrichment")
    settings = Settings(token=token, base_url=url, results_dir=tmp_path)
    async with Client(build_server(settings)) as client:
        counted = (await client.call_tool("count_runs", {"workflow": wf})).structured_content
        assert counted is not None and counted["count"] > 25_000
        r = await client.call_tool("download_outputs", {"workflow": wf, "limit": 1})
        assert not r.is_error, r.content
        out = r.structured_content
        assert out is not None and out["total"] == counted["count"]
        q = await client.call_tool(
            "execute_query",
            {"sql": f"SELECT count() AS n, uniqExact(uuid) AS u FROM runs WHERE workflow_uuid = '{wf}'"},
        )
        assert q.structured_content is not None and q.structured_content["rows"] == [
            {"n": out["total"], "u": out["total"]}
        ]
    db = sqlite3.connect(next(tmp_path.glob("r_*.sqlite")))
    cols = {name: i for i, name in enumerate(out["columns"])}
    run_col = f"c{cols['runUuid']}"
    n, distinct = db.execute(f"SELECT count(*), count(DISTINCT {run_col}) FROM rows").fetchone()
    assert n == distinct == counted["count"]
