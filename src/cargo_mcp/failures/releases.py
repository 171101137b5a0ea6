"""The release split of a failure scope: each release's runs and failures, and the error groups that began with a
release."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from cargo_mcp.api.models import Release
from cargo_mcp.failures.report import ErrorGroup, ReleaseShare, iso

# "Right after": the group's first error came within this part of the release's window of runs (or an hour).
EARLY_SHARE = 0.1
EARLY_FLOOR = 3600.0


def shares(rows: list[dict[str, Any]], releases: Sequence[Release]) -> list[ReleaseShare]:
    """One share per release that served runs in the scope, oldest first."""
    known = {r.uuid: r for r in releases}
    out = []
    for row in rows:
        uuid = row.get("release_uuid") or None
        rel = known.get(uuid) if uuid else None
        out.append(
            ReleaseShare(
                release_uuid=uuid,
                version=rel.version if rel else None,
                deployed_at=iso(rel.deployed_at) if rel and rel.deployed_at else None,
                runs=int(row["runs"]),
                failed=int(row["failed"]),
                first_run=iso(_at(row["first_at"])),
                last_run=iso(_at(row["last_at"])),
            )
        )
    return out


def attribute(groups: list[ErrorGroup], rows: list[dict[str, Any]], split: list[ReleaseShare]) -> None:
    """Set each group's errors per release, and the release it began with: no error on the releases that served
    the scope before it, the first one right after that release's first run."""
    counts: dict[tuple[str, str], dict[str, int]] = defaultdict(dict)
    for row in rows:
        counts[(row["node_slug"], row["pattern"])][row.get("release_uuid") or ""] = int(row["n"])
    order = [s.release_uuid or "" for s in split]
    for g in groups:
        by = counts.get((g.node_slug, g.pattern), {})
        g.by_release = {u: by.get(u, 0) for u in order}
        first = next((i for i, u in enumerate(order) if by.get(u)), None)
        if not first:  # no error anywhere, or already on the oldest release of the scope
            continue
        s = split[first]
        start, end = _parse(s.first_run), _parse(s.last_run)
        window = max(EARLY_FLOOR, EARLY_SHARE * (end - start).total_seconds())
        if (_parse(g.first_seen) - start).total_seconds() <= window and s.release_uuid:
            g.began_with = s.release_uuid


def label(s: ReleaseShare) -> str:
    """How the text names a release: its version, else its UUID."""
    if s.release_uuid is None:
        return "no release (ad-hoc)"
    if not s.version:
        return s.release_uuid
    return s.version if s.version.lower().startswith("v") else f"v{s.version}"


def _at(epoch: Any) -> datetime:
    return datetime.fromtimestamp(int(epoch), UTC)


def _parse(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
