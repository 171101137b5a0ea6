"""The distribution `cargo-ai-mcp` as users install it: a lean wheel that serves the real API on every platform,
the sandbox as the optional `sandbox` extra, `uvx` from the wheel, and an API-mode server that never imports the
sandbox."""

from __future__ import annotations

import importlib.util
import json
import shutil
import subprocess
import sys
import tomllib
import zipfile
from email.parser import Parser
from pathlib import Path

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cargo_mcp import __version__
from cargo_mcp.sandbox.server import Sandbox
from tests.installed import ROOT, LeanInstall, clean_env, lists_the_tools_and_answers_get_batch, tour_every_tool, uv
from tests.support import TOOLS

LEAN_LIMIT = 100_000_000  # bytes the lean install may take on disk (issue 13)
SANDBOX_PACKAGES = ("chdb", "pyarrow")
REPOSITORY = "https://github.com/cargo-ai/cargo-ai-mcp"


def cargo_env(sb: Sandbox) -> dict[str, str]:
    return clean_env(CARGO_API_TOKEN=sb.workspaces[0].token, CARGO_API_BASE_URL=sb.base_url)


def test_the_wheel_is_cargo_ai_mcp_with_both_scripts_a_license_and_urls(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as z:
        names = z.namelist()
        info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(z.read(f"{info}/METADATA").decode())
        scripts = z.read(f"{info}/entry_points.txt").decode()
    assert meta["Name"] == "cargo-ai-mcp" and meta["Version"] == __version__
    assert meta["License-Expression"] == "MIT" and f"{info}/licenses/LICENSE" in names
    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL", []))
    assert urls["Repository"] == urls["Homepage"] == REPOSITORY and urls["Issues"] == REPOSITORY + "/issues"
    assert "cargo-ai-mcp = cargo_mcp.cli:main" in scripts and "cargo-mcp = cargo_mcp.cli:main" in scripts
    assert any(n.startswith("cargo_mcp/") for n in names) and not any(n.startswith("tests/") for n in names)
    required = meta.get_all("Requires-Dist", [])
    for package in SANDBOX_PACKAGES:  # only through the extra
        mentions = [r for r in required if r.startswith(package)]
        assert mentions and all("extra == 'sandbox'" in r for r in mentions), mentions
    assert "mcp-name: io.github.cargo-ai/cargo-ai-mcp" in meta.get_payload()  # the registry's ownership marker


def test_lean_install_has_no_sandbox_packages_and_fits(lean_install: LeanInstall) -> None:
    size = lean_install.size_bytes()
    assert size <= LEAN_LIMIT, f"lean install takes {size / 1e6:.0f} MB"
    probe = "import importlib.util as u, json; print(json.dumps([m for m in %r if u.find_spec(m)]))"
    proc = subprocess.run(
        [str(lean_install.python), "-c", probe % ((*SANDBOX_PACKAGES, "pandas", "pytest", "ruff", "mypy"),)],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert proc.returncode == 0 and json.loads(proc.stdout) == [], proc.stdout + proc.stderr


@pytest.mark.parametrize("script", ["cargo-ai-mcp", "cargo-mcp"])
def test_version(lean_install: LeanInstall, script: str) -> None:
    proc = subprocess.run([str(lean_install.script(script)), "--version"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0 and proc.stdout.strip() == f"cargo-ai-mcp {__version__}", proc.stdout + proc.stderr


@pytest.mark.parametrize(
    ("args", "token", "fix"),
    [
        (["serve", "--sandbox"], True, "uvx 'cargo-ai-mcp[sandbox]' serve --sandbox"),
        (["serve"], False, "uvx 'cargo-ai-mcp[sandbox]' serve"),
        (["serve", "--http"], False, "uvx 'cargo-ai-mcp[sandbox]' serve"),
        (["demo"], False, "uvx 'cargo-ai-mcp[sandbox]' demo"),
        (["sandbox"], False, "uvx 'cargo-ai-mcp[sandbox]' sandbox"),
    ],
)
def test_without_the_extra_sandbox_mode_says_how_to_add_it(
    lean_install: LeanInstall, args: list[str], token: bool, fix: str
) -> None:
    env = clean_env(CARGO_API_TOKEN="a-token") if token else clean_env()
    proc = subprocess.run(
        [str(lean_install.script("cargo-ai-mcp")), *args], capture_output=True, text=True, env=env, timeout=60
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert proc.stdout == "" and len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "the optional 'sandbox' extra" in proc.stderr and fix in proc.stderr and "Traceback" not in proc.stderr


def test_doctor_on_a_lean_install_without_a_token_names_one_next_step(lean_install: LeanInstall) -> None:
    proc = subprocess.run(
        [str(lean_install.script("cargo-ai-mcp")), "doctor"],
        capture_output=True,
        text=True,
        env=clean_env(),
        timeout=60,
    )
    assert proc.returncode == 1 and "Traceback" not in proc.stderr, proc.stdout + proc.stderr
    steps = {ln.strip() for ln in proc.stdout.splitlines() if ln.strip().startswith("next:")}
    assert len(steps) == 1, proc.stdout  # the backend and the token checks agree on what to do
    (step,) = steps
    assert step.startswith("next: set CARGO_API_TOKEN") and "or to try the demo install the sandbox extra" in step


@pytest.mark.anyio
async def test_lean_install_serves_every_tool_over_stdio(
    lean_install: LeanInstall, shared_sandbox: Sandbox, tmp_path: Path
) -> None:
    env = cargo_env(shared_sandbox) | {"CARGO_MCP_EXPORT_DIR": str(tmp_path)}
    params = StdioServerParameters(command=str(lean_install.script("cargo-ai-mcp")), args=["serve"], env=env)
    with anyio.fail_after(120):
        async with Client(params) as client:
            assert "SANDBOX" not in (client.instructions or "")
            assert await tour_every_tool(client, tmp_path) == TOOLS


@pytest.mark.anyio
async def test_uvx_runs_the_wheel(wheel: Path, shared_sandbox: Sandbox) -> None:
    uvx = shutil.which("uvx")
    command, prefix = (uvx, []) if uvx else (uv(), ["tool", "run"])
    args = [*prefix, "--from", str(wheel), "cargo-ai-mcp", "serve"]
    with anyio.fail_after(180):
        async with Client(StdioServerParameters(command=command, args=args, env=cargo_env(shared_sandbox))) as client:
            await lists_the_tools_and_answers_get_batch(client, shared_sandbox)


def compile_for(platform: str, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [uv(), "pip", "compile", str(ROOT / "pyproject.toml"), "--python-version", "3.11"]
    cmd += ["--python-platform", platform, "--no-header", "--quiet", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, env=clean_env(), timeout=300)


def pinned(proc: subprocess.CompletedProcess[str]) -> set[str]:
    return {line.split("==")[0] for line in proc.stdout.splitlines() if "==" in line}


@pytest.mark.parametrize("platform", ["x86_64-pc-windows-msvc", "x86_64-unknown-linux-musl", "aarch64-apple-darwin"])
def test_the_base_package_resolves_everywhere(platform: str) -> None:
    proc = compile_for(platform)
    assert proc.returncode == 0, proc.stderr
    assert {"mcp", "httpx", "pydantic", "sqlglot"} <= pinned(proc)
    assert not pinned(proc) & {*SANDBOX_PACKAGES, "chdb-core", "pandas"}


def test_the_extra_brings_chdb_only_where_it_has_wheels() -> None:
    linux, windows, musl = (
        compile_for(p, "--extra", "sandbox")
        for p in ("x86_64-unknown-linux-gnu", "x86_64-pc-windows-msvc", "x86_64-unknown-linux-musl")
    )
    assert linux.returncode == 0 and {*SANDBOX_PACKAGES, "chdb-core"} <= pinned(linux), linux.stderr
    assert windows.returncode == 0 and not pinned(windows) & {*SANDBOX_PACKAGES, "chdb-core"}, windows.stderr
    # Markers cannot tell musl from glibc: there the extra does not resolve (the README says so).
    assert musl.returncode != 0 and "chdb-core" in musl.stderr


API_MODE_PROBE = """
import json, os, sys, anyio
from pathlib import Path
from mcp import Client
from cargo_mcp.cli import main  # the entry point's imports count too
from cargo_mcp.server.app import build_server
from cargo_mcp.settings import Settings
from tests.installed import tour_every_tool

async def tour():
    async with Client(build_server(Settings.from_env())) as client:
        return sorted(await tour_every_tool(client, Path(os.environ["CARGO_MCP_EXPORT_DIR"])))

answered = anyio.run(tour)
loaded = [m for m in sys.modules if m.split(".")[0] in ("chdb", "pyarrow", "pandas") or m.startswith("cargo_mcp.sandbox")]
print(json.dumps({"answered": answered, "loaded": loaded}))
"""


def test_api_mode_never_imports_the_sandbox(shared_sandbox: Sandbox, tmp_path: Path) -> None:
    """In this (dev) environment chdb and pyarrow are installed: only a stray import would load them."""
    env = cargo_env(shared_sandbox) | {"PYTHONPATH": str(ROOT), "CARGO_MCP_EXPORT_DIR": str(tmp_path)}
    proc = subprocess.run(
        [sys.executable, "-c", API_MODE_PROBE], capture_output=True, text=True, env=env, cwd=ROOT, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    seen = json.loads(proc.stdout.splitlines()[-1])
    assert set(seen["answered"]) == TOOLS and seen["loaded"] == []


def test_the_dev_environment_includes_the_extra() -> None:
    """The README's `uv run cargo-ai-mcp demo` on a fresh checkout: the default groups bring the sandbox."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert "cargo-ai-mcp[sandbox]" in project["dependency-groups"]["sandbox"]
    assert set(project["tool"]["uv"]["default-groups"]) >= {"dev", "sandbox"}
    assert all(importlib.util.find_spec(m) for m in SANDBOX_PACKAGES)
