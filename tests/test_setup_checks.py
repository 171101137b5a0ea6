"""Bad setups look bad: `doctor`'s verdicts, serve's start-up token check on every answer, mistyped variables."""

from __future__ import annotations

import dataclasses
import io
import os
import socket
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
from mcp import Client
from mcp.types import TextContent

from cargo_mcp.console import COMMAND
from cargo_mcp.doctor import _step, run_doctor
from cargo_mcp.http_settings import HTTP_VARIABLES
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.health import SANDBOX_MARK, Health
from cargo_mcp.server.services import Services
from cargo_mcp.settings import KNOWN_VARIABLES, ConfigError, Settings, misspelled_variables
from tests.conftest import remote_settings
from tests.support import FAST_RETRY, tool_text


class _Website(BaseHTTPRequestHandler):
    """Answers every path with an HTML page, as a web site (not an API) does; ``status`` per server."""

    def _page(self) -> None:
        body = b"<!doctype html><html><body><h1>Welcome</h1></body></html>"
        self.send_response(self.server.status)  # type: ignore[attr-defined]
        self.send_header("content-type", "text/html; charset=utf-8")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = _page

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def website(request: pytest.FixtureRequest) -> Iterator[str]:
    """A loopback web site answering HTML with the status given by indirect parametrization (404 by default)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Website)
    server.status = getattr(request, "param", 404)  # type: ignore[attr-defined]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def doctor(env: dict[str, str]) -> tuple[int, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    proc = subprocess.run(
        [sys.executable, "-m", "cargo_mcp.cli", "doctor"],
        env={**base, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "Traceback" not in proc.stderr, proc.stderr
    return proc.returncode, proc.stdout


def line(out: str, check: str) -> str:
    return next(ln for ln in out.splitlines() if ln[6:].startswith(check))


def test_doctor_with_a_good_token_passes(shared_sandbox: Sandbox) -> None:
    ws = shared_sandbox.workspaces[0]
    rc, out = doctor({"CARGO_API_TOKEN": ws.token, "CARGO_API_BASE_URL": shared_sandbox.base_url})
    assert rc == 0, out
    assert line(out, "token").startswith("ok") and f"'{ws.name}' ({ws.uuid})" in line(out, "token")
    assert line(out, "base URL").startswith("ok") and line(out, "SQL endpoint").startswith("ok")
    assert f"({len(ws.batches)} batches)" in line(out, "SQL endpoint")
    assert "All 7 checks passed." in out and ws.token not in out


def test_doctor_with_a_wrong_token_fails_the_token_only(shared_sandbox: Sandbox) -> None:
    rc, out = doctor({"CARGO_API_TOKEN": "wrong-token-123", "CARGO_API_BASE_URL": shared_sandbox.base_url})
    assert rc == 1, out
    assert line(out, "base URL").startswith("ok")
    token = line(out, "token")
    assert token.startswith("FAIL") and "refused the CARGO_API_TOKEN that is set (HTTP 401)" in token
    assert "invalid, expired or for another workspace" in token and "missing" not in out
    assert "next: create a workspace API token in Cargo → Settings → API and set CARGO_API_TOKEN to it\n" in out
    assert line(out, "SQL endpoint").startswith("warn") and "wrong-token-123" not in out


@pytest.mark.parametrize("website", [404, 200], indirect=True)
def test_doctor_with_a_url_that_is_not_cargo_says_so(website: str) -> None:
    rc, out = doctor({"CARGO_API_TOKEN": "some-token-456", "CARGO_API_BASE_URL": website})
    assert rc == 1, out
    url = line(out, "base URL")
    assert url.startswith("FAIL") and "does not answer like Cargo's API" in url
    assert "next: set CARGO_API_BASE_URL to Cargo's API (https://api.getcargo.io" in out
    assert line(out, "token").startswith("warn") and "not checked" in line(out, "token")
    assert "UUID" not in out and "some-token-456" not in out


def test_doctor_reports_folders_and_mistyped_variables_separately(tmp_path: Path, shared_sandbox: Sandbox) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    env = {
        "CARGO_API_TOKEN": shared_sandbox.workspaces[0].token,
        "CARGO_API_BASE_URL": shared_sandbox.base_url,
        "CARGO_MCP_RESULTS_DIR": str(blocker / "results"),
        "CARGO_MCP_EXPORT_DIR": str(tmp_path),
        "CARGO_MCP_MAXRUNS": "5",
    }
    rc, out = doctor(env)
    assert rc == 1, out
    assert line(out, "results folder").startswith("FAIL") and f"its parent {str(blocker)!r} is a file" in out
    assert line(out, "export folder").startswith("ok") and line(out, "token").startswith("ok")
    assert line(out, "variables").startswith("warn") and "did you mean CARGO_MCP_MAX_RUNS?" in out


def test_doctor_without_a_token_describes_the_sandbox(tmp_path: Path) -> None:
    rc, out = doctor({"CARGO_MCP_SANDBOX_CACHE": str(tmp_path)})
    assert rc == 0, out
    assert line(out, "token").startswith("warn") and "embedded sandbox" in line(out, "token")
    assert line(out, "backend").startswith("ok") and f"{tmp_path} is empty" in line(out, "backend")


def test_doctor_on_a_lean_install_without_a_token_gives_one_next_step(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "chdb" else real(name, *a))
    out = io.StringIO()
    assert run_doctor({}, out) == 1
    text = out.getvalue()
    backend, token = line(text, "backend"), line(text, "token")
    assert backend.startswith("FAIL") and "no CARGO_API_TOKEN" in backend and "(missing: chdb)" in backend
    assert token.startswith("FAIL")
    step = (
        "next: set CARGO_API_TOKEN to a workspace API token (Cargo → Settings → API), or to try the demo install "
        "the sandbox extra: `uvx 'cargo-ai-mcp[sandbox]' doctor`"
    )
    steps = [ln.strip() for ln in text.splitlines() if ln.strip().startswith("next:")]
    assert len(steps) == 2 and all(s.startswith(step) for s in steps), text  # one next step, the same for both
    assert "run `uvx" not in text


def test_doctor_next_steps_continue_the_line() -> None:
    assert _step("Set CARGO_API_BASE_URL to Cargo's API.") == "set CARGO_API_BASE_URL to Cargo's API"
    assert _step("CARGO_API_TOKEN must be set.") == "CARGO_API_TOKEN must be set"  # a name keeps its capitals
    assert _step("fix the base URL first") == "fix the base URL first"


def test_mistyped_variables_name_the_closest_one() -> None:
    env = {"CARGO_API_TOKNE": "x", "CARGO_HOME": "/r", "CARGO_TARGET_DIR": "t", "CARGO_MCP_COLOUR": "1"}
    assert misspelled_variables(env) == [
        "CARGO_API_TOKNE is not a cargo-ai-mcp variable (ignored); did you mean CARGO_API_TOKEN?",
        "CARGO_MCP_COLOUR is not a cargo-ai-mcp variable (ignored); known: "
        + ", ".join(v for v in KNOWN_VARIABLES if v.startswith("CARGO_MCP_"))
        + ".",
    ]  # Rust's own CARGO_HOME and CARGO_TARGET_DIR pass silently


def test_the_http_deployments_variables_are_known_to_serve_and_doctor(tmp_path: Path) -> None:
    env = {"CARGO_MCP_HTTP_TOKENS": "x", "CARGO_MCP_LOG_FORMAT": "json", "CARGO_MCP_HTTP_TOKEN": "x"}
    assert misspelled_variables(env, also_known=HTTP_VARIABLES) == [
        "CARGO_MCP_HTTP_TOKEN is not a cargo-ai-mcp variable (ignored); did you mean CARGO_MCP_HTTP_TOKENS?"
    ]
    _, out = doctor({**env, "CARGO_MCP_SANDBOX_CACHE": str(tmp_path)})
    assert "CARGO_MCP_HTTP_TOKEN " in line(out, "variables") and "CARGO_MCP_LOG_FORMAT" not in line(out, "variables")


def serve(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CARGO_")}
    return subprocess.run(
        [sys.executable, "-m", "cargo_mcp.cli", "serve", *args],
        env={**base, **env},
        input="",  # no client: serve exits at once after its start-up checks
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_serve_warns_about_a_mistyped_variable() -> None:
    proc = serve({"CARGO_API_TOKNE": "abc", "CARGO_API_TOKEN": "t", "CARGO_API_BASE_URL": "http://127.0.0.1:9"})
    assert (
        "cargo-ai-mcp: warning: CARGO_API_TOKNE is not a cargo-ai-mcp variable (ignored); did you mean CARGO_API_TOKEN?"
        in proc.stderr
    )


@pytest.mark.parametrize(
    ("env", "args", "message"),
    [
        (
            {"CARGO_MCP_RESULTS_DIR": "{file}/results"},
            (),
            "CARGO_MCP_RESULTS_DIR must be a folder, but '{file}/results' does not exist and its parent '{file}' "
            "is a file.",
        ),
        ({"CARGO_MCP_RESULTS_DIR": "{file}"}, (), "CARGO_MCP_RESULTS_DIR must be a folder, but '{file}' is a file."),
        ({"CARGO_MCP_EXPORT_DIR": "{file}"}, (), "CARGO_MCP_EXPORT_DIR must be a folder, but '{file}' is a file."),
        (
            {"CARGO_MCP_EXPORT_DIR": "{missing}"},
            (),
            "CARGO_MCP_EXPORT_DIR must be an existing folder, but '{missing}' does not exist. Create the folder",
        ),
        (
            {"CARGO_MCP_RESULTS_DIR": "{missing}/deeper"},
            (),
            "CARGO_MCP_RESULTS_DIR must be a folder, but '{missing}/deeper' does not exist and its parent "
            "'{missing}' does not exist either.",
        ),
        ({"CARGO_MCP_SANDBOX_PORT": "99999"}, (), "CARGO_MCP_SANDBOX_PORT must be a TCP port"),
        ({}, ("--sandbox-port", "{busy}"), "the sandbox port {busy} is in use"),
    ],
)
def test_configuration_errors_are_one_line_and_exit_2(
    tmp_path: Path, env: dict[str, str], args: tuple[str, ...], message: str
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = str(busy.getsockname()[1])
        fill = {"file": str(blocker), "busy": port, "missing": str(tmp_path / "missing")}
        proc = serve({k: v.format(**fill) for k, v in env.items()}, *(a.format(**fill) for a in args))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and message.format(**fill) in lines[0] and "Traceback" not in proc.stderr
    assert lines[0].startswith("cargo-ai-mcp: configuration error: ")  # the command's name, as the user typed it


@pytest.mark.skipif(not Path("/proc/1").is_dir(), reason="a folder no user can write to: Linux's /proc/1")
@pytest.mark.parametrize("variable", ["CARGO_MCP_RESULTS_DIR", "CARGO_MCP_EXPORT_DIR"])
def test_a_folder_that_exists_but_cannot_be_written_is_called_so(variable: str) -> None:
    proc = serve({variable: "/proc/1"})  # exists, is a folder, and refuses new files even to root
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].endswith(
        f"cargo-ai-mcp: configuration error: {variable} must be a folder cargo-ai-mcp can write to, but "
        "'/proc/1' is not writable. Give this user write permission or choose another folder."
    )
    _, out = doctor({variable: "/proc/1", "CARGO_MCP_SANDBOX_CACHE": "/nonexistent"})
    name = "results folder" if "RESULTS" in variable else "export folder"
    assert line(out, name).startswith("FAIL") and "'/proc/1' is not writable" in line(out, name)
    assert "does not exist" not in out and "create the folder" not in out


def test_a_missing_results_folder_is_created_when_its_parent_exists(tmp_path: Path) -> None:
    wanted = tmp_path / "results"
    _, out = doctor({"CARGO_MCP_RESULTS_DIR": str(wanted), "CARGO_MCP_SANDBOX_CACHE": str(tmp_path / "cache")})
    assert line(out, "results folder").startswith("ok") and "does not exist yet: serve creates it" in out
    assert not wanted.exists()  # doctor only looks
    assert Settings.from_env({"CARGO_MCP_RESULTS_DIR": str(wanted)}).results_dir == wanted and wanted.is_dir()
    with pytest.raises(ConfigError, match="must be an existing folder"):  # the export folder is never made up
        Settings.from_env({"CARGO_MCP_EXPORT_DIR": str(tmp_path / "exports")})


def test_every_stderr_line_is_prefixed_with_the_command_users_type() -> None:
    scripts = tomllib.loads((Path(__file__).parents[1] / "pyproject.toml").read_text())["project"]["scripts"]
    assert COMMAND in scripts and scripts[COMMAND] == "cargo_mcp.cli:main"
    proc = serve({"CARGO_API_TOKEN": "t", "CARGO_API_BASE_URL": "http://127.0.0.1:9", "CARGO_MCP_MAXRUNS": "5"})
    lines = proc.stderr.strip().splitlines()
    assert len(lines) >= 2 and all(ln.startswith("cargo-ai-mcp: ") for ln in lines), proc.stderr
    assert "cargo-mcp" not in proc.stderr


def server_with(settings: Settings) -> tuple[Any, dict[str, Services]]:
    made: dict[str, Services] = {}

    def factory() -> Services:
        made["services"] = Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(3.0))
        return made["services"]

    return build_server(settings, services_factory=factory), made


@pytest.mark.anyio
@pytest.mark.parametrize("case", ["wrong_token", "not_cargo", "unreachable"])
async def test_a_failed_start_check_leads_every_answer(shared_sandbox: Sandbox, website: str, case: str) -> None:
    base, token = {
        "wrong_token": (shared_sandbox.base_url, "wrong-token-789"),
        "not_cargo": (website, shared_sandbox.workspaces[0].token),
        "unreachable": ("http://127.0.0.1:9", shared_sandbox.workspaces[0].token),
    }[case]
    expected = {
        "wrong_token": "[setup problem: Cargo refused the CARGO_API_TOKEN that is set (HTTP 401): it is invalid, "
        "expired or for another workspace. Fix: Create a workspace API token in Cargo → Settings → API",
        "not_cargo": f"[setup problem: {website} does not answer like Cargo's API",
        "unreachable": "[setup problem: could not reach Cargo at http://127.0.0.1:9",
    }[case]
    server, made = server_with(Settings(token=token, base_url=base))
    async with Client(server) as client:
        await made["services"].health.checked.wait()
        for tool, args in (("list_workflows", {}), ("read_result", {"result_id": "r_00"})):
            r = await client.call_tool(tool, args)
            text = tool_text(r)
            assert r.is_error and text.startswith(expected), text
            assert text.splitlines()[0].endswith("`cargo-ai-mcp doctor` checks it all.]") and token not in text
            assert f"Error executing tool {tool}:" in text.splitlines()[1]
        if case == "not_cargo":  # the call itself says so too, not "check the UUID"
            text = tool_text(
                await client.call_tool("get_batch", {"batch_uuid": shared_sandbox.workspaces[0].batches[0].uuid})
            )
            assert "does not answer like Cargo's API" in text.splitlines()[1] and "UUID" not in text.splitlines()[1]


@pytest.mark.anyio
async def test_a_good_start_check_adds_nothing(shared_sandbox: Sandbox) -> None:
    server, made = server_with(Settings(token=shared_sandbox.workspaces[0].token, base_url=shared_sandbox.base_url))
    async with Client(server) as client:
        await made["services"].health.checked.wait()
        r = await client.call_tool("list_workflows", {})
    text = r.content[0].text  # type: ignore[union-attr]
    assert not r.is_error and text.startswith("5 workflow(s)") and made["services"].health.problem is None
    assert SANDBOX_MARK not in text


@pytest.mark.anyio
async def test_in_sandbox_mode_every_tool_answer_starts_with_the_marker(shared_sandbox: Sandbox) -> None:
    # Services that reach the shared sandbox over loopback, with the health of a server in sandbox mode.
    settings = remote_settings(shared_sandbox)

    def factory() -> Services:
        services = Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(10.0))
        services.health = Health(dataclasses.replace(settings, sandbox=True))
        return services

    async with Client(build_server(settings, services_factory=factory)) as client:
        names = [t.name for t in (await client.list_tools()).tools]
        assert {"save_result", "list_batches", "list_releases"} <= set(names)
        answers = {"unknown tool": await client.call_tool("no_such_tool", {})}
        answers["list_batches"] = await client.call_tool("list_batches", {})
        answers["list_releases"] = await client.call_tool("list_releases", {"workflow": "no such workflow"})
        answers["save_result"] = await client.call_tool("save_result", {"result_id": "r_000000000000", "path": "x"})
        for name in names:  # an argument no tool takes: refused before the tool runs
            answers[f"{name}(bogus)"] = await client.call_tool(name, {"bogus": 1})
    assert not answers["list_batches"].is_error and answers["list_releases"].is_error
    for what, result in answers.items():
        first = result.content[0]
        assert isinstance(first, TextContent) and first.text.splitlines()[0] == SANDBOX_MARK, what
        assert len(first.text.splitlines()) > 1, what  # the answer itself follows
