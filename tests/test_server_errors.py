"""Honest error translation: only an answer Cargo sent in an unexpected shape is blamed on Cargo's shape, also when it
comes out of a task group; a bug of cargo-mcp is an internal error with a log line, never a traceback to the model."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from mcp import Client
from mcp.server.mcpserver.exceptions import ToolError
from pydantic import BaseModel

from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.tooling import tool_errors
from tests.support import tool_text

pytestmark = pytest.mark.anyio
Faults = Callable[..., None]
SHAPE = "Cargo answered in a shape cargo-mcp does not understand"


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, str]:
    r = await client.call_tool(name, args)
    return bool(r.is_error), tool_text(r)


def failed_batch(sb: Sandbox) -> str:
    return next(b.uuid for b in sb.workspaces[0].batches if b.failed_runs_count and b.status == "success")


@pytest.mark.parametrize("body", [[], None, {"tools": None}, {"tools": [{"uuid": 1}]}])
async def test_a_malformed_catalog_answer_is_an_unexpected_shape(mcp_client: Client, faults: Faults, body: Any) -> None:
    faults(path="/v1/orchestration/tools/list", kind="body", body=body)  # loaded in a task group
    failed, text = await call(mcp_client, "list_workflows", {})
    assert failed and SHAPE in text and "GET /orchestration/tools/list" in text
    assert "TaskGroup" not in text and "Traceback" not in text


async def test_a_malformed_sweep_answer_is_an_unexpected_shape(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults
) -> None:
    faults(path="/v1/orchestration/query", kind="body", body={"rows": None})  # one of the sweep's concurrent queries
    failed, text = await call(mcp_client, "inspect_failures", {"batch_uuid": failed_batch(shared_sandbox)})
    assert failed and SHAPE in text and "POST /orchestration/query" in text and "TaskGroup" not in text


@pytest.mark.parametrize("bug", [KeyError("batch"), "validation"])
async def test_a_bug_in_a_tool_is_an_internal_error(
    mcp_client: Client,
    shared_sandbox: Sandbox,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    bug: Exception | str,
) -> None:
    def broken(*_: Any) -> str:
        if isinstance(bug, Exception):
            raise bug

        class Strict(BaseModel):
            x: int

        Strict.model_validate({})  # a ValidationError of our own making, not of Cargo's answer
        return ""

    monkeypatch.setattr("cargo_mcp.server.tools.batches.duration", broken)
    with caplog.at_level(logging.ERROR, logger="cargo_mcp"):
        failed, text = await call(mcp_client, "get_batch", {"batch_uuid": failed_batch(shared_sandbox)})
    kind = "KeyError" if isinstance(bug, Exception) else "ValidationError"
    assert failed and f"internal error in cargo-mcp ({kind}), reported in the server log" in text
    assert SHAPE not in text and "Traceback" not in text and "broken" not in text
    logged = [r for r in caplog.records if r.name == "cargo_mcp" and r.exc_info]
    exc_info = logged[0].exc_info if logged else None
    assert exc_info and "get_batch" in logged[0].getMessage() and exc_info[0] is not None


async def test_known_errors_are_found_at_any_depth_of_exception_groups(caplog: pytest.LogCaptureFixture) -> None:
    cargo = CargoApiError("Batch not found.", status=404, reason="batchNotFound")

    @tool_errors
    async def nested() -> None:
        raise ExceptionGroup("outer", [ExceptionGroup("inner", [ExceptionGroup("deepest", [cargo])])])

    with pytest.raises(ToolError) as caught:
        await nested()
    assert str(caught.value) == str(cargo)

    @tool_errors
    async def beside_a_bug() -> None:
        raise ExceptionGroup("outer", [RuntimeError("our bug"), ExceptionGroup("inner", [InputError("bad date")])])

    with caplog.at_level(logging.ERROR, logger="cargo_mcp"), pytest.raises(ToolError) as caught:
        await beside_a_bug()
    assert str(caught.value) == "Invalid input: bad date"
    assert any(r.exc_info for r in caplog.records if r.name == "cargo_mcp")  # the bug beside it is logged

    @tool_errors
    async def only_bugs() -> None:
        raise ExceptionGroup("outer", [ExceptionGroup("inner", [ZeroDivisionError("x")])])

    with pytest.raises(ToolError, match=r"internal error in cargo-mcp \(ExceptionGroup\)"):
        await only_bugs()
