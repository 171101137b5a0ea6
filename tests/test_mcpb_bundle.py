"""The Claude Desktop bundle (MCPB): the manifest validates with the official packer, names the server's real
tools and prompt, runs on macOS, Windows and Linux, packs only the package (never build outputs), and the
unpacked bundle starts with the command the host computes from the manifest — lean by default, the sandbox
only when the user turns 'Real Cargo only' off."""

from __future__ import annotations

import json
import shutil
import struct
import subprocess
import tomllib
import zipfile
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cargo_mcp import __version__
from cargo_mcp.sandbox.server import Sandbox
from tests.installed import ROOT, clean_env, lists_the_tools_and_answers_get_batch
from tests.npm_tools import ensure_node_packages, node_executable
from tests.support import TOOLS

MANIFEST: dict[str, Any] = json.loads((ROOT / "manifest.json").read_text())
MCPB = {"@anthropic-ai/mcpb": "2.1.2"}
# The host's own substitution (the packer's library, as Claude Desktop uses it) for this platform.
RESOLVE = """
import { readFileSync } from "node:fs";
import { getMcpConfigForManifest } from "%s";
const [manifest, dir, userConfig] = process.argv.slice(1);
const config = await getMcpConfigForManifest({
  manifest: JSON.parse(readFileSync(manifest, "utf8")), extensionPath: dir, systemDirs: {}, pathSeparator: "/",
  userConfig: JSON.parse(userConfig),
});
console.log(JSON.stringify(config));
"""
BUILD_OUTPUTS = ("dist/cargo_ai_mcp-0.1.0-py3-none-any.whl", "build/lib/x.py", "cargo-ai-mcp.mcpb", "src/x.egg-info/PKG-INFO")


@pytest.fixture(scope="module")
def mcpb_root() -> Path:
    return ensure_node_packages("mcpb", MCPB)


@pytest.fixture(scope="module")
def mcpb(mcpb_root: Path) -> list[str]:
    return [node_executable(), str(mcpb_root / "node_modules" / ".bin" / "mcpb")]


def test_manifest_validates_and_matches_the_server(mcpb: list[str]) -> None:
    proc = subprocess.run([*mcpb, "validate", str(ROOT / "manifest.json")], capture_output=True, text=True)
    assert proc.returncode == 0 and "validation passes" in proc.stdout, proc.stdout + proc.stderr
    assert {t["name"] for t in MANIFEST["tools"]} == TOOLS
    assert [p["name"] for p in MANIFEST["prompts"]] == ["debug_failed_batch"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert MANIFEST["name"] == project["name"] == "cargo-ai-mcp" and MANIFEST["version"] == __version__
    assert set(MANIFEST["compatibility"]["platforms"]) == {"darwin", "win32", "linux"}
    urls = project["urls"]
    assert MANIFEST["repository"]["url"] == MANIFEST["homepage"] == urls["Repository"] == urls["Homepage"]
    assert MANIFEST["support"] == urls["Issues"] and MANIFEST["license"] == project["license"]
    args = MANIFEST["server"]["mcp_config"]["args"]
    assert "--no-dev" in args and "--frozen" in args and args[-2:] == ["cargo-ai-mcp", "serve"]
    assert MANIFEST["user_config"]["api_token"]["sensitive"] is True


def test_the_icon_is_a_small_square_png() -> None:
    data = (ROOT / MANIFEST["icon"]).read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n" and data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert width == height and 128 <= width <= 512 and len(data) < 64_000


@pytest.fixture(scope="module")
def bundle(mcpb: list[str], tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Pack a copy of the checkout in which a build left its outputs behind."""
    source = tmp_path_factory.mktemp("checkout") / "cargo-ai-mcp"
    skip = shutil.ignore_patterns(".venv", ".git", "__pycache__", ".*_cache", "node_modules", "dist", "build")
    shutil.copytree(ROOT, source, ignore=skip)
    for name in BUILD_OUTPUTS:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text("build output")
    out = tmp_path_factory.mktemp("mcpb") / "cargo-ai-mcp.mcpb"
    proc = subprocess.run([*mcpb, "pack", str(source), str(out)], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out


def test_bundle_holds_the_package_and_nothing_else(bundle: Path) -> None:
    names = zipfile.ZipFile(bundle).namelist()
    for needed in ("manifest.json", "pyproject.toml", "uv.lock", "README.md", "LICENSE", "icon.png"):
        assert needed in names
    assert "src/cargo_mcp/cli.py" in names
    tops = ("tests", "bench", "docs", "manifests", ".venv", ".ci", ".git", "dist", "build")
    assert not [n for n in names if n.split("/")[0] in tops]
    assert not [n for n in names if "__pycache__" in n or n.endswith((".mcpb", ".whl")) or ".egg-info/" in n]


def host_config(mcpb_root: Path, folder: Path, user_config: dict[str, Any]) -> dict[str, Any]:
    library = mcpb_root / "node_modules" / "@anthropic-ai" / "mcpb" / "dist" / "index.js"
    script = RESOLVE % library.as_uri()
    proc = subprocess.run(
        [node_executable(), "--input-type=module", "-e", script, str(folder / "manifest.json"), str(folder),
         json.dumps(user_config)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    config: dict[str, Any] = json.loads(proc.stdout)
    return config


def installed(folder: Path, package: str) -> bool:
    return any((folder / ".venv").glob(f"lib/python3*/site-packages/{package}"))


@pytest.fixture
def unpacked(bundle: Path, tmp_path: Path) -> Path:
    """A fresh install of the bundle, as the host unpacks it."""
    folder = tmp_path / "cargo-ai-mcp"
    zipfile.ZipFile(bundle).extractall(folder)
    return folder


def params(config: dict[str, Any], **env: str) -> StdioServerParameters:
    uv = shutil.which("uv")
    assert uv, "uv must be on PATH (pip install uv)"
    command = uv if config["command"] == "uv" else config["command"]
    return StdioServerParameters(command=command, args=config["args"], env=clean_env(**config["env"], **env))


@pytest.mark.anyio
async def test_unpacked_bundle_runs_lean_with_a_token(mcpb_root: Path, unpacked: Path, shared_sandbox: Sandbox) -> None:
    config = host_config(mcpb_root, unpacked, {"api_token": shared_sandbox.workspaces[0].token})
    assert config["env"]["UV_NO_DEFAULT_GROUPS"] == "true"  # the default: real Cargo only
    # The bundle would reach api.getcargo.io; point it at the sandbox as a real Cargo deployment.
    with anyio.fail_after(180):
        async with Client(params(config, CARGO_API_BASE_URL=shared_sandbox.base_url)) as client:
            await lists_the_tools_and_answers_get_batch(client, shared_sandbox)
    for package in ("chdb", "pyarrow", "pytest", "ruff", "mypy"):
        assert not installed(unpacked, package), package


@pytest.mark.anyio
async def test_unpacked_bundle_offers_the_sandbox_when_asked(mcpb_root: Path, unpacked: Path) -> None:
    config = host_config(mcpb_root, unpacked, {"real_cargo_only": False})  # token left empty
    with anyio.fail_after(180):
        async with Client(params(config)) as client:
            assert "BACKEND: the embedded SANDBOX" in (client.instructions or "")
            assert {t.name for t in (await client.list_tools()).tools} == TOOLS
    assert installed(unpacked, "chdb") and not installed(unpacked, "pytest")
