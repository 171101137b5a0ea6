"""Releases and their nodes, for runs and metrics: a release is immutable, a workflow's list grows with deploys."""

from __future__ import annotations

from async_lru import alru_cache

from cargo_mcp.api.errors import CargoApiError
from cargo_mcp.api.models import Node, Release, Run
from cargo_mcp.api.requests import ListReleases
from cargo_mcp.api.vocabulary import InputError
from cargo_mcp.clip import listing
from cargo_mcp.server.connection import CargoConnection

PAGE = 100
MAX_PAGES = 10
RELEASES_KEPT = 128  # single releases (each a graph of nodes), least recently used dropped first
WORKFLOWS_KEPT = 32  # workflows whose release list is kept
LIST_TTL = 30.0  # seconds: a new deploy shows up within half a minute


def label(release: Release) -> str:
    """How answers name a release: ``v<version>``, else its UUID."""
    return f"v{release.version}" if release.version else release.uuid


class Releases:
    """Releases by UUID (kept while used) and by workflow (kept LIST_TTL seconds); concurrent calls share one fetch."""

    def __init__(self, cargo: CargoConnection) -> None:
        self._cargo = cargo
        self._release = alru_cache(maxsize=RELEASES_KEPT)(self._fetch_release)
        self._of_workflow = alru_cache(maxsize=WORKFLOWS_KEPT, ttl=LIST_TTL)(self._fetch_of_workflow)

    async def release(self, uuid: str) -> Release | None:
        """The release, or ``None`` when Cargo does not know it (ad-hoc runs; not kept, so it is asked again)."""
        try:
            return await self._release(uuid)
        except CargoApiError as e:
            if e.status == 404:
                return None
            raise

    async def of_workflow(self, workflow_uuid: str) -> tuple[tuple[Release, ...], bool]:
        """The workflow's releases and whether the list is complete (at most MAX_PAGES pages are read)."""
        return await self._of_workflow(workflow_uuid)

    async def nodes_of_run(self, run: Run) -> list[Node]:
        """The nodes a run executed: its release's, or the ones an ad-hoc run carries."""
        if run.nodes:
            return run.nodes
        rel = await self.release(run.release_uuid) if run.release_uuid else None
        return rel.nodes if rel else []

    async def nodes_of_workflow(self, workflow_uuid: str) -> dict[str, tuple[Node, str]]:
        """Every node of every release of a workflow, by node UUID, with its release UUID."""
        rels, _ = await self.of_workflow(workflow_uuid)
        return {n.uuid: (n, r.uuid) for r in rels for n in r.nodes}

    async def check_slugs(self, workflow_uuid: str, slugs: list[str], arg: str) -> None:
        """Refuse node slugs that no release of the workflow has (a typo would otherwise match nothing)."""
        rels, complete = await self.of_workflow(workflow_uuid)
        known = {n.slug for r in rels for n in r.nodes}
        unknown = list(dict.fromkeys(s for s in slugs if s not in known))
        if unknown and known and complete:
            deployed = next((r for r in rels if r.status == "deployed"), rels[0])
            raise InputError(
                f"{arg} names node slug(s) {listing(unknown)} that no release of this workflow has. "
                f"Slugs of the deployed release: {', '.join(dict.fromkeys(n.slug for n in deployed.nodes))}. "
                "get_workflow_nodes shows the graph."
            )

    async def aclose(self) -> None:
        await self._release.cache_close()
        await self._of_workflow.cache_close()

    async def _fetch_release(self, uuid: str) -> Release:
        return await (await self._cargo.client()).get_release(uuid)

    async def _fetch_of_workflow(self, workflow_uuid: str) -> tuple[tuple[Release, ...], bool]:
        client = await self._cargo.client()
        rels: list[Release] = []
        for page in range(MAX_PAGES):
            got = await client.list_releases(ListReleases(workflow_uuid=workflow_uuid, limit=PAGE, offset=page * PAGE))
            rels += got
            if len(got) < PAGE:
                return tuple(rels), True
        return tuple(rels), False
