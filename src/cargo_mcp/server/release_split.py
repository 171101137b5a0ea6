"""The release split of a stored download: which releases its runs ran on, and the output columns only some fill."""

from __future__ import annotations

import anyio.to_thread

from cargo_mcp.analytics.releases import release_of_runs, windows
from cargo_mcp.api.requests import RunFilters
from cargo_mcp.results.store import ResultMeta
from cargo_mcp.server.releases import label
from cargo_mcp.server.services import Services

MAPPED_RUNS_MOST = 50_000  # runs outside the main release whose release is read (5 SQL pages)
RUN_KEY = "runUuid"


async def release_note(s: Services, meta: ResultMeta, filters: RunFilters, outputs: list[str]) -> str | None:
    """A note when the result's runs span several releases: its rows per release and the output columns that are
    filled in some releases and empty in every row of another; None when they ran on one release."""
    if not meta.rows or RUN_KEY not in meta.columns or filters.workflow_uuid is None:
        return None
    client = await s.cargo()
    served = await windows(client, filters)
    if len(served) < 2:
        return None
    rels, _ = await s.releases.of_workflow(filters.workflow_uuid)
    short = {r.uuid: label(r) for r in rels}

    def name(u: str | None, full: bool = False) -> str:
        if u is None:
            return "no release"
        tag = short.get(u, u)
        return f"{tag} (release {u})" if full and tag != u else tag

    main = max(served, key=lambda u: served[u].runs)
    mapped = await release_of_runs(client, filters, main, MAPPED_RUNS_MOST)
    if mapped is None:
        counts = ", ".join(f"{name(u, True)} {w.runs:,}" for u, w in served.items())
        return (
            f"the runs span {len(served)} releases ({counts} run(s) matching the filters other than node_status); "
            f"output columns were not compared per release: more than {MAPPED_RUNS_MOST:,} runs are outside the "
            "main release. Narrow the window to compare them."
        )
    groups = await anyio.to_thread.run_sync(
        lambda: s.store.filled_by_group(meta.result_id, RUN_KEY, mapped, main, outputs)
    )
    if len(groups) < 2:
        return None
    order = sorted(groups, key=lambda u: served[u].first_ms if u in served else 0)
    note = f"the rows come from {len(groups)} releases: " + ", ".join(
        f"{name(u, True)} {groups[u][0]:,}" for u in order
    )
    note += " row(s)"
    silent = [name(u) for u in order if not groups[u][1]]
    if silent:
        note += f"; no row of {', '.join(silent)} has any output"
    reached = [u for u in order if groups[u][1]]
    differ: dict[tuple[str, ...], list[str]] = {}  # the releases that fill a column -> those columns
    for c in outputs:
        where = tuple(name(u) for u in reached if c in groups[u][1])
        if 0 < len(where) < len(reached):
            differ.setdefault(where, []).append(c)
    if differ:
        first = {name(u): i for i, u in enumerate(reached)}
        note += ". Output columns filled in only some releases: " + "; ".join(
            f"{', '.join(where)} only: {', '.join(differ[where])}"
            for where in sorted(differ, key=lambda w: first[w[0]])
        )
    elif len(reached) > 1:
        note += ". Every release fills the same output columns"
    return note + "."
