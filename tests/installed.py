"""The package as a user gets it: a wheel built from this checkout, installed into a fresh virtual environment
with no extras and no dev dependencies (pytest plugin: the fixtures are session-wide).

The build and the install go through uv and its cache (PyPI on a cold cache); nothing is skipped.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from mcp import Client

from tests.support import TOOLS, structured, tool_text

if TYPE_CHECKING:  # the API-mode probe imports this module: it must not load the sandbox
    from cargo_mcp.sandbox.server import Sandbox

ROOT = Path(__file__).resolve().parent.parent


def uv() -> str:
    found = shutil.which("uv")
    assert found, "uv must be on PATH (pip install uv)"
    return found


def clean_env(**extra: str) -> dict[str, str]:
    """The environment without this checkout's virtual environment, any CARGO_* setting or a Python download."""
    drop = ("CARGO_", "VIRTUAL_ENV", "UV_PROJECT", "PYTHONPATH")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)}
    return env | {"UV_PYTHON_DOWNLOADS": "never"} | extra


def run_uv(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([uv(), *args], env=clean_env(), capture_output=True, text=True, timeout=timeout)
    assert proc.returncode == 0, f"uv {' '.join(args)}: rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    return proc


@dataclass(frozen=True)
class LeanInstall:
    """A fresh venv holding only the wheel and its base dependencies."""

    wheel: Path
    venv: Path

    @property
    def python(self) -> Path:
        return self.venv / "bin" / "python"

    def script(self, name: str) -> Path:
        return self.venv / "bin" / name

    def size_bytes(self) -> int:
        """Bytes of every regular file in the venv (what the install put on disk)."""
        return sum(p.lstat().st_size for p in self.venv.rglob("*") if p.is_file() and not p.is_symlink())


@pytest.fixture(scope="session")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    run_uv("build", "--wheel", "--out-dir", str(out), str(ROOT))
    (built,) = out.glob("cargo_ai_mcp-*-py3-none-any.whl")
    return built


@pytest.fixture(scope="session")
def lean_install(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> LeanInstall:
    venv = tmp_path_factory.mktemp("lean") / "venv"
    run_uv("venv", "--quiet", "--python", sys.executable, str(venv))
    install = LeanInstall(wheel, venv)
    # Bytecode compiled up front: the size a first run leaves behind, not the smaller one before it.
    run_uv("pip", "install", "--quiet", "--compile-bytecode", "--python", str(install.python), str(wheel))
    return install


async def lists_the_tools_and_answers_get_batch(client: Client, sb: Sandbox) -> None:
    """The installed server lists every tool and answers get_batch with the sandbox's own count."""
    assert {t.name for t in (await client.list_tools()).tools} == TOOLS
    batch = sb.workspaces[0].batches[0]
    uuid, runs = batch.uuid, batch.runs_count  # plain values: a failure must not print the whole sandbox
    result = await client.call_tool("get_batch", {"batch_uuid": uuid})
    assert not result.is_error and result.structured_content
    assert result.structured_content["runs_count"] == runs


async def tour_every_tool(client: Client, exports: Path) -> set[str]:
    """Call every tool once with arguments found through the tools themselves; return the names that answered.
    ``exports`` is the server's CARGO_MCP_EXPORT_DIR, where save_result writes."""
    answered: set[str] = set()

    async def call(name: str, args: dict[str, Any]) -> dict[str, Any]:
        result = await client.call_tool(name, args)
        text = tool_text(result) if result.content else ""
        assert not result.is_error, f"{name}({args}): {text}"
        assert text and result.structured_content, name
        answered.add(name)
        return structured(result)

    workflows = (await call("list_workflows", {}))["workflows"]
    tool = next(w for w in workflows if w["kind"] == "tool")
    await call("get_workflow_nodes", {"workflow": tool["name"]})
    await call("list_batches", {"workflow": tool["name"], "statuses": ["failed"], "limit": 3})
    await call("list_releases", {"workflow": tool["name"]})
    sql = "SELECT uuid FROM batches WHERE failed_runs_count > 0 ORDER BY created_at DESC LIMIT 1"
    batch = (await call("execute_query", {"sql": sql}))["rows"][0]["uuid"]
    await call("get_batch", {"batch_uuid": batch})
    report = await call("inspect_failures", {"batch_uuid": batch})
    run = report["error_groups"][0]["exemplar_runs"][0]
    await call("get_run", {"run_uuid": run})
    await call("trace_run", {"run_uuid": run})
    await call("count_runs", {"batch_uuid": batch, "statuses": ["failed"]})
    await call("list_runs", {"batch_uuid": batch, "limit": 3})
    await call("get_run_metrics", {"workflow": tool["workflow_uuid"], "created_after": "7d"})
    page = await call("download_outputs", {"workflow": tool["name"], "created_after": "7d", "limit": 5})
    await call("read_result", {"result_id": page["result_id"], "limit": 2})
    saved = await call("save_result", {"result_id": page["result_id"], "path": "tour.csv"})
    assert Path(saved["path"]) == (exports / "tour.csv").resolve() and Path(saved["path"]).stat().st_size > 0
    return answered
