"""The Cargo API client: wire models, errors, vocabulary and the HTTP client. Knows nothing about MCP."""
