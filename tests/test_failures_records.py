"""inspect_failures counts records, not only runs; its re-run request is valid for Cargo (type-checked against the
official client's published types) and covers exactly the records still failing; the whole-workspace sweep, the
release split and filter stops match the sandbox's ground truth."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.api.models import TERMINAL_STATUSES
from cargo_mcp.failures import inputs, rerun, sweep
from cargo_mcp.sandbox import fakes
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import RunRec
from cargo_mcp.server.render import num
from tests.npm_tools import ensure_node_packages, node_executable
from tests.support import CARGO_CLIENT, tool_text
from tests.test_server_tools import fails

pytestmark = pytest.mark.anyio

TYPESCRIPT = {**CARGO_CLIENT, "typescript": "5.9.3"}
# The batch-creation data kinds each workflow type accepts, as the contract lists them (others: invalidDataKind).
ACCEPTED = {"tool": ("file", "records"), "play": ("segment", "change", "filter", "recordIds")}


async def ok(client: Client, args: dict[str, Any], tool: str = "inspect_failures") -> tuple[dict[str, Any], str]:
    r = await client.call_tool(tool, args)
    text: str = tool_text(r)
    assert not r.is_error, text
    assert r.structured_content is not None
    return r.structured_content, text


def runs_sql(sb: Sandbox, sql: str) -> list[dict[str, Any]]:
    """Ground truth: SQL over the sandbox's runs table, through its query endpoint."""
    ws = sb.workspaces[0]
    r = httpx.post(
        sb.base_url + "/v1/orchestration/query", json={"query": sql}, headers={"authorization": f"Bearer {ws.token}"}
    )
    r.raise_for_status()
    rows: list[dict[str, Any]] = r.json()["rows"]
    return rows


def per_record(sb: Sandbox, where: str) -> dict[str, dict[str, Any]]:
    """Each record of a scope with its run count and the statuses its runs ended with."""
    rows = runs_sql(
        sb,
        "SELECT record_id, count() AS n, groupUniqArray(status) AS statuses "
        f"FROM runs WHERE {where} GROUP BY record_id LIMIT 100000",
    )
    return {r["record_id"]: r for r in rows}


def expected_records(records: dict[str, dict[str, Any]]) -> dict[str, int]:
    failed = {k for k, r in records.items() if "error" in r["statuses"]}
    recovered = {k for k in failed if "success" in records[k]["statuses"]}
    return {
        "records": len(records),
        "duplicated": sum(1 for r in records.values() if int(r["n"]) > 1),
        "failed_records": len(failed),
        "recovered": len(recovered),
        "still_failing": len(failed - recovered),
    }


def still_failing(records: dict[str, dict[str, Any]]) -> set[str]:
    return {k for k, r in records.items() if "error" in r["statuses"] and "success" not in r["statuses"]}


def top_batch(sb: Sandbox, cause: str) -> str:
    by_batch: dict[str, int] = sb.workspaces[0].truth[cause]["by_batch"]
    return max(by_batch.items(), key=lambda kv: kv[1])[0]


def iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def sql_time(epoch: float) -> str:
    return f"toDateTime64('{datetime.fromtimestamp(epoch, UTC):%Y-%m-%d %H:%M:%S}', 3, 'UTC')"


# --- records and the re-run --------------------------------------------------------------------------------------


async def test_failed_runs_are_counted_as_records(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    for cause in ("agent_max_steps", "expired_credentials"):  # a tool batch, a play batch
        batch = top_batch(shared_sandbox, cause)
        report, text = await ok(mcp_client, {"batch_uuid": batch})
        truth = expected_records(per_record(shared_sandbox, f"batch_uuid = '{batch}'"))
        got = report["records"]
        assert {k: got[k] for k in truth} == truth
        runs, failed = report["totals"]["runs"], report["totals"]["failed"]
        assert truth["duplicated"] > 0 and runs == len(ws.runs_of_batch[batch])
        assert (
            f"Records: {runs:,} run(s) = {truth['records']:,} distinct record(s) ({truth['duplicated']:,} ran more "
            f"than once: {runs - truth['records']:,} repeat run(s)); {failed:,} failed run(s) = "
            f"{truth['failed_records']:,} distinct record(s) ({failed - truth['failed_records']:,} repeat(s)); "
            f"{truth['recovered']:,} of them succeeded in another run of this batch; {truth['still_failing']:,} "
            "still failing" in text
        )
        assert "Re-runs the" not in text and f"the {truth['still_failing']:,} record(s) still failing" in text
    # the tool batch has failed records that succeeded in another run: the re-run leaves them out
    assert expected_records(
        per_record(shared_sandbox, f"batch_uuid = '{top_batch(shared_sandbox, 'agent_max_steps')}'")
    )["recovered"]


async def test_a_window_counts_records_across_batches(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    finder = next(w for w in ws.workflows if w.spec.key == "contact_finder")
    since = ws.now - 30 * 86400
    report, text = await ok(mcp_client, {"workflow": finder.uuid, "created_after": iso(since)})
    truth = expected_records(
        per_record(shared_sandbox, f"workflow_uuid = '{finder.uuid}' AND created_at >= {sql_time(since)}")
    )
    assert {k: report["records"][k] for k in truth} == truth and truth["recovered"] > 0
    assert "succeeded in another run of this window" in text


async def test_the_play_rerun_is_the_record_ids_still_failing(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    batch = top_batch(shared_sandbox, "expired_credentials")
    report, _ = await ok(mcp_client, {"batch_uuid": batch})
    play = ws.workflows_by_uuid[report["workflow_uuid"]]
    assert play.spec.kind == "play"
    body = report["rerun"]["body"]
    assert body == {
        "workflowUuid": play.uuid,
        "data": {"kind": "recordIds", "modelUuid": play.model_uuid, "ids": body["data"]["ids"]},
    }
    expected = still_failing(per_record(shared_sandbox, f"batch_uuid = '{batch}'"))
    assert body["data"]["ids"] == sorted(expected) and report["rerun"]["records"] == len(expected)


async def test_the_tool_rerun_sends_the_start_data_of_the_records_still_failing(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    ws = shared_sandbox.workspaces[0]
    batch = top_batch(shared_sandbox, "agent_max_steps")
    report, text = await ok(mcp_client, {"batch_uuid": batch})
    tool = ws.workflows_by_uuid[report["workflow_uuid"]]
    body = report["rerun"]["body"]
    assert tool.spec.kind == "tool" and body["workflowUuid"] == tool.uuid and body["data"]["kind"] == "records"
    runs = ws.runs_of_batch[batch]
    by_key = {r.key: r.record_id for r in runs}
    sent = body["data"]["records"]
    expected = still_failing(per_record(shared_sandbox, f"batch_uuid = '{batch}'"))
    assert sorted(by_key[x["_id"]] for x in sent) == sorted(expected) and report["rerun"]["records"] == len(expected)
    assert all(x == fakes.record_input(tool.spec.record_kind, x["_id"]) for x in sent)  # what the runs started with
    assert "tools take file or records" in text


def shown_items(text: str) -> list[Any]:
    """The ids or records the text's re-run body lists (its data line, cut with …)."""
    line = next(x for x in text.splitlines() if x.startswith("re-run body: "))
    listed = re.search(r'"(?:ids|records)":\[(.*),…\]', line)
    assert listed, line
    return list(json.loads(f"[{listed.group(1)}]"))


async def test_a_long_rerun_body_is_shown_whole_through_the_call_its_text_names(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    ws = shared_sandbox.workspaces[0]
    for cause, key in (("expired_credentials", "ids"), ("rate_limit", "records")):  # a play, a tool
        batch = top_batch(shared_sandbox, cause)
        report, text = await ok(mcp_client, {"batch_uuid": batch})
        expected = still_failing(per_record(shared_sandbox, f"batch_uuid = '{batch}'"))
        rid = report["rerun"]["result_id"]
        assert rid and f"stored as result {rid}" in text and f"save_result(result_id={rid!r}" in text
        items = shown_items(text)
        marker = re.search(r"^\[left out: rerun\.body\.data\.(\w+)\[(\d+):\] .*; call (read_result.*)\]$", text, re.M)
        assert marker and marker.group(1) == key and int(marker.group(2)) == len(items), text
        args = dict(re.findall(r"(\w+)=('[^']*'|\d+)", marker.group(3)))
        page = await mcp_client.call_tool("read_result", {k: json.loads(v.replace("'", '"')) for k, v in args.items()})
        rows = (page.structured_content or {})["rows"]
        assert items + [r["recordId"] if key == "ids" else r for r in rows] == report["rerun"]["body"]["data"][key]
        by_key = {r.key: r.record_id for r in ws.runs_of_batch[batch]}
        got = [x if key == "ids" else by_key[x["_id"]] for x in report["rerun"]["body"]["data"][key]]
        assert sorted(got) == sorted(expected) and len(got) == len(expected) > len(items)


async def test_a_rerun_past_the_cap_says_how_to_get_the_rest(
    mcp_client: Client, shared_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(rerun, "RERUN_CAP", 100)
    monkeypatch.setattr(sweep, "RERUN_CAP", 100)
    batch = top_batch(shared_sandbox, "expired_credentials")
    report, text = await ok(mcp_client, {"batch_uuid": batch})
    expected = sorted(still_failing(per_record(shared_sandbox, f"batch_uuid = '{batch}'")))
    assert report["rerun"]["body"]["data"]["ids"] == expected[:100]
    assert f"It holds the first 100 by record id; for the other {len(expected) - 100:,}, once it ran: " in text
    assert "inspect_failures(workflow='Inbound lead routing', created_after=" in text


async def test_a_tool_rerun_without_its_start_data_says_so(
    mcp_client: Client, shared_sandbox: Sandbox, faults: Any
) -> None:
    batch = top_batch(shared_sandbox, "agent_max_steps")
    faults(path="/files/", kind="status", status=404, count=1)
    report, text = await ok(mcp_client, {"batch_uuid": batch})
    assert report["rerun"]["body"] is None and report["rerun"]["records"] == 0
    assert "No body: the failed runs' start data could not be read" in text and report["error_groups"]


def test_start_data_is_read_from_ndjson_and_json_arrays(tmp_path: Path) -> None:
    runs = [
        {
            "uuid": "a",
            "executions": [{"nodeSlug": "begin", "nodeActionSlug": "start"}],
            "runContext": {"begin": {"x": 1}},
        },
        {"uuid": "b", "executions": [{"nodeSlug": "s"}], "runContext": {"s": {"y": 2}, "t": {}}},
        {"uuid": "c", "executions": [], "runContext": {}},  # never started: no data
    ]
    ndjson, array = tmp_path / "n", tmp_path / "a"
    ndjson.write_text("\n".join(json.dumps(r) for r in runs) + "\n\n")
    array.write_text("  \n" + json.dumps(runs))
    expected = {"a": {"x": 1}, "b": {"y": 2}}
    assert inputs._read(ndjson) == expected and inputs._read(array) == expected


# --- the re-run body against Cargo's published types ---------------------------------------------------------------


def typecheck(bodies: dict[str, tuple[str, Any]]) -> dict[str, str]:
    """Type-check each body as ``const <name>: <batch-creation payload narrowed to the kinds its workflow type
    accepts> = <body>`` with tsc; the compiler's errors by const name (none: the body is valid)."""
    root = ensure_node_packages("cargo-ai-types", TYPESCRIPT)
    lines = [
        'import type { Orchestration } from "@cargo-ai/api";',
        "type Payload = Orchestration.Api.CreateBatchPayload;",
        'type For<K extends Payload["data"]["kind"]> = Omit<Payload, "data"> & '
        "{ data: Extract<Payload['data'], { kind: K }> };",
    ]
    first = len(lines) + 1
    for name, (kind, body) in bodies.items():
        kinds = " | ".join(json.dumps(k) for k in ACCEPTED[kind])
        lines.append(f"export const {name}: For<{kinds}> = {json.dumps(body)};")
    folder = Path(tempfile.mkdtemp(dir=root))
    try:
        (folder / "bodies.ts").write_text("\n".join(lines) + "\n")
        flags = ["--noEmit", "--strict", "--skipLibCheck", "--module", "nodenext", "--target", "es2022"]
        tsc = root / "node_modules" / "typescript" / "bin" / "tsc"
        proc = subprocess.run(
            [node_executable(), str(tsc), *flags, "bodies.ts"], cwd=folder, capture_output=True, text=True, timeout=300
        )
    finally:
        shutil.rmtree(folder)
    errors: dict[str, str] = {}
    names = list(bodies)
    found = re.findall(r"^bodies\.ts\((\d+),\d+\): error (.*)$", proc.stdout, re.M)
    for line, message in found:
        at = int(line) - first
        assert 0 <= at < len(names), proc.stdout[-2000:]  # an error outside the bodies: the check itself is broken
        errors.setdefault(names[at], message)
    assert (proc.returncode == 0) == (not found), proc.stdout[-2000:] + proc.stderr[-2000:]
    return errors


async def test_rerun_bodies_type_check_against_the_official_client(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    tool, _ = await ok(mcp_client, {"batch_uuid": top_batch(shared_sandbox, "agent_max_steps")})
    play, _ = await ok(mcp_client, {"batch_uuid": top_batch(shared_sandbox, "expired_credentials")})
    tool_body, play_body = tool["rerun"]["body"], play["rerun"]["body"]
    assert tool["workflow_kind"] == "tool" and play["workflow_kind"] == "play"
    renamed = {**play_body, "data": {**play_body["data"], "recordIds": play_body["data"]["ids"]}}
    del renamed["data"]["ids"]
    errors = typecheck(
        {
            "tool": ("tool", tool_body),
            "play": ("play", play_body),
            "wrongKey": ("play", renamed),  # the seeds' old spelling of the ids
            "extraKey": ("tool", {**tool_body, "reset": {"from": "firstNode"}}),
            "playKindForATool": ("tool", {**tool_body, "data": play_body["data"]}),
            "toolKindForAPlay": ("play", {**play_body, "data": tool_body["data"]}),
            "runsKindForATool": ("tool", {**tool_body, "data": {"kind": "runs", "filter": {"kind": "runs"}}}),
        }
    )
    assert "tool" not in errors and "play" not in errors, errors
    assert """'"recordIds"' does not exist""" in errors["wrongKey"]
    assert """'"reset"' does not exist""" in errors["extraKey"]
    for name, kind in (
        ("playKindForATool", "recordIds"),
        ("toolKindForAPlay", "records"),
        ("runsKindForATool", "runs"),
    ):
        assert f"""Type '"{kind}"' is not assignable to type""" in errors[name], errors


# --- the whole workspace --------------------------------------------------------------------------------------------


async def test_without_a_workflow_every_workflow_is_swept(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    since = ws.now - 10 * 86400
    report, text = await ok(mcp_client, {"created_after": iso(since)})
    rows = runs_sql(
        shared_sandbox,
        "SELECT workflow_uuid, count() AS runs, countIf(status = 'error') AS failed, "
        "uniqExactIf(record_id, status = 'error') AS failed_records "
        f"FROM runs WHERE created_at >= {sql_time(since)} GROUP BY workflow_uuid",
    )
    failing = sorted((r for r in rows if int(r["failed"])), key=lambda r: -int(r["failed"]))
    assert len(failing) >= 3 and report["workflow_uuid"] is None
    assert [(w["workflow_uuid"], w["failed"], w["runs"], w["failed_records"]) for w in report["workflows"]] == [
        (r["workflow_uuid"], int(r["failed"]), int(r["runs"]), int(r["failed_records"])) for r in failing
    ]
    assert report["totals"]["runs"] == sum(int(r["runs"]) for r in rows)
    for w in report["workflows"]:
        name = ws.workflows_by_uuid[w["workflow_uuid"]].spec.name
        assert (
            w["name"] == name and w["next_call"] == f"inspect_failures(workflow={name!r}, created_after={iso(since)!r})"
        )
        assert w["next_call"] in text
    assert report["error_groups"] and all(g["workflow_uuid"] for g in report["error_groups"])
    for g in report["error_groups"]:
        name = ws.workflows_by_uuid[g["workflow_uuid"]].spec.name
        assert f"{name} / {g['node_slug']} (" in text and f"{g['count']:,} errors" in text
    assert text.index(report["workflows"][0]["name"]) < text.index(report["workflows"][1]["name"])
    assert len(text) <= 8000  # bounded by max_groups; no hard cut (cuts carry markers)
    # each workflow's next call gives that workflow's own sweep, with the same counts
    worst = report["workflows"][0]
    one, _ = await ok(mcp_client, {"workflow": worst["name"], "created_after": iso(since)})
    assert one["totals"]["failed"] == worst["failed"] and one["records"]["failed_records"] == worst["failed_records"]


async def test_the_workspace_text_says_what_its_rate_and_shares_are_of(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    ws = shared_sandbox.workspaces[0]
    since = ws.now - 10 * 86400
    report, text = await ok(mcp_client, {"created_after": iso(since)})
    runs = [r for r in ws.runs if int(r.created_at * 1000) >= int(since * 1000)]
    finished = sum(r.status in TERMINAL_STATUSES for r in runs)
    cancelled = sum(r.status == "cancelled" for r in runs)
    failed = sum(r.status == "error" for r in runs)
    executed = finished - cancelled
    assert cancelled and (report["totals"]["finished"], report["totals"]["cancelled"]) == (finished, cancelled)
    assert (
        f"{len(runs):,} runs, finished {finished:,} (of which {cancelled:,} cancelled), failed {failed:,} "
        f"({100 * failed / executed:.1f}% of the {executed:,} executed: finished, not cancelled)" in text
    )
    # an error group a fallback absorbed: its share is of the absorbed errors (the runs went on), not of failures
    absorbed = sum(1 for r in runs for e in r.executions if e.status == "error" and e.next_node is not None)
    assert report["absorbed_by_fallback"] and absorbed
    for g in report["absorbed_by_fallback"]:
        assert g["share"] == round(g["count"] / absorbed, 4) > 0
        assert f"{g['count']:,} errors in {g['runs']:,} runs ({g['share']:.1%} of the errors fallbacks absorbed)" in text


# --- releases -----------------------------------------------------------------------------------------------------


async def test_a_window_across_releases_is_split_by_release(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    finder = next(w for w in ws.workflows if w.spec.key == "contact_finder")
    v1, v2 = finder.releases
    since = ws.now - 30 * 86400
    report, text = await ok(mcp_client, {"workflow": finder.uuid, "created_after": iso(since)})
    rows = runs_sql(
        shared_sandbox,
        "SELECT release_uuid, count() AS runs, countIf(status = 'error') AS failed, "
        "toUnixTimestamp(min(created_at)) AS first, toUnixTimestamp(max(created_at)) AS last FROM runs "
        f"WHERE workflow_uuid = '{finder.uuid}' AND created_at >= {sql_time(since)} GROUP BY release_uuid ORDER BY first",
    )
    assert [r["release_uuid"] for r in rows] == [v1.uuid, v2.uuid]
    got = report["releases"]
    for share, row, rec in zip(got, rows, (v1, v2), strict=True):
        assert (share["release_uuid"], share["runs"], share["failed"]) == (
            rec.uuid,
            int(row["runs"]),
            int(row["failed"]),
        )
        assert share["version"] == rec.version and share["deployed_at"] == iso(rec.deployed_at or 0)
        assert (share["first_run"], share["last_run"]) == (iso(int(row["first"])), iso(int(row["last"])))
        assert f"v{rec.version} ({rec.uuid}, deployed {iso(rec.deployed_at or 0)}), runs {share['first_run']}" in text
    groups = {g["node_slug"]: g for g in report["error_groups"]}
    verify, find = groups["verify_email"], groups["find_email"]
    assert verify["by_release"] == {v1.uuid: 0, v2.uuid: verify["count"]}  # a node new in v2
    assert verify["began_with"] == v2.uuid and "began with v2, right after its first run" in text
    assert find["began_with"] is None  # on v2 too, but first seen days after v2 began


async def test_a_scope_on_one_release_names_it(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    batch = ws.batches_by_uuid[top_batch(shared_sandbox, "rate_limit")]
    report, text = await ok(mcp_client, {"batch_uuid": batch.uuid})
    (share,) = report["releases"]
    assert share["release_uuid"] == batch.release.uuid and share["runs"] == batch.runs_count
    assert all(not g["by_release"] and g["began_with"] is None for g in report["error_groups"])
    assert f"Release: every run on v{batch.release.version} ({batch.release.uuid}" in text


# --- filter stops ------------------------------------------------------------------------------------------------


def stopped_at(run: RunRec) -> int | None:
    last = run.executions[-1] if run.executions else None
    spec = run.release.specs[last.node] if last else None
    stop = run.status == "success" and last and spec and spec.action == "filter" and last.next_node is None
    return last.node if stop and last else None


async def test_filter_stops_name_their_condition_inputs_and_cost(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    batch = ws.batches_by_uuid[top_batch(shared_sandbox, "filter_stop")]
    stopped = [r for r in ws.runs_of_batch[batch.uuid] if stopped_at(r) is not None]
    node = batch.release.nodes[stopped_at(stopped[0]) or 0]
    report, text = await ok(mcp_client, {"batch_uuid": batch.uuid})
    (stop,) = report["filter_stops"]
    assert (stop["node_uuid"], stop["node_slug"], stop["stops"]) == (node.uuid, node.slug, len(stopped))
    assert stop["credits"] == pytest.approx(sum(r.credits for r in stopped)) and stop["credits"] > 0
    assert stop["condition"] == node.config["condition"] == "{{nodes.start.domain != ''}}"
    assert stop["exemplar_run"] in {r.uuid for r in stopped}
    assert stop["seen"] == {"nodes.start.domain": "", "computed condition": False}  # why it stopped
    assert f"stopped {len(stopped):,} run(s), which had spent {num(stop['credits'])} credits" in text
    assert "condition: {{nodes.start.domain != ''}}" in text
    assert 'it read: nodes.start.domain = ""; computed condition = false' in text
    for tool in ("get_run", "trace_run"):
        out, shown = await ok(mcp_client, {"run_uuid": stop["exemplar_run"]}, tool)
        detail = out.get("run", out)
        assert (
            detail["stop_condition"]
            == "{{nodes.start.domain != ''}}; nodes.start.domain = \"\"; computed condition = false"
        )
        assert detail["stop_condition"] in shown


async def test_a_workflow_that_is_no_tool_or_play_is_named_by_uuid(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    since = ws.now - 10 * 86400
    adhoc = next(w for w in ws.workflows if w.spec.kind == "adhoc")
    runs = Counter(r.workflow.uuid for r in ws.runs if int(r.created_at * 1000) >= int(since * 1000))
    failing = {r.workflow.uuid for r in ws.runs if r.status == "error" and r.created_at >= since}
    assert runs[adhoc.uuid] and adhoc.uuid not in failing
    _, text = await ok(mcp_client, {"created_after": iso(since)})
    clean = [w for w in ws.workflows if runs[w.uuid] and w.uuid not in failing]
    named = [
        f"workflow {w.uuid} ({runs[w.uuid]:,} runs; not a listed tool or play: list_workflows does not show it)"
        if w.spec.kind == "adhoc"
        else f"{w.spec.name} ({runs[w.uuid]:,} runs)"
        for w in clean
    ]
    assert len(clean) >= 2 and all(n in text for n in named), text
    assert f"{len(clean)} other workflow(s) ran {sum(runs[w.uuid] for w in clean):,} run(s) without a failure" in text
    # its graph: not "check the release UUID", but what it is and the call that shows one of its runs' graphs
    error = await fails(mcp_client, "get_workflow_nodes", {"workflow": adhoc.uuid})
    assert "not among the listed tools and plays" in error and "no deployed release" in error and "release UUID" not in error
    run_uuid = re.search(r"get_workflow_nodes\(run_uuid='([0-9a-f-]+)'\)", error)
    assert run_uuid and ws.runs_by_uuid[run_uuid.group(1)].workflow is adhoc
    graph, _ = await ok(mcp_client, {"run_uuid": run_uuid.group(1)}, tool="get_workflow_nodes")
    assert graph["workflow_uuid"] == adhoc.uuid and graph["nodes"]
