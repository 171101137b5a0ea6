"""The Claude Desktop bundle (MCPB): the manifest validates with the official packer, names the server's real
tools and prompt, packs only the package, and the unpacked bundle starts with the manifest's own command."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import pytest
from mcp import Client, StdioServerParameters

from cargo_mcp import __version__
from cargo_mcp.sandbox.server import Sandbox
from tests.npm_tools import ensure_node_packages, node_executable
from tests.support import TOOLS

ROOT = Path(__file__).resolve().parent.parent
MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text())


@pytest.fixture(scope="module")
def mcpb() -> list[str]:
    root = ensure_node_packages("mcpb", {"@anthropic-ai/mcpb": "2.1.2"})
    return [node_executable(), str(root / "node_modules" / ".bin" / "mcpb")]


def test_manifest_validates_and_matches_the_server(mcpb: list[str]) -> None:
    proc = subprocess.run([*mcpb, "validate", str(ROOT / "manifest.json")], capture_output=True, text=True)
    assert proc.returncode == 0 and "validation passes" in proc.stdout, proc.stdout + proc.stderr
    assert {t["name"] for t in MANIFEST["tools"]} == TOOLS
    assert [p["name"] for p in MANIFEST["prompts"]] == ["debug_failed_batch"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert MANIFEST["version"] == project["version"] == __version__
    assert MANIFEST["server"]["mcp_config"]["args"][-2:] == ["cargo-mcp", "serve"]


@pytest.fixture(scope="module")
def bundle(mcpb: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mcpb") / "cargo-mcp.mcpb"
    proc = subprocess.run([*mcpb, "pack", str(ROOT), str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_bundle_holds_the_package_and_nothing_else(bundle: Path) -> None:
    names = zipfile.ZipFile(bundle).namelist()
    for needed in ("manifest.json", "pyproject.toml", "uv.lock", "README.md", "src/cargo_mcp/cli.py"):
        assert needed in names
    assert not [n for n in names if n.split("/")[0] in ("tests", "bench", "docs", ".venv", ".ci", ".git")]
    assert not [n for n in names if "__pycache__" in n]


@pytest.mark.anyio
async def test_unpacked_bundle_starts_with_the_manifests_command(
    bundle: Path, tmp_path: Path, shared_sandbox: Sandbox
) -> None:
    uv = shutil.which("uv")
    assert uv, "uv must be on PATH (pip install uv)"
    folder = tmp_path / "unpacked"
    zipfile.ZipFile(bundle).extractall(folder)
    config = MANIFEST["server"]["mcp_config"]
    filled = {"user_config.api_token": shared_sandbox.workspaces[0].token}  # what the user typed; the rest unset

    def substitute(text: str) -> str:
        text = text.replace("${__dirname}", str(folder))
        for key, value in filled.items():
            text = text.replace("${" + key + "}", value)
        return text

    env = {k: v for k, v in os.environ.items() if not k.startswith(("CARGO_", "VIRTUAL_ENV", "UV_PROJECT"))}
    env |= {k: substitute(v) for k, v in config["env"].items()}
    env["CARGO_API_BASE_URL"] = shared_sandbox.base_url  # the bundle would reach api.getcargo.io
    command = uv if config["command"] == "uv" else config["command"]
    params = StdioServerParameters(command=command, args=[substitute(a) for a in config["args"]], env=env)
    async with Client(params) as client:
        tools = (await client.list_tools()).tools
        assert {t.name for t in tools} == TOOLS
        batch = shared_sandbox.workspaces[0].batches[0]
        result = await client.call_tool("get_batch", {"batch_uuid": batch.uuid})
        assert not result.is_error and result.structured_content
        assert result.structured_content["runs_count"] == batch.runs_count
