"""Cargo's answers are checked before use: a redirect, a malformed query answer and an empty totals answer each give
an error that says what Cargo did and what to do next, never a wrong answer or advice about the wrong thing."""

from __future__ import annotations

import inspect
import json
import typing
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.analytics import sql as analytics_sql
from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError, CargoShapeError
from cargo_mcp.api.requests import Request
from cargo_mcp.failures import sweep
from cargo_mcp.sandbox.server import Sandbox
from tests.support import tool_text

pytestmark = pytest.mark.anyio
Faults = Callable[..., None]
QUERY = "/v1/orchestration/query"
SHAPE = "Cargo answered in a shape cargo-mcp does not understand"
UUID = "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"
ENDPOINTS = sorted(
    name
    for name, fn in inspect.getmembers(CargoClient, inspect.iscoroutinefunction)
    if not name.startswith("_") and name not in ("request", "aclose")
)


async def call(client: Client, name: str, args: dict[str, Any]) -> tuple[bool, str]:
    r = await client.call_tool(name, args)
    return bool(r.is_error), tool_text(r)


def failed_batch(sb: Sandbox) -> str:
    ws = sb.workspaces[0]
    return min(
        (b for b in ws.batches if b.failed_runs_count and b.status == "success"), key=lambda b: b.runs_count
    ).uuid


def arguments(method: str) -> list[Any]:
    """One call's arguments, from the method's signature: UUIDs for text, the smallest valid request model."""
    hints = typing.get_type_hints(getattr(CargoClient, method))
    out: list[Any] = []
    for name, kind in hints.items():
        if name == "return":
            continue
        if isinstance(kind, type) and issubclass(kind, Request):
            required = [f for f, info in kind.model_fields.items() if info.is_required()]
            out.append(kind.model_validate({f: UUID for f in required}))
        else:
            out.append(UUID)
    return out


@pytest.mark.parametrize("method", ENDPOINTS)
@pytest.mark.parametrize("body", [[], None, {}, "text", 5, [{"x": 1}]], ids=json.dumps)
async def test_every_endpoint_refuses_an_answer_of_another_json_type(method: str, body: Any) -> None:
    asked: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        asked.append(f"{request.method} {request.url.path.removeprefix('/v1')}")
        return httpx.Response(200, json=body)

    async with CargoClient("https://cargo.example", "t", transport=httpx.MockTransport(answer)) as client:
        with pytest.raises(CargoShapeError) as caught:
            await getattr(client, method)(*arguments(method))
    assert len(asked) == 1 and str(caught.value).startswith(SHAPE) and asked[0] in str(caught.value)


@pytest.mark.parametrize("status", [301, 302, 307, 308])
async def test_a_redirect_from_the_api_names_the_base_url(status: int) -> None:
    def redirect(request: httpx.Request) -> httpx.Response:
        return httpx.Response(status, headers={"location": "https://sso.example.com/login?token=secret#x"})

    token = "cargo-api-token-value"
    async with CargoClient("https://cargo.example", token, transport=httpx.MockTransport(redirect)) as client:
        with pytest.raises(CargoApiError) as caught:
            await client.get_batch("3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f")
    text = str(caught.value)
    assert f"a redirect (HTTP {status}) to 'https://sso.example.com/login'" in text, text
    assert "Next step: Check CARGO_API_BASE_URL: Cargo's API does not redirect" in text
    assert "secret" not in text and token not in text


async def test_a_redirect_is_not_followed(shared_sandbox: Sandbox, faults: Faults) -> None:
    faults(path="/v1/", kind="redirect", location=shared_sandbox.base_url + "/v1/orchestration/batches/list", count=5)
    assert shared_sandbox.faults is not None
    before = shared_sandbox.faults.hits
    async with CargoClient(shared_sandbox.base_url, shared_sandbox.workspaces[0].token) as client:
        with pytest.raises(CargoApiError, match=r"redirect \(HTTP 302\)"):
            await client.list_workflows()
    assert shared_sandbox.faults.hits - before == 1  # neither followed nor retried


@pytest.mark.parametrize(
    ("fault", "says"),
    [
        ({"kind": "malformed"}, "with a body that is not valid JSON"),
        ({"kind": "body", "body": {"rows": "x"}}, SHAPE),
        ({"kind": "body", "body": {"rows": [1]}}, SHAPE),
        ({"kind": "body", "body": {"rows": [{"n": 1}, "x"]}}, SHAPE),
        ({"kind": "redirect", "location": "https://evil.example/"}, "redirect (HTTP 302)"),
    ],
)
async def test_a_malformed_query_answer_does_not_blame_the_sql(
    mcp_client: Client, faults: Faults, fault: dict[str, Any], says: str
) -> None:
    faults(path=QUERY, count=10, **fault)
    failed, text = await call(mcp_client, "execute_query", {"sql": "SELECT count() AS n FROM batches"})
    assert failed and says in text, text
    assert "Fix the SQL" not in text and "ClickHouse" not in text and "cargo://sql/schema" not in text, text


async def test_a_query_cargo_refuses_still_gets_advice_on_the_sql(mcp_client: Client) -> None:
    failed, text = await call(mcp_client, "execute_query", {"sql": "SELECT nope FROM batches"})
    assert failed and "HTTP 400" in text and "Next step:" in text and "nope" in text, text


@pytest.mark.parametrize(
    ("rows", "says"),
    [([], "0 rows where an aggregate has exactly one"), ([{}], "runs: Field required"), ([{"runs": "x"}], "runs")],
)
async def test_totals_that_did_not_come_back_are_an_error_not_zeros(
    mcp_client: Client, shared_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch, rows: list[Any], says: str
) -> None:
    real = analytics_sql.sql

    async def totals_missing(client: CargoClient, text: str) -> list[dict[str, Any]]:
        if "AS cancelled" in text:  # the totals query only
            return rows
        return await real(client, text)

    monkeypatch.setattr(sweep, "sql", totals_missing)
    failed, text = await call(mcp_client, "inspect_failures", {"batch_uuid": failed_batch(shared_sandbox)})
    assert failed and SHAPE in text and says in text and "the run totals" in text, text
    assert "Runs 0" not in text
    monkeypatch.setattr(sweep, "sql", real)
    failed, text = await call(mcp_client, "inspect_failures", {"batch_uuid": failed_batch(shared_sandbox)})
    assert not failed and "Runs 0" not in text and "1. [" in text, text  # the same sweep, answered: groups and totals
