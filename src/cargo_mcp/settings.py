"""Configuration from the environment and command-line flags."""

from __future__ import annotations

import difflib
import errno
import os
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from cargo_mcp.api.client import DEFAULT_BASE_URL
from cargo_mcp.api.errors import TOKEN_SOURCE
from cargo_mcp.api.vocabulary import is_uuid
from cargo_mcp.console import COMMAND
from cargo_mcp.results.fetch import DEFAULT_HOSTS
from cargo_mcp.results.fetch import DEFAULT_MAX_BYTES as DEFAULT_DOWNLOAD_BYTES
from cargo_mcp.results.s3 import S3Location
from cargo_mcp.results.store import DEFAULT_MAX_AGE as DEFAULT_RESULTS_AGE
from cargo_mcp.results.store import DEFAULT_MAX_BYTES as DEFAULT_RESULTS_BYTES

DEFAULT_MAX_RUNS = 200_000

# Every environment variable a client-launched server reads (manifests/server.json declares each one; the HTTP
# deployment's own are http_settings.HTTP_VARIABLES).
KNOWN_VARIABLES = (
    "CARGO_API_TOKEN",
    "CARGO_WORKSPACE_UUID",
    "CARGO_API_BASE_URL",
    "CARGO_MCP_EXPORT_DIR",
    "CARGO_MCP_RESULTS_DIR",
    "CARGO_MCP_RESULTS_MAX_BYTES",
    "CARGO_MCP_RESULTS_MAX_AGE",
    "CARGO_MCP_RESULTS_S3_BUCKET",
    "CARGO_MCP_RESULTS_S3_ENDPOINT_URL",
    "CARGO_MCP_RESULTS_S3_PREFIX",
    "CARGO_MCP_RESULTS_S3_REGION",
    "CARGO_MCP_DOWNLOAD_HOSTS",
    "CARGO_MCP_MAX_DOWNLOAD_BYTES",
    "CARGO_MCP_MAX_RUNS",
    "CARGO_MCP_SANDBOX_PORT",
    "CARGO_MCP_SANDBOX_CACHE",
)


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
    export_dir: Path | None = None
    results_dir: Path | None = None
    results_max_bytes: int = DEFAULT_RESULTS_BYTES
    results_max_age: float = DEFAULT_RESULTS_AGE
    results_s3: S3Location | None = None
    download_hosts: tuple[str, ...] = DEFAULT_HOSTS
    max_download_bytes: int = DEFAULT_DOWNLOAD_BYTES
    max_runs: int = DEFAULT_MAX_RUNS
    sandbox_port: int = 0
    sandbox_cache: Path | None = None

    @classmethod
    def from_env(
        cls, env: Mapping[str, str] | None = None, *, force_sandbox: bool = False, token_optional: bool = False
    ) -> Settings:
        """Read ``CARGO_API_TOKEN``, ``CARGO_WORKSPACE_UUID`` and ``CARGO_API_BASE_URL``.

        Without a token the embedded sandbox is used, unless ``token_optional`` (callers bring their own
        tokens) and ``CARGO_API_BASE_URL`` names a Cargo API."""
        env = {k: v for k, v in (os.environ if env is None else env).items() if not UNFILLED.fullmatch(v.strip())}
        token = (env.get("CARGO_API_TOKEN") or "").strip() or None
        workspace = (env.get("CARGO_WORKSPACE_UUID") or "").strip().lower() or None
        base_url = (env.get("CARGO_API_BASE_URL") or "").strip() or DEFAULT_BASE_URL
        if token is not None and _placeholder(token):
            raise ConfigError(
                "CARGO_API_TOKEN still holds the placeholder of the setup instructions, not a token: replace it "
                f"with a workspace API token ({TOKEN_SOURCE})."
            )
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
        export_dir = _folder(env, "CARGO_MCP_EXPORT_DIR")
        results_dir = _folder(env, "CARGO_MCP_RESULTS_DIR", create=True)
        hosts = tuple(
            h.strip().lower().lstrip(".") for h in env.get("CARGO_MCP_DOWNLOAD_HOSTS", "").split(",") if h.strip()
        )
        sandbox = force_sandbox or (token is None and not (token_optional and env.get("CARGO_API_BASE_URL")))
        return cls(
            token=None if sandbox else token,
            workspace_uuid=None if sandbox else workspace,
            base_url=base_url.rstrip("/"),
            sandbox=sandbox,
            export_dir=export_dir,
            results_dir=results_dir,
            results_max_bytes=_int(env, "CARGO_MCP_RESULTS_MAX_BYTES", DEFAULT_RESULTS_BYTES),
            results_max_age=_seconds(env, "CARGO_MCP_RESULTS_MAX_AGE", DEFAULT_RESULTS_AGE),
            results_s3=_s3(env),
            download_hosts=hosts or DEFAULT_HOSTS,
            max_download_bytes=_int(env, "CARGO_MCP_MAX_DOWNLOAD_BYTES", DEFAULT_DOWNLOAD_BYTES),
            max_runs=_int(env, "CARGO_MCP_MAX_RUNS", DEFAULT_MAX_RUNS),
            sandbox_port=_port(env, "CARGO_MCP_SANDBOX_PORT"),
            sandbox_cache=_path(env, "CARGO_MCP_SANDBOX_CACHE"),
        )


def misspelled_variables(env: Mapping[str, str] | None = None, *, also_known: tuple[str, ...] = ()) -> list[str]:
    """One warning per ``CARGO_*`` variable that looks like a mistyped known one (or is an unknown CARGO_MCP_*).

    Other ``CARGO_*`` names (Rust's cargo reads many: CARGO_HOME, CARGO_TARGET_DIR, …) pass silently.
    """
    env = os.environ if env is None else env
    names = KNOWN_VARIABLES + also_known
    warnings = []
    for name in sorted(env):
        if not name.startswith("CARGO_") or name in names:
            continue
        close = difflib.get_close_matches(name, names, n=1, cutoff=0.8)
        if close:
            warnings.append(f"{name} is not a {COMMAND} variable (ignored); did you mean {close[0]}?")
        elif name.startswith("CARGO_MCP_"):
            known = ", ".join(v for v in names if v.startswith("CARGO_MCP_"))
            warnings.append(f"{name} is not a {COMMAND} variable (ignored); known: {known}.")
    return warnings


# An optional MCPB user_config the user left empty can reach us unsubstituted: it means "not set".
UNFILLED = re.compile(r"\$\{user_config\.[A-Za-z0-9_]+\}")


def _placeholder(token: str) -> bool:
    """A token left as the docs' placeholder: ``<your Cargo API token>``, ``...``, ``YOUR_API_TOKEN``."""
    words = re.split(r"[^a-z0-9]+", token.lower())
    return (
        "<" in token or ">" in token or set(token) == {"."} or ("your" in words and bool({"token", "key"} & set(words)))
    )


def _int(env: Mapping[str, str], name: str, default: int) -> int:
    raw = (env.get(name) or "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit() or int(raw) <= 0:
        raise ConfigError(f"{name} must be a positive whole number, got {env[name]!r}.")
    return int(raw)


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhd]?)")
_UNIT = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def _seconds(env: Mapping[str, str], name: str, default: float) -> float:
    """A duration: seconds, or a number with s, m, h or d (``90m``, ``24h``, ``7d``)."""
    raw = (env.get(name) or "").strip().lower()
    if not raw:
        return default
    match = _DURATION.fullmatch(raw)
    if match is None or float(match[1]) <= 0:
        raise ConfigError(f"{name} must be a positive duration such as 3600, 90m, 24h or 7d, got {env[name]!r}.")
    return float(match[1]) * _UNIT[match[2]]


def _s3(env: Mapping[str, str]) -> S3Location | None:
    bucket = (env.get("CARGO_MCP_RESULTS_S3_BUCKET") or "").strip()
    if not bucket:
        return None
    endpoint = (env.get("CARGO_MCP_RESULTS_S3_ENDPOINT_URL") or "").strip() or None
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise ConfigError(f"CARGO_MCP_RESULTS_S3_ENDPOINT_URL must be an http(s) URL, got {endpoint!r}.")
    prefix = (env.get("CARGO_MCP_RESULTS_S3_PREFIX") or "").strip().strip("/")
    return S3Location(
        bucket=bucket,
        prefix=f"{prefix}/" if prefix else S3Location.prefix,
        endpoint_url=endpoint,
        region=(env.get("CARGO_MCP_RESULTS_S3_REGION") or "").strip() or None,
    )


def _port(env: Mapping[str, str], name: str) -> int:
    raw = (env.get(name) or "").strip()
    if not raw:
        return 0
    if not raw.isdigit() or not 0 <= int(raw) <= 65535:
        raise ConfigError(f"{name} must be a TCP port (1-65535, or 0 for any free port), got {env[name]!r}.")
    return int(raw)


def _path(env: Mapping[str, str], name: str) -> Path | None:
    raw = (env.get(name) or "").strip()
    return Path(raw).expanduser().resolve() if raw else None


def _folder(env: Mapping[str, str], name: str, *, create: bool = False) -> Path | None:
    path = _path(env, name)
    if path is None:
        return None
    problem = folder_problem(path, create=create)
    if problem:
        raise ConfigError(f"{name} {problem.what} {problem.fix[0].upper()}{problem.fix[1:]}.")
    if create:
        try:
            path.mkdir(exist_ok=True)  # folder_problem found its parent writable: a missing folder is created
        except OSError as e:
            raise ConfigError(f"{name}: could not create the folder {str(path)!r} ({e.strerror or e}).") from e
    return path


@dataclass(frozen=True)
class FolderProblem:
    """Why a folder cannot be used: ``what`` follows the variable's name, ``fix`` is the next step."""

    what: str
    fix: str


def folder_problem(path: Path, *, create: bool = False) -> FolderProblem | None:
    """Why ``path`` cannot be used as a writable folder, or None when it can.

    With ``create`` a missing folder whose parent folder exists is fine: the caller creates it."""
    shown = repr(str(path))
    if path.exists() and not path.is_dir():
        return FolderProblem(f"must be a folder, but {shown} is a file.", "point it at a folder instead")
    if not path.exists():
        if not create:
            return FolderProblem(f"must be an existing folder, but {shown} does not exist.", "create the folder first")
        if not path.parent.is_dir():
            parent = "is a file" if path.parent.exists() else "does not exist either"
            return FolderProblem(
                f"must be a folder, but {shown} does not exist and its parent {str(path.parent)!r} {parent}.",
                "create the parent folder or choose another one",
            )
        probe = path.parent
    else:
        probe = path
    try:
        with tempfile.TemporaryFile(dir=probe):
            pass
    except OSError as e:
        why = f" ({e.strerror.lower()})" if e.errno in _TELLING and e.strerror else ""
        what = f"{shown} is not writable" if probe == path else f"its parent folder {str(probe)!r} is not writable"
        return FolderProblem(
            f"must be a folder {COMMAND} can write to, but {what}{why}.",
            "give this user write permission or choose another folder",
        )
    return None


# The errors whose own words help (a virtual file system such as /proc answers "No such file", which misleads).
_TELLING = (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOSPC, errno.EDQUOT)
