"""The size of the tool manual: the tools/list result in bytes, and the part a model reads.

Usage: uv run python bench/manual.py
Writes the "Tool manual" section of docs/benchmarks.md (the budgets are tested by tests/test_manual.py).
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio
from mcp import Client

sys.path.insert(0, str(Path(__file__).resolve().parent))
from report import write_section

from cargo_mcp.server.app import build_server
from cargo_mcp.server.manual import READ_BUDGET, TOTAL_BUDGET, size, sizes
from cargo_mcp.settings import Settings

# Before issue 14 (descriptions and pydantic's schemas as generated, 12 tools).
BEFORE_TOTAL, BEFORE_READ = 47_494, 19_071


async def main() -> None:
    async with Client(build_server(Settings())) as client:
        listed = (await client.list_tools()).model_dump(mode="json", by_alias=True, exclude_none=True)
    per_tool = sizes(listed)
    total, read = size(listed), sum(r for _, r in per_tool.values())
    rows = "\n".join(f"| `{name}` | {b:,} | {r:,} |" for name, (b, r) in sorted(per_tool.items()))
    body = f"""
Bytes of the `tools/list` result as sent (compact UTF-8 JSON), and of the part a model reads: each tool's
description and input schema. {len(per_tool)} tools.

| | Total | Descriptions + input schemas |
|---|---:|---:|
| Before (issue 14; 12 tools) | {BEFORE_TOTAL:,} | {BEFORE_READ:,} |
| **Now** | **{total:,}** | **{read:,}** |
| Budget (tested) | {TOTAL_BUDGET:,} | {READ_BUDGET:,} |

| Tool | Bytes | Read |
|---|---:|---:|
{rows}
"""
    write_section("Tool manual", body)
    print(body)


if __name__ == "__main__":
    anyio.run(main)
