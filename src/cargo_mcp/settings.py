"""Configuration from the environment and command-line flags."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from cargo_mcp.api.vocabulary import is_uuid

DEFAULT_BASE_URL = "https://api.getcargo.io"


class ConfigError(ValueError):
    """Bad configuration; the message is one line for the user."""


@dataclass(frozen=True)
class Settings:
    """Where cargo-mcp sends its calls. ``sandbox`` means: start the embedded sandbox and use it."""

    token: str | None = field(default=None, repr=False)
    workspace_uuid: str | None = None
    base_url: str = DEFAULT_BASE_URL
    sandbox: bool = False
    sandbox_seed: int = 7

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, force_sandbox: bool = False) -> Settings:
        """Read ``CARGO_API_TOKEN``, ``CARGO_WORKSPACE_UUID`` and ``CARGO_API_BASE_URL``."""
        env = os.environ if env is None else env
        token = (env.get("CARGO_API_TOKEN") or "").strip() or None
        workspace = (env.get("CARGO_WORKSPACE_UUID") or "").strip().lower() or None
        base_url = (env.get("CARGO_API_BASE_URL") or "").strip() or DEFAULT_BASE_URL
        if token is not None and any(c.isspace() for c in token):
            raise ConfigError("CARGO_API_TOKEN contains whitespace; paste the token alone, without 'Bearer '.")
        if workspace is not None and not is_uuid(workspace):
            raise ConfigError(f"CARGO_WORKSPACE_UUID must be a UUID, got {workspace!r}.")
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ConfigError(
                f"CARGO_API_BASE_URL must be an http(s) URL such as {DEFAULT_BASE_URL}, got {base_url!r}."
            )
        if parts.scheme == "http" and parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise ConfigError("CARGO_API_BASE_URL must use https (plain http is only allowed on localhost).")
        if parts.path.rstrip("/").endswith("/v1"):
            base_url = base_url.rstrip("/")[: -len("/v1")]
        sandbox = force_sandbox or token is None
        return cls(
            token=None if sandbox else token,
            workspace_uuid=None if sandbox else workspace,
            base_url=base_url.rstrip("/"),
            sandbox=sandbox,
        )
