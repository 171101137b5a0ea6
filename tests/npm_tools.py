"""Install pinned npm packages for the tests into a cache folder (once per machine), then run them with Node.

The folder is `$CARGO_MCP_NPM_CACHE/<name>` or `~/.cache/cargo-mcp/npm/<name>`. A marker file records the
exact package set, so a changed pin reinstalls; a file lock keeps parallel test processes from racing.
Missing Node or a failed install fails the test: CI installs these packages itself, nothing is skipped.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import subprocess
from pathlib import Path


def cache_root() -> Path:
    """Where the npm test packages live."""
    configured = os.environ.get("CARGO_MCP_NPM_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "cargo-mcp" / "npm"


def node_executable() -> str:
    """The `node` binary; fails with a clear message when Node.js is not installed."""
    node = shutil.which("node")
    if node is None:
        raise RuntimeError("Node.js is required by this test (install Node 20+ so that `node` is on PATH)")
    return node


def ensure_node_packages(name: str, packages: dict[str, str]) -> Path:
    """Install `packages` ({name: exact version}) under the cache folder `name` and return that folder."""
    root = cache_root() / name
    root.mkdir(parents=True, exist_ok=True)
    wanted = json.dumps(packages, sort_keys=True)
    marker = root / ".installed"
    with open(root / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists() and marker.read_text() == wanted:
            return root
        npm = shutil.which("npm")
        if npm is None:
            raise RuntimeError("npm is required by this test (install Node 20+ with npm)")
        manifest = {"name": f"cargo-mcp-test-{name}", "private": True, "dependencies": packages}
        (root / "package.json").write_text(json.dumps(manifest, indent=2))
        specs = [f"{pkg}@{version}" for pkg, version in packages.items()]
        proc = subprocess.run(
            [npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *specs],
            cwd=root,
            capture_output=True,
            text=True,
            timeout=600,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"npm install {' '.join(specs)} failed (rc={proc.returncode}):\n{proc.stderr[-4000:]}")
        marker.write_text(wanted)
    return root
