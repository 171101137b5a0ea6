"""Every malformed value a tool argument can carry — a NUL, a megabyte, an integer past 64 bits, a wrong type — is a
clean error naming the argument (or, where it is a legal value, an ordinary answer), and no error echoes more than a
clipped piece of the input."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.results.store import ResultStore
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from cargo_mcp.settings import Settings
from tests.support import FAST_RETRY, TOOLS

pytestmark = pytest.mark.anyio

MEGABYTE = "a" * 1_000_000
# Hostile values by the JSON type the argument takes.
HOSTILE: dict[str, list[Any]] = {
    "string": ["ab\x00cd", MEGABYTE, 12345, ["x"]],
    "integer": [2**63, 2**64, -(2**63) - 1, -1, 1.5, "12x", MEGABYTE, [1]],
    "boolean": ["maybe", 2, MEGABYTE],
    "array": [["a\x00b"], [MEGABYTE], ["x"] * 100_000, "not a list", [1, 2]],
    "object": [
        {"a\x00b": "error"},
        {MEGABYTE: "error"},
        {"k": MEGABYTE},
        {"k": {"status": "error", "contains": MEGABYTE}},
        "not an object",
    ],
}
LOCATORS = {"workflow", "batch_uuid", "run_uuid", "release_uuid"}  # get_workflow_nodes takes exactly one


def kinds(schema: dict[str, Any]) -> set[str]:
    """The JSON types an argument's schema admits (unions and enums included)."""
    found = {schema["type"]} if isinstance(schema.get("type"), str) else set()
    if "enum" in schema or "const" in schema:
        found.add("string")
    for option in schema.get("anyOf", []):
        found |= kinds(option)
    return found - {"null"}


@pytest.fixture
async def client(shared_sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[tuple[Client, dict[str, dict[str, Any]]]]:
    ws = shared_sandbox.workspaces[0]
    batch = min((b for b in ws.batches if b.failed_runs_count), key=lambda b: b.runs_count)
    run = next(r for r in ws.runs if r.batch is batch and r.status == "error")
    (tmp_path / "exports").mkdir()
    stored = ResultStore(tmp_path).create(["recordId", "score"], iter([{"recordId": "a", "score": 1}]), "args")
    settings = Settings(
        token=ws.token, base_url=shared_sandbox.base_url, results_dir=tmp_path, export_dir=tmp_path / "exports"
    )
    base: dict[str, dict[str, Any]] = {
        "list_workflows": {},
        "get_workflow_nodes": {},
        "get_batch": {"batch_uuid": batch.uuid},
        "count_runs": {"batch_uuid": batch.uuid},
        "list_runs": {"batch_uuid": batch.uuid, "limit": 1},
        "get_run": {"run_uuid": run.uuid},
        "get_run_metrics": {"batch_uuid": batch.uuid},
        "download_outputs": {"batch_uuid": batch.uuid, "statuses": ["error"], "limit": 1},
        "execute_query": {"sql": "SELECT 1 AS one"},
        "inspect_failures": {"batch_uuid": batch.uuid},
        "trace_run": {"run_uuid": run.uuid},
        "read_result": {"result_id": stored.result_id},
        "save_result": {"result_id": stored.result_id, "path": "args.csv", "overwrite": True},
        "list_releases": {"workflow": batch.workflow.uuid},
        "list_batches": {"limit": 1},
    }
    server = build_server(
        settings, services_factory=lambda: Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(20))
    )
    async with Client(server) as c:
        yield c, base


@pytest.mark.parametrize("tool", sorted(TOOLS))
async def test_every_argument_refuses_malformed_values_cleanly(
    client: tuple[Client, dict[str, dict[str, Any]]], caplog: pytest.LogCaptureFixture, tool: str
) -> None:
    c, base = client
    listed = {t.name: t for t in (await c.list_tools()).tools}
    properties: dict[str, Any] = listed[tool].input_schema["properties"]
    assert properties
    for arg, schema in properties.items():
        values = [v for kind in sorted(kinds(schema)) for v in HOSTILE[kind]]
        assert values, f"{tool}.{arg}: no hostile values for {schema}"
        for value in values:
            args = {**({} if tool == "get_workflow_nodes" and arg in LOCATORS else base[tool]), arg: value}
            caplog.clear()
            r = await c.call_tool(tool, args)
            text = "".join(getattr(part, "text", "") for part in r.content)
            what = f"{tool}({arg}={str(value)[:40]!r}…): {text[:300]}"
            assert "internal error" not in text and "Traceback" not in text, what
            assert not [
                x for x in caplog.records if x.levelno >= logging.ERROR and x.name.startswith(("cargo_mcp", "mcp"))
            ], what
            assert "\x00" not in text and len(text) < 4000, what  # clipped: never the megabyte back
            if r.is_error:
                assert text.startswith(f"Error executing tool {tool}: ") and arg.lower() in text.lower(), what
