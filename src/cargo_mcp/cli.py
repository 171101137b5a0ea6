"""`cargo-mcp` entry point. Today: `cargo-mcp sandbox` serves the embedded Cargo-compatible sandbox."""

from __future__ import annotations

import argparse
import sys
import time


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="cargo-mcp")
    sub = parser.add_subparsers(dest="command", required=True)
    sb = sub.add_parser("sandbox", help="serve the embedded Cargo-API-compatible sandbox")
    sb.add_argument("--host", default="127.0.0.1")
    sb.add_argument("--port", type=int, default=8765)
    sb.add_argument("--token", help="API token of the first workspace (default: derived from the seed)")
    sb.add_argument("--seed", type=int, default=7)
    sb.add_argument("--scale", type=float, default=1.0, help="multiply the main workspace's run count")
    args = parser.parse_args(argv)
    from cargo_mcp.sandbox.server import Sandbox

    t0 = time.perf_counter()
    sandbox = Sandbox(seed=args.seed, scale=args.scale, token=args.token)
    url = sandbox.serve_in_thread(args.host, args.port)
    print(f"Cargo sandbox ready in {time.perf_counter() - t0:.1f} s at {url}/v1", file=sys.stderr)
    for ws in sandbox.workspaces:
        print(f"  workspace {ws.name!r} {ws.uuid}: {len(ws.runs)} runs, token {ws.token}", file=sys.stderr)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        sandbox.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
