"""Every tool's success and error paths, through an MCP client, against the sandbox over loopback HTTP."""

from __future__ import annotations

import json
from typing import Any

import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import SandboxWorkspace, WorkflowRec
from tests.support import TOOLS, structured, tool_text

pytestmark = pytest.mark.anyio


async def ok(client: Client, name: str, args: dict[str, Any]) -> dict[str, Any]:
    r = await client.call_tool(name, args)
    assert not r.is_error, tool_text(r)
    assert r.content and tool_text(r)
    return structured(r)


async def fails(client: Client, name: str, args: dict[str, Any]) -> str:
    r = await client.call_tool(name, args)
    assert r.is_error
    text: str = tool_text(r)
    assert "Traceback" not in text
    return text


def ws0(sb: Sandbox) -> SandboxWorkspace:
    return sb.workspaces[0]


def workflow(sb: Sandbox, key: str) -> WorkflowRec:
    return next(w for w in ws0(sb).workflows if w.spec.key == key)


LOCAL = {"read_result"}  # reads only what the server stored
WRITES = {"save_result"}  # writes a local file, and may replace one


async def test_tools_are_honestly_annotated_and_described(mcp_client: Client) -> None:
    tools = (await mcp_client.list_tools()).tools
    assert {t.name for t in tools} == TOOLS
    for t in tools:
        a = t.annotations
        assert a is not None
        if t.name in WRITES:
            assert a.read_only_hint is False and a.destructive_hint is True and a.open_world_hint is False
            assert a.idempotent_hint is True and "overwrite" in t.input_schema["properties"]
        else:
            assert a.read_only_hint is True and a.destructive_hint is False
            assert a.open_world_hint is (t.name not in LOCAL)
            writing = {"save_to", "overwrite", "path"} & set(t.input_schema.get("properties", {}))
            assert not writing, f"read-only {t.name} takes {writing}"
        assert t.description and len(t.description) > 80
        assert t.output_schema and t.output_schema.get("properties")
        for name, prop in t.input_schema.get("properties", {}).items():
            assert prop.get("description"), f"{t.name}.{name} has no description"
            if name in ("batch_uuid", "run_uuid", "release_uuid"):  # the workflow argument also takes names
                formats = [prop.get("format")] + [o.get("format") for o in prop.get("anyOf", [])]
                assert "uuid" in formats, f"{t.name}.{name} does not declare format uuid"


async def test_list_workflows_joins_tools_plays_and_workflows(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    out = await ok(mcp_client, "list_workflows", {})
    named = {w.spec.name: w for w in ws0(shared_sandbox).workflows if w.spec.kind in ("tool", "play")}
    assert {w["name"] for w in out["workflows"]} == set(named)
    for w in out["workflows"]:
        rec = named[w["name"]]
        assert w["workflow_uuid"] == rec.uuid and w["kind"] == rec.spec.kind
        assert w["deployed_release_uuid"] == next(r.uuid for r in rec.releases if r.status == "deployed")
        assert (w["tool_uuid"] or w["play_uuid"]) in (rec.tool_uuid, rec.play_uuid)
    plays = await ok(mcp_client, "list_workflows", {"kind": "play"})
    assert {w["kind"] for w in plays["workflows"]} == {"play"} and plays["total"] >= 2
    one = await ok(mcp_client, "list_workflows", {"name_contains": "ENRICH"})
    assert [w["name"] for w in one["workflows"]] == ["Company enrichment"]


async def test_workflow_nodes_by_name(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    out = await ok(mcp_client, "get_workflow_nodes", {"workflow": "company enrichment"})
    wf = workflow(shared_sandbox, "company_enrichment")
    deployed = next(r for r in wf.releases if r.status == "deployed")
    assert out["release_uuid"] == deployed.uuid and out["workflow_uuid"] == wf.uuid
    assert next(n["slug"] for n in out["nodes"]) == "start"
    assert {n["slug"] for n in out["nodes"]} == {s.slug for s in deployed.specs}
    assert out["output_candidates"][0] == "output" and "skip" in out["output_candidates"]
    nodes = {n["slug"]: n for n in out["nodes"]}
    assert [(c["label"], c["slug"]) for c in nodes["is_b2b"]["children"]] == [
        ("yes", "qualify"),
        ("no", "skip"),
    ]
    assert nodes["enrich_company"]["fallback"] == "fallback_enrich"
    assert nodes["enrich_company"]["integration"] == "clearbit"
    assert "[yes] qualify" in out["drawing"] and "[on failure] fallback_enrich" in out["drawing"]
    routing = await ok(mcp_client, "get_workflow_nodes", {"workflow": "Inbound lead routing"})
    finder = next(n for n in routing["nodes"] if n["kind"] == "tool")
    assert finder["tool"] == "Contact finder" and "find_contact (tool:Contact finder)" in routing["drawing"]


async def test_workflow_nodes_by_batch_run_and_release(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = ws0(shared_sandbox)
    old = next(b for b in ws.batches if b.release.status == "archived")
    out = await ok(mcp_client, "get_workflow_nodes", {"batch_uuid": old.uuid})
    assert out["release_uuid"] == old.release.uuid and out["release_status"] == "archived"
    run = next(r for r in ws.runs if r.workflow.spec.key == "lead_scorer" and r.release.status == "deployed")
    out = await ok(mcp_client, "get_workflow_nodes", {"run_uuid": run.uuid})
    assert out["workflow_name"] == "Lead scorer"
    assert any("'variables' is used by 2 nodes" in w for w in out["warnings"])
    out = await ok(mcp_client, "get_workflow_nodes", {"release_uuid": old.release.uuid})
    assert out["workflow_uuid"] == old.workflow.uuid
    adhoc = next(r for r in ws.runs if r.workflow.spec.kind == "adhoc")
    out = await ok(mcp_client, "get_workflow_nodes", {"run_uuid": adhoc.uuid})
    assert out["release_uuid"] is None and out["nodes"] and "ad-hoc" in out["located_by"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({}, "exactly one of workflow, batch_uuid, run_uuid, release_uuid (got none)"),
        ({"workflow": "Lead scorer", "batch_uuid": "x"}, "got workflow, batch_uuid"),
        ({"workflow": "No such flow"}, "no tool or play is named 'No such flow'"),
        ({"workflow": "e"}, "is ambiguous"),
        ({"batch_uuid": "batch-1"}, "batch_uuid must be a UUID"),
        ({"batch_uuid": "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"}, "batchNotFound"),
        ({"release_uuid": "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"}, "releaseNotFound"),
    ],
)
async def test_workflow_nodes_errors(mcp_client: Client, args: dict[str, Any], expected: str) -> None:
    assert expected in await fails(mcp_client, "get_workflow_nodes", args)


async def test_get_batch_says_success_with_failures(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    b = next(b for b in ws0(shared_sandbox).batches if b.status == "success" and b.failed_runs_count > 0)
    out = await ok(mcp_client, "get_batch", {"batch_uuid": b.uuid})
    assert out["finished_with_failures"] is True
    assert f"finished with {b.failed_runs_count:,} failed run" in out["headline"]
    assert out["runs_count"] == b.runs_count and out["workflow_name"] == b.workflow.spec.name
    assert out["failure_rate"] == pytest.approx(b.failed_runs_count / b.executed_runs_count, abs=1e-4)
    assert any(c.startswith("list_runs(") for c in out["next_calls"])
    assert out["next_calls"][0] == f"inspect_failures(batch_uuid='{b.uuid}')"
    broken = next(b for b in ws0(shared_sandbox).batches if b.status == "error" and not b.runs_count)
    calls = (await ok(mcp_client, "get_batch", {"batch_uuid": broken.uuid}))["next_calls"]
    assert calls[0].startswith("inspect_failures(") and not any("download_outputs" in c for c in calls)
    running = next(b for b in ws0(shared_sandbox).batches if b.status == "running")
    out = await ok(mcp_client, "get_batch", {"batch_uuid": running.uuid})
    assert not out["finished"] and "so far" in out["headline"] and out["progress"] < 1
    assert "batchNotFound" in await fails(
        mcp_client, "get_batch", {"batch_uuid": "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"}
    )


async def test_count_runs_matches_sql_and_ground_truth(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    wf = workflow(shared_sandbox, "contact_finder")
    counted = await ok(mcp_client, "count_runs", {"workflow": "Contact finder", "statuses": ["failed"]})
    assert counted["filters"]["statuses"] == ["error"] and any("'failed'" in n for n in counted["notes"])
    sql = f"SELECT count() AS n FROM runs WHERE workflow_uuid = '{wf.uuid}' AND status = 'error'"
    assert counted["count"] == int((await ok(mcp_client, "execute_query", {"sql": sql}))["rows"][0]["n"])
    truth = ws0(shared_sandbox).truth["rate_limit"]
    rl = await ok(
        mcp_client,
        "count_runs",
        {"workflow": wf.uuid, "node_status": {"find_email": {"status": "error", "contains": "429"}}},
    )
    assert rl["count"] == truth["runs"] > 0


async def test_a_misspelt_workflow_name_gets_the_closest_names(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    names = [w.spec.name for w in ws0(shared_sandbox).workflows if w.spec.kind in ("tool", "play")]
    for name in names:
        typo = name[:-3] + name[-2] + name[-3] + name[-1]  # two letters swapped
        text = await fails(mcp_client, "inspect_failures", {"workflow": typo})
        assert f"no tool or play is named {typo!r}" in text and "Did you mean " in text
        suggested = text.split("Did you mean ", 1)[1].split("?", 1)[0]
        assert repr(name) in suggested.split(" or "), text
    assert "Did you mean" not in await fails(mcp_client, "list_batches", {"workflow": "zzzz qqqq"})


async def test_an_unknown_batch_points_to_list_batches(mcp_client: Client) -> None:
    text = await fails(mcp_client, "get_batch", {"batch_uuid": "11111111-2222-4333-8444-555555555555"})
    assert "batchNotFound" in text and "list_batches lists the batches" in text


async def test_count_runs_rejects_bad_input_before_calling(mcp_client: Client) -> None:
    text = await fails(mcp_client, "count_runs", {"workflow": "Contact finder", "statuses": ["broken"]})
    assert "unknown run status 'broken'" in text
    text = await fails(mcp_client, "count_runs", {"workflow": "Contact finder", "created_after": "last tuesday"})
    assert "created_after = 'last tuesday' is not a date" in text
    assert "give workflow (" in await fails(mcp_client, "count_runs", {})
    text = await fails(
        mcp_client,
        "count_runs",
        {"workflow": "Contact finder", "created_after": "2026-11-30", "created_before": "2026-11-01"},
    )
    assert "is not before created_before" in text
    spaced = await ok(
        mcp_client,
        "count_runs",
        {"workflow": "  Contact finder ", "record_id": " ", "node_status": {" find_email ": "error"}},
    )
    plain = await ok(
        mcp_client, "count_runs", {"workflow": "Contact finder", "node_status": {"find_email": "error"}}
    )
    assert spaced["count"] == plain["count"] > 0 and "recordId" not in spaced["filters"]
    text = await fails(
        mcp_client, "count_runs", {"workflow": "Contact finder", "node_status": {"find_emial": "error"}}
    )
    assert "'find_emial' that no release of this workflow has" in text and "find_email" in text


async def test_list_runs_pages(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    b = next(b for b in ws0(shared_sandbox).batches if b.failed_runs_count > 30)
    first = await ok(mcp_client, "list_runs", {"batch_uuid": b.uuid, "statuses": ["error"], "limit": 25})
    assert first["total"] == b.failed_runs_count and len(first["runs"]) == 25 and first["next_offset"] == 25
    assert all(r["status"] == "error" and r["failed_node"] for r in first["runs"])
    rest = await ok(mcp_client, "list_runs", {"batch_uuid": b.uuid, "statuses": ["error"], "limit": 200, "offset": 25})
    uuids = [r["uuid"] for r in first["runs"] + rest["runs"]]
    assert len(uuids) == len(set(uuids)) == b.failed_runs_count and rest["next_offset"] is None
    r = await mcp_client.call_tool("list_runs", {"batch_uuid": b.uuid, "statuses": ["error"], "offset": 100_000})
    assert f"offset 100,000 is past the end (the last row is {b.failed_runs_count:,})" in tool_text(r)
    created = [r["created_at"] for r in first["runs"]]
    assert created == sorted(created, reverse=True)


@pytest.mark.parametrize(
    "cause", ["rate_limit", "expired_credentials", "agent_max_steps", "provider_timeout", "data_error"]
)
async def test_get_run_marks_the_failing_node(mcp_client: Client, shared_sandbox: Sandbox, cause: str) -> None:
    truth = ws0(shared_sandbox).truth[cause]
    out = await ok(mcp_client, "get_run", {"run_uuid": truth["run_uuids"][0]})
    assert out["status"] == "error" and out["failing_node"] == truth["node_slug"]
    failing = [s for s in out["path"] if s["failing"]]
    assert len(failing) == 1 and failing[0]["slug"] == truth["node_slug"] and failing[0]["error"]
    assert truth["node_slug"] in out["context"] and out["not_executed"]


async def test_get_run_shows_fallback_branch_and_filter_stop(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    truth = ws0(shared_sandbox).truth
    out = await ok(mcp_client, "get_run", {"run_uuid": truth["fallback_absorbed"]["run_uuids"][0]})
    assert out["status"] == "success" and out["failing_node"] is None
    step = next(s for s in out["path"] if s["slug"] == "enrich_company")
    assert step["status"] == "error" and step["next"] == "[on failure] fallback_enrich"
    assert any(s["next"] in ("[yes] qualify", "[no] skip") for s in out["path"])
    out = await ok(mcp_client, "get_run", {"run_uuid": truth["filter_stop"]["run_uuids"][0]})
    assert out["status"] == "success" and out["stopped_at"] == "has_domain" and out["failing_node"] is None


async def test_get_run_context_budget(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    run = ws0(shared_sandbox).truth["fallback_absorbed"]["run_uuids"][0]
    full = await ok(mcp_client, "get_run", {"run_uuid": run, "context_nodes": "all", "max_chars": 100_000})
    assert set(full["context"]) == {s["slug"] for s in full["path"]} and not full["context_cut"]
    need = sum(len(json.dumps(v, ensure_ascii=False)) for v in full["context"].values())
    exact = await ok(mcp_client, "get_run", {"run_uuid": run, "context_nodes": "all", "max_chars": need})
    assert exact["context"] == full["context"] and not exact["context_cut"]  # nothing cut that fits
    r = await mcp_client.call_tool("get_run", {"run_uuid": run, "context_nodes": "all", "max_chars": 500})
    small = r.structured_content or {}
    assert small["context_cut"] and all(len(str(small["context"][s])) < n for s, n in small["context_cut"].items())
    marker = f"[left out: context.{next(iter(small['context_cut']))} (cut to fit max_chars"
    assert marker in tool_text(r)
    assert sum(len(str(v)) for v in small["context"].values()) < 1500
    odd = await ok(mcp_client, "get_run", {"run_uuid": run, "context_nodes": ["nope"]})
    assert odd["context"] == {} and odd["context_missing"] == ["nope"]


async def test_get_run_metrics_names_nodes_worst_first(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    wf = workflow(shared_sandbox, "contact_finder")
    out = await ok(mcp_client, "get_run_metrics", {"workflow": wf.uuid})
    errors = [n["errors"] for n in out["nodes"]]
    assert errors == sorted(errors, reverse=True) and out["nodes"][0]["slug"] == "find_email"
    assert all(n["slug"] != "?" and n["name"] for n in out["nodes"])
    sql = (
        f"SELECT count() AS n FROM spans WHERE workflow_uuid = '{wf.uuid}' AND execution_status = 'error' "
        "AND execution_started_at > now() - INTERVAL 60 DAY"
    )
    assert out["total_errors"] == int((await ok(mcp_client, "execute_query", {"sql": sql}))["rows"][0]["n"])
    company = workflow(shared_sandbox, "company_enrichment")
    r = await mcp_client.call_tool("get_run_metrics", {"workflow": company.uuid, "created_after": "30d"})
    text = tool_text(r)
    assert "may have been absorbed" in text and any(n["has_fallback"] for n in (r.structured_content or {})["nodes"])
    scorer = workflow(shared_sandbox, "lead_scorer")  # its deployed release uses the slug 'variables' twice
    r = await mcp_client.call_tool("get_run_metrics", {"workflow": scorer.uuid, "created_after": "30d"})
    text = tool_text(r)
    twice = [n for n in (r.structured_content or {})["nodes"] if n["slug"] == "variables"]
    assert len(twice) >= 2  # each row of a shared slug carries its node's name, UUID and release
    assert all(f"variables | {n['name']} | native | {n['node_uuid']} | {n['release_uuid']}" in text for n in twice)


async def test_get_run_metrics_states_its_window_notes_and_slowest_steps(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    scorer = workflow(shared_sandbox, "lead_scorer")
    r = await mcp_client.call_tool("get_run_metrics", {"workflow": "Lead scorer", "created_after": "7d"})
    text, out = tool_text(r), r.structured_content or {}
    head = text.splitlines()[0]
    assert head.startswith(f"Lead scorer (workflow {scorer.uuid}), runs created 20") and "→ now:" in head
    assert out["scope"] in head and "'7d' was read as" in text and any("'7d' was read as" in n for n in out["notes"])
    nodes = out["nodes"]
    timed = sorted((n for n in nodes if n["p95_ms"] is not None), key=lambda n: -n["p95_ms"])
    assert out["slowest"] == [n["node_uuid"] for n in timed[:3]] and len(out["slowest"]) == 3
    top = timed[0]
    line = next(x for x in text.splitlines() if x.startswith("Slowest by p95: "))
    assert line.startswith(f"Slowest by p95: {top['slug']} ({top['name']}, node {top['node_uuid']}, release ")
    assert f"{top['p95_ms']:,} ms" in line
    keys = [(-n["errors"], -n["error_rate"], -(n["p95_ms"] or -1)) for n in nodes]
    assert keys == sorted(keys) and "most errors, then error rate, then slowest p95" in text
    assert len({n["node_uuid"] for n in nodes}) == len(nodes)  # one row per node UUID, repeated slugs apart
    batch = next(b for b in ws0(shared_sandbox).batches if b.workflow is scorer)
    by_batch = await mcp_client.call_tool("get_run_metrics", {"batch_uuid": batch.uuid})
    assert tool_text(by_batch).splitlines()[0].startswith(f"Lead scorer (workflow {scorer.uuid}), batch {batch.uuid}:")
    everything = await mcp_client.call_tool("get_run_metrics", {"workflow": scorer.uuid})
    assert "all runs (no batch, release or window)" in tool_text(everything).splitlines()[0]


async def test_download_outputs_pages_and_picks_the_output_node(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    b = next(
        b for b in ws0(shared_sandbox).batches if b.workflow.spec.key == "company_enrichment" and b.runs_count > 300
    )
    args = {"batch_uuid": b.uuid, "limit": 150}
    first = await ok(mcp_client, "download_outputs", args)
    assert first["total"] == b.runs_count and first["returned"] == 150 and first["next_offset"] == 150
    assert first["output_node_slug"] == "output" and "picked 'output'" in first["output_node_note"]
    assert first["columns"][:4] == ["recordId", "recordTitle", "runUuid", "runStatus"]
    assert any(c.startswith("input.") for c in first["columns"]) and "qualified" in first["columns"]
    second = await ok(mcp_client, "download_outputs", {**args, "offset": 150, "format": "csv"})
    runs = [r["runUuid"] for r in first["rows"] + second["rows"]]
    assert len(set(runs)) == 300
    json_page = await ok(mcp_client, "download_outputs", {**args, "offset": 150, "limit": 5})
    assert [r["runUuid"] for r in json_page["rows"]] == [r["runUuid"] for r in second["rows"][:5]]
    past = await ok(mcp_client, "download_outputs", {**args, "offset": b.runs_count})
    assert past["rows"] == [] and past["next_offset"] is None
    skip = await ok(mcp_client, "download_outputs", {**args, "output_node_slug": "skip", "limit": 3})
    assert skip["output_node_slug"] == "skip" and skip["output_node_note"] is None


async def test_download_outputs_errors(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    b = next(b for b in ws0(shared_sandbox).batches if b.workflow.spec.key == "company_enrichment")
    text = await fails(mcp_client, "download_outputs", {"batch_uuid": b.uuid, "output_node_slug": "nope"})
    assert "nodeNotFound" in text and "get_workflow_nodes" in text
    none = await ok(mcp_client, "download_outputs", {"batch_uuid": b.uuid, "record_id": "no-such-record"})
    assert none["total"] == 0 and none["rows"] == [] and "no run matches" in none["notes"][-1]


async def test_execute_query(mcp_client: Client) -> None:
    out = await ok(mcp_client, "execute_query", {"sql": "SELECT status, count() AS n FROM runs GROUP BY status"})
    assert out["columns"] == ["status", "n"] and not out["truncated"] and out["row_count"] == len(out["rows"])
    r = await mcp_client.call_tool("execute_query", {"sql": "SELECT uuid FROM runs", "max_rows": 7})
    out = r.structured_content or {}
    assert out["row_count"] == 7 and out["truncated"] and out["limit_applied"] == 7
    assert "truncated at 7: more rows exist; raise max_rows" in tool_text(r)
    out = await ok(mcp_client, "execute_query", {"sql": "SELECT uuid FROM runs LIMIT 3"})
    assert out["row_count"] == 3 and not out["truncated"] and out["limit_applied"] is None
    assert "DROP statements are refused" in await fails(mcp_client, "execute_query", {"sql": "DROP TABLE runs"})
    assert "Multiple statements" in await fails(mcp_client, "execute_query", {"sql": "SELECT 1; SELECT 2"})
    text = await fails(mcp_client, "execute_query", {"sql": "SELECT nope FROM runs"})
    assert "queryFailed" in text and "Code: 47" in text and "Columns — runs: uuid" in text


def significant_digits(number: str) -> int:
    return len(number.split("e")[0].replace("-", "").replace(".", "").lstrip("0"))


async def test_execute_query_shows_floats_without_binary_noise_and_says_what_its_limit_is(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    sql = "SELECT workflow_uuid, sum(credits_used_count) AS credits FROM runs GROUP BY workflow_uuid"
    r = await mcp_client.call_tool("execute_query", {"sql": sql})
    text, out = r.content[0].text, r.structured_content or {}  # type: ignore[union-attr]
    truth: dict[str, float] = {}
    for run in ws0(shared_sandbox).runs:
        truth[run.workflow.uuid] = truth.get(run.workflow.uuid, 0.0) + run.credits
    noisy = [row for row in out["rows"] if significant_digits(repr(row["credits"])) > 15]
    assert noisy, "no sum with binary noise: the case is not exercised"
    for row in out["rows"]:  # the structured value is Cargo's, exact; the text's is the same number, readable
        assert row["credits"] == pytest.approx(truth[row["workflow_uuid"]], rel=1e-9)
        line = next(x for x in text.splitlines() if x.startswith(row["workflow_uuid"] + " | "))
        shown = line.split(" | ")[1]
        assert significant_digits(shown) <= 15 and float(shown) == pytest.approx(row["credits"], rel=1e-14)
    # the guard's LIMIT: the text says why it is one more than max_rows
    r = await mcp_client.call_tool("execute_query", {"sql": "SELECT uuid FROM runs LIMIT 5000", "max_rows": 40})
    text, out = r.content[0].text, r.structured_content or {}  # type: ignore[union-attr]
    assert len(ws0(shared_sandbox).runs) > 40 and out["row_count"] == 40 and out["sql"].endswith(" LIMIT 41")
    assert "the guard set the outer LIMIT 41: max_rows 40 plus one row that tells whether more exist" in text


MISSING = "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    ("tool", "args", "reason"),
    [
        ("get_batch", {"batch_uuid": MISSING}, "batchNotFound"),
        ("get_run", {"run_uuid": MISSING}, "runNotFound"),
        ("trace_run", {"run_uuid": MISSING}, "runNotFound"),
        ("get_workflow_nodes", {"batch_uuid": MISSING}, "batchNotFound"),
        ("get_workflow_nodes", {"run_uuid": MISSING}, "runNotFound"),
        ("get_workflow_nodes", {"release_uuid": MISSING}, "releaseNotFound"),
        ("list_runs", {"batch_uuid": MISSING}, "batchNotFound"),
        ("count_runs", {"batch_uuid": MISSING}, "batchNotFound"),
        ("download_outputs", {"batch_uuid": MISSING}, "batchNotFound"),
        ("inspect_failures", {"batch_uuid": MISSING}, "batchNotFound"),
        ("get_run_metrics", {"workflow": "No such workflow"}, "no tool or play is named"),
        ("read_result", {"result_id": "r_000000000000"}, "no result 'r_000000000000'"),
        ("read_result", {"result_id": "r_000000000000"}, "(download_outputs, inspect_failures (a re-run body) or"),
    ],
)
async def test_not_found_names_what_is_missing(
    mcp_client: Client, tool: str, args: dict[str, Any], reason: str
) -> None:
    assert reason in await fails(mcp_client, tool, args)


async def test_a_uuid_of_the_wrong_kind_is_named_not_matched_silently(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    ws = ws0(shared_sandbox)
    batch = next(b for b in ws.batches if b.runs_count)
    other = next(b for b in ws.batches if b.workflow is not batch.workflow)
    run = ws.runs[0]
    text = await fails(mcp_client, "list_runs", {"workflow": batch.uuid})
    assert f"{batch.uuid} is a batch, not a workflow: pass batch_uuid=" in text and batch.workflow.uuid in text
    text = await fails(mcp_client, "count_runs", {"workflow": run.uuid})
    assert f"{run.uuid} is a run, not a workflow" in text
    text = await fails(mcp_client, "get_workflow_nodes", {"workflow": batch.uuid})
    assert "is a batch, not a workflow" in text
    assert "no workflow, tool or play has UUID" in await fails(mcp_client, "count_runs", {"workflow": MISSING})
    text = await fails(mcp_client, "count_runs", {"workflow": batch.workflow.uuid, "batch_uuid": other.uuid})
    assert f"batch {other.uuid} belongs to workflow {other.workflow.uuid}" in text
    adhoc = next(w for w in ws.workflows if w.spec.kind == "adhoc")  # no tool or play, but a workflow all the same
    assert (await ok(mcp_client, "count_runs", {"workflow": adhoc.uuid}))["count"] == len(
        ws.runs_of_workflow[adhoc.uuid]
    )


async def test_download_outputs_counts_the_rows_without_output(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    running = next(b for b in ws0(shared_sandbox).batches if b.status == "running")
    runs = ws0(shared_sandbox).runs_of_batch[running.uuid]
    unfinished = sum(r.status in ("pending", "running") for r in runs)
    out = await ok(mcp_client, "download_outputs", {"batch_uuid": running.uuid, "limit": 1})
    note = next(n for n in out["notes"] if "have no output from" in n)
    assert unfinished and f"pending {sum(r.status == 'pending' for r in runs):,}" in note
    company = workflow(shared_sandbox, "company_enrichment")
    args = {"workflow": company.uuid, "statuses": ["success"], "created_after": "7d"}
    out = await ok(mcp_client, "download_outputs", {**args, "limit": 0})
    reached = await ok(mcp_client, "count_runs", {**args, "node_status": {"output": "success"}})
    note = next(n for n in out["notes"] if "have no output from 'output'" in n)
    assert note.startswith(f"{out['total'] - reached['count']:,} of {out['total']:,} row(s)") and "skip" in note
