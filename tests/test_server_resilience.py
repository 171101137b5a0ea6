"""Retries, timeouts and Cargo errors as tool errors, driven by the sandbox's fault injection."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from cargo_mcp.settings import Settings
from tests.support import FAST_RETRY, TOOLS, tool_text

pytestmark = pytest.mark.anyio

Faults = Callable[..., None]


def batch_of(sb: Sandbox) -> str:
    return sb.workspaces[0].batches[0].uuid


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, str]:
    r = await client.call_tool(name, args)
    return bool(r.is_error), tool_text(r)


@pytest.mark.parametrize(("status", "retry_after"), [(429, 1), (502, None), (503, None), (504, None)])
async def test_transient_statuses_are_retried(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults, status: int, retry_after: int | None
) -> None:
    spec: dict[str, Any] = {
        "path": "/v1/orchestration/batches/",
        "kind": "status",
        "status": status,
        "count": 2,
    }
    if retry_after:
        spec["retryAfter"] = retry_after
    faults(**spec)
    started = time.monotonic()
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert not failed, text
    if retry_after:
        assert time.monotonic() - started >= 2 * retry_after  # Retry-After honoured on both retries


async def test_retries_are_bounded_and_explained(mcp_client: Client, shared_sandbox: Sandbox, faults: Faults) -> None:
    assert shared_sandbox.faults is not None
    before = shared_sandbox.faults.hits
    faults(path="/v1/orchestration/batches/", kind="status", status=503, count=50)
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert failed and "HTTP 503" in text and "retry in a minute" in text
    assert shared_sandbox.faults.hits - before == FAST_RETRY.max_attempts


@pytest.mark.parametrize("status", [500, 400, 404])
async def test_other_errors_are_not_retried(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults, status: int
) -> None:
    assert shared_sandbox.faults is not None
    before = shared_sandbox.faults.hits
    faults(path="/v1/orchestration/batches/", kind="status", status=status, count=5)
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert failed and f"HTTP {status}" in text
    assert shared_sandbox.faults.hits - before == 1


async def test_dropped_connections_are_retried_then_reported(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults
) -> None:
    faults(path="/v1/orchestration/batches/", kind="drop", count=1)
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert not failed, text
    faults(path="/v1/orchestration/batches/", kind="drop", count=50)
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert failed and "could not reach Cargo" in text and "after 3 attempts" in text


async def test_hung_request_times_out_and_is_retried(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults
) -> None:
    faults(path="/v1/orchestration/batches/", kind="hang", seconds=4, count=1)
    started = time.monotonic()
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert not failed, text
    assert 3 <= time.monotonic() - started < 8  # one 3 s read timeout, then a normal answer


async def test_malformed_json_is_a_clear_error(mcp_client: Client, shared_sandbox: Sandbox, faults: Faults) -> None:
    faults(path="/v1/orchestration/batches/", kind="malformed", count=1)
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert failed and "not valid JSON" in text


async def test_an_answer_of_unexpected_shape_is_a_clear_error(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults
) -> None:
    faults(path="/v1/orchestration/batches/", kind="body", body={"batch": {"uuid": "x"}})
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert failed and "shape cargo-mcp does not understand (Batch." in text and "Traceback" not in text
    faults(path="/v1/orchestration/batches/", kind="body", body={"unexpected": []})
    failed, text = await call(mcp_client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
    assert failed and "missing key 'batch'" in text


async def test_expired_download_url_is_requested_again_then_reported(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Faults
) -> None:
    faults(path="/files/", kind="expired_url", count=100)  # every URL this call fetches, fresh ones included
    failed, text = await call(mcp_client, "download_outputs", {"batch_uuid": batch_of(shared_sandbox), "limit": 2})
    assert (
        failed and "expired" in text and "signature=" not in text and "expires=" not in text and "/files/" not in text
    )


async def test_bad_token_is_an_auth_error_without_the_token(shared_sandbox: Sandbox) -> None:
    settings = Settings(token="wrong-token-value", base_url=shared_sandbox.base_url)
    server = build_server(settings, services_factory=lambda: Services(settings, retry=FAST_RETRY))
    async with Client(server) as client:
        failed, text = await call(client, "list_workflows", {})
    assert failed and "HTTP 401" in text and "CARGO_API_TOKEN" in text and "wrong-token-value" not in text


def every_cargo_call(sb: Sandbox) -> dict[str, dict[str, Any]]:
    """One valid call of each tool that talks to Cargo (read_result reads the local store only)."""
    ws = sb.workspaces[0]
    run = next(r for r in ws.runs if r.status == "error" and r.batch is not None)
    assert run.batch is not None
    wf, batch = run.workflow.uuid, run.batch.uuid
    return {
        "list_workflows": {},
        "get_workflow_nodes": {"batch_uuid": batch},
        "get_batch": {"batch_uuid": batch},
        "count_runs": {"workflow": wf, "statuses": ["failed"]},
        "list_runs": {"batch_uuid": batch, "limit": 2},
        "get_run": {"run_uuid": run.uuid},
        "get_run_metrics": {"workflow": wf, "batch_uuid": batch},
        "download_outputs": {"batch_uuid": batch, "limit": 2},
        "execute_query": {"sql": "SELECT count() FROM batches"},
        "inspect_failures": {"batch_uuid": batch},
        "trace_run": {"run_uuid": run.uuid},
        "list_batches": {"workflow": wf, "created_after": "7d"},
        "list_releases": {"workflow": wf},
    }


LOCAL = {"read_result", "save_result"}  # they read or write only what this server stored


@pytest.mark.parametrize("tool", sorted(TOOLS - LOCAL))
async def test_every_tool_reports_unreachable_cargo(shared_sandbox: Sandbox, tool: str) -> None:
    settings = Settings(token="t", base_url="http://127.0.0.1:9")
    server = build_server(
        settings, services_factory=lambda: Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(2.0))
    )
    async with Client(server) as client:
        failed, text = await call(client, tool, every_cargo_call(shared_sandbox)[tool])
    assert failed and "could not reach Cargo at http://127.0.0.1:9" in text and "connection refused" in text
    assert "Traceback" not in text


async def test_other_workspace_is_invisible(shared_sandbox: Sandbox) -> None:
    settings = Settings(token=shared_sandbox.workspaces[1].token, base_url=shared_sandbox.base_url)
    server = build_server(settings, services_factory=lambda: Services(settings, retry=FAST_RETRY))
    async with Client(server) as client:
        failed, text = await call(client, "get_batch", {"batch_uuid": batch_of(shared_sandbox)})
        assert failed and "batchNotFound" in text
        run = shared_sandbox.workspaces[0].runs[0].uuid
        failed, text = await call(client, "get_run", {"run_uuid": run})
        assert failed and "runNotFound" in text
