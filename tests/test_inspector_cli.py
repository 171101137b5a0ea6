"""A third-party MCP client — the MCP Inspector CLI from npm — over stdio and streamable HTTP, talking to the
package as users install it: the wheel built from this checkout in a fresh venv without extras or dev tools."""

from __future__ import annotations

import json
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cargo_mcp.sandbox.server import Sandbox
from tests.installed import LeanInstall, clean_env
from tests.npm_tools import ensure_node_packages, node_executable

INSPECTOR = {"@modelcontextprotocol/inspector": "2.12.0"}


@pytest.fixture(scope="module")
def serve(lean_install: LeanInstall) -> list[str]:
    return [str(lean_install.script("cargo-ai-mcp")), "serve"]


@pytest.fixture(scope="module")
def inspector() -> list[str]:
    root = ensure_node_packages("mcp-inspector", INSPECTOR)
    return [node_executable(), str(root / "node_modules" / ".bin" / "mcp-inspector"), "--cli"]


@pytest.fixture
def home(tmp_path: Path) -> dict[str, str]:
    """The Inspector writes ~/.mcp-inspector; keep it out of the real home."""
    return clean_env(HOME=str(tmp_path))


def run(cmd: list[str], env: dict[str, str]) -> dict[str, Any]:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, f"rc={proc.returncode}\n{proc.stdout}\n{proc.stderr}"
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def cargo_env(sb: Sandbox) -> list[str]:
    return ["-e", f"CARGO_API_TOKEN={sb.workspaces[0].token}", "-e", f"CARGO_API_BASE_URL={sb.base_url}"]


def check_answers(sb: Sandbox, call: Any) -> None:
    tools = call("--method", "tools/list")["tools"]
    writing = {t["name"]: t["annotations"] for t in tools if not t["annotations"]["readOnlyHint"]}
    assert len(tools) >= 9 and list(writing) == ["save_result"] and writing["save_result"]["destructiveHint"]
    batch = next(b for b in sb.workspaces[0].batches if b.failed_runs_count)
    out = call("--method", "tools/call", "--tool-name", "get_batch", "--tool-arg", f"batch_uuid={batch.uuid}")
    assert not out.get("isError") and out["structuredContent"]["failed_runs_count"] == batch.failed_runs_count
    sql = "SELECT count() AS n FROM batches"
    out = call("--method", "tools/call", "--tool-name", "execute_query", "--tool-arg", f"sql={sql}")
    assert out["structuredContent"]["rows"] == [{"n": len(sb.workspaces[0].batches)}]


def test_stdio(inspector: list[str], serve: list[str], home: dict[str, str], shared_sandbox: Sandbox) -> None:
    def call(*args: str) -> dict[str, Any]:
        return run([*inspector, *cargo_env(shared_sandbox), *serve, *args], home)

    check_answers(shared_sandbox, call)


@pytest.fixture
def http_server(serve: list[str], shared_sandbox: Sandbox) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = clean_env(CARGO_API_TOKEN=shared_sandbox.workspaces[0].token, CARGO_API_BASE_URL=shared_sandbox.base_url)
    proc = subprocess.Popen([*serve, "--http", "--port", str(port)], env=env, stderr=subprocess.PIPE, text=True)
    url = f"http://127.0.0.1:{port}/mcp"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url, timeout=1)
            break
        except httpx.TransportError:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            time.sleep(0.1)
    try:
        yield url
    finally:
        proc.terminate()
        proc.wait(10)


def test_streamable_http(inspector: list[str], home: dict[str, str], shared_sandbox: Sandbox, http_server: str) -> None:
    def call(*args: str) -> dict[str, Any]:
        return run([*inspector, http_server, "--transport", "http", *args], home)

    check_answers(shared_sandbox, call)
