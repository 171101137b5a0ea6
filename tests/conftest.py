"""Shared fixtures.

chdb allows one engine per process. Modules that build their own Sandbox or Engine run first; every test
that uses the session-wide ``shared_sandbox`` runs after them (see ``pytest_collection_modifyitems``), so
the shared engine is created only once the others are closed.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import boto3
import httpx
import pytest
from mcp import Client

from cargo_mcp.results import s3
from cargo_mcp.results.s3 import S3Location
from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.app import build_server
from cargo_mcp.server.services import Services
from cargo_mcp.settings import Settings
from tests.loopback import Keys
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


def remote_settings(sb: Sandbox, workspace: int = 0, **overrides: Any) -> Settings:
    """Settings that reach the sandbox exactly as a real Cargo deployment: base URL + token (+ ``overrides``)."""
    return Settings(token=sb.workspaces[workspace].token, base_url=sb.base_url, **overrides)


@pytest.fixture
async def mcp_client(shared_sandbox: Sandbox) -> AsyncIterator[Client]:
    """An in-memory MCP client on a server whose services call the sandbox over loopback HTTP."""
    settings = remote_settings(shared_sandbox)
    server = build_server(
        settings,
        services_factory=lambda: Services(settings, retry=FAST_RETRY, timeout=httpx.Timeout(3.0)),
    )
    async with Client(server) as client:
        yield client


@pytest.fixture(scope="session")
def s3_endpoint() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def bucket(s3_endpoint: str, monkeypatch: pytest.MonkeyPatch) -> S3Location:
    """A fresh bucket; credentials through the standard AWS variables, as in production."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_CONFIG_FILE", os.devnull)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", os.devnull)
    monkeypatch.setattr(s3, "EVICT_EVERY", 0.0)
    name = f"results-{uuid.uuid4().hex[:8]}"
    boto3.client("s3", endpoint_url=s3_endpoint, region_name="us-east-1").create_bucket(Bucket=name)
    return S3Location(bucket=name, prefix="test/results/", endpoint_url=s3_endpoint, region="us-east-1")


@pytest.fixture
def keys() -> Iterator[Keys]:
    k = Keys()
    yield k
    k.server.shutdown()
