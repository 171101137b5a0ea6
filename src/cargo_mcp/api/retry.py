"""Retry policy for Cargo calls: exponential backoff with full jitter, bounded in attempts and time."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

RETRY_STATUSES = frozenset({429, 502, 503, 504})


@dataclass(frozen=True)
class RetryPolicy:
    """``max_attempts`` counts the first try; ``max_total`` bounds the whole call in seconds."""

    max_attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_total: float = 45.0

    def backoff(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait before try ``attempt + 1`` (``attempt`` starts at 1).

        A server's ``Retry-After`` is obeyed as given; the caller gives up instead when it would
        exceed the total time budget.
        """
        if retry_after is not None:
            return max(retry_after, 0.0)
        return random.uniform(0, min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))


def seconds(value: float) -> str:
    """A wait for a message: ``120``, ``2.5``, ``0.04``."""
    return f"{value:,.0f}" if value >= 10 else f"{value:.2g}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds (delta-seconds or HTTP-date); ``None`` when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
