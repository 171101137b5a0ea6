"""Where the time goes: a profile of in-process work summed by package, and `python -X importtime` summed by
top-level package. Used to explain a missed target."""

from __future__ import annotations

import cProfile
import pstats
import re
import subprocess
import sys
from collections import defaultdict
from collections.abc import Awaitable, Callable, Mapping

WAITING = "waiting for answers (event loop idle)"


def _package(filename: str, func: str) -> str:
    if filename == "~" or filename.startswith("<"):
        if re.search(r"poll|select", func):
            return WAITING
        m = re.search(r"<(?:built-in method|method) '?([\w.]+)'?(?: of '([\w.]+)')?", func)
        return f"built-in {m[2] + '.' if m and m[2] else ''}{m[1] if m else func}"
    m = re.search(r"site-packages/([A-Za-z0-9_]+)", filename)
    if m:
        return m[1]
    m = re.search(r"cargo_mcp/([a-z_]+)", filename)
    if m:
        return f"cargo_mcp.{m[1].removesuffix('.py')}"
    m = re.search(r"python3\.\d+/([a-z_]+)", filename)
    return f"stdlib {m[1].removesuffix('.py')}" if m else filename.rsplit("/", 1)[-1]


Times = dict[str, float]  # seconds per package


def top(times: Mapping[str, float], n: int) -> list[tuple[str, float]]:
    """The ``n`` largest entries, largest first."""
    return sorted(times.items(), key=lambda kv: -kv[1])[:n]


def by_package(stats: pstats.Stats) -> Times:
    """Own time (seconds) per package."""
    out: Times = defaultdict(float)
    for (filename, _, func), (_, _, tottime, _, _) in stats.stats.items():  # type: ignore[attr-defined]
        out[_package(filename, func)] += tottime
    return out


async def profile(work: Callable[[], Awaitable[object]]) -> Times:
    """Own time per package while awaiting ``work`` (this thread: other processes' work shows as waiting)."""
    prof = cProfile.Profile()
    prof.enable()
    try:
        await work()
    finally:
        prof.disable()
    return by_package(pstats.Stats(prof))


def profile_call(work: Callable[[], object]) -> Times:
    """Own time per package while ``work()`` runs."""
    prof = cProfile.Profile()
    prof.runcall(work)
    return by_package(pstats.Stats(prof))


def shares(times: Mapping[str, float], n: int = 4) -> str:
    """`42% waiting …, 20% pydantic, …` of the largest entries."""
    total = sum(times.values()) or 1.0
    return ", ".join(f"{v / total:.0%} {k}" for k, v in top(times, n))


def import_times(code: str) -> tuple[float, Times]:
    """Total seconds of imports in a fresh interpreter running ``code``, and own seconds per top-level package."""
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    per: Times = defaultdict(float)
    for line in proc.stderr.splitlines():
        m = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(\S.*)$", line)
        if m:
            per[m[3].strip().split(".")[0]] += int(m[1]) / 1e6
    return sum(per.values()), per
