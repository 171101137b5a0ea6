"""Journey 3 — read-only analytics SQL over runs, batches, spans and records."""

from __future__ import annotations

from typing import Annotated, Any

from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.guard.caps import MAX_ROWS
from cargo_mcp.server.render import table
from cargo_mcp.server.tooling import add_tool, answer, backend, tool_errors


class QueryResult(BaseModel):
    sql: str = Field(description="The SQL sent to Cargo (after the guard's LIMIT).")
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool = Field(description="More rows exist than were returned (raise max_rows or aggregate).")
    limit_applied: int | None = Field(None, description="The LIMIT the guard added or lowered, if any.")
    advice: list[str] = Field(default_factory=list)


@tool_errors
async def execute_query(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="One ClickHouse SELECT (or WITH … SELECT).", min_length=1)],
    max_rows: Annotated[int, Field(ge=1, le=MAX_ROWS, description="Most rows to return.")] = 1000,
) -> Annotated[CallToolResult, QueryResult]:
    """Run one read-only ClickHouse SELECT over the workspace's tables runs, batches, spans (one row per
    node execution) and records; no schema prefix. Caps: 30 s, 10,000 result rows, 10,000,000 rows read,
    50 columns read (so never SELECT * FROM runs), subquery depth 5. Always filter on time
    (runs.created_at, spans.execution_started_at). Example: SELECT node_slug, countIf(execution_status =
    'error') AS errors FROM spans WHERE workflow_uuid = '<uuid>' AND execution_started_at > now() -
    INTERVAL 1 DAY GROUP BY node_slug ORDER BY errors DESC. Returns columns, rows, row_count, truncated."""
    from cargo_mcp.guard.sql import check  # lazy: sqlglot is slow to import

    probe = min(max_rows + 1, MAX_ROWS)
    verdict = check(sql, probe)
    if not verdict.allowed:
        raise InputError(f"SQL rejected before sending: {verdict.reason}")
    rows = await (await backend(ctx).client()).query(verdict.sql)
    truncated = len(rows) > max_rows or len(rows) >= MAX_ROWS
    rows = rows[:max_rows]
    columns = list(rows[0]) if rows else []
    result = QueryResult(
        sql=verdict.sql,
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        limit_applied=max_rows if verdict.limit_applied is not None else None,
        advice=verdict.advice,
    )
    head = f"{len(rows):,} row(s)" + (" (truncated: more rows exist)" if truncated else "")
    return answer(result, head + "\n" + table(rows, columns, max_chars=6000))


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, execute_query, "Run read-only analytics SQL")
