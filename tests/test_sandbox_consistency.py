"""The sandbox's data agrees with itself through every door (API counts, SQL, downloads, spans), tenants are
isolated on every endpoint, every planted cause has its exact count, and every fault kind behaves."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import chdb
import httpx
import pytest

from cargo_mcp.api.sql import (
    MAX_COLUMNS_READ,
    MAX_EXECUTION_SECONDS,
    MAX_RESULT_ROWS,
    MAX_ROWS_READ,
    MAX_SUBQUERY_DEPTH,
    TABLES,
)
from cargo_mcp.sandbox.engine import CAPS
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import SandboxWorkspace, build_sandbox

ORCH = "/orchestration"


def client(sb: Sandbox, workspace: int) -> httpx.Client:
    token = sb.workspaces[workspace].token
    return httpx.Client(base_url=sb.base_url + "/v1", headers={"authorization": f"Bearer {token}"}, timeout=60)


@pytest.fixture(scope="module")
def api(shared_sandbox: Sandbox) -> Iterator[httpx.Client]:
    with client(shared_sandbox, 0) as c:
        yield c


@pytest.fixture(scope="module")
def ws(shared_sandbox: Sandbox) -> SandboxWorkspace:
    return shared_sandbox.workspaces[0]


def sql(api: httpx.Client, query: str) -> list[dict[str, Any]]:
    r = api.post(f"{ORCH}/query", json={"query": query})
    assert r.status_code == 200, r.text
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def iso(ws: SandboxWorkspace, days_ago: float) -> str:
    return (datetime.fromtimestamp(ws.now, UTC) - timedelta(days=days_ago)).isoformat().replace("+00:00", "Z")


def node_error(slug: str) -> dict[str, Any]:
    condition = {"kind": "node", "nodeSlug": slug, "status": "error"}
    return {"conjonction": "and", "groups": [{"conjonction": "and", "conditions": [condition]}]}


# --- one filter, three doors -------------------------------------------------------------------


def filter_cases(ws: SandboxWorkspace) -> list[tuple[dict[str, Any], str]]:
    """(runs/count body, the same filter as a SQL WHERE clause on runs)."""
    batch = next(b for b in ws.batches if b.failed_runs_count and b.runs_count < 10_000)
    contact = ws.truth["rate_limit"]["workflow_uuid"]
    cutoff = ws.now - 3 * 86400

    def recent(w: Any, days: float) -> int:
        return sum(r.created_at > ws.now - days * 86400 and r.status == "success" for r in ws.runs_of_workflow[w.uuid])

    enrich = max((w for w in ws.workflows if w.spec.kind != "adhoc"), key=lambda w: recent(w, 1)).uuid
    return [
        ({"workflowUuid": batch.workflow.uuid, "batchUuid": batch.uuid}, f"batch_uuid = '{batch.uuid}'"),
        (
            {"workflowUuid": batch.workflow.uuid, "batchUuid": batch.uuid, "statuses": ["error"]},
            f"batch_uuid = '{batch.uuid}' AND status = 'error'",
        ),
        (
            {"workflowUuid": enrich, "createdAfter": iso(ws, 3)},
            f"workflow_uuid = '{enrich}' AND created_at > fromUnixTimestamp64Milli({int(cutoff * 1000)})",
        ),
        (
            {"workflowUuid": contact, "executionsFilter": node_error("find_email")},
            f"workflow_uuid = '{contact}' AND arrayExists((s, st) -> s = 'find_email' AND st = 'error', "
            "executions_node_slug, executions_status)",
        ),
        (
            {"workflowUuid": enrich, "statuses": ["success"], "createdAfter": iso(ws, 1)},
            f"workflow_uuid = '{enrich}' AND status = 'success' "
            f"AND created_at > fromUnixTimestamp64Milli({int((ws.now - 86400) * 1000)})",
        ),
    ]


def test_count_equals_sql_equals_downloaded_rows(api: httpx.Client, ws: SandboxWorkspace) -> None:
    for body, where in filter_cases(ws):
        count = api.post(f"{ORCH}/runs/count", json=body).json()["count"]
        assert 0 < count <= 10_000, body
        assert sql(api, f"SELECT count() AS n FROM runs WHERE {where}") == [{"n": count}], body
        url = api.post(f"{ORCH}/runs/download-outputs", json={**body, "format": "json"}).json()["url"]
        rows = httpx.get(url, timeout=60).json()
        assert len(rows) == count and len({r["runUuid"] for r in rows}) == count, body


def test_outputs_download_pages_with_limit_and_offset(api: httpx.Client, ws: SandboxWorkspace) -> None:
    body, _ = filter_cases(ws)[0]
    total = api.post(f"{ORCH}/runs/count", json=body).json()["count"]
    seen: list[str] = []
    for offset in range(0, total, 40):
        url = api.post(
            f"{ORCH}/runs/download-outputs", json={**body, "format": "json", "limit": 40, "offset": offset}
        ).json()["url"]
        seen += [r["runUuid"] for r in httpx.get(url, timeout=60).json()]
    assert len(seen) == len(set(seen)) == total


def test_runs_download_is_ndjson_of_full_runs(api: httpx.Client, ws: SandboxWorkspace) -> None:
    body, _ = filter_cases(ws)[1]
    url = api.post(f"{ORCH}/runs/download", json=body).json()["url"]
    lines = [json.loads(line) for line in httpx.get(url, timeout=60).text.splitlines() if line.strip()]
    expected = {r.uuid for r in ws.runs_of_batch[body["batchUuid"]] if r.status == "error"}
    assert {run["uuid"] for run in lines} == expected
    for run in lines:
        assert run["status"] == "error" and run["executions"] and "runContext" in run and "runComputedConfigs" in run


def test_too_many_and_no_runs(api: httpx.Client, ws: SandboxWorkspace) -> None:
    big = max(ws.workflows, key=lambda w: len(ws.runs_of_workflow[w.uuid]))
    assert len(ws.runs_of_workflow[big.uuid]) > 10_000
    for path in ("runs/download", "runs/download-outputs"):
        r = api.post(f"{ORCH}/{path}", json={"workflowUuid": big.uuid})
        assert r.status_code == 400 and r.json()["reason"] == "tooManyRuns", path
        r = api.post(f"{ORCH}/{path}", json={"workflowUuid": big.uuid, "recordId": "no-such-record"})
        assert r.status_code in (400, 404) and r.json()["reason"] == "noRunsFound", path


# --- spans, executions, batch counters ---------------------------------------------------------


def test_sql_tables_and_caps_are_the_contracts(
    api: httpx.Client, shared_sandbox: Sandbox, ws: SandboxWorkspace
) -> None:
    """The ClickHouse tables the sandbox serves (columns in order, types) and its query caps are api/sql.py's."""
    engine = shared_sandbox.engine
    rows = engine.internal_query(
        ws.uuid,
        "SELECT table, name, type FROM system.columns WHERE database = currentDatabase() ORDER BY table, position",
    )
    served: dict[str, list[tuple[str, str]]] = {}
    for row in rows:
        served.setdefault(row["table"], []).append((row["name"], row["type"]))
    assert served == TABLES
    conn = chdb.connect(f"{engine._path}?{CAPS}")  # type: ignore[no-untyped-call]
    try:
        names = "'max_execution_time', 'max_rows_to_read', 'max_columns_to_read', 'max_subquery_depth', 'readonly'"
        result = conn.query(f"SELECT name, value FROM system.settings WHERE name IN ({names})", "JSONEachRow")
        settings = {r["name"]: r["value"] for r in map(json.loads, result.bytes().decode().splitlines())}
    finally:
        conn.close()
    assert settings == {
        "max_execution_time": str(MAX_EXECUTION_SECONDS),
        "max_rows_to_read": str(MAX_ROWS_READ),
        "max_columns_to_read": str(MAX_COLUMNS_READ),
        "max_subquery_depth": str(MAX_SUBQUERY_DEPTH + 1),  # the engine's LIMIT wrapper costs one level
        "readonly": "1",
    }

    def refused(query: str) -> str:
        r = api.post(f"{ORCH}/query", json={"query": query})
        assert r.status_code == 400, r.text
        message: str = r.json()["errorMessage"]
        return message

    assert f"Requested: {len(TABLES['runs'])}, maximum: {MAX_COLUMNS_READ}." in refused("SELECT * FROM runs")
    deep = "SELECT * FROM (" * (MAX_SUBQUERY_DEPTH + 1) + "SELECT 1" + ")" * (MAX_SUBQUERY_DEPTH + 1)
    assert f"Maximum: {MAX_SUBQUERY_DEPTH}." in refused(deep)
    assert len(sql(api, f"SELECT arrayJoin(range({MAX_RESULT_ROWS + 5})) AS n")) == MAX_RESULT_ROWS


def test_spans_equal_executions(api: httpx.Client, ws: SandboxWorkspace) -> None:
    total = sum(len(r.executions) for r in ws.runs)
    assert sql(api, "SELECT count() AS n FROM spans") == [{"n": total}]
    mismatched = sql(
        api,
        "SELECT count() AS n FROM runs AS r LEFT JOIN (SELECT run_uuid, count() AS c FROM spans GROUP BY run_uuid) "
        "AS s ON s.run_uuid = r.uuid WHERE r.executions_count != s.c",
    )
    assert mismatched == [{"n": 0}]
    since = iso(ws, 60)
    for run in ws.runs[:: len(ws.runs) // 7][:7]:
        spans = api.post(f"{ORCH}/spans/list", json={"runUuid": run.uuid, "executionStartedAfter": since}).json()
        slugs = [run.release.specs[e.node].slug for e in run.executions]
        ordered = sorted(spans["spans"], key=lambda s: s["executionStartedAt"])
        assert [s["nodeSlug"] for s in ordered] == slugs
        got = api.get(f"{ORCH}/runs/{run.uuid}").json()["run"]
        assert [e["nodeUuid"] for e in got["executions"]] == [s["nodeUuid"] for s in ordered]


def test_batch_counters_and_credits_equal_their_runs(api: httpx.Client, ws: SandboxWorkspace) -> None:
    rows = sql(
        api,
        "SELECT b.uuid AS uuid, b.runs_count AS runs_count, b.failed_runs_count AS failed, "
        "b.credits_used_count AS credits, r.n AS n, r.errors AS errors, r.credits AS run_credits FROM batches AS b "
        "LEFT JOIN (SELECT batch_uuid, count() AS n, countIf(status = 'error') AS errors, "
        "sum(credits_used_count) AS credits FROM runs GROUP BY batch_uuid) AS r ON r.batch_uuid = b.uuid",
    )
    assert len(rows) == len(ws.batches)
    for row in rows:
        assert (row["runs_count"], row["failed"]) == (row["n"], row["errors"]), row["uuid"]
        assert abs(row["credits"] - row["run_credits"]) < 0.01 * max(1, row["n"]), row["uuid"]
        api_batch = api.get(f"{ORCH}/batches/{row['uuid']}").json()["batch"]
        assert (api_batch["runsCount"], api_batch["failedRunsCount"]) == (row["n"], row["errors"])


# --- planted causes ---------------------------------------------------------------------------


def test_every_planted_cause_has_its_exact_count(api: httpx.Client, ws: SandboxWorkspace) -> None:
    assert set(ws.truth) >= {"rate_limit", "expired_credentials", "agent_max_steps", "fallback_absorbed",
                             "filter_stop", "provider_timeout", "data_error"}  # fmt: skip
    for cause, t in ws.truth.items():
        assert t["runs"] > 0, cause
        scope = f"workflow_uuid = '{t['workflow_uuid']}' AND node_slug = '{t['node_slug']}'"
        if cause == "filter_stop":  # a filter that did not match: success, and the run stops there
            where = f"{scope} AND execution_status = 'success' AND node_next_uuid IS NULL"
        else:
            where = f"{scope} AND execution_status = 'error'"
        (row,) = sql(api, f"SELECT uniqExact(run_uuid) AS n FROM spans WHERE {where}")
        assert row["n"] == t["runs"], cause
    fallback = ws.truth["fallback_absorbed"]
    (row,) = sql(
        api,
        "SELECT count() AS n, countIf(has(executions_node_slug, 'fallback_enrich')) AS continued, "
        f"countIf(status = 'error' AND NOT arrayExists((s, st) -> st = 'error' AND s != '{fallback['node_slug']}', "
        f"executions_node_slug, executions_status)) AS failed_there FROM runs WHERE workflow_uuid = "
        f"'{fallback['workflow_uuid']}' AND uuid IN (SELECT run_uuid FROM spans WHERE node_slug = "
        f"'{fallback['node_slug']}' AND execution_status = 'error' AND node_next_uuid IS NOT NULL)",
    )
    assert row["n"] == row["continued"] == fallback["runs"], "a fallback edge absorbs the error: those runs go on"
    assert row["failed_there"] == 0, "no run is failed by the error its fallback edge absorbed"


# --- tenancy -------------------------------------------------------------------------------------


def test_another_workspace_sees_nothing_of_the_first(shared_sandbox: Sandbox) -> None:
    a = shared_sandbox.workspaces[0]
    batch = next(b for b in a.batches if b.status == "success" and b.workflow.spec.kind == "tool")
    wf = batch.workflow
    play = next(w for w in a.workflows if w.spec.kind == "play")
    run = a.runs_of_batch[batch.uuid][0]
    with client(shared_sandbox, 1) as b:
        not_found = {
            f"{ORCH}/runs/{run.uuid}": "runNotFound",
            f"{ORCH}/batches/{batch.uuid}": "batchNotFound",
            f"{ORCH}/releases/{batch.release.uuid}": "releaseNotFound",
            f"{ORCH}/tools/{wf.tool_uuid}": "toolNotFound",
            f"{ORCH}/plays/{play.play_uuid}": "playNotFound",
        }
        for path, reason in not_found.items():
            r = b.get(path)
            assert r.status_code == 404 and r.json()["reason"] == reason, path
        r = b.get(f"{ORCH}/releases/deployed", params={"workflowUuid": wf.uuid})
        assert r.status_code == 404, r.text
        r = b.post(f"{ORCH}/batches/{batch.uuid}/download", json={})
        assert r.status_code == 404
        assert b.post(f"{ORCH}/runs/count", json={"workflowUuid": wf.uuid}).json()["count"] == 0
        assert b.post(f"{ORCH}/runs/list", json={"workflowUuid": wf.uuid}).json()["runs"] == []
        for path in ("runs/download", "runs/download-outputs", "runs/metrics"):
            r = b.post(f"{ORCH}/{path}", json={"workflowUuid": wf.uuid})
            assert r.status_code in (400, 404) and r.json()["reason"] in ("workflowNotFound", "noRunsFound"), path
        since = iso(a, 60)
        assert b.post(f"{ORCH}/spans/count", json={"runUuid": run.uuid, "executionStartedAfter": since}).json() == {
            "count": 0
        }
        assert b.post(f"{ORCH}/records/count", json={"workflowUuid": wf.uuid}).json()["count"] == 0
        assert wf.uuid not in {w["uuid"] for w in b.get(f"{ORCH}/workflows/list").json()["workflows"]}
        assert wf.tool_uuid not in {t["uuid"] for t in b.get(f"{ORCH}/tools/list").json()["tools"]}
        assert batch.uuid not in {x["uuid"] for x in b.get(f"{ORCH}/batches/list").json()["batches"]}
        for table, column in (("runs", "uuid"), ("spans", "run_uuid"), ("batches", "uuid"), ("records", "run_uuid")):
            (row,) = b.post(f"{ORCH}/query", json={"query": f"SELECT countIf({column} = '{run.uuid}' OR "
                            f"{column} = '{batch.uuid}') AS n, uniqExact(workspace_uuid) AS w FROM {table}"}).json()["rows"]  # fmt: skip
            assert row == {"n": 0, "w": 1}, table


# --- fault injection ------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 500, 502, 503])
def test_status_faults(api: httpx.Client, faults: Callable[..., None], status: int) -> None:
    path = "/v1/orchestration/workflows/list"
    faults(path=path, kind="status", status=status, count=2, retryAfter=3 if status == 429 else None)
    for _ in range(2):
        r = api.get(f"{ORCH}/workflows/list")
        assert r.status_code == status
        assert (r.headers.get("retry-after") == "3") == (status == 429)
    assert api.get(f"{ORCH}/workflows/list").status_code == 200


def test_hang_drop_and_malformed_faults(api: httpx.Client, faults: Callable[..., None]) -> None:
    path = "/v1/orchestration/tools/list"
    faults(path=path, kind="hang", seconds=2)
    t0 = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        api.get(f"{ORCH}/tools/list", timeout=0.5)
    assert time.monotonic() - t0 < 1.5
    faults(path=path, kind="drop")
    with pytest.raises(httpx.TransportError):
        api.get(f"{ORCH}/tools/list")
    faults(path=path, kind="malformed")
    r = api.get(f"{ORCH}/tools/list")
    assert r.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        r.json()
    assert api.get(f"{ORCH}/tools/list").json()["tools"]


def test_expired_url_fault(api: httpx.Client, ws: SandboxWorkspace, faults: Callable[..., None]) -> None:
    body, _ = filter_cases(ws)[1]
    url = api.post(f"{ORCH}/runs/download-outputs", json=body).json()["url"]
    assert httpx.get(url, timeout=60).status_code == 200
    assert httpx.get(url.replace("signature=", "signature=0"), timeout=60).status_code == 403
    faults(path="/files/", kind="expired_url", count=1)
    r = httpx.get(url, timeout=60)
    assert r.status_code == 403 and "<Code>AccessDenied</Code><Message>Request has expired." in r.text
    assert r.headers["content-type"] == "application/xml"
    assert httpx.get(url, timeout=60).status_code == 200  # an ordinary fault: it hits `count` requests, no more


def test_no_run_is_created_after_now(ws: SandboxWorkspace) -> None:
    pending = [r for r in ws.runs if r.status == "pending" and r.batch is not None]
    assert pending and max(r.created_at for r in ws.runs) <= ws.now
    assert all(r.batch is not None and r.created_at >= r.batch.created_at for r in pending)


def test_a_given_token_changes_no_other_data() -> None:
    now = 1_800_000_000.0
    plain = build_sandbox(seed=3, now=now, scale=0.02, tokens=(None, None))
    given = build_sandbox(seed=3, now=now, scale=0.02, tokens=("my-token", None))
    assert given[0].token == "my-token" != plain[0].token
    for a, b in zip(plain, given, strict=True):
        assert a.uuid == b.uuid and [r.uuid for r in a.runs] == [r.uuid for r in b.runs]
    assert plain[1].token == given[1].token
