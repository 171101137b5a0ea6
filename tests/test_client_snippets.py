"""The per-client install snippets (manifests/, shown in docs/install.md): valid JSON, one server name, the
command users run (`uvx cargo-ai-mcp serve`, no dev tools), the token never stored in a workspace file — and
each one, pointed at the wheel built from this checkout, starts a server that answers. Claude Code's own CLI
(from npm) adds the server and reports it connected."""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path
from typing import Any

import anyio
import pytest
from mcp import Client, StdioServerParameters

from cargo_mcp.sandbox.server import Sandbox
from tests.installed import ROOT, clean_env, uv
from tests.npm_tools import ensure_node_packages

SNIPPETS = ROOT / "manifests"
CLIENT_SNIPPETS = ("claude-code.sh", "mcp-servers.json", "vscode.json")  # the rest of manifests/ is for deployments
INSTALL_DOC = (ROOT / "docs" / "install.md").read_text()
NAME = "cargo"
COMMAND = ["uvx", "cargo-ai-mcp", "serve"]
PLACEHOLDER = "<your Cargo API token>"
CLAUDE_CODE = {"@anthropic-ai/claude-code": "2.1.332"}


def servers() -> dict[str, dict[str, Any]]:
    """Each JSON snippet's one server entry, by file name."""
    shared = json.loads((SNIPPETS / "mcp-servers.json").read_text())  # Claude Desktop, Cursor, Windsurf
    vscode = json.loads((SNIPPETS / "vscode.json").read_text())
    return {"mcp-servers.json": shared["mcpServers"], "vscode.json": vscode["servers"]}


def with_wheel(command: list[str], wheel: Path) -> list[str]:
    """`uvx cargo-ai-mcp …` as it will run once published: here from the wheel built from this checkout."""
    assert command[:2] == ["uvx", "cargo-ai-mcp"], command
    return [uv(), "tool", "run", "--from", str(wheel), *command[1:]]


def test_every_snippet_is_shown_verbatim_in_the_install_doc() -> None:
    for name in CLIENT_SNIPPETS:
        assert (SNIPPETS / name).read_text().strip() in INSTALL_DOC, f"docs/install.md does not show {name}"


@pytest.mark.parametrize("snippet", ["mcp-servers.json", "vscode.json"])
def test_json_snippets_name_one_server_run_by_uvx(snippet: str) -> None:
    entries = servers()[snippet]
    assert list(entries) == [NAME]
    entry = entries[NAME]
    assert [entry["command"], *entry["args"]] == COMMAND
    assert entry.get("type", "stdio") == "stdio" and set(entry["env"]) == {"CARGO_API_TOKEN"}


def test_vscode_prompts_for_the_token_instead_of_storing_it() -> None:
    config = json.loads((SNIPPETS / "vscode.json").read_text())
    (prompt,) = config["inputs"]
    assert prompt["type"] == "promptString" and prompt["password"] is True
    assert config["servers"][NAME]["env"]["CARGO_API_TOKEN"] == "${input:" + prompt["id"] + "}"


def test_the_claude_code_line_adds_the_same_server() -> None:
    words = shlex.split((SNIPPETS / "claude-code.sh").read_text())
    assert words[:4] == ["claude", "mcp", "add", NAME]
    assert words[words.index("--") + 1 :] == COMMAND
    assert "CARGO_API_TOKEN=$CARGO_API_TOKEN" in words  # from the shell, not typed into a file


def fill(env: dict[str, str], token: str) -> dict[str, str]:
    """What the user (or VS Code's prompt) puts in place of the token."""
    return {k: token if v == PLACEHOLDER or v.startswith("${input:") else v for k, v in env.items()}


@pytest.mark.anyio
@pytest.mark.parametrize("snippet", ["mcp-servers.json", "vscode.json"])
async def test_json_snippets_start_a_server_that_answers(snippet: str, wheel: Path, shared_sandbox: Sandbox) -> None:
    entry = servers()[snippet][NAME]
    env = clean_env(**fill(entry["env"], shared_sandbox.workspaces[0].token), CARGO_API_BASE_URL=shared_sandbox.base_url)
    command = with_wheel([entry["command"], *entry["args"]], wheel)
    expected = {w.spec.name for w in shared_sandbox.workspaces[0].workflows if w.spec.kind in ("tool", "play")}
    with anyio.fail_after(180):
        async with Client(StdioServerParameters(command=command[0], args=command[1:], env=env)) as client:
            result = await client.call_tool("list_workflows", {})
            assert not result.is_error and result.structured_content
            assert {w["name"] for w in result.structured_content["workflows"]} == expected


def test_claude_code_adds_the_server_and_connects(wheel: Path, tmp_path: Path) -> None:
    claude = ensure_node_packages("claude-code", CLAUDE_CODE) / "node_modules" / ".bin" / "claude"
    words = shlex.split((SNIPPETS / "claude-code.sh").read_text())
    cut = words.index("--")
    command = [str(claude), *words[1:cut], "--", *with_wheel(words[cut + 1 :], wheel)]
    env = clean_env(HOME=str(tmp_path), CARGO_API_TOKEN="a-token")  # the shell's $CARGO_API_TOKEN
    # On a fresh machine its config lives in a temporary home; the command runs exactly as pasted otherwise.
    expanded = [w.replace("$CARGO_API_TOKEN", env["CARGO_API_TOKEN"]) for w in command]
    added = subprocess.run(expanded, capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    assert added.returncode == 0, added.stdout + added.stderr
    listed = subprocess.run(
        [str(claude), "mcp", "list"], capture_output=True, text=True, env=env, cwd=tmp_path, timeout=180
    )
    line = next((ln for ln in listed.stdout.splitlines() if ln.startswith(f"{NAME}:")), "")
    assert listed.returncode == 0 and "Connected" in line, listed.stdout + listed.stderr
    saved = json.loads((tmp_path / ".claude.json").read_text())["mcpServers"][NAME]
    assert saved["env"] == {"CARGO_API_TOKEN": "a-token"} and saved["args"][-2:] == ["cargo-ai-mcp", "serve"]
