"""How ``serve --http`` is exposed: bind, authentication, allowed Host/Origin values, metrics, logs.

Every value comes from a flag or, where secrets and deployments need it, an environment variable (the
flag wins). :meth:`HttpSettings.refusal` is the fail-closed rule: beyond loopback the server does not
start unless an authentication mode is configured or the operator passed the explicit opt-out.
"""

from __future__ import annotations

import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args
from urllib.parse import urlsplit

from cargo_mcp.logs import LogFormat
from cargo_mcp.settings import ConfigError

CallerTokenMode = Literal["header", "bearer"]
CALLER_TOKEN_MODES = ("header", "bearer")
OPT_OUT_FLAG = "--dangerously-allow-unauthenticated"
MCP_PATH = "/mcp"
HEALTH_PATH = "/healthz"
READY_PATH = "/readyz"
METRICS_PATH = "/metrics"
# The environment variables of an HTTP deployment (docs/deploy.md), read beneath the serve --http flags.
HTTP_VARIABLES = (
    "CARGO_MCP_HTTP_TOKENS",
    "CARGO_MCP_HTTP_CALLER_TOKENS",
    "CARGO_MCP_HTTP_CALLER_FILE_WRITES",
    "CARGO_MCP_HTTP_ALLOWED_HOSTS",
    "CARGO_MCP_HTTP_ALLOWED_ORIGINS",
    "CARGO_MCP_HTTP_FORWARDED_ALLOW_IPS",
    "CARGO_MCP_OAUTH_ISSUER",
    "CARGO_MCP_OAUTH_RESOURCE",
    "CARGO_MCP_OAUTH_JWKS_URL",
    "CARGO_MCP_OAUTH_SCOPES",
    "CARGO_MCP_LOG_FORMAT",
)


@dataclass(frozen=True)
class OAuthSettings:
    """An OAuth 2.1 resource server: who issues tokens, where their keys are, what this server is called."""

    issuer: str
    resource: str
    jwks_url: str
    scopes: tuple[str, ...] = ()


@dataclass(frozen=True)
class HttpSettings:
    host: str = "127.0.0.1"
    port: int = 8000
    stateless: bool = False
    tokens: tuple[str, ...] = field(default=(), repr=False)
    caller_tokens: CallerTokenMode | None = None
    oauth: OAuthSettings | None = None
    allowed_hosts: tuple[str, ...] = ()
    allowed_origins: tuple[str, ...] = ()
    forwarded_allow_ips: tuple[str, ...] = ()
    metrics_host: str = "127.0.0.1"
    metrics_port: int | None = None
    log_format: LogFormat = "text"
    caller_file_writes: bool = False
    allow_unauthenticated: bool = False

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **flags: object) -> HttpSettings:
        """Environment variables, overridden by the flags that were given (``None`` or empty: not given)."""
        env = os.environ if env is None else env
        given = {k: v for k, v in flags.items() if v not in (None, (), [], False, "")}

        def pick(name: str, var: str) -> str:
            value = given.get(name)
            if value is None:
                return (env.get(var) or "").strip()
            return ",".join(value) if isinstance(value, list | tuple) else str(value)

        tokens = _items(pick("tokens", "CARGO_MCP_HTTP_TOKENS"))
        if any(any(c.isspace() for c in t) for t in tokens):
            raise ConfigError("CARGO_MCP_HTTP_TOKENS: a token contains whitespace; separate tokens with commas.")
        caller = pick("caller_tokens", "CARGO_MCP_HTTP_CALLER_TOKENS").lower() or None
        if caller is not None and caller not in CALLER_TOKEN_MODES:
            raise ConfigError(f"--caller-tokens must be 'header' or 'bearer', got {caller!r}.")
        issuer = pick("oauth_issuer", "CARGO_MCP_OAUTH_ISSUER")
        resource = pick("oauth_resource", "CARGO_MCP_OAUTH_RESOURCE")
        jwks = pick("oauth_jwks_url", "CARGO_MCP_OAUTH_JWKS_URL")
        oauth = None
        if issuer or resource or jwks:
            missing = [n for n, v in (("issuer", issuer), ("resource", resource), ("JWKS URL", jwks)) if not v]
            if missing:
                raise ConfigError(
                    f"OAuth needs an issuer, a resource URL and a JWKS URL; missing: {', '.join(missing)}."
                )
            for name, url in (("issuer", issuer), ("resource", resource), ("JWKS URL", jwks)):
                _https(f"the OAuth {name}", url)
            oauth = OAuthSettings(issuer, resource, jwks, tuple(_items(pick("oauth_scopes", "CARGO_MCP_OAUTH_SCOPES"))))
        if tokens and oauth:
            raise ConfigError("configure either server bearer tokens or OAuth, not both.")
        if caller == "bearer" and (tokens or oauth):
            raise ConfigError(
                "--caller-tokens bearer uses the Authorization header for the caller's Cargo token; with server "
                "tokens or OAuth use --caller-tokens header (X-Cargo-Api-Token)."
            )
        log_format = pick("log_format", "CARGO_MCP_LOG_FORMAT").lower() or "text"
        if log_format not in get_args(LogFormat):
            raise ConfigError(f"--log-format must be 'text' or 'json', got {log_format!r}.")
        metrics_port = given.get("metrics_port")
        return cls(
            host=str(given.get("host", "127.0.0.1")),
            port=int(str(given.get("port", 8000))),
            stateless=bool(given.get("stateless")),
            tokens=tuple(tokens),
            caller_tokens=caller,  # type: ignore[arg-type]
            oauth=oauth,
            allowed_hosts=tuple(_items(pick("allowed_hosts", "CARGO_MCP_HTTP_ALLOWED_HOSTS"))),
            allowed_origins=tuple(_items(pick("allowed_origins", "CARGO_MCP_HTTP_ALLOWED_ORIGINS"))),
            forwarded_allow_ips=tuple(_items(pick("forwarded_allow_ips", "CARGO_MCP_HTTP_FORWARDED_ALLOW_IPS"))),
            metrics_host=str(given.get("metrics_host", "127.0.0.1")),
            metrics_port=int(str(metrics_port)) if metrics_port is not None else None,
            log_format=log_format,  # type: ignore[arg-type]
            caller_file_writes=bool(given.get("caller_file_writes")) or _flag(env, "CARGO_MCP_HTTP_CALLER_FILE_WRITES"),
            allow_unauthenticated=bool(given.get("allow_unauthenticated")),
        )

    @property
    def authenticated(self) -> bool:
        return bool(self.tokens or self.oauth or self.caller_tokens)

    def refusal(self) -> str | None:
        """Why the server must not start (one line), or None."""
        if self.authenticated or self.allow_unauthenticated or is_loopback(self.host):
            return None
        return (
            f"refusing to serve HTTP on {self.host} without authentication: set CARGO_MCP_HTTP_TOKENS "
            "(or --auth-token), --caller-tokens header|bearer, or the CARGO_MCP_OAUTH_* settings; or bind to "
            f"127.0.0.1; or, behind a proxy that authenticates every request, pass {OPT_OUT_FLAG}."
        )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _items(raw: str | Sequence[str]) -> list[str]:
    text = ",".join(raw) if not isinstance(raw, str) else raw
    return [part.strip() for part in text.split(",") if part.strip()]


def _flag(env: Mapping[str, str], name: str) -> bool:
    return (env.get(name) or "").strip().lower() in ("1", "true", "yes", "on")


def _https(what: str, url: str) -> None:
    parts = urlsplit(url)
    local = parts.hostname is not None and is_loopback(parts.hostname)
    if parts.scheme != "https" and not (parts.scheme == "http" and local):
        raise ConfigError(f"{what} must be an https URL (http only on loopback), got {url!r}.")
