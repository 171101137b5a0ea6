"""Argument completion (``completion/complete``) for the prompt and the resource templates.

Values come from the workspace: batch UUIDs (failed batches first, newest first; typing part of a
workflow's name finds its batches), workflow names, and the stored result ids. A reference to an unknown
prompt or template, or to an argument it does not have, is an invalid-params error naming what exists.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import anyio.to_thread
from mcp.server.context import ServerRequestContext
from mcp.server.mcpserver import MCPServer
from mcp.shared.exceptions import MCPError
from mcp.types import (
    INTERNAL_ERROR,
    INVALID_PARAMS,
    CompleteRequestParams,
    CompleteResult,
    Completion,
    PromptReference,
)

from cargo_mcp.api.errors import CargoError
from cargo_mcp.api.requests import ListBatches
from cargo_mcp.api.vocabulary import suggestion
from cargo_mcp.clip import echo
from cargo_mcp.server.services import Services

MAX_VALUES = 100  # the protocol's cap per answer
BATCHES_SCANNED = 200

Completer = Callable[[Services, str], Awaitable[list[str]]]


async def _batch_uuids(s: Services, typed: str) -> list[str]:
    batches = await (await s.cargo()).list_batches(ListBatches(limit=BATCHES_SCANNED))
    names = {e.workflow_uuid: e.name.lower() for e in await s.catalog.entries()}
    typed = typed.strip().lower()
    hits = [x for x in batches if x.uuid.startswith(typed) or (typed and typed in names.get(x.workflow_uuid, ""))]
    hits.sort(key=lambda x: (x.failed_runs_count == 0 and x.status != "error", -x.created_at.timestamp()))
    return [x.uuid for x in hits]


async def _workflow_names(s: Services, typed: str) -> list[str]:
    typed = typed.strip().lower()
    return [e.name for e in await s.catalog.entries() if typed in e.name.lower() or e.workflow_uuid.startswith(typed)]


async def _result_ids(s: Services, typed: str) -> list[str]:
    ids = await anyio.to_thread.run_sync(s.store.result_ids)
    return [i for i in ids if i.startswith(typed.strip())]


COMPLETERS: dict[str, Completer] = {
    "batch_uuid": _batch_uuids,
    "workflow": _workflow_names,
    "result_id": _result_ids,
}


def register(mcp: MCPServer[Any]) -> None:
    async def complete(ctx: ServerRequestContext[Any, Any], params: CompleteRequestParams) -> CompleteResult:
        arguments = await _arguments(mcp, params.ref)
        name = params.argument.name
        if name not in arguments:
            raise MCPError(
                INVALID_PARAMS, f"{_what(params.ref)} has no argument {echo(name)}{suggestion(name, arguments)}"
            )
        completer = COMPLETERS.get(name)
        if completer is None:
            return CompleteResult(completion=Completion(values=[], total=0, has_more=False))
        try:
            values = await completer(ctx.lifespan_context, params.argument.value)
        except CargoError as e:
            raise MCPError(INTERNAL_ERROR, f"cannot complete {name}: {e}") from None
        return CompleteResult(
            completion=Completion(values=values[:MAX_VALUES], total=len(values), has_more=len(values) > MAX_VALUES)
        )

    # MCPServer's completion decorator hands no request context (so no services); the lowlevel hook does.
    mcp._lowlevel_server.add_request_handler("completion/complete", CompleteRequestParams, complete)


async def _arguments(mcp: MCPServer[Any], ref: Any) -> list[str]:
    """The argument names of the referenced prompt or resource template (invalid params when it does not exist)."""
    if isinstance(ref, PromptReference):
        prompts = {p.name: [a.name for a in p.arguments or []] for p in await mcp.list_prompts()}
        if ref.name not in prompts:
            raise MCPError(INVALID_PARAMS, f"unknown prompt {echo(ref.name)}{suggestion(ref.name, list(prompts))}")
        return prompts[ref.name]
    templates = {t.uri_template: re.findall(r"{(\w+)}", t.uri_template) for t in await mcp.list_resource_templates()}
    if ref.uri not in templates:
        raise MCPError(
            INVALID_PARAMS, f"unknown resource template {echo(ref.uri)}{suggestion(ref.uri, list(templates))}"
        )
    return templates[ref.uri]


def _what(ref: Any) -> str:
    return f"prompt {echo(ref.name)}" if isinstance(ref, PromptReference) else f"resource template {echo(ref.uri)}"
