"""The optional `sandbox` extra: whether the embedded sandbox can run here, and if not, the one-line fix.

Only `find_spec` is used, so asking never imports chdb or pyarrow: the real-API path stays lean.
"""

from __future__ import annotations

import importlib.util
import platform
import sys

SANDBOX_MODULES = ("chdb", "pyarrow", "platformdirs")


def sandbox_unavailable(command: str) -> str | None:
    """None when the sandbox's packages are installed; otherwise why not and what to run instead of `command`."""
    missing = sandbox_missing()
    if missing is None:
        return None
    install = sandbox_install(command)
    return f"{missing[:-1]}: run {install}." if install else missing


def sandbox_missing() -> str | None:
    """None when the sandbox's packages are installed; otherwise why the sandbox cannot run (a sentence)."""
    missing = [name for name in SANDBOX_MODULES if importlib.util.find_spec(name) is None]
    if not missing:
        return None
    if not _chdb_builds_here():
        return (
            f"the embedded sandbox needs chdb, which has no build for {_platform_name()} (only macOS and glibc "
            "Linux on x86_64/arm64)."
        )
    return f"the embedded sandbox needs the optional 'sandbox' extra (missing: {', '.join(missing)})."


def sandbox_install(command: str) -> str | None:
    """How to run `command` with the sandbox extra, or None where chdb has no build."""
    if not _chdb_builds_here():
        return None
    return (
        f"`uvx 'cargo-ai-mcp[sandbox]' {command}` (or `pip install 'cargo-ai-mcp[sandbox]'`; in a checkout "
        "`uv sync --extra sandbox`)"
    )


def _chdb_builds_here() -> bool:
    """Whether chdb publishes a wheel for this platform (see the markers of the extra in pyproject.toml)."""
    if sys.platform == "darwin":
        return True
    return (
        sys.platform == "linux"
        and platform.machine() in ("x86_64", "aarch64")
        and platform.libc_ver()[0] == "glibc"
    )


def _platform_name() -> str:
    if sys.platform == "win32":
        return "Windows"
    if sys.platform == "linux" and platform.libc_ver()[0] != "glibc":
        return f"musl Linux ({platform.machine()})"
    return f"{sys.platform} ({platform.machine()})"
