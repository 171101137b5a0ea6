claude mcp add cargo --scope user --env CARGO_API_TOKEN="$CARGO_API_TOKEN" -- uvx cargo-ai-mcp serve
