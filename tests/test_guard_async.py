"""The guard off the event loop: the same verdicts as ``check``, a deadline that is a refusal, and an event loop that
keeps ticking while the guard checks the slowest statement it accepts to check."""

from __future__ import annotations

import threading
import time

import anyio
import pytest

from cargo_mcp.guard import async_check
from cargo_mcp.guard.async_check import check_async
from cargo_mcp.guard.limits import MAX_STATEMENT_TOKENS
from cargo_mcp.guard.sql import Verdict, check
from tests.guard_corpus import ADVERSARIAL, LEGIT, shape

pytestmark = pytest.mark.anyio

# Generous against the 100 ms the issue asks for: a loaded 2-core machine still hands the GIL over every 5 ms.
MAX_LAG_S = 0.1


async def test_check_async_gives_the_same_verdicts_as_check() -> None:
    for sql in [*LEGIT, *(s for s, _ in ADVERSARIAL)]:  # deep nesting too: a worker thread's stack suffices
        assert await check_async(sql, 50) == check(sql, 50)


async def test_a_check_that_does_not_answer_by_the_deadline_is_a_refusal(monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def stuck(sql: str, max_rows: int = 1000, *, deadline: float | None = None) -> Verdict:
        release.wait(10)  # a check that ignores its deadline
        return Verdict(True, None, sql)

    monkeypatch.setattr("cargo_mcp.guard.sql.check", stuck)
    monkeypatch.setattr(async_check, "_GRACE_S", 0.2)
    started = time.monotonic()
    try:
        verdict = await check_async("SELECT 1", deadline_s=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert not verdict.allowed and verdict.reason is not None
    assert "could not check this statement within 0.3 s" in verdict.reason and "Instead, simplify" in verdict.reason


async def test_the_event_loop_stays_responsive_while_the_worst_case_statement_is_checked() -> None:
    worst = shape("OR-ed IN terms", max_tokens=MAX_STATEMENT_TOKENS - 10)  # the slowest statement checked in full
    lags: list[float] = []
    checking = True

    async def ticker() -> None:
        while checking:
            before = time.perf_counter()
            await anyio.sleep(0.005)
            lags.append(time.perf_counter() - before - 0.005)

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.sleep(0.05)
        started = time.perf_counter()
        verdict = await check_async(worst)
        took = time.perf_counter() - started
        checking = False
    assert verdict.allowed, verdict.reason
    assert took > 10 * MAX_LAG_S / 4, "the statement must keep the guard busy for a while, or this proves nothing"
    assert len(lags) > 20 and max(lags) < MAX_LAG_S, f"max lag {max(lags) * 1000:.0f} ms over {took:.2f} s"
