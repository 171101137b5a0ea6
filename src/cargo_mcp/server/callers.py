"""Each HTTP caller's own services: its Cargo client, caches and result handles, never shared with another caller.

A caller with its own Cargo token gets services of its own (a client with that token, catalog, releases, a
result store scoped to the token's hash) once Cargo accepted the token; only the file fetcher, which sends no
credentials, is shared. A caller identified by OAuth but acting with the server's token gets the server's
services with a result store scoped to its subject. The most recent ``max_callers`` callers are kept; an
evicted caller's client is closed as soon as no request uses it any more.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import anyio

from cargo_mcp.api.errors import CargoApiError, CargoError
from cargo_mcp.server.auth import SHARED_SCOPE, Caller, CallerRejected, CargoUnavailable, credential_scope

if TYPE_CHECKING:
    from cargo_mcp.server.services import Services

MAX_CALLERS = 256
REFUSED_TTL = 60.0  # a token Cargo refused is refused here for this long without asking Cargo again
MAX_REFUSED = 4096
# (the server's services, the caller's scope, the caller's Cargo token or None) -> the caller's services
MakeServices = Callable[["Services", str, str | None], "Services"]


@dataclass
class _Entry:
    services: Services
    users: int = 0
    retired: bool = False


@dataclass
class _Check:
    done: anyio.Event = field(default_factory=anyio.Event)
    error: Exception | None = None


class Callers:
    """Services per caller scope, made on first use (one token check per scope, however many arrive at once)."""

    def __init__(self, base: Callable[[], Services], make: MakeServices, max_callers: int = MAX_CALLERS) -> None:
        self._base = base
        self._make = make
        self._max = max_callers
        self._live: OrderedDict[str, _Entry] = OrderedDict()
        self._checks: dict[str, _Check] = {}
        self._refused: OrderedDict[str, float] = OrderedDict()

    def __len__(self) -> int:
        return len(self._live)

    async def verify(self, token: str) -> None:
        """Make the services of the caller with this Cargo token, once Cargo accepted the token.

        Raises :class:`CallerRejected` when Cargo refuses it, :class:`CargoUnavailable` when Cargo cannot tell.
        """
        scope = credential_scope("cargo", token)
        if scope in self._live:
            return
        if time.monotonic() - self._refused.get(scope, -REFUSED_TTL) < REFUSED_TTL:
            raise CallerRejected()
        check = self._checks.get(scope)
        if check is not None:  # the same token is being checked right now: share that answer
            await check.done.wait()
            if check.error is not None:
                raise check.error
            return
        check = self._checks[scope] = _Check()
        try:
            services = self._make(self._base(), scope, token)
            try:
                await (await services.cargo()).current_workspace()
            except Exception as e:
                await services.aclose()
                check.error = _verdict(e)
                if check.error is None:
                    raise
                if isinstance(check.error, CallerRejected):
                    self._refused[scope] = time.monotonic()
                    while len(self._refused) > MAX_REFUSED:
                        self._refused.popitem(last=False)
                raise check.error from None
            await self._add(scope, _Entry(services))
        finally:
            check.done.set()
            del self._checks[scope]

    @asynccontextmanager
    async def use(self, caller: Caller) -> AsyncIterator[Services]:
        """The services this caller's request runs with; not closed while the request runs."""
        if caller.scope == SHARED_SCOPE:
            yield self._base()
            return
        entry = self._live.get(caller.scope)
        if entry is None:
            if caller.cargo_token is not None:  # evicted since it was authenticated: check it again
                await self.verify(caller.cargo_token)
                entry = self._live[caller.scope]
            else:
                entry = await self._add(caller.scope, _Entry(self._make(self._base(), caller.scope, None)))
        self._live.move_to_end(caller.scope)
        entry.users += 1
        try:
            yield entry.services
        finally:
            entry.users -= 1
            if entry.retired and entry.users == 0:
                await entry.services.aclose()

    async def _add(self, scope: str, entry: _Entry) -> _Entry:
        self._live[scope] = entry
        while len(self._live) > self._max:
            _, old = self._live.popitem(last=False)
            old.retired = True
            if old.users == 0:
                await old.services.aclose()
        return entry

    async def aclose(self) -> None:
        entries, self._live = list(self._live.values()), OrderedDict()
        for entry in entries:
            await entry.services.aclose()


def _verdict(e: Exception) -> Exception | None:
    """What a failed token check means for the caller (None: not a Cargo answer, a bug to re-raise)."""
    if isinstance(e, CargoApiError) and e.status in (401, 403):
        return CallerRejected()
    if isinstance(e, CargoError):
        return CargoUnavailable()
    return None
