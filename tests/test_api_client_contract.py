"""The official TypeScript client, @cargo-ai/api, against the sandbox: every implemented endpoint answers in
the shape the client expects, with the sandbox's own data, and its errors carry the right type and reason."""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import uuid
from pathlib import Path
from typing import Any

import httpx
import pytest

from cargo_mcp.sandbox.outputs import default_output_slug
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import BatchRec, SandboxWorkspace
from tests.npm_tools import ensure_node_packages, node_executable
from tests.support import CARGO_CLIENT

SCRIPT = Path(__file__).parent / "contract" / "client_contract.mjs"


def contract_batch(ws: SandboxWorkspace) -> BatchRec:
    """A finished batch of a tool with failed runs (so errors, downloads and metrics all have data)."""
    return next(
        b
        for b in ws.batches
        if b.workflow.spec.kind == "tool" and b.status == "success" and b.failed_runs_count and b.runs_count < 5000
    )


@pytest.fixture(scope="module")
def case(shared_sandbox: Sandbox) -> dict[str, Any]:
    ws = shared_sandbox.workspaces[0]
    batch = contract_batch(ws)
    run = next(r for r in ws.runs_of_batch[batch.uuid] if r.status == "error")
    play = next(w for w in ws.workflows if w.spec.kind == "play")
    return {
        "baseUrl": shared_sandbox.base_url,
        "token": ws.token,
        "workspaceUuid": ws.uuid,
        "workflowUuid": batch.workflow.uuid,
        "toolUuid": batch.workflow.tool_uuid,
        "playUuid": play.play_uuid,
        "releaseUuid": batch.release.uuid,
        "batchUuid": batch.uuid,
        "runUuid": run.uuid,
        "outputNodeSlug": default_output_slug(batch.workflow),
        "unknownUuid": str(uuid.UUID(int=7)),
    }


@pytest.fixture(scope="module")
def report(case: dict[str, Any]) -> dict[str, Any]:
    root = ensure_node_packages("cargo-ai-api", CARGO_CLIENT)
    script = root / SCRIPT.name  # beside node_modules, so the import of @cargo-ai/api resolves
    shutil.copyfile(SCRIPT, script)
    proc = subprocess.run(
        [node_executable(), str(script), json.dumps(case)], capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def result(report: dict[str, Any], name: str) -> Any:
    call = report["calls"][name]
    assert call["ok"], f"{name} failed through the official client: {call['error']}"
    return call["result"]


def test_every_implemented_endpoint_answers_through_the_official_client(report: dict[str, Any]) -> None:
    failed = {name: call["error"] for name, call in report["calls"].items() if not call["ok"]}
    assert failed == {}
    assert len(report["calls"]) >= 27


def test_catalog_endpoints(report: dict[str, Any], case: dict[str, Any], shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    workflows = result(report, "orchestration.workflow.all")["workflows"]
    assert {w["uuid"] for w in workflows} >= {w.uuid for w in ws.workflows if w.spec.kind != "adhoc"}
    tools = result(report, "orchestration.tool.all")["tools"]
    assert case["toolUuid"] in {t["uuid"] for t in tools} and all(t["workflowUuid"] for t in tools)
    assert result(report, "orchestration.tool.get")["tool"]["uuid"] == case["toolUuid"]
    plays = result(report, "orchestration.play.list")["plays"]
    assert case["playUuid"] in {p["uuid"] for p in plays}
    assert result(report, "orchestration.play.get")["play"]["uuid"] == case["playUuid"]


def test_release_endpoints(report: dict[str, Any], case: dict[str, Any]) -> None:
    releases = result(report, "orchestration.release.list")["releases"]
    assert {r["status"] for r in releases} >= {"deployed", "archived"}
    assert all(r["workflowUuid"] == case["workflowUuid"] for r in releases)
    release = result(report, "orchestration.release.get")["release"]
    assert release["uuid"] == case["releaseUuid"] and 5 <= len(release["nodes"]) <= 14
    assert {n["kind"] for n in release["nodes"]} >= {"native", "connector"}
    deployed = result(report, "orchestration.release.getDeployed")["release"]
    assert deployed["status"] == "deployed" and deployed["workflowUuid"] == case["workflowUuid"]


def test_batch_endpoints(report: dict[str, Any], case: dict[str, Any], shared_sandbox: Sandbox) -> None:
    batch = shared_sandbox.workspaces[0].batches_by_uuid[case["batchUuid"]]
    got = result(report, "orchestration.batch.get")["batch"]
    assert got["uuid"] == batch.uuid and got["status"] == batch.status
    assert (got["runsCount"], got["failedRunsCount"]) == (batch.runs_count, batch.failed_runs_count)
    listed = result(report, "orchestration.batch.list")["batches"]
    assert 1 <= len(listed) <= 5 and all(b["workflowUuid"] == case["workflowUuid"] for b in listed)
    text = httpx.get(result(report, "orchestration.batch.download")["url"], timeout=60).text
    rows = list(csv.DictReader(io.StringIO(text)))  # the batch download is CSV (no format option)
    assert len(rows) == batch.runs_count and {r["runUuid"] for r in rows} == {
        r.uuid for r in shared_sandbox.workspaces[0].runs_of_batch[batch.uuid]
    }


def test_run_endpoints(report: dict[str, Any], case: dict[str, Any], shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    batch = ws.batches_by_uuid[case["batchUuid"]]
    run = result(report, "orchestration.run.get")["run"]
    assert run["uuid"] == case["runUuid"] and run["status"] == "error" and run["executions"]
    listed = result(report, "orchestration.run.list")["runs"]
    assert len(listed) == 5 and all(r["batchUuid"] == batch.uuid for r in listed)
    assert result(report, "orchestration.run.count")["count"] == batch.runs_count
    assert result(report, "orchestration.run.count.errors")["count"] == batch.failed_runs_count
    ndjson = httpx.get(result(report, "orchestration.run.download")["url"], timeout=60).text
    lines = [json.loads(line) for line in ndjson.splitlines() if line]
    assert len(lines) == batch.failed_runs_count and {r["status"] for r in lines} == {"error"}
    outputs = httpx.get(result(report, "orchestration.run.downloadOutputs")["url"], timeout=60).json()
    assert len(outputs) == batch.runs_count and {"recordId", "runUuid"} <= set(outputs[0])
    metrics = result(report, "orchestration.run.getMetrics")["runMetrics"]
    assert metrics and all("nodeUuid" in m for m in metrics)
    assert result(report, "orchestration.run.list.recent")["runs"]


def test_span_query_and_record_endpoints(report: dict[str, Any], case: dict[str, Any], shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    run = ws.runs_by_uuid[case["runUuid"]]
    batch = ws.batches_by_uuid[case["batchUuid"]]
    spans = result(report, "orchestration.span.list")["spans"]
    assert len(spans) == len(run.executions) and all(s["runUuid"] == run.uuid for s in spans)
    assert result(report, "orchestration.span.count")["count"] == len(run.executions)
    assert result(report, "orchestration.query.execute")["rows"] == [{"n": batch.runs_count}]
    records = result(report, "orchestration.record.list")["records"]
    assert 1 <= len(records) <= 5 and all(r["batchUuid"] == batch.uuid for r in records)
    assert result(report, "orchestration.record.count")["count"] >= len(records)
    csv_text = httpx.get(result(report, "orchestration.record.downloadOutputs")["url"], timeout=60).text
    assert csv_text.splitlines()[0].startswith("recordId,")


def test_identity_endpoints(report: dict[str, Any], case: dict[str, Any], shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    assert result(report, "workspaceManagement.workspace.getCurrent")["workspace"]["uuid"] == case["workspaceUuid"]
    assert result(report, "workspaceManagement.user.getCurrent")["user"]["uuid"] == ws.user_uuid
    assert result(report, "userManagement.user.getCurrent")["user"]["email"] == ws.user_email


@pytest.mark.parametrize(
    ("case_name", "error_type", "reason", "status"),
    [
        ("notFound", "RequestError", "runNotFound", 404),
        ("invalidBody", "RequestError", "invalidPayload", 400),
        ("unknownKey", "RequestError", "invalidPayload", 400),
        ("missingToken", "AuthorizationError", "unauthorized", 401),
    ],
)
def test_client_errors_carry_type_and_reason(
    report: dict[str, Any], case_name: str, error_type: str, reason: str, status: int
) -> None:
    error = report["errors"][case_name]
    assert error["threw"], f"{case_name} did not fail: {error.get('result')}"
    assert (error["type"], error["reason"], error["status"]) == (error_type, reason, status)
    assert error["message"] and "Unknown error" not in error["message"]


def test_invalid_body_messages_name_the_field(report: dict[str, Any]) -> None:
    assert "statuses" in report["errors"]["invalidBody"]["message"]
    assert "colour" in report["errors"]["unknownKey"]["message"]
