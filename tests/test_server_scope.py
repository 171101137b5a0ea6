"""One run scope: the filter arguments are declared once, every tool that selects runs resolves them the same way
into Cargo's typed filters, with the same checks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.api import requests as rq
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server import scope
from cargo_mcp.server.services import Services
from tests.conftest import remote_settings
from tests.support import FAST_RETRY, tool_text

pytestmark = pytest.mark.anyio
SCOPED = {"count_runs": scope.RUNS, "list_runs": scope.RUNS, "get_run_metrics": scope.METRICS}
SCOPED |= {"download_outputs": scope.DOWNLOADS, "inspect_failures": scope.FAILURES}


@pytest.fixture
async def services(shared_sandbox: Sandbox) -> AsyncIterator[Services]:
    s = Services(remote_settings(shared_sandbox), retry=FAST_RETRY, timeout=httpx.Timeout(5.0))
    yield s
    await s.aclose()


def a_batch(sb: Sandbox) -> tuple[str, str]:
    b = next(b for b in sb.workspaces[0].batches if b.status == "success" and b.failed_runs_count)
    return b.uuid, b.workflow.uuid


async def test_the_filter_arguments_are_declared_once(mcp_client: Client) -> None:
    tools = {t.name: t.input_schema["properties"] for t in (await mcp_client.list_tools()).tools}
    seen: dict[str, Any] = {}
    for name, preset in SCOPED.items():
        assert [a.name for a in preset] == [p for p in tools[name] if p in {a.name for a in preset}]
        for arg in preset:
            schema = tools[name][arg.name]
            assert seen.setdefault(arg.name, schema) == schema, f"{name}.{arg.name} differs from another tool's"
    assert all(scope.WORKFLOW in preset for preset in SCOPED.values())  # one name for the workflow everywhere


@pytest.mark.parametrize("tool", sorted(SCOPED))
async def test_every_scoped_tool_refuses_an_empty_window(
    mcp_client: Client, shared_sandbox: Sandbox, tool: str
) -> None:
    batch, _ = a_batch(shared_sandbox)
    args = {"batch_uuid": batch, "created_after": "2026-11-24", "created_before": "2026-11-24T00:00:00Z"}
    r = await mcp_client.call_tool(tool, args)
    assert r.is_error and "is not before created_before" in tool_text(r)


async def test_metrics_take_the_workflow_from_the_batch(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    batch, wf = a_batch(shared_sandbox)
    by_batch = await mcp_client.call_tool("get_run_metrics", {"batch_uuid": batch})
    both = await mcp_client.call_tool("get_run_metrics", {"batch_uuid": batch, "workflow": wf})
    took, given = dict(by_batch.structured_content or {}), dict(both.structured_content or {})
    assert took.pop("notes") == [f"workflow_uuid {wf} taken from batch {batch}"] and given.pop("notes") == []
    assert not by_batch.is_error and took == given


async def test_the_resolver_gives_typed_filters(services: Services, shared_sandbox: Sandbox) -> None:
    tool = next(w for w in shared_sandbox.workspaces[0].workflows if w.spec.kind == "tool")
    got = await scope.resolve(
        services,
        scope.ScopeArgs(workflow=f"  {tool.spec.name} ", statuses=["failed"], created_after="7d", record_id=" "),
    )
    assert isinstance(got.filters, rq.RunFilters) and got.workflow_uuid == tool.uuid
    assert got.filters.statuses == ["error"] and isinstance(got.filters.created_after, datetime)
    assert got.filters.record_id is None and got.batch is None
    assert any("'failed' was read as 'error'" in n for n in got.notes)
    assert any(f"is tool {tool.spec.name!r}" in n for n in got.notes)
    body = got.request(rq.DownloadRunOutputs, output_node_slug="output", format="json", limit=10)
    assert body.wire() == {**got.filters.wire(), "outputNodeSlug": "output", "format": "json", "limit": 10}


async def test_the_resolver_names_the_workflow_argument(services: Services, shared_sandbox: Sandbox) -> None:
    batch, _ = a_batch(shared_sandbox)
    other = next(w for w in shared_sandbox.workspaces[0].workflows if w.spec.kind == "play")
    with pytest.raises(InputError, match="give workflow \\("):
        await scope.resolve(services, scope.ScopeArgs())
    with pytest.raises(InputError, match=f"belongs to workflow .*, not {other.uuid!r}: drop workflow "):
        await scope.resolve(services, scope.ScopeArgs(workflow=other.uuid, batch_uuid=batch))
