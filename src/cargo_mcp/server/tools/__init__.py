"""MCP tools, one module per concern."""
