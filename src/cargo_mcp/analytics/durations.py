"""Execution durations per node: p50, p95 and max over the finished executions of a run scope."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cargo_mcp.analytics.sql import lit, runs_where, sql, ts
from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.requests import RunFilters


@dataclass(frozen=True)
class Durations:
    """Milliseconds; a percentile is the value at rank ⌊level · n⌋ of the sorted durations (ClickHouse's
    ``quantileExact``)."""

    p50_ms: int
    p95_ms: int
    max_ms: int


def query(f: RunFilters, since: datetime | None) -> str:
    """Durations by node UUID (so nodes sharing a slug stay apart) of the executions of ``f``'s runs.

    ``since`` is a lower bound of the runs' creation (executions start after their run is created): it bounds the
    scan of ``spans``, whose sorting key starts with the execution time."""
    assert f.workflow_uuid is not None
    where = [f"workflow_uuid = {lit(f.workflow_uuid)}", "isNotNull(execution_finished_at)"]
    if since is not None:
        where.append(f"execution_started_at >= {ts(since)}")
    if f.batch_uuid is not None:
        where.append(f"batch_uuid = {lit(f.batch_uuid)}")
    if f.model_dump(exclude={"workflow_uuid", "batch_uuid"}, exclude_none=True):
        where.append(f"run_uuid IN (SELECT uuid FROM runs WHERE {runs_where(f)})")
    duration = "dateDiff('millisecond', execution_started_at, execution_finished_at)"
    return (
        f"SELECT node_uuid, quantileExact(0.5)({duration}) AS p50, quantileExact(0.95)({duration}) AS p95, "
        f"max({duration}) AS top FROM spans WHERE {' AND '.join(where)} GROUP BY node_uuid"
    )


async def node_durations(client: CargoClient, f: RunFilters, since: datetime | None) -> dict[str, Durations]:
    """Durations of each node that has finished executions in the scope, by node UUID."""
    return {
        str(r["node_uuid"]): Durations(int(r["p50"]), int(r["p95"]), int(r["top"]))
        for r in await sql(client, query(f, since))
    }
