"""The documented journeys reach each planted failure's node and error in at most four tool calls.

The test plays the agent: it starts from the batch a user would ask about and follows the server's
instructions, reading only tool answers; the sandbox's ground truth is used for the verdict alone.
"""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from tests.support import structured, tool_text

pytestmark = pytest.mark.anyio


class Agent:
    """Counts tool calls and fails on tool errors."""

    def __init__(self, client: Client) -> None:
        self.client = client
        self.calls = 0

    async def __call__(self, name: str, **args: Any) -> dict[str, Any]:
        self.calls += 1
        r = await self.client.call_tool(name, args)
        assert not r.is_error, tool_text(r)
        return structured(r)


def batch_led_by(sb: Sandbox, cause: str) -> tuple[str, int]:
    """The batch a user would ask about for this cause: the one with most of it, among the batches where it
    outnumbers every other node error (filter stops are not errors)."""
    truth = sb.workspaces[0].truth
    by_batch: dict[str, int] = truth[cause]["by_batch"]
    rivals = (
        [t["by_batch"] for c, t in truth.items() if c not in (cause, "filter_stop")] if cause != "filter_stop" else []
    )

    def dominant(batch: str) -> bool:
        return all(rival.get(batch, 0) < by_batch[batch] for rival in rivals)

    return max(((b, n) for b, n in by_batch.items() if dominant(b)), key=lambda kv: kv[1])


@pytest.mark.parametrize(
    "cause", ["rate_limit", "expired_credentials", "agent_max_steps", "provider_timeout", "data_error"]
)
async def test_failing_cause_in_four_calls(mcp_client: Client, shared_sandbox: Sandbox, cause: str) -> None:
    truth = shared_sandbox.workspaces[0].truth[cause]
    batch_uuid, expected = batch_led_by(shared_sandbox, cause)
    agent = Agent(mcp_client)
    batch = await agent("get_batch", batch_uuid=batch_uuid)
    assert batch["failed_runs_count"] > 0
    metrics = await agent("get_run_metrics", workflow=batch["workflow_uuid"], batch_uuid=batch_uuid)
    worst = metrics["nodes"][0]["slug"]
    runs = await agent("list_runs", batch_uuid=batch_uuid, statuses=["failed"], node_status={worst: "error"}, limit=5)
    run = await agent("get_run", run_uuid=runs["runs"][0]["uuid"])
    assert agent.calls <= 4
    assert worst == run["failing_node"] == truth["node_slug"]
    assert runs["total"] == expected
    sandbox_run = shared_sandbox.workspaces[0].runs_by_uuid[run["run_uuid"]]
    assert run["error_message"] == sandbox_run.error_message and run["error_message"]


async def test_fallback_absorbed_failures_are_shown_as_absorbed(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    truth = shared_sandbox.workspaces[0].truth["fallback_absorbed"]
    batch_uuid, expected = batch_led_by(shared_sandbox, "fallback_absorbed")
    agent = Agent(mcp_client)
    batch = await agent("get_batch", batch_uuid=batch_uuid)
    metrics = await agent("get_run_metrics", workflow=batch["workflow_uuid"], batch_uuid=batch_uuid)
    worst = metrics["nodes"][0]["slug"]
    runs = await agent("list_runs", batch_uuid=batch_uuid, node_status={worst: "error"}, limit=5)
    run = await agent("get_run", run_uuid=runs["runs"][0]["uuid"])
    assert agent.calls <= 4 and worst == truth["node_slug"] and runs["total"] == expected
    step = next(s for s in run["path"] if s["slug"] == worst)
    assert step["status"] == "error" and step["next"].startswith("[on failure] ")
    assert run["status"] == "success" and run["failing_node"] is None


async def test_filter_stops_are_found_and_are_not_failures(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    truth = shared_sandbox.workspaces[0].truth["filter_stop"]
    batch_uuid, expected = batch_led_by(shared_sandbox, "filter_stop")
    agent = Agent(mcp_client)
    graph = await agent("get_workflow_nodes", batch_uuid=batch_uuid)
    filters = [n for n in graph["nodes"] if n["action"] == "filter"]
    assert [f["slug"] for f in filters] == [truth["node_slug"]]
    after = filters[0]["children"][0]["slug"]
    node_status = {filters[0]["slug"]: "success", after: "absent"}
    runs = await agent("list_runs", batch_uuid=batch_uuid, statuses=["success"], node_status=node_status, limit=5)
    run = await agent("get_run", run_uuid=runs["runs"][0]["uuid"])
    assert agent.calls <= 4 and runs["total"] == expected
    assert run["stopped_at"] == truth["node_slug"] and run["failing_node"] is None and run["status"] == "success"
