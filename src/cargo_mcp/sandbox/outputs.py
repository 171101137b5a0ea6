"""Download-outputs files: one row per run, identity columns, then inputs, then the output node.

Column convention (the real API documents none; see docs/sandbox.md):
``recordId, recordTitle, runUuid, runStatus`` — then each input field of the start node as
``input.<field>`` — then each field of ``runContext[outputNodeSlug]`` under its own name
(prefixed ``output.`` only if it would collide with an earlier column). Runs that never
reached the output node leave those columns empty. CSV is RFC 4180 with a header row and
nested values JSON-encoded; JSON is an array of row objects.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from cargo_mcp.sandbox import fakes, serialize
from cargo_mcp.sandbox.workspace import ReleaseRec, RunRec, SandboxWorkspace, WorkflowRec, context_of

IDENTITY = ("recordId", "recordTitle", "runUuid", "runStatus")


def default_output_slug(wf: WorkflowRec) -> str | None:
    """The deployed release's output node: an ``end`` node slugged output/end, else the first terminal."""
    rel = wf.deployed or (wf.releases[0] if wf.releases else None)
    if rel is None:
        return None
    terminals = [s for i, s in enumerate(rel.specs) if not rel.children[i]]
    for s in terminals:
        if s.slug in ("output", "end"):
            return s.slug
    return terminals[0].slug if terminals else None


def slug_exists(wf: WorkflowRec, slug: str) -> bool:
    releases: list[ReleaseRec] = wf.releases
    return any(s.slug == slug for r in releases for s in r.specs)


def rows(runs: list[RunRec], slug: str) -> tuple[list[str], list[dict[str, Any]]]:
    """Columns and row objects for the given runs and output node slug."""
    columns: list[str] = list(IDENTITY)
    seen = set(columns)
    out = []
    for r in runs:
        ctx, _ = context_of(r)
        row: dict[str, Any] = {
            "recordId": r.record_id,
            "recordTitle": r.record_title,
            "runUuid": r.uuid,
            "runStatus": r.status,
        }
        start = fakes.record_input(r.workflow.spec.record_kind, r.key)
        for k, v in start.items():
            if k != "_id":
                row[f"input.{k}"] = v
        node_out = ctx.get(slug)
        if isinstance(node_out, dict) and "error" not in node_out:
            for k, v in node_out.items():
                row[f"output.{k}" if k in row else k] = v
        for k in row:
            if k not in seen:
                seen.add(k)
                columns.append(k)
        out.append(row)
    return columns, out


def encode(columns: list[str], data: list[dict[str, Any]], fmt: str) -> tuple[bytes, str]:
    """File bytes and content type for ``fmt`` (csv | json)."""
    if fmt == "json":
        full = [{c: row.get(c) for c in columns} for row in data]
        return json.dumps(full, ensure_ascii=False).encode(), "application/json"
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\r\n")
    w.writerow(columns)
    for row in data:
        w.writerow(
            [
                "" if (v := row.get(c)) is None else json.dumps(v) if isinstance(v, dict | list | bool) else v
                for c in columns
            ]
        )
    return buf.getvalue().encode(), "text/csv; charset=utf-8"


def ndjson_runs(ws: SandboxWorkspace, runs: list[RunRec]) -> bytes:
    """``runs/download`` file: one full run per line, with its runContext and computed configs."""
    lines = []
    for r in runs:
        g = serialize.get_run(ws, r)
        obj = g.run.wire()
        obj["runContext"] = g.run_context
        obj["runComputedConfigs"] = g.run_computed_configs
        lines.append(json.dumps(obj, ensure_ascii=False))
    return ("\n".join(lines) + "\n").encode()
