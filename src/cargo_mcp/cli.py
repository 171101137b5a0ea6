"""`cargo-mcp` entry point: serve (stdio | streamable HTTP), doctor, demo, sandbox, check-sql."""

from __future__ import annotations

import argparse
import dataclasses
import socket
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cargo-mcp", description="Read-only MCP server for Cargo.")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--sandbox", action="store_true", help="use the embedded sandbox even if a token is set")
    serve.add_argument(
        "--sandbox-port", type=_port, help="serve the embedded sandbox's API on this loopback port (default: any free)"
    )

    sub.add_parser("doctor", help="check the token, base URL, SQL endpoint, folders and backend; exit 0 if all pass")

    sub.add_parser("demo", help="walk the three journeys with an MCP client against the sandbox")

    sb = sub.add_parser("sandbox", help="serve the embedded Cargo-API-compatible sandbox")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=_port, default=8765)
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
    if args.command == "doctor":
        from cargo_mcp.doctor import run_doctor

        return run_doctor()
    if args.command == "demo":
        from cargo_mcp.demo import run_demo

        return run_demo()
    return _sandbox(args)


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is a number from 1 to 65535 (0: any free port), got {text!r}")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    from cargo_mcp.settings import ConfigError, Settings, misspelled_variables

    for warning in misspelled_variables():
        print(f"cargo-mcp: warning: {warning}", file=sys.stderr)
    try:
        settings = Settings.from_env(force_sandbox=args.sandbox)
        if args.sandbox_port:
            settings = dataclasses.replace(settings, sandbox_port=args.sandbox_port)
        if settings.sandbox and settings.sandbox_port and not _free(settings.sandbox_port):
            raise ConfigError(
                f"the sandbox port {settings.sandbox_port} is in use; choose another --sandbox-port or "
                "CARGO_MCP_SANDBOX_PORT (or leave it unset for any free port)."
            )
    except ConfigError as e:
        print(f"cargo-mcp: configuration error: {e}", file=sys.stderr)
        return 2
    from cargo_mcp.server.app import build_server

    if settings.sandbox:
        why = "--sandbox given" if args.sandbox else "no CARGO_API_TOKEN set"
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


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _check_sql(args: argparse.Namespace) -> int:
    import json

    from cargo_mcp.guard.sql import check

    sql = sys.stdin.read() if args.sql == "-" else args.sql
    verdict = check(sql, args.max_rows)
    print(json.dumps(verdict.as_dict(), ensure_ascii=False, indent=2))
    return 0 if verdict.allowed else 1


def _sandbox(args: argparse.Namespace) -> int:
    from cargo_mcp.sandbox.cache import default_root
    from cargo_mcp.sandbox.server import Sandbox
    from cargo_mcp.settings import ConfigError, Settings

    try:
        cache = Settings.from_env(force_sandbox=True).sandbox_cache or default_root()
    except ConfigError as e:
        print(f"cargo-mcp: configuration error: {e}", file=sys.stderr)
        return 2
    t0 = time.perf_counter()
    sandbox = Sandbox(seed=args.seed, scale=args.scale, token=args.token, cache=cache)
    try:
        url = sandbox.serve_in_thread(args.host, args.port)
    except OSError as e:
        sandbox.close()
        print(f"cargo-mcp: configuration error: {e}", file=sys.stderr)
        return 2
    took = time.perf_counter() - t0
    print(f"Cargo sandbox ready in {took:.1f} s at {url}/v1 ({sandbox.cache_note})", file=sys.stderr)
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
