"""Node lookups for runs and metrics: releases are immutable, so they are cached by UUID."""

from __future__ import annotations

from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Node, Release, Run
from cargo_mcp.server.backend import Backend


async def release(b: Backend, uuid: str) -> Release | None:
    """The release, or ``None`` when Cargo does not know it (ad-hoc runs)."""
    key = f"release:{uuid}"
    hit = b.cache.get(key)
    if hit is not None:
        return hit[1]  # type: ignore[no-any-return]
    try:
        rel = await (await b.client()).get_release(uuid)
    except CargoApiError as e:
        if e.status == 404:
            return None
        raise
    b.cache[key] = (float("inf"), rel)
    return rel


async def nodes_of_run(b: Backend, run: Run) -> list[Node]:
    """The nodes a run executed: its release's, or the ones an ad-hoc run carries."""
    if run.nodes:
        return run.nodes
    rel = await release(b, run.release_uuid) if run.release_uuid else None
    return rel.nodes if rel else []


async def nodes_of_workflow(b: Backend, workflow_uuid: str) -> dict[str, tuple[Node, str]]:
    """Every node of every release of a workflow, by node UUID, with its release UUID."""
    rels = await (await b.client()).list_releases(workflowUuid=workflow_uuid, limit=100)
    return {n.uuid: (n, r.uuid) for r in rels for n in r.nodes}
