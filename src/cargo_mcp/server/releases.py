"""Node lookups for runs and metrics: releases are immutable, so they are cached by UUID."""

from __future__ import annotations

from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Node, Release, Run
from cargo_mcp.api.vocabulary import InputError
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


PAGE = 100
MAX_PAGES = 10


async def of_workflow(b: Backend, workflow_uuid: str) -> tuple[list[Release], bool]:
    """The workflow's releases (newest deploys may add some: cached briefly) and whether the list is complete."""
    key = f"releases:{workflow_uuid}"
    hit = b.cached(key)
    if hit is not None:
        return hit  # type: ignore[no-any-return]
    client = await b.client()
    rels: list[Release] = []
    for page in range(MAX_PAGES):
        batch = await client.list_releases(workflowUuid=workflow_uuid, limit=PAGE, offset=page * PAGE)
        rels += batch
        if len(batch) < PAGE:
            return b.remember(key, (rels, True))  # type: ignore[no-any-return]
    return b.remember(key, (rels, False))  # type: ignore[no-any-return]


async def nodes_of_workflow(b: Backend, workflow_uuid: str) -> dict[str, tuple[Node, str]]:
    """Every node of every release of a workflow, by node UUID, with its release UUID."""
    rels, _ = await of_workflow(b, workflow_uuid)
    return {n.uuid: (n, r.uuid) for r in rels for n in r.nodes}


async def check_slugs(b: Backend, workflow_uuid: str, slugs: list[str], arg: str) -> None:
    """Refuse node slugs that no release of the workflow has (a typo would otherwise match nothing)."""
    rels, complete = await of_workflow(b, workflow_uuid)
    known = {n.slug for r in rels for n in r.nodes}
    unknown = [s for s in slugs if s not in known]
    if unknown and known and complete:
        deployed = next((r for r in rels if r.status == "deployed"), rels[0])
        raise InputError(
            f"{arg} names node slug(s) {', '.join(map(repr, unknown))} that no release of this workflow has. "
            f"Slugs of the deployed release: {', '.join(dict.fromkeys(n.slug for n in deployed.nodes))}. "
            "get_workflow_nodes shows the graph."
        )
