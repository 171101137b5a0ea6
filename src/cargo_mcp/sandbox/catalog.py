"""The synthetic workspace's story: workflows, their node graphs, and the planted failure causes.

The workflows and their v1 (archived) and v2 (deployed) releases are data, in ``workflows.toml``. Node
outcomes are decided by :func:`decide` from the run's situation, so every planted cause is deterministic
given the seed.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from importlib import resources
from typing import Any

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class NodeSpec:
    """A node; ``children`` are child slugs in ``childrenUuids`` order (branch: yes, no), ``calls`` the key of
    the tool workflow a ``tool``-kind node runs."""

    slug: str
    kind: str
    action: str
    integration: str | None = None
    children: tuple[str, ...] = ()
    fallback: str | None = None
    name: str | None = None
    calls: str | None = None


@dataclass(frozen=True)
class WorkflowSpec:
    key: str
    name: str
    kind: str  # "tool" | "play" | "adhoc"
    v1: tuple[NodeSpec, ...]
    v2: tuple[NodeSpec, ...]
    runs_weight: float
    description: str
    record_kind: str = "company"  # which fake record data the start node carries


def _workflow(data: dict[str, Any]) -> WorkflowSpec:
    def release(nodes: list[dict[str, Any]]) -> tuple[NodeSpec, ...]:
        return tuple(NodeSpec(**{**n, "children": tuple(n.get("children", ()))}) for n in nodes)

    return WorkflowSpec(**{**data, "v1": release(data["v1"]), "v2": release(data["v2"])})


_DATA = tomllib.loads(resources.files(__package__).joinpath("workflows.toml").read_text(encoding="utf-8"))
WORKFLOWS = {w.key: w for w in map(_workflow, _DATA["workflow"])}
MAIN_WORKFLOWS = tuple(WORKFLOWS[k] for k in _DATA["main_workspace"])
SMALL_WORKFLOWS = tuple(WORKFLOWS[k] for k in _DATA["small_workspace"])
ADHOC_ENRICH = WORKFLOWS["adhoc_enrich"]

# Planted causes: name -> (workflow key, node slug, classification). Ground truth counts are
# collected by the generator while it walks the runs.
CAUSES = {
    "rate_limit": ("contact_finder", "find_email", "rate_limit"),
    "expired_credentials": ("inbound_routing", "post_slack", "credentials"),
    "agent_max_steps": ("company_enrichment", "qualify", "agent_step_limit"),
    "fallback_absorbed": ("company_enrichment", "enrich_company", "fallback"),
    "filter_stop": ("company_enrichment", "has_domain", "filter_stop"),
    "provider_timeout": ("contact_finder", "verify_email", "provider"),
    "data_error": ("crm_hygiene", "plan_update", "data"),
}


@dataclass(frozen=True)
class Situation:
    """What a node's outcome may depend on."""

    workflow: str
    slug: str
    at: float  # epoch seconds when the node starts
    now: float
    burst: tuple[float, float] | None  # the rate-limit window of the run's batch, if it has one
    record_has_domain: bool
    roll: float  # uniform [0, 1) for this node of this run


def decide(s: Situation) -> tuple[str | None, str | None]:
    """Return ``(cause, error message)`` for a node, ``(None, None)`` when it succeeds.

    Filter stops are not errors: they return ``("filter_stop", None)``.
    """
    w, slug, r = s.workflow, s.slug, s.roll
    in_burst = s.burst is not None and s.burst[0] <= s.at <= s.burst[1]
    if w == "contact_finder" and slug == "find_email" and in_burst and r < 0.62:
        wait = 20 + int(r * 1000) % 40
        return "rate_limit", (
            f"Request failed with status code 429: Too Many Requests - rate limit of 50 requests "
            f"per minute exceeded for hunter.io, retry after {wait}s"
        )
    if w == "inbound_routing" and slug == "post_slack" and s.at >= s.now - 6 * DAY:
        return "expired_credentials", (
            "401 Unauthorized: invalid_auth - the Slack access token for this connection has expired. "
            "Reconnect the connector."
        )
    if w == "company_enrichment" and slug == "qualify" and r < 0.022:
        steps = 8 if r < 0.015 else 12
        return "agent_max_steps", (
            f"Agent stopped: maximum number of steps reached (maxSteps={steps}) before producing an answer"
        )
    if w == "company_enrichment" and slug == "enrich_company" and r < 0.05:
        return "fallback_absorbed", "Clearbit: company not found (404)"
    if slug == "has_domain" and not s.record_has_domain:
        return "filter_stop", None
    if w == "contact_finder" and slug == "verify_email" and r < 0.006:
        ms = 30000 + int(r * 1e6) % 5000
        return "provider_timeout", f"ZeroBounce upstream timeout after {ms} ms"
    if w == "crm_hygiene" and slug == "plan_update" and r < 0.01:
        return "data_error", "TypeError: Cannot read properties of undefined (reading 'ownerEmail')"
    return None, None
