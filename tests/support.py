"""Constants shared by test modules."""

from cargo_mcp.api.retry import RetryPolicy

# Quick retries so fault-injection tests stay fast; same logic as production.
FAST_RETRY = RetryPolicy(max_attempts=3, base_delay=0.01, max_delay=0.05, max_total=5.0)

# The official TypeScript client (its types are Cargo's published contract).
CARGO_CLIENT = {"@cargo-ai/api": "1.0.57"}

# The public interface: every tool the server registers.
TOOLS = {
    "list_workflows",
    "get_workflow_nodes",
    "get_run",
    "get_batch",
    "count_runs",
    "list_runs",
    "get_run_metrics",
    "download_outputs",
    "execute_query",
    "inspect_failures",
    "trace_run",
    "read_result",
    "list_releases",
    "list_batches",
    "save_result",
}
