"""Prometheus metrics: every counter and histogram cargo-mcp exports, defined once.

They live in prometheus-client's default registry (which also carries the process and Python collectors:
memory, CPU, open files) and are served only by ``serve --http --metrics-port`` (see docs/deploy.md).
Counting costs a few hundred nanoseconds, so stdio servers count too and simply never export.
"""

from __future__ import annotations

from prometheus_client import Counter, Histogram

TOOL_CALLS = Counter("cargo_mcp_tool_calls", "Tool calls, by tool.", ["tool"])
TOOL_ERRORS = Counter("cargo_mcp_tool_errors", "Tool calls answered with an error, by tool.", ["tool"])
TOOL_SECONDS = Histogram(
    "cargo_mcp_tool_duration_seconds",
    "Tool call latency, by tool.",
    ["tool"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)
CARGO_RESPONSES = Counter(
    "cargo_mcp_cargo_responses", "Answers from the Cargo API, by HTTP status ('network': none arrived).", ["status"]
)
CARGO_RETRIES = Counter("cargo_mcp_cargo_retries", "Cargo calls retried (429, 502, 503, 504, connection errors).")
DOWNLOADS = Counter("cargo_mcp_downloads", "Files fetched from signed download URLs.")
DOWNLOAD_BYTES = Counter("cargo_mcp_download_bytes", "Bytes fetched from signed download URLs.")
GUARD_REFUSALS = Counter("cargo_mcp_guard_refusals", "SQL statements the guard refused before sending.")
HTTP_REFUSALS = Counter(
    "cargo_mcp_http_refusals",
    "HTTP requests refused before any tool ran, by reason (host, origin, unauthenticated, forbidden, unavailable).",
    ["reason"],
)
