"""The fault matrix (tests/fault_matrix.py): every tool against every fault kind the sandbox injects, file URLs included.

Each cell calls one tool on a fresh server (cold caches) with one fault registered, and asserts the outcome the
matrix gives: the answer the tool gives without the fault, or a clean error naming the cause and the next step.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.server.mcpserver import MCPServer
from mcp.types import CallToolResult

from cargo_mcp.api.models import TERMINAL_STATUSES
from cargo_mcp.results.store import ResultStore
from cargo_mcp.sandbox.faults import Faults
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from cargo_mcp.settings import Settings
from tests.fault_matrix import API, CELLS, FAULTS, FILES, Error, Fault, render
from tests.support import FAST_RETRY, TOOLS

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parents[1] / "docs" / "fault-matrix.md"
CELL_TIMEOUT = 20.0  # seconds: the Cargo client's timeout where the fault does not hang (a loaded machine is slow)


@dataclass
class Bench:
    """The shared sandbox, one cheap call per tool, the servers by client timeout, the answers without faults."""

    sandbox: Sandbox
    settings: Settings
    args: dict[str, dict[str, Any]]
    http: httpx.Client
    servers: dict[float, MCPServer[Any]] = field(default_factory=dict)
    baselines: dict[str, tuple[str, Any]] = field(default_factory=dict)
    made: list[Services] = field(default_factory=list)

    def server(self, timeout: float | None) -> MCPServer[Any]:
        t = timeout or CELL_TIMEOUT
        if t not in self.servers:

            def services() -> Services:
                self.made.append(Services(self.settings, retry=FAST_RETRY, timeout=httpx.Timeout(t)))
                return self.made[-1]

            self.servers[t] = build_server(self.settings, services_factory=services)
        return self.servers[t]

    def inject(self, fault: Fault) -> None:
        """Register ``fault`` on the sandbox (one kept-alive connection: the matrix registers hundreds)."""
        self.http.post("/_sandbox/faults", json=fault.body(self.sandbox.base_url)).raise_for_status()

    def clear(self) -> None:
        self.http.delete("/_sandbox/faults").raise_for_status()

    async def call(self, tool: str, timeout: float | None = None, fault: Fault | None = None) -> CallToolResult:
        async with Client(self.server(timeout)) as client:  # a new session: new services, cold caches
            await self.made[-1].health.checked.wait()  # the start-up token check meets no fault: only the tool does
            if fault is not None:
                self.inject(fault)
            try:
                return await client.call_tool(tool, self.args[tool])
            finally:
                if fault is not None:
                    self.clear()

    async def baseline(self, tool: str) -> tuple[str, Any]:
        if tool not in self.baselines:
            r = await self.call(tool)
            assert not r.is_error, text_of(r)
            self.baselines[tool] = comparable(r)
        return self.baselines[tool]


@pytest.fixture(scope="module")
def bench(shared_sandbox: Sandbox, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bench]:
    ws = shared_sandbox.workspaces[0]
    batch = min(
        (b for b in ws.batches if b.failed_runs_count and b.status in TERMINAL_STATUSES),
        key=lambda b: b.runs_count,
    )
    run = next(r for r in ws.runs if r.batch is batch and r.status == "error")
    results = tmp_path_factory.mktemp("matrix-results")  # shared by the cells' servers, so read_result finds one
    stored = ResultStore(results).create(["recordId", "score"], iter([{"recordId": "a", "score": 1}]), "matrix")
    exports = tmp_path_factory.mktemp("matrix-exports")
    settings = Settings(token=ws.token, base_url=shared_sandbox.base_url, results_dir=results, export_dir=exports)
    args: dict[str, dict[str, Any]] = {
        "list_workflows": {},
        "get_workflow_nodes": {"batch_uuid": batch.uuid},
        "get_batch": {"batch_uuid": batch.uuid},
        "count_runs": {"batch_uuid": batch.uuid, "statuses": ["failed"]},
        "list_runs": {"batch_uuid": batch.uuid, "limit": 2},
        "get_run": {"run_uuid": run.uuid},
        "get_run_metrics": {"batch_uuid": batch.uuid},
        # a fixed end, so the filters in the answer do not change from one call to the next
        "download_outputs": {
            "batch_uuid": batch.uuid,
            "statuses": ["error"],
            "created_before": "2100-01-01",
            "limit": 2,
        },
        "execute_query": {"sql": "SELECT count() AS batches FROM batches"},
        "inspect_failures": {"batch_uuid": batch.uuid},
        "trace_run": {"run_uuid": run.uuid},
        "read_result": {"result_id": stored.result_id, "limit": 5},
        "save_result": {"result_id": stored.result_id, "path": "matrix.csv", "overwrite": True},
        "list_releases": {"workflow": batch.workflow.uuid},
        "list_batches": {"workflow": batch.workflow.uuid, "limit": 2},
    }
    assert set(args) == TOOLS
    with httpx.Client(base_url=shared_sandbox.base_url) as http:
        yield Bench(shared_sandbox, settings, args, http)


def text_of(r: CallToolResult) -> str:
    return "\n".join(getattr(c, "text", "") for c in r.content)


def comparable(r: CallToolResult) -> tuple[str, Any]:
    """Text and structured content, with a download's result id (new on every call) masked."""
    text, data = text_of(r), dict(r.structured_content or {})
    if "result_id" in data and "rows" in data and "total" in data:  # download_outputs' OutputPage
        text, data["result_id"] = text.replace(data["result_id"], "r_…"), "r_…"
    if "replaced" in data:  # save_result's SavedFile: the first call wrote the file, the later ones replace it
        text, data["replaced"] = text.removeprefix("Replaced ").removeprefix("Wrote "), "…"
    return text, data


def bad_logs(records: list[logging.LogRecord]) -> list[str]:
    """Errors cargo-mcp or the SDK logged: an internal error, a crash of a tool."""
    return [
        r.getMessage() for r in records if r.levelno >= logging.ERROR and r.name.split(".")[0] in {"cargo_mcp", "mcp"}
    ]


def assert_clean_error(tool: str, text: str, error: Error) -> None:
    prefix = f"Error executing tool {tool}: "
    assert text.startswith(prefix) and len(text) > len(prefix) + 20, text
    assert "internal error" not in text and "Traceback" not in text, text
    assert "signature=" not in text and "token=" not in text and "\x00" not in text, text
    for phrase in (*error.cause, *error.next_step):
        assert phrase in text, f"{phrase!r} missing from: {text}"


@pytest.mark.parametrize(("tool", "fault"), CELLS, ids=[f"{f.id}·{tool}" for tool, f in CELLS])
async def test_cell(bench: Bench, caplog: pytest.LogCaptureFixture, tool: str, fault: Fault) -> None:
    expected = fault.outcome(tool)
    baseline = await bench.baseline(tool) if expected is None else None
    counter = bench.sandbox.faults
    assert counter is not None
    hits = counter.hits
    caplog.clear()
    r = await bench.call(tool, fault.timeout, fault)
    text = text_of(r)
    assert not bad_logs(caplog.records), bad_logs(caplog.records)
    met = counter.hits - hits
    assert (met > 0) == (tool in fault.reaches), f"the fault was met {met} times"
    if expected is None:
        assert not r.is_error, text
        assert comparable(r) == baseline
        if tool in fault.reaches and fault.kind != "hang":  # a late answer is not retried: one call meets it once
            assert met == fault.spec.get("count", 1)  # every injected fault was met, and outlasted
    else:
        assert r.is_error, text
        assert_clean_error(tool, text, expected)


def test_the_matrix_covers_every_tool_and_every_fault_kind() -> None:
    assert set().union(*(f.runs for f in FAULTS)) == TOOLS
    kinds = set(Faults.KINDS)
    assert {f.kind for f in FAULTS} == kinds
    for path in (API, FILES):  # every kind on every API path, and on the signed file URLs
        assert {f.kind for f in FAULTS if f.spec.get("path") == path} == kinds, path
    assert all(f.runs == TOOLS for f in FAULTS if f.spec.get("path") == API)
    assert len({f.id for f in FAULTS}) == len(FAULTS)


def test_the_doc_is_current() -> None:
    if os.environ.get("CARGO_MCP_WRITE_DOCS"):
        DOC.write_text(render())
    assert DOC.read_text() == render(), (
        "docs/fault-matrix.md is out of date: CARGO_MCP_WRITE_DOCS=1 uv run pytest tests/test_fault_matrix.py -k doc"
    )
