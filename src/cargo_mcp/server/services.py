"""What the tools use, made once per server run by the lifespan: Cargo, the file fetcher, the result store, the
catalog, the releases and the setup's health; and the view of them one HTTP caller gets
(:meth:`Services.for_caller`)."""

from __future__ import annotations

import copy
from dataclasses import replace
from functools import cached_property
from pathlib import Path

import httpx

from cargo_mcp.api.client import CargoClient
from cargo_mcp.api.retry import RetryPolicy
from cargo_mcp.results.fetch import FetchPolicy, loopback_origin
from cargo_mcp.results.s3 import S3Mirror
from cargo_mcp.results.store import ResultStore
from cargo_mcp.server.catalog import Catalog
from cargo_mcp.server.connection import CargoConnection
from cargo_mcp.server.health import Health
from cargo_mcp.server.releases import Releases
from cargo_mcp.settings import Settings

FILE_TIMEOUT = httpx.Timeout(60.0, connect=10.0)


class Services:
    """The typed components of one server run (``retry`` and ``timeout`` let tests make Cargo calls quick)."""

    def __init__(
        self, settings: Settings, *, retry: RetryPolicy | None = None, timeout: httpx.Timeout | None = None
    ) -> None:
        self.settings = settings
        self._retry, self._timeout = retry, timeout
        self._parent: Services | None = None
        self.connection = CargoConnection(settings, retry=retry, timeout=timeout)
        self.health = Health(settings)
        self.catalog = Catalog(self.connection)
        self.releases = Releases(self.connection)
        mirror = None
        if settings.results_s3 is not None:
            mirror = S3Mirror(
                settings.results_s3, max_bytes=settings.results_max_bytes, max_age=settings.results_max_age
            )
        self.store = ResultStore(
            settings.results_dir, settings.results_max_bytes, max_age=settings.results_max_age, mirror=mirror
        )
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

    def for_caller(self, scope: str, token: str | None, export_dir: Path | None) -> Services:
        """These services as one HTTP caller sees them: results scoped to ``scope``, files saved in
        ``export_dir``; with the caller's own Cargo ``token`` also its own client, catalog and releases. The file
        fetcher is shared (it sends no credentials)."""
        view = copy.copy(self)
        view._parent = self
        view.__dict__["files"] = self.files
        view.store = self.store.scoped(scope)
        view.settings = replace(self.settings, export_dir=export_dir)
        if token is not None:
            view.settings = replace(view.settings, token=token, workspace_uuid=None, sandbox=False)
            view.connection = CargoConnection(view.settings, retry=self._retry, timeout=self._timeout)
            view.health = Health(view.settings)  # the server's start-up check was about the server's token
            view.catalog = Catalog(view.connection)
            view.releases = Releases(view.connection)
        return view

    async def aclose(self) -> None:
        if self._parent is not None:  # a caller's view closes only what it made
            if self.connection is not self._parent.connection:
                await self.catalog.aclose()
                await self.releases.aclose()
                await self.connection.aclose()
            return
        self.store.close()
        await self.catalog.aclose()
        await self.releases.aclose()
        if "files" in self.__dict__:
            await self.files.aclose()
        await self.connection.aclose()
