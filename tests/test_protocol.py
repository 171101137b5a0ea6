"""Protocol features beyond tools: the logging capability, completions, and -32602 for bad prompt requests."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from mcp import Client, MCPError
from mcp.types import INVALID_PARAMS, LoggingMessageNotificationParams, PromptReference, ResourceTemplateReference

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from tests.conftest import remote_settings
from tests.support import FAST_RETRY

pytestmark = pytest.mark.anyio

Faults = Callable[..., None]
PROMPT = PromptReference(type="ref/prompt", name="debug_failed_batch")


@pytest.fixture
async def legacy(shared_sandbox: Sandbox) -> AsyncIterator[tuple[Client, list[LoggingMessageNotificationParams]]]:
    """A 2025-11-25 (handshake) client, whose log notifications follow logging/setLevel; and what it received."""
    settings = remote_settings(shared_sandbox)
    server = build_server(
        settings, services_factory=lambda: Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(3.0))
    )
    received: list[LoggingMessageNotificationParams] = []

    async def on_log(params: LoggingMessageNotificationParams) -> None:
        received.append(params)

    async with Client(server, mode="legacy", logging_callback=on_log) as client:
        yield client, received


async def test_capabilities_declare_logging_and_completions(mcp_client: Client) -> None:
    caps = mcp_client.server_capabilities
    assert caps.logging is not None and caps.completions is not None


async def test_set_level_filters_the_log_notifications(
    legacy: tuple[Client, list[LoggingMessageNotificationParams]], shared_sandbox: Sandbox, faults: Faults
) -> None:
    client, received = legacy
    batch = shared_sandbox.workspaces[0].batches[0].uuid
    faults(path="/v1/orchestration/batches/", kind="status", status=503, count=1)
    assert not (await client.call_tool("get_batch", {"batch_uuid": batch})).is_error
    retries = [m for m in received if m.level == "warning"]
    assert len(retries) == 1 and "HTTP 503; retry 2 of 3" in str(retries[0].data) and retries[0].logger == "cargo-mcp"

    await client.set_logging_level("error")
    received.clear()
    faults(path="/v1/orchestration/batches/", kind="status", status=503, count=1)
    assert not (await client.call_tool("get_batch", {"batch_uuid": batch})).is_error
    assert received == []  # the retry happened, its warning is below the level

    await client.set_logging_level("info")
    r = await client.call_tool("download_outputs", {"batch_uuid": batch, "limit": 1})
    assert not r.is_error
    result_id = (r.structured_content or {})["result_id"]
    infos = [str(m.data) for m in received if m.level == "info"]
    assert any("stored" in i and result_id in i for i in infos), infos


async def test_a_slow_query_is_logged(
    legacy: tuple[Client, list[LoggingMessageNotificationParams]], faults: Faults, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, received = legacy
    monkeypatch.setattr("cargo_mcp.api.client.SLOW_QUERY_SECONDS", 0.2)
    faults(path="/v1/orchestration/query", kind="hang", seconds=0.3, count=1)
    assert not (await client.call_tool("execute_query", {"sql": "SELECT count() AS n FROM batches"})).is_error
    slow = [str(m.data) for m in received if m.level == "notice"]
    assert len(slow) == 1 and "slow SQL query" in slow[0] and "FROM batches" in slow[0]


async def test_batch_uuids_complete_failed_first_and_by_workflow_name(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    ws = shared_sandbox.workspaces[0]
    got = (await mcp_client.complete(PROMPT, {"name": "batch_uuid", "value": ""})).completion
    assert got.values and len(got.values) == got.total == len(ws.batches)
    failing = {b.uuid for b in ws.batches if b.failed_runs_count or b.status == "error"}
    assert set(got.values[: len(failing)]) == failing  # failed batches first

    one = ws.batches[5].uuid
    assert (await mcp_client.complete(PROMPT, {"name": "batch_uuid", "value": one[:6]})).completion.values == [one]

    finder = next(w for w in ws.workflows if w.spec.name == "Contact finder")
    by_name = (await mcp_client.complete(PROMPT, {"name": "batch_uuid", "value": "contact fin"})).completion.values
    assert set(by_name) == {b.uuid for b in finder.batches}


async def test_workflow_names_and_result_ids_complete(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    graph = ResourceTemplateReference(type="ref/resource", uri="cargo://workflows/{workflow}")
    names = (await mcp_client.complete(graph, {"name": "workflow", "value": "lead"})).completion.values
    assert sorted(names) == ["Inbound lead routing", "Lead scorer"]
    text = (await mcp_client.read_resource("cargo://workflows/Lead%20scorer")).contents[0]
    assert "Lead scorer" in text.text and "Output node candidates" in text.text  # type: ignore[union-attr]

    results = ResourceTemplateReference(type="ref/resource", uri="cargo://results/{result_id}")
    batch = shared_sandbox.workspaces[0].batches[0].uuid
    made = []
    for _ in range(2):
        r = await mcp_client.call_tool("download_outputs", {"batch_uuid": batch, "limit": 1})
        made.append((r.structured_content or {})["result_id"])
    got = (await mcp_client.complete(results, {"name": "result_id", "value": "r_"})).completion.values
    assert got[:2] == made[::-1]  # newest first
    assert (await mcp_client.complete(results, {"name": "result_id", "value": made[0][:8]})).completion.values[
        0
    ] == made[0]


@pytest.mark.parametrize(
    ("ref", "argument", "message"),
    [
        (
            PromptReference(type="ref/prompt", name="debug_failed_batches"),
            "batch_uuid",
            "did you mean 'debug_failed_batch'",
        ),
        (PROMPT, "batch", "has no argument 'batch'; did you mean 'batch_uuid'"),
        (ResourceTemplateReference(type="ref/resource", uri="cargo://nope/{x}"), "x", "unknown resource template"),
    ],
)
async def test_completion_of_something_unknown_is_invalid_params(
    mcp_client: Client, ref: Any, argument: str, message: str
) -> None:
    with pytest.raises(MCPError) as e:
        await mcp_client.complete(ref, {"name": argument, "value": ""})
    assert e.value.error.code == INVALID_PARAMS and message in e.value.error.message


@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize(
    ("name", "arguments", "message"),
    [
        (
            "debug_failed_batches",
            {"batch_uuid": "x"},
            "Unknown prompt 'debug_failed_batches'; did you mean 'debug_failed_batch'",
        ),
        ("debug_failed_batch", {"batch": "x"}, "has no argument 'batch'; did you mean 'batch_uuid'"),
        ("debug_failed_batch", {}, "needs the argument(s) batch_uuid"),
        ("debug_failed_batch", {"batch_uuid": "yesterday"}, "batch_uuid"),
    ],
)
async def test_bad_prompt_requests_are_invalid_params(
    shared_sandbox: Sandbox, mode: str, name: str, arguments: dict[str, str], message: str
) -> None:
    server = build_server(remote_settings(shared_sandbox))
    async with Client(server, mode=mode) as client:
        with pytest.raises(MCPError) as e:
            await client.get_prompt(name, arguments)
    assert e.value.error.code == INVALID_PARAMS and message in e.value.error.message
