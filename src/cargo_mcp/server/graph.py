"""A release's node graph for the model: node views, branch labels, output candidates, a text drawing."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping

from pydantic import BaseModel, Field

from cargo_mcp.api.models import Node
from cargo_mcp.server.render import one_line

# Labels of a node's children by action (docs/cargo-contract.md §9.1: branch 0 = yes, split 0 = A, …).
_CHILD_LABELS = {"branch": ("yes", "no"), "split": ("A", "B"), "filter": ("pass",)}


class ChildEdge(BaseModel):
    slug: str
    label: str | None = Field(None, description="Branch label: yes/no for branch, A/B for split, route N for switch.")


class NodeView(BaseModel):
    slug: str
    uuid: str
    name: str | None = None
    kind: str = Field(description="native | connector | tool | agent")
    action: str | None = Field(None, description="actionSlug (native/connector) or templateSlug (tool/agent).")
    integration: str | None = None
    tool: str | None = Field(None, description="Tool-kind nodes: the name (else the toolUuid) of the tool it runs.")
    children: list[ChildEdge] = Field(default_factory=list)
    fallback: str | None = Field(None, description="Slug of the node run when this node errors.")
    terminal: bool = False


def label(node: Node, index: int) -> str | None:
    """The label of the ``index``-th child edge of ``node``."""
    action = node.action_slug or ""
    labels = _CHILD_LABELS.get(action)
    if labels and index < len(labels):
        return labels[index]
    if action == "switch":
        return f"route {index}"
    return None


def called_tool(node: Node, tool_names: Mapping[str, str]) -> str | None:
    """What a tool-kind node runs: the tool's name when known, else its toolUuid."""
    return tool_names.get(node.tool_uuid, node.tool_uuid) if node.tool_uuid else None


def views(nodes: list[Node], tool_names: Mapping[str, str] | None = None) -> list[NodeView]:
    """Node views in graph order (start first, then breadth-first), unreachable nodes last.

    ``tool_names`` maps toolUuid → tool name, to say which tool a tool-kind node runs."""
    by_uuid = {n.uuid: n for n in nodes}
    out = []
    for n in ordered(nodes):
        kids = [
            ChildEdge(slug=by_uuid[c].slug, label=label(n, i))
            for i, c in enumerate(n.children_uuids)
            if c and c in by_uuid
        ]
        fb = by_uuid.get(n.fallback_child_uuid or "")
        out.append(
            NodeView(
                slug=n.slug,
                uuid=n.uuid,
                name=n.name,
                kind=n.kind,
                action=n.action_slug or n.template_slug,
                integration=n.integration_slug,
                tool=called_tool(n, tool_names or {}),
                children=kids,
                fallback=fb.slug if fb else None,
                terminal=not any(n.children_uuids),
            )
        )
    return out


def roots(nodes: list[Node]) -> list[Node]:
    pointed = {c for n in nodes for c in [*n.children_uuids, n.fallback_child_uuid] if c}
    found = [n for n in nodes if n.uuid not in pointed]
    return sorted(found, key=lambda n: (n.action_slug != "start", n.slug)) or nodes[:1]


def ordered(nodes: list[Node]) -> list[Node]:
    by_uuid = {n.uuid: n for n in nodes}
    seen: dict[str, Node] = {}
    queue = list(roots(nodes))
    while queue:
        n = queue.pop(0)
        if n.uuid in seen:
            continue
        seen[n.uuid] = n
        queue += [by_uuid[c] for c in [*n.children_uuids, n.fallback_child_uuid] if c and c in by_uuid]
    return [*seen.values(), *(n for n in nodes if n.uuid not in seen)]


def output_candidates(nodes: list[Node]) -> list[str]:
    """Terminal node slugs, most likely output first: ``output``, ``end``, other end nodes, the rest."""
    terminals = [n for n in ordered(nodes) if not any(n.children_uuids)]

    def rank(n: Node) -> tuple[int, int]:
        order = 0 if n.slug == "output" else 1 if n.slug == "end" else 2 if n.action_slug == "end" else 3
        return order, terminals.index(n)

    return list(dict.fromkeys(n.slug for n in sorted(terminals, key=rank)))


def repeated_slug_warnings(nodes: list[Node]) -> list[str]:
    counts = Counter(n.slug for n in nodes)
    return [
        f"slug {slug!r} is used by {c} nodes: runContext.{slug} and node_status filters on it are ambiguous."
        for slug, c in counts.items()
        if c > 1
    ]


def draw(nodes: list[Node], mark: dict[str, str] | None = None, tool_names: Mapping[str, str] | None = None) -> str:
    """A compact tree drawing; ``mark`` appends a note to nodes by UUID, e.g. '✖ FAILED'. A slug used by several
    nodes is followed by the node's UUID."""
    by_uuid = {n.uuid: n for n in nodes}
    mark = mark or {}
    repeated = {slug for slug, c in Counter(n.slug for n in nodes).items() if c > 1}
    lines: list[str] = []
    drawn: set[str] = set()

    def describe(n: Node) -> str:
        what = n.action_slug or n.template_slug or called_tool(n, tool_names or {}) or ""
        kind = f"{n.kind}:{n.integration_slug + '.' if n.integration_slug else ''}{what}".rstrip(":")
        text = one_line(f"{n.slug} ({kind})" + (f" [node {n.uuid}]" if n.slug in repeated else ""))
        if n.uuid in mark:
            text += f"  {mark[n.uuid]}"
        return text

    def walk(n: Node, prefix: str, edge: str, last: bool, top: bool) -> None:
        branch = "" if top else ("└─ " if last else "├─ ")
        tag = f"[{edge}] " if edge else ""
        if n.uuid in drawn:
            lines.append(f"{prefix}{branch}{tag}→ {one_line(n.slug)} (see above)")
            return
        drawn.add(n.uuid)
        lines.append(f"{prefix}{branch}{tag}{describe(n)}")
        kids = [(label(n, i) or "", by_uuid[c]) for i, c in enumerate(n.children_uuids) if c and c in by_uuid]
        if n.fallback_child_uuid in by_uuid:
            kids.append(("on failure", by_uuid[n.fallback_child_uuid]))
        child_prefix = prefix if top else prefix + ("   " if last else "│  ")
        for j, (edge_label, child) in enumerate(kids):
            walk(child, child_prefix, edge_label, j == len(kids) - 1, False)

    for r in roots(nodes):
        walk(r, "", "", True, True)
    for n in nodes:
        if n.uuid not in drawn:
            walk(n, "", "", True, True)
    return "\n".join(lines)
