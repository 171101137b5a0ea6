"""The sandbox over real loopback HTTP: contract shapes, errors, tenancy and consistency."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from cargo_mcp.sandbox.server import Sandbox


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(faults=True)
    sb.serve_in_thread()
    yield sb
    sb.close()


@pytest.fixture(scope="module")
def api(sandbox: Sandbox) -> Iterator[httpx.Client]:
    ws = sandbox.workspaces[0]
    with httpx.Client(
        base_url=sandbox.base_url + "/v1", headers={"authorization": f"Bearer {ws.token}"}, timeout=60
    ) as c:
        yield c


def test_size_of_the_default_workspace(sandbox: Sandbox) -> None:
    ws = sandbox.workspaces[0]
    assert len(ws.runs) >= 50_000
    assert len(ws.batches) >= 30
    assert {b.status for b in ws.batches} >= {"running", "success", "error", "cancelled"}


def test_releases_use_all_four_node_kinds_and_tool_nodes_name_their_tool(api: httpx.Client) -> None:
    releases = api.get("/orchestration/releases/list").json()["releases"]
    nodes = [n for r in releases for n in r["nodes"]]
    assert {n["kind"] for n in nodes} == {"native", "connector", "tool", "agent"}
    assert {r["status"] for r in releases} == {"deployed", "archived"}
    assert all(5 <= len(r["nodes"]) <= 14 for r in releases)
    tools = {t["uuid"] for t in api.get("/orchestration/tools/list").json()["tools"]}
    tool_nodes = [n for n in nodes if n["kind"] == "tool"]
    assert tool_nodes and all(n["toolUuid"] in tools and "actionSlug" not in n for n in tool_nodes)
    (row,) = api.post(
        "/orchestration/query",
        json={"query": "SELECT count() AS n, uniqExact(node_tool_uuid) AS tools, countIf(node_action_slug IS NOT NULL) "
              "AS with_action FROM spans WHERE node_kind = 'tool'"},
    ).json()["rows"]  # fmt: skip
    assert row["n"] > 0 and row["tools"] == 1 and row["with_action"] == 0


def test_missing_and_bad_token(sandbox: Sandbox) -> None:
    r = httpx.post(sandbox.base_url + "/v1/orchestration/runs/count", json={})
    assert r.status_code == 401 and r.json()["reason"] == "unauthorized"
    r = httpx.post(sandbox.base_url + "/v1/orchestration/runs/count", json={}, headers={"authorization": "Bearer nope"})
    assert r.status_code == 401


def test_invalid_body_names_the_field(api: httpx.Client, sandbox: Sandbox) -> None:
    wf = sandbox.workspaces[0].workflows[0].uuid
    r = api.post("/orchestration/runs/download", json={"workflowUuid": wf, "isFinished": True})
    assert r.status_code == 400 and "unrecognized_keys: isFinished" in r.json()["errorMessage"]
    r = api.post("/orchestration/runs/count", json={"statuses": ["finished"]})
    assert r.status_code == 400 and "statuses" in r.json()["errorMessage"]
    r = api.get("/orchestration/runs/not-a-uuid")
    assert r.status_code == 400 and "UUID" in r.json()["errorMessage"]
    cond = {"kind": "node", "nodeSlug": "enrich", "operator": "error"}  # the docs' shape (docs/cargo-contract.md §10)
    r = api.post("/orchestration/runs/count", json={"executionsFilter": {"groups": [{"conditions": [cond]}]}})
    assert r.status_code == 400 and "operator" in r.json()["errorMessage"]
    done = next(b for b in sandbox.workspaces[0].batches if b.status == "success")
    r = api.post(
        f"/orchestration/batches/{done.uuid}/download", json={"format": "json"}
    )  # the body is outputNodeSlug only
    assert r.status_code == 400 and "format" in r.json()["errorMessage"]


def test_unknown_paths_and_methods_answer_in_cargos_error_shape(api: httpx.Client) -> None:
    r = api.get("/orchestration/nothing-here")
    assert r.status_code == 404 and "has no endpoint at /v1/orchestration/nothing-here" in r.json()["errorMessage"]
    r = api.delete("/orchestration/runs/count")
    assert r.status_code == 405 and "DELETE is not allowed" in r.json()["errorMessage"]


def test_not_found(api: httpx.Client) -> None:
    r = api.get("/orchestration/runs/3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f")
    assert r.status_code == 404 and r.json()["reason"] == "runNotFound"


def test_count_equals_sql_and_batch_counters(api: httpx.Client, sandbox: Sandbox) -> None:
    ws = sandbox.workspaces[0]
    b = next(b for b in ws.batches if b.failed_runs_count > 0)
    count = api.post(
        "/orchestration/runs/count",
        json={"workflowUuid": b.workflow.uuid, "batchUuid": b.uuid, "statuses": ["error"]},
    ).json()["count"]
    assert count == b.failed_runs_count
    rows = api.post(
        "/orchestration/query",
        json={"query": f"SELECT count() AS n FROM runs WHERE batch_uuid = '{b.uuid}' AND status = 'error'"},
    ).json()["rows"]
    assert rows[0]["n"] == count
    got = api.get(f"/orchestration/batches/{b.uuid}").json()["batch"]
    assert got["failedRunsCount"] == count and got["runsCount"] == b.runs_count


def test_planted_rate_limit_count(api: httpx.Client, sandbox: Sandbox) -> None:
    ws = sandbox.workspaces[0]
    t = ws.truth["rate_limit"]
    flt = {
        "conjonction": "and",
        "groups": [
            {
                "conjonction": "and",
                "conditions": [{"kind": "node", "nodeSlug": "find_email", "status": "error", "value": "429"}],
            }
        ],
    }
    n = api.post(
        "/orchestration/runs/count", json={"workflowUuid": t["workflow_uuid"], "executionsFilter": flt}
    ).json()["count"]
    assert n == t["runs"] > 0


def test_select_star_runs_hits_column_cap(api: httpx.Client) -> None:
    r = api.post("/orchestration/query", json={"query": "SELECT * FROM runs"})
    assert r.status_code == 400 and "Code: 161" in r.json()["errorMessage"]


def test_tenancy(sandbox: Sandbox) -> None:
    a, b = sandbox.workspaces
    run_b = b.runs[0].uuid
    with httpx.Client(base_url=sandbox.base_url + "/v1", headers={"authorization": f"Bearer {a.token}"}) as c:
        assert c.get(f"/orchestration/runs/{run_b}").status_code == 404
        rows = c.post(
            "/orchestration/query",
            json={"query": "SELECT uniqExact(workspace_uuid) AS n, any(workspace_uuid) AS w FROM runs"},
        ).json()["rows"]
        assert rows == [{"n": 1, "w": a.uuid}]
        r = c.get("/workspaceManagement/workspaces/current", headers={"selected-workspace-uuid": b.uuid})
        assert r.status_code == 403


def test_download_outputs_signed_url(api: httpx.Client, sandbox: Sandbox) -> None:
    ws = sandbox.workspaces[0]
    b = next(b for b in ws.batches if b.status == "success" and b.runs_count < 10_000)
    url = api.post(
        "/orchestration/runs/download-outputs",
        json={"workflowUuid": b.workflow.uuid, "batchUuid": b.uuid, "format": "json"},
    ).json()["url"]
    rows = httpx.get(url).json()
    assert len(rows) == b.runs_count
    assert len({r["recordId"] for r in rows}) <= len(rows)
    assert httpx.get(url.replace("signature=", "signature=0")).status_code == 403


def test_large_result_truncated_to_exactly_10000(api: httpx.Client) -> None:
    rows = api.post("/orchestration/query", json={"query": "SELECT uuid FROM runs LIMIT 50000"}).json()["rows"]
    assert len(rows) == 10_000


@pytest.mark.parametrize("cause", ["rate_limit", "expired_credentials", "agent_max_steps", "provider_timeout"])
def test_planted_error_causes_have_exact_span_counts(api: httpx.Client, sandbox: Sandbox, cause: str) -> None:
    t = sandbox.workspaces[0].truth[cause]
    sql = (
        f"SELECT count() AS n FROM spans WHERE workflow_uuid = '{t['workflow_uuid']}' AND node_slug = "
        f"'{t['node_slug']}' AND execution_status = 'error' AND execution_started_at > now() - INTERVAL 40 DAY"
    )
    if cause == "rate_limit":
        sql += " AND execution_error_message ILIKE '%429%'"
    rows = api.post("/orchestration/query", json={"query": sql}).json()["rows"]
    assert rows[0]["n"] == t["runs"] > 0
