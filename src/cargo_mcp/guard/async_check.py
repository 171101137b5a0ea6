"""The guard off the event loop: ``check_async`` runs :func:`cargo_mcp.guard.sql.check` in a worker thread, at most
``_WORKERS`` at a time, under a deadline.

The check is bounded by construction (the statement bytes and tokens of :mod:`cargo_mcp.guard.limits`, one pass over
the tree), and it looks at the clock between its phases and every thousand nodes, so a thread that reaches the
deadline stops itself with a refusal rather than running on. If it still has not answered shortly after the
deadline, the caller gets that refusal anyway and the thread is left to finish on its own (its result is dropped).
The thread holds the GIL while it works, but Python hands the GIL over every few milliseconds, so other calls on the
event loop go on meanwhile.
"""

from __future__ import annotations

import functools
import time
from typing import TYPE_CHECKING

import anyio
import anyio.to_thread
from anyio.lowlevel import RunVar

from cargo_mcp.guard.limits import GUARD_DEADLINE_S

if TYPE_CHECKING:
    from cargo_mcp.guard.sql import Verdict

_WORKERS = 2  # concurrent checks (each is one core's worth of Python at most)
_GRACE_S = 1.0  # after the deadline, how long to wait for a thread to stop itself
_limiter: RunVar[anyio.CapacityLimiter] = RunVar("cargo_mcp_guard_workers")


async def check_async(sql: str, max_rows: int = 1000, *, deadline_s: float = GUARD_DEADLINE_S) -> Verdict:
    """``check(sql, max_rows)`` without blocking the event loop; a refusal if it takes more than ``deadline_s``
    (waiting for a free worker included)."""
    deadline = time.monotonic() + deadline_s
    with anyio.move_on_after(deadline_s + _GRACE_S):
        return await anyio.to_thread.run_sync(
            functools.partial(_check, sql, max_rows, deadline), abandon_on_cancel=True, limiter=_workers()
        )
    from cargo_mcp.guard.sql import Verdict, deadline_refusal

    return Verdict(False, deadline_refusal(deadline_s), sql)


def _check(sql: str, max_rows: int, deadline: float) -> Verdict:
    """In the worker thread, where the first call also imports sqlglot (a few hundred ms) off the event loop."""
    from cargo_mcp.guard.sql import check

    return check(sql, max_rows, deadline=deadline)


def _workers() -> anyio.CapacityLimiter:
    """One limiter per event loop."""
    try:
        return _limiter.get()
    except LookupError:
        limiter = anyio.CapacityLimiter(_WORKERS)
        _limiter.set(limiter)
        return limiter
