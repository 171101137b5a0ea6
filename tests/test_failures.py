"""inspect_failures and trace_run find every planted cause, exactly, in both scopes."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.failures.classify import classify
from cargo_mcp.failures.queries import Scope, error_groups, normalized
from cargo_mcp.guard.sql import check
from cargo_mcp.sandbox.server import Sandbox
from tests.support import prompt_text, tool_text

pytestmark = pytest.mark.anyio

FAILING = ["rate_limit", "expired_credentials", "agent_max_steps", "provider_timeout", "data_error"]


async def ok(client: Client, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], str]:
    r = await client.call_tool(name, args)
    text: str = tool_text(r)
    assert not r.is_error, text
    assert r.structured_content is not None
    return r.structured_content, text


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="milliseconds")


def truth(sb: Sandbox, cause: str) -> dict[str, Any]:
    t: dict[str, Any] = sb.workspaces[0].truth[cause]
    return t


def top_batch(sb: Sandbox, cause: str) -> tuple[str, int]:
    by_batch: dict[str, int] = truth(sb, cause)["by_batch"]
    return max(by_batch.items(), key=lambda kv: kv[1])


def group_of(report: dict[str, Any], slug: str, key: str = "error_groups") -> list[dict[str, Any]]:
    return [g for g in report[key] if g["node_slug"] == slug]


@pytest.mark.parametrize("cause", FAILING)
async def test_batch_scope_finds_each_cause_exactly(mcp_client: Client, shared_sandbox: Sandbox, cause: str) -> None:
    t = truth(shared_sandbox, cause)
    batch_uuid, expected = top_batch(shared_sandbox, cause)
    report, text = await ok(mcp_client, "inspect_failures", {"batch_uuid": batch_uuid})
    groups = group_of(report, t["node_slug"])
    assert len(groups) == 1, groups  # one cause = one group
    g = groups[0]
    assert g["count"] == expected and g["classification"] == t["classification"]
    assert g["exemplar_runs"] and all(
        shared_sandbox.workspaces[0].runs_by_uuid[u].status == "error" for u in g["exemplar_runs"]
    )
    assert "<n>" in g["pattern"] or g["pattern"] == g["example"]
    batch = next(b for b in shared_sandbox.workspaces[0].batches if b.uuid == batch_uuid)
    assert report["totals"]["failed"] == batch.failed_runs_count == report["batch"]["failed_runs_count"]
    assert report["batch"]["success_with_failures"] == (batch.status == "success")
    assert len(text) <= 6000 and t["node_slug"] in text


@pytest.mark.parametrize("cause", FAILING)
async def test_workflow_window_scope_finds_each_cause_exactly(
    mcp_client: Client, shared_sandbox: Sandbox, cause: str
) -> None:
    t = truth(shared_sandbox, cause)
    report, _ = await ok(mcp_client, "inspect_failures", {"workflow": t["workflow_uuid"], "created_after": "60d"})
    (g,) = group_of(report, t["node_slug"])
    assert g["count"] == t["runs"] and g["classification"] == t["classification"]


async def test_workflow_window_is_respected(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    t = truth(shared_sandbox, "expired_credentials")
    ws = shared_sandbox.workspaces[0]
    runs = ws.runs_of_workflow[t["workflow_uuid"]]
    failed = sorted(u.created_at for u in runs if u.status == "error")
    q1, q3 = len(failed) // 4, 3 * len(failed) // 4  # a window holding about half of them, edges between runs
    lo, hi = (failed[q1 - 1] + failed[q1]) / 2, (failed[q3 - 1] + failed[q3]) / 2
    window = {"created_after": iso(lo), "created_before": iso(hi)}
    report, _ = await ok(mcp_client, "inspect_failures", {"workflow": t["workflow_uuid"], **window})
    expected = sum(1 for u in runs if lo <= u.created_at < hi and u.status == "error")
    assert 0 < expected < len(failed) and report["totals"]["failed"] == expected
    assert sum(g["count"] for g in group_of(report, t["node_slug"])) == expected


async def test_fallback_and_filter_stops_are_not_failures(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    fb = truth(shared_sandbox, "fallback_absorbed")
    batch_uuid, expected = top_batch(shared_sandbox, "fallback_absorbed")
    report, text = await ok(mcp_client, "inspect_failures", {"batch_uuid": batch_uuid})
    assert not group_of(report, fb["node_slug"])
    (absorbed,) = group_of(report, fb["node_slug"], "absorbed_by_fallback")
    assert absorbed["count"] == expected and absorbed["classification"] == "fallback"
    assert "Absorbed by fallback (not failures)" in text
    node = next(n for n in report["nodes"] if n["slug"] == fb["node_slug"])
    assert node["absorbed"] == node["errors"] == expected  # every error of this node was absorbed ...
    real = [n for n in report["nodes"] if n["errors"] > n["absorbed"]]
    assert report["nodes"][: len(real)] == real  # ... so the nodes whose errors failed runs rank first
    fs = truth(shared_sandbox, "filter_stop")
    batch_uuid, expected = top_batch(shared_sandbox, "filter_stop")
    report, text = await ok(mcp_client, "inspect_failures", {"batch_uuid": batch_uuid})
    assert [s["stops"] for s in report["filter_stops"] if s["node_slug"] == fs["node_slug"]] == [expected]
    assert not group_of(report, fs["node_slug"]) and "not failures" in text


async def test_rate_limit_is_clustered_in_time(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    batch_uuid, _ = top_batch(shared_sandbox, "rate_limit")
    report, _ = await ok(mcp_client, "inspect_failures", {"batch_uuid": batch_uuid})
    (g,) = group_of(report, truth(shared_sandbox, "rate_limit")["node_slug"])
    assert g["clustered"] and len(g["time_profile"]) == 24
    other = [x for x in report["error_groups"] if x["classification"] == "provider"]
    assert other and not other[0]["clustered"]


async def test_rerun_recipe_fits_the_workflow_type(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    play_batch, _ = top_batch(shared_sandbox, "expired_credentials")
    report, _ = await ok(mcp_client, "inspect_failures", {"batch_uuid": play_batch})
    data = report["rerun"]["body"]["data"]
    play = next(w for w in shared_sandbox.workspaces[0].workflows if w.uuid == report["workflow_uuid"])
    assert data["kind"] == "recordIds" and data["modelUuid"] == play.model_uuid
    runs = shared_sandbox.workspaces[0].runs_of_batch[play_batch]
    failed_ids = {r.record_id for r in runs if r.status == "error"}
    assert set(data["ids"]) == failed_ids - {r.record_id for r in runs if r.status == "success"}
    tool_batch, _ = top_batch(shared_sandbox, "agent_max_steps")
    report, _ = await ok(mcp_client, "inspect_failures", {"batch_uuid": tool_batch})
    data = report["rerun"]["body"]["data"]
    assert data["kind"] == "records" and data["records"]  # tools take file or records, not recordIds nor runs


async def test_inspect_failures_input_errors(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    report, _ = await ok(mcp_client, "inspect_failures", {})  # no workflow, no batch: the whole workspace
    assert report["scope"] == "workspace" and report["workflows"]
    batch_uuid, _ = top_batch(shared_sandbox, "rate_limit")
    r = await mcp_client.call_tool("inspect_failures", {"batch_uuid": batch_uuid, "workflow": "Lead scorer"})
    assert r.is_error and "belongs to workflow" in tool_text(r)


async def test_trace_run_names_the_failing_node_and_the_branch(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    t = truth(shared_sandbox, "rate_limit")
    out, text = await ok(mcp_client, "trace_run", {"run_uuid": t["run_uuids"][0]})
    assert out["failing_node"] == t["node_slug"]
    assert f"Failing node {t['node_slug']}: Request failed with status code 429" in text
    assert f"{t['node_slug']} (connector:hunter.findEmail)  ✖ FAILED" in text and "· not run" in text
    fb = truth(shared_sandbox, "fallback_absorbed")
    out, text = await ok(mcp_client, "trace_run", {"run_uuid": fb["run_uuids"][0]})
    taken = "yes" if "[yes] qualify" in {s["next"] for s in out["path"]} else "no"
    assert f"[{taken}] " in text and "↪ error, fallback taken" in text
    assert ("[no] skip (native:end)  · not run" in text) == (taken == "yes")


def test_classification_rules() -> None:
    assert classify("HTTP <n> Too Many Requests", False).classification == "rate_limit"
    assert classify("401 Unauthorized: token expired", False).classification == "credentials"
    assert classify("maximum number of steps reached", False).classification == "agent_step_limit"
    assert classify("upstream timeout after <n> ms", False).classification == "provider"
    assert classify("TypeError: Cannot read properties of undefined", False).classification == "data"
    assert classify("anything at all", True).classification == "fallback"
    assert classify("something odd", False).classification == "unknown"
    # the status code survives normalization as a suffix, so it still classifies and splits causes
    assert classify("Request failed with status code <n> [HTTP 429]", False).classification == "rate_limit"
    assert classify("Request failed with status code <n> [HTTP 401]", False).classification == "credentials"
    assert classify("Request failed with status code <n> [HTTP 503]", False).classification == "provider"


def test_normalization_keeps_status_codes_apart(shared_sandbox: Sandbox) -> None:
    messages = [
        "Request failed with status code 429",
        "Request failed with status code 500",
        "HTTP 429 Too Many Requests for 3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f",
        "HTTP 429 Too Many Requests for 9a9b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f",
        "timeout after 300 s",
    ]
    cols = ", ".join(f"{normalized(_quote(m))} AS m{i}" for i, m in enumerate(messages))
    ws = shared_sandbox.workspaces[0]
    r = httpx.post(
        shared_sandbox.base_url + "/v1/orchestration/query",
        json={"query": f"SELECT {cols}"},
        headers={"authorization": f"Bearer {ws.token}"},
    )
    got = list(r.json()["rows"][0].values())
    assert got[0] == "Request failed with status code <n> [HTTP 429]" != got[1]
    assert got[2] == got[3] == "HTTP <n> Too Many Requests for <uuid> [HTTP 429]"
    assert got[4] == "timeout after <n> s"
    assert [classify(p, False).classification for p in got] == [
        "rate_limit", "provider", "rate_limit", "rate_limit", "provider"
    ]  # fmt: skip


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


async def test_debug_failed_batch_prompt(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    (prompt,) = (await mcp_client.list_prompts()).prompts
    assert prompt.name == "debug_failed_batch" and [a.name for a in prompt.arguments or []] == ["batch_uuid"]
    batch_uuid, _ = top_batch(shared_sandbox, "data_error")
    got = await mcp_client.get_prompt("debug_failed_batch", {"batch_uuid": batch_uuid})
    text = prompt_text(got)
    for step in (f'get_batch(batch_uuid="{batch_uuid}")', f'inspect_failures(batch_uuid="{batch_uuid}")', "trace_run("):
        assert step in text
    assert "untrusted" in text and "never claim a re-run was started" in text
    with pytest.raises(Exception, match="batch_uuid must be a UUID"):
        await mcp_client.get_prompt("debug_failed_batch", {"batch_uuid": "yesterday's batch"})


async def test_trace_run_marks_each_node_of_a_repeated_slug(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    def durations(run: Any) -> list[int]:
        return [round((e.finished_at - e.started_at) * 1000) for e in run.executions if e.node in twice]

    ws = shared_sandbox.workspaces[0]
    scorer = next(w for w in ws.workflows if w.spec.key == "lead_scorer")
    twice = [i for i, s in enumerate(scorer.releases[1].specs) if s.slug == "variables"]
    v2 = [r for r in ws.runs_of_workflow[scorer.uuid] if r.release is scorer.releases[1] and r.status == "success"]
    run = next(r for r in v2 if len(d := durations(r)) == 2 and abs(d[0] - d[1]) > 5)
    _, text = await ok(mcp_client, "trace_run", {"run_uuid": run.uuid})
    shown = [int(line.split("✔ ")[1].split()[0]) for line in text.splitlines() if "variables (native:" in line]
    assert len(shown) == 2 and all(abs(a - b) <= 1 for a, b in zip(shown, durations(run), strict=True))


async def test_a_batch_that_failed_as_a_whole_is_reported(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    failed = next(b for b in shared_sandbox.workspaces[0].batches if b.status == "error")
    report, text = await ok(mcp_client, "inspect_failures", {"batch_uuid": failed.uuid})
    (fb,) = report["failed_batches"]
    assert fb["batch_uuid"] == failed.uuid and fb["error_message"] == failed.error_message
    assert fb["classification"] == "provider" and "create the batch again" in fb["fix"]
    assert report["batch"]["error_message"] == failed.error_message and "failed as a whole" in text
    report, text = await ok(
        mcp_client, "inspect_failures", {"workflow": failed.workflow.spec.name, "created_after": "30d"}
    )
    assert [b["batch_uuid"] for b in report["failed_batches"]] == [failed.uuid] and failed.uuid in text
    batch = await ok(mcp_client, "get_batch", {"batch_uuid": failed.uuid})
    assert batch[0]["failure_rate"] is None and batch[0]["progress"] is None  # nothing ran: no rate, not 0


async def test_failure_rate_means_the_same_in_get_batch_and_inspect_failures(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    cancelled = next(b for b in shared_sandbox.workspaces[0].batches if b.status == "cancelled")
    batch, _ = await ok(mcp_client, "get_batch", {"batch_uuid": cancelled.uuid})
    report, _ = await ok(mcp_client, "inspect_failures", {"batch_uuid": cancelled.uuid})
    assert report["totals"]["cancelled"] > 0 and batch["failure_rate"] == report["totals"]["failure_rate"]


async def test_shares_and_left_out_groups_count_every_group(mcp_client: Client) -> None:
    args = {"workflow": "Contact finder", "created_after": "30d"}
    full, _ = await ok(mcp_client, "inspect_failures", {**args, "max_groups": 10})
    groups = full["error_groups"]
    assert len(groups) >= 2 and full["more_groups"] == 0
    one, text = await ok(mcp_client, "inspect_failures", {**args, "max_groups": 1})
    assert one["more_groups"] == len(groups) - 1 and "[left out: error_groups[1:] (1 smaller group(s)" in text
    total = sum(g["count"] for g in groups)
    assert one["error_groups"][0]["share"] == pytest.approx(groups[0]["count"] / total, abs=1e-4)


async def test_trace_run_of_unfinished_and_fallback_runs(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    running = next(r for r in ws.runs if r.status == "running" and r.executions)
    _, text = await ok(mcp_client, "trace_run", {"run_uuid": running.uuid})
    assert "… pending" in text and "· not yet" in text and "· not run" not in text
    fb = truth(shared_sandbox, "fallback_absorbed")
    _, text = await ok(mcp_client, "trace_run", {"run_uuid": fb["run_uuids"][0]})
    assert "Absorbed by the fallback at enrich_company: Clearbit: company not found (404)" in text
    stop = truth(shared_sandbox, "filter_stop")
    out, text = await ok(mcp_client, "trace_run", {"run_uuid": stop["run_uuids"][0]})
    assert "has_domain" in out["context"] and "Context has_domain" in text  # why the filter stopped it


async def test_get_run_serves_the_failing_node_first(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    run = truth(shared_sandbox, "agent_max_steps")["run_uuids"][0]
    full, _ = await ok(mcp_client, "get_run", {"run_uuid": run, "context_nodes": "all", "max_chars": 100_000})
    failing = json.dumps(full["context"]["qualify"], ensure_ascii=False)
    budget = max(500, len(failing) + 30)  # the tool's smallest budget is 500
    assert sum(len(json.dumps(v, ensure_ascii=False)) for v in full["context"].values()) > budget
    small, _ = await ok(mcp_client, "get_run", {"run_uuid": run, "context_nodes": "all", "max_chars": budget})
    assert small["context"]["qualify"] == full["context"]["qualify"]  # whole, though the others are cut
    assert small["context_cut"] and "qualify" not in small["context_cut"]


def test_group_totals_cover_groups_past_the_limit(shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    wf = next(w for w in ws.workflows if w.spec.key == "contact_finder")
    scope = Scope(workflow_uuid=wf.uuid, since=datetime.fromtimestamp(ws.now - 30 * 86400, UTC))

    def rows(limit: int) -> list[dict[str, Any]]:
        sql = check(error_groups(scope, limit=limit), max_rows=10_000).sql
        r = httpx.post(
            shared_sandbox.base_url + "/v1/orchestration/query",
            json={"query": sql},
            headers={"authorization": f"Bearer {ws.token}"},
        )
        result: list[dict[str, Any]] = r.json()["rows"]
        return result

    every = rows(200)
    real = [g for g in every if int(g["continued"]) != int(g["errors"])]
    (first,) = rows(1)  # one group fetched, the totals still count all of them
    assert len(real) >= 2 and int(first["real_groups"]) == len(real)
    assert int(first["real_errors"]) == sum(int(g["errors"]) for g in real)
