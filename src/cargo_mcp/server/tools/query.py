"""Journey 3 — read-only analytics SQL over Cargo's four tables, and the schema resource."""

from __future__ import annotations

from typing import Annotated, Any

import anyio.to_thread
from mcp.server.mcpserver import Context, MCPServer
from mcp.types import CallToolResult
from pydantic import BaseModel, Field

from cargo_mcp import metrics
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.sql import CAPS_SUMMARY, MAX_COLUMNS_READ, MAX_RESULT_ROWS, MAX_SUBQUERY_DEPTH, TABLES
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.server.render import Text
from cargo_mcp.server.tooling import add_tool, answer, doc, services, tool_errors
from cargo_mcp.server.tools.results import result_calls

SCHEMA_URI = "cargo://sql/schema"
SQL_MORE = "aggregate, select fewer columns, or page with LIMIT … OFFSET … in the SQL"
# Statuses with which Cargo refuses a query for its SQL; others (auth, rate limits, redirects, a malformed answer,
# server errors) are no fault of the SQL.
SQL_STATUSES = frozenset({400, 413, 422})


class QueryResult(BaseModel):
    sql: str = Field(description="The SQL sent to Cargo: comments dropped, the guard's LIMIT applied.")
    columns: list[str]
    rows: list[dict[str, Any]]
    row_count: int
    truncated: bool = Field(description="More rows exist than were returned (raise max_rows or aggregate).")
    limit_applied: int | None = Field(None, description="The row limit the guard added or lowered, if any.")
    advice: list[str] = Field(default_factory=list, description="Pre-flight advice on caps the query may hit.")
    result_id: str | None = Field(None, description="The rows, stored when the text could not show them all.")


@tool_errors
@doc(caps=CAPS_SUMMARY, columns=MAX_COLUMNS_READ, depth=MAX_SUBQUERY_DEPTH, width=len(TABLES["runs"]))
async def execute_query(
    ctx: Context[Any, Any],
    sql: Annotated[str, Field(description="One ClickHouse SELECT (or WITH … SELECT).", min_length=1)],
    max_rows: Annotated[int, Field(ge=1, le=MAX_RESULT_ROWS, description="Most rows.")] = 1000,
) -> Annotated[CallToolResult, QueryResult]:
    """One read-only ClickHouse SELECT over runs (uuid, workflow_uuid, batch_uuid, release_uuid,
    record_id, record_title, status, error_message, credits_used_count, created_at, finished_at, … {width}
    columns: never SELECT *), batches (uuid, workflow_uuid, status, runs_count, failed_runs_count, created_at, …),
    spans (node executions: run_uuid, workflow_uuid, node_slug, node_uuid, execution_status, execution_error_message,
    execution_started_at, …), records (id, title, run_uuid, status, …); all columns: cargo://sql/schema.
    Caps: {caps} (filter on time), {columns} columns read, subquery depth {depth}.
    A guard refuses writes and system tables, saying what to send, and sets the LIMIT."""
    from cargo_mcp.guard.async_check import check_async
    from cargo_mcp.guard.explain import next_step  # lazy: the guard imports sqlglot (slow)

    verdict = await check_async(sql, min(max_rows + 1, MAX_RESULT_ROWS))
    if not verdict.allowed:
        metrics.GUARD_REFUSALS.inc()
        raise InputError(f"SQL refused before sending: {verdict.reason}")
    try:
        rows = await (await services(ctx).cargo()).query(verdict.sql)
    except CargoApiError as e:
        if e.status not in SQL_STATUSES:  # not a refusal of this SQL: Cargo's own hint stands
            raise
        raise CargoApiError(e.message, status=e.status, reason=e.reason, hint=next_step(e.message, sql)) from None
    truncated = len(rows) > max_rows or len(rows) >= MAX_RESULT_ROWS
    rows = rows[:max_rows]
    columns = list(rows[0]) if rows else []
    head = f"{len(rows):,} row(s)"
    if truncated:
        more = f"raise max_rows (at most {MAX_RESULT_ROWS:,}) or aggregate"
        more = more if max_rows < MAX_RESULT_ROWS else "aggregate or filter more"
        head += f" (truncated at {max_rows:,}: more rows exist; {more})"
    applied = max_rows if verdict.limit_applied is not None else None
    limit = (
        f"; the guard set the outer LIMIT {verdict.limit_applied:,}: max_rows {max_rows:,} plus one row that tells "
        "whether more exist"
        if verdict.limit_applied is not None
        else ""
    )
    text = Text(head + limit)
    text.add(f"SQL sent: {text.excerpt(verdict.sql, 2000, 'sql')}", *(f"Advice: {a}" for a in verdict.advice))
    s = services(ctx)
    rid = s.store.new_id()
    if rows:
        text.table(rows, columns, data=True, **result_calls(rid, 0, len(rows)))
    stored = rid if any(rid in m for m in text.markers) else None
    if stored:  # the text could not show every row or cell: keep them for read_result
        await anyio.to_thread.run_sync(
            lambda: s.store.create(columns, rows, f"query: {verdict.sql[:200]}", result_id=rid, made_by="execute_query")
        )
        text.add(
            f"The rows are stored as result {rid}: read_result pages, filters and sorts them; save_result saves them."
        )
    result = QueryResult(
        sql=verdict.sql,
        columns=columns,
        rows=rows,
        row_count=len(rows),
        truncated=truncated,
        limit_applied=applied,
        advice=verdict.advice,
        result_id=stored,
    )
    return answer(result, str(text))


def register(mcp: MCPServer[Any]) -> None:
    add_tool(mcp, execute_query, "Run read-only analytics SQL")

    @mcp.resource(
        SCHEMA_URI,
        name="sql_schema",
        title="Cargo SQL tables, columns, caps and examples",
        description="The four tables execute_query can read (columns and ClickHouse types), the caps and examples.",
        mime_type="text/markdown",
    )
    def sql_schema() -> str:
        from cargo_mcp.guard.schema_doc import schema_markdown

        return schema_markdown()
