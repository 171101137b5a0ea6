"""The fault matrix: every tool against every fault the sandbox injects, and the outcome each cell must have.

A fault the retries outlast (it hits fewer times than the retry budget) must leave the answer exactly as it is
without the fault; any other fault must end in a clean tool error that names the cause and the next step — never
an internal error, a traceback or a bare "Error executing tool". ``tests/test_fault_matrix.py`` runs every cell
against the shared sandbox; ``docs/fault-matrix.md`` is :func:`render`-ed from these definitions
(``CARGO_MCP_WRITE_DOCS=1`` rewrites it, and a test fails while it is out of date).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from cargo_mcp.api.retry import RetryPolicy
from tests.support import FAST_RETRY, TOOLS

ALWAYS = 1000  # a count no call uses up: every matching request misbehaves
TWICE = FAST_RETRY.max_attempts - 1  # the most faults one call outlasts (production tries more often)
SHORT_TIMEOUT = 0.1  # seconds: the Cargo client's timeout in the cells whose requests hang past it

API, QUERY, DOWNLOAD, FILES = "/v1/", "/v1/orchestration/query", "/v1/orchestration/runs/download-outputs", "/files/"
EVERY_TOOL = frozenset(TOOLS)
CALLS_CARGO = EVERY_TOOL - {"read_result", "save_result"}  # they read the local result store only
QUERIES = frozenset({"execute_query", "inspect_failures"})
FETCHES = frozenset({"download_outputs"})

# Next steps, as the errors word them.
AGAIN = "retry in a minute"
NETWORK = ("Check the network and CARGO_API_BASE_URL, then retry",)
MAINTAINERS = "report this to the cargo-mcp maintainers"
ODD_URL = "retry; if it repeats, report it to the cargo-mcp maintainers"
FILE_AGAIN = "Call download_outputs again in a minute"
CLOCK = "Check that this computer's clock is right"


@dataclass(frozen=True)
class Error:
    """A clean tool error: its text holds every phrase of ``cause`` and of ``next_step``."""

    cause: tuple[str, ...]
    next_step: tuple[str, ...]


@dataclass(frozen=True)
class Fault:
    """One column of the matrix: a sandbox fault (``spec`` is the body of ``POST /_sandbox/faults``; ``{base}`` in
    a string stands for the sandbox's base URL), the tools it is run against and the tools it reaches (the others
    must answer as without it), and the error those give — ``None`` when the retries outlast it."""

    id: str
    spec: dict[str, Any]
    what: str
    error: Error | None = None
    runs: frozenset[str] = EVERY_TOOL
    reaches: frozenset[str] = CALLS_CARGO
    timeout: float | None = None  # the Cargo client's timeout in this column (default: the test's)
    kind: str = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "kind", self.spec["kind"])

    def outcome(self, tool: str) -> Error | None:
        return self.error if tool in self.reaches else None

    def body(self, base_url: str) -> dict[str, Any]:
        """The fault to register on the sandbox at ``base_url``."""
        filled: dict[str, Any] = json.loads(json.dumps(self.spec).replace("{base}", base_url))
        return filled


def api(
    fid: str,
    what: str,
    error: Error | None = None,
    *,
    path: str = API,
    runs: frozenset[str] = EVERY_TOOL,
    timeout: float | None = None,
    **spec: Any,
) -> Fault:
    """A fault on Cargo's API (``path`` narrows it to one endpoint and the tools that call it)."""
    body = {"path": path, **spec}
    scope = {"runs": runs, "reaches": runs & CALLS_CARGO} if path != API else {}
    return Fault(fid, body, what, error, timeout=timeout, **scope)


def file(fid: str, what: str, error: Error | None = None, **spec: Any) -> Fault:
    """A fault on the signed download URLs' file host."""
    return Fault(fid, {"path": FILES, **spec}, what, error, runs=FETCHES, reaches=FETCHES)


SHAPE = Error(("Cargo answered in a shape cargo-mcp does not understand",), (MAINTAINERS,))
FILE_MALFORMED = Error(
    ("The downloaded JSON file is malformed",), ("Retry the download; if it persists, try the other format",)
)

FAULTS: tuple[Fault, ...] = (
    # --- Cargo's API, every endpoint ------------------------------------------------------------------------
    api("status-503-twice", f"HTTP 503 on the first {TWICE} requests", kind="status", status=503, count=TWICE),
    api(
        "status-503-always",
        "HTTP 503 on every request",
        Error(("HTTP 503",), (AGAIN,)),
        kind="status",
        status=503,
        count=ALWAYS,
    ),
    api(
        "status-429-retry-after-120",
        "HTTP 429 with Retry-After: 120 (longer than the retry budget)",
        Error(("HTTP 429", "Cargo asked to retry after 120 s"), ("Wait 120 s",)),
        kind="status",
        status=429,
        retryAfter=120,
        count=ALWAYS,
    ),
    api(
        "status-500",
        "HTTP 500 (not retried)",
        Error(("HTTP 500",), (AGAIN,)),
        kind="status",
        status=500,
        count=ALWAYS,
    ),
    api("hang-briefly", f"the first {TWICE} requests answer after 0.1 s", kind="hang", seconds=0.1, count=TWICE),
    api(
        "hang-past-timeout",
        f"every request hangs 0.5 s, past a {SHORT_TIMEOUT} s timeout",
        Error(("the request timed out", f"after {FAST_RETRY.max_attempts} attempts"), NETWORK),
        timeout=SHORT_TIMEOUT,
        kind="hang",
        seconds=0.5,
        count=ALWAYS,
    ),
    api("drop-twice", f"the connection drops mid-answer on the first {TWICE} requests", kind="drop", count=TWICE),
    api(
        "drop-always",
        "the connection drops mid-answer on every request",
        Error(("the connection was dropped", f"after {FAST_RETRY.max_attempts} attempts"), NETWORK),
        kind="drop",
        count=ALWAYS,
    ),
    api(
        "malformed",
        "200 with a body that is not JSON",
        Error(("a body that is not valid JSON",), ("retry the call. If it repeats, check that CARGO_API_BASE_URL",)),
        kind="malformed",
        count=ALWAYS,
    ),
    api("body-array", "200 with the body []", SHAPE, kind="body", body=[], count=ALWAYS),
    api("body-null", "200 with the body null", SHAPE, kind="body", body=None, count=ALWAYS),
    api("body-empty-object", "200 with the body {}", SHAPE, kind="body", body={}, count=ALWAYS),
    api(
        "redirect",
        "302 to another host",
        Error(("redirect (HTTP 302)", "evil.example"), ("Check CARGO_API_BASE_URL: Cargo's API does not redirect",)),
        kind="redirect",
        location="https://evil.example/v1/login?token=x",
        count=ALWAYS,
    ),
    api(
        "expired-url",
        "403 with the XML AccessDenied body of an expired signed URL",
        Error(("HTTP 403",), ("check CARGO_WORKSPACE_UUID",)),
        kind="expired_url",
        count=ALWAYS,
    ),
    # --- the SQL endpoint ----------------------------------------------------------------------------------
    api(
        "query-rows-not-a-list",
        'the query answers {"rows": "x"}',
        SHAPE,
        path=QUERY,
        runs=QUERIES,
        kind="body",
        body={"rows": "x"},
        count=ALWAYS,
    ),
    api(
        "query-row-not-an-object",
        'the query answers {"rows": [1]}',
        SHAPE,
        path=QUERY,
        runs=QUERIES,
        kind="body",
        body={"rows": [1]},
        count=ALWAYS,
    ),
    # --- the download URL Cargo gives ----------------------------------------------------------------------
    api(
        "url-other-loopback-port",
        "the download URL is on another loopback port",
        Error(("loopback address other than the one allowed",), (ODD_URL,)),
        path=DOWNLOAD,
        runs=FETCHES,
        kind="body",
        body={"url": "http://127.0.0.1:9/files/x.json?signature=s"},
        count=ALWAYS,
    ),
    api(
        "url-bad-port",
        "the download URL has port 99999",
        Error(("not a valid URL",), (ODD_URL,)),
        path=DOWNLOAD,
        runs=FETCHES,
        kind="body",
        body={"url": "http://127.0.0.1:99999/files/x.json?signature=s"},
        count=ALWAYS,
    ),
    api(
        "url-nul",
        "the download URL holds a NUL byte",
        Error(("a space or a control character",), (ODD_URL,)),
        path=DOWNLOAD,
        runs=FETCHES,
        kind="body",
        body={"url": "{base}/files/a\u0000b.json?signature=s"},
        count=ALWAYS,
    ),
    api(
        "url-foreign-host",
        "the download URL is on a host not allowed",
        Error(("not an allowed download host",), ("add it to CARGO_MCP_DOWNLOAD_HOSTS",)),
        path=DOWNLOAD,
        runs=FETCHES,
        kind="body",
        body={"url": "https://files.evil.example/x.json?signature=s"},
        count=ALWAYS,
    ),
    # --- the file host behind the signed URLs ---------------------------------------------------------------
    file("file-status-503-twice", f"HTTP 503 on the first {TWICE} fetches", kind="status", status=503, count=TWICE),
    file(
        "file-status-503-always",
        "HTTP 503 on every fetch",
        Error(("the file host answered HTTP 503", f"after {FAST_RETRY.max_attempts} attempts"), (FILE_AGAIN,)),
        kind="status",
        status=503,
        count=ALWAYS,
    ),
    file(
        "file-status-429-retry-after-120",
        "HTTP 429 with Retry-After: 120",
        Error(("the file host asked to retry after 120 s",), ("Wait 120 s",)),
        kind="status",
        status=429,
        retryAfter=120,
        count=ALWAYS,
    ),
    file("file-status-403-once", "HTTP 403 with a JSON body once: a fresh URL is asked for", kind="status", status=403),
    file(
        "file-status-403-always",
        "HTTP 403 on every fetch",
        Error(("the download URL was refused (HTTP 403)",), (CLOCK,)),
        kind="status",
        status=403,
        count=ALWAYS,
    ),
    file(
        "file-status-404",
        "HTTP 404 (not retried)",
        Error(("failed with HTTP 404",), ("Retry the download",)),
        kind="status",
        status=404,
        count=ALWAYS,
    ),
    file("file-hang-briefly", f"the first {TWICE} fetches answer after 0.1 s", kind="hang", seconds=0.1, count=TWICE),
    file("file-drop-twice", f"the connection drops on the first {TWICE} fetches", kind="drop", count=TWICE),
    file(
        "file-drop-always",
        "the connection drops on every fetch",
        Error(("the connection dropped", f"after {FAST_RETRY.max_attempts} attempts"), (FILE_AGAIN,)),
        kind="drop",
        count=ALWAYS,
    ),
    file("file-malformed", "a file that is not JSON", FILE_MALFORMED, kind="malformed", count=ALWAYS),
    file(
        "file-body-array",
        "the file [] (no rows where the count promised some)",
        Error(("came back as a file of 0 rows",), ("Download again; if it repeats, add created_before",)),
        kind="body",
        body=[],
        count=ALWAYS,
    ),
    file("file-body-null", "the file null", FILE_MALFORMED, kind="body", body=None, count=ALWAYS),
    file("file-body-empty-object", "the file {}", FILE_MALFORMED, kind="body", body={}, count=ALWAYS),
    file(
        "file-redirect",
        "302 to another host",
        Error(
            ("redirected to 'evil.example'", "redirects are not followed"),
            ("Retry; if it persists, report it to Cargo",),
        ),
        kind="redirect",
        location="https://evil.example/x.json",
        count=ALWAYS,
    ),
    file(
        "file-expired-url-once",
        "403 AccessDenied (Request has expired) once: a fresh URL is asked for",
        kind="expired_url",
    ),
    file(
        "file-expired-url-always",
        "403 AccessDenied (Request has expired) on every fetch",
        Error(("the download URL was refused (HTTP 403)", "expired"), (CLOCK,)),
        kind="expired_url",
        count=ALWAYS,
    ),
)

CELLS = [(tool, f) for f in FAULTS for tool in sorted(f.runs)]

# --- the document ------------------------------------------------------------------------------------------------
MARKS = {"answer": "✔", "error": "✖", "unreached": "○", "not run": ""}


def mark(tool: str, f: Fault) -> str:
    if tool not in f.runs:
        return MARKS["not run"]
    if tool not in f.reaches:
        return MARKS["unreached"]
    return MARKS["answer"] if f.error is None else MARKS["error"]


def render() -> str:
    """docs/fault-matrix.md."""
    tools = sorted(TOOLS)
    lines = [
        "# Fault matrix",
        "",
        "<!-- Generated from tests/fault_matrix.py: CARGO_MCP_WRITE_DOCS=1 uv run pytest tests/test_fault_matrix.py"
        " -->",
        "",
        "Every tool against every fault the [sandbox](sandbox.md#fault-injection-tests-only) injects "
        "(`tests/test_fault_matrix.py` runs each cell). A fault the retries outlast must leave the answer exactly as "
        "without it; any other must end in a tool error that names the cause and the next step — never an internal "
        'error, a traceback, or a bare "Error executing tool". The cells run with the tests\' retry policy '
        f"({FAST_RETRY.max_attempts} attempts; the server's default tries {RetryPolicy().max_attempts} times), so a "
        f"fault hitting {TWICE} times is one every call outlasts.",
        "",
        f"{MARKS['answer']} the same answer as without the fault; {MARKS['error']} a clean error (the table below "
        f"gives its cause and next step); {MARKS['unreached']} the tool makes no request the fault hits and answers "
        "as usual; blank: not run, the tool makes no such request.",
        "",
        "| fault | " + " | ".join(f"`{t}`" for t in tools) + " |",
        "|---|" + "---|" * len(tools),
    ]
    lines += [f"| `{f.id}` | " + " | ".join(mark(t, f) for t in tools) + " |" for f in FAULTS]
    lines += [
        "",
        "## The faults and the errors they give",
        "",
        "| fault | kind | path | injected | the error names | next step |",
        "|---|---|---|---|---|---|",
    ]
    for f in FAULTS:
        path = f"`{f.spec['path']}`" if "path" in f.spec else "signed URLs"
        cause = "; ".join(f.error.cause) if f.error else "— (outlasted: the answer is unchanged)"
        step = "; ".join(f.error.next_step) if f.error else ""
        lines.append(f"| `{f.id}` | `{f.kind}` | {path} | {f.what} | {_cell(cause)} | {_cell(step)} |")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|")
