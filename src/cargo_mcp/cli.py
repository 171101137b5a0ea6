"""`cargo-ai-mcp` (alias `cargo-mcp`) entry point: serve (stdio | streamable HTTP), demo, sandbox, check-sql."""

from __future__ import annotations

import argparse
import sys
import time

from cargo_mcp import __version__
from cargo_mcp.extras import sandbox_unavailable


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cargo-ai-mcp", description="Read-only MCP server for Cargo.")
    parser.add_argument("--version", action="version", version=f"cargo-ai-mcp {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--sandbox", action="store_true", help="use the embedded sandbox even if a token is set")

    sub.add_parser("demo", help="walk the three journeys with an MCP client against the sandbox")

    sb = sub.add_parser("sandbox", help="serve the embedded Cargo-API-compatible sandbox")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8765)
    sb.add_argument("--token", help="API token of the first workspace (default: derived from the seed)")
    sb.add_argument("--seed", type=int, default=7)
    sb.add_argument("--scale", type=float, default=1.0, help="multiply the main workspace's run count")

    check = sub.add_parser("check-sql", help="print the SQL guard's verdict as JSON; exit 0 if allowed, 1 if not")
    check.add_argument("sql", help="the SQL to check ('-' reads it from standard input)")
    check.add_argument("--max-rows", type=int, default=1000, help="row limit to apply (default 1000, at most 10000)")

    args = parser.parse_args(argv)
    if args.command == "check-sql":
        return _check_sql(args)
    if args.command == "serve":
        return _serve(args)
    if args.command in ("demo", "sandbox") and (missing := sandbox_unavailable(args.command)):
        print(f"cargo-mcp: {missing}", file=sys.stderr)
        return 2
    if args.command == "demo":
        from cargo_mcp.demo import run_demo

        return run_demo()
    return _sandbox(args)


def _serve(args: argparse.Namespace) -> int:
    from cargo_mcp.settings import ConfigError, Settings

    try:
        settings = Settings.from_env(force_sandbox=args.sandbox)
    except ConfigError as e:
        print(f"cargo-mcp: configuration error: {e}", file=sys.stderr)
        return 2
    why = "--sandbox given" if args.sandbox else "no CARGO_API_TOKEN set"
    if settings.sandbox and (missing := sandbox_unavailable("serve --sandbox" if args.sandbox else "serve")):
        print(f"cargo-mcp: {why}: {missing} Set CARGO_API_TOKEN to use Cargo.", file=sys.stderr)
        return 2
    from cargo_mcp.server.app import build_server

    if settings.sandbox:
        print(
            f"cargo-mcp: {why}: using the embedded SANDBOX (synthetic demo data, not your Cargo workspace). "
            "Set CARGO_API_TOKEN to use Cargo.",
            file=sys.stderr,
        )
    else:
        print(f"cargo-mcp: using Cargo at {settings.base_url}", file=sys.stderr)
    mcp = build_server(settings)
    if args.http:
        print(f"cargo-mcp: streamable HTTP on http://{args.host}:{args.port}/mcp", file=sys.stderr)
        if args.host not in ("127.0.0.1", "localhost", "::1"):
            print(
                "cargo-mcp: warning: listening beyond loopback without authentication; anyone who can reach this "
                "port uses your Cargo token. Put it behind an authenticating proxy.",
                file=sys.stderr,
            )
        mcp.run(transport="streamable-http", host=args.host, port=args.port)
    else:
        mcp.run()
    return 0


def _check_sql(args: argparse.Namespace) -> int:
    import json

    from cargo_mcp.guard.sql import check

    sql = sys.stdin.read() if args.sql == "-" else args.sql
    verdict = check(sql, args.max_rows)
    print(json.dumps(verdict.as_dict(), ensure_ascii=False, indent=2))
    return 0 if verdict.allowed else 1


def _sandbox(args: argparse.Namespace) -> int:
    from cargo_mcp.sandbox.server import Sandbox

    t0 = time.perf_counter()
    sandbox = Sandbox(seed=args.seed, scale=args.scale, token=args.token)
    url = sandbox.serve_in_thread(args.host, args.port)
    print(f"Cargo sandbox ready in {time.perf_counter() - t0:.1f} s at {url}/v1", file=sys.stderr)
    for ws in sandbox.workspaces:
        print(f"  workspace {ws.name!r} {ws.uuid}: {len(ws.runs)} runs, token {ws.token}", file=sys.stderr)
    print(
        f"Point cargo-mcp at it: CARGO_API_BASE_URL={url} CARGO_API_TOKEN=<token> cargo-mcp serve",
        file=sys.stderr,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
