"""A lean manual: tools/list within its budgets — in total, and the part a model reads (descriptions and input
schemas) — and schemas that lost only generated noise."""

from __future__ import annotations

from typing import Any

import pytest
from mcp import Client

from cargo_mcp.server.app import build_server
from cargo_mcp.server.manual import READ_BUDGET, TOTAL_BUDGET, lean, size, sizes
from cargo_mcp.settings import Settings

pytestmark = pytest.mark.anyio


async def listed() -> dict[str, Any]:
    async with Client(build_server(Settings())) as client:
        result = await client.list_tools()
    return result.model_dump(mode="json", by_alias=True, exclude_none=True)


async def test_tools_list_fits_its_budgets() -> None:
    whole = await listed()
    per_tool = sizes(whole)
    total, read = size(whole), sum(r for _, r in per_tool.values())
    table = "\n".join(f"{name:20} {b:6,} bytes, read {r:6,}" for name, (b, r) in sorted(per_tool.items()))
    report = f"tools/list {total:,} bytes (budget {TOTAL_BUDGET:,}); read {read:,} (budget {READ_BUDGET:,})\n{table}"
    print(report)
    assert total <= TOTAL_BUDGET and read <= READ_BUDGET, report
    assert total > sum(b for b, _ in per_tool.values())  # the measure is of the whole answer


def test_lean_schemas_keep_the_meaning() -> None:
    arg = {"anyOf": [{"type": "string", "format": "uuid"}, {"type": "null"}], "default": None, "title": "Batch Uuid"}
    assert lean(arg, output=False) == {"type": "string", "format": "uuid"}
    assert lean(arg, output=True) == {"type": ["string", "null"], "format": "uuid"}
    limit = {"type": "integer", "default": 20, "maximum": 200, "description": "Runs per page.", "title": "Limit"}
    assert lean(limit, output=False) == {
        "type": "integer",
        "default": 20,
        "maximum": 200,
        "description": "Runs per page.",
    }
    model = {
        "$defs": {"Row": {"properties": {"a": {"type": "string"}}, "type": "object", "title": "Row"}},
        "properties": {
            "title": {"type": "string", "title": "Title"},  # a field named title is kept
            "rows": {"items": {"$ref": "#/$defs/Row"}, "type": "array"},
            "batch": {"anyOf": [{"$ref": "#/$defs/Row"}, {"type": "null"}], "default": None},
            "extra": {"additionalProperties": True, "type": "object", "description": "x"},
        },
        "required": ["title"],
        "type": "object",
        "title": "Model",
    }
    assert lean(model, output=True) == {
        "properties": {
            "title": {"type": "string"},
            "rows": {"items": {"type": "object"}, "type": "array"},
            "batch": {"type": ["object", "null"]},
            "extra": {"type": "object"},
        },
        "type": "object",
    }
    assert lean(model, output=False)["required"] == ["title"]


async def test_structured_answers_still_match_their_output_schemas(mcp_client: Client, shared_sandbox: Any) -> None:
    """The MCP client validates structured content against the (lean) output schema."""
    batch = next(b for b in shared_sandbox.workspaces[0].batches if b.failed_runs_count)
    for tool, args in [("get_batch", {"batch_uuid": batch.uuid}), ("inspect_failures", {"batch_uuid": batch.uuid})]:
        r = await mcp_client.call_tool(tool, args)
        assert not r.is_error and r.structured_content, r.content
