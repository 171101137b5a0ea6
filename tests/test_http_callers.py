"""The per-caller registry: one token check per token at a time, refusals remembered, bounded, closed when idle."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from cargo_mcp.api.errors import CargoApiError, CargoNetworkError
from cargo_mcp.server.auth import SHARED_SCOPE, Caller, CallerRejected, CargoUnavailable, credential_scope
from cargo_mcp.server.callers import Callers
from cargo_mcp.server.services import Services

pytestmark = pytest.mark.anyio


class FakeServices:
    """Stands in for Services: its Cargo client answers current_workspace according to the token."""

    def __init__(self, token: str | None, checks: list[str]) -> None:
        self.token = token
        self.checks = checks
        self.closed = False

    async def cargo(self) -> FakeServices:
        return self

    async def current_workspace(self) -> dict[str, Any]:
        assert self.token is not None
        self.checks.append(self.token)
        await anyio.sleep(0.02)
        if self.token == "revoked":
            raise CargoApiError("Not authorized", status=401)
        if self.token == "down":
            raise CargoNetworkError("could not reach Cargo")
        if self.token == "bug":
            raise ValueError("a bug of ours")
        return {"uuid": "w"}

    async def aclose(self) -> None:
        self.closed = True


def fake(services: Services) -> FakeServices:
    """The fake behind what the registry handed out."""
    assert isinstance(services, FakeServices), services
    return services


def registry(max_callers: int = 8) -> tuple[Callers, list[str], FakeServices]:
    checks: list[str] = []
    base = FakeServices(None, checks)
    # the fake has the part of Services the registry uses (cargo, aclose), not its type
    callers = Callers(lambda: base, lambda _, scope, token: FakeServices(token, checks), max_callers)  # type: ignore[arg-type, return-value]
    return callers, checks, base


def caller(token: str) -> Caller:
    return Caller(credential_scope("cargo", token), cargo_token=token)


async def test_concurrent_first_requests_check_the_token_once() -> None:
    callers, checks, _ = registry()
    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(callers.verify, "alice")
    assert checks == ["alice"]
    async with callers.use(caller("alice")) as services:
        assert fake(services).token == "alice"
    assert checks == ["alice"]


async def test_refusals_are_remembered_outages_are_not() -> None:
    callers, checks, _ = registry()
    for _ in range(3):
        with pytest.raises(CallerRejected):
            await callers.verify("revoked")
    for _ in range(2):
        with pytest.raises(CargoUnavailable):
            await callers.verify("down")
    with pytest.raises(ValueError, match="a bug of ours"):
        await callers.verify("bug")
    assert checks == ["revoked", "down", "down", "bug"]
    assert len(callers) == 0


async def test_least_recent_callers_are_closed_once_idle() -> None:
    callers, _, base = registry(max_callers=2)
    await callers.verify("a")
    async with callers.use(caller("a")) as a:
        await callers.verify("b")
        await callers.verify("c")  # evicts a, which is in use: closed only after the request
        assert not fake(a).closed
    assert fake(a).closed
    async with callers.use(caller("b")) as b:
        pass
    await callers.verify("d")  # evicts c (b was used more recently)
    async with callers.use(caller("a")) as again:  # evicted callers are checked again, then served
        assert again is not a and fake(again).token == "a"
    async with callers.use(Caller(SHARED_SCOPE)) as shared:
        assert fake(shared) is base
    await callers.aclose()
    assert fake(b).closed
