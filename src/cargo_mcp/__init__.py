"""cargo-mcp: MCP server for the Cargo orchestration API."""
