"""The synthetic workspace's story: workflows, their node graphs, and the planted failure causes.

Each workflow has an archived v1 release and a deployed v2 release. A node spec is
``(slug, kind, action, integration, children, fallback, name, calls)`` where ``children`` lists
child slugs in ``childrenUuids`` order (branch: yes, no) and ``calls`` is the key of the tool
workflow a ``tool``-kind node runs. Node outcomes are decided by
:func:`decide` from the run's situation, so every planted cause is deterministic given the seed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

HOUR = 3600.0
DAY = 24 * HOUR


@dataclass(frozen=True)
class NodeSpec:
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
    model_name: str | None = None
    record_kind: str = "company"  # which fake record data the start node carries
    tags: dict[str, str] = field(default_factory=dict)


def n(
    slug: str,
    kind: str,
    action: str,
    integration: str | None = None,
    children: tuple[str, ...] = (),
    fallback: str | None = None,
    name: str | None = None,
    calls: str | None = None,
) -> NodeSpec:
    return NodeSpec(slug, kind, action, integration, children, fallback, name, calls)


COMPANY_ENRICHMENT = WorkflowSpec(
    key="company_enrichment",
    name="Company enrichment",
    kind="tool",
    description="Enrich a company domain, qualify it with an agent and return firmographics.",
    runs_weight=0.34,
    v1=(
        n("start", "native", "start", children=("enrich_company",), name="Start"),
        n("enrich_company", "connector", "enrichCompany", "clearbit", ("has_domain",), name="Enrich company"),
        n("has_domain", "native", "filter", children=("qualify",), name="Has a domain"),
        n("qualify", "agent", "agent", children=("output",), name="Qualify account"),
        n("output", "native", "end", name="Output"),
    ),
    v2=(
        n("start", "native", "start", children=("normalize",), name="Start"),
        n("normalize", "native", "variables", children=("enrich_company",), name="Normalize domain"),
        n(
            "enrich_company",
            "connector",
            "enrichCompany",
            "clearbit",
            ("has_domain",),
            fallback="fallback_enrich",
            name="Enrich company (Clearbit)",
        ),
        n(
            "fallback_enrich",
            "connector",
            "enrichCompany",
            "apollo",
            ("has_domain",),
            name="Fallback enrich (Apollo)",
        ),
        n("has_domain", "native", "filter", children=("is_b2b",), name="Has a domain"),
        n("is_b2b", "native", "branch", children=("qualify", "skip"), name="Is B2B?"),
        n("qualify", "agent", "agent", children=("output",), name="Qualify account"),
        n("skip", "native", "end", name="Skip (not B2B)"),
        n("output", "native", "end", name="Output"),
    ),
)

CONTACT_FINDER = WorkflowSpec(
    key="contact_finder",
    name="Contact finder",
    kind="tool",
    description="Find and verify the work email of a person at a company.",
    runs_weight=0.23,
    record_kind="person",
    v1=(
        n("start", "native", "start", children=("normalize",), name="Start"),
        n("normalize", "native", "variables", children=("find_email",), name="Normalize name"),
        n("find_email", "connector", "findEmail", "hunter", ("format_result",), name="Find email (Hunter)"),
        n("format_result", "native", "variables", children=("end",), name="Format result"),
        n("end", "native", "end", name="End"),
    ),
    v2=(
        n("start", "native", "start", children=("find_email",), name="Start"),
        n("find_email", "connector", "findEmail", "hunter", ("verify_email",), name="Find email (Hunter)"),
        n("verify_email", "connector", "verifyEmail", "zerobounce", ("is_valid",), name="Verify email"),
        n("is_valid", "native", "branch", children=("end", "end_invalid"), name="Email valid?"),
        n("end", "native", "end", name="End"),
        n("end_invalid", "native", "end", name="End (invalid email)"),
    ),
)

LEAD_SCORER = WorkflowSpec(
    key="lead_scorer",
    name="Lead scorer",
    kind="tool",
    description="Score a lead with an agent; the release repeats the `variables` slug on purpose.",
    runs_weight=0.12,
    record_kind="person",
    v1=(
        n("start", "native", "start", children=("normalize",), name="Start"),
        n("normalize", "native", "variables", children=("score",), name="Prepare inputs"),
        n("score", "agent", "agent", children=("format_score",), name="Score lead"),
        n("format_score", "native", "variables", children=("end",), name="Format score"),
        n("end", "native", "end", name="End"),
    ),
    v2=(
        n("start", "native", "start", children=("variables",), name="Start"),
        n("variables", "native", "variables", children=("score",), name="Prepare inputs"),
        n("score", "agent", "agent", children=("variables",), name="Score lead"),
        n("variables", "native", "variables", children=("end",), name="Format score"),
        n("end", "native", "end", name="End"),
    ),
)

INBOUND_ROUTING = WorkflowSpec(
    key="inbound_routing",
    name="Inbound lead routing",
    kind="play",
    model_name="Inbound leads",
    description="Enrich new inbound leads, qualify them and alert the owner in Slack.",
    runs_weight=0.19,
    record_kind="person",
    v1=(
        n("start", "native", "start", children=("normalize",), name="Start"),
        n("normalize", "native", "variables", children=("enrich_person",), name="Normalize lead"),
        n("enrich_person", "connector", "enrichPerson", "apollo", ("post_slack",), name="Enrich person"),
        n("post_slack", "connector", "sendMessage", "slack", ("end",), name="Alert owner in Slack"),
        n("end", "native", "end", name="End"),
    ),
    v2=(
        n("start", "native", "start", children=("enrich_person",), name="Start"),
        n("enrich_person", "connector", "enrichPerson", "apollo", ("is_qualified",), name="Enrich person"),
        n("is_qualified", "native", "branch", children=("find_contact", "end_skip"), name="Qualified?"),
        n("find_contact", "tool", "tool", children=("post_slack",), name="Find contact", calls="contact_finder"),
        n("post_slack", "connector", "sendMessage", "slack", ("end",), name="Alert owner in Slack"),
        n("end", "native", "end", name="End"),
        n("end_skip", "native", "end", name="Skip"),
    ),
)

CRM_HYGIENE = WorkflowSpec(
    key="crm_hygiene",
    name="Weekly CRM hygiene",
    kind="play",
    model_name="CRM accounts",
    description="Look accounts up in HubSpot and plan updates for stale ones.",
    runs_weight=0.12,
    v1=(
        n("start", "native", "start", children=("normalize",), name="Start"),
        n("normalize", "native", "variables", children=("crm_lookup",), name="Normalize domain"),
        n("crm_lookup", "connector", "getCompany", "hubspot", ("format_update",), name="Look up in HubSpot"),
        n("format_update", "native", "variables", children=("end",), name="Format update"),
        n("end", "native", "end", name="End"),
    ),
    v2=(
        n("start", "native", "start", children=("crm_lookup",), name="Start"),
        n("crm_lookup", "connector", "getCompany", "hubspot", ("needs_update",), name="Look up in HubSpot"),
        n("needs_update", "native", "filter", children=("plan_update",), name="Needs an update"),
        n("plan_update", "agent", "agent", children=("end",), name="Plan the update"),
        n("end", "native", "end", name="End"),
    ),
)

ADHOC_ENRICH = WorkflowSpec(
    key="adhoc_enrich",
    name="(ad-hoc) enrichCompany",
    kind="adhoc",
    description="Ad-hoc `action execute` runs: single-node workflows carrying their own nodes.",
    runs_weight=0.0,
    v1=(n("enrichCompany", "connector", "enrichCompany", "clearbit", name="enrichCompany"),),
    v2=(n("enrichCompany", "connector", "enrichCompany", "clearbit", name="enrichCompany"),),
)

MAIN_WORKFLOWS = (COMPANY_ENRICHMENT, CONTACT_FINDER, LEAD_SCORER, INBOUND_ROUTING, CRM_HYGIENE)
SMALL_WORKFLOWS = (COMPANY_ENRICHMENT, CONTACT_FINDER, INBOUND_ROUTING)  # routing calls the finder

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
    batch_key: str | None  # "rate_limited" marks the batch that hits the rate limit burst
    burst: tuple[float, float] | None  # the rate-limit window of that batch
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
