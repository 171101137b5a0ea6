"""cargo-mcp: MCP server for the Cargo orchestration API."""

__version__ = "0.1.0"
