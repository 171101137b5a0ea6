"""The guard against real ClickHouse: every legitimate query runs on the sandbox as the guard rewrites it,
with the same answer as the original text; refusals and translated errors reach an MCP client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.guard.sql import check
from cargo_mcp.sandbox.server import Sandbox
from tests.guard_corpus import DOCUMENTED, LARGE_LEGIT, LEGIT
from tests.support import resource_text, structured, tool_text


@pytest.fixture(scope="module")
def api(shared_sandbox: Sandbox) -> Iterator[httpx.Client]:
    token = shared_sandbox.workspaces[0].token
    with httpx.Client(
        base_url=shared_sandbox.base_url + "/v1", headers={"authorization": f"Bearer {token}"}, timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
def ids(shared_sandbox: Sandbox) -> dict[str, str]:
    run = next(r for r in shared_sandbox.workspaces[0].runs if r.batch is not None and r.status == "error")
    assert run.batch is not None
    return {"{workflow_uuid}": run.workflow.uuid, "{batch_uuid}": run.batch.uuid, "{run_uuid}": run.uuid}


def run_sql(api: httpx.Client, sql: str) -> list[dict[str, Any]]:
    r = api.post("/orchestration/query", json={"query": sql})
    assert r.status_code == 200, f"{sql}\n-> {r.text}"
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def canonical(rows: list[dict[str, Any]]) -> list[str]:
    return sorted(json.dumps(list(row.values()), sort_keys=True, default=str) for row in rows)


@pytest.mark.parametrize("sql", LEGIT, ids=[s[:60] for s in LEGIT])
def test_legitimate_query_runs_on_the_sandbox_unchanged_in_meaning(
    api: httpx.Client, ids: dict[str, str], sql: str
) -> None:
    template = sql
    for key, value in ids.items():
        sql = sql.replace(key, value)
    verdict = check(sql, max_rows=10_000)
    assert verdict.allowed, verdict.reason
    guarded = run_sql(api, verdict.sql)
    original = run_sql(api, sql)
    assert len(guarded) == len(original)
    if template in DOCUMENTED:
        assert original, "an official example (docs/cargo-contract.md §7.4) returned no rows"
    if "LIMIT" not in sql.upper():  # a LIMIT without a total order may pick different rows per run
        assert canonical(guarded) == canonical(original)


@pytest.mark.parametrize("sql", LARGE_LEGIT, ids=["long string literal", "6,000 uuids in IN"])
def test_legitimate_statements_near_the_size_limits_run_on_the_sandbox(api: httpx.Client, sql: str) -> None:
    verdict = check(sql, max_rows=10_000)
    assert verdict.allowed, verdict.reason
    assert canonical(run_sql(api, verdict.sql)) == canonical(run_sql(api, sql))


async def ok(client: Client, sql: str) -> dict[str, Any]:
    r = await client.call_tool("execute_query", {"sql": sql})
    assert not r.is_error, tool_text(r)
    return structured(r)


async def refusal(client: Client, sql: str) -> str:
    r = await client.call_tool("execute_query", {"sql": sql})
    assert r.is_error
    text: str = tool_text(r)
    assert "Traceback" not in text
    return text


@pytest.mark.anyio
async def test_refusals_reach_the_client_before_any_request(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    text = await refusal(mcp_client, "SELECT * FROM url('http://169.254.169.254/', CSV)")
    assert "SQL refused before sending" in text and "url()" in text and "Instead" in text
    text = await refusal(mcp_client, "SELECT count() FROM runs SETTINGS max_rows_to_read = 0")
    assert "SETTINGS" in text
    text = await refusal(mcp_client, "SELECT '" + "x" * 300_000 + "'")
    assert "300,009 characters" in text and "256 KiB" in text and "Instead" in text and len(text) < 1_000
    text = await refusal(mcp_client, "SELECT arrayJoin(range(executions_count)) FROM runs")
    assert "range(executions_count)" in text and "cannot prove" in text


@pytest.mark.anyio
async def test_advice_and_translated_errors(mcp_client: Client) -> None:
    out = await ok(mcp_client, "SELECT node_slug, count() AS n FROM spans GROUP BY node_slug")
    assert out["rows"] and any("execution_started_at" in a for a in out["advice"])
    text = await refusal(mcp_client, "SELECT * FROM runs WHERE created_at > now() - INTERVAL 1 DAY")
    assert "Code: 161" in text and "instead of SELECT *" in text
    text = await refusal(mcp_client, "SELECT count() FROM runz")
    assert "Unknown table runz" in text and "runs, batches, spans or records" in text
    text = await refusal(
        mcp_client, "SELECT created_att FROM spans WHERE execution_started_at > now() - INTERVAL 1 DAY"
    )
    assert "Did you mean" in text and "execution_started_at" in text


@pytest.mark.anyio
async def test_schema_resource(mcp_client: Client) -> None:
    resources = await mcp_client.list_resources()
    assert "cargo://sql/schema" in [str(r.uri) for r in resources.resources]
    result = await mcp_client.read_resource("cargo://sql/schema")
    text = resource_text(result)
    assert "## runs" in text and "| execution_started_at | DateTime64(3, 'UTC') |" in text
    assert "10,000,000 rows read" in text
    assert "- runs.status: idle, pending, running, success, error" in text and "spans.execution_status: pending" in text
