"""The questions answered in one call — node durations, releases, batches, counts over a stored result — checked
against the sandbox's generated data (its ground truth), not against the SQL or endpoints the tools use."""

from __future__ import annotations

from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import pytest
from mcp import Client

from cargo_mcp.sandbox.catalog import DAY
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import RunRec
from tests.test_server_tools import fails, ok, workflow, ws0

pytestmark = pytest.mark.anyio


def ms(t: float) -> int:
    """A sandbox time as the SQL tables hold it (epoch milliseconds)."""
    return int(t * 1000)


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def text_of(r: Any) -> str:
    assert not r.is_error, r.content[0].text
    return str(r.content[0].text)


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
        ({"workflow_uuid": "Lead scorer"}, runs),
        ({"workflow_uuid": scorer.uuid, "created_after": iso(since)}, [r for r in runs if ms(r.created_at) >= ms(since)]),
        ({"batch_uuid": batch.uuid}, ws.runs_of_batch[batch.uuid]),
        ({"workflow_uuid": scorer.uuid, "release_uuid": v1.uuid}, [r for r in runs if r.release is v1]),
    ]
    for args, scope in cases:
        r = await mcp_client.call_tool("get_run_metrics", args)
        text, out = text_of(r), r.structured_content or {}
        got = {n["node_uuid"]: (n["p50_ms"], n["p95_ms"], n["max_ms"]) for n in out["nodes"] if n["p50_ms"] is not None}
        assert got == durations(scope), args
        for n in out["nodes"]:
            assert f"| {n['p50_ms']} | {n['p95_ms']} | {n['max_ms']} | {n['node_uuid']}" in text
    out = await ok(mcp_client, "get_run_metrics", {"workflow_uuid": scorer.uuid, "release_uuid": v2.uuid})
    twins = [n for n in out["nodes"] if n["slug"] == "variables"]
    assert {n["name"] for n in twins} == {"Prepare inputs", "Format score"}
    assert {n["node_uuid"] for n in twins} == {x.uuid for x in v2.nodes if x.slug == "variables"}
    truth = durations([r for r in runs if r.release is v2])
    assert all((n["p50_ms"], n["p95_ms"], n["max_ms"]) == truth[n["node_uuid"]] for n in twins)
    assert truth[twins[0]["node_uuid"]] != truth[twins[1]["node_uuid"]]  # merged by slug, one would be wrong


async def test_node_durations_missing_say_why(mcp_client: Client, shared_sandbox: Sandbox, faults: Any) -> None:
    faults(path="/v1/orchestration/query", kind="status", status=400, count=1)
    r = await mcp_client.call_tool("get_run_metrics", {"workflow_uuid": "Lead scorer"})
    text, out = text_of(r), r.structured_content or {}
    assert out["nodes"] and all(n["p50_ms"] is None for n in out["nodes"])  # the metrics still come
    assert out["durations_note"].startswith("not available (") and f"Durations: {out['durations_note']}" in text
