"""Shared fixtures.

chdb allows one engine per process. Modules that build their own Sandbox or Engine run first; every test
that uses the session-wide ``shared_sandbox`` runs after them (see ``pytest_collection_modifyitems``), so
the shared engine is created only once the others are closed.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
from mcp import Client

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.backend import Backend
from cargo_mcp.settings import Settings
from tests.support import FAST_RETRY

pytest_plugins = ["tests.installed"]  # the built wheel in a fresh venv: `wheel`, `lean_install`


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run tests on the shared sandbox last (stable order otherwise)."""
    items.sort(key=lambda item: "shared_sandbox" in getattr(item, "fixturenames", ()))


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def shared_sandbox() -> Iterator[Sandbox]:
    sb = Sandbox(faults=True)
    sb.serve_in_thread()
    yield sb
    sb.close()


@pytest.fixture
def faults(shared_sandbox: Sandbox) -> Iterator[Callable[..., None]]:
    """Register a sandbox fault (``faults(path=..., kind=..., count=...)``); all are cleared afterwards."""
    url = shared_sandbox.base_url + "/_sandbox/faults"

    def add(**spec: Any) -> None:
        httpx.post(url, json=spec).raise_for_status()

    yield add
    httpx.delete(url).raise_for_status()
    shared_sandbox.files.expire_now = False


def remote_settings(sb: Sandbox, workspace: int = 0) -> Settings:
    """Settings that reach the sandbox exactly as a real Cargo deployment: base URL + token."""
    return Settings(token=sb.workspaces[workspace].token, base_url=sb.base_url)


@pytest.fixture
async def mcp_client(shared_sandbox: Sandbox) -> AsyncIterator[Client]:
    """An in-memory MCP client on a server whose backend calls the sandbox over loopback HTTP."""
    settings = remote_settings(shared_sandbox)
    server = build_server(
        settings,
        backend_factory=lambda: Backend(settings, retry=FAST_RETRY, timeout=httpx.Timeout(3.0)),
    )
    async with Client(server) as client:
        yield client
