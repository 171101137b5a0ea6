"""Start-up: spawning `cargo-mcp serve` over stdio → initialize → tools/list → the first answered tools/call, in
token mode (a Cargo API: the sandbox in its own process) and in sandbox mode, cold and from the sandbox disk
cache (`CARGO_MCP_SANDBOX_CACHE`); and where the time goes: imports (the SDK among
them) and the sandbox build."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import jsonschema  # noqa: F401 (the client validates tool results with it: its one-time import is not the server's)
from mcp import Client, StdioServerParameters

from bench import procs
from bench.context import Run
from bench.interleave import interleaved, median
from bench.profile import import_times, top
from bench.report import Row, Section, Target

CACHED_TARGET = 2.0
BUILD_TARGET = 10.0
CACHE_VARIABLE = "CARGO_MCP_SANDBOX_CACHE"
SERVER_IMPORTS = "import cargo_mcp.cli, cargo_mcp.server.app"

# A fresh process builds the sandbox in phases (what `serve --sandbox` does before it can answer a call).
PHASES = r"""
import json, time
t0 = time.perf_counter()
from cargo_mcp.sandbox.server import Sandbox
t1 = time.perf_counter()
sb = Sandbox()
t2 = time.perf_counter()
sb.serve_in_thread()
t3 = time.perf_counter()
ws = sb.workspaces[0]
print(json.dumps({"imports": t1 - t0, "build": t2 - t1, "serve": t3 - t2, "runs": len(ws.runs),
                  "spans": sum(len(r.executions) for r in ws.runs), "batches": len(ws.batches)}))
sb.close()
"""


# The same build under cProfile (from the cache folder in CARGO_MCP_SANDBOX_CACHE if set), summed by package: where
# a slow build spends its time (run only to explain one).
BUILD_PROFILE = r"""
import cProfile, os, pstats
from pathlib import Path
from bench.profile import by_package, shares
from cargo_mcp.sandbox.server import Sandbox
cache = os.environ.get("CARGO_MCP_SANDBOX_CACHE")
prof = cProfile.Profile()
prof.enable()
sb = Sandbox(cache=Path(cache) if cache else None)
prof.disable()
print(shares(by_package(pstats.Stats(prof)), 5))
sb.close()
"""
ROOT = Path(__file__).resolve().parent.parent


def build_profile(env: dict[str, str]) -> str:
    """`42% cargo_mcp.sandbox, 30% chdb, …`: own time per package while a fresh process builds the sandbox."""
    out = subprocess.run([procs.PYTHON, "-c", BUILD_PROFILE], capture_output=True, text=True, check=True, cwd=ROOT,
                         env=env, timeout=900)  # fmt: skip
    return out.stdout.strip().splitlines()[-1]


class Starts:
    """Milestones (seconds from spawn) of each start, per mode."""

    def __init__(self) -> None:
        self.milestones: dict[str, list[tuple[float, float, float]]] = {}

    def variant(self, mode: str, env: Callable[[], dict[str, str]], sandbox: bool) -> Callable[[], Awaitable[None]]:
        args = ["-m", "cargo_mcp.cli", "serve"] + ["--sandbox"] * sandbox
        self.milestones[mode] = []

        async def start() -> None:
            params = StdioServerParameters(command=procs.PYTHON, args=args, env=env())
            t0 = time.perf_counter()
            async with Client(params, mode="legacy") as client:
                initialized = time.perf_counter() - t0
                await client.list_tools()
                listed = time.perf_counter() - t0
                r = await client.call_tool("list_workflows", {})
                answered = time.perf_counter() - t0
                if r.is_error:
                    raise RuntimeError(f"list_workflows failed at start-up: {r.content}")
            self.milestones[mode].append((initialized, listed, answered))

        return start

    def median(self, mode: str, i: int) -> float:
        return median([m[i] for m in self.milestones[mode]])


async def measure(run: Run) -> Section:
    sb = run.sandbox()
    cli = run.cli()
    rounds = run.n(3, 1)
    starts = Starts()
    cache_dir = run.tmp / "sandbox-cache"

    def cold_env() -> dict[str, str]:
        env = procs.base_env()
        env[CACHE_VARIABLE] = tempfile.mkdtemp(dir=run.tmp, prefix="cold-cache-")  # empty: a cold start
        return env

    async def one_command() -> None:
        await cli.run("orchestration.tool.all")

    variants: dict[str, Callable[[], Awaitable[object]]] = {
        "CLI": one_command,
        "token": starts.variant("token", sb.server_env, sandbox=False),
        "cold": starts.variant("cold", cold_env, sandbox=True),
        "cached": starts.variant("cached", lambda: {**procs.base_env(), CACHE_VARIABLE: str(cache_dir)}, True),
    }
    await variants["cached"]()  # fills the cache
    starts.milestones["cached"].clear()
    samples = await interleaved(variants, rounds, warmup=0)
    cli_s = median(samples["CLI"])

    imports_total, imports = import_times(SERVER_IMPORTS)
    sandbox_imports, _ = import_times("import cargo_mcp.sandbox.server")
    phases: dict[str, Any] = json.loads(
        subprocess.run([procs.PYTHON, "-c", PHASES], capture_output=True, text=True, check=True).stdout.splitlines()[-1]
    )
    heaviest = ", ".join(f"{k} {v * 1000:.0f} ms" for k, v in top(imports, 5))
    where = (
        f"imports of `cargo-mcp serve` {imports_total * 1000:.0f} ms in all (`python -X importtime`, own time per "
        f"package: {heaviest}); the sandbox's own imports (chdb, pyarrow, the generator) {sandbox_imports * 1000:.0f} ms; "
        f"a fresh sandbox build {phases['build']:.1f} s (generate {phases['runs']:,} runs and {phases['spans']:,} "
        "spans, build the tables, load the SQL engine)"
    )

    def row(name: str, mode: str, baseline: float | None, baseline_name: str, **kw: Any) -> Row:
        return Row(name, starts.median(mode, 2), "s", baseline, baseline_name, **kw)

    token_answer, cold_answer = starts.median("token", 2), starts.median("cold", 2)
    rows = [
        row("token mode: first answer", "token", cli_s, "one CLI-pattern command"),
        row("sandbox mode, cold: first answer", "cold", token_answer, "token mode"),
    ]
    rows.append(
        row("sandbox mode, cached: first answer", "cached", cold_answer, "cold",
            target=Target("<=", CACHED_TARGET),
            why=lambda: f"{where}; profile of building the sandbox from the cache in process (own time per "
            f"package): {build_profile({**procs.base_env(), CACHE_VARIABLE: str(cache_dir)})}.")
    )  # fmt: skip
    rows.append(
        Row("fresh sandbox build, in process", phases["imports"] + phases["build"] + phases["serve"], "s",
            target=Target("<", BUILD_TARGET), note="imports + generate + tables + engine + HTTP",
            why=lambda: f"{where}; profile of the build (own time per package): {build_profile(cold_env())}.")
    )  # fmt: skip
    milestones = [
        f"| {mode} | {starts.median(mode, 0):.2f} | {starts.median(mode, 1):.2f} | {starts.median(mode, 2):.2f} |"
        for mode in starts.milestones
    ]
    return Section(
        "Start-up",
        rows,
        intro=(
            "Seconds from spawning `cargo-mcp serve` over stdio (the Python SDK's client, `initialize` handshake) "
            "to the answer of the first `tools/call` (`list_workflows`). Token mode uses the sandbox in its own "
            "process as its Cargo API; sandbox mode builds the embedded sandbox in the server process"
            + f", cold with an empty `{CACHE_VARIABLE}` folder and cached from a filled one"
            + f". Interleaved: {rounds} round(s), each starting every mode once, beside one CLI-pattern command "
            "(`orchestration tool list`: Node + the official client) as the baseline of a first answer."
        ),
        notes=[
            "| mode | initialize s | tools/list s | first answer s |",
            "|---|---:|---:|---:|",
            *milestones,
            "",
            f"Where the time goes: {where}; starting its HTTP server {phases['serve'] * 1000:.0f} ms.",
        ],
    )
