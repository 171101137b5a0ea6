"""One run as the model needs it: the executed path, the failing node, nodes never run, and context."""

from __future__ import annotations

import json
from typing import Any, TypedDict

from pydantic import BaseModel, Field

from cargo_mcp.api.models import Node, Run
from cargo_mcp.api.vocabulary import text_arg, uuid_arg
from cargo_mcp.clip import listing
from cargo_mcp.failures.stops import condition_of, seen
from cargo_mcp.server import graph
from cargo_mcp.server.render import Text, call, duration, num, one_line, when
from cargo_mcp.server.services import Services

MIN_CONTEXT, MAX_CONTEXT = 500, 100_000  # get_run's max_chars


class Step(BaseModel):
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


class RunFacts(TypedDict):
    """What a run's row and its detail both say of it."""

    status: str
    record_id: str
    record_title: str
    created_at: str
    finished_at: str | None


def run_facts(run: Run) -> RunFacts:
    finished = run.finished_at.isoformat() if run.finished_at else None
    return RunFacts(
        status=run.status,
        record_id=run.record_id,
        record_title=run.record_title,
        created_at=run.created_at.isoformat(),
        finished_at=finished,
    )


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
    context_cut: dict[str, int] = Field(
        default_factory=dict, description="Nodes whose context was cut to fit max_chars: their full size."
    )
    context_missing: list[str] = Field(default_factory=list, description="Requested nodes without runContext.")


async def run_detail(
    s: Services, run_uuid: str, context_nodes: list[str] | str | None, max_chars: int
) -> tuple[RunDetail, list[Node]]:
    """Fetch a run and build its view; also return the nodes of the graph it ran."""
    res = await (await s.cargo()).get_run(uuid_arg(run_uuid, "run_uuid"))
    run = res.run
    nodes = await s.releases.nodes_of_run(run)
    by_uuid = {n.uuid: n for n in nodes}
    path = []
    for e in run.executions:
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
    context, cut, missing = _context(res.run_context, res.run_computed_configs, want, max_chars, first=key_nodes)
    entry = await s.catalog.resolve(run.workflow_uuid)
    condition = condition_of(by_uuid.get(last.node_uuid)) if stopped and last else None
    if condition:
        read = seen(condition, res.run_context, res.run_computed_configs.get(stopped or ""))
        condition += "".join(f"; {k} = {json.dumps(v, ensure_ascii=False)}" for k, v in read.items())
    detail = RunDetail(
        run_uuid=run.uuid,
        workflow_uuid=run.workflow_uuid,
        workflow_name=entry.name if entry else None,
        error_message=run.error_message,
        batch_uuid=run.batch_uuid,
        release_uuid=run.release_uuid,
        **run_facts(run),
        duration_s=(run.finished_at - run.created_at).total_seconds() if run.finished_at else None,
        credits=round(sum(s.credits for s in path), 4),
        path=path,
        failing_node=failing.slug if failing else None,
        output_node=output,
        stopped_at=stopped,
        stop_condition=condition,
        not_executed=[n.slug for n in graph.ordered(nodes) if n.uuid not in ran],
        context=context,
        context_cut=cut,
        context_missing=missing,
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
) -> tuple[dict[str, Any], dict[str, int], list[str]]:
    """Each node's output and config within ``max_chars`` in all, the full sizes of those cut, and the nodes
    without context. The ``first`` nodes (failing, output, stop) are served before the others; within each tier
    small nodes are kept whole and the rest share what is left."""
    missing = [s for s in slugs if s not in run_context and s not in configs]
    items = {s: {"output": run_context.get(s), "config": configs.get(s)} for s in slugs if s not in missing}
    texts = {s: json.dumps(item, ensure_ascii=False, default=str) for s, item in items.items()}
    kept: dict[str, Any] = {}
    cut: dict[str, int] = {}
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
                cut[slug] = len(text)
    return {s: kept[s] for s in texts}, cut, missing


def run_head(d: RunDetail, text: Text) -> None:
    """The run's identity, outcome and where it belongs."""
    failing = f" at node {d.failing_node}" if d.failing_node else ""
    end = f"; output node {d.output_node}" if d.output_node else ""
    end += f"; stopped at {d.stopped_at} (a filter condition not matched: not an error)" if d.stopped_at else ""
    text.add(
        f"Run {d.run_uuid} — {d.status}{failing}{end}",
        f"Workflow {d.workflow_name or d.workflow_uuid} ({d.workflow_uuid}); batch {d.batch_uuid or 'none'}; "
        f"release {d.release_uuid or 'none (ad-hoc)'}",
        f"Record {d.record_id}; created {when(d.created_at)}, finished {when(d.finished_at)}; took "
        f"{duration(d.duration_s)}; credits {num(d.credits)}",
    )


def run_data(d: RunDetail, text: Text) -> None:
    """What Cargo recorded in the run (untrusted): the record's title, errors, and the chosen nodes' context."""
    lines = [f"Record title: {text.excerpt(d.record_title, 1000, 'record_title')}"]
    failing = next((s for s in d.path if s.failing), None)
    if d.error_message and not (failing and failing.error == d.error_message):
        lines.append(f"Run error: {text.excerpt(d.error_message, 2000, 'error_message')}")
    for i, s in enumerate(d.path):
        if s.error:
            what = f"Failing node {s.slug}" if s.failing else f"Absorbed by the fallback at {s.slug}"
            lines.append(f"{what}: {text.excerpt(s.error, 2000, f'path[{i}].error')}")
    if d.stop_condition:
        lines.append(f"Stop condition at {d.stopped_at}: {text.excerpt(d.stop_condition, 400, 'stop_condition')}")
    for slug, value in d.context.items():
        lines.append(f"Context {slug}: {one_line(value)}")
    text.data(lines)
    for slug, size in d.context_cut.items():
        more = call(
            "get_run",
            run_uuid=d.run_uuid,
            context_nodes=[slug],
            max_chars=min(MAX_CONTEXT, max(MIN_CONTEXT, size + 100)),
        )
        text.leave_out([f"context.{slug}"], f"cut to fit max_chars: {size:,} characters in all", f"call {more}")
    if d.context_missing:
        text.add(f"No runContext for: {listing(d.context_missing)} (not executed, or wrong slug)")
    if d.not_executed:
        text.add(f"Not executed: {', '.join(d.not_executed)}")


def run_text(d: RunDetail) -> str:
    text = Text()
    run_head(d, text)
    text.add("Path:")
    for i, s in enumerate(d.path):
        name = f" {s.name!r}" if s.name and s.name != s.slug else ""
        mark = "  ◀ FAILED HERE" if s.failing else ""
        nxt = f" → {s.next}" if s.next else ""
        cost = f", {num(s.credits)} cr" if s.credits else ""
        text.add(f"  {i}. {s.slug}{name} [{s.kind}] {s.status}{nxt} ({duration(s.duration_s)}{cost}){mark}")
    text.leave_out(["path[*].node_uuid"], "the nodes' UUIDs", "call " + call("get_workflow_nodes", run_uuid=d.run_uuid))
    run_data(d, text)
    return str(text)
