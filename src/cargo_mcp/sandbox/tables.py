"""Columnar views of a sandbox workspace for the SQL engine (timestamps as epoch milliseconds)."""

from __future__ import annotations

import itertools
import json
from collections import defaultdict
from collections.abc import Iterable
from typing import Any

import pyarrow as pa

from cargo_mcp.api.models import TERMINAL_STATUSES
from cargo_mcp.api.sql import PARENTS
from cargo_mcp.sandbox.schema import arrow_schema
from cargo_mcp.sandbox.workspace import NODE_FIELDS, RunRec, SandboxWorkspace, record_status, s3


def ms(t: float | None) -> int | None:
    return None if t is None else int(t * 1000)


# The sandbox has no child runs: every lineage column is null.
NO_PARENTS = dict.fromkeys(name for name, _ in PARENTS)


# runs.executions_<x>[] is the run's spans' <y>, in execution order (spans are built run by run).
EXECUTION_ARRAYS = {
    "executions_node_uuid": "node_uuid",
    "executions_node_slug": "node_slug",
    "executions_node_kind": "node_kind",
    "executions_node_action_slug": "node_action_slug",
    "executions_node_integration_slug": "node_integration_slug",
    "executions_node_connector_uuid": "node_connector_uuid",
    "executions_node_tool_uuid": "node_tool_uuid",
    "executions_node_agent_uuid": "node_agent_uuid",
    "executions_node_release_uuid": "node_release_uuid",
    "executions_node_batch_uuid": "node_batch_uuid",
    "executions_node_run_uuid": "node_run_uuid",
    "executions_node_message_uuid": "node_message_uuid",
    "executions_node_child_index": "node_child_index",
    "executions_next_node_uuid": "node_next_uuid",
    "executions_status": "execution_status",
    "executions_error_message": "execution_error_message",
    "executions_title": "execution_title",
    "executions_icon_url": "execution_icon_url",
    "executions_credits_used_count": "execution_credits_used_count",
    "executions_started_at": "execution_started_at",
    "executions_updated_at": "execution_updated_at",
    "executions_finished_at": "execution_finished_at",
    "executions_node_wait_until_finished": "node_wait_until_finished",
}


def runs_table(ws: SandboxWorkspace, spans: pa.Table) -> pa.Table:
    """The runs table; its ``executions_*`` arrays are list views over ``spans`` (same values, no copies)."""
    schema = arrow_schema("runs")
    scalars = runs_columns(ws)
    offsets = pa.array([0, *itertools.accumulate(len(r.executions) for r in ws.runs)], type=pa.int32())
    arrays = []
    for f in schema:
        if f.name in EXECUTION_ARRAYS:
            flat = spans.column(EXECUTION_ARRAYS[f.name]).combine_chunks().cast(f.type.value_type)
            arrays.append(pa.ListArray.from_arrays(offsets, flat, type=f.type))
        else:
            arrays.append(pa.array(scalars[f.name], type=f.type))
    return pa.Table.from_arrays(arrays, schema=schema)


def runs_columns(ws: SandboxWorkspace) -> dict[str, list[Any]]:
    """Every column of runs except the ``executions_*`` arrays (see :func:`runs_table`)."""
    return _columns(
        {
            **_executed(ws, r, "parent_uuid"),
            "uuid": r.uuid,
            "record_id": r.record_id,
            "record_title": r.record_title,
            "status": r.status,
            "credits_used_count": r.credits,
            "deleted_at": None,
            "nodes": json.dumps([n.wire() for n in r.release.nodes]) if r.adhoc else "null",
            "is_finished": r.status in TERMINAL_STATUSES,
            "executions_count": len(r.executions),
        }
        for r in ws.runs
    )


def _executed(ws: SandboxWorkspace, r: RunRec, parent: str) -> dict[str, Any]:
    """The columns runs and records share; ``parent`` names the row's own (null) parent column."""
    return {
        "workspace_uuid": ws.uuid,
        "workflow_uuid": r.workflow.uuid,
        "user_uuid": ws.user_uuid,
        "release_uuid": None if r.adhoc else r.release.uuid,
        "batch_uuid": r.batch.uuid if r.batch else None,
        "trace_uuid": r.trace_uuid,
        "temporal_workflow_id": f"run-{r.uuid}",
        "context_s3_filename": s3(r, "context"),
        "computed_configs_s3_filename": s3(r, "computed-configs"),
        parent: None,
        **NO_PARENTS,
        "error_message": r.error_message,
        "created_at": ms(r.created_at),
        "updated_at": ms(r.updated_at),
        "finished_at": ms(r.finished_at),
    }


def _columns(rows: Iterable[dict[str, Any]]) -> dict[str, list[Any]]:
    """Row dicts → one list per column."""
    c: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        for k, v in row.items():
            c[k].append(v)
    return dict(c)


def spans_columns(ws: SandboxWorkspace) -> dict[str, list[Any]]:
    """One span per execution, consistent with ``run.executions[]`` by construction."""
    c: dict[str, list[Any]] = defaultdict(list)
    const = {
        "workspace_uuid": ws.uuid,
        "user_uuid": ws.user_uuid,
        "parent_run_uuid": None,
        **NO_PARENTS,
        "node_release_uuid": None,
        "node_batch_uuid": None,
        "node_run_uuid": None,
        "node_message_uuid": None,
        "execution_icon_url": None,
    }
    for r in ws.runs:
        n = len(r.executions)
        if not n:
            continue
        for k, v in const.items():
            c[k].extend([v] * n)
        per_run = {
            "workflow_uuid": r.workflow.uuid,
            "batch_uuid": r.batch.uuid if r.batch else None,
            "trace_uuid": r.trace_uuid,
            "record_id": r.record_id,
            "record_title": r.record_title,
            "run_uuid": r.uuid,
            "run_context_s3_filename": s3(r, "context"),
            "run_computed_configs_s3_filename": s3(r, "computed-configs"),
        }
        for k, v in per_run.items():
            c[k].extend([v] * n)
        specs, nodes = r.release.specs, r.release.nodes
        for i, e in enumerate(r.executions):
            s, node = specs[e.node], nodes[e.node]
            c["node_uuid"].append(node.uuid)
            c["node_kind"].append(s.kind)
            c["node_slug"].append(s.slug)
            for name in NODE_FIELDS:
                c[f"node_{name}"].append(getattr(node, name))
            c["node_child_index"].append(e.child_index)
            c["node_wait_until_finished"].append(s.kind == "agent")
            c["node_next_uuid"].append(nodes[e.next_node].uuid if e.next_node is not None else None)
            c["execution_index"].append(i)
            c["execution_status"].append(e.status)
            c["execution_error_message"].append(e.error)
            c["execution_title"].append(e.title)
            c["execution_credits_used_count"].append(e.credits)
            c["execution_started_at"].append(ms(e.started_at))
            c["execution_updated_at"].append(ms(e.finished_at or e.started_at))
            c["execution_finished_at"].append(ms(e.finished_at))
    return dict(c)


def batches_columns(ws: SandboxWorkspace) -> dict[str, list[Any]]:
    return _columns(
        {
            "uuid": b.uuid,
            "workspace_uuid": ws.uuid,
            "workflow_uuid": b.workflow.uuid,
            "user_uuid": ws.user_uuid,
            "release_uuid": b.release.uuid,
            "trace_uuid": None,
            "temporal_workflow_id": b.temporal_workflow_id,
            "data_kind": b.data["kind"],
            "data": json.dumps(b.data),
            "error_message": b.error_message,
            "status": b.status,
            "runs_status": b.runs_status,
            "runs_count": b.runs_count,
            "executed_runs_count": b.executed_runs_count,
            "failed_runs_count": b.failed_runs_count,
            "credits_used_count": b.credits_used_count,
            "created_at": ms(b.created_at),
            "updated_at": ms(b.finished_at or b.created_at),
            "finished_at": ms(b.finished_at),
        }
        for b in ws.batches
    )


def records_columns(ws: SandboxWorkspace) -> dict[str, list[Any]]:
    return _columns(
        {
            **_executed(ws, r, "parent_run_uuid"),
            "id": r.record_id,
            "title": r.record_title,
            "run_uuid": r.uuid,
            "status": record_status(r.status),
        }
        for r in ws.records
    )


def workspace_tables(ws: SandboxWorkspace) -> dict[str, pa.Table]:
    """All four tables of ``ws`` as Arrow tables in their DDL column order."""
    spans = pa.table(spans_columns(ws), schema=arrow_schema("spans")) if ws.runs else _empty("spans")
    return {
        "spans": spans,
        "runs": runs_table(ws, spans),
        "batches": pa.table(batches_columns(ws), schema=arrow_schema("batches")) if ws.batches else _empty("batches"),
        "records": pa.table(records_columns(ws), schema=arrow_schema("records")) if ws.runs else _empty("records"),
    }


def _empty(table: str) -> pa.Table:
    return arrow_schema(table).empty_table()
