"""Name an error group's cause and the fix (docs/cargo-contract.md §9.3), from its node and normalized message."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Cause:
    classification: str
    label: str
    fix: str


RATE_LIMIT = Cause(
    "rate_limit",
    "connector rate limit",
    "Add a retry with backoff on the node (retry: maximumAttempts 3-5, initialInterval 1000+ ms, "
    "backoffCoefficient 2) and run smaller batches; check the connector's rate limit.",
)
CREDENTIALS = Cause(
    "credentials",
    "expired or invalid connector credentials",
    "Reconnect (re-authenticate) the connector used by this node, then re-run the failed records.",
)
AGENT_STEPS = Cause(
    "agent_step_limit",
    "agent step limit",
    "Raise the agent's maxSteps or simplify its prompt/tools so it answers in fewer steps.",
)
PROVIDER = Cause(
    "provider",
    "provider error or timeout",
    "Transient provider failure: re-run the failed records later; add retry and a fallback edge on the node.",
)
DATA = Cause(
    "data",
    "data or expression error",
    "An input or upstream value is missing or malformed: check the node's computed config (get_run) and "
    "guard it with a filter node or a default.",
)
FALLBACK = Cause(
    "fallback",
    "failure absorbed by a fallback edge",
    "Not a run failure: the fallback edge took over and the runs continued. Fix only if the fallback's "
    "results are worse.",
)
UNKNOWN = Cause("unknown", "other error", "Open an exemplar run with get_run / trace_run to see the node's output.")

_RULES: list[tuple[re.Pattern[str], Cause]] = [
    (re.compile(r"\b429\b|rate[ _-]?limit|too many requests|throttl", re.I), RATE_LIMIT),
    (re.compile(r"max(imum)?[ _-]?(number of )?steps|maxsteps|step limit", re.I), AGENT_STEPS),
    (
        re.compile(
            r"\b401\b|\b403\b|unauthori[sz]ed|invalid[_ ]auth|expired|revoked|credential|forbidden|"
            r"access token|api key",
            re.I,
        ),
        CREDENTIALS,
    ),
    (
        re.compile(r"timeout|timed out|\b5\d\d\b|upstream|unavailable|econnreset|socket hang up|bad gateway", re.I),
        PROVIDER,
    ),
    (
        re.compile(r"typeerror|referenceerror|undefined|\bnull\b|cannot read|invalid|validation|missing|parse", re.I),
        DATA,
    ),
]


def classify(message: str, absorbed: bool) -> Cause:
    """The cause of one error group. ``absorbed``: every run continued through a fallback edge."""
    if absorbed:
        return FALLBACK
    for pattern, cause in _RULES:
        if pattern.search(message):
            return cause
    return UNKNOWN


# A batch that fails as a whole never ran its records: the fix is about its data source, then a new batch.
BATCH_FIXES = {
    "rate_limit": "The source was rate-limited: wait, then create the batch again (smaller, if it is large).",
    "credentials": "Reconnect the integration the batch reads from, then create the batch again.",
    "provider": "The data source timed out or was unavailable: create the batch again later.",
    "data": "Check the batch's data (segment, file, filter or record ids), then create the batch again.",
}
BATCH_FIX_DEFAULT = "Read the message, fix the batch's data source, then create the batch again."
