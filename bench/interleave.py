"""Interleaved measurement: every variant once per round, in the same order (A, B, C, A, B, C, …), so that the
machine's drift and noise fall on all of them alike; ratios are taken between variants of one such run."""

from __future__ import annotations

import statistics
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence


def schedule(names: Sequence[str], rounds: int, every: Mapping[str, int] | None = None) -> Iterator[tuple[int, str]]:
    """(round, variant) in run order. A variant in ``every`` runs only in each ``every[name]``-th round (a slow
    baseline sampled less often), still in its place in the round."""
    every = every or {}
    for r in range(rounds):
        for name in names:
            if r % every.get(name, 1) == 0:
                yield r, name


async def interleaved(
    variants: Mapping[str, Callable[[], Awaitable[object]]],
    rounds: int,
    *,
    warmup: int = 1,
    every: Mapping[str, int] | None = None,
) -> dict[str, list[float]]:
    """Seconds per call of each variant over ``rounds`` rounds, after ``warmup`` rounds that are not kept."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for r, name in schedule(list(variants), warmup + rounds, every):
        t = time.perf_counter()
        await variants[name]()
        if r >= warmup:
            samples[name].append(time.perf_counter() - t)
    return samples


def median(xs: Sequence[float]) -> float:
    return statistics.median(xs)


def quantile(xs: Sequence[float], q: float) -> float:
    """The ``q`` quantile (0 < q < 1), inclusive; the maximum of fewer than two samples."""
    if len(xs) < 2:
        return max(xs)
    return statistics.quantiles(xs, n=1000, method="inclusive")[round(q * 1000) - 1]
