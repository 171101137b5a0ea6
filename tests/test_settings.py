"""Configuration: env parsing, sandbox fallback, and the one-line error with exit code 2."""

from __future__ import annotations

import subprocess
import sys

import pytest

from cargo_mcp.settings import ConfigError, Settings


def test_no_token_means_sandbox() -> None:
    s = Settings.from_env({})
    assert s.sandbox and s.token is None


def test_unfilled_bundle_placeholders_mean_not_set() -> None:
    env = {"CARGO_API_TOKEN": "${user_config.api_token}", "CARGO_MCP_EXPORT_DIR": "${user_config.export_dir}"}
    s = Settings.from_env(env)
    assert s.sandbox and s.token is None and s.export_dir is None


def test_token_means_cargo_and_is_not_in_repr() -> None:
    s = Settings.from_env({"CARGO_API_TOKEN": "sekret-token", "CARGO_API_BASE_URL": "https://api.getcargo.io/v1/"})
    assert not s.sandbox and s.token == "sekret-token"
    assert s.base_url == "https://api.getcargo.io"
    assert "sekret-token" not in repr(s)


def test_force_sandbox_ignores_the_token() -> None:
    s = Settings.from_env({"CARGO_API_TOKEN": "t"}, force_sandbox=True)
    assert s.sandbox and s.token is None


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CARGO_API_TOKEN": "Bearer abc"}, "whitespace"),
        ({"CARGO_API_TOKEN": "t", "CARGO_WORKSPACE_UUID": "acme"}, "CARGO_WORKSPACE_UUID must be a UUID"),
        ({"CARGO_API_TOKEN": "t", "CARGO_API_BASE_URL": "ftp://x"}, "http(s) URL"),
        ({"CARGO_API_TOKEN": "t", "CARGO_API_BASE_URL": "http://api.getcargo.io"}, "must use https"),
    ],
)
def test_bad_config(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env(env)


@pytest.mark.parametrize("token", ["<your Cargo API token>", "  <token> ", "...", "YOUR_API_TOKEN", "your-cargo-token"])
def test_a_placeholder_token_is_called_the_placeholder(token: str) -> None:
    with pytest.raises(ConfigError) as e:
        Settings.from_env({"CARGO_API_TOKEN": token})
    message = str(e.value)
    assert message.startswith("CARGO_API_TOKEN still holds the placeholder of the setup instructions, not a token")
    assert "Cargo → Settings → API" in message and "whitespace" not in message and token.strip() not in message


@pytest.mark.parametrize("token", ["wrong-token-123", "t", "abc.DEF_456", "token"])
def test_a_token_that_looks_real_is_kept(token: str) -> None:
    assert Settings.from_env({"CARGO_API_TOKEN": token}).token == token


def test_serve_with_bad_config_exits_2_with_one_line() -> None:
    env = {"CARGO_API_TOKEN": "t", "CARGO_WORKSPACE_UUID": "not-a-uuid", "PATH": ""}
    proc = subprocess.run(
        [sys.executable, "-m", "cargo_mcp.cli", "serve"], env=env, capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "CARGO_WORKSPACE_UUID must be a UUID" in lines[0]
    assert "Traceback" not in proc.stderr and "t" not in proc.stdout
