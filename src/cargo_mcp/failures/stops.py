"""Filter stops: which condition stopped the runs, what it read in an exemplar run, and what they had cost."""

from __future__ import annotations

import json
import re
from typing import Any

import anyio

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Node
from cargo_mcp.failures.report import FilterStop

SEEN_MAX = 5  # values read by one condition
VALUE_CHARS = 200
CONDITION_CHARS = 300
# {{nodes.<slug>.<path>}}: what a node's expression reads from the run context.
_REF = re.compile(r"\bnodes\.([A-Za-z_][\w-]*)((?:\.[A-Za-z_$][\w$-]*|\[\d+\])*)")
_MISSING = object()


def condition_of(node: Node | None) -> str | None:
    """A filter node's condition as configured in its release (its whole config when it has no ``condition``)."""
    if node is None:
        return None
    raw = node.config.get("condition", node.config or None)
    if raw is None:
        return None
    text = raw if isinstance(raw, str) else json.dumps(raw, ensure_ascii=False)
    return _cut(text, CONDITION_CHARS)


def seen(condition: str | None, context: dict[str, Any], computed: Any) -> dict[str, Any]:
    """The values ``condition`` reads (``nodes.<slug>.<path>``) in one run's context, each bounded, and the
    condition's computed value when the run recorded one."""
    out: dict[str, Any] = {}
    for m in _REF.finditer(condition or ""):
        ref = m.group(0)
        if ref in out or len(out) >= SEEN_MAX:
            continue
        value = _lookup(context[m.group(1)], m.group(2)) if m.group(1) in context else _MISSING
        out[ref] = _bounded(value) if value is not _MISSING else "(absent from the run context)"
    if isinstance(computed, dict) and "condition" in computed:
        out["computed condition"] = _bounded(computed["condition"])
    return out


async def filter_stops(client: CargoClient, rows: list[dict[str, Any]], nodes: dict[str, Node]) -> list[FilterStop]:
    """One entry per filter node that stopped runs (the query returns at most 20); what the condition read, from
    the node's first exemplar run."""
    stops = [
        FilterStop(
            node_slug=r["node_slug"],
            node_uuid=r["node_uuid"],
            stops=int(r["stops"]),
            credits=round(float(r.get("credits") or 0), 4),
            condition=condition_of(nodes.get(r["node_uuid"])),
            exemplar_run=str(r["sample_runs"][0]),
        )
        for r in rows
    ]

    async def look(stop: FilterStop) -> None:
        try:
            got = await client.get_run(stop.exemplar_run)
        except CargoApiError as e:
            if e.status != 404:
                raise
            return
        stop.seen = seen(stop.condition, got.run_context, got.run_computed_configs.get(stop.node_slug))

    async with anyio.create_task_group() as tg:
        for stop in stops:
            tg.start_soon(look, stop)
    return stops


def _lookup(value: Any, path: str) -> Any:
    for part in re.findall(r"\.([^.\[]+)|\[(\d+)\]", path):
        key, index = part
        if key and isinstance(value, dict) and key in value:
            value = value[key]
        elif index and isinstance(value, list) and int(index) < len(value):
            value = value[int(index)]
        else:
            return _MISSING
    return value


def _bounded(value: Any) -> Any:
    """Scalars as they are (long strings cut), containers as clipped JSON text."""
    if isinstance(value, str):
        return _cut(value, VALUE_CHARS)
    if value is None or isinstance(value, bool | int | float):
        return value
    return _cut(json.dumps(value, ensure_ascii=False, default=str), VALUE_CHARS)


def _cut(text: str, limit: int) -> str:
    """``text``, or its start marked with its full length."""
    return text if len(text) <= limit else f"{text[:limit]}… ({len(text):,} chars)"
