"""Our own SQL: literals, a run scope as a WHERE clause, and the one call that sends a query through the guard."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.requests import RunFilters
from cargo_mcp.api.sql import MAX_RESULT_ROWS


def lit(value: str) -> str:
    """A ClickHouse string literal."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ts(d: datetime) -> str:
    """A ClickHouse DateTime64(3) literal in UTC."""
    return f"toDateTime64({lit(d.strftime('%Y-%m-%d %H:%M:%S.%f')[:-3])}, 3, 'UTC')"


async def sql(client: CargoClient, text: str) -> list[dict[str, Any]]:
    """Send one of our queries through the same guard as execute_query."""
    from cargo_mcp.guard.async_check import check_async

    verdict = await check_async(text, MAX_RESULT_ROWS)
    if not verdict.allowed:  # a bug in our own SQL, not the user's: reported as an internal error
        raise RuntimeError(f"internal query rejected by the SQL guard: {verdict.reason}")
    return await client.query(verdict.sql)


def runs_where(f: RunFilters) -> str:
    """The ``runs`` rows of a run scope. Filters SQL cannot express (``executions_filter``, the parent and owner
    fields) are left out: the rows are then a superset of the scope's runs."""
    parts = []
    for column, value in (
        ("workflow_uuid", f.workflow_uuid),
        ("batch_uuid", f.batch_uuid),
        ("release_uuid", f.release_uuid),
        ("record_id", f.record_id),
    ):
        if value is not None:
            parts.append(f"{column} = {lit(value)}")
    if f.record_title is not None:  # a title matches by containment, as Cargo's run filter does
        parts.append(f"positionCaseInsensitiveUTF8(record_title, {lit(f.record_title)}) > 0")
    if f.statuses:
        parts.append(f"status IN ({', '.join(lit(s) for s in f.statuses)})")
    if f.is_finished is not None:
        parts.append("is_finished" if f.is_finished else "NOT is_finished")
    if f.created_after is not None:
        parts.append(f"created_at >= {ts(f.created_after)}")
    if f.created_before is not None:
        parts.append(f"created_at < {ts(f.created_before)}")
    return " AND ".join(parts) or "1"
