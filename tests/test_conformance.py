"""The MCP conformance suite's server scenarios against `serve --http` on loopback.

The suite's scenarios mostly call its own fixture tools, prompts and resources (``test_simple_text``,
``test://static-text``, …), which a real server does not have: those are listed, with the reason, in
docs/conformance.md. Every other scenario must pass.
"""

from __future__ import annotations

import json
import os
import platform
import re
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from cargo_mcp.sandbox.server import Sandbox
from tests.npm_tools import ensure_node_packages

CONFORMANCE = "0.1.16"
NODE = "22.23.5"  # the suite needs Node 22 (fs.globSync); it comes from npm as a platform package
DOC = Path(__file__).resolve().parent.parent / "docs" / "conformance.md"

# Scenarios that need nothing but a correct server.
GENERIC = {
    "server-initialize",
    "ping",
    "logging-set-level",
    "tools-list",
    "resources-list",
    "prompts-list",
    "server-sse-multiple-streams",
    "dns-rebinding-protection",
}


def node_package() -> str:
    system = {"Linux": "linux", "Darwin": "darwin", "Windows": "win"}[platform.system()]
    machine = {"x86_64": "x64", "amd64": "x64", "aarch64": "arm64", "arm64": "arm64"}[platform.machine().lower()]
    return f"node-{system}-{machine}"


@pytest.fixture(scope="module")
def conformance() -> list[str]:
    root = ensure_node_packages("conformance", {"@modelcontextprotocol/conformance": CONFORMANCE, node_package(): NODE})
    node = root / "node_modules" / node_package() / "bin" / ("node.exe" if os.name == "nt" else "node")
    return [str(node), str(root / "node_modules" / "@modelcontextprotocol" / "conformance" / "dist" / "index.js")]


@pytest.fixture
def server_url(shared_sandbox: Sandbox) -> Iterator[str]:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    env |= {"CARGO_API_TOKEN": shared_sandbox.workspaces[0].token, "CARGO_API_BASE_URL": shared_sandbox.base_url}
    proc = subprocess.Popen(
        [sys.executable, "-m", "cargo_mcp.cli", "serve", "--http", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                httpx.get(f"http://127.0.0.1:{port}/mcp", timeout=1)
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        yield f"http://127.0.0.1:{port}/mcp"
    finally:
        proc.terminate()
        proc.wait(10)


def documented_fixture_scenarios() -> set[str]:
    """The scenario names in the first column of docs/conformance.md's fixture table."""
    table = DOC.read_text().split("## Scenarios that need the suite's fixtures", 1)[1]
    return set(re.findall(r"^\| `([a-z0-9-]+)` \|", table, re.M))


def test_the_generic_scenarios_pass(conformance: list[str], server_url: str, tmp_path: Path) -> None:
    proc = subprocess.run(
        [*conformance, "server", "--url", server_url, "--output-dir", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    results: dict[str, list[dict[str, str]]] = {}
    for checks in tmp_path.glob("server-*/checks.json"):
        scenario = re.sub(r"^server-|-\d{4}-\d\d-\d\dT[\d-]+Z$", "", checks.parent.name)
        results[scenario] = json.loads(checks.read_text())
    assert results.keys() >= GENERIC, proc.stdout[-3000:]
    for scenario in sorted(GENERIC):
        failed = [c for c in results[scenario] if c["status"] not in ("SUCCESS", "INFO")]
        assert results[scenario] and not failed, (scenario, failed)
    # Every other scenario of the suite is a fixture scenario, each explained in the docs.
    assert results.keys() - GENERIC == documented_fixture_scenarios()
