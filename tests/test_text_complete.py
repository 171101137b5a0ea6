"""The text is the answer: every value in every tool's structured content is in its text block — or a
``[left out: …]`` marker names it and the call that shows it, and that call works (and is complete itself).

Normalisation: a string counts when it appears as is, on one line, with ``|`` escaped, JSON- or repr-escaped,
or (timestamps) as ISO-8601 UTC to the second; a number as ``1234``, ``1,234``, rounded as the text rounds it,
as a percentage (a share 0..1) or as a duration (``*_s`` fields), an offset as where the page starts
(``showing 21-40``); ``true`` by its field name; ``false``, null and strings shorter than 3 characters are not
checked.
"""

from __future__ import annotations

import ast
import re
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.sandbox.workspace import SandboxWorkspace, WorkflowRec
from cargo_mcp.server.app import build_server
from cargo_mcp.server.render import duration, neutral, one_line, when
from cargo_mcp.server.services import Services
from cargo_mcp.settings import Settings
from tests.support import FAST_RETRY, TOOLS, tool_text

pytestmark = pytest.mark.anyio

MARKER = re.compile(
    r"^\[left out: (?P<paths>\S+(?:, \S+)*) \((?P<why>.*?)\)(?:; (?P<how>(?:call|read) .+))?\]$", re.MULTILINE
)
ISO = re.compile(r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d")
BOOLEAN_WORDS = {"failing": "FAILED"}  # a flag the text spells in another word


# --- markers ---------------------------------------------------------------------------------------------------


def expand(path: str) -> list[str]:
    """``rows[*].{a,b}`` → ``rows[*].a``, ``rows[*].b``."""
    m = re.search(r"\{([^{}]*)\}", path)
    if not m:
        return [path]
    return [x for part in m.group(1).split(",") for x in expand(path[: m.start()] + part + path[m.end() :])]


def covers(pattern: str, path: str) -> bool:
    """Whether the marker path ``pattern`` (``rows[5:]``, ``rows[*].x``, ``context.qualify``) covers ``path``."""
    ranges: list[tuple[int, int | None]] = []

    def piece(m: re.Match[str]) -> str:
        if m.group(1) is None:  # [*]
            return r"\[\d+\]"
        start, end = m.group(1), m.group(2)
        ranges.append((int(start), int(end) if end else None))
        return r"\[(\d+)\]"

    regex = re.sub(r"\\\[(\d+):(\d*)\\\]|\\\[\\\*\\\]", piece, re.escape(pattern))
    m = re.match(regex + r"(?=$|[.\[])", path)
    if not m:
        return False
    return all(lo <= int(g) and (hi is None or int(g) < hi) for (lo, hi), g in zip(ranges, m.groups(), strict=True))


def markers(text: str) -> list[tuple[list[str], str | None]]:
    """Each marker's paths and how to see them; a line that starts like a marker must parse as one."""
    found = []
    for line in text.splitlines():
        if line.startswith("[left out:"):
            m = MARKER.match(line)
            assert m, f"malformed marker: {line}"
            found.append(([p for x in m.group("paths").split(", ") for p in expand(x)], m.group("how")))
    return found


def parse_call(how: str) -> tuple[str, dict[str, Any]]:
    node = ast.parse(how.removeprefix("call "), mode="eval").body
    assert isinstance(node, ast.Call) and isinstance(node.func, ast.Name), how
    assert not node.args, how
    return node.func.id, {k.arg: ast.literal_eval(k.value) for k in node.keywords if k.arg}


# --- values ------------------------------------------------------------------------------------------------------


def scalars(value: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(path, field name, value) of every scalar in a structured answer."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from scalars(v, f"{path}.{k}" if path else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from scalars(v, f"{path}[{i}]")
    else:
        yield path, re.sub(r"\[\d+\]$", "", path).rsplit(".", 1)[-1], value


def shown(text: str, key: str, value: Any) -> bool | None:
    """Whether ``value`` appears in ``text``; None when it is not checked."""
    if value is None or value is False or (isinstance(value, str) and len(value.strip()) < 3):
        return None
    if value is True:
        words = [key, key.replace("_", " "), BOOLEAN_WORDS.get(key, key)]
        return any(w.lower() in text.lower() for w in words)
    if key == "offset" and f"showing {value + 1:,}-" in text:  # a page says where it starts
        return True
    if isinstance(value, int | float):
        return any(re.search(rf"(?<![\d.,]){re.escape(c)}(?!\d|[.,]\d)", text) for c in numbers(key, value))
    s = str(value)
    forms = {s, one_line(s), one_line(s).replace("|", "\\|"), repr(s)[1:-1], _json(s)}
    if ISO.match(s):
        forms.add(when(s))
    return any(neutral(f) in text for f in forms)


def numbers(key: str, x: float) -> set[str]:
    forms = {str(x), f"{x:g}", f"{x:,}"}
    if isinstance(x, float):
        forms |= {f"{x:.{d}f}" for d in range(5)} | {f"{x:,.{d}f}" for d in range(5)} | {f"{x:.4g}"}
        if x.is_integer():
            forms |= {str(int(x)), f"{int(x):,}"}
        if 0 <= x <= 1:
            forms |= {f"{100 * x:.1f}%", f"{100 * x:.0f}%"}
        if key.endswith("_s"):
            forms.add(duration(x))
    return forms


def _json(s: str) -> str:
    import json

    return json.dumps(s, ensure_ascii=False)[1:-1]


def missing(structured: dict[str, Any], text: str) -> tuple[list[str], int]:
    """The structured values neither in the text nor covered by a marker, and how many were checked."""
    left = [p for paths, _ in markers(text) for p in paths]
    gaps, checked = [], 0
    for path, key, value in scalars(structured):
        found = shown(text, key, value)
        if found is None:
            continue
        checked += 1
        if not found and not any(covers(p, path) for p in left):
            gaps.append(f"{path} = {value!r}"[:200])
    return gaps, checked


# --- the tools, driven on the seeded sandbox ---------------------------------------------------------------------


@pytest.fixture
async def client(shared_sandbox: Sandbox, tmp_path: Path) -> AsyncIterator[Client]:
    exports = tmp_path / "exports"
    exports.mkdir()
    settings = Settings(
        token=shared_sandbox.workspaces[0].token,
        base_url=shared_sandbox.base_url,
        export_dir=exports,
        results_dir=tmp_path / "results",
    )
    async with Client(build_server(settings, services_factory=lambda: Services(settings, retry=FAST_RETRY))) as c:
        yield c


async def answer(client: Client, name: str, args: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    r = await client.call_tool(name, args)
    text = tool_text(r)
    assert not r.is_error, f"{name}({args}): {text}"
    assert r.structured_content is not None
    return text, r.structured_content


async def complete(client: Client, name: str, args: dict[str, Any], follow: bool = True) -> dict[str, Any]:
    """Call a tool; assert its text is complete; run every marker's call (complete too). Returns the content."""
    text, out = await answer(client, name, args)
    gaps, checked = missing(out, text)
    assert checked >= 3, f"{name}: only {checked} values checked"
    assert not gaps, f"{name}({args}) text lacks {len(gaps)} value(s):\n" + "\n".join(gaps[:30]) + "\n---\n" + text
    for _, how in markers(text) if follow else []:
        if how is None:
            continue
        if how.startswith("read "):
            res = await client.read_resource(how.removeprefix("read "))
            assert res.contents
            continue
        tool, kwargs = parse_call(how)
        assert tool in TOOLS, how
        await complete(client, tool, kwargs, follow=False)
    return out


def ws(sb: Sandbox) -> SandboxWorkspace:
    return sb.workspaces[0]


def wf(sb: Sandbox, key: str) -> WorkflowRec:
    return next(w for w in ws(sb).workflows if w.spec.key == key)


def failed_batch(sb: Sandbox) -> str:
    return next(b.uuid for b in ws(sb).batches if b.failed_runs_count and b.status == "success")


async def test_every_tool_says_everything_in_its_text(client: Client, shared_sandbox: Sandbox) -> None:
    seen: set[str] = set()

    async def check(name: str, args: dict[str, Any]) -> dict[str, Any]:
        seen.add(name)
        return await complete(client, name, args)

    batch = failed_batch(shared_sandbox)
    errored = next((b for b in ws(shared_sandbox).batches if b.status == "error"), None)
    await check("list_workflows", {})
    await check("list_workflows", {"kind": "play", "offset": 1})
    await check("get_workflow_nodes", {"workflow": "Company enrichment"})
    await check("get_workflow_nodes", {"workflow": wf(shared_sandbox, "lead_scorer").uuid})  # a repeated slug
    await check("get_workflow_nodes", {"batch_uuid": batch})
    await check("get_batch", {"batch_uuid": batch})
    if errored:
        await check("get_batch", {"batch_uuid": errored.uuid})
    await check("count_runs", {"batch_uuid": batch, "statuses": ["failed"]})
    runs = await check("list_runs", {"batch_uuid": batch, "statuses": ["error"], "limit": 50})
    await check("list_runs", {"workflow": "Company enrichment", "node_status": {"qualify": "error"}})
    run = runs["runs"][0]["uuid"]
    await check("get_run", {"run_uuid": run})
    await check("get_run", {"run_uuid": run, "context_nodes": "all", "max_chars": 500})
    await check("trace_run", {"run_uuid": run})
    await check("get_run_metrics", {"batch_uuid": batch})
    await check("get_run_metrics", {"workflow": "Lead scorer", "created_after": "30d"})
    await check("inspect_failures", {"batch_uuid": batch})
    await check("inspect_failures", {"workflow": "Contact finder", "created_after": "30d", "max_groups": 2})
    out = await check("download_outputs", {"batch_uuid": batch, "limit": 60})
    await check("download_outputs", {"batch_uuid": batch, "columns": ["recordId", "input.domain", "score"]})
    await check("read_result", {"result_id": out["result_id"], "limit": 300})
    await check("read_result", {"result_id": out["result_id"], "columns": list(out["columns"]), "limit": 5})
    await check(
        "execute_query",
        {
            "sql": "SELECT uuid, status, record_title, repeat(error_message, 3) AS long_error FROM runs "
            "WHERE status = 'error' AND created_at > now() - INTERVAL 30 DAY ORDER BY created_at",
            "max_rows": 400,
        },
    )
    await check("execute_query", {"sql": "SELECT status, count() AS n FROM runs GROUP BY status ORDER BY n DESC"})
    await check("read_result", {"result_id": out["result_id"], "group_by": ["runStatus"]})
    await check("save_result", {"result_id": out["result_id"], "path": "all.csv"})
    await check("list_releases", {"workflow": "Company enrichment"})
    await check("list_batches", {"limit": 5})
    await check("list_batches", {"created_after": "30d", "limit": 100})
    assert seen == TOOLS


# --- the checker itself can fail -------------------------------------------------------------------------------


def test_the_checker_finds_a_value_the_text_lacks() -> None:
    out = {"run_uuid": "0b6f3c1e-8a3d-4d1e-9e0a-2f4b6c8d0e1f", "credits": 12.5, "rows": [{"a": "hello"}]}
    assert missing(out, "run 0b6f3c1e-8a3d-4d1e-9e0a-2f4b6c8d0e1f, 12.5 credits, hello")[0] == []
    assert missing(out, "12.5 credits, hello")[0] == ["run_uuid = '0b6f3c1e-8a3d-4d1e-9e0a-2f4b6c8d0e1f'"]
    assert missing(out, "run 0b6f3c1e-8a3d-4d1e-9e0a-2f4b6c8d0e1f, 125 credits, hello")[0] == ["credits = 12.5"]
    left = (
        "run 0b6f3c1e-8a3d-4d1e-9e0a-2f4b6c8d0e1f 12.5\n[left out: rows[0:] (1 row); call read_result(result_id='r_1')]"
    )
    assert missing(out, left)[0] == []
    assert missing(out, left.replace("rows[0:]", "rows[1:]"))[0] == ["rows[0].a = 'hello'"]


def test_marker_paths() -> None:
    assert covers("rows[5:]", "rows[7].x") and not covers("rows[5:]", "rows[4].x")
    assert covers("rows[2:4]", "rows[3]") and not covers("rows[2:4]", "rows[4]")
    assert covers("rows[*].input.domain", "rows[9].input.domain") and not covers("rows[*].input", "rows[9].inputs")
    assert covers("context.qualify", "context.qualify.output.answer") and not covers("context.q", "context.qualify")
    assert expand("rows[*].{a,b.c}") == ["rows[*].a", "rows[*].b.c"]
    assert markers("x\n[left out: a, b[1:] (why (nested)); call f(x=[1], y='a)')]") == [
        (["a", "b[1:]"], "call f(x=[1], y='a)')")
    ]
    with pytest.raises(AssertionError, match="malformed marker"):
        markers("[left out: oops]")
    assert datetime.fromisoformat(when("2026-11-03T17:45:47.128+00:00").replace("Z", "+00:00")).second == 47
