"""`cargo-ai-mcp` (alias `cargo-mcp`) entry point: serve (stdio | streamable HTTP), doctor, demo, sandbox,
check-sql."""

from __future__ import annotations

import argparse
import dataclasses
import socket
import sys
import time
from typing import TYPE_CHECKING

from cargo_mcp import __version__
from cargo_mcp.console import COMMAND, say
from cargo_mcp.extras import sandbox_unavailable

if TYPE_CHECKING:
    from cargo_mcp.http_settings import HttpSettings

from cargo_mcp.api.sql import MAX_RESULT_ROWS


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "check-sql":
        return _check_sql(args)
    if args.command == "serve":
        return _serve(args)
    if args.command == "doctor":
        from cargo_mcp.doctor import run_doctor

        return run_doctor()
    if args.command in ("demo", "sandbox") and (missing := sandbox_unavailable(args.command)):
        say(f"{missing}")
        return 2
    if args.command == "demo":
        from cargo_mcp.demo import run_demo

        return run_demo()
    return _sandbox(args)


def build_parser() -> argparse.ArgumentParser:
    """The command line: serve, doctor, demo, sandbox, check-sql."""
    parser = argparse.ArgumentParser(prog=COMMAND, description="Read-only MCP server for Cargo.")
    parser.add_argument("--version", action="version", version=f"{COMMAND} {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the MCP server (stdio by default)")
    serve.add_argument("--http", action="store_true", help="serve streamable HTTP instead of stdio")
    serve.add_argument("--host", default="127.0.0.1", help="HTTP bind address (default 127.0.0.1)")
    serve.add_argument("--port", type=int, default=8000, help="HTTP port (default 8000)")
    serve.add_argument("--sandbox", action="store_true", help="use the embedded sandbox even if a token is set")
    serve.add_argument(
        "--sandbox-port", type=_port, help="serve the embedded sandbox's API on this loopback port (default: any free)"
    )
    _http_flags(serve)

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
    check.add_argument(
        "--max-rows", type=int, default=1000, help=f"row limit to apply (default 1000, at most {MAX_RESULT_ROWS})"
    )

    return parser


def _http_flags(serve: argparse.ArgumentParser) -> None:
    from cargo_mcp.http_settings import CALLER_TOKEN_MODES, OPT_OUT_FLAG

    g = serve.add_argument_group("HTTP deployments (docs/deploy.md lists the matching environment variables)")
    g.add_argument("--stateless", action="store_true", help="no sessions, JSON answers: any replica answers any call")
    g.add_argument(
        "--auth-token",
        dest="tokens",
        action="append",
        metavar="TOKEN",
        help="a bearer token callers must send (repeat to rotate; prefer CARGO_MCP_HTTP_TOKENS: flags show in ps)",
    )
    g.add_argument(
        "--caller-tokens",
        choices=CALLER_TOKEN_MODES,
        help="each caller acts with its own Cargo API token: in X-Cargo-Api-Token ('header') or as the bearer token",
    )
    g.add_argument("--oauth-issuer", help="OAuth 2.1 authorization server that issues access tokens for this server")
    g.add_argument("--oauth-resource", help="this server's public MCP URL, the tokens' audience (https://…/mcp)")
    g.add_argument("--oauth-jwks-url", help="where the issuer publishes its signing keys (JWKS)")
    g.add_argument("--oauth-scopes", help="scopes every access token must carry (comma-separated)")
    g.add_argument("--allowed-hosts", help="Host header values to accept besides the bind address (comma-separated)")
    g.add_argument("--allowed-origins", help="Origin header values to accept besides the allowed hosts' own")
    g.add_argument(
        "--forwarded-allow-ips",
        help="proxies whose X-Forwarded-For/-Proto are trusted for client address and scheme (default: none)",
    )
    g.add_argument("--metrics-port", type=int, help="serve Prometheus metrics at /metrics on this port")
    g.add_argument("--metrics-host", help="bind address of the metrics port (default 127.0.0.1)")
    g.add_argument("--log-format", choices=("text", "json"), help="log lines as text (default) or one JSON object each")
    g.add_argument(
        "--allow-caller-file-writes",
        dest="caller_file_writes",
        action="store_true",
        help="let callers with their own Cargo tokens use save_result (each in its own folder of CARGO_MCP_EXPORT_DIR)",
    )
    g.add_argument(
        OPT_OUT_FLAG,
        dest="allow_unauthenticated",
        action="store_true",
        help="serve beyond loopback WITHOUT authentication (only behind a proxy that authenticates every request)",
    )


def _port(text: str) -> int:
    if not text.isdigit() or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"a TCP port is a number from 1 to 65535 (0: any free port), got {text!r}")
    return int(text)


def _serve(args: argparse.Namespace) -> int:
    from cargo_mcp.http_settings import HTTP_VARIABLES
    from cargo_mcp.settings import ConfigError, Settings, misspelled_variables

    for warning in misspelled_variables(also_known=HTTP_VARIABLES):
        say(f"warning: {warning}")
    try:
        http = http_settings_from_args(args) if args.http else None
        settings = Settings.from_env(force_sandbox=args.sandbox, token_optional=bool(http and http.caller_tokens))
        if http is not None and http.caller_tokens and settings.sandbox:
            raise ConfigError(
                "per-caller Cargo tokens need a Cargo API, not the embedded sandbox: set CARGO_API_BASE_URL "
                "(for a demo, run `cargo-ai-mcp sandbox` and use the URL it prints)."
            )
        if args.sandbox_port:
            settings = dataclasses.replace(settings, sandbox_port=args.sandbox_port)
        if settings.sandbox and settings.sandbox_port and not _free(settings.sandbox_port):
            raise ConfigError(
                f"the sandbox port {settings.sandbox_port} is in use; choose another --sandbox-port or "
                "CARGO_MCP_SANDBOX_PORT (or leave it unset for any free port)."
            )
    except ConfigError as e:
        say(f"configuration error: {e}")
        return 2
    refusal = http.refusal() if http is not None else None
    if refusal is not None:
        say(f"{refusal}")
        return 2
    why = "--sandbox given" if args.sandbox else "no CARGO_API_TOKEN set"
    if settings.sandbox and (missing := sandbox_unavailable("serve --sandbox" if args.sandbox else "serve")):
        say(f"{why}: {missing} Set CARGO_API_TOKEN to use Cargo.")
        return 2
    from cargo_mcp.server.app import build_server

    if settings.sandbox:
        say(
            f"{why}: using the embedded SANDBOX (synthetic demo data, not your Cargo workspace). "
            "Set CARGO_API_TOKEN to use Cargo."
        )
    else:
        say(f"using Cargo at {settings.base_url}")
    if http is not None:
        from cargo_mcp.server.http import serve_http

        serve_http(settings, http)
        return 0
    build_server(settings).run()
    return 0


def http_settings_from_args(args: argparse.Namespace) -> HttpSettings:
    """The HTTP settings of a parsed `serve` command line (environment variables beneath its flags)."""
    from cargo_mcp.http_settings import HttpSettings

    names: tuple[str, ...] = ("host", "port", "stateless", "tokens", "caller_tokens", "oauth_issuer", "oauth_resource")
    names += ("oauth_jwks_url", "oauth_scopes", "allowed_hosts", "allowed_origins", "forwarded_allow_ips")
    names += ("metrics_port", "metrics_host", "log_format", "caller_file_writes", "allow_unauthenticated")
    return HttpSettings.from_env(**{n: getattr(args, n) for n in names})


def _free(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_server((host, port), family=socket.AF_INET6 if ":" in host else socket.AF_INET).close()
    except OSError:
        return False
    return True


def _check_sql(args: argparse.Namespace) -> int:
    import json

    import anyio

    from cargo_mcp.guard.async_check import check_async

    sql = sys.stdin.read() if args.sql == "-" else args.sql
    verdict = anyio.run(check_async, sql, args.max_rows)
    print(json.dumps(verdict.as_dict(), ensure_ascii=False, indent=2))
    return 0 if verdict.allowed else 1


def _sandbox(args: argparse.Namespace) -> int:
    from cargo_mcp.sandbox.cache import default_root
    from cargo_mcp.sandbox.server import Sandbox
    from cargo_mcp.settings import ConfigError, Settings

    try:
        cache = Settings.from_env(force_sandbox=True).sandbox_cache or default_root()
    except ConfigError as e:
        say(f"configuration error: {e}")
        return 2
    if args.port and not _free(args.port, args.host):  # before a build that can take a minute
        say(
            f"configuration error: the sandbox port {args.port} is in use on {args.host}; choose another --port "
            "(or 0 for any free port)."
        )
        return 2
    t0 = time.perf_counter()
    sandbox = Sandbox(seed=args.seed, scale=args.scale, token=args.token, cache=cache)
    try:
        url = sandbox.serve_in_thread(args.host, args.port)
    except OSError as e:
        sandbox.close()
        say(f"configuration error: {e.strerror or e}.")
        return 2
    took = time.perf_counter() - t0
    say(f"Cargo sandbox ready in {took:.1f} s ({sandbox.cache_note})")
    for ws in sandbox.workspaces:
        print(f"  workspace {ws.name!r} {ws.uuid}: {len(ws.runs)} runs, token {ws.token}", file=sys.stderr)
    first = sandbox.workspaces[0].token
    print(
        f"Point cargo-ai-mcp at it: CARGO_API_BASE_URL={url} CARGO_API_TOKEN={first} cargo-ai-mcp serve",
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
