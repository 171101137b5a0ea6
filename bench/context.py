"""What one benchmark run shares between themes: its temporary folder, the processes it started (the sandbox
at each scale, started once and reused), the CLI-pattern runner, and whether it is a quick run."""

from __future__ import annotations

import tempfile
from contextlib import ExitStack
from pathlib import Path
from typing import Any, TypeVar

import httpx

from bench import procs
from bench.cli_pattern import Cli

N = TypeVar("N", int, float)


class Run:
    def __init__(self, *, quick: bool) -> None:
        self.quick = quick
        self.stack = ExitStack()
        self.tmp = Path(self.stack.enter_context(tempfile.TemporaryDirectory(prefix="cargo-mcp-bench-")))
        self._sandboxes: dict[float, procs.SandboxProcess] = {}
        self._cli: Cli | None = None

    def __enter__(self) -> Run:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stack.close()  # stops every process started, then removes the folder

    def n(self, full: N, quick: N) -> N:
        """A count for this kind of run."""
        return quick if self.quick else full

    def sandbox(self, scale: float = 1.0) -> procs.SandboxProcess:
        """The sandbox at ``scale`` in its own process, started on first use and kept for the run."""
        if scale not in self._sandboxes:
            self._sandboxes[scale] = self.stack.enter_context(procs.sandbox(self.tmp, scale))
        return self._sandboxes[scale]

    def cli(self) -> Cli:
        if self._cli is None:
            self._cli = Cli(self.sandbox())
        return self._cli

    def api(self, sb: procs.SandboxProcess, path: str, **params: Any) -> Any:
        """One GET of the sandbox's API (to pick what to measure on)."""
        r = httpx.get(f"{sb.url}/v1/orchestration{path}", headers=sb.headers, params=params, timeout=120)
        r.raise_for_status()
        return r.json()

    def batches(self, sb: procs.SandboxProcess) -> list[dict[str, Any]]:
        return list(self.api(sb, "/batches/list", limit=1000)["batches"])

    def tool_workflows(self, sb: procs.SandboxProcess) -> dict[str, str]:
        """workflow UUID → tool name."""
        return {t["workflowUuid"]: t["name"] for t in self.api(sb, "/tools/list")["tools"]}
