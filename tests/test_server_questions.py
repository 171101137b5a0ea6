"""The questions answered in one call — node durations, releases, batches, counts over a stored result — checked
against the sandbox's generated data (its ground truth), not against the SQL or endpoints the tools use."""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.types import CallToolResult

from cargo_mcp.api.vocabulary import InputError, when
from cargo_mcp.results.store import ResultStore
from cargo_mcp.sandbox import outputs
from cargo_mcp.sandbox.catalog import DAY
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import RunRec
from cargo_mcp.server.render import UNTRUSTED_BEGIN, UNTRUSTED_END
from cargo_mcp.server.tools import batches
from tests.support import tool_text
from tests.test_server_tools import fails, ok, workflow, ws0

pytestmark = pytest.mark.anyio


def ms(t: float) -> int:
    """A sandbox time as the SQL tables hold it (epoch milliseconds)."""
    return int(t * 1000)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_of(r: CallToolResult) -> str:
    assert not r.is_error, tool_text(r)
    return tool_text(r)


# --- per-node durations -------------------------------------------------------------------------------


def durations(runs: list[RunRec]) -> dict[str, tuple[int, int, int]]:
    """p50, p95, max (ms) of each node's finished executions: the value at rank ⌊level · n⌋ of the sorted list."""
    by_node: dict[str, list[int]] = defaultdict(list)
    for r in runs:
        for e in r.executions:
            if e.finished_at is not None:
                by_node[r.release.nodes[e.node].uuid].append(ms(e.finished_at) - ms(e.started_at))
    out = {}
    for node, values in by_node.items():
        values.sort()
        out[node] = (values[int(0.5 * len(values))], values[int(0.95 * len(values))], values[-1])
    return out


async def test_node_durations_match_the_generated_executions(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = ws0(shared_sandbox)
    scorer = workflow(shared_sandbox, "lead_scorer")  # its deployed release has two nodes slugged 'variables'
    runs = ws.runs_of_workflow[scorer.uuid]
    batch = max(scorer.batches, key=lambda b: b.runs_count)
    since = ws.now - 20 * DAY
    v1, v2 = scorer.releases
    cases = [
        ({"workflow": "Lead scorer"}, runs),
        (
            {"workflow": scorer.uuid, "created_after": iso(since)},
            [r for r in runs if ms(r.created_at) >= ms(since)],
        ),
        ({"batch_uuid": batch.uuid}, ws.runs_of_batch[batch.uuid]),
        ({"workflow": scorer.uuid, "release_uuid": v1.uuid}, [r for r in runs if r.release is v1]),
    ]
    for args, scope in cases:
        r = await mcp_client.call_tool("get_run_metrics", args)
        text, out = text_of(r), r.structured_content or {}
        got = {n["node_uuid"]: (n["p50_ms"], n["p95_ms"], n["max_ms"]) for n in out["nodes"] if n["p50_ms"] is not None}
        assert got == durations(scope), args
        for n in out["nodes"]:
            assert f"| {n['p50_ms']} | {n['p95_ms']} | {n['max_ms']}" in text and n["node_uuid"] in text
    twins = [x.uuid for x in v2.nodes if x.slug == "variables"]
    # a batch whose two 'variables' nodes have different durations: merged by slug, both would be wrong
    truth, b = next(
        (t, b)
        for b in scorer.batches
        if b.release is v2
        for t in [durations(ws.runs_of_batch[b.uuid])]
        if twins[0] in t and twins[1] in t and t[twins[0]] != t[twins[1]]
    )
    out = await ok(mcp_client, "get_run_metrics", {"batch_uuid": b.uuid})
    merged = {n["node_uuid"]: n for n in out["nodes"] if n["slug"] == "variables"}
    assert {n["name"] for n in merged.values()} == {"Prepare inputs", "Format score"} and set(merged) == set(twins)
    assert all((n["p50_ms"], n["p95_ms"], n["max_ms"]) == truth[u] for u, n in merged.items())


async def test_node_durations_missing_say_why(mcp_client: Client, shared_sandbox: Sandbox, faults: Any) -> None:
    faults(path="/v1/orchestration/query", kind="status", status=400, count=1)
    r = await mcp_client.call_tool("get_run_metrics", {"workflow": "Lead scorer"})
    text, out = text_of(r), r.structured_content or {}
    assert out["nodes"] and all(n["p50_ms"] is None for n in out["nodes"])  # the metrics still come
    assert out["durations_note"].startswith("not available (") and f"Durations: {out['durations_note']}" in text


# --- releases --------------------------------------------------------------------------------------


@pytest.mark.parametrize("key", ["lead_scorer", "company_enrichment", "inbound_routing"])
async def test_release_windows_match_the_runs(mcp_client: Client, shared_sandbox: Sandbox, key: str) -> None:
    wf = workflow(shared_sandbox, key)
    r = await mcp_client.call_tool("list_releases", {"workflow": wf.spec.name})
    text, out = text_of(r), r.structured_content or {}
    assert out["workflow_uuid"] == wf.uuid and out["notes"] == []
    order = sorted(wf.releases, key=lambda x: x.deployed_at or 0)
    assert [x["release_uuid"] for x in out["releases"]] == [x.uuid for x in order]
    for got, rel, prev in zip(out["releases"], order, [None, *order[:-1]], strict=True):
        runs = [x for x in shared_sandbox.workspaces[0].runs_of_workflow[wf.uuid] if x.release is rel]
        assert runs and got["runs"] == len(runs) and got["failed_runs"] == sum(x.status == "error" for x in runs)
        first, last = min(x.created_at for x in runs), max(x.created_at for x in runs)
        assert (got["first_run_at"], got["last_run_at"]) == (iso(first), iso(last))
        assert (got["status"], got["version"], got["nodes"]) == (rel.status, rel.version, len(rel.nodes))
        assert got["deployed_at"] == iso(rel.deployed_at or 0)
        slugs = {s.slug for s in rel.specs}
        before = {s.slug for s in prev.specs} if prev else slugs
        assert (set(got["slugs_added"]), set(got["slugs_removed"])) == (slugs - before, before - slugs)
        assert f"{rel.uuid} | {rel.version} | {rel.status} |" in text
        assert f"| {len(runs)} | {got['failed_runs']} | {iso(first)} | {iso(last)} |" in text
    assert out["columns_call"] and f"{out['columns_call']} names them" in text
    added = " ".join(f"+{s}" for s in out["releases"][1]["slugs_added"])
    assert added in text


async def test_list_releases_refuses_an_unknown_workflow(mcp_client: Client) -> None:
    assert "no tool or play is named 'Nope'" in await fails(mcp_client, "list_releases", {"workflow": "Nope"})


@pytest.mark.parametrize("key", ["contact_finder", "inbound_routing", "lead_scorer"])
async def test_an_export_across_a_deploy_names_the_columns_that_differ(
    mcp_client: Client, shared_sandbox: Sandbox, key: str
) -> None:
    wf = workflow(shared_sandbox, key)
    call = (await ok(mcp_client, "list_releases", {"workflow": wf.uuid}))["columns_call"]
    args: dict[str, Any] = dict(re.findall(r"(\w+)='([^']*)'", call))
    out = await ok(mcp_client, "download_outputs", {**args, "limit": 0})
    after, before = (datetime.fromisoformat(args[k].replace("Z", "+00:00")).timestamp() for k in args if "created" in k)
    runs = [r for r in ws0(shared_sandbox).runs_of_workflow[wf.uuid] if after <= r.created_at < before]
    runs.sort(key=lambda r: r.created_at)
    columns, rows = outputs.rows(runs, out["output_node_slug"])
    assert set(columns) == set(out["columns"])
    produced = [c for c in out["columns"] if c not in outputs.IDENTITY and not c.startswith("input.")]
    order = [rel for rel in wf.releases if any(r.release is rel for r in runs)]
    assert len(order) == 2 and out["total"] == len(runs)
    filled = {
        rel.uuid: {
            c
            for r, row in zip(runs, rows, strict=True)
            if r.release is rel
            for c in produced
            if row.get(c) not in (None, "")
        }
        for rel in order
    }
    counts = ", ".join(f"v{rel.version} (release {rel.uuid}) {sum(r.release is rel for r in runs):,}" for rel in order)
    expected = f"the rows come from 2 releases: {counts} row(s)"
    differ: dict[str, list[str]] = {}
    for c in produced:
        where = [f"v{rel.version}" for rel in order if c in filled[rel.uuid]]
        if len(where) == 1:
            differ.setdefault(where[0], []).append(c)
    if differ:
        expected += ". Output columns filled in only some releases: " + "; ".join(
            f"{v} only: {', '.join(differ[v])}" for v in sorted(differ)
        )
    else:
        expected += ". Every release fills the same output columns"
    assert f"{expected}." in out["notes"]
    assert key == "lead_scorer" or differ  # the sandbox's finder and routing change their outputs in v2


async def test_an_export_of_one_release_has_no_split(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    batch = next(b for b in ws0(shared_sandbox).batches if b.workflow.spec.key == "contact_finder" and b.runs_count)
    out = await ok(mcp_client, "download_outputs", {"batch_uuid": batch.uuid, "limit": 0})
    assert out["total"] == batch.runs_count and not any("releases:" in n for n in out["notes"])


# --- counts over a stored result -----------------------------------------------------------------------


def empty(v: Any) -> bool:
    return v is None or v == ""


async def test_read_result_counts_empty_cells_and_groups(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    ws = ws0(shared_sandbox)
    batch = next(  # v2 (its runs may end invalid or fail): some rows lack an email, a status
        b
        for b in ws.batches
        if b.workflow.spec.key == "contact_finder" and b.release.status == "deployed" and b.failed_runs_count
    )
    out = await ok(mcp_client, "download_outputs", {"batch_uuid": batch.uuid, "limit": 0})
    rid, columns = out["result_id"], out["columns"]
    _, truth = outputs.rows(ws.runs_of_batch[batch.uuid], out["output_node_slug"])
    assert len(truth) == out["total"] == batch.runs_count

    # "How many rows of this result have an empty email?" — one call, whichever way empty is written
    blank = sum(empty(row.get("email")) for row in truth)
    assert 0 < blank < len(truth)
    for spelled in ("", None):
        r = await mcp_client.call_tool("read_result", {"result_id": rid, "where": {"email": spelled}, "limit": 1})
        assert (r.structured_content or {})["matching"] == blank
        assert text_of(r).startswith(f"{blank:,} matching row(s)")

    # every answer counts the empty cells of each column among the matching rows
    r = await mcp_client.call_tool("read_result", {"result_id": rid, "where": {"runStatus": "success"}, "limit": 1})
    text, page = text_of(r), r.structured_content or {}
    ok_rows = [row for row in truth if row["runStatus"] == "success"]
    expected = {c: n for c in columns if (n := sum(empty(row.get(c)) for row in ok_rows))}
    assert page["empty"] == expected and page["matching"] == len(ok_rows)
    assert all(f"{c} {n:,}" in text for c, n in expected.items())
    assert " | ".join(columns) in text  # every column is shown

    # distinct values with counts, most frequent first, paged
    values = Counter(None if empty(row.get("status")) else row["status"] for row in truth)
    first = await ok(mcp_client, "read_result", {"result_id": rid, "group_by": ["status"], "limit": 1})
    assert first["group_count"] == len(values) > 1 and first["matching"] == len(truth) and first["next_offset"] == 1
    top, n = values.most_common(1)[0]
    assert first["groups"] == [{"values": {"status": top}, "count": n}]
    r = await mcp_client.call_tool("read_result", {"result_id": rid, "group_by": ["status"], "offset": 1})
    rest = (r.structured_content or {})["groups"]
    assert {g["values"]["status"]: g["count"] for g in rest} == {v: c for v, c in values.items() if v != top}
    assert all(
        f"{'(empty)' if g['values']['status'] is None else g['values']['status']} | {g['count']}" in text_of(r)
        for g in rest
    )

    # group-by counts over two columns, filtered
    pairs = Counter((row["runStatus"], None if empty(row.get("free_email")) else row["free_email"]) for row in truth)
    out = await ok(
        mcp_client, "read_result", {"result_id": rid, "group_by": ["runStatus", "free_email"], "limit": 1000}
    )
    got = {(g["values"]["runStatus"], g["values"]["free_email"]): g["count"] for g in out["groups"]}
    assert got == dict(pairs) and out["group_count"] == len(pairs)
    counts = [g["count"] for g in out["groups"]]
    assert counts == sorted(counts, reverse=True)
    failed = await ok(
        mcp_client, "read_result", {"result_id": rid, "group_by": ["runStatus"], "where": {"runStatus": "error"}}
    )
    assert failed["groups"] == [{"values": {"runStatus": "error"}, "count": batch.failed_runs_count}]


def table_rows(text: str) -> int:
    """The rows of the text's table (the lines of its data block after the header)."""
    block = text.split(UNTRUSTED_BEGIN, 1)[1].split(UNTRUSTED_END, 1)[0]
    return len(block.strip("\n").splitlines()) - 1


async def test_a_page_says_how_many_rows_it_shows_and_of_how_many_records(
    mcp_client: Client, shared_sandbox: Sandbox
) -> None:
    ws = ws0(shared_sandbox)
    batch = max((b for b in ws.batches if b.workflow.spec.key == "contact_finder"), key=lambda b: b.runs_count)
    runs = ws.runs_of_batch[batch.uuid]
    records = len({r.record_id for r in runs})
    assert records < len(runs)  # a batch repeats records
    r = await mcp_client.call_tool("download_outputs", {"batch_uuid": batch.uuid, "limit": 100})
    text, out = text_of(r), r.structured_content or {}
    printed = table_rows(text)
    assert 0 < printed < 100 and out["returned"] == 100 and out["records"] == records
    assert text.startswith(f"{len(runs):,} row(s) = {records:,} distinct record(s) (a record repeats in a row per run)")
    assert f"showing 1-{printed}: {printed} of the 100 rows of this page fit the text" in text.splitlines()[0]
    succeeded = len({r.record_id for r in runs if r.status == "success"})
    assert 0 < succeeded < records and out["records_succeeded"] == succeeded
    assert f"(a record repeats in a row per run), of which {succeeded:,} have a success run in result " in text
    read = await mcp_client.call_tool("read_result", {"result_id": out["result_id"], "limit": 1})
    assert (read.structured_content or {})["records_succeeded"] == succeeded
    assert f", of which {succeeded:,} have a success run in {out['result_id']}" in text_of(read)
    picked = await mcp_client.call_tool(
        "read_result", {"result_id": out["result_id"], "where": {"runStatus": "error"}, "limit": 1}
    )
    assert (picked.structured_content or {}).get("records_succeeded") is None  # the statuses are already picked
    assert f"call read_result(result_id={out['result_id']!r}, offset={printed}, limit={100 - printed})" in text
    # read_result: the matching rows, their records, and the rows its text shows
    failed = [r for r in runs if r.status == "error"]
    where = {"runStatus": "error"}
    r = await mcp_client.call_tool("read_result", {"result_id": out["result_id"], "where": where, "limit": 1000})
    text, page = text_of(r), r.structured_content or {}
    printed, distinct = table_rows(text), len({r.record_id for r in failed})
    assert page["matching"] == len(failed) and page["records"] == distinct
    assert distinct < len(failed) and text.startswith(
        f"{len(failed):,} matching row(s) = {distinct:,} distinct record(s) (a record repeats in a row per run) in "
    )
    assert 0 < printed < len(failed)
    assert f"showing 1-{printed}: {printed} of the {len(failed)} rows of this page fit" in text.splitlines()[0]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"group_by": []}, "group_by is empty"),
        ({"group_by": ["status"], "columns": ["email"]}, "drop columns and order_by"),
        ({"group_by": ["no_such"]}, "unknown column(s) ['no_such']"),
        ({"where": {"no_such": ""}}, "unknown column(s) ['no_such']"),
        ({"where": {"status": "error"}}, "unknown column(s) ['status' (did you mean 'runStatus'?)] in where"),
        ({"where": {"runstatus": "error"}}, "['runstatus' (did you mean 'runStatus'?)] in where"),
        ({"group_by": ["RUNSTATUS"]}, "['RUNSTATUS' (did you mean 'runStatus'?)] in group_by"),
        ({"columns": ["recordtitle"]}, "['recordtitle' (did you mean 'recordTitle'?)] in columns"),
    ],
)
async def test_read_result_refuses_bad_aggregations(
    mcp_client: Client, shared_sandbox: Sandbox, args: dict[str, Any], expected: str
) -> None:
    batch = next(b for b in ws0(shared_sandbox).batches if b.workflow.spec.key == "contact_finder" and b.runs_count)
    rid = (await ok(mcp_client, "download_outputs", {"batch_uuid": batch.uuid, "limit": 0}))["result_id"]
    assert expected in await fails(mcp_client, "read_result", {"result_id": rid, **args})


def test_the_store_counts_null_and_blank_as_one_empty_value(tmp_path: Path) -> None:
    store = ResultStore(tmp_path)
    values = [None, "", "a", "a", 1, "1", True, {"k": 1}, None, "b"]
    rid = store.create(["v", "w"], ({"v": v, "w": i % 2} for i, v in enumerate(values)), "t").result_id
    assert store.read(rid, where={"v": None})[2] == store.read(rid, where={"v": ""})[2] == 3
    assert store.read(rid, where={"v": ["", "b"]})[2] == 4 and store.read(rid, where={"v": []})[2] == 0
    assert store.empty_cells(rid, ["v", "w"], None) == {"v": 3}
    assert store.empty_cells(rid, ["v"], {"w": 1}) == {"v": 1}
    assert store.empty_cells(rid, ["w"], None) == {}  # kept counts, another column
    with pytest.raises(InputError, match=r"unknown column\(s\) \['zz'\]"):
        store.empty_cells(rid, ["zz"], None)
    groups, count, matching = store.groups(rid, ["v"], None)
    assert (count, matching) == (7, 10) and groups[0] == ({"v": None}, 3) and groups[1] == ({"v": "a"}, 2)
    assert sorted(n for _, n in groups) == [1, 1, 1, 1, 1, 2, 3]
    assert ({"v": True}, 1) in groups and ({"v": {"k": 1}}, 1) in groups and ({"v": 1}, 1) in groups
    page, _, _ = store.groups(rid, ["w", "v"], {"v": "a"}, offset=0, limit=1)
    assert page == [({"w": 0, "v": "a"}, 1)]


# --- batches ---------------------------------------------------------------------------------------


def batch_truth(sb: Sandbox, *, after: float | None = None, key: str | None = None) -> list[Any]:
    """The sandbox's batches, newest first, created since ``after`` (of workflow ``key``)."""
    found = [
        b
        for b in ws0(sb).batches
        if (after is None or ms(b.created_at) >= ms(after)) and (key is None or b.workflow.spec.key == key)
    ]
    return sorted(found, key=lambda b: -b.created_at)


async def test_last_nights_batches(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    start = datetime.fromisoformat(when("yesterday", "created_after")).timestamp()
    truth = batch_truth(shared_sandbox, after=start)
    r = await mcp_client.call_tool("list_batches", {"created_after": "yesterday", "limit": 100})
    text, out = text_of(r), r.structured_content or {}
    assert truth and out["total"] == len(truth) and out["next_offset"] is None
    midnight = datetime.combine(datetime.now(UTC).date() - timedelta(days=1), datetime.min.time(), UTC)
    assert text.startswith(f"{len(truth):,} batch(es) created {midnight:%Y-%m-%dT%H:%M:%SZ} → now match")
    assert f"created_after 'yesterday' was read as {midnight:%Y-%m-%dT%H:%M:%S}.000Z" in out["notes"]
    assert [b["batch_uuid"] for b in out["batches"]] == [b.uuid for b in truth]
    for got, b in zip(out["batches"], truth, strict=True):
        assert got["workflow_name"] == b.workflow.spec.name and got["workflow_uuid"] == b.workflow.uuid
        assert (got["status"], got["created_at"]) == (b.status, iso(b.created_at))
        assert got["finished_at"] == (iso(b.finished_at) if b.finished_at else None)
        counts = (b.runs_count, b.executed_runs_count, b.failed_runs_count)
        assert (got["runs_count"], got["executed_runs_count"], got["failed_runs_count"]) == counts
        assert got["progress"] == (round(b.executed_runs_count / b.runs_count, 4) if b.runs_count else None)
        line = f"{b.uuid} | {b.workflow.uuid} | {b.workflow.spec.name} | {b.status} | {iso(b.created_at)} |"
        assert line in text and (got["finished_at"] is None or got["finished_at"] in text)


async def test_list_batches_filters_and_pages(mcp_client: Client, shared_sandbox: Sandbox) -> None:
    truth = [b for b in batch_truth(shared_sandbox, key="lead_scorer") if b.status in ("error", "cancelled", "success")]
    args = {"workflow": "lead scorer", "statuses": ["failed", "canceled", "finished"], "limit": 2}
    first = await ok(mcp_client, "list_batches", args)
    assert first["total"] == len(truth) > 2 and first["next_offset"] == 2
    assert any("'failed' was read as 'error'" in n for n in first["notes"])
    rest = await ok(mcp_client, "list_batches", {**args, "offset": 2, "limit": 100})
    assert [b["batch_uuid"] for b in first["batches"] + rest["batches"]] == [b.uuid for b in truth]
    everything = await ok(mcp_client, "list_batches", {"limit": 100})
    assert everything["total"] == len(ws0(shared_sandbox).batches) and everything["next_offset"] is None


async def test_list_batches_reads_pages_until_the_window_ends(
    mcp_client: Client, shared_sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(batches, "BATCH_PAGE", 4)
    after = ws0(shared_sandbox).now - 9 * DAY
    truth = batch_truth(shared_sandbox, after=after)
    out = await ok(mcp_client, "list_batches", {"created_after": iso(after), "limit": 100})
    assert out["total"] == len(truth) > 4 and [b["batch_uuid"] for b in out["batches"]] == [b.uuid for b in truth]
    monkeypatch.setattr(batches, "BATCH_PAGES_MOST", 2)  # 8 batches read at most
    r = await mcp_client.call_tool("list_batches", {"limit": 3})
    out = r.structured_content or {}
    assert out["total"] is None and out["next_offset"] == 3 and "at least" in text_of(r)
    out = await ok(mcp_client, "list_batches", {"limit": 3, "offset": 6})
    assert out["total"] is None and out["next_offset"] is None and "only the newest 8 batches" in out["notes"][-1]
    newest = [b.uuid for b in batch_truth(shared_sandbox)]
    assert [b["batch_uuid"] for b in out["batches"]] == newest[6:8]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        ({"statuses": ["broken"]}, "unknown batch status 'broken'"),
        ({"created_after": "today", "created_before": "yesterday"}, "is not before created_before"),
        ({"created_after": "last week"}, "created_after = 'last week' is not a date"),
        ({"workflow": "Nope"}, "no tool or play is named 'Nope'"),
    ],
)
async def test_list_batches_refuses_bad_input(mcp_client: Client, args: dict[str, Any], expected: str) -> None:
    assert expected in await fails(mcp_client, "list_batches", args)
