"""The run scope: the run-filter arguments of the tools that select runs, declared once, and the one resolver that
turns them (user words: names, synonyms, relative dates) into Cargo's typed :class:`RunFilters`.

A tool takes a preset of the arguments with :func:`scoped` and resolves them with :func:`resolve`. A new run
filter is declared here (its argument, its :class:`ScopeArgs` field, its presets, one line of :func:`resolve`) and
in the request model.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, fields
from typing import Annotated, Any, TypeVar, cast

from pydantic import Field

from cargo_mcp.api import vocabulary as v
from cargo_mcp.api.models import Batch
from cargo_mcp.api.requests import Request, RunFilters
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.clip import echo
from cargo_mcp.server.services import Services
from cargo_mcp.server.tooling import Uuid

# --- the arguments ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Arg:
    """One tool argument of the run scope (named as its :class:`ScopeArgs` field), with the description the model
    reads."""

    name: str
    annotation: Any


def _arg(name: str, annotation: Any, description: str) -> Arg:
    return Arg(name, Annotated[annotation, Field(description=description)])


WORKFLOW = _arg("workflow", str | None, "Tool/play name or workflow UUID (or batch_uuid).")
STATUSES = _arg(
    "statuses",
    list[str] | None,
    "idle pending running success error cancelling cancelled skipped; failed→error, finished→success.",
)
BATCH = _arg("batch_uuid", Uuid | None, "Only this batch's runs.")
RELEASE = _arg("release_uuid", Uuid | None, "Only this release's runs.")
FINISHED = _arg("is_finished", bool | None, "Only finished (true) or unfinished (false) runs.")
CREATED_AFTER = _arg("created_after", str | None, "UTC ISO-8601, or 30m, 24h, 7d, today, yesterday.")
CREATED_BEFORE = _arg("created_before", str | None, "Same forms; a date includes its whole day.")
RECORD_ID = _arg("record_id", str | None, "Exact record id.")
RECORD_TITLE = _arg("record_title", str | None, "Record title.")
NODE_STATUS = _arg(
    "node_status",
    dict[str, Any] | None,
    '{"<slug>": status}, all hold: success, error, pending, absent, or {"status": "error", "contains": "429"} '
    "(message; title on success); or Cargo's executionsFilter.",
)

# What each kind of tool takes, in the order the tool lists them.
RUNS = (
    WORKFLOW,
    STATUSES,
    BATCH,
    RELEASE,
    FINISHED,
    CREATED_AFTER,
    CREATED_BEFORE,
    RECORD_ID,
    RECORD_TITLE,
    NODE_STATUS,
)  # count_runs, list_runs
DOWNLOADS = (WORKFLOW, BATCH, STATUSES, NODE_STATUS, CREATED_AFTER, CREATED_BEFORE, RECORD_ID, RECORD_TITLE)
METRICS = (WORKFLOW, BATCH, RELEASE, CREATED_AFTER, CREATED_BEFORE)
FAILURES = (WORKFLOW, BATCH, CREATED_AFTER, CREATED_BEFORE)


@dataclass(frozen=True)
class ScopeArgs:
    """The run-scope arguments a tool was called with, as given."""

    workflow: str | None = None
    batch_uuid: str | None = None
    release_uuid: str | None = None
    statuses: list[str] | None = None
    is_finished: bool | None = None
    created_after: str | None = None
    created_before: str | None = None
    record_id: str | None = None
    record_title: str | None = None
    node_status: dict[str, Any] | None = None

    def given(self) -> dict[str, Any]:
        """The arguments as given, by their tool argument names (to write a follow-up call)."""
        values = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: x for k, x in values.items() if x is not None}


F = TypeVar("F", bound=Callable[..., Awaitable[Any]])


def scoped(preset: tuple[Arg, ...]) -> Callable[[F], F]:
    """Give a tool the preset's arguments in place of its parameter ``args: ScopeArgs``.

    The MCP server reads a tool's arguments from its signature, so the signature shown is the tool's with ``args``
    replaced by the preset; a call's values for them are gathered into one :class:`ScopeArgs`.
    """
    def decorate(fn: F) -> F:
        sig = inspect.signature(fn, eval_str=True)
        params = list(sig.parameters.values())
        at = [p.name for p in params].index("args")
        spliced = [
            inspect.Parameter(a.name, inspect.Parameter.POSITIONAL_OR_KEYWORD, default=None, annotation=a.annotation)
            for a in preset
        ]
        shown = sig.replace(parameters=[*params[:at], *spliced, *params[at + 1 :]])

        @functools.wraps(fn)
        async def tool(*pos: Any, **kwargs: Any) -> Any:
            given = {a.name: kwargs.pop(a.name, None) for a in preset}
            return await fn(*pos, args=ScopeArgs(**given), **kwargs)

        tool.__signature__ = shown  # type: ignore[attr-defined]
        tool.__annotations__ = {p.name: p.annotation for p in shown.parameters.values()}
        tool.__annotations__["return"] = sig.return_annotation
        return cast(F, tool)

    return decorate


# --- the resolver ------------------------------------------------------------------------------------

R = TypeVar("R", bound=Request)


@dataclass(frozen=True)
class Scope:
    """A checked run scope: Cargo's filters (with the workflow always set), notes on how the arguments were read,
    and the batch when one was given (it was fetched to imply or check the workflow)."""

    filters: RunFilters
    notes: list[str] = field(default_factory=list)
    batch: Batch | None = None

    @property
    def workflow_uuid(self) -> str:
        """The workflow (only a ``workspace`` resolve may have none)."""
        assert self.filters.workflow_uuid is not None
        return self.filters.workflow_uuid

    def request(self, model: type[R], **extra: Any) -> R:
        """The filters as the body of another run endpoint (``extra``: its own fields, such as the output node)."""
        return model.model_validate({**{k: x for k, x in self.filters if x is not None}, **extra})


def window(
    created_after: str | None, created_before: str | None, what: str, notes: list[str]
) -> tuple[str | None, str | None]:
    """The creation window arguments read (relative dates too, each noted in ``notes`` with what it was read as);
    a window no ``what`` can fall in is refused."""
    after, n1 = v.when_read(created_after, "created_after") if created_after else (None, [])
    before, n2 = v.when_read(created_before, "created_before") if created_before else (None, [])
    notes += n1 + n2
    if after and before and after >= before:
        raise InputError(
            f"created_after ({after}) is not before created_before ({before}): no {what} can match. "
            "Swap them, or widen the window."
        )
    return after, before


async def workflow_named(s: Services, workflow: str, arg: str, notes: list[str]) -> str:
    """The workflow UUID for a name or UUID argument; a note says which tool or play a name stands for."""
    wf, entry = await s.catalog.workflow_uuid(workflow, arg)
    if entry is not None and workflow.lower() != wf:
        notes.append(f"workflow {echo(workflow)} is {entry.kind} {echo(entry.name)} (workflow_uuid {wf})")
    return wf


async def resolve(s: Services, args: ScopeArgs, *, workspace: bool = False) -> Scope:
    """Check every argument and build the filters; nothing here lists runs, so a mistake is refused before it can
    silently match no run. ``workspace``: without a workflow or batch the scope is the whole workspace (no
    workflow in the filters) instead of an error."""
    notes: list[str] = []
    workflow = v.text_arg(args.workflow, "workflow")
    record_id, record_title = v.text_arg(args.record_id, "record_id"), v.text_arg(args.record_title, "record_title")
    batch_uuid = v.uuid_arg(args.batch_uuid, "batch_uuid") if args.batch_uuid else None
    release_uuid = v.uuid_arg(args.release_uuid, "release_uuid") if args.release_uuid else None
    statuses, n1 = v.run_statuses(args.statuses)
    exec_filter, n2 = v.executions_filter(args.node_status)
    notes += n1 + n2
    after, before = window(args.created_after, args.created_before, "run", notes)
    batch = None
    wf: str | None = None
    if workflow:
        wf = await workflow_named(s, workflow, "workflow", notes)
        if batch_uuid:  # a batch of another workflow would silently match no run
            batch = await (await s.cargo()).get_batch(batch_uuid)
            if batch.workflow_uuid != wf:
                raise InputError(
                    f"batch {batch_uuid} belongs to workflow {batch.workflow_uuid}, not {echo(workflow)}: "
                    "drop workflow (the batch implies it) or give that batch's workflow."
                )
    elif batch_uuid:
        batch = await (await s.cargo()).get_batch(batch_uuid)
        wf = batch.workflow_uuid
        notes.append(f"workflow_uuid {wf} taken from batch {batch_uuid}")
    elif not workspace:
        raise InputError("give workflow (a tool/play name or workflow UUID), or batch_uuid.")
    if exec_filter and wf:
        await s.releases.check_slugs(wf, v.filter_slugs(exec_filter), "node_status")
    filters = RunFilters.model_validate(
        {
            "workflow_uuid": wf,
            "batch_uuid": batch_uuid,
            "release_uuid": release_uuid,
            "statuses": statuses,
            "is_finished": args.is_finished,
            "created_after": after,
            "created_before": before,
            "record_id": record_id,
            "record_title": record_title,
            "executions_filter": exec_filter,
        }
    )
    return Scope(filters, notes, batch)
