"""Constants and typed answer readers shared by test modules."""

from typing import Any

from mcp.types import CallToolResult, GetPromptResult, ReadResourceResult, TextContent, TextResourceContents

from cargo_mcp.api.retry import RetryPolicy

# Quick retries so fault-injection tests stay fast; same logic as production.
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=5.0)

# The official TypeScript client (its types are Cargo's published contract).
CARGO_CLIENT = {"@cargo-ai/api": "1.0.57"}

# The public interface: every tool the server registers.
TOOLS = {
    "list_workflows",
    "get_workflow_nodes",
    "get_run",
    "get_batch",
    "count_runs",
    "list_runs",
    "get_run_metrics",
    "download_outputs",
    "execute_query",
    "inspect_failures",
    "trace_run",
    "read_result",
    "list_releases",
    "list_batches",
    "save_result",
}


def tool_text(result: CallToolResult) -> str:
    """The text block every tool answer starts with."""
    block = result.content[0]
    assert isinstance(block, TextContent), block
    return block.text


def structured(result: CallToolResult) -> dict[str, Any]:
    """A tool answer's structured content (every tool of ours has an output schema)."""
    content = result.structured_content  # typed Any by the SDK
    assert isinstance(content, dict), tool_text(result)
    return content


def resource_text(result: ReadResourceResult) -> str:
    """The text of a resource read's first content."""
    contents = result.contents[0]
    assert isinstance(contents, TextResourceContents), contents
    return contents.text


def prompt_text(result: GetPromptResult) -> str:
    """The text of a prompt's first message."""
    content = result.messages[0].content
    assert isinstance(content, TextContent), content
    return content.text
