"""The workflow catalog: tools and plays joined with workflows (workflows themselves have no name)."""

from __future__ import annotations

import difflib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

import anyio
import anyio.abc
from async_lru import alru_cache
from pydantic import BaseModel, Field

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Play, Tool, Workflow
from cargo_mcp.api.vocabulary import InputError, is_uuid
from cargo_mcp.clip import echo
from cargo_mcp.server.connection import CargoConnection


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


CATALOG_TTL = 30.0  # seconds: new tools and plays show up within half a minute


@dataclass(frozen=True)
class Snapshot:
    """The catalog as loaded at one moment: named entries, and every workflow UUID (ad-hoc ones too)."""

    entries: tuple[WorkflowEntry, ...]
    workflow_uuids: frozenset[str]


class Catalog:
    """Tools and plays by name or UUID. Loaded as one snapshot, kept CATALOG_TTL seconds; concurrent calls share
    one load."""

    def __init__(self, cargo: CargoConnection) -> None:
        self._cargo = cargo
        self.snapshot = alru_cache(maxsize=1, ttl=CATALOG_TTL)(self._load)

    async def entries(self) -> list[WorkflowEntry]:
        """All tools and plays of the workspace, tools first, by name."""
        return list((await self.snapshot()).entries)

    async def resolve(self, workflow: str, arg: str = "workflow") -> WorkflowEntry | None:
        """A workflow by name, workflow UUID, tool UUID or play UUID.

        Returns ``None`` for a UUID that names no tool or play (an ad-hoc workflow); raises
        :class:`InputError` naming the argument ``arg`` for an unknown or ambiguous name.
        """
        entries = (await self.snapshot()).entries
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
            raise InputError(f"{arg} {echo(key)} is ambiguous: it matches {names}. Send the exact name or UUID.")
        names = ", ".join(repr(e.name) for e in entries[:25])
        by_low = {e.name.lower(): e.name for e in entries}
        close = difflib.get_close_matches(low, list(by_low), n=3, cutoff=0.6)
        guess = f" Did you mean {' or '.join(repr(by_low[c]) for c in close)}?" if close else ""
        raise InputError(
            f"{arg}: no tool or play is named {echo(key)} and it is not a UUID.{guess} Known workflows: {names}. "
            "list_workflows shows them with their UUIDs."
        )

    async def workflow_uuid(self, workflow: str, arg: str = "workflow") -> tuple[str, WorkflowEntry | None]:
        """The workflow UUID for a name or UUID argument (named ``arg`` in errors), and its catalog entry when it has
        one.

        A UUID that is no workflow of the workspace is refused, saying what it is when it is a batch or a run
        (a filter on a wrong UUID would otherwise silently match no run).
        """
        entry = await self.resolve(workflow, arg)
        if entry is not None:
            return entry.workflow_uuid, entry
        uuid = workflow.strip().lower()
        if uuid not in (await self.snapshot()).workflow_uuids:
            raise InputError(f"{arg}: {await self._not_a_workflow(uuid)}")
        return uuid, None

    async def aclose(self) -> None:
        await self.snapshot.cache_close()

    async def _load(self) -> Snapshot:
        client = await self._cargo.client()
        workflows, tools, plays = await _fetch(client)
        by_uuid = {w.uuid: w for w in workflows}
        entries = [_entry(t.name, "tool", by_uuid.get(t.workflow_uuid), t.workflow_uuid, tool=t) for t in tools]
        entries += [_entry(p.name, "play", by_uuid.get(p.workflow_uuid), p.workflow_uuid, play=p) for p in plays]
        entries.sort(key=lambda e: (e.kind, e.name.lower()))
        return Snapshot(tuple(entries), frozenset(w.uuid for w in workflows))

    async def _not_a_workflow(self, uuid: str) -> str:
        client = await self._cargo.client()
        try:
            batch = await client.get_batch(uuid)
            return (
                f"{uuid} is a batch, not a workflow: pass batch_uuid={uuid!r} "
                f"(its workflow_uuid is {batch.workflow_uuid})."
            )
        except CargoApiError as e:
            if e.status != 404:
                raise
        try:
            run = (await client.get_run(uuid)).run
            return (
                f"{uuid} is a run, not a workflow: use get_run(run_uuid={uuid!r}) "
                f"(its workflow is {run.workflow_uuid})."
            )
        except CargoApiError as e:
            if e.status != 404:
                raise
        return f"no workflow, tool or play has UUID {uuid} in this workspace; list_workflows lists them."


T = TypeVar("T")


class _Slot(Generic[T]):
    value: T


def _spawn(tg: anyio.abc.TaskGroup, fetch: Callable[[], Awaitable[T]]) -> _Slot[T]:
    """Start ``fetch`` in ``tg``; its result is in the slot once the group has exited."""
    slot: _Slot[T] = _Slot()

    async def run() -> None:
        slot.value = await fetch()

    tg.start_soon(run)
    return slot


async def _fetch(client: CargoClient) -> tuple[list[Workflow], list[Tool], list[Play]]:
    async with anyio.create_task_group() as tg:
        workflows = _spawn(tg, client.list_workflows)
        tools = _spawn(tg, client.list_tools)
        plays = _spawn(tg, client.list_plays)
    return workflows.value, tools.value, plays.value


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
