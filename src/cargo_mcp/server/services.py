"""What the tools use, made once per server run by the lifespan: Cargo, the file fetcher, the result store, the
catalog and the releases."""

from __future__ import annotations

from dataclasses import replace
from functools import cached_property

import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.results.fetch import FetchPolicy, loopback_origin
from cargo_mcp.results.store import ResultStore
from cargo_mcp.server.catalog import Catalog
from cargo_mcp.server.connection import CargoConnection
from cargo_mcp.server.releases import Releases
from cargo_mcp.settings import Settings

FILE_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class Services:
    """The typed components of one server run (``retry`` and ``timeout`` let tests make Cargo calls quick)."""

    def __init__(
        self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None
    ) -> None:
        self.settings = settings
        self.connection = CargoConnection(settings, retry=retry, timeout=timeout)
        self.catalog = Catalog(self.connection)
        self.releases = Releases(self.connection)
        self.store = ResultStore(settings.results_dir, settings.results_max_bytes)
        self.fetch_policy = FetchPolicy(
            allowed_host_suffixes=settings.download_hosts, max_bytes=settings.max_download_bytes
        )

    def start(self) -> None:
        """Begin what takes long in the background (the embedded sandbox, in sandbox mode)."""
        self.connection.start()

    async def cargo(self) -> CargoClient:
        """The Cargo client (in sandbox mode the first call waits until the sandbox is up)."""
        client = await self.connection.client()
        local = loopback_origin(client.base_url)  # the sandbox's (or a local Cargo's) files: that origin only
        if local and self.fetch_policy.loopback_origins != (local,):
            self.fetch_policy = replace(self.fetch_policy, loopback_origins=(local,))
        return client

    @cached_property
    def files(self) -> httpx.AsyncClient:
        """The client for signed download URLs: separate, so no Cargo auth header ever reaches a file host."""
        return httpx.AsyncClient(timeout=FILE_TIMEOUT, follow_redirects=False)

    async def aclose(self) -> None:
        self.store.close()
        await self.catalog.aclose()
        await self.releases.aclose()
        if "files" in self.__dict__:
            await self.files.aclose()
        await self.connection.aclose()
