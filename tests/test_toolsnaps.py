"""Tool-surface snapshots: what the model reads, pinned in committed files (as github-mcp-server's toolsnaps).

- ``tests/toolsnaps/<tool>.json``: each tool's name, title, description, annotations, input and output schema;
- ``tests/toolsnaps/prompts/<prompt>.json``: each prompt, and its text for an example argument;
- ``tests/toolsnaps/instructions.txt``: the server's instructions;
- ``tests/toolsnaps/answers/<tool>.txt``: one full answer per tool (its text block and its structured content)
  on the seeded sandbox with a fixed clock, so a reviewer sees every change to what a model is told.

Any drift fails with a diff. When the change is intended, regenerate the files and commit them with it::

    UPDATE_TOOLSNAPS=1 uv run pytest tests/test_toolsnaps.py
"""

from __future__ import annotations

import difflib
import json
import os
import re
import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from cargo_mcp.settings import Settings
from tests.support import FAST_RETRY, TOOLS, tool_text

SNAPS = Path(__file__).parent / "toolsnaps"
REGENERATE = "UPDATE_TOOLSNAPS=1 uv run pytest tests/test_toolsnaps.py"
UPDATE = os.environ.get("UPDATE_TOOLSNAPS", "").lower() in ("1", "true", "yes")
# The sandbox's clock for the answers: its data (times, durations) is relative to it, so a fixed instant in the
# past makes every answer the same on every run. Calls are scoped to batches and runs, never to "the last N days".
NOW = datetime(2026, 1, 1, tzinfo=UTC)
EXAMPLE_BATCH = "3f2b1c9e-8d7a-4b6c-9e5f-1a2b3c4d5e6f"
RESULT_ID = re.compile(r"\br_[0-9a-f]{12}\b")


def check(path: Path, current: str, update: bool = UPDATE) -> None:
    """Compare ``current`` with the committed snapshot at ``path`` (or rewrite it under UPDATE_TOOLSNAPS)."""
    name = path.relative_to(SNAPS.parent.parent).as_posix()
    if update:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(current, encoding="utf-8")
        return
    if not path.exists():
        pytest.fail(f"{name} is missing. Create it: {REGENERATE}", pytrace=False)
    committed = path.read_text(encoding="utf-8")
    if committed != current:
        diff = "".join(
            difflib.unified_diff(
                committed.splitlines(keepends=True), current.splitlines(keepends=True), f"{name} (committed)", "now"
            )
        )
        pytest.fail(
            f"{name} drifted: what the model reads has changed.\n{diff}\n"
            f"If the change is intended, regenerate the snapshots and commit them: {REGENERATE}",
            pytrace=False,
        )


def as_json(data: Any) -> str:
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# --- the surface: tools, prompts, instructions -------------------------------------------------------------


@pytest.fixture(scope="module")
def surface() -> dict[str, Any]:
    async def collect() -> dict[str, Any]:
        server = build_server(Settings(token="toolsnaps", base_url="https://api.getcargo.io"))
        async with Client(server) as client:
            tools = (await client.list_tools()).tools
            prompts = (await client.list_prompts()).prompts
            rendered = {
                p.name: await client.get_prompt(p.name, {a.name: EXAMPLE_BATCH for a in p.arguments or []})
                for p in prompts
            }
            return {
                "tools": {t.name: t.model_dump(mode="json", by_alias=True, exclude_none=True) for t in tools},
                "prompts": {
                    p.name: {
                        "prompt": p.model_dump(mode="json", by_alias=True, exclude_none=True),
                        "example": rendered[p.name].model_dump(mode="json", by_alias=True, exclude_none=True),
                    }
                    for p in prompts
                },
                "instructions": client.instructions or "",
            }

    return anyio.run(collect)


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_tool_surface(surface: dict[str, Any], tool: str) -> None:
    assert tool in surface["tools"], f"the server no longer registers {tool}"
    check(SNAPS / f"{tool}.json", as_json(surface["tools"][tool]))


def test_instructions(surface: dict[str, Any]) -> None:
    check(SNAPS / "instructions.txt", surface["instructions"] + "\n")


# --- one answer per tool on the seeded sandbox -----------------------------------------------------------


def calls(sb: Sandbox) -> list[tuple[str, dict[str, Any]]]:
    """One call per tool, scoped so that its answer depends only on the seeded data (read_result and save_result
    use the result download_outputs stored, so they come after it)."""
    ws = sb.workspaces[0]
    finished = [
        b for b in ws.batches if b.status == "success" and b.failed_runs_count and b.workflow.spec.kind == "tool"
    ]
    batch = min(finished, key=lambda b: (b.runs_count, b.uuid))
    run = min((r for r in ws.runs_of_batch[batch.uuid] if r.status == "error"), key=lambda r: (r.created_at, r.uuid))
    wf = batch.workflow
    return [
        ("list_workflows", {}),
        ("get_workflow_nodes", {"workflow": wf.spec.name}),
        ("list_batches", {"workflow": wf.spec.name, "created_before": NOW.isoformat(), "limit": 3}),
        ("get_batch", {"batch_uuid": batch.uuid}),
        ("count_runs", {"batch_uuid": batch.uuid, "statuses": ["failed"]}),
        ("list_runs", {"batch_uuid": batch.uuid, "statuses": ["error"], "limit": 3}),
        ("get_run", {"run_uuid": run.uuid}),
        ("get_run_metrics", {"workflow": wf.uuid, "batch_uuid": batch.uuid}),
        ("list_releases", {"workflow": wf.spec.name}),
        ("inspect_failures", {"batch_uuid": batch.uuid}),
        ("trace_run", {"run_uuid": run.uuid}),
        ("download_outputs", {"batch_uuid": batch.uuid, "created_before": NOW.isoformat(), "limit": 3}),
        ("read_result", {"result_id": "<from download_outputs>", "offset": 3, "limit": 3}),
        ("save_result", {"result_id": "<from download_outputs>", "path": "outputs.csv"}),
        (
            "execute_query",
            {
                "sql": "SELECT node_slug, execution_status, count() AS n FROM spans "
                f"WHERE batch_uuid = '{batch.uuid}' GROUP BY node_slug, execution_status ORDER BY node_slug, n DESC"
            },
        ),
    ]


@pytest.fixture(scope="module")
def answers() -> Iterator[dict[str, str]]:
    sb = Sandbox(now=NOW.timestamp())
    sb.serve_in_thread()
    try:
        yield anyio.run(_answers, sb)
    finally:
        sb.close()


async def _answers(sb: Sandbox) -> dict[str, str]:
    with tempfile.TemporaryDirectory() as exports:
        return await _answers_in(sb, Path(exports))


async def _answers_in(sb: Sandbox, exports: Path) -> dict[str, str]:
    settings = Settings(token=sb.workspaces[0].token, base_url=sb.base_url, export_dir=exports)
    server = build_server(
        settings, services_factory=lambda: Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(30.0))
    )
    out: dict[str, str] = {}
    result_id = ""
    async with Client(server) as client:
        for tool, args in calls(sb):
            if tool in ("read_result", "save_result"):
                args = {**args, "result_id": result_id}
            r = await client.call_tool(tool, args)
            text: str = tool_text(r)
            assert not r.is_error, f"{tool}: {text}"
            if tool == "download_outputs":
                assert r.structured_content is not None
                result_id = r.structured_content["result_id"]
            shown = {**args, "result_id": "<from download_outputs>"} if tool in ("read_result", "save_result") else args
            answer = _answer(tool, shown, text, r.structured_content).replace(str(exports.resolve()), "<export_dir>")
            out[tool] = RESULT_ID.sub("r_<id>", answer)
    return out


def _answer(tool: str, args: dict[str, Any], text: str, structured: dict[str, Any] | None) -> str:
    call = f"{tool}({json.dumps(args, ensure_ascii=False)})"
    body = json.dumps(structured, indent=2, ensure_ascii=False)
    return f"call: {call}\n\n--- text ---\n{text}\n\n--- structured content ---\n{body}\n"


@pytest.mark.parametrize("tool", sorted(TOOLS))
def test_tool_answer(answers: dict[str, str], tool: str) -> None:
    check(SNAPS / "answers" / f"{tool}.txt", answers[tool])


def test_a_changed_description_fails_with_a_diff_and_the_way_to_regenerate() -> None:
    committed = json.loads((SNAPS / "list_workflows.json").read_text(encoding="utf-8"))
    changed = as_json({**committed, "description": committed["description"] + " A new sentence."})
    with pytest.raises(pytest.fail.Exception) as failure:
        check(SNAPS / "list_workflows.json", changed, update=False)
    message = str(failure.value)
    assert "tests/toolsnaps/list_workflows.json drifted" in message and REGENERATE in message
    assert '+  "description":' in message and "A new sentence." in message


def test_every_tool_and_prompt_has_a_snapshot_and_no_other(surface: dict[str, Any], answers: dict[str, str]) -> None:
    """Runs last: the files on disk are exactly the tools', the prompts' and their answers'."""
    assert set(surface["tools"]) == TOOLS, "tests/support.py TOOLS lists the public tools; update it first"
    assert surface["prompts"], "the server registers no prompt"
    for name, prompt in surface["prompts"].items():
        check(SNAPS / "prompts" / f"{name}.json", as_json(prompt))
    if UPDATE:
        for stale in [
            *(p for p in SNAPS.glob("*.json") if p.stem not in TOOLS),
            *(p for p in (SNAPS / "prompts").glob("*.json") if p.stem not in surface["prompts"]),
            *(p for p in (SNAPS / "answers").glob("*.txt") if p.stem not in TOOLS),
        ]:
            stale.unlink()
    tools = {p.stem for p in SNAPS.glob("*.json")}
    answer_files = {p.stem for p in (SNAPS / "answers").glob("*.txt")}
    prompts = {p.stem for p in (SNAPS / "prompts").glob("*.json")}
    assert tools == answer_files == TOOLS and prompts == set(surface["prompts"]), f"stale or missing files: {REGENERATE}"
