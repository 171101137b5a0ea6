"""The workflow catalog: tools and plays joined with workflows (workflows themselves have no name)."""

from __future__ import annotations

import anyio
from pydantic import BaseModel, Field

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Play, Tool, Workflow
from cargo_mcp.api.vocabulary import InputError, is_uuid
from cargo_mcp.server.backend import Backend


class WorkflowEntry(BaseModel):
    """One named workflow: a tool or a play."""

    name: str
    kind: str = Field(description="'tool' or 'play'.")
    workflow_uuid: str
    tool_uuid: str | None = None
    play_uuid: str | None = None
    model_uuid: str | None = Field(None, description="A play's model (for re-running record ids).")
    deployed_release_uuid: str | None = None
    last_batch_uuid: str | None = None
    last_batch_status: str | None = None
    last_batch_created_at: str | None = None


async def load(backend: Backend) -> list[WorkflowEntry]:
    """All tools and plays of the workspace (cached for a few seconds)."""
    hit = backend.cached("catalog")
    if hit is not None:
        return list(hit)
    client = await backend.client()
    workflows, tools, plays = await _fetch(client)
    by_uuid = {w.uuid: w for w in workflows}
    entries = [_entry(t.name, "tool", by_uuid.get(t.workflow_uuid), t.workflow_uuid, tool=t) for t in tools]
    entries += [_entry(p.name, "play", by_uuid.get(p.workflow_uuid), p.workflow_uuid, play=p) for p in plays]
    entries.sort(key=lambda e: (e.kind, e.name.lower()))
    backend.remember("workflow_uuids", frozenset(w.uuid for w in workflows))  # ad-hoc workflows too
    return list(backend.remember("catalog", entries))


async def _fetch(client: CargoClient) -> tuple[list[Workflow], list[Tool], list[Play]]:
    out: dict[str, list] = {}  # type: ignore[type-arg]

    async def get(key: str, fn) -> None:  # type: ignore[no-untyped-def]
        out[key] = await fn()

    async with anyio.create_task_group() as tg:
        tg.start_soon(get, "w", client.list_workflows)
        tg.start_soon(get, "t", client.list_tools)
        tg.start_soon(get, "p", client.list_plays)
    return out["w"], out["t"], out["p"]


def _entry(
    name: str,
    kind: str,
    wf: Workflow | None,
    workflow_uuid: str,
    tool: Tool | None = None,
    play: Play | None = None,
) -> WorkflowEntry:
    last = wf.last_batch if wf else None
    return WorkflowEntry(
        name=name,
        kind=kind,
        workflow_uuid=workflow_uuid,
        tool_uuid=tool.uuid if tool else None,
        play_uuid=play.uuid if play else None,
        model_uuid=play.model_uuid if play else None,
        deployed_release_uuid=wf.deployed_release.uuid if wf and wf.deployed_release else None,
        last_batch_uuid=last.uuid if last else None,
        last_batch_status=last.status if last else None,
        last_batch_created_at=last.created_at.isoformat() if last else None,
    )


async def resolve(backend: Backend, workflow: str) -> WorkflowEntry | None:
    """A workflow by name, workflow UUID, tool UUID or play UUID.

    Returns ``None`` for a UUID that names no tool or play (an ad-hoc workflow); raises
    :class:`InputError` for an unknown or ambiguous name.
    """
    entries = await load(backend)
    key = workflow.strip()
    if is_uuid(key):
        u = key.lower()
        return next((e for e in entries if u in (e.workflow_uuid, e.tool_uuid, e.play_uuid)), None)
    low = key.lower()
    exact = [e for e in entries if e.name.lower() == low]
    if len(exact) == 1:
        return exact[0]
    partial = exact or [e for e in entries if low in e.name.lower()]
    if len(partial) == 1:
        return partial[0]
    if partial:
        names = ", ".join(f"{e.name!r} ({e.kind}, {e.workflow_uuid})" for e in partial[:10])
        raise InputError(f"workflow {workflow!r} is ambiguous: it matches {names}. Send the exact name or UUID.")
    names = ", ".join(repr(e.name) for e in entries[:25])
    raise InputError(
        f"no tool or play is named {workflow!r} and it is not a UUID. Known workflows: {names}. "
        "list_workflows shows them with their UUIDs."
    )


async def workflow_uuid(backend: Backend, workflow: str) -> tuple[str, WorkflowEntry | None]:
    """The workflow UUID for a name or UUID argument, and its catalog entry when it has one.

    A UUID that is no workflow of the workspace is refused, saying what it is when it is a batch or a run
    (a filter on a wrong UUID would otherwise silently match no run).
    """
    entry = await resolve(backend, workflow)
    if entry is not None:
        return entry.workflow_uuid, entry
    uuid = workflow.strip().lower()
    known = backend.cached("workflow_uuids")
    if known is not None and uuid not in known:
        raise InputError(await _not_a_workflow(backend, uuid))
    return uuid, None


async def _not_a_workflow(backend: Backend, uuid: str) -> str:
    client = await backend.client()
    try:
        batch = await client.get_batch(uuid)
        return (
            f"{uuid} is a batch, not a workflow: pass batch_uuid={uuid!r} (its workflow_uuid is {batch.workflow_uuid})."
        )
    except CargoApiError as e:
        if e.status != 404:
            raise
    try:
        run = (await client.get_run(uuid)).run
        return f"{uuid} is a run, not a workflow: use get_run(run_uuid={uuid!r}) (its workflow is {run.workflow_uuid})."
    except CargoApiError as e:
        if e.status != 404:
            raise
    return f"no workflow, tool or play has UUID {uuid} in this workspace; list_workflows lists them."
