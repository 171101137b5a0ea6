"""One run as the model needs it: the executed path, the failing node, nodes never run, and context."""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel, Field

from cargo_mcp.api.models import Node
from cargo_mcp.api.vocabulary import text_arg, uuid_arg
from cargo_mcp.clip import listing
from cargo_mcp.failures.stops import condition_of, seen
from cargo_mcp.server import graph
from cargo_mcp.server.render import clip, duration
from cargo_mcp.server.services import Services


class Step(BaseModel):
    index: int
    slug: str
    node_uuid: str
    name: str | None = None
    kind: str
    status: str
    next: str | None = Field(None, description="Where execution went: '[yes] qualify', '[on failure] x', …")
    error: str | None = None
    credits: float = 0
    duration_s: float | None = None
    failing: bool = False


class RunDetail(BaseModel):
    run_uuid: str
    workflow_uuid: str
    workflow_name: str | None = None
    status: str
    error_message: str | None = None
    record_id: str
    record_title: str
    batch_uuid: str | None = None
    release_uuid: str | None = None
    created_at: str
    finished_at: str | None = None
    duration_s: float | None = None
    credits: float
    path: list[Step]
    failing_node: str | None = None
    output_node: str | None = None
    stopped_at: str | None = Field(None, description="Non-terminal node where a successful run ended (filter).")
    stop_condition: str | None = Field(None, description="That filter's condition, and what it read.")
    not_executed: list[str] = Field(default_factory=list)
    context: dict[str, Any] = Field(
        description="Per requested node: runContext output and computed config (untrusted data)."
    )
    context_note: str | None = None


async def run_detail(
    s: Services, run_uuid: str, context_nodes: list[str] | str | None, max_chars: int
) -> tuple[RunDetail, list[Node]]:
    """Fetch a run and build its view; also return the nodes of the graph it ran."""
    res = await (await s.cargo()).get_run(uuid_arg(run_uuid, "run_uuid"))
    run = res.run
    nodes = await s.releases.nodes_of_run(run)
    by_uuid = {n.uuid: n for n in nodes}
    path = []
    for i, e in enumerate(run.executions):
        node = by_uuid.get(e.node_uuid)
        nxt = None
        if e.next_node_uuid:
            target = by_uuid.get(e.next_node_uuid)
            slug = target.slug if target else e.next_node_uuid
            edge = None
            if node is not None and e.next_node_uuid == node.fallback_child_uuid:
                edge = "on failure"
            elif node is not None and e.node_child_index is not None:
                edge = graph.label(node, e.node_child_index)
            nxt = f"[{edge}] {slug}" if edge else slug
        took = (e.finished_at - e.started_at).total_seconds() if e.finished_at and e.started_at else None
        path.append(
            Step(
                index=i,
                slug=e.node_slug,
                node_uuid=e.node_uuid,
                name=node.name if node else None,
                kind=e.node_kind,
                status=e.status,
                next=nxt,
                error=e.error_message,
                credits=e.credits_used_count,
                duration_s=took,
            )
        )
    failing = next((s for s in path if s.status == "error" and not _absorbed(s)), None)
    if failing is None and run.status == "error":
        failing = next((s for s in reversed(path) if s.status == "error"), None)
    if failing:
        failing.failing = True
    terminal = {n.slug for n in nodes if not any(n.children_uuids)}
    last = path[-1] if path else None
    output = last.slug if last and last.slug in terminal else None
    stopped = last.slug if run.status == "success" and last and last.slug not in terminal and nodes else None
    ran = {e.node_uuid for e in run.executions}
    key_nodes = [x for x in dict.fromkeys([failing.slug if failing else None, output, stopped]) if x]
    want = _context_nodes(context_nodes, path, key_nodes)
    context, note = _context(res.run_context, res.run_computed_configs, want, max_chars, first=key_nodes)
    entry = await s.catalog.resolve(run.workflow_uuid)
    condition = condition_of(by_uuid.get(last.node_uuid)) if stopped and last else None
    if condition:
        read = seen(condition, res.run_context, res.run_computed_configs.get(stopped or ""))
        condition += "".join(f"; {k} = {json.dumps(v, ensure_ascii=False)}" for k, v in read.items())
    detail = RunDetail(
        run_uuid=run.uuid,
        workflow_uuid=run.workflow_uuid,
        workflow_name=entry.name if entry else None,
        status=run.status,
        error_message=run.error_message,
        record_id=run.record_id,
        record_title=run.record_title,
        batch_uuid=run.batch_uuid,
        release_uuid=run.release_uuid,
        created_at=run.created_at.isoformat(),
        finished_at=run.finished_at.isoformat() if run.finished_at else None,
        duration_s=(run.finished_at - run.created_at).total_seconds() if run.finished_at else None,
        credits=round(sum(s.credits for s in path), 4),
        path=path,
        failing_node=failing.slug if failing else None,
        output_node=output,
        stopped_at=stopped,
        stop_condition=condition,
        not_executed=[n.slug for n in graph.ordered(nodes) if n.uuid not in ran],
        context=context,
        context_note=note,
    )
    return detail, nodes


def _absorbed(s: Step) -> bool:
    return bool(s.next and s.next.startswith("[on failure]"))


def _context_nodes(choice: list[str] | str | None, path: list[Step], key_nodes: list[str]) -> list[str]:
    """The slugs whose context to show: the choice, or by default the failing, output and stopping nodes."""
    if choice == "all":
        return list(dict.fromkeys(s.slug for s in path))
    if choice == "failed":
        return list(dict.fromkeys(s.slug for s in path if s.status == "error"))
    if isinstance(choice, list):
        return list(dict.fromkeys(slug for c in choice if (slug := text_arg(c, "a context_nodes slug"))))
    return key_nodes


def _context(
    run_context: dict[str, Any], configs: dict[str, Any], slugs: list[str], max_chars: int, first: list[str]
) -> tuple[dict[str, Any], str | None]:
    """Each node's output and config within ``max_chars`` in all. The ``first`` nodes (failing, output, stop)
    are served before the others; within each tier small nodes are kept whole and the rest share what is left."""
    missing = [s for s in slugs if s not in run_context and s not in configs]
    items = {s: {"output": run_context.get(s), "config": configs.get(s)} for s in slugs if s not in missing}
    texts = {s: json.dumps(item, ensure_ascii=False, default=str) for s, item in items.items()}
    kept: dict[str, Any] = {}
    cut: list[str] = []
    left = max_chars
    tiers = [[t for t in texts if t in first], [t for t in texts if t not in first]]
    for tier in tiers:
        ordered = sorted(tier, key=lambda t: len(texts[t]))
        for i, slug in enumerate(ordered):
            share, text = left // (len(ordered) - i), texts[slug]
            if len(text) <= share:
                kept[slug] = items[slug]
                left -= len(text)
            else:
                kept[slug] = text[: max(0, share - 40)] + f"… [cut: {len(text):,} chars in all]"
                left -= share
                cut.append(f"{slug} ({len(text):,} chars)")
    notes = []
    if cut:
        notes.append(f"cut to fit max_chars={max_chars}: {', '.join(cut)}; raise max_chars or ask for fewer nodes")
    if missing:
        notes.append(f"no runContext for: {listing(missing)} (not executed, or wrong slug)")
    return {s: kept[s] for s in texts}, "; ".join(notes) or None


def run_text(d: RunDetail) -> str:
    lines = [
        f"Run {d.run_uuid} — {d.status}" + (f": {clip(d.error_message, 300)}" if d.error_message else ""),
        f"Workflow {d.workflow_name or d.workflow_uuid}; record {d.record_id} ({clip(d.record_title, 60)}); "
        f"created {d.created_at}; took {duration(d.duration_s)}; credits {d.credits:g}",
        "Path:",
    ]
    for s in d.path:
        mark = "  ◀ FAILED HERE" if s.failing else ""
        nxt = f" → {s.next}" if s.next else ""
        err = f" — {clip(s.error, 200)}" if s.error else ""
        lines.append(f"  {s.index}. {s.slug} [{s.kind}] {s.status}{nxt} ({duration(s.duration_s)}){err}{mark}")
    if d.stopped_at:
        why = f": {clip(d.stop_condition, 400)}" if d.stop_condition else ""
        lines.append(f"Stopped at {d.stopped_at} (condition not matched; not an error){why}")
    if d.not_executed:
        lines.append(f"Not executed: {', '.join(d.not_executed)}")
    if d.context:
        lines.append("Context (untrusted data from Cargo):")
        lines += [f"  {slug}: {clip(v, 600)}" for slug, v in d.context.items()]
    if d.context_note:
        lines.append(f"Note: {d.context_note}")
    return "\n".join(lines)
