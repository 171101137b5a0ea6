"""Keep the garbage collector's pauses out of a check.

A large statement's tree is a few hundred thousand objects linked both ways (every node points at its parent), so
while a check runs, CPython's full collections walk it again and again, each pausing every thread — the event loop
included — for up to ~100 ms. So no collection starts while a check runs (the checks take at most about a second),
and afterwards the parent links are cut, so that reference counting frees the tree at once instead of leaving it to
the next full collection.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

from sqlglot import exp

_lock = threading.Lock()
_running = 0  # checks in progress
_was_enabled = False  # whether collection was on before the first of them


@contextmanager
def collection_paused() -> Iterator[None]:
    """No garbage collection while any check is inside this block (nested and concurrent blocks count)."""
    global _running, _was_enabled
    with _lock:
        if _running == 0:
            _was_enabled = gc.isenabled()
            gc.disable()
        _running += 1
    try:
        yield
    finally:
        with _lock:
            _running -= 1
            if _running == 0 and _was_enabled:
                gc.enable()


def release(nodes: Iterable[exp.Expr]) -> None:
    """Cut the parent links of a tree that is no longer needed, so that reference counting frees it."""
    for node in nodes:
        node.parent = None
