"""Runs by release: the window of runs each release served, and which release each run of a scope ran on."""

from __future__ import annotations

from dataclasses import dataclass

from cargo_mcp.analytics.sql import lit, runs_where, sql
from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.requests import RunFilters
from cargo_mcp.api.sql import MAX_RESULT_ROWS


@dataclass(frozen=True)
class Window:
    """The runs of one release in a scope: how many, how many failed, first and last creation (epoch ms)."""

    runs: int
    failed: int
    first_ms: int
    last_ms: int


async def windows(client: CargoClient, f: RunFilters) -> dict[str | None, Window]:
    """The runs of ``f`` (a superset when it filters on node executions) by release UUID (None: no release)."""
    rows = await sql(
        client,
        "SELECT release_uuid, count() AS runs, countIf(status = 'error') AS failed, "
        "toUnixTimestamp64Milli(min(created_at)) AS first_at, toUnixTimestamp64Milli(max(created_at)) AS last_at "
        f"FROM runs WHERE {runs_where(f)} GROUP BY release_uuid",
    )
    return {
        r["release_uuid"] or None: Window(int(r["runs"]), int(r["failed"]), int(r["first_at"]), int(r["last_at"]))
        for r in rows
    }


async def release_of_runs(
    client: CargoClient, f: RunFilters, besides: str | None, most: int
) -> dict[str, str | None] | None:
    """The release of each run of ``f`` that did not run on ``besides`` (None: no release), or None when there are
    more than ``most`` such runs; read in pages of the SQL row cap."""
    where = f"{runs_where(f)} AND ifNull(release_uuid, '') != {lit(besides or '')}"
    out: dict[str, str | None] = {}
    while len(out) <= most:
        page = await sql(
            client,
            f"SELECT uuid, ifNull(release_uuid, '') AS release FROM runs WHERE {where} "
            f"ORDER BY uuid LIMIT {MAX_RESULT_ROWS} OFFSET {len(out)}",
        )
        out.update((str(r["uuid"]), r["release"] or None) for r in page)
        if len(page) < MAX_RESULT_ROWS:
            return out if len(out) <= most else None
    return None
