"""Typed errors of the Cargo API client: HTTP status, Cargo ``reason``, message and a next step.

The tree (the server reports each as a tool error with ``str(e)``; anything else is a bug of cargo-mcp)::

    CargoError               any failure talking to Cargo; str(e) is a whole, token-free sentence
    ├── CargoApiError        Cargo answered an error status, or a body that is not JSON
    │   └── UrlExpired       a signed download URL was refused (cargo_mcp.results.fetch)
    ├── CargoNetworkError    Cargo (or a file host) could not be reached, retries included
    └── CargoShapeError      Cargo answered JSON the wire models cannot read: a missing key, a
                             wrong JSON type ([], null, {} where an object with keys belongs), a
                             field of another type; raised only where the client parses an answer
"""

from __future__ import annotations

from cargo_mcp.api.sql import EXPORT_CAP

# Where a workspace API token comes from (every message that asks for one says so).
TOKEN_SOURCE = "Cargo → Settings → API"

# What to do next, by Cargo reason (docs/cargo-contract.md §2.3) — written for the model reading a tool error.
HINTS: dict[str, str] = {
    "runNotFound": "Check the run UUID; list_runs(workflow=…) lists the runs of a workflow.",
    "batchNotFound": "Check the batch UUID; list_batches lists the batches, newest first (workflow=, created_after=).",
    "releaseNotFound": "Check the release UUID, or locate the graph by workflow, batch_uuid or run_uuid.",
    "workflowNotFound": "Check the workflow; list_workflows lists names and UUIDs.",
    "toolNotFound": "Check the tool UUID; list_workflows(kind='tool') lists them.",
    "playNotFound": "Check the play UUID; list_workflows(kind='play') lists them.",
    "nodeNotFound": "Use a slug from get_workflow_nodes; its output_candidates are valid output slugs.",
    "noRunsFound": "No run matches these filters; loosen them (count_runs shows how many match).",
    "noRecordsFound": "No record matches these filters; loosen them.",
    "tooManyRuns": f"More than {EXPORT_CAP:,} runs match; narrow the filters (a batch or a time window) or page "
    "with limit/offset.",
    "tooManyRecords": f"More than {EXPORT_CAP:,} records match; narrow the filters.",
    "batchNotFinished": "The batch is still running; wait for it (get_batch shows progress) or download "
    "the runs finished so far with download_outputs(batch_uuid=…).",
    "invalidPayload": "Fix the argument named in the message and call again.",
    "queryFailed": "Fix the SQL as the ClickHouse message says and call again.",
    "unauthorized": "The API token is missing or invalid: set CARGO_API_TOKEN to a workspace API token "
    f"({TOKEN_SOURCE}).",
    "forbidden": "The token cannot access this workspace: check CARGO_WORKSPACE_UUID or use a token of that workspace.",
}

STATUS_HINTS: dict[int, str] = {
    401: HINTS["unauthorized"],
    403: HINTS["forbidden"],
    404: "Check the UUID: it does not exist in this workspace.",
    429: "Cargo is rate-limiting this token; wait a minute and retry with fewer calls.",
}


class CargoError(Exception):
    """Any failure talking to Cargo; ``str(e)`` is a complete, token-free sentence for the model."""

    def __init__(
        self, message: str, *, status: int | None = None, reason: str | None = None, hint: str | None = None
    ) -> None:
        self.message = message
        self.status = status
        self.reason = reason
        self.hint = hint if hint is not None else _hint(status, reason)
        super().__init__(self.describe())

    def describe(self) -> str:
        tag = ", ".join(x for x in (f"HTTP {self.status}" if self.status else "", self.reason or "") if x)
        text = f"Cargo API error ({tag}): {self.message}" if tag else f"Cargo API error: {self.message}"
        return f"{text} Next step: {self.hint}" if self.hint else text


class CargoApiError(CargoError):
    """Cargo answered with an error status (or an unreadable body)."""


class CargoNetworkError(CargoError):
    """Cargo could not be reached (connection failure or timeout), retries included."""


class CargoShapeError(CargoError):
    """A successful answer of a shape the wire models do not accept (the API may have changed)."""

    def __init__(self, where: str, endpoint: str) -> None:
        self.where = where
        self.endpoint = endpoint
        super().__init__(
            f"Cargo answered in a shape cargo-mcp does not understand ({where}; {endpoint}).",
            hint="The API may have changed: report this to the cargo-mcp maintainers; execute_query and the "
            "other tools may still work.",
        )

    def describe(self) -> str:
        return f"{self.message} {self.hint}"


class NotCargoError(CargoError):
    """The base URL answered, but not like Cargo's API (an HTML page, or a 404 without Cargo's error body)."""


def _hint(status: int | None, reason: str | None) -> str | None:
    if reason and reason in HINTS:
        return HINTS[reason]
    if status is not None and status in STATUS_HINTS:
        return STATUS_HINTS[status]
    if status is not None and status >= 500:
        return "Cargo had a server error; retry in a minute."
    return None
