"""The services of a server run: the catalog and releases load once for concurrent calls and are kept a while; the
real-API path never imports the sandbox."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator, Callable

import anyio
import httpx
import pytest

from cargo_mcp.sandbox.server import Sandbox
from cargo_mcp.server.services import Services
from tests.conftest import remote_settings
from tests.support import FAST_RETRY

pytestmark = pytest.mark.anyio
Faults = Callable[..., None]


@pytest.fixture
async def services(shared_sandbox: Sandbox) -> AsyncIterator[Services]:
    s = Services(remote_settings(shared_sandbox), retry=FAST_RETRY, timeout=httpx.Timeout(5.0))
    yield s
    await s.aclose()


def counted(sb: Sandbox, faults: Faults, path: str) -> Callable[[], int]:
    """Count the requests to ``path`` from now on (each is slowed a little, so concurrent calls overlap)."""
    assert sb.faults is not None
    tally, before = sb.faults, sb.faults.hits
    faults(path=path, kind="hang", seconds=0.2, count=100)
    return lambda: tally.hits - before


async def test_concurrent_calls_load_the_catalog_once(
    services: Services, shared_sandbox: Sandbox, faults: Faults
) -> None:
    requests = counted(shared_sandbox, faults, "/v1/orchestration/tools/list")
    results: list[int] = []

    async def names() -> None:
        results.append(len(await services.catalog.entries()))

    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(names)
    assert requests() == 1 and len(set(results)) == 1 and results[0] > 0
    name = (await services.catalog.entries())[0].name
    assert (await services.catalog.workflow_uuid(name))[1] is not None
    assert requests() == 1  # kept for the next calls too


async def test_concurrent_calls_fetch_a_release_once(
    services: Services, shared_sandbox: Sandbox, faults: Faults
) -> None:
    release = shared_sandbox.workspaces[0].batches[0].release.uuid
    requests = counted(shared_sandbox, faults, f"/v1/orchestration/releases/{release}")
    async with anyio.create_task_group() as tg:
        for _ in range(3):
            tg.start_soon(services.releases.release, release)
    assert requests() == 1
    got = await services.releases.release(release)
    assert got is not None and got.uuid == release and requests() == 1


async def test_a_failed_load_is_not_kept(services: Services, faults: Faults) -> None:
    faults(path="/v1/orchestration/workflows/list", kind="status", status=500)
    with pytest.raises(ExceptionGroup):
        await services.catalog.entries()
    assert await services.catalog.entries()  # asked again, now answered


def test_the_real_api_path_never_imports_the_sandbox() -> None:
    script = textwrap.dedent(
        """
        import sys, anyio
        from mcp import Client
        from cargo_mcp.api.retry import RetryPolicy
        from cargo_mcp.server.app import build_server
        from cargo_mcp.server.services import Services
        from cargo_mcp.settings import Settings

        settings = Settings(token="t", base_url="http://127.0.0.1:9")
        server = build_server(settings, lambda: Services(settings, retry=RetryPolicy(max_attempts=1)))

        async def main():
            async with Client(server) as client:
                await client.list_tools()
                result = await client.call_tool("list_workflows", {})
                assert result.is_error and "could not reach Cargo" in result.content[0].text
        anyio.run(main)
        loaded = sorted(m for m in sys.modules if m.startswith("cargo_mcp.sandbox"))
        assert not loaded, loaded
        """
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
