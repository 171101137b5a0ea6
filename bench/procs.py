"""The processes a run starts, all on loopback: the sandbox, and cargo-mcp servers over HTTP. Each is a
context manager that stops its process (and only it) on exit; logs go to the run's temporary folder."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

SANDBOX_TOKEN = "bench-sandbox-token"
START_TIMEOUT = 900.0  # the 10× sandbox builds for minutes on a busy machine
STOP_TIMEOUT = 10.0
PYTHON = sys.executable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def base_env() -> dict[str, str]:
    """This environment without any Cargo or cargo-mcp setting (a run must not reach a real workspace)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("CARGO_", "AWS_"))}


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(STOP_TIMEOUT)


def _wait(url: str, proc: subprocess.Popen[bytes], log: Path, headers: dict[str, str] | None = None) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{proc.args!r} exited with {proc.returncode}:\n{log.read_text()[-2000:]}")
        try:
            if httpx.get(url, headers=headers, timeout=5).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer within {START_TIMEOUT:.0f} s")


@contextmanager
def _process(cmd: list[str], env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        proc = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        yield proc
    finally:
        stop(proc)


@dataclass
class SandboxProcess:
    url: str  # http://127.0.0.1:port (the API under /v1)
    token: str
    workspace_uuid: str
    pid: int
    started_in: float  # seconds from spawn to the first answer

    @property
    def headers(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.token}"}

    def server_env(self, **extra: str) -> dict[str, str]:
        """The environment of a cargo-mcp server pointed at this sandbox (token mode)."""
        return {**base_env(), "CARGO_API_TOKEN": self.token, "CARGO_API_BASE_URL": self.url, **extra}


@contextmanager
def sandbox(tmp: Path, scale: float = 1.0) -> Iterator[SandboxProcess]:
    """`cargo-mcp sandbox` in its own process, ready to answer."""
    port = free_port()
    cmd = [PYTHON, "-m", "cargo_mcp.cli", "sandbox", "--port", str(port), "--token", SANDBOX_TOKEN]
    cmd += ["--scale", str(scale)]
    log = tmp / f"sandbox-{scale:g}x.log"
    t0 = time.perf_counter()
    with _process(cmd, base_env(), log) as proc:
        url = f"http://127.0.0.1:{port}"
        headers = {"authorization": f"Bearer {SANDBOX_TOKEN}"}
        _wait(f"{url}/v1/orchestration/workflows/list", proc, log, headers)
        started = time.perf_counter() - t0
        current = httpx.get(f"{url}/v1/workspaceManagement/workspaces/current", headers=headers, timeout=30)
        yield SandboxProcess(url, SANDBOX_TOKEN, current.json()["workspace"]["uuid"], proc.pid, started)


@contextmanager
def http_server(env: dict[str, str], tmp: Path, name: str, *, stateless: bool = False) -> Iterator[tuple[str, int]]:
    """`cargo-mcp serve --http` on a free loopback port; yields (the /mcp URL, its pid)."""
    port = free_port()
    cmd = [PYTHON, "-m", "cargo_mcp.cli", "serve", "--http", "--port", str(port)] + ["--stateless"] * stateless
    env = {**env, "CARGO_MCP_RESULTS_DIR": str(tmp / f"results-{name}")}
    log = tmp / f"http-{name}.log"
    with _process(cmd, env, log) as proc:
        url = f"http://127.0.0.1:{port}"
        _wait(f"{url}/readyz", proc, log)
        yield f"{url}/mcp", proc.pid


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")
