"""Strict arguments: an unknown argument is an error naming the closest known one (never silently ignored), and a
value of the wrong type or range is a plain sentence — no pydantic jargon, no link, the input clipped."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings
from tests.support import TOOLS, tool_text

pytestmark = pytest.mark.anyio


async def error(client: Client, tool: str, args: dict[str, Any]) -> str:
    r = await client.call_tool(tool, args)
    text: str = tool_text(r)
    assert r.is_error, text
    assert text.startswith(f"Error executing tool {tool}: Invalid input: ") and "pydantic" not in text, text
    return text.removeprefix(f"Error executing tool {tool}: Invalid input: ")


@pytest.fixture
async def offline() -> Any:
    """A server whose Cargo is unreachable: argument checks must answer before any call."""
    async with Client(build_server(Settings(token="t", base_url="http://127.0.0.1:9"))) as c:
        yield c


async def test_a_misspelled_argument_names_the_one_meant(offline: Client) -> None:
    text = await error(offline, "count_runs", {"workflow": "Lead scorer", "status": ["error"]})
    assert text.startswith("unknown argument 'status' — did you mean 'statuses'?")
    assert "(the arguments are: workflow, statuses, batch_uuid" in text
    text = await error(offline, "list_runs", {"batch": "x", "limt": 5})
    assert "unknown argument 'batch' — did you mean 'batch_uuid'?" in text
    assert "unknown argument 'limt' — did you mean 'limit'?" in text
    for tool in ("count_runs", "list_runs", "get_run_metrics", "download_outputs", "inspect_failures"):
        text = await error(offline, tool, {"workflow_uuid": "Lead scorer"})
        assert text.startswith("unknown argument 'workflow_uuid' — did you mean 'workflow'?"), tool
    text = await error(offline, "get_batch", {"batch_uuid": "x", "zzz": 1})
    assert text == "unknown argument 'zzz' (the arguments are: batch_uuid)."


async def test_every_tool_refuses_an_unknown_argument(offline: Client) -> None:
    for tool in sorted(TOOLS):
        text = await error(offline, tool, {"not_an_argument": 1})
        assert text.startswith("unknown argument 'not_an_argument'"), (tool, text)


async def test_an_echoed_unknown_name_is_clipped(offline: Client) -> None:
    text = await error(offline, "get_batch", {"x" * 5000: 1, "batch_uuid": "x"})
    assert "… (5,000 characters)" in text and len(text) < 400


@pytest.mark.parametrize(
    ("tool", "args", "said"),
    [
        ("list_runs", {"workflow": "w", "limit": 500}, "limit must be at most 200, got 500."),
        ("list_runs", {"workflow": "w", "offset": -1}, "offset must be at least 0, got -1."),
        ("list_runs", {"workflow": "w", "limit": "lots"}, "limit must be a whole number, got 'lots'."),
        ("list_runs", {"workflow": "w", "statuses": "error"}, "statuses must be a list, got 'error'."),
        ("list_runs", {"workflow": "w", "statuses": ["error", 5]}, "statuses[1] must be a string, got 5."),
        ("get_run", {"run_uuid": "r", "context_nodes": 5}, "context_nodes must be a list or 'all' or 'failed', got 5."),
        ("execute_query", {"sql": ""}, "sql must have at least 1 character(s), got ''."),
        ("execute_query", {}, "sql is required."),
        ("list_workflows", {"kind": "tools"}, "kind must be 'tool', 'play' or 'all', got 'tools'."),
        (
            "count_runs",
            {"workflow": "w", "is_finished": "maybe"},
            "is_finished must be true or false, got 'maybe'.",
        ),
        ("save_result", {"result_id": "r", "path": "p", "format": "xml"}, "format must be 'csv' or 'json', got 'xml'."),
    ],
)
async def test_bad_values_are_plain_sentences(offline: Client, tool: str, args: dict[str, Any], said: str) -> None:
    text = await error(offline, tool, args)
    assert text == said and "errors.pydantic.dev" not in text and "Input should" not in text


async def test_a_huge_bad_value_is_clipped(offline: Client) -> None:
    text = await error(offline, "list_runs", {"workflow": "w", "limit": "9" * 100_000 + "x"})
    assert text.startswith("limit must be a whole number, got '999") and "(100,001 characters)" in text
    assert len(text) < 300


async def test_good_arguments_still_work(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    batch = next(b for b in shared_sandbox.workspaces[0].batches if b.status == "success")
    r = await mcp_client.call_tool("count_runs", {"batch_uuid": batch.uuid, "statuses": ["finished"]})
    assert not r.is_error and (r.structured_content or {})["count"] > 0
