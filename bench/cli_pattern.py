"""Cargo's CLI pattern as a baseline: a fresh `node` process per command running the official client
(`@cargo-ai/api`, installed by tests/npm_tools.py into its cache), its full JSON output read."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import anyio

from bench.procs import SandboxProcess
from tests.npm_tools import ensure_node_packages, node_executable
from tests.support import CARGO_CLIENT

SCRIPT = Path(__file__).with_name("cargo_cli.mjs")
TIMEOUT = 120.0


class Cli:
    """Runs one client call per Node process against ``sandbox``."""

    def __init__(self, sandbox: SandboxProcess) -> None:
        root = ensure_node_packages("cargo-ai-api", CARGO_CLIENT)
        self.script = root / "bench-cargo-cli.mjs"  # beside node_modules, so that the import resolves
        shutil.copyfile(SCRIPT, self.script)
        self.node = node_executable()
        self.config = json.dumps(
            {"baseUrl": sandbox.url, "token": sandbox.token, "workspaceUuid": sandbox.workspace_uuid}
        )

    async def run(self, call: str, *args: Any) -> bytes:
        """The command's stdout (what a model reads); fails when the command fails."""
        cmd = [self.node, str(self.script), self.config, call, json.dumps(list(args))]
        with anyio.fail_after(TIMEOUT):
            proc = await anyio.run_process(cmd, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{call} failed: {proc.stdout[-500:]!r} {proc.stderr[-500:]!r}")
        return proc.stdout

    async def json(self, call: str, *args: Any) -> Any:
        return json.loads(await self.run(call, *args))

    def fixed_cost(self) -> tuple[float, float]:
        """Seconds to start Node doing nothing, and to start it and load the client (the pattern's fixed
        cost per command)."""
        out = []
        for code in ("0", 'await import("@cargo-ai/api")'):
            cmd = [self.node, "--input-type=module", "-e", code]
            t = time.perf_counter()
            subprocess.run(cmd, cwd=self.script.parent, check=True, capture_output=True, timeout=TIMEOUT)
            out.append(time.perf_counter() - t)
        return out[0], out[1]
